import { orderJson, receiveOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/receive` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(receiveOrder, async ({ principal, params, db, actor }) => {
    await Orders.receiveOrder(db, actor, params.id, new Date());
    return orderJson(await Orders.getOrder(db, principal.organization.id, params.id));
  }),
);
