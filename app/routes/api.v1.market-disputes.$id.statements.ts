import { addMarketDisputeStatement } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { disputeJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-disputes/{id}/statements` — contracts/market-trade.ts. Evidence files: through the pages. */
export const { loader, action } = apiRoute(
  implement(addMarketDisputeStatement, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await Market.addDisputeStatement(db, actor, orgId, params.id, { body: body.body }, new Date());
    return disputeJson(await Market.getMarketOrder(db, orgId, await Market.getDisputeOrderId(db, orgId, params.id)));
  }),
);
