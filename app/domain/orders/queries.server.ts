import { sql } from "kysely";
import type { Db } from "../../../db";
import type { PaymentMethod } from "../../../db/schema";
import { decodeCursor, encodeCursor, isUuid } from "../shared";
import type { Fen } from "../ledger";
import { availableEvents, type OrderEvent, type OrderKind, type OrderParty, type OrderStatus } from "./states";
import { ORDER_LIMITS, type OrderLineRow, type OrderRow, partyOf } from "./orders.server";
import { orderNotFound, orderQuery, seenBySupplierSql, supplierHasSeen, wholeFen } from "./internal.server";
import { onAccountOutstanding } from "./payment.server";

/** Reading orders: one order as a party sees it, and the keyset-paged list. */

export interface OrderDetail {
  order: OrderRow;
  party: OrderParty;
  dealerName: string;
  coreEnterpriseName: string;
  lines: OrderLineRow[];
  shipments: { id: string; carrier: string; trackingNumber: string; shippedAt: Date; lines: { orderLineId: string; quantity: number }[] }[];
  events: {
    id: number;
    at: Date;
    event: string;
    fromStatus: string | null;
    toStatus: string;
    note: string | null;
    actorName: string | null;
    /** Credit held on the dealer's line by this step (an order submitted on account), or released by it. */
    creditHeldFen: Fen | null;
    creditReleasedFen: Fen | null;
  }[];
  /** What the acting party may do now (buttons). */
  actions: OrderEvent[];
  onAccountOutstandingFen: Fen;
  returns: { id: string; number: string; status: string; totalFen: Fen }[];
}

/** One order as its dealer or its supplier sees it; anyone else gets not_found. */
export async function getOrder(db: Db, organizationId: string, orderId: string): Promise<OrderDetail> {
  if (!isUuid(orderId)) throw orderNotFound();
  const order = await orderQuery(db)
    .where("o.id", "=", orderId)
    .where((eb) => eb.or([eb("o.dealer_id", "=", organizationId), eb("o.core_enterprise_id", "=", organizationId)]))
    .executeTakeFirst();
  if (!order) throw orderNotFound();
  const party = partyOf(order, organizationId)!;
  if (party === "core_enterprise" && !(await supplierHasSeen(db, order as OrderRow))) throw orderNotFound();
  const names = await db
    .selectFrom("organizations")
    .select(["id", "name"])
    .where("id", "in", [order.dealer_id, order.core_enterprise_id])
    .execute();
  const lines = await db.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).orderBy("line_no").execute();
  const shipmentRows = await db
    .selectFrom("shipments as s")
    .leftJoin("shipment_lines as sl", "sl.shipment_id", "s.id")
    .select(["s.id", "s.carrier", "s.tracking_number", "s.shipped_at", "sl.order_line_id", "sl.quantity"])
    .where("s.order_id", "=", order.id)
    .orderBy("s.shipped_at")
    .orderBy("s.id")
    .execute();
  const shipments: OrderDetail["shipments"] = [];
  for (const row of shipmentRows) {
    let shipment = shipments.find((s) => s.id === row.id);
    if (!shipment) {
      shipment = { id: row.id, carrier: row.carrier, trackingNumber: row.tracking_number, shippedAt: row.shipped_at, lines: [] };
      shipments.push(shipment);
    }
    if (row.order_line_id && row.quantity) shipment.lines.push({ orderLineId: row.order_line_id, quantity: row.quantity });
  }
  const events = await db
    .selectFrom("order_events as e")
    .leftJoin("users as u", "u.id", "e.actor_user_id")
    .select([
      "e.id",
      "e.at",
      "e.event",
      "e.from_status",
      "e.to_status",
      "e.note",
      "u.display_name",
      sql<string | null>`e.data ->> 'credit_held_fen'`.as("credit_held_fen"),
      sql<string | null>`e.data ->> 'credit_released_fen'`.as("credit_released_fen"),
    ])
    .where("e.order_id", "=", order.id)
    .orderBy("e.id")
    .execute();
  const returns = await db
    .selectFrom("orders")
    .select(["id", "number", "status", "total_fen"])
    .where("original_order_id", "=", order.id)
    .orderBy("created_at")
    .execute();
  return {
    order: order as OrderRow,
    party,
    dealerName: names.find((n) => n.id === order.dealer_id)?.name ?? "",
    coreEnterpriseName: names.find((n) => n.id === order.core_enterprise_id)?.name ?? "",
    lines,
    shipments,
    events: events.map((e) => ({
      id: e.id,
      at: e.at,
      event: e.event,
      fromStatus: e.from_status,
      toStatus: e.to_status,
      note: e.note,
      actorName: e.display_name,
      creditHeldFen: e.credit_held_fen === null ? null : wholeFen(e.credit_held_fen, "credit_held_fen"),
      // A confirmation that cut nothing releases nothing: not worth a line.
      creditReleasedFen: e.credit_released_fen === null || e.credit_released_fen === "0" ? null : wholeFen(e.credit_released_fen, "credit_released_fen"),
    })),
    actions: availableEvents(order.kind, order.status as OrderStatus, party),
    onAccountOutstandingFen: await onAccountOutstanding(db, order.id),
    returns: returns.map((r) => ({ id: r.id, number: r.number, status: r.status, totalFen: r.total_fen })),
  };
}

