import { cancelMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as escrow from "~/domain/market/escrow.server";

/** `POST /api/v1/market-orders/{id}/cancel` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(cancelMarketOrder, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    await escrow.cancelPaidMarketOrder(db, actor, orgId, params.id, { reason: body.reason });
    return orderJson(await escrow.getMarketOrder(db, orgId, params.id));
  }),
);
