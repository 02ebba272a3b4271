import { getOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `GET /api/v1/orders/{id}` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(getOrder, async ({ principal, params, db }) => orderJson(await Orders.getOrder(db, principal.organization.id, params.id))),
);
