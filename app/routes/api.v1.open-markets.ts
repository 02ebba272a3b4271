import { listOpenMarkets } from "~/api/contracts/buying";
import { apiRoute, implement } from "~/api/handler.server";
import { pageOfList } from "~/domain/shared";
import * as Market from "~/domain/market";

/** `GET /api/v1/open-markets` — contracts/buying.ts. The buyer's market page reads the same list. */
export const { loader, action } = apiRoute(
  implement(listOpenMarkets, async ({ query, db }) => {
    const page = pageOfList(await Market.listOpenMarkets(db), (m) => m.id, { after: query.after, limit: query.limit ?? 50 });
    return {
      data: page.items.map((m) => ({
        id: m.id,
        name: m.name,
        city: m.city,
        categories: m.categories,
        operator_name: m.operatorName,
        listing_count: m.listingCount,
      })),
      next_cursor: page.nextCursor,
    };
  }),
);
