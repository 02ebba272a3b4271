import { sql } from "kysely";
import type { Db } from "../../../db";
import type { PaymentMethod } from "../../../db/schema";
import { decodeCursor, encodeCursor, isUuid } from "../shared";
import type { Fen } from "../ledger";
import { availableEvents, type OrderEvent, type OrderKind, type OrderParty, type OrderStatus } from "./states";
import { ORDER_LIMITS, type OrderLineRow, type OrderRow, partyOf } from "./orders.server";
import { orderNotFound, orderQuery, seenBySupplierSql, supplierHasSeen, wholeFen } from "./internal.server";
import { onAccountOutstandingSql } from "./payment.server";

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
  // Everything else about the order in one statement (one round trip, not six): each part a JSON
  // array built by a subquery, in the order the page shows it.
  const { rows } = await sql<{
    names: { id: string; name: string }[];
    lines: OrderLineRow[];
    shipments: { id: string; carrier: string; tracking_number: string; shipped_at: string; order_line_id: string | null; quantity: number | null }[];
    events: { id: number; at: string; event: string; from_status: string | null; to_status: string; note: string | null; display_name: string | null; credit_held_fen: string | null; credit_released_fen: string | null }[];
    returns: { id: string; number: string; status: string; total_fen: number }[];
    outstanding: number | string;
  }>`
    select
      (select coalesce(json_agg(json_build_object('id', g.id, 'name', g.name)), '[]') from organizations g
        where g.id in (${order.dealer_id}::uuid, ${order.core_enterprise_id}::uuid)) as names,
      (select coalesce(json_agg(l order by l.line_no), '[]') from order_lines l where l.order_id = ${order.id}::uuid) as lines,
      (select coalesce(json_agg(json_build_object('id', s.id, 'carrier', s.carrier, 'tracking_number', s.tracking_number, 'shipped_at', s.shipped_at,
                                                  'order_line_id', sl.order_line_id, 'quantity', sl.quantity) order by s.shipped_at, s.id), '[]')
         from shipments s left join shipment_lines sl on sl.shipment_id = s.id where s.order_id = ${order.id}::uuid) as shipments,
      (select coalesce(json_agg(json_build_object('id', e.id, 'at', e.at, 'event', e.event, 'from_status', e.from_status, 'to_status', e.to_status,
                                                  'note', e.note, 'display_name', u.display_name,
                                                  'credit_held_fen', e.data ->> 'credit_held_fen', 'credit_released_fen', e.data ->> 'credit_released_fen') order by e.id), '[]')
         from order_events e left join users u on u.id = e.actor_user_id where e.order_id = ${order.id}::uuid) as events,
      (select coalesce(json_agg(json_build_object('id', r.id, 'number', r.number, 'status', r.status, 'total_fen', r.total_fen) order by r.created_at), '[]')
         from orders r where r.original_order_id = ${order.id}::uuid) as returns,
      ${onAccountOutstandingSql(order.id)} as outstanding`.execute(db);
  const parts = rows[0];
  const shipments: OrderDetail["shipments"] = [];
  for (const row of parts.shipments) {
    let shipment = shipments.find((s) => s.id === row.id);
    if (!shipment) {
      shipment = { id: row.id, carrier: row.carrier, trackingNumber: row.tracking_number, shippedAt: new Date(row.shipped_at), lines: [] };
      shipments.push(shipment);
    }
    if (row.order_line_id && row.quantity) shipment.lines.push({ orderLineId: row.order_line_id, quantity: row.quantity });
  }
  return {
    order: order as OrderRow,
    party,
    dealerName: parts.names.find((n) => n.id === order.dealer_id)?.name ?? "",
    coreEnterpriseName: parts.names.find((n) => n.id === order.core_enterprise_id)?.name ?? "",
    lines: parts.lines,
    shipments,
    events: parts.events.map((e) => ({
      id: e.id,
      at: new Date(e.at),
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
    onAccountOutstandingFen: Number(parts.outstanding),
    returns: parts.returns.map((r) => ({ id: r.id, number: r.number, status: r.status, totalFen: r.total_fen })),
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
