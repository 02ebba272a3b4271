import { cancelMarketCheckout } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { checkoutJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-checkouts/{id}/cancel` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(cancelMarketCheckout, async ({ principal, params, db, actor }) => {
    const buyerId = principal.organization.id;
    await Market.cancelCheckout(db, actor, buyerId, params.id, new Date());
    return checkoutJson(await Market.getCheckout(db, buyerId, params.id));
  }),
);
