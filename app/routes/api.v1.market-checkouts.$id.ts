import { getMarketCheckout } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { checkoutJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/market-checkouts/{id}` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(getMarketCheckout, async ({ principal, params, db }) => checkoutJson(await Market.getCheckout(db, principal.organization.id, params.id))),
);
