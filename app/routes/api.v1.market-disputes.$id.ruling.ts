import { ruleMarketDispute } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as escrow from "~/domain/market/escrow.server";

/** `POST /api/v1/market-disputes/{id}/ruling` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(ruleMarketDispute, async ({ principal, params, body, db, actor }) => {
    const operatorId = principal.organization.id;
    await escrow.ruleDispute(db, actor, operatorId, params.id, {
      ruling: body.ruling,
      ...(body.refund_fen === undefined ? {} : { refundFen: body.refund_fen }),
      reason: body.reason,
    });
    return disputeJson(await escrow.getMarketOrder(db, operatorId, await escrow.getDisputeOrderId(db, operatorId, params.id)));
  }),
);
