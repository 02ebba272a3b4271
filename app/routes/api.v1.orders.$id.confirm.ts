import { confirmOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/confirm` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(confirmOrder, async ({ principal, params, body, db, actor }) => {
    await orders.confirmOrder(
      db,
      actor,
      params.id,
      body.lines.map((l) => ({ lineId: l.line_id, quantity: l.quantity, reason: l.reason ?? null })),
    );
    return orderJson(await orders.getOrder(db, principal.organization.id, params.id));
  }),
);
