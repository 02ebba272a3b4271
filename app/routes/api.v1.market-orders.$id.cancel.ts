import { cancelMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-orders/{id}/cancel` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(cancelMarketOrder, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await Market.cancelPaidMarketOrder(db, actor, orgId, params.id, { reason: body.reason }, new Date());
    return orderJson(await Market.getMarketOrder(db, orgId, params.id));
  }),
);
