import { approveOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/approve` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(approveOrder, async ({ principal, params, body, db, actor }) => {
    await orders.approveOrder(db, actor, principal.roles, params.id, body.decision, body.reason ?? null);
    return orderJson(await orders.getOrder(db, principal.organization.id, params.id));
  }),
);
