import { orderJson, shipOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/ship` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(shipOrder, async ({ principal, params, body, db, actor }) => {
    const orgId = principal.organization.id;
    let lines = body.lines?.map((l) => ({ lineId: l.line_id, quantity: l.quantity }));
    if (!lines) {
      // No lines named: ship every unit confirmed and not yet shipped.
      const detail = await Orders.getOrder(db, orgId, params.id);
      lines = detail.lines
        .map((l) => ({ lineId: l.id, quantity: (l.quantity_confirmed ?? 0) - l.quantity_shipped }))
        .filter((l) => l.quantity > 0);
    }
    await Orders.shipOrder(db, actor, params.id, { carrier: body.carrier, trackingNumber: body.tracking_number, lines }, new Date());
    return orderJson(await Orders.getOrder(db, orgId, params.id));
  }),
);
