import { createMarketOrders, listMarketOrders, TRADE_FIELD_NAMES } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { checkoutJson, orderListItemJson, viewerOf, withLinePaths } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/market-orders`, `POST /api/v1/market-orders` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(listMarketOrders, async ({ principal, query, db }) => {
    const viewer = viewerOf(principal);
    const page = await Market.listMarketOrders(db, viewer, { marketId: query.market_id, status: query.status, after: query.after, limit: query.limit });
    return { data: page.items.map((o) => orderListItemJson(o, viewer.kind !== "buyer")), next_cursor: page.nextCursor };
  }),
  implement(
    createMarketOrders,
    async ({ request, principal, body, db, actor }) => {
      const buyerId = principal.organization.id;
      // The API's Idempotency-Key is the checkout's own key too: the same key names the same
      // checkout even after the API's record of the response has expired.
      const idempotencyKey = request.headers.get("idempotency-key") ?? "";
      const placed = await withLinePaths(() =>
        Market.placeCheckout(db, actor, {
          buyerId,
          marketId: body.market_id,
          lines: body.lines.map((l) => ({ listingId: l.listing_id, quantity: l.quantity })),
          idempotencyKey,
        }, new Date()),
      );
      return checkoutJson(await Market.getCheckout(db, buyerId, placed.checkout.id));
    },
    { fieldNames: TRADE_FIELD_NAMES },
  ),
);
