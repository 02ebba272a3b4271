import { receiveMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-orders/{id}/receive` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(receiveMarketOrder, async ({ principal, params, db, actor }) => {
    const orgId = principal.organization.id;
    await Market.receiveMarketOrder(db, actor, orgId, params.id, new Date());
    return orderJson(await Market.getMarketOrder(db, orgId, params.id));
  }),
);
