import { type Insertable, sql, type Updateable } from "kysely";
import type { Db } from "../../../db";
import type { OrderEventsTable, OrdersTable } from "../../../db/schema";
import { type Actor, auditInsert, DomainError, isUuid, shanghaiDate } from "../shared";
import type { CreditParties } from "../credit";
import { type DealerLink, findActiveDealerLink } from "../dealers";
import { type Fen, voidPending } from "../ledger";
import { enqueue, type Trx } from "../outbox";
import { findTransition, type OrderEvent, type OrderKind, type OrderParty, type OrderStatus, REACHES_SUPPLIER, UNSEEN_BY_SUPPLIER } from "./states";
import { type OrderRow, partyOf } from "./orders.server";
import { orderNoticeJob, type OrderNoticeTopic } from "./notices.server";

/**
 * What the order use cases share and nothing outside app/domain/orders calls: the row lock, the
 * one place a status changes (`fire`), the timeline note, order numbers, the credit hold of an
 * order on account, and closing a return unfulfilled. Defined once here, imported by each use case.
 */

export const orderNotFound = () => new DomainError("not_found", "order not found");


export function requireText(value: string | null | undefined, field: string, max: number): string {
  const text = (value ?? "").trim();
  if (!text) throw new DomainError("validation", `${field} is required`, { [field]: "required" });
  if (text.length > max) throw new DomainError("validation", `${field} must be at most ${max} characters`, { [field]: "too_long" });
  return text;
}


/** An order's columns as the models read them (all but is_cart), due_on as text. */
export const COLUMNS_BEFORE_DUE_ON = [
  "id",
  "number",
  "kind",
  "status",
  "core_enterprise_id",
  "dealer_id",
  "dealer_link_id",
  "season_id",
  "original_order_id",
  "payment_method",
  "total_fen",
  "deposit_fen",
  "paid_fen",
] as const;
export const COLUMNS_AFTER_DUE_ON = [
  "note",
  "reason",
  "created_by_user_id",
  "submitted_at",
  "confirmed_at",
  "paid_at",
  "shipped_at",
  "received_at",
  "closed_at",
  "created_at",
  "updated_at",
] as const;

export const orderColumns = [
  ...COLUMNS_BEFORE_DUE_ON.map((c) => `o.${c}` as const),
  sql<string | null>`to_char(o.due_on, 'YYYY-MM-DD')`.as("due_on"),
  ...COLUMNS_AFTER_DUE_ON.map((c) => `o.${c}` as const),
];

/** The same, for the RETURNING of an INSERT (which names the table, not an alias). */
export const orderColumnsReturned = [
  ...COLUMNS_BEFORE_DUE_ON,
  sql<string | null>`to_char(orders.due_on, 'YYYY-MM-DD')`.as("due_on"),
  ...COLUMNS_AFTER_DUE_ON,
];

export function orderQuery(db: Db) {
  return db.selectFrom("orders as o").select(orderColumns);
}

export async function lockOrder(trx: Db, organizationId: string | null, orderId: string): Promise<{ order: OrderRow; party: OrderParty }> {
  if (!isUuid(orderId)) throw orderNotFound();
  const order = await orderQuery(trx).where("o.id", "=", orderId).forUpdate().executeTakeFirst();
  if (!order) throw orderNotFound();
  const party = partyOf(order as OrderRow, organizationId);
  if (!party) throw orderNotFound();
  if (party === "core_enterprise" && !(await supplierHasSeen(trx, order as OrderRow))) throw orderNotFound();
  return { order: order as OrderRow, party };
}

/**
 * The supplier sees an order once it reached it (order-states.ts UNSEEN_BY_SUPPLIER): as an SQL
 * condition over `orders as o` for lists, and as a check of one order for reads and actions.
 */
export function seenBySupplierSql() {
  return sql<boolean>`(o.status not in (${sql.join(UNSEEN_BY_SUPPLIER.map((st) => sql`${st}`))})
    and (o.status <> 'cancelled' or o.kind = 'return'
      or exists (select 1 from order_events se where se.order_id = o.id and se.to_status = ${REACHES_SUPPLIER})))`;
}

