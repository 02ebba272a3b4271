import { getMarketDispute } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/market-disputes/{id}` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(getMarketDispute, async ({ principal, params, db }) => {
    const orgId = principal.organization.id;
    const orderId = await Market.getDisputeOrderId(db, orgId, params.id);
    return disputeJson(await Market.getMarketOrder(db, orgId, orderId));
  }),
);
