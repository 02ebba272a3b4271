import { orderJson, requestReturn } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/returns` — contracts/orders.ts. Answers the new return (RMA) order. */
export const { loader, action } = apiRoute(
  implement(requestReturn, async ({ principal, params, body, db, actor }) => {
    const rma = await Orders.requestReturn(db, actor, {
      originalOrderId: params.id,
      lines: body.lines.map((l) => ({ lineId: l.line_id, quantity: l.quantity })),
      reason: body.reason,
    }, new Date());
    return orderJson(await Orders.getOrder(db, principal.organization.id, rma.id));
  }),
);
