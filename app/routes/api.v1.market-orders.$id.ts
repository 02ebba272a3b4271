import { getMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/market-orders/{id}` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(getMarketOrder, async ({ principal, params, db }) => orderJson(await Market.getMarketOrder(db, principal.organization.id, params.id))),
);
