import { sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import type { Actor } from "../shared";
import { lockSkusForStock, shipStock } from "../catalog";
import { DomainError } from "../shared";
import { findTransition, type OrderEvent, type OrderStatus } from "./states";
import type { OrderRow } from "./orders.server";
import { fire, lockOrder, notifyParty, requireText } from "./internal.server";

/** Shipping and receipt, including the scheduled auto-receipt. */

// ---------------------------------------------------------------------------------------------
// Shipping and receipt

export interface ShipmentInput {
  carrier: string;
  trackingNumber: string;
  lines: { lineId: string; quantity: number }[];
}

export async function shipOrder(db: Db, actor: Actor, orderId: string, input: ShipmentInput, now: Date): Promise<OrderRow> {
  const carrier = requireText(input.carrier, "carrier", 50);
  const trackingNumber = requireText(input.trackingNumber, "tracking_number", 50);
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    // The state first: lines only mean something on an order that can ship at all.
    const status = order.status as OrderStatus;
    if (!findTransition(order.kind, status, "ship_all") && !findTransition(order.kind, status, "ship_part")) {
      throw new DomainError("invalid_state", `An order that is ${order.status} cannot be shipped`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).orderBy("line_no").execute();
    const fields: Record<string, string> = {};
    const moves = input.lines.filter((l) => l.quantity !== 0);
    if (moves.length === 0) throw new DomainError("validation", "Ship at least one line", { lines: "empty" });
    moves.forEach((move, i) => {
      const line = lines.find((l) => l.id === move.lineId);
      if (!line) fields[`lines.${i}.line_id`] = "not a line of this order";
      else {
        const open = (line.quantity_confirmed ?? 0) - line.quantity_shipped;
        if (!Number.isSafeInteger(move.quantity) || move.quantity < 0 || move.quantity > open) {
          fields[`lines.${i}.quantity`] = `${line.sku_code}: between 0 and the ${open} still to ship`;
        }
      }
    });
    if (Object.keys(fields).length) throw new DomainError("validation", "Some shipment lines are wrong", fields);
    const remaining = lines.reduce((sum, l) => sum + (l.quantity_confirmed ?? 0) - l.quantity_shipped, 0);
    const shipping = moves.reduce((sum, m) => sum + m.quantity, 0);
    const event: OrderEvent = shipping === remaining ? "ship_all" : "ship_part";
    if (!findTransition(order.kind, order.status as OrderStatus, event)) {
      throw new DomainError("invalid_state", `An order that is ${order.status} cannot be shipped`, { status: order.status });
    }
    const shipment = await trx
      .insertInto("shipments")
      .values({ order_id: order.id, carrier, tracking_number: trackingNumber, created_by_user_id: actor.userId })
      .returning("id")
      .executeTakeFirstOrThrow();
    await lockSkusForStock(trx, moves.map((move) => lines.find((l) => l.id === move.lineId)!.sku_id));
    for (const move of moves) {
      const line = lines.find((l) => l.id === move.lineId)!;
      await shipStock(trx, { skuId: line.sku_id, quantity: move.quantity });
      await trx.updateTable("order_lines").set({ quantity_shipped: line.quantity_shipped + move.quantity }).where("id", "=", line.id).execute();
      await trx.insertInto("shipment_lines").values({ shipment_id: shipment.id, order_line_id: line.id, quantity: move.quantity }).execute();
    }
    const next = await fire(trx, actor, order, party, event, {
      note: `${carrier} ${trackingNumber}`,
      patch: { shipped_at: now },
      data: { shipment_id: shipment.id, carrier, tracking_number: trackingNumber, units: shipping },
    });
    await notifyParty(trx, actor, next, "order.shipped", shipment.id);
    return next;
  });
}

/** The dealer confirms receipt (or the schedule does it); a received order completes. */
export async function receiveOrder(db: Db, actor: Actor, orderId: string, now: Date): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const received = await fire(trx, actor, order, party, "receive", { patch: { received_at: now }, note: party === "system" ? "auto-receipt" : null });
    return fire(trx, { ...actor }, received, "system", "complete", { patch: { closed_at: now } });
  });
}

/**
 * Shipped orders whose supplier's auto-receipt days have passed since the last shipment count as
 * received. Idempotent: each order is re-checked under its lock. At most `limit` per run.
 */
export async function autoReceiveDueOrders(db: Db, now: Date, limit = 200): Promise<string[]> {
  const due = await db
    .selectFrom("orders as o")
    .leftJoin("order_settings as s", "s.organization_id", "o.core_enterprise_id")
    .select(["o.id", "o.number"])
    .where("o.status", "=", "shipped")
    .where(sql<boolean>`o.shipped_at + make_interval(days => coalesce(s.auto_receipt_days, 7)) <= ${now.toISOString()}::timestamptz`)
    .orderBy("o.shipped_at")
    .limit(limit)
    .execute();
  const done: string[] = [];
  const system: Actor = { userId: null, organizationId: null, ip: null, requestId: null };
  for (const row of due) {
    try {
      await receiveOrder(db, system, row.id, now);
      done.push(row.number);
    } catch (error) {
      // Received by the dealer a moment ago: nothing to do.
      if (!(error instanceof DomainError && error.code === "invalid_state")) throw error;
    }
  }
  return done;
}
