import { orderJson, receiveOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orderFulfilment from "~/domain/orders";
import * as orderQueries from "~/domain/orders";

/** `POST /api/v1/orders/{id}/receive` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(receiveOrder, async ({ principal, params, db, actor }) => {
    await orderFulfilment.receiveOrder(db, actor, params.id, new Date());
    return orderJson(await orderQueries.getOrder(db, principal.organization.id, params.id));
  }),
);
