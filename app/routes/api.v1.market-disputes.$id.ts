import { getMarketDispute } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as escrow from "~/domain/market/escrow.server";

/** `GET /api/v1/market-disputes/{id}` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(getMarketDispute, async ({ principal, params, db }) => {
    const orgId = principal.organization.id;
    const orderId = await escrow.getDisputeOrderId(db, orgId, params.id);
    return disputeJson(await escrow.getMarketOrder(db, orgId, orderId));
  }),
);
