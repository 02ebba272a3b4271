import { approveOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/approve` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(approveOrder, async ({ principal, params, body, db, actor }) => {
    await Orders.approveOrder(db, actor, principal.roles, params.id, body.decision, new Date(), body.reason ?? null);
    return orderJson(await Orders.getOrder(db, principal.organization.id, params.id));
  }),
);