export async function supplierHasSeen(db: Db, order: Pick<OrderRow, "id" | "kind" | "status">): Promise<boolean> {
  if ((UNSEEN_BY_SUPPLIER as readonly string[]).includes(order.status)) return false;
  if (order.status !== "cancelled" || order.kind === "return") return true;
  const reached = await db
    .selectFrom("order_events")
    .select("id")
    .where("order_id", "=", order.id)
    .where("to_status", "=", REACHES_SUPPLIER)
    .limit(1)
    .executeTakeFirst();
  return reached !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Transitions

export type NewOrderEvent = Insertable<OrderEventsTable>;

export interface TransitionOptions {
  note?: string | null;
  data?: unknown;
  patch?: Updateable<OrdersTable>;
}

/** The one place an order's status changes: the machine decides, the timeline and audit record it. */
export async function fire(trx: Db, actor: Actor, order: OrderRow, party: OrderParty, event: OrderEvent, options: TransitionOptions = {}): Promise<OrderRow> {
  const transition = findTransition(order.kind, order.status as OrderStatus, event);
  if (!transition) {
    throw new DomainError("invalid_state", `An order that is ${order.status} cannot take "${event}"`, { status: order.status });
  }
  if (!transition.by.includes(party)) {
    throw new DomainError("forbidden", `The ${party.replace("_", " ")} cannot "${event}" this order`, { status: order.status });
  }
  // One statement, one round trip: the timeline row and the audit row are written by
  // data-modifying WITH clauses of the UPDATE, which PostgreSQL runs exactly once and to completion
  // in the same snapshot whether or not the UPDATE reads them (it does not need to: they depend on
  // nothing the UPDATE changes, and the order row is already locked by this transaction). The row
  // as changed comes back from RETURNING, with orderQuery's columns (due_on as text).
  const updated = (await trx
    .with("timeline", (db) =>
      db.insertInto("order_events").values([
        {
          order_id: order.id,
          actor_user_id: actor.userId,
          actor_organization_id: actor.organizationId,
          event,
          from_status: order.status,
          to_status: transition.to,
          note: options.note ?? null,
          data: options.data === undefined ? null : JSON.stringify(options.data),
        },
      ]),
    )
    .with("audit", (q) =>
      auditInsert(q, actor, [
        {
          action: `order.${event}`,
          entityType: "order",
          entityId: order.id,
          organizationId: actor.organizationId,
          before: { status: order.status },
          after: { status: transition.to, ...(options.data && typeof options.data === "object" ? options.data : {}) },
        },
      ]),
    )
    .updateTable("orders as o")
    .set({ ...options.patch, status: transition.to, updated_at: sql<Date>`now()` })
    .where("o.id", "=", order.id)
    .returning(orderColumns)
    .executeTakeFirstOrThrow()) as OrderRow;
  return updated;
}

export async function recordNote(trx: Db, actor: Actor, order: OrderRow, event: string, note: string, data?: unknown) {
  await trx
    .insertInto("order_events")
    .values({
      order_id: order.id,
      actor_user_id: actor.userId,
      actor_organization_id: actor.organizationId,
      event,
      from_status: order.status,
      to_status: order.status,
      note,
      data: data === undefined ? null : JSON.stringify(data),
    })
    .execute();
}

/**
 * Tell the other party. The change writes one outbox row, a job of the orders workflow; the job
 * asks for the notice from the order as it is when it runs (`sendOrderNotice`, decision 018), so
 * the request, its audit row and its delivery are not on the path of the change itself.
 */
export async function notifyParty(trx: Db, actor: Actor, order: Pick<OrderRow, "id" | "status">, topic: OrderNoticeTopic, occurrence: string = order.status) {
  await enqueue(trx as Trx, orderNoticeJob(order.id, topic, occurrence, actor));
}


/**
 * The next order number as an SQL expression, for the INSERT of the order itself (no round trip
 * of its own): prefix, Shanghai business date, then the sequence, zero-padded to at least six
 * digits and never cut (as `String(n).padStart(6, "0")`).
 */
export function orderNumber(kind: OrderKind, now: Date) {
  return sql<string>`(select ${orderNumberPrefix(kind, now)}::text || lpad(s.n::text, greatest(6, length(s.n::text)), '0')
    from nextval('order_number_seq') as s (n))`;
}

function orderNumberPrefix(kind: OrderKind, now: Date): string {
  const prefix = { standard: "SO", preorder: "BK", replenishment: "RP", return: "RMA" }[kind];
  return `${prefix}${shanghaiDate(now).replaceAll("-", "")}`;
}


export function creditParties(order: Pick<OrderRow, "dealer_link_id" | "core_enterprise_id" | "dealer_id">): CreditParties {
  return { linkId: order.dealer_link_id, coreEnterpriseId: order.core_enterprise_id, dealerId: order.dealer_id };
}

export async function requireLink(db: Db, coreEnterpriseId: string, dealerId: string): Promise<DealerLink> {
  const link = await findActiveDealerLink(db, coreEnterpriseId, dealerId);
  if (!link) {
    throw new DomainError("not_found", "This supplier is not open to you: the dealer relationship is missing or suspended", {
      core_enterprise_id: "no active dealer relationship",
    });
  }
  return link;
}


/** The key of the credit hold an order submitted on account carries. */
export function creditHoldKey(orderId: string): string {
  return `order:${orderId}:credit_hold`;
}


/** The open credit hold of an order submitted on account: none once charged or released. */
export async function openCreditHold(trx: Db, orderId: string) {
  return trx
    .selectFrom("ledger_transfers as h")
    .select(["h.id", "h.amount_fen"])
    .where("h.idempotency_key", "=", creditHoldKey(orderId))
    .where("h.phase", "=", "pending")
    .where((eb) => eb.not(eb.exists(eb.selectFrom("ledger_transfers as r").select("r.id").whereRef("r.pending_id", "=", "h.id"))))
    .executeTakeFirst();
}

/** Give back the credit held for an order that will not be confirmed (rejected, declined, cancelled). */
export async function releaseCreditHold(trx: Db, actor: Actor, order: OrderRow): Promise<Fen> {
  const hold = await openCreditHold(trx, order.id);
  if (!hold) return 0;
  await voidPending(trx, { idempotencyKey: `order:${order.id}:credit_release`, pendingId: hold.id, kind: "on_account_release", createdByUserId: actor.userId });
  return hold.amount_fen;
}



export async function giveBackReturnedUnits(trx: Db, rmaId: string) {
  const lines = await trx.selectFrom("order_lines").select(["original_line_id", "quantity_ordered"]).where("order_id", "=", rmaId).execute();
  for (const line of lines) {
    if (!line.original_line_id) continue;
    await trx
      .updateTable("order_lines")
      .set((eb) => ({ quantity_returned: eb("quantity_returned", "-", line.quantity_ordered) }))
      .where("id", "=", line.original_line_id)
      .execute();
  }
}

/**
 * The one way a return request closes unfulfilled — the dealer withdraws it (`cancel`) or the
 * supplier rejects it (`reject_return`): the request closes and its units become returnable again
 * on the original order. cancelOrder (the API's and the page's cancel) and decideReturn both end here.
 */
export async function withdrawReturnLocked(trx: Db, actor: Actor, order: OrderRow, party: OrderParty, why: string, now: Date, event: "cancel" | "reject_return" = "cancel"): Promise<OrderRow> {
  // The request's own reason stays on it; why it closed is in the timeline.
  const next = await fire(trx, actor, order, party, event, { note: why, patch: { closed_at: now } });
  await giveBackReturnedUnits(trx, order.id);
  return next;
}


/** A sum or count read back from PostgreSQL (bigint and numeric arrive as strings). */
export function wholeFen(value: string | number | bigint | null, what: string): Fen {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} must be a whole, non-negative number of fen; got ${String(value)}`);
  return n;
}
