import { orderJson, receiveOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/receive` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(receiveOrder, async ({ principal, params, db, actor }) => {
    await orders.receiveOrder(db, actor, params.id);
    return orderJson(await orders.getOrder(db, principal.organization.id, params.id));
  }),
);
