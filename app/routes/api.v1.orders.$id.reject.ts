import { orderJson, rejectOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/reject` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(rejectOrder, async ({ principal, params, body, db, actor }) => {
    await orders.rejectOrder(db, actor, params.id, body.reason);
    return orderJson(await orders.getOrder(db, principal.organization.id, params.id));
  }),
);
