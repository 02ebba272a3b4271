import { orderJson, requestReturn } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/returns` — contracts/orders.ts. Answers the new return (RMA) order. */
export const { loader, action } = apiRoute(
  implement(requestReturn, async ({ principal, params, body, db, actor }) => {
    const rma = await orders.requestReturn(db, actor, {
      originalOrderId: params.id,
      lines: body.lines.map((l) => ({ lineId: l.line_id, quantity: l.quantity })),
      reason: body.reason,
    });
    return orderJson(await orders.getOrder(db, principal.organization.id, rma.id));
  }),
);
