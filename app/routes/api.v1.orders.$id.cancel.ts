import { cancelOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/cancel` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(cancelOrder, async ({ principal, params, body, db, actor }) => {
    await orders.cancelOrder(db, actor, params.id, body.reason);
    return orderJson(await orders.getOrder(db, principal.organization.id, params.id));
  }),
);
