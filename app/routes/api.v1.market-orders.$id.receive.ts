import { receiveMarketOrder } from "~/api/contracts/market-trade";
import { apiRoute, implement } from "~/api/handler.server";
import { orderJson } from "~/api/market-trade.server";
import * as escrow from "~/domain/market/escrow.server";

/** `POST /api/v1/market-orders/{id}/receive` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(receiveMarketOrder, async ({ principal, params, db, actor }) => {
    const orgId = principal.organization.id;
    await escrow.receiveMarketOrder(db, actor, orgId, params.id);
    return orderJson(await escrow.getMarketOrder(db, orgId, params.id));
  }),
);
