import { shipMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-orders/{id}/ship` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(shipMarketOrder, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await Market.shipMarketOrder(db, actor, orgId, params.id, { carrier: body.carrier, trackingNo: body.tracking_no }, new Date());
    return orderJson(await Market.getMarketOrder(db, orgId, params.id));
  }),
);
