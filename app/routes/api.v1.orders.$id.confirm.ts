import { confirmOrder, orderJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/confirm` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(confirmOrder, async ({ principal, params, body, db, actor }) => {
    await Orders.confirmOrder(
      db,
      actor,
      params.id,
      new Date(), body.lines.map((l) => ({ lineId: l.line_id, quantity: l.quantity, reason: l.reason ?? null })),
    );
    return orderJson(await Orders.getOrder(db, principal.organization.id, params.id));
  }),
);
