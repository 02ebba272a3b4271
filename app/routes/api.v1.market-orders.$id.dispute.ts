import { disputeMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/market-orders/{id}/dispute` — contracts/market-trade.ts. Evidence files: through the pages. */
export const { loader, action } = apiRoute(
  implement(
    disputeMarketOrder,
    async ({ principal, params, body, db, actor }) => {
      const orgId = principal.organization.id;
      await Market.openDispute(db, actor, orgId, params.id, { statement: body.statement }, new Date());
      return orderJson(await Market.getMarketOrder(db, orgId, params.id));
    },
    // The model checks the statement as a dispute statement's `body`.
    { fieldNames: { body: "statement" } },
  ),
);
