import { cancelOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/cancel` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(cancelOrder, async ({ principal, params, body, db, actor }) => {
    await Orders.cancelOrder(db, actor, params.id, body.reason, new Date());
    return orderJson(await Orders.getOrder(db, principal.organization.id, params.id));
  }),
);
