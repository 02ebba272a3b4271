import { addMarketDisputeStatement } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as escrowDisputes from "~/domain/market";
import * as escrowQueries from "~/domain/market";

/** `POST /api/v1/market-disputes/{id}/statements` — contracts/market-trade.ts. Evidence files: through the pages. */
export const { loader, action } = apiRoute(
  implement(addMarketDisputeStatement, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await escrowDisputes.addDisputeStatement(db, actor, orgId, params.id, { body: body.body }, new Date());
    return disputeJson(await escrowQueries.getMarketOrder(db, orgId, await escrowQueries.getDisputeOrderId(db, orgId, params.id)));
  }),
);