export interface OrderListItem {
  id: string;
  number: string;
  kind: OrderKind;
  status: string;
  counterpartyName: string;
  totalFen: Fen;
  paidFen: Fen;
  paymentMethod: PaymentMethod | null;
  dueOn: string | null;
  createdAt: Date;
}

export interface ListOrdersOptions {
  status?: string | null;
  kind?: OrderKind | null;
  /** Only orders with this counterparty (a dealer for a core enterprise, or the reverse). */
  counterpartyId?: string | null;
  after?: string | null;
  limit?: number;
}

/** The acting organisation's orders, newest first, in keyset pages. */
export async function listOrders(
  db: Db,
  organizationId: string,
  options: ListOrdersOptions = {},
): Promise<{ items: OrderListItem[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(options.limit ?? ORDER_LIMITS.pageSize, 1), 100);
  let query = db
    .selectFrom("orders as o")
    .innerJoin("organizations as d", "d.id", "o.dealer_id")
    .innerJoin("organizations as c", "c.id", "o.core_enterprise_id")
    .select([
      "o.id",
      "o.number",
      "o.kind",
      "o.status",
      "o.dealer_id",
      "d.name as dealer_name",
      "c.name as core_name",
      "o.total_fen",
      "o.paid_fen",
      "o.payment_method",
      sql<string | null>`to_char(o.due_on, 'YYYY-MM-DD')`.as("due_on"),
      "o.created_at",
    ])
    .where((eb) => eb.or([eb("o.dealer_id", "=", organizationId), eb("o.core_enterprise_id", "=", organizationId)]));
  // A dealer's cart and its orders awaiting its own approval are its business: see seenBySupplierSql.
  query = query.where((eb) => eb.or([eb("o.dealer_id", "=", organizationId), seenBySupplierSql()]));
  if (options.status) query = query.where("o.status", "=", options.status);
  if (options.kind) query = query.where("o.kind", "=", options.kind);
  if (options.counterpartyId && isUuid(options.counterpartyId)) {
    const id = options.counterpartyId;
    query = query.where((eb) => eb.or([eb("o.dealer_id", "=", id), eb("o.core_enterprise_id", "=", id)]));
  }
  if (options.after) {
    const [at, id] = decodeCursor(options.after, ["timestamp", "uuid"])!;
    query = query.where(sql<boolean>`(o.created_at, o.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query.orderBy("o.created_at", "desc").orderBy("o.id", "desc").limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      id: r.id,
      number: r.number,
      kind: r.kind,
      status: r.status,
      counterpartyName: r.dealer_id === organizationId ? r.core_name : r.dealer_name,
      totalFen: r.total_fen,
      paidFen: r.paid_fen,
      paymentMethod: r.payment_method,
      dueOn: r.due_on,
      createdAt: r.created_at,
    })),
    nextCursor: rows.length > limit ? encodeCursor([page[page.length - 1].created_at, page[page.length - 1].id]) : null,
  };
}
