import { financingStatesMarkdown } from "../domain/financing";
import { marketOrderStatesMarkdown } from "../domain/market";
import { orderStatesMarkdown } from "../domain/orders";

// `npx tsx app/cli/order-states-doc.ts` → docs/order-states.md; with `market` → docs/market-order-states.md;
// with `financing` → docs/financing-states.md.
const which = process.argv[2];
process.stdout.write(which === "market" ? marketOrderStatesMarkdown() : which === "financing" ? financingStatesMarkdown() : orderStatesMarkdown());
