import { cancelMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as escrowFulfilment from "~/domain/market";
import * as escrowQueries from "~/domain/market";

/** `POST /api/v1/market-orders/{id}/cancel` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(cancelMarketOrder, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await escrowFulfilment.cancelPaidMarketOrder(db, actor, orgId, params.id, { reason: body.reason }, new Date());
    return orderJson(await escrowQueries.getMarketOrder(db, orgId, params.id));
  }),
);
