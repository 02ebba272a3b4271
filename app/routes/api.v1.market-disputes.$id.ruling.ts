import { ruleMarketDispute } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as Financing from "~/domain/financing";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-disputes/{id}/ruling` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(ruleMarketDispute, async ({ principal, params, body, db, actor }) => {
    const operatorId = principal.organization.id;
    // What the ruling releases to a merchant that sold the order's proceeds goes to the bank first.
    await Financing.ruleMarketDisputeWithAssignment(db, actor, operatorId, params.id, {
      ruling: body.ruling,
      ...(body.refund_fen === undefined ? {} : { refundFen: body.refund_fen }),
      reason: body.reason,
    }, new Date());
    return disputeJson(await Market.getMarketOrder(db, operatorId, await Market.getDisputeOrderId(db, operatorId, params.id)));
  }),
);
