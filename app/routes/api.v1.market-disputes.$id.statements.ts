import { addMarketDisputeStatement } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as escrow from "~/domain/market/escrow.server";

/** `POST /api/v1/market-disputes/{id}/statements` — contracts/market-trade.ts. Evidence files: through the pages. */
export const { loader, action } = apiRoute(
  implement(addMarketDisputeStatement, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await escrow.addDisputeStatement(db, actor, orgId, params.id, { body: body.body });
    return disputeJson(await escrow.getMarketOrder(db, orgId, await escrow.getDisputeOrderId(db, orgId, params.id)));
  }),
);
