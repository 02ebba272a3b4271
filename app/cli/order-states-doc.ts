import { marketOrderStatesMarkdown } from "../domain/market";
import { orderStatesMarkdown } from "../domain/orders";

// `npx tsx app/cli/order-states-doc.ts` → docs/order-states.md; with `market` → docs/market-order-states.md.
process.stdout.write(process.argv[2] === "market" ? marketOrderStatesMarkdown() : orderStatesMarkdown());
