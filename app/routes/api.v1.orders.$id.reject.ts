import { orderJson, rejectOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/reject` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(rejectOrder, async ({ principal, params, body, db, actor }) => {
    await Orders.rejectOrder(db, actor, params.id, body.reason, new Date());
    return orderJson(await Orders.getOrder(db, principal.organization.id, params.id));
  }),
);
