import { randomUUID } from "node:crypto";
import { z } from "zod";
import { sql, type Expression, type Insertable, type RawBuilder, type Selectable, type Updateable } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { readTogether } from "../../../db/read-together";
import { insertFromArrays, selectFromArrays, type ArrayColumns } from "../../../db/unnest";
import type { AuditEventsTable, OrderEventsTable, OrderLinesTable, OrdersTable, PaymentMethod, Role, SeasonsTable } from "../../../db/schema";
import { auditRows, recordAudit, type Actor, type AuditEntry } from "../shared/audit.server";
import {
  getSkusByCodes,
  getSkusByIds,
  skusByCodesQuery,
  skusByIdsQuery,
  skusFromRows,
  orderQuantityProblem,
  releaseStock,
  reserveStock,
  reserveStocks,
  returnStock,
  SKU_LIMITS,
  shipStock,
  StockShortError,
  type Sku,
} from "../catalog/catalog.server";
import { chargeOnAccount, creditLineCodes, creditLinesQuery, planCreditHolds, planCreditHoldsOn, restoreCredit, type CreditParties } from "../credit/credit.server";
import { activeDealerLinksQuery, dealerLinkKey, dealerLinksByPair, findActiveDealerLink, findActiveDealerLinks, type DealerLink } from "../dealers/dealers.server";
import { formatFen } from "../../i18n";
import { DomainError } from "../shared/errors";
import { assertMay } from "../identity/permissions";
import { decodeCursor, encodeCursor } from "../shared/cursor.server";
import { GroupCommit, type Settled } from "../shared/group-commit";
import { accountSnapshotFromRows, applyBatch, ensureAccount, postPending, prepareTransfers, STATEMENT_ASSERTION_FAILED, transfer, voidPending, type AccountRow, type AccountSnapshot, type BatchOperation, type Fen, type PreparedTransfers } from "../ledger/ledger.server";
import { requestNotification, type NotificationRequestInput } from "../notifications/notifications.server";
import type { PurposeResult } from "../payments/purposes.server";
import { refuseWhilePaymentInFlight } from "../payments/payments.server";
import { enqueue, enqueueAll, enqueueClause, outboxJobId, type OutboxJob, type Trx } from "../outbox/outbox.server";
import {
  APPROVAL_BY_ANOTHER_MEMBER,
  availableEvents,
  FINANCING_AVAILABLE,
  findTransition,
  INITIAL_STATUS,
  REACHES_SUPPLIER,
  UNSEEN_BY_SUPPLIER,
  type OrderEvent,
  type OrderKind,
  type OrderParty,
  type OrderStatus,
} from "./states";
import { referenceVersionsQuery, versionsFromRows, versionsUnchanged, VersionedCache, type ReliedVersions } from "./reference-versions.server";
import { candidateQueries, candidatesFromRows, isBusinessDate, loadCandidatesForLinks, resolvePrice, type CandidatesFor, type LinkForPricing } from "../pricing/pricing.server";
import { applyRateBps } from "../shared/money";
import { isUuid } from "../shared/ids";
import { addDays, shanghaiDate } from "../shared/dates";

/**
 * Dealer orders: the cart, the four order flows, payment (wallet, e-Pay, on account, financing),
 * shipments, receipt, cancellation and returns. Every change locks the order row, asks the state
 * machine (order-states.ts) whether the event is allowed for this party, moves the money through
 * the ledger with idempotency keys derived from the order, and appends to the order's timeline
 * and the audit log — all in one transaction.
 */

export const ORDER_LIMITS = {
  maxLines: 200,
  maxQuickOrderBytes: 256 * 1024,
  maxReasonChars: 500,
  maxNoteChars: 1_000,
  pageSize: 50,
} as const;

export type OrderRow = Selectable<OrdersTable>;
export type OrderLineRow = Selectable<OrderLinesTable>;


const orderNotFound = () => new DomainError("not_found", "order not found");

function requireText(value: string | null | undefined, field: string, max: number): string {
  const text = (value ?? "").trim();
  if (!text) throw new DomainError("validation", `${field} is required`, { [field]: "required" });
  if (text.length > max) throw new DomainError("validation", `${field} must be at most ${max} characters`, { [field]: "too_long" });
  return text;
}



// ---------------------------------------------------------------------------------------------
// Reading

/** Who the acting organisation is to this order; null when it is neither party (→ 404). */
export function partyOf(order: Pick<OrderRow, "dealer_id" | "core_enterprise_id">, organizationId: string | null): OrderParty | null {
  if (organizationId === null) return "system";
  if (order.dealer_id === organizationId) return "dealer";
  if (order.core_enterprise_id === organizationId) return "core_enterprise";
  return null;
}

/** An order's columns as the models read them (all but is_cart), due_on as text. */
const COLUMNS_BEFORE_DUE_ON = [
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
const COLUMNS_AFTER_DUE_ON = [
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

const orderColumns = [
  ...COLUMNS_BEFORE_DUE_ON.map((c) => `o.${c}` as const),
  sql<string | null>`to_char(o.due_on, 'YYYY-MM-DD')`.as("due_on"),
  ...COLUMNS_AFTER_DUE_ON.map((c) => `o.${c}` as const),
];

/** The same, for the RETURNING of an INSERT (which names the table, not an alias). */
const orderColumnsReturned = [
  ...COLUMNS_BEFORE_DUE_ON,
  sql<string | null>`to_char(orders.due_on, 'YYYY-MM-DD')`.as("due_on"),
  ...COLUMNS_AFTER_DUE_ON,
];

function orderQuery(db: Db) {
  return db.selectFrom("orders as o").select(orderColumns);
}

async function lockOrder(trx: Db, organizationId: string | null, orderId: string): Promise<{ order: OrderRow; party: OrderParty }> {
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
function seenBySupplierSql() {
  return sql<boolean>`(o.status not in (${sql.join(UNSEEN_BY_SUPPLIER.map((st) => sql`${st}`))})
    and (o.status <> 'cancelled' or o.kind = 'return'
      or exists (select 1 from order_events se where se.order_id = o.id and se.to_status = ${REACHES_SUPPLIER})))`;
}

async function supplierHasSeen(db: Db, order: Pick<OrderRow, "id" | "kind" | "status">): Promise<boolean> {
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

// ---------------------------------------------------------------------------------------------
// Settings

export async function getOrderSettings(db: Db, organizationId: string): Promise<{ autoReceiptDays: number; approvalThresholdFen: Fen | null }> {
  const row = await db.selectFrom("order_settings").selectAll().where("organization_id", "=", organizationId).executeTakeFirst();
  return { autoReceiptDays: row?.auto_receipt_days ?? 7, approvalThresholdFen: row?.approval_threshold_fen ?? null };
}

export async function updateOrderSettings(
  db: Db,
  actor: Actor,
  organizationId: string,
  input: { autoReceiptDays?: number; approvalThresholdFen?: Fen | null },
): Promise<void> {
  if (input.autoReceiptDays !== undefined && (!Number.isSafeInteger(input.autoReceiptDays) || input.autoReceiptDays < 1 || input.autoReceiptDays > 60)) {
    throw new DomainError("validation", "Auto-receipt days must be a whole number from 1 to 60", { auto_receipt_days: "1 to 60" });
  }
  if (input.approvalThresholdFen != null && (!Number.isSafeInteger(input.approvalThresholdFen) || input.approvalThresholdFen <= 0)) {
    throw new DomainError("validation", "The approval threshold must be a positive amount (or empty for none)", {
      approval_threshold_fen: "positive amount or empty",
    });
  }
  await inTransaction(db, async (trx) => {
    const before = await getOrderSettings(trx, organizationId);
    const values = {
      organization_id: organizationId,
      auto_receipt_days: input.autoReceiptDays ?? before.autoReceiptDays,
      approval_threshold_fen: input.approvalThresholdFen === undefined ? before.approvalThresholdFen : input.approvalThresholdFen,
    };
    await trx
      .insertInto("order_settings")
      .values(values)
      .onConflict((oc) =>
        oc.column("organization_id").doUpdateSet({
          auto_receipt_days: values.auto_receipt_days,
          approval_threshold_fen: values.approval_threshold_fen,
          updated_at: sql`now()`,
        }),
      )
      .execute();
    await recordAudit(trx, actor, {
      action: "order_settings.updated",
      entityType: "organization",
      entityId: organizationId,
      organizationId,
      before,
      after: { autoReceiptDays: values.auto_receipt_days, approvalThresholdFen: values.approval_threshold_fen },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Transitions

type NewOrderEvent = Insertable<OrderEventsTable>;

interface TransitionOptions {
  note?: string | null;
  data?: unknown;
  patch?: Updateable<OrdersTable>;
}

/** The one place an order's status changes: the machine decides, the timeline and audit record it. */
async function fire(trx: Db, actor: Actor, order: OrderRow, party: OrderParty, event: OrderEvent, options: TransitionOptions = {}): Promise<OrderRow> {
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
    .with("audit", (db) =>
      db.insertInto("audit_events").values(
        auditRows(actor, [
          {
            action: `order.${event}`,
            entityType: "order",
            entityId: order.id,
            organizationId: actor.organizationId,
            before: { status: order.status },
            after: { status: transition.to, ...(options.data && typeof options.data === "object" ? options.data : {}) },
          },
        ]),
      ),
    )
    .updateTable("orders as o")
    .set({ ...options.patch, status: transition.to, updated_at: sql<Date>`now()` })
    .where("o.id", "=", order.id)
    .returning(orderColumns)
    .executeTakeFirstOrThrow()) as OrderRow;
  return updated;
}

async function recordNote(trx: Db, actor: Actor, order: OrderRow, event: string, note: string, data?: unknown) {
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
async function notifyParty(trx: Db, actor: Actor, order: Pick<OrderRow, "id" | "status">, topic: OrderNoticeTopic, occurrence: string = order.status) {
  await enqueue(trx as Trx, orderNoticeJob(order.id, topic, occurrence, actor));
}

/** The orders workflow's queue, and the job that makes an order's notice to the other party. */
export const ORDERS_QUEUE = "orders";
export const ORDER_NOTICE_JOB = "orders.notice";

const ORDER_NOTICE_TOPICS = [
  "order.submitted",
  "order.confirmed",
  "order.shipped",
  "order.balance_due",
  "order.return_requested",
  "order.return_approved",
  "order.return_refunded",
] as const;
type OrderNoticeTopic = (typeof ORDER_NOTICE_TOPICS)[number];

/** Notices the dealer sends to its supplier; every other order notice goes from the supplier to the dealer. */
const DEALER_TO_SUPPLIER: readonly OrderNoticeTopic[] = ["order.submitted", "order.return_requested"];

/** Ids only: the notice is made from the order when the job runs. `occurrence` tells repeated events apart (a shipment's id). */
export const orderNoticePayload = z
  .object({
    orderId: z.string().uuid(),
    topic: z.enum(ORDER_NOTICE_TOPICS),
    occurrence: z.string().regex(/^[^:]{1,100}$/),
    actorUserId: z.string().uuid().nullable(),
    actorOrganizationId: z.string().uuid().nullable(),
  })
  .strict();
export type OrderNoticePayload = z.infer<typeof orderNoticePayload>;

function orderNoticeJob(orderId: string, topic: OrderNoticeTopic, occurrence: string, actor: Actor): OutboxJob {
  const payload: OrderNoticePayload = { orderId, topic, occurrence, actorUserId: actor.userId, actorOrganizationId: actor.organizationId };
  return { queue: ORDERS_QUEUE, name: ORDER_NOTICE_JOB, jobId: outboxJobId("orders", orderId, `${topic}.${occurrence}`), payload };
}

/**
 * The notice step: the request to notify the other party of the order (the supplier of a
 * submission, the dealer of a confirmation or shipment), from the order and the parties' names as
 * they are now. Its dedupe key (topic, order, occurrence) makes a second run ask nothing more.
 */
export async function sendOrderNotice(db: Db, payload: OrderNoticePayload): Promise<{ requestId: string; created: boolean }> {
  return inTransaction(db, async (trx) => {
    const order = await trx
      .selectFrom("orders as o")
      .innerJoin("organizations as d", "d.id", "o.dealer_id")
      .innerJoin("organizations as c", "c.id", "o.core_enterprise_id")
      .leftJoin("seasons as s", "s.id", "o.season_id")
      .select([
        "o.id",
        "o.number",
        "o.core_enterprise_id",
        "o.dealer_id",
        "o.status",
        "o.total_fen",
        "o.paid_fen",
        "d.name as dealer_name",
        "c.name as core_enterprise_name",
        "s.name as season_name",
      ])
      .where("o.id", "=", payload.orderId)
      .executeTakeFirst();
    if (!order) throw new DomainError("not_found", "order not found", { orderId: "not found" });
    const fromName = DEALER_TO_SUPPLIER.includes(payload.topic) ? order.dealer_name : order.core_enterprise_name;
    const actor: Actor = { userId: payload.actorUserId, organizationId: payload.actorOrganizationId, ip: null, requestId: null };
    const notice = orderNotice(order, payload.topic, fromName, payload.occurrence);
    // Display figures for the dealer, from the order as it is when the step runs.
    if (payload.topic === "order.balance_due") {
      notice.params = { ...notice.params, seasonName: order.season_name ?? order.number, amountDisplay: formatFen(order.total_fen - order.paid_fen) };
    } else if (payload.topic === "order.return_refunded") {
      notice.params = { ...notice.params, amountDisplay: formatFen(order.total_fen) };
    }
    return requestNotification(trx as Trx, actor, notice);
  });
}

function orderNotice(order: Pick<OrderRow, "id" | "number" | "core_enterprise_id" | "dealer_id" | "status">, topic: OrderNoticeTopic, fromName: string, occurrence: string = order.status): NotificationRequestInput {
  const to = DEALER_TO_SUPPLIER.includes(topic) ? order.core_enterprise_id : order.dealer_id;
  return {
    organizationId: to,
    topic,
    params: { orderId: order.id, number: order.number, counterparty: fromName },
    dedupeKey: `${topic}:${order.id}:${occurrence}`,
  };
}

/**
 * The next order number as an SQL expression, for the INSERT of the order itself (no round trip
 * of its own): prefix, Shanghai business date, then the sequence, zero-padded to at least six
 * digits and never cut (as `String(n).padStart(6, "0")`).
 */
function orderNumber(kind: OrderKind, now: Date) {
  return sql<string>`(select ${orderNumberPrefix(kind, now)}::text || lpad(s.n::text, greatest(6, length(s.n::text)), '0')
    from nextval('order_number_seq') as s (n))`;
}

/** An order number from its prefix and a value of the sequence, as `orderNumber` makes it in SQL. */
function formatOrderNumber(prefix: string, n: string): string {
  return prefix + n.padStart(6, "0");
}

/** `count` values of the order number sequence, taken ahead of the INSERT that uses them. */
async function reserveOrderNumbers(db: Db, count: number): Promise<string[]> {
  if (count === 0) return [];
  const { rows } = await orderNumbersQuery(count).execute(db);
  return rows.map((row) => row.n);
}

function orderNumbersQuery(count: number) {
  return sql<{ n: string }>`select nextval('order_number_seq')::text as n from generate_series(1, ${count}::integer)`;
}

function orderNumberPrefix(kind: OrderKind, now: Date): string {
  const prefix = { standard: "SO", preorder: "BK", replenishment: "RP", return: "RMA" }[kind];
  return `${prefix}${shanghaiDate(now).replaceAll("-", "")}`;
}

const LINE_ARRAY_COLUMNS = [
  ["order_id", "uuid"],
  ["line_no", "integer"],
  ["sku_id", "uuid"],
  ["sku_code", "text"],
  ["sku_name", "text"],
  ["spec", "text"],
  ["unit", "text"],
  ["quantity_ordered", "integer"],
  ["unit_price_fen", "bigint"],
  ["price_rule", "text"],
  ["tax_rate_bps", "integer"],
  ["amount_fen", "bigint"],
] as const satisfies ArrayColumns<Insertable<OrderLinesTable>>;

const EVENT_ARRAY_COLUMNS = [
  ["order_id", "uuid"],
  ["actor_user_id", "uuid"],
  ["actor_organization_id", "uuid"],
  ["event", "text"],
  ["from_status", "text"],
  ["to_status", "text"],
  ["note", "text"],
  ["data", "jsonb"],
] as const satisfies ArrayColumns<NewOrderEvent>;

const AUDIT_ARRAY_COLUMNS = [
  ["actor_user_id", "uuid"],
  ["organization_id", "uuid"],
  ["action", "text"],
  ["entity_type", "text"],
  ["entity_id", "text"],
  ["before", "jsonb"],
  ["after", "jsonb"],
  ["ip", "text"],
  ["request_id", "text"],
] as const satisfies ArrayColumns<Insertable<AuditEventsTable>>;

const ORDER_ARRAY_COLUMNS = [
  ["id", "uuid"],
  ["number_prefix", "text"],
  ["kind", "text"],
  ["status", "text"],
  ["core_enterprise_id", "uuid"],
  ["dealer_id", "uuid"],
  ["dealer_link_id", "uuid"],
  ["season_id", "uuid"],
  ["note", "text"],
  ["total_fen", "bigint"],
  ["payment_method", "text"],
  ["created_by_user_id", "uuid"],
  ["submitted_at", "timestamptz"],
] as const;

function creditParties(order: Pick<OrderRow, "dealer_link_id" | "core_enterprise_id" | "dealer_id">): CreditParties {
  return { linkId: order.dealer_link_id, coreEnterpriseId: order.core_enterprise_id, dealerId: order.dealer_id };
}

async function requireLink(db: Db, coreEnterpriseId: string, dealerId: string): Promise<DealerLink> {
  const link = await findActiveDealerLink(db, coreEnterpriseId, dealerId);
  if (!link) {
    throw new DomainError("not_found", "This supplier is not open to you: the dealer relationship is missing or suspended", {
      core_enterprise_id: "no active dealer relationship",
    });
  }
  return link;
}

// ---------------------------------------------------------------------------------------------
// Cart and order creation

export interface LineInput {
  /** Either a SKU id or a SKU code. */
  skuId?: string;
  skuCode?: string;
  quantity: number;
}

interface PricedLine {
  sku: Sku;
  quantity: number;
  unitPriceFen: Fen;
  rule: string;
  taxRateBps: number;
}

function checkLineCount(lines: readonly LineInput[]): void {
  if (lines.length === 0) throw new DomainError("validation", "An order needs at least one line", { lines: "empty" });
  if (lines.length > ORDER_LIMITS.maxLines) {
    throw new DomainError("validation", `An order has at most ${ORDER_LIMITS.maxLines} lines`, { lines: "too_many" });
  }
}

/** A core enterprise's SKUs named by the lines of one or more orders, by code and by id. */
interface SkuLookup {
  byCode: Map<string, Sku>;
  byId: Map<string, Sku>;
}

/** One query for the codes and one for the ids of each core enterprise, in chunks the catalogue allows. */
async function lookUpSkus(db: Db, coreEnterpriseId: string, lines: readonly LineInput[]): Promise<SkuLookup> {
  const lookup: SkuLookup = { byCode: new Map(), byId: new Map() };
  const codes = [...new Set(lines.filter((l) => !l.skuId).map((l) => (l.skuCode ?? "").trim().toUpperCase()))];
  const ids = [...new Set(lines.filter((l) => l.skuId).map((l) => l.skuId!))];
  const chunk = SKU_LIMITS.maxCodesPerLookup;
  for (let i = 0; i < codes.length; i += chunk) {
    for (const [code, sku] of await getSkusByCodes(db, coreEnterpriseId, codes.slice(i, i + chunk))) lookup.byCode.set(code, sku);
  }
  for (let i = 0; i < ids.length; i += chunk) {
    for (const [id, sku] of await getSkusByIds(db, coreEnterpriseId, ids.slice(i, i + chunk))) lookup.byId.set(id, sku);
  }
  return lookup;
}

/**
 * Check lines against the catalogue: every problem is reported by line (`lines.<n>.sku` /
 * `lines.<n>.quantity`) in one refusal.
 */
function checkLines(lines: readonly LineInput[], skus: SkuLookup): { sku: Sku; quantity: number }[] {
  checkLineCount(lines);
  const fields: Record<string, string> = {};
  // The same problems as stable codes, for the API (pages show the words in `fields`).
  const codes: Record<string, string> = {};
  const resolved: { sku: Sku; quantity: number }[] = [];
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    const sku = line.skuId ? skus.byId.get(line.skuId.toLowerCase()) : skus.byCode.get((line.skuCode ?? "").trim().toUpperCase());
    const label = line.skuCode ?? line.skuId ?? "";
    if (!sku) {
      fields[`lines.${i}.sku`] = `unknown SKU ${label}`.trim();
      codes[`lines.${i}.sku`] = "unknown";
      return;
    }
    if (sku.status !== "active") {
      fields[`lines.${i}.sku`] = `SKU ${sku.code} is not on sale`;
      codes[`lines.${i}.sku`] = "not_on_sale";
      return;
    }
    if (seen.has(sku.id)) {
      fields[`lines.${i}.sku`] = `SKU ${sku.code} appears twice: put the quantities on one line`;
      codes[`lines.${i}.sku`] = "duplicate";
      return;
    }
    seen.add(sku.id);
    const problem = orderQuantityProblem(sku, line.quantity);
    if (problem) {
      fields[`lines.${i}.quantity`] = `${sku.code}: ${problem.message}`;
      codes[`lines.${i}.quantity`] = problem.code;
      return;
    }
    resolved.push({ sku, quantity: line.quantity });
  });
  if (Object.keys(fields).length) {
    const count = Object.keys(fields).length;
    throw new DomainError("validation", `${count} line${count > 1 ? "s" : ""} cannot be ordered: ${Object.values(fields).join("; ")}`, fields, codes);
  }
  return resolved;
}

function priceChecked(link: DealerLink, checked: readonly { sku: Sku; quantity: number }[], candidatesFor: CandidatesFor): PricedLine[] {
  return checked.map(({ sku, quantity }) => {
    const price = resolvePrice(candidatesFor(link, sku), quantity);
    return { sku, quantity, unitPriceFen: price.unitPriceFen, rule: price.rule, taxRateBps: sku.taxRateBps };
  });
}

/**
 * Resolve, check and price lines for a dealer. Every problem is reported by line and nothing is
 * written when any line is wrong.
 */
async function priceLines(db: Db, link: DealerLink, lines: readonly LineInput[], now: Date): Promise<PricedLine[]> {
  checkLineCount(lines);
  const checked = checkLines(lines, await lookUpSkus(db, link.coreEnterpriseId, lines));
  const candidatesFor = await loadCandidatesForLinks(db, [{ link, skus: checked.map((c) => c.sku) }], shanghaiDate(now));
  return priceChecked(link, checked, candidatesFor);
}

function linesTotal(lines: readonly PricedLine[]): Fen {
  const total = lines.reduce((sum, line) => sum + line.unitPriceFen * line.quantity, 0);
  if (!Number.isSafeInteger(total)) throw new DomainError("validation", "The order total is too large", { lines: "total_too_large" });
  return total;
}

/** The rows of an order's lines, numbered from 1 in the order given. */
function lineValues(orderId: string, lines: readonly PricedLine[]): Insertable<OrderLinesTable>[] {
  return lines.map((line, i) => ({
    order_id: orderId,
    line_no: i + 1,
    sku_id: line.sku.id,
    sku_code: line.sku.code,
    sku_name: line.sku.name,
    spec: line.sku.spec,
    unit: line.sku.unit,
    quantity_ordered: line.quantity,
    unit_price_fen: line.unitPriceFen,
    price_rule: line.rule,
    tax_rate_bps: line.taxRateBps,
    amount_fen: line.unitPriceFen * line.quantity,
  }));
}

/** The order's lines in one INSERT; returns the total. */
async function writeLines(trx: Db, orderId: string, lines: readonly PricedLine[]): Promise<Fen> {
  const total = linesTotal(lines);
  if (lines.length === 0) return total;
  await trx.insertInto("order_lines").values(lineValues(orderId, lines)).execute();
  return total;
}

export interface CreateOrderInput {
  dealerId: string;
  coreEnterpriseId: string;
  kind: Exclude<OrderKind, "return">;
  lines: readonly LineInput[];
  seasonId?: string | null;
  note?: string | null;
  /** Default true: submitted (or sent for the dealer's approval) at once. */
  submit?: boolean;
  /**
   * `on_account`: the total is held on the dealer's credit line as the order is submitted (refused
   * when the line cannot take it), charged for the confirmed total when the supplier confirms, and
   * released if the order is rejected, declined or cancelled first. Standard and replenishment
   * orders only (a preorder's deposit is paid, not put on account).
   */
  paymentMethod?: "on_account" | null;
}

/**
 * Place an order in one step (quick order, CSV, API): lines by SKU code or id, priced for this
 * dealer now, then submitted unless `submit` is false (which puts it in the cart instead).
 *
 * Orders placed at the same moment share a transaction (group commit, decision 015): each caller
 * still gets its own order or its own refusal, and one refusal never refuses another. Inside a
 * caller's transaction the order is placed in it, alone.
 */
export async function createOrder(db: Db, actor: Actor, input: CreateOrderInput, now = new Date()): Promise<OrderRow> {
  if (actor.organizationId !== input.dealerId) throw new DomainError("forbidden", "Only the dealer places its orders", { dealer_id: "not yours" });
  const note = (input.note ?? "").trim();
  if (note.length > ORDER_LIMITS.maxNoteChars) throw new DomainError("validation", "The note is too long", { note: "too_long" });
  if (input.paymentMethod !== undefined && input.paymentMethod !== null && input.paymentMethod !== "on_account") {
    throw new DomainError("validation", "An order is put on account at submission, or paid after confirmation", { payment_method: "on_account or nothing" });
  }
  if (input.paymentMethod === "on_account" && input.kind === "preorder") {
    throw new DomainError("validation", "A preorder's deposit is paid, not put on account", { payment_method: "not for preorders" });
  }
  if (input.paymentMethod === "on_account" && input.submit === false) {
    throw new DomainError("validation", "An order goes on account when it is submitted, not while it is in the cart", { payment_method: "submit the order" });
  }
  const placement: Placement = { actor, input: { ...input, note }, now };
  if (db.isTransaction) return settle((await placeOrders(db, [placement]))[0]);
  return placementQueue(db).submit(placement);
}

interface Placement {
  actor: Actor;
  input: CreateOrderInput & { note: string };
  now: Date;
}

const settle = <T>(outcome: Settled<T>): T => {
  if (outcome.ok) return outcome.value;
  throw outcome.error;
};

const placementQueues = new WeakMap<Db, GroupCommit<Placement, OrderRow>>();

/** The group committer of this database's order placements, made on first use. */
function placementQueue(db: Db): GroupCommit<Placement, OrderRow> {
  let queue = placementQueues.get(db);
  if (!queue) {
    queue = new GroupCommit<Placement, OrderRow>((batch) => placeOrders(db, batch), PLACEMENT_GROUP_COMMIT);
    placementQueues.set(db, queue);
  }
  return queue;
}

/** How many placements share a transaction at most, and how many such transactions run at once. */
export const PLACEMENT_GROUP_COMMIT = { maxBatch: 32, maxInFlight: 2, maxWaiting: 1_024 } as const;

/**
 * Place several orders at once, in a fixed number of statements whatever their number: the dealer
 * links, order settings and seasons, and the SKUs (per core enterprise); then the prices (per tier,
 * and the overrides) with, outside a caller's transaction, the credit lines and order numbers; then
 * one statement that writes everything (placeInOneStatement, decision 016), or, inside a caller's
 * transaction or when that statement finds a credit line changed, the locked way: the lines locked,
 * one INSERT for the orders with their lines, timeline and audit rows, the notice jobs, the holds.
 * A batch whose every link, SKU and price was kept from earlier reads skips the reads (decision
 * 017).
 * Each placement is checked on its own: a refusal is its caller's, and writes nothing of it.
 */
async function placeOrders(db: Db, placements: readonly Placement[], keptAllowed = true): Promise<Settled<OrderRow>[]> {
  const outcomes: (Settled<OrderRow> | undefined)[] = placements.map(() => undefined);
  const refuse = (i: number, error: unknown) => {
    outcomes[i] = { ok: false, error };
  };
  // What the placements read is read before the transaction, the independent reads at once (on
  // their own connections in server mode). Under READ COMMITTED a read inside the transaction would
  // guarantee no more: nothing here is locked, and what must hold at the write is held by the
  // write itself (foreign keys, the credit lines' locks).
  const dealerIds = [...new Set(placements.map((p) => p.input.dealerId).filter(isUuid))];
  const seasonIds = [...new Set(placements.flatMap((p) => (p.input.kind === "preorder" && p.input.seasonId && isUuid(p.input.seasonId) ? [p.input.seasonId] : [])))];
  const linesByCore = new Map<string, LineInput[]>();
  for (const p of placements) {
    if (!isUuid(p.input.coreEnterpriseId) || !Array.isArray(p.input.lines)) continue;
    const lines = linesByCore.get(p.input.coreEnterpriseId) ?? [];
    lines.push(...p.input.lines);
    linesByCore.set(p.input.coreEnterpriseId, lines);
  }
  // Outside a caller's transaction the orders are written by one statement (placeInOneStatement):
  // the credit lines it plans on and the order numbers it uses are read beforehand.
  const oneStatement = !db.isTransaction;
  const pairs = placements.map((p) => ({ coreEnterpriseId: p.input.coreEnterpriseId, dealerId: p.input.dealerId }));
  // The reads in one statement (readTogether) when the batch is the common kind: no preorder
  // season to read, and no more SKUs per supplier than one lookup takes.
  const together = oneStatement && seasonIds.length === 0 && [...linesByCore.values()].every((lines) => lines.length <= SKU_LIMITS.maxCodesPerLookup);
  // When everything the batch needs was kept from earlier reads, at versions that agree, no read
  // at all: the write asserts those versions (decision 017).
  const kept = together && keptAllowed ? takeKept(db, placements) : null;
  // Otherwise the prices and credit lines depend on the links and SKUs the first reads find. When
  // every link and SKU these name was kept (at whatever version), they are read with the first
  // reads, on those keys, and used only if the first reads find the same keys (wantedAsRemembered).
  const remembered = together && !kept ? rememberedKeys(db, placements) : null;
  let versionsRead: Map<string, number> | null = null;
  let early: PricesAndCreditLines | null = null;
  let links: Map<string, DealerLink>;
  let thresholdRows: { organization_id: string; approval_threshold_fen: number | null }[];
  let seasonRows: Selectable<SeasonsTable>[] = [];
  let skusByCore: Map<string, SkuLookup>;
  let numbers: string[] | null = null;
  if (kept) {
    ({ links, thresholdRows, skusByCore, numbers } = kept);
  } else if (together) {
    const ahead = remembered ? priceAndCreditQueries(db, placements, remembered.wanted, true) : null;
    const organizationIds = [...new Set(pairs.flatMap((pair) => [pair.coreEnterpriseId, pair.dealerId]).filter(isUuid).map((id) => id.toLowerCase()))];
    const queries: Record<string, Expression<unknown>> = {
      settings: approvalThresholdsQuery(db, dealerIds),
      numbers: orderNumbersQuery(placements.length),
      versions: referenceVersionsQuery(db, organizationIds),
      ...(ahead ? ahead.queries : {}),
    };
    const linksQuery = activeDealerLinksQuery(db, pairs);
    if (linksQuery) queries.links = linksQuery;
    const cores = [...linesByCore];
    cores.forEach(([coreEnterpriseId, lines], k) => {
      const byCode = skusByCodesQuery(db, coreEnterpriseId, lines.filter((l) => !l.skuId).map((l) => l.skuCode ?? ""));
      const byId = skusByIdsQuery(db, coreEnterpriseId, lines.filter((l) => l.skuId).map((l) => l.skuId!));
      if (byCode) queries[`skus_by_code_${k}`] = byCode;
      if (byId) queries[`skus_by_id_${k}`] = byId;
    });
    const rows = await readTogether(db, queries);
    links = dealerLinksByPair(rows.links ?? []);
    thresholdRows = rows.settings as typeof thresholdRows;
    numbers = rows.numbers.map((row) => String(row.n));
    skusByCore = new Map(
      cores.map(([coreEnterpriseId], k) => {
        const lookup: SkuLookup = { byCode: new Map(), byId: new Map() };
        for (const sku of skusFromRows(rows[`skus_by_code_${k}`] ?? [])) lookup.byCode.set(sku.code, sku);
        for (const sku of skusFromRows(rows[`skus_by_id_${k}`] ?? [])) lookup.byId.set(sku.id, sku);
        return [coreEnterpriseId, lookup] as const;
      }),
    );
    if (ahead) early = ahead.decode(rows);
    versionsRead = versionsFromRows(organizationIds, rows.versions);
  } else {
    let skuLookups: (readonly [string, SkuLookup])[];
    [links, thresholdRows, seasonRows, skuLookups, numbers] = await Promise.all([
      findActiveDealerLinks(db, pairs),
      approvalThresholdsQuery(db, dealerIds).execute(),
      seasonIds.length ? db.selectFrom("seasons").selectAll().where("id", "=", sql<string>`any(${seasonIds}::uuid[])`).execute() : Promise.resolve([]),
      Promise.all([...linesByCore].map(async ([coreEnterpriseId, lines]) => [coreEnterpriseId, await lookUpSkus(db, coreEnterpriseId, lines)] as const)),
      oneStatement ? reserveOrderNumbers(db, placements.length) : null,
    ]);
    skusByCore = new Map(skuLookups);
  }
  const thresholds = new Map(thresholdRows.map((row) => [row.organization_id, row.approval_threshold_fen]));
  const seasons = new Map(seasonRows.map((row) => [row.id, row]));

  const linkOf: (DealerLink | undefined)[] = placements.map((placement, i) => {
    const { input } = placement;
    const link = links.get(dealerLinkKey(input.coreEnterpriseId, input.dealerId));
    try {
      if (!link) {
        throw new DomainError("not_found", "This supplier is not open to you: the dealer relationship is missing or suspended", {
          core_enterprise_id: "no active dealer relationship",
        });
      }
      if (input.kind === "preorder") checkOpenSeason(seasons, input.coreEnterpriseId, input.seasonId ?? null);
      else if (input.seasonId) throw new DomainError("validation", "Only a preorder books against a season", { season_id: "preorder only" });
      checkLineCount(input.lines);
      return link;
    } catch (error) {
      refuse(i, error);
      return undefined;
    }
  });
  const checked = placements.map((p, i) => {
    if (!linkOf[i]) return undefined;
    try {
      return checkLines(p.input.lines, skusByCore.get(p.input.coreEnterpriseId)!);
    } catch (error) {
      refuse(i, error);
      return undefined;
    }
  });

  // Prices: placed together means placed at the same instant, but each keeps its own clock's date.
  const byDate = new Map<string, number[]>();
  placements.forEach((p, i) => {
    if (!checked[i]) return;
    const on = shanghaiDate(p.now);
    byDate.set(on, [...(byDate.get(on) ?? []), i]);
  });
  const priced: (PricedLine[] | undefined)[] = placements.map(() => undefined);
  const wanted = placements.map((p, i) => (checked[i] ? { link: linkOf[i]!, skus: checked[i]!.map((c) => c.sku) } : undefined));
  const read = kept
    ? kept.read
    : early && remembered && wantedAsRemembered(wanted, remembered.wanted)
      ? early
      : await readPricesAndCreditLines(db, placements, wanted, oneStatement, together);
  for (const [on, indexes] of byDate) {
    for (const i of indexes) priced[i] = priceChecked(linkOf[i]!, checked[i]!, read.candidatesByDate.get(on)!);
  }
  const creditLines = read.creditLines;

  // What each accepted placement will be: its id, total and status.
  const planned = new Map<number, PlannedOrder>();
  placements.forEach((p, i) => {
    const lines = priced[i];
    if (!lines) return;
    try {
      const total = linesTotal(lines);
      const thresholdFen = p.input.submit === false ? null : (thresholds.get(p.input.dealerId) ?? null);
      const event: OrderEvent | null = p.input.submit === false ? null : thresholdFen !== null && total > thresholdFen ? "submit_for_approval" : "submit";
      const to = event ? findTransition(p.input.kind, INITIAL_STATUS[p.input.kind], event)!.to : INITIAL_STATUS[p.input.kind];
      planned.set(i, { id: randomUUID(), total, link: linkOf[i]!, lines, event, to, thresholdFen });
    } catch (error) {
      refuse(i, error);
    }
  });

  if (kept && outcomes.some((outcome) => outcome !== undefined)) {
    // A refusal is decided on a fresh read, never on kept data.
    kept.giveBack();
    return placeOrders(db, placements, false);
  }
  if (versionsRead) keepReads(db, versionsRead, placements, linkOf, checked, thresholds, read);

  if (creditLines && numbers && planned.size > 0) {
    const placed = await placeInOneStatement(db, placements, planned, creditLines, numbers, kept?.relied ?? null);
    if (placed) {
      for (const [i, row] of placed) outcomes[i] = { ok: true, value: row };
      return outcomes.map((outcome) => outcome ?? { ok: false, error: new Error("placeOrders: a placement was neither placed nor refused") });
    }
    if (kept) {
      // Something kept changed (or a credit line moved): plan again on a fresh read.
      kept.giveBack();
      return placeOrders(db, placements, false);
    }
  }

  await inTransaction(db, async (trx) => {
    // Credit: the lines of every order on account locked at once, each order checked in turn.
    const { onAccount, requests } = creditHoldRequests(placements, planned);
    const { locked, plans } = await planCreditHolds(trx, requests);
    const holds: BatchOperation[] = [];
    onAccount.forEach(([i], k) => {
      const plan = plans[k];
      if (plan.ok) holds.push(plan.hold);
      else {
        planned.delete(i);
        refuse(i, plan.error);
      }
    });

    if (planned.size > 0) {
      const accepted = [...planned];
      const { events, audits, lineRows, orderRows } = placementRows(placements, accepted);
      // One statement: the orders, and in data-modifying WITH clauses their lines, timeline and audit
      // rows (the foreign keys are checked at the end of the statement, when all are in). One array
      // per column: the same statement text and parameter count whatever the number of orders.
      const { rows: inserted } = await sql<OrderRow>`
        with lines_written as (${insertFromArrays("order_lines", lineRows, LINE_ARRAY_COLUMNS)}),
             timeline as (${insertFromArrays("order_events", events, EVENT_ARRAY_COLUMNS)}),
             audit as (${insertFromArrays("audit_events", audits, AUDIT_ARRAY_COLUMNS)})
        insert into orders (id, number, kind, status, core_enterprise_id, dealer_id, dealer_link_id, season_id, note, total_fen, payment_method,
                            created_by_user_id, submitted_at)
        select v.id, v.number_prefix || lpad(v.n::text, greatest(6, length(v.n::text)), '0'),
               v.kind, v.status, v.core_enterprise_id, v.dealer_id, v.dealer_link_id, v.season_id, v.note, v.total_fen, v.payment_method,
               v.created_by_user_id, v.submitted_at
          -- nextval in the select list of the rows themselves: once per row (a scalar subquery around
          -- it would be evaluated once and give every order the same number).
          from (select a.*, nextval('order_number_seq') as n from (${selectFromArrays(orderRows, ORDER_ARRAY_COLUMNS)}) as a) as v
        returning ${sql.join(orderColumnsReturned.map((column) => (typeof column === "string" ? sql.ref(column) : column)))}`.execute(trx);
      const byId = new Map(inserted.map((row) => [row.id, row]));
      for (const [i, plan] of accepted) outcomes[i] = { ok: true, value: byId.get(plan.id)! };
      await enqueueAll(trx as Trx, placementNoticeJobs(placements, accepted));
      await applyBatch(trx, holds, { locked });
    }
  });
  return outcomes.map((outcome) => outcome ?? { ok: false, error: new Error("placeOrders: a placement was neither placed nor refused") });
}

/** The dealers' approval thresholds (orders above one wait for the dealer's approver). */
function approvalThresholdsQuery(db: Db, dealerIds: readonly string[]) {
  return db.selectFrom("order_settings").select(["organization_id", "approval_threshold_fen"]).where("organization_id", "=", sql<string>`any(${[...dealerIds]}::uuid[])`);
}

/** What the prices of each placement are read for: its link and the SKUs of its lines. */
type Wanted = { link: LinkForPricing; skus: readonly { id: string }[] } | undefined;

interface PricesAndCreditLines {
  candidatesByDate: Map<string, CandidatesFor>;
  creditLines: AccountSnapshot | null;
}

/**
 * The queries for the prices of the placements' lines (per business date: each placement keeps its
 * own clock's date) and, when `withCreditLines`, the credit lines of those on account, named for
 * `readTogether`, with what makes their results into prices and a snapshot of the lines.
 */
function priceAndCreditQueries(db: Db, placements: readonly Placement[], wanted: readonly Wanted[], withCreditLines: boolean) {
  const byDate = new Map<string, NonNullable<Wanted>[]>();
  placements.forEach((p, i) => {
    const w = wanted[i];
    if (!w) return;
    const on = shanghaiDate(p.now);
    byDate.set(on, [...(byDate.get(on) ?? []), w]);
  });
  const dates = [...byDate].map(([on, list]) => ({ on, queries: candidateQueries(db, list, on) }));
  const onAccountLinks = [...new Set(placements.flatMap((p, i) => (wanted[i] && p.input.paymentMethod === "on_account" ? [wanted[i]!.link.id] : [])))];
  const queries: Record<string, Expression<unknown>> = {};
  dates.forEach(({ queries: q }, d) => {
    q.tiers.forEach(({ query }, k) => (queries[`prices_${d}_tier_${k}`] = query));
    if (q.overrides) queries[`prices_${d}_overrides`] = q.overrides;
  });
  if (withCreditLines && onAccountLinks.length) queries.credit_lines = creditLinesQuery(db, onAccountLinks);
  const decode = (rows: Record<string, readonly unknown[]>): PricesAndCreditLines => ({
    candidatesByDate: new Map(
      dates.map(({ on, queries: q }, d) => [on, candidatesFromRows(q, q.tiers.map((_, k) => rows[`prices_${d}_tier_${k}`] ?? []), rows[`prices_${d}_overrides`] ?? [])]),
    ),
    creditLines: withCreditLines ? accountSnapshotFromRows((rows.credit_lines ?? []) as Record<string, unknown>[]) : null,
  });
  return { queries, decode };
}

/** The prices and (outside a caller's transaction) credit lines of the placements: in one statement when `together`. */
async function readPricesAndCreditLines(db: Db, placements: readonly Placement[], wanted: readonly Wanted[], withCreditLines: boolean, together: boolean): Promise<PricesAndCreditLines> {
  const { queries, decode } = priceAndCreditQueries(db, placements, wanted, withCreditLines);
  if (together) return decode(await readTogether(db, queries));
  const names = Object.keys(queries);
  const results = await Promise.all(names.map((name) => (queries[name] as unknown as { execute(): Promise<unknown[]> }).execute()));
  return decode(Object.fromEntries(names.map((name, i) => [name, results[i]])));
}

function skuKey(coreEnterpriseId: string, line: LineInput): string {
  return line.skuId ? `${coreEnterpriseId}#${line.skuId.toLowerCase()}` : `${coreEnterpriseId}:${(line.skuCode ?? "").trim().toUpperCase()}`;
}

/** What the placements' prices would be read for if their links and SKUs are still those kept last; null when one was never kept. */
function rememberedKeys(db: Db, placements: readonly Placement[]): { wanted: Wanted[] } | null {
  const cache = referenceCaches.get(db);
  if (!cache) return null;
  const wanted: Wanted[] = [];
  for (const { input } of placements) {
    const link = cache.peek<DealerLink>(`link:${dealerLinkKey(input.coreEnterpriseId, input.dealerId)}`);
    if (!link || !Array.isArray(input.lines)) return null;
    const skus: { id: string }[] = [];
    for (const line of input.lines) {
      const sku = cache.peek<Sku>(`sku:${skuKey(input.coreEnterpriseId, line)}`);
      if (!sku) return null;
      skus.push({ id: sku.id });
    }
    wanted.push({ link, skus });
  }
  return { wanted };
}

/**
 * Whether prices read ahead for `remembered` are the prices for `actual`: the same link (id, tier)
 * and, among the SKUs read ahead, every SKU the lines turned out to name. The prices themselves
 * were read at the same moment as the links and SKUs, so they are as current as reading them after.
 */
function wantedAsRemembered(actual: readonly Wanted[], remembered: readonly Wanted[]): boolean {
  return actual.every((a, i) => {
    if (!a) return true;
    const r = remembered[i];
    if (!r || r.link.id !== a.link.id || r.link.tierId !== a.link.tierId || r.link.coreEnterpriseId !== a.link.coreEnterpriseId) return false;
    const ids = new Set(r.skus.map((sku) => sku.id));
    return a.skus.every((sku) => ids.has(sku.id));
  });
}

/**
 * What order placement reads, kept per database between placements under the versions of the
 * organisations it belongs to (decision 017): links with the dealers' approval thresholds, SKUs,
 * prices, and the credit lines' accounts (a hint only: the ledger's guarded UPDATE decides). At most
 * `REFERENCE_CACHE_MAX` entries (a few megabytes).
 */
const referenceCaches = new WeakMap<Db, VersionedCache>();
const REFERENCE_CACHE_MAX = 20_000;

function referenceCache(db: Db): VersionedCache {
  let cache = referenceCaches.get(db);
  if (!cache) referenceCaches.set(db, (cache = new VersionedCache(REFERENCE_CACHE_MAX)));
  return cache;
}

/** Order numbers taken from the sequence by an earlier placement's statement, for the next. */
const orderNumberPools = new WeakMap<Db, string[]>();

function orderNumberPool(db: Db): string[] {
  let pool = orderNumberPools.get(db);
  if (!pool) orderNumberPools.set(db, (pool = []));
  return pool;
}

type Candidates = ReturnType<CandidatesFor>;

const priceKey = (on: string, link: LinkForPricing, sku: { id: string }) => `price:${on}|${link.id}|${link.tierId ?? ""}|${sku.id}`;

interface KeptReads {
  links: Map<string, DealerLink>;
  thresholdRows: { organization_id: string; approval_threshold_fen: number | null }[];
  skusByCore: Map<string, SkuLookup>;
  numbers: string[];
  read: PricesAndCreditLines;
  /** The versions the batch was planned at, for the statement to assert. */
  relied: ReliedVersions;
  /** Return the order numbers taken, when the batch is placed another way. */
  giveBack(): void;
}

/** Everything the placements read, from what was kept, when all of it was kept at agreeing versions; null otherwise. */
function takeKept(db: Db, placements: readonly Placement[]): KeptReads | null {
  const cache = referenceCaches.get(db);
  const pool = orderNumberPools.get(db);
  if (!cache || !pool || pool.length < placements.length) return null;
  const relied: ReliedVersions = new Map();
  const links = new Map<string, DealerLink>();
  const thresholdRows: KeptReads["thresholdRows"] = [];
  const skusByCore = new Map<string, SkuLookup>();
  const candidatesByKey = new Map<string, Candidates>();
  const creditRows = new Map<string, AccountRow>();
  for (const { input, now } of placements) {
    if (!isUuid(input.coreEnterpriseId) || !isUuid(input.dealerId) || !Array.isArray(input.lines)) return null;
    const pair = dealerLinkKey(input.coreEnterpriseId, input.dealerId);
    const link = cache.take<DealerLink>(`link:${pair}`, relied);
    const thresholdFen = cache.take<Fen | null>(`threshold:${input.dealerId.toLowerCase()}`, relied);
    if (!link || thresholdFen === undefined) return null;
    links.set(pair, link);
    if (thresholdFen !== null) thresholdRows.push({ organization_id: input.dealerId, approval_threshold_fen: thresholdFen });
    const lookup = skusByCore.get(input.coreEnterpriseId) ?? { byCode: new Map<string, Sku>(), byId: new Map<string, Sku>() };
    skusByCore.set(input.coreEnterpriseId, lookup);
    const on = shanghaiDate(now);
    for (const line of input.lines) {
      const sku = cache.take<Sku>(`sku:${skuKey(input.coreEnterpriseId, line)}`, relied);
      if (!sku) return null;
      if (line.skuId) lookup.byId.set(line.skuId.toLowerCase(), sku);
      else lookup.byCode.set((line.skuCode ?? "").trim().toUpperCase(), sku);
      const key = priceKey(on, link, sku);
      const candidates = cache.take<Candidates>(key, relied);
      if (!candidates) return null;
      candidatesByKey.set(key, candidates);
    }
    if (input.paymentMethod === "on_account") {
      for (const code of creditLineCodes([link.id])) {
        const row = cache.take<AccountRow>(`credit:${code}`, relied);
        if (!row) return null;
        creditRows.set(code, row);
      }
    }
  }
  const dates = new Set(placements.map((p) => shanghaiDate(p.now)));
  const candidatesByDate = new Map<string, CandidatesFor>(
    [...dates].map((on) => [on, (link: LinkForPricing, sku: { id: string }) => candidatesByKey.get(priceKey(on, link, sku))!]),
  );
  const numbers = pool.splice(0, placements.length);
  return {
    links,
    thresholdRows,
    skusByCore,
    numbers,
    read: { candidatesByDate, creditLines: accountSnapshotFromRows([...creditRows.values()]) },
    relied,
    giveBack: () => pool.unshift(...numbers),
  };
}

/** Keep what a fresh read found, under the versions read with it, for the placements that follow. */
function keepReads(
  db: Db,
  versions: ReadonlyMap<string, number>,
  placements: readonly Placement[],
  linkOf: readonly (DealerLink | undefined)[],
  checked: readonly ({ sku: Sku; quantity: number }[] | undefined)[],
  thresholds: ReadonlyMap<string, Fen | null>,
  read: PricesAndCreditLines,
): void {
  const cache = referenceCache(db);
  placements.forEach(({ input, now }, i) => {
    const link = linkOf[i];
    const lines = checked[i];
    if (!link || !lines) return;
    const coreVersion = versions.get(link.coreEnterpriseId.toLowerCase());
    const dealerVersion = versions.get(link.dealerId.toLowerCase());
    if (coreVersion === undefined || dealerVersion === undefined) return;
    const core = [link.coreEnterpriseId.toLowerCase(), coreVersion] as const;
    const dealer = [link.dealerId.toLowerCase(), dealerVersion] as const;
    cache.keep(`link:${dealerLinkKey(input.coreEnterpriseId, input.dealerId)}`, link, [core, dealer]);
    cache.keep(`threshold:${input.dealerId.toLowerCase()}`, thresholds.get(input.dealerId) ?? null, [dealer]);
    const on = shanghaiDate(now);
    const candidatesFor = read.candidatesByDate.get(on);
    // checkLines resolved every line, in order, or the placement was refused.
    input.lines.forEach((line, k) => {
      const { sku } = lines[k];
      cache.keep(`sku:${skuKey(input.coreEnterpriseId, line)}`, sku, [core]);
      if (candidatesFor) cache.keep(priceKey(on, link, sku), candidatesFor(link, sku), [core]);
    });
  });
  if (read.creditLines) for (const row of read.creditLines.rowsById().values()) cache.keep(`credit:${row.code}`, row, []);
}

/** What a placement that passed its checks will be: its id, lines, total and status. */
interface PlannedOrder {
  id: string;
  total: Fen;
  link: DealerLink;
  lines: PricedLine[];
  event: OrderEvent | null;
  to: OrderStatus;
  thresholdFen: Fen | null;
}

/** The rows of accepted placements: orders (numbered by the statement), lines, timeline and audit. */
function placementRows(placements: readonly Placement[], accepted: readonly (readonly [number, PlannedOrder])[]) {
  const events: NewOrderEvent[] = [];
  const audits: Insertable<AuditEventsTable>[] = [];
  for (const [i, plan] of accepted) {
    const { actor, input } = placements[i];
    const initial = INITIAL_STATUS[input.kind];
    const onAccountNow = input.paymentMethod === "on_account";
    const data = {
      total_fen: plan.total,
      ...(plan.event === "submit_for_approval" ? { approval_threshold_fen: plan.thresholdFen } : {}),
      ...(onAccountNow ? { payment_method: "on_account", credit_held_fen: plan.total } : {}),
    };
    events.push({ order_id: plan.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "create", to_status: initial });
    const entries: AuditEntry[] = [{ action: "order.created", entityType: "order", entityId: plan.id, after: { kind: input.kind, total_fen: plan.total } }];
    if (plan.event) {
      events.push({
        order_id: plan.id,
        actor_user_id: actor.userId,
        actor_organization_id: actor.organizationId,
        event: plan.event,
        from_status: initial,
        to_status: plan.to,
        note: null,
        data: JSON.stringify(data),
      });
      entries.push({
        action: `order.${plan.event}`,
        entityType: "order",
        entityId: plan.id,
        organizationId: actor.organizationId,
        before: { status: initial },
        after: { status: plan.to, ...data },
      });
    }
    audits.push(...auditRows(actor, entries));
  }
  const lineRows = accepted.flatMap(([, plan]) => lineValues(plan.id, plan.lines));
  const orderRows = accepted.map(([i, plan]) => {
    const { actor, input, now } = placements[i];
    return {
      id: plan.id,
      number_prefix: orderNumberPrefix(input.kind, now),
      kind: input.kind,
      status: plan.to,
      core_enterprise_id: input.coreEnterpriseId,
      dealer_id: input.dealerId,
      dealer_link_id: plan.link.id,
      season_id: input.kind === "preorder" ? input.seasonId! : null,
      note: input.note,
      total_fen: plan.total,
      payment_method: input.paymentMethod === "on_account" ? "on_account" : null,
      created_by_user_id: actor.userId,
      submitted_at: plan.event ? now : null,
    };
  });
  return { events, audits, lineRows, orderRows };
}

/** The supplier hears of each order that reached it (not those waiting for the dealer's approver). */
function placementNoticeJobs(placements: readonly Placement[], accepted: readonly (readonly [number, PlannedOrder])[]): OutboxJob[] {
  return accepted.filter(([, plan]) => plan.to === "submitted").map(([i, plan]) => orderNoticeJob(plan.id, "order.submitted", plan.to, placements[i].actor));
}

const NUMBERED_ORDER_ARRAY_COLUMNS = [["number", "text"], ...ORDER_ARRAY_COLUMNS.filter(([column]) => column !== "number_prefix")] as const;

/**
 * Placements written by one statement, with no transaction around it (decision 016): the orders
 * with their lines, timeline and audit rows, the supplier notice jobs (decision 018), and the credit
 * holds, planned on the credit lines as read just before (or kept: then the statement also asserts
 * the versions they were kept at, decision 017). The statement fails whole (RT409) unless the
 * ledger's guarded UPDATE took every hold against the lines as they are when it runs (and the
 * versions held); then, or when a hold would be refused on the lines as read,
 * this returns null and nothing was written: the caller places the batch the locked way, which
 * decides each order on the locked lines. Deadlocks (two statements meeting on the same lines)
 * end the same way.
 */
async function placeInOneStatement(
  db: Db,
  placements: readonly Placement[],
  planned: ReadonlyMap<number, PlannedOrder>,
  creditLines: AccountSnapshot,
  numbers: readonly string[],
  relied: ReliedVersions | null,
): Promise<Map<number, OrderRow> | null> {
  const accepted = [...planned];
  const holdPlans = planCreditHoldsOn(creditLines, creditHoldRequests(placements, planned).requests);
  const holds = holdPlans.flatMap((plan) => (plan.ok ? [plan.hold] : []));
  // A refusal is decided on the locked lines, never on a read that may be stale.
  if (holds.length !== holdPlans.length || numbers.length < accepted.length) return null;
  let transfers: PreparedTransfers;
  try {
    transfers = prepareTransfers(holds, creditLines);
  } catch (error) {
    if (error instanceof DomainError) return null;
    throw error;
  }

  const { events, audits, lineRows, orderRows } = placementRows(placements, accepted);
  const numberOf = new Map(accepted.map(([, plan], k) => [plan.id, formatOrderNumber(orderRows[k].number_prefix, numbers[k])]));
  const notices = placementNoticeJobs(placements, accepted);
  const clauses = [
    sql`lines_written as (${insertFromArrays("order_lines", lineRows, LINE_ARRAY_COLUMNS)})`,
    sql`timeline as (${insertFromArrays("order_events", events, EVENT_ARRAY_COLUMNS)})`,
    sql`audit as (${insertFromArrays("audit_events", audits, AUDIT_ARRAY_COLUMNS)})`,
    sql`placed as (
      insert into orders (number, id, kind, status, core_enterprise_id, dealer_id, dealer_link_id, season_id, note, total_fen, payment_method,
                          created_by_user_id, submitted_at)
      ${selectFromArrays(
        orderRows.map((row) => ({ ...row, number: numberOf.get(row.id)! })),
        NUMBERED_ORDER_ARRAY_COLUMNS,
      )}
      returning ${sql.join(orderColumnsReturned.map((column) => (typeof column === "string" ? sql.ref(column) : column)))})`,
  ];
  const checks: RawBuilder<boolean>[] = [];
  if (notices.length) clauses.push(sql`notices_queued as (${enqueueClause(notices)})`);
  if (transfers.count) {
    clauses.push(transfers.clauses());
    checks.push(transfers.written());
  }
  if (relied) checks.push(versionsUnchanged(relied));
  const written = checks.length ? sql.join(checks, sql` and `) : sql`true`;
  // The order numbers the next batch will use, taken now rather than by a read of their own.
  const pool = orderNumberPool(db);
  const refill = Math.max(0, Math.min(accepted.length, PLACEMENT_GROUP_COMMIT.maxBatch - pool.length));
  try {
    const { rows } = await sql<OrderRow & { next_numbers: string[] | null }>`
      with ${sql.join(clauses)}
      select placed.*, (select array_agg(nextval('order_number_seq')::text) from generate_series(1, ${refill}::integer)) as next_numbers
        from placed
       where rongtong_assert(${written}, 'orders placed together: a credit line or what they were priced on changed before they were written')`.execute(db);
    pool.push(...(rows[0]?.next_numbers ?? []));
    const byId = new Map(rows.map(({ next_numbers: _, ...row }) => [row.id, row as OrderRow]));
    return new Map(accepted.map(([i, plan]) => [i, byId.get(plan.id)!]));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === STATEMENT_ASSERTION_FAILED || code === "40P01") return null;
    throw error;
  }
}

/** The planned orders put on account, and the hold each asks of its credit line, in the same order. */
function creditHoldRequests(placements: readonly Placement[], planned: ReadonlyMap<number, PlannedOrder>) {
  const onAccount = [...planned].filter(([i]) => placements[i].input.paymentMethod === "on_account");
  const requests = onAccount.map(([i, plan]) => ({
    linkId: plan.link.id,
    amountFen: plan.total,
    idempotencyKey: creditHoldKey(plan.id),
    reference: `order:${plan.id}`,
    createdByUserId: placements[i].actor.userId,
  }));
  return { onAccount, requests };
}

/** The key of the credit hold an order submitted on account carries. */
function creditHoldKey(orderId: string): string {
  return `order:${orderId}:credit_hold`;
}

function checkOpenSeason(seasons: ReadonlyMap<string, Selectable<SeasonsTable>>, coreEnterpriseId: string, seasonId: string | null) {
  if (!seasonId || !isUuid(seasonId)) throw new DomainError("validation", "Choose the season to book against", { season_id: "required" });
  const season = seasons.get(seasonId.toLowerCase());
  if (!season || season.core_enterprise_id !== coreEnterpriseId) throw new DomainError("not_found", "season not found", { season_id: "not found" });
  if (season.status !== "open") throw new DomainError("invalid_state", `Booking for ${season.name} is closed`, { season_id: "closed" });
  return season;
}

/** The dealer's cart for a supplier (a draft standard order), created on first use. */
export async function addToCart(
  db: Db,
  actor: Actor,
  input: { dealerId: string; coreEnterpriseId: string; skuId: string; quantity: number },
  now = new Date(),
): Promise<OrderRow> {
  if (actor.organizationId !== input.dealerId) throw new DomainError("forbidden", "Only the dealer fills its cart", { dealer_id: "not yours" });
  return inTransaction(db, async (trx) => {
    const link = await requireLink(trx, input.coreEnterpriseId, input.dealerId);
    let draft = await trx
      .selectFrom("orders")
      .select("id")
      .where("dealer_id", "=", input.dealerId)
      .where("core_enterprise_id", "=", input.coreEnterpriseId)
      .where("status", "=", "draft")
      .where("is_cart", "=", true)
      .forUpdate()
      .executeTakeFirst();
    if (!draft) {
      draft = await trx
        .insertInto("orders")
        .values({
          number: orderNumber("standard", now),
          kind: "standard",
          status: "draft",
          is_cart: true,
          core_enterprise_id: input.coreEnterpriseId,
          dealer_id: input.dealerId,
          dealer_link_id: link.id,
          created_by_user_id: actor.userId,
        })
        .onConflict((oc) => oc.doNothing())
        .returning("id")
        .executeTakeFirst();
      if (!draft) throw new DomainError("conflict", "The cart changed at the same time: try again", { sku_id: "retry" });
      await trx
        .insertInto("order_events")
        .values({ order_id: draft.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "create", to_status: "draft" })
        .execute();
    }
    const current = await trx.selectFrom("order_lines").select(["sku_id", "quantity_ordered"]).where("order_id", "=", draft.id).execute();
    const existing = current.find((l) => l.sku_id === input.skuId);
    const quantity = (existing?.quantity_ordered ?? 0) + input.quantity;
    await setCartLines(trx, link, draft.id, [
      ...current.filter((l) => l.sku_id !== input.skuId).map((l) => ({ skuId: l.sku_id, quantity: l.quantity_ordered })),
      { skuId: input.skuId, quantity },
    ], now);
    return (await lockOrder(trx, actor.organizationId, draft.id)).order;
  });
}

/** Replace a cart's quantities (0 removes a line); the cart is repriced. */
export async function updateCart(
  db: Db,
  actor: Actor,
  input: { dealerId: string; orderId: string; lines: { skuId: string; quantity: number }[] },
  now = new Date(),
): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, input.orderId);
    if (party !== "dealer" || order.status !== "draft") throw new DomainError("invalid_state", "Only a cart (draft) can be edited", { status: order.status });
    const link = await requireLink(trx, order.core_enterprise_id, order.dealer_id);
    await setCartLines(trx, link, order.id, input.lines.filter((l) => l.quantity !== 0), now);
    return (await lockOrder(trx, actor.organizationId, order.id)).order;
  });
}

async function setCartLines(trx: Db, link: DealerLink, orderId: string, lines: LineInput[], now: Date): Promise<Fen> {
  await trx.deleteFrom("order_lines").where("order_id", "=", orderId).execute();
  const priced = lines.length ? await priceLines(trx, link, lines, now) : [];
  const total = await writeLines(trx, orderId, priced);
  await trx.updateTable("orders").set({ total_fen: total, updated_at: sql`now()` }).where("id", "=", orderId).execute();
  return total;
}

async function submitLocked(trx: Db, actor: Actor, orderId: string, now: Date, paymentMethod: "on_account" | null): Promise<OrderRow> {
  const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
  if (paymentMethod === "on_account" && order.kind === "preorder") {
    throw new DomainError("validation", "A preorder's deposit is paid, not put on account", { payment_method: "not for preorders" });
  }
  // Prices are fixed at submission: reprice a cart's lines as of now.
  const link = await requireLink(trx, order.core_enterprise_id, order.dealer_id);
  const lines = await trx.selectFrom("order_lines").select(["sku_id", "quantity_ordered"]).where("order_id", "=", order.id).orderBy("line_no").execute();
  const total_fen = await setCartLines(trx, link, order.id, lines.map((l) => ({ skuId: l.sku_id, quantity: l.quantity_ordered })), now);
  const { approvalThresholdFen } = await getOrderSettings(trx, order.dealer_id);
  if (paymentMethod === "on_account") {
    // Held before the order moves: a refusal leaves the cart as it was.
    const { locked, plans } = await planCreditHolds(trx, [
      { linkId: link.id, amountFen: total_fen, idempotencyKey: creditHoldKey(order.id), reference: `order:${order.id}`, createdByUserId: actor.userId },
    ]);
    if (!plans[0].ok) throw plans[0].error;
    await applyBatch(trx, [plans[0].hold], { locked });
  }
  return submitPriced(trx, actor, { ...order, total_fen }, party, approvalThresholdFen, now, paymentMethod);
}

/** Submit a priced draft: to the supplier, or to the dealer's approver when above its threshold. */
async function submitPriced(
  trx: Db,
  actor: Actor,
  order: OrderRow,
  party: OrderParty,
  approvalThresholdFen: Fen | null,
  now: Date,
  paymentMethod: "on_account" | null,
): Promise<OrderRow> {
  const total_fen = order.total_fen;
  const needsApproval = approvalThresholdFen !== null && total_fen > approvalThresholdFen;
  const submitted = await fire(trx, actor, order, party, needsApproval ? "submit_for_approval" : "submit", {
    patch: { submitted_at: now, ...(paymentMethod ? { payment_method: paymentMethod } : {}) },
    data: {
      total_fen,
      ...(needsApproval ? { approval_threshold_fen: approvalThresholdFen } : {}),
      ...(paymentMethod === "on_account" ? { payment_method: "on_account", credit_held_fen: total_fen } : {}),
    },
  });
  if (submitted.status === "submitted") await notifyParty(trx, actor, submitted, "order.submitted");
  return submitted;
}

/**
 * Send the cart (or a draft) to the supplier, or to the dealer's approver when above its
 * threshold; `on_account` holds its total on the dealer's credit line (see CreateOrderInput).
 */
export async function submitOrder(db: Db, actor: Actor, orderId: string, now = new Date(), options: { paymentMethod?: "on_account" | null } = {}): Promise<OrderRow> {
  return inTransaction(db, (trx) => submitLocked(trx, actor, orderId, now, options.paymentMethod ?? null));
}

/** The open credit hold of an order submitted on account: none once charged or released. */
async function openCreditHold(trx: Db, orderId: string) {
  return trx
    .selectFrom("ledger_transfers as h")
    .select(["h.id", "h.amount_fen"])
    .where("h.idempotency_key", "=", creditHoldKey(orderId))
    .where("h.phase", "=", "pending")
    .where((eb) => eb.not(eb.exists(eb.selectFrom("ledger_transfers as r").select("r.id").whereRef("r.pending_id", "=", "h.id"))))
    .executeTakeFirst();
}

/** Give back the credit held for an order that will not be confirmed (rejected, declined, cancelled). */
async function releaseCreditHold(trx: Db, actor: Actor, order: OrderRow): Promise<Fen> {
  const hold = await openCreditHold(trx, order.id);
  if (!hold) return 0;
  await voidPending(trx, { idempotencyKey: `order:${order.id}:credit_release`, pendingId: hold.id, kind: "on_account_release", createdByUserId: actor.userId });
  return hold.amount_fen;
}

/**
 * Four eyes (order-states.ts APPROVAL_BY_ANOTHER_MEMBER): may this user approve this order, or did
 * they submit it for approval themselves? Pages ask it to hide the button; approveOrder enforces it.
 */
export async function isOwnApprovalRequest(db: Db, order: Pick<OrderRow, "id" | "status">, userId: string | null): Promise<boolean> {
  if (order.status !== "pending_approval" || userId === null) return false;
  const submitted = await db
    .selectFrom("order_events")
    .select("actor_user_id")
    .where("order_id", "=", order.id)
    .where("event", "=", APPROVAL_BY_ANOTHER_MEMBER.notBy)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return submitted?.actor_user_id === userId;
}

async function refuseOwnApproval(trx: Db, actor: Actor, order: OrderRow): Promise<void> {
  if (await isOwnApprovalRequest(trx, order, actor.userId)) {
    throw new DomainError("forbidden", "You submitted this order: another owner or admin of the dealer must approve it", { approver: "not_the_submitter" });
  }
}

/** The dealer's own approval: an owner or admin (not the submitter) lets an order above the threshold through. */
export async function approveOrder(db: Db, actor: Actor, roles: readonly Role[], orderId: string, decision: "approve" | "decline", reason?: string | null) {
  // Who may approve is the permission table's (beside the order machine); the model checks too.
  assertMay(roles, decision === "approve" ? "order.approve" : "order.decline_approval", "dealer");
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (decision === "approve") {
      await refuseOwnApproval(trx, actor, order);
      const approved = await fire(trx, actor, order, party, "approve");
      await notifyParty(trx, actor, approved, "order.submitted");
      return approved;
    }
    const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
    const declined = await fire(trx, actor, order, party, "decline_approval", { note: why, patch: { reason: why, closed_at: new Date() } });
    await releaseCreditHold(trx, actor, order);
    return declined;
  });
}

// ---------------------------------------------------------------------------------------------
// Supplier: confirm (with adjustments) or reject

export interface ConfirmAdjustment {
  lineId: string;
  /** 0 rejects the line; at most the quantity ordered. */
  quantity: number;
  reason?: string | null;
}

/**
 * The supplier confirms, optionally lowering quantities (with a reason per changed line).
 * Standard and replenishment orders reserve their stock here; refusing when a SKU is short,
 * naming it. Preorders reserve when their season is released.
 */
export async function confirmOrder(db: Db, actor: Actor, orderId: string, adjustments: readonly ConfirmAdjustment[] = []): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (!findTransition(order.kind, order.status as OrderStatus, "confirm")) {
      throw new DomainError("invalid_state", `An order that is ${order.status} cannot be confirmed`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).orderBy("line_no").execute();
    const fields: Record<string, string> = {};
    const confirmed = new Map<string, { quantity: number; reason: string | null }>();
    for (const line of lines) confirmed.set(line.id, { quantity: line.quantity_ordered, reason: null });
    adjustments.forEach((adj, i) => {
      const line = lines.find((l) => l.id === adj.lineId);
      if (!line) {
        fields[`lines.${i}.line_id`] = "not a line of this order";
        return;
      }
      if (!Number.isSafeInteger(adj.quantity) || adj.quantity < 0 || adj.quantity > line.quantity_ordered) {
        fields[`lines.${i}.quantity`] = `${line.sku_code}: between 0 and the ${line.quantity_ordered} ordered`;
        return;
      }
      const reason = (adj.reason ?? "").trim();
      if (adj.quantity !== line.quantity_ordered && !reason) {
        fields[`lines.${i}.reason`] = `${line.sku_code}: say why the quantity changes`;
        return;
      }
      if (reason.length > ORDER_LIMITS.maxReasonChars) {
        fields[`lines.${i}.reason`] = "too long";
        return;
      }
      confirmed.set(line.id, { quantity: adj.quantity, reason: reason || null });
    });
    if (Object.keys(fields).length) throw new DomainError("validation", "Some adjustments cannot be applied", fields);
    const total = lines.reduce((sum, l) => sum + confirmed.get(l.id)!.quantity * l.unit_price_fen, 0);
    if (total === 0) {
      throw new DomainError("validation", "Every line would be rejected: reject the order instead, with a reason", { lines: "all_rejected" });
    }
    // Every line's confirmed quantity in one UPDATE.
    const confirmedValues = sql.join(
      lines.map((line) => {
        const c = confirmed.get(line.id)!;
        return sql`(${line.id}::uuid, ${c.quantity}::integer, ${c.quantity * line.unit_price_fen}::bigint, ${c.reason}::text)`;
      }),
    );
    await sql`
      update order_lines l
         set quantity_confirmed = v.quantity, amount_fen = v.amount_fen, adjust_reason = v.reason
        from (values ${confirmedValues}) as v (id, quantity, amount_fen, reason)
       where l.id = v.id and l.order_id = ${order.id}`.execute(trx);
    if (order.kind !== "preorder") {
      // All the stock in one guarded UPDATE; a short SKU is refused naming its line.
      const reserving = lines.filter((line) => confirmed.get(line.id)!.quantity > 0);
      try {
        await reserveStocks(
          trx,
          reserving.map((line) => ({ skuId: line.sku_id, quantity: confirmed.get(line.id)!.quantity })),
        );
      } catch (error) {
        const line = error instanceof StockShortError ? reserving.find((l) => l.sku_id === error.skuId) : undefined;
        if (error instanceof StockShortError && line) {
          throw new DomainError("conflict", `${error.message}: lower the quantity of ${line.sku_code} or wait for stock`, {
            [`lines.${line.line_no - 1}.quantity`]: error.fields.quantity ?? "not enough stock",
          });
        }
        throw error;
      }
    }
    const season = order.season_id ? await trx.selectFrom("seasons").select("deposit_rate_bps").where("id", "=", order.season_id).executeTakeFirst() : undefined;
    const depositFen = season ? applyRateBps(total, season.deposit_rate_bps) : 0;
    const adjusted = lines.filter((l) => confirmed.get(l.id)!.quantity !== l.quantity_ordered).map((l) => l.sku_code);
    let next = await fire(trx, actor, order, party, "confirm", {
      patch: { total_fen: total, deposit_fen: depositFen, confirmed_at: new Date() },
      note: adjusted.length ? `adjusted: ${adjusted.join(", ")}` : null,
      data: { total_fen: total, ...(depositFen ? { deposit_fen: depositFen } : {}) },
    });
    const hold = order.payment_method === "on_account" ? await openCreditHold(trx, order.id) : undefined;
    if (hold) {
      // Submitted on account: the confirmed total is charged from the hold (what was cut is released).
      await postPending(trx, { idempotencyKey: `order:${order.id}:credit_charge`, pendingId: hold.id, amountFen: total, kind: "on_account_charge", createdByUserId: actor.userId });
      const terms = await trx.selectFrom("dealer_links").select("payment_terms_days").where("id", "=", order.dealer_link_id).executeTakeFirstOrThrow();
      const now = new Date();
      const dueOn = addDays(shanghaiDate(now), terms.payment_terms_days);
      next = await fire(trx, actor, next, "system", "pay_on_account", {
        patch: { payment_method: "on_account", due_on: dueOn, paid_at: now },
        data: { amount_fen: total, due_on: dueOn, credit_released_fen: hold.amount_fen - total },
      });
    }
    await notifyParty(trx, actor, next, "order.confirmed");
    return next;
  });
}

export async function rejectOrder(db: Db, actor: Actor, orderId: string, reason: string): Promise<OrderRow> {
  const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const rejected = await fire(trx, actor, order, party, "reject", { note: why, patch: { reason: why, closed_at: new Date() } });
    await releaseCreditHold(trx, actor, order);
    return rejected;
  });
}

// ---------------------------------------------------------------------------------------------
// Payment

/** What is due now, and for what: the whole order, a preorder's deposit, or its balance. */
export function amountDue(order: Pick<OrderRow, "kind" | "status" | "total_fen" | "deposit_fen" | "paid_fen">): { part: "payment" | "deposit" | "balance"; amountFen: Fen } | null {
  if (order.kind === "preorder") {
    if (order.status === "confirmed") return { part: "deposit", amountFen: order.deposit_fen };
    if (order.status === "balance_due") return { part: "balance", amountFen: order.total_fen - order.paid_fen };
    return null;
  }
  if (order.status === "confirmed" || order.status === "awaiting_payment") return { part: "payment", amountFen: order.total_fen };
  return null;
}

const PART_EVENT = { payment: "pay", deposit: "pay_deposit", balance: "pay" } as const;

/** The payment purpose of one part of an order: every e-Pay attempt at that part carries it. */
export function orderPaymentReference(orderId: string, part: "payment" | "deposit" | "balance"): string {
  return `order:${orderId}:${part}`;
}

/**
 * Move the dealer's money to the supplier for one part of an order and fire the matching event.
 * The transfer's key is the order and part, so the wallet path and the e-Pay path can never both
 * charge the dealer: whichever comes second is a replay of the same transfer.
 */
async function collect(trx: Db, actor: Actor, order: OrderRow, party: OrderParty, part: "payment" | "deposit" | "balance", amountFen: Fen, method: PaymentMethod) {
  const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.dealer_id });
  const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.core_enterprise_id });
  if (amountFen > 0) {
    try {
      await transfer(trx, {
        idempotencyKey: `order:${order.id}:${part}`,
        kind: `order_${part}`,
        reference: `order:${order.id}`,
        debitAccountId: dealerWallet.id,
        creditAccountId: coreWallet.id,
        amountFen,
        createdByUserId: actor.userId,
      });
    } catch (error) {
      if (error instanceof DomainError && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", `Your wallet cannot cover ${amountFen} fen: pay by e-Pay or on account instead`, {
          payment_method: "wallet balance too low",
        });
      }
      throw error;
    }
  }
  return fire(trx, actor, order, party, PART_EVENT[part], {
    patch: { paid_fen: order.paid_fen + amountFen, payment_method: method, ...(part !== "deposit" ? { paid_at: new Date() } : {}) },
    data: { part, amount_fen: amountFen, method },
  });
}

/** Pay what is due from the dealer's wallet at the bank. */
export async function payFromWallet(db: Db, actor: Actor, orderId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const due = amountDue(order);
    if (!due) throw new DomainError("invalid_state", `Nothing is due on an order that is ${order.status}`, { status: order.status });
    await refuseWhilePaymentInFlight(trx, order.dealer_id, orderPaymentReference(order.id, due.part));
    return collect(trx, actor, order, party, due.part, due.amountFen, "wallet");
  });
}

/** Charge what is due to the dealer's credit line; due after the payment terms. */
export async function payOnAccount(db: Db, actor: Actor, orderId: string, now = new Date()): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const due = amountDue(order);
    if (!due || due.part === "deposit") {
      throw new DomainError("invalid_state", due ? "A deposit is paid, not put on account" : `Nothing is due on an order that is ${order.status}`, {
        payment_method: "not available",
      });
    }
    await refuseWhilePaymentInFlight(trx, order.dealer_id, orderPaymentReference(order.id, due.part));
    const link = await requireLink(trx, order.core_enterprise_id, order.dealer_id);
    await chargeOnAccount(trx, creditParties(order), { reference: `order:${order.id}`, amountFen: due.amountFen, createdByUserId: actor.userId });
    const dueOn = addDays(shanghaiDate(now), link.paymentTermsDays);
    return fire(trx, actor, order, party, "pay_on_account", {
      patch: { payment_method: "on_account", due_on: dueOn, paid_at: now },
      data: { amount_fen: due.amountFen, due_on: dueOn },
    });
  });
}

/**
 * The dealer chose e-Pay: the route has created the gateway payment (over HTTP, outside any
 * transaction); this marks the order as waiting for it. Deposits and balances keep their status.
 */
export async function markAwaitingEpay(db: Db, actor: Actor, orderId: string, paymentId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (order.status === "awaiting_payment") return order;
    if (order.kind !== "preorder" && order.status === "confirmed") {
      return fire(trx, actor, order, party, "choose_epay", { patch: { payment_method: "epay" }, data: { payment_id: paymentId } });
    }
    await recordNote(trx, actor, order, "epay_started", `e-Pay payment ${paymentId}`, { payment_id: paymentId });
    return order;
  });
}

/**
 * A captured e-Pay payment for an order (the money is in the dealer's wallet): pay the part it was
 * for. Called in the capture's own transaction (decision 021). If the order can no longer take it
 * (cancelled meanwhile), the money stays in the dealer's wallet and the timeline says so.
 */
export async function applyCapturedOrderPayment(
  trx: Db,
  payment: { id: string; reference: string; amountFen: Fen; payerOrganizationId: string },
): Promise<PurposeResult> {
  const match = /^order:([0-9a-f-]{36}):(payment|deposit|balance)$/.exec(payment.reference);
  if (!match) throw new DomainError("validation", `payment ${payment.id} has an unknown order reference ${payment.reference}`);
  const [, orderId, part] = match as unknown as [string, string, "payment" | "deposit" | "balance"];
  const system: Actor = { userId: null, organizationId: null, ip: null, requestId: null };
  const { order } = await lockOrder(trx, null, orderId);
  if (order.dealer_id !== payment.payerOrganizationId) throw new DomainError("validation", `payment ${payment.id} was not paid by the order's dealer`);
  const due = amountDue(order);
  if (!due || due.part !== part || due.amountFen !== payment.amountFen) {
    await recordNote(trx, system, order, "payment_not_applied", `e-Pay payment ${payment.id} arrived when the order was ${order.status}; the money stays in the dealer's wallet`, {
      payment_id: payment.id,
      amount_fen: payment.amountFen,
    });
    return { outcome: "left_in_wallet", why: `order ${order.status}` };
  }
  await collect(trx, system, order, "system", due.part, due.amountFen, "epay");
  return { outcome: "applied" };
}

export async function requestFinancing(db: Db, actor: Actor, orderId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (!FINANCING_AVAILABLE) {
      throw new DomainError("invalid_state", "Financing is not available yet: pay from the wallet, by e-Pay or on account", {
        payment_method: "financing not available",
      });
    }
    return fire(trx, actor, order, party, "request_financing", { patch: { payment_method: "financing" } });
  });
}

/** What the dealer still owes on account for this order (charged less restored), from the ledger. */
export async function onAccountOutstanding(db: Db, orderId: string): Promise<Fen> {
  const row = await db
    .selectFrom("ledger_transfers")
    .select(
      sql<number>`coalesce(sum(case when kind = 'on_account_charge' then amount_fen else -amount_fen end), 0)::bigint`.as("outstanding"),
    )
    .where("reference", "=", `order:${orderId}`)
    .where("kind", "in", ["on_account_charge", "on_account_repayment", "on_account_cancel", "on_account_return"])
    .executeTakeFirstOrThrow();
  return Number(row.outstanding);
}

/** The dealer settles what it owes on account for an order, from its wallet. */
export async function repayOnAccount(db: Db, actor: Actor, orderId: string): Promise<{ repaidFen: Fen }> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (party !== "dealer") throw orderNotFound();
    const outstanding = await onAccountOutstanding(trx, order.id);
    if (outstanding <= 0) throw new DomainError("invalid_state", "Nothing is owed on account for this order", { amount_fen: "nothing owed" });
    const repayments = await trx
      .selectFrom("ledger_transfers")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("reference", "=", `order:${order.id}`)
      .where("kind", "=", "order_repayment")
      .executeTakeFirstOrThrow();
    const key = `order:${order.id}:repayment:${Number(repayments.n) + 1}`;
    const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.dealer_id });
    const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.core_enterprise_id });
    try {
      await transfer(trx, {
        idempotencyKey: key,
        kind: "order_repayment",
        reference: `order:${order.id}`,
        debitAccountId: dealerWallet.id,
        creditAccountId: coreWallet.id,
        amountFen: outstanding,
        createdByUserId: actor.userId,
      });
    } catch (error) {
      if (error instanceof DomainError && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", `Your wallet cannot cover the ${outstanding} fen owed`, { amount_fen: "wallet balance too low" });
      }
      throw error;
    }
    await restoreCredit(trx, creditParties(order), {
      idempotencyKey: `${key}:credit`,
      kind: "on_account_repayment",
      reference: `order:${order.id}`,
      amountFen: outstanding,
      createdByUserId: actor.userId,
    });
    await trx.updateTable("orders").set({ paid_fen: Math.min(order.total_fen, order.paid_fen + outstanding), updated_at: sql`now()` }).where("id", "=", order.id).execute();
    await recordNote(trx, actor, order, "repaid_on_account", `${outstanding} fen repaid`, { amount_fen: outstanding });
    await recordAudit(trx, actor, { action: "order.repaid_on_account", entityType: "order", entityId: order.id, after: { amount_fen: outstanding } });
    return { repaidFen: outstanding };
  });
}

// ---------------------------------------------------------------------------------------------
// Preorders: seasons and release

export async function createSeason(db: Db, actor: Actor, coreEnterpriseId: string, input: { name: string; depositRateBps: number }) {
  const name = requireText(input.name, "name", 100);
  if (!Number.isSafeInteger(input.depositRateBps) || input.depositRateBps < 0 || input.depositRateBps > 10_000) {
    throw new DomainError("validation", "The deposit is a percentage from 0 to 100", { deposit_rate_bps: "0 to 10000" });
  }
  return inTransaction(db, async (trx) => {
    const season = await trx
      .insertInto("seasons")
      .values({ core_enterprise_id: coreEnterpriseId, name, deposit_rate_bps: input.depositRateBps })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, { action: "season.created", entityType: "season", entityId: season.id, after: { name, deposit_rate_bps: input.depositRateBps } });
    return season;
  });
}

export async function listSeasons(db: Db, coreEnterpriseId: string) {
  return db.selectFrom("seasons").selectAll().where("core_enterprise_id", "=", coreEnterpriseId).orderBy("created_at", "desc").limit(50).execute();
}

/** Seasons a dealer page lists at most, and its own bookings shown per season at most. */
const DEALER_SEASONS_LIMIT = 100;
const DEALER_SEASON_BOOKINGS_SHOWN = 20;

export interface DealerSeason {
  id: string;
  name: string;
  status: "open" | "closed" | "released";
  depositRateBps: number;
  coreEnterpriseId: string;
  supplierName: string;
  createdAt: Date;
  /** When the goods were released: from then on each booking's balance is due. */
  releasedAt: Date | null;
  /** The dealer's own bookings in this season (not drafts), newest first. */
  bookings: { id: string; number: string; status: string; totalFen: Fen; paidFen: Fen }[];
}

/**
 * The seasons a dealer can see, from every supplier it is actively linked to: those open for
 * booking, and released or closed ones it booked in (its balances). Another supplier's season —
 * one the dealer is not linked to — is never listed.
 */
export async function listSeasonsForDealer(db: Db, dealerId: string): Promise<DealerSeason[]> {
  if (!isUuid(dealerId)) return [];
  const rows = await db
    .selectFrom("seasons as s")
    .innerJoin("dealer_links as l", (join) => join.onRef("l.core_enterprise_id", "=", "s.core_enterprise_id").on("l.dealer_id", "=", dealerId).on("l.status", "=", "active"))
    .innerJoin("organizations as c", "c.id", "s.core_enterprise_id")
    .select(["s.id", "s.name", "s.status", "s.deposit_rate_bps", "s.core_enterprise_id", "c.name as supplier_name", "s.created_at", "s.released_at"])
    .where((eb) =>
      eb.or([
        eb("s.status", "=", "open"),
        eb.exists(eb.selectFrom("orders as o").select("o.id").whereRef("o.season_id", "=", "s.id").where("o.dealer_id", "=", dealerId).where("o.status", "!=", "draft")),
      ]),
    )
    .orderBy(sql`s.status = 'open'`, "desc")
    .orderBy("s.created_at", "desc")
    .limit(DEALER_SEASONS_LIMIT)
    .execute();
  if (rows.length === 0) return [];
  const bookings = await db
    .selectFrom("orders")
    .select(["id", "number", "status", "total_fen", "paid_fen", "season_id", "created_at"])
    .where("dealer_id", "=", dealerId)
    .where("season_id", "in", rows.map((r) => r.id))
    .where("status", "!=", "draft")
    .orderBy("created_at", "desc")
    .limit(DEALER_SEASONS_LIMIT * DEALER_SEASON_BOOKINGS_SHOWN)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    status: r.status,
    depositRateBps: r.deposit_rate_bps,
    coreEnterpriseId: r.core_enterprise_id,
    supplierName: r.supplier_name,
    createdAt: r.created_at,
    releasedAt: r.released_at,
    bookings: bookings
      .filter((b) => b.season_id === r.id)
      .slice(0, DEALER_SEASON_BOOKINGS_SHOWN)
      .map((b) => ({ id: b.id, number: b.number, status: b.status, totalFen: b.total_fen, paidFen: b.paid_fen })),
  }));
}

/**
 * The goods of a season are ready: every deposit-paid booking reserves its stock and its balance
 * falls due. A booking whose stock is short stays deposit-paid and is listed, so the supplier can
 * restock and release again.
 */
export async function releaseSeason(db: Db, actor: Actor, coreEnterpriseId: string, seasonId: string): Promise<{ released: string[]; short: { number: string; message: string }[] }> {
  if (!isUuid(seasonId)) throw new DomainError("not_found", "season not found");
  const season = await db.selectFrom("seasons").selectAll().where("id", "=", seasonId).where("core_enterprise_id", "=", coreEnterpriseId).executeTakeFirst();
  if (!season) throw new DomainError("not_found", "season not found");
  const bookings = await db.selectFrom("orders").select(["id", "number"]).where("season_id", "=", seasonId).where("status", "=", "deposit_paid").orderBy("created_at").execute();
  const released: string[] = [];
  const short: { number: string; message: string }[] = [];
  for (const booking of bookings) {
    try {
      await inTransaction(db, async (trx) => {
        const { order, party } = await lockOrder(trx, actor.organizationId, booking.id);
        const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).execute();
        for (const line of lines) {
          if ((line.quantity_confirmed ?? 0) > 0) await reserveStock(trx, { skuId: line.sku_id, quantity: line.quantity_confirmed! });
        }
        const due = await fire(trx, actor, order, party, "release");
        await notifyParty(trx, actor, due, "order.balance_due");
      });
      released.push(booking.number);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      short.push({ number: booking.number, message: error.message });
    }
  }
  await inTransaction(db, async (trx) => {
    await trx.updateTable("seasons").set({ status: "released", released_at: new Date() }).where("id", "=", seasonId).execute();
    await recordAudit(trx, actor, { action: "season.released", entityType: "season", entityId: seasonId, after: { released: released.length, short: short.length } });
  });
  return { released, short };
}

// ---------------------------------------------------------------------------------------------
// Shipping and receipt

export interface ShipmentInput {
  carrier: string;
  trackingNumber: string;
  lines: { lineId: string; quantity: number }[];
}

export async function shipOrder(db: Db, actor: Actor, orderId: string, input: ShipmentInput): Promise<OrderRow> {
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
    for (const move of moves) {
      const line = lines.find((l) => l.id === move.lineId)!;
      await shipStock(trx, { skuId: line.sku_id, quantity: move.quantity });
      await trx.updateTable("order_lines").set({ quantity_shipped: line.quantity_shipped + move.quantity }).where("id", "=", line.id).execute();
      await trx.insertInto("shipment_lines").values({ shipment_id: shipment.id, order_line_id: line.id, quantity: move.quantity }).execute();
    }
    const next = await fire(trx, actor, order, party, event, {
      note: `${carrier} ${trackingNumber}`,
      patch: { shipped_at: new Date() },
      data: { shipment_id: shipment.id, carrier, tracking_number: trackingNumber, units: shipping },
    });
    await notifyParty(trx, actor, next, "order.shipped", shipment.id);
    return next;
  });
}

/** The dealer confirms receipt (or the schedule does it); a received order completes. */
export async function receiveOrder(db: Db, actor: Actor, orderId: string, now = new Date()): Promise<OrderRow> {
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

// ---------------------------------------------------------------------------------------------
// Cancellation

/**
 * Cancel before anything ships: reserved stock goes back, money paid goes back to the dealer's
 * wallet (from the supplier's), credit charged is restored. One transaction.
 */
export async function cancelOrder(db: Db, actor: Actor, orderId: string, reason: string): Promise<OrderRow> {
  const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    // Cancelling a return is withdrawing it, whichever door (page or API) it comes through.
    if (order.kind === "return") return withdrawReturnLocked(trx, actor, order, party, why);
    if (!findTransition(order.kind, order.status as OrderStatus, "cancel")) {
      throw new DomainError("invalid_state", `An order that is ${order.status} can no longer be cancelled`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).execute();
    const reserved =
      (order.kind !== "preorder" && ["confirmed", "awaiting_payment", "awaiting_financing", "paid"].includes(order.status)) ||
      (order.kind === "preorder" && ["balance_due", "paid"].includes(order.status));
    if (reserved) {
      for (const line of lines) {
        if ((line.quantity_confirmed ?? 0) > 0) await releaseStock(trx, { skuId: line.sku_id, quantity: line.quantity_confirmed! });
      }
    }
    if (order.paid_fen > 0) {
      const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.dealer_id });
      const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.core_enterprise_id });
      try {
        await transfer(trx, {
          idempotencyKey: `order:${order.id}:cancel_refund`,
          kind: "order_refund",
          reference: `order:${order.id}`,
          debitAccountId: coreWallet.id,
          creditAccountId: dealerWallet.id,
          amountFen: order.paid_fen,
          createdByUserId: actor.userId,
        });
      } catch (error) {
        if (error instanceof DomainError && error.code === "insufficient_funds") {
          throw new DomainError("insufficient_funds", "The supplier's wallet cannot cover the refund of this order yet", { status: "refund not covered" });
        }
        throw error;
      }
    }
    const released = await releaseCreditHold(trx, actor, order);
    const outstanding = await onAccountOutstanding(trx, order.id);
    if (outstanding > 0) {
      await restoreCredit(trx, creditParties(order), {
        idempotencyKey: `order:${order.id}:cancel_credit`,
        kind: "on_account_cancel",
        reference: `order:${order.id}`,
        amountFen: outstanding,
        createdByUserId: actor.userId,
      });
    }
    return fire(trx, actor, order, party, "cancel", {
      note: why,
      patch: { reason: why, closed_at: new Date(), paid_fen: 0 },
      data: { refunded_fen: order.paid_fen, credit_restored_fen: outstanding, ...(released ? { credit_released_fen: released } : {}) },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Returns (RMA)

export async function requestReturn(
  db: Db,
  actor: Actor,
  input: { originalOrderId: string; lines: { lineId: string; quantity: number }[]; reason: string },
  now = new Date(),
): Promise<OrderRow> {
  const why = requireText(input.reason, "reason", ORDER_LIMITS.maxReasonChars);
  return inTransaction(db, async (trx) => {
    const { order: original, party } = await lockOrder(trx, actor.organizationId, input.originalOrderId);
    if (party !== "dealer") throw new DomainError("forbidden", "Only the dealer asks for a return", { original_order_id: "not yours" });
    if (!["received", "completed"].includes(original.status) || original.kind === "return") {
      throw new DomainError("invalid_state", "Goods can be returned once an order is received", { original_order_id: original.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", original.id).execute();
    const fields: Record<string, string> = {};
    const picked = input.lines.filter((l) => l.quantity !== 0);
    if (picked.length === 0) throw new DomainError("validation", "Choose at least one line to return", { lines: "empty" });
    picked.forEach((pick, i) => {
      const line = lines.find((l) => l.id === pick.lineId);
      if (!line) fields[`lines.${i}.line_id`] = "not a line of this order";
      else {
        const open = line.quantity_shipped - line.quantity_returned;
        if (!Number.isSafeInteger(pick.quantity) || pick.quantity < 0 || pick.quantity > open) {
          fields[`lines.${i}.quantity`] = `${line.sku_code}: between 0 and the ${open} that can still be returned`;
        }
      }
    });
    if (Object.keys(fields).length) throw new DomainError("validation", "Some return lines are wrong", fields);
    const rma = await trx
      .insertInto("orders")
      .values({
        number: orderNumber("return", now),
        kind: "return",
        status: "requested",
        core_enterprise_id: original.core_enterprise_id,
        dealer_id: original.dealer_id,
        dealer_link_id: original.dealer_link_id,
        original_order_id: original.id,
        reason: why,
        created_by_user_id: actor.userId,
        submitted_at: now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    let total = 0;
    let lineNo = 0;
    for (const pick of picked) {
      const line = lines.find((l) => l.id === pick.lineId)!;
      lineNo += 1;
      const amount = line.unit_price_fen * pick.quantity;
      total += amount;
      // Count the units as returned now, so two requests cannot claim the same goods.
      await trx.updateTable("order_lines").set({ quantity_returned: line.quantity_returned + pick.quantity }).where("id", "=", line.id).execute();
      await trx
        .insertInto("order_lines")
        .values({
          order_id: rma.id,
          line_no: lineNo,
          sku_id: line.sku_id,
          sku_code: line.sku_code,
          sku_name: line.sku_name,
          spec: line.spec,
          unit: line.unit,
          quantity_ordered: pick.quantity,
          quantity_confirmed: pick.quantity,
          unit_price_fen: line.unit_price_fen,
          price_rule: line.price_rule,
          tax_rate_bps: line.tax_rate_bps,
          amount_fen: amount,
          original_line_id: line.id,
        })
        .execute();
    }
    await trx.updateTable("orders").set({ total_fen: total }).where("id", "=", rma.id).execute();
    await trx
      .insertInto("order_events")
      .values({ order_id: rma.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "request_return", to_status: "requested", note: why })
      .execute();
    await recordNote(trx, actor, original, "return_requested", why, { return_order_id: rma.id, total_fen: total });
    await recordAudit(trx, actor, { action: "order.return_requested", entityType: "order", entityId: rma.id, after: { original_order_id: original.id, total_fen: total } });
    await notifyParty(trx, actor, { id: rma.id, status: "requested" }, "order.return_requested");
    return (await lockOrder(trx, actor.organizationId, rma.id)).order;
  });
}

async function giveBackReturnedUnits(trx: Db, rmaId: string) {
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
async function withdrawReturnLocked(trx: Db, actor: Actor, order: OrderRow, party: OrderParty, why: string, event: "cancel" | "reject_return" = "cancel"): Promise<OrderRow> {
  // The request's own reason stays on it; why it closed is in the timeline.
  const next = await fire(trx, actor, order, party, event, { note: why, patch: { closed_at: new Date() } });
  await giveBackReturnedUnits(trx, order.id);
  return next;
}

export async function decideReturn(db: Db, actor: Actor, rmaId: string, decision: "approve" | "reject" | "cancel", reason?: string | null): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, rmaId);
    if (order.kind !== "return") throw orderNotFound();
    if (decision === "approve") {
      const approved = await fire(trx, actor, order, party, "approve_return");
      await notifyParty(trx, actor, approved, "order.return_approved");
      return approved;
    }
    const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
    return withdrawReturnLocked(trx, actor, order, party, why, decision === "reject" ? "reject_return" : "cancel");
  });
}

/** The supplier has the goods back: they return to stock. */
export async function receiveReturnedGoods(db: Db, actor: Actor, rmaId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, rmaId);
    if (order.kind !== "return") throw orderNotFound();
    if (!findTransition(order.kind, order.status as OrderStatus, "goods_back")) {
      throw new DomainError("invalid_state", `A return that is ${order.status} cannot take goods back`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").select(["sku_id", "quantity_ordered"]).where("order_id", "=", order.id).execute();
    for (const line of lines) await returnStock(trx, { skuId: line.sku_id, quantity: line.quantity_ordered });
    return fire(trx, actor, order, party, "goods_back");
  });
}

/**
 * Money back for returned goods: what is still owed on account for the original order is
 * written off first (credit restored), the rest is refunded from the supplier's wallet.
 */
export async function refundReturn(db: Db, actor: Actor, rmaId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order: rma, party } = await lockOrder(trx, actor.organizationId, rmaId);
    if (rma.kind !== "return" || !rma.original_order_id) throw orderNotFound();
    if (!findTransition(rma.kind, rma.status as OrderStatus, "refund")) {
      throw new DomainError("invalid_state", `A return that is ${rma.status} cannot be refunded`, { status: rma.status });
    }
    const outstanding = await onAccountOutstanding(trx, rma.original_order_id);
    const creditFen = Math.min(outstanding, rma.total_fen);
    const cashFen = rma.total_fen - creditFen;
    if (creditFen > 0) {
      await restoreCredit(trx, creditParties(rma), {
        idempotencyKey: `order:${rma.id}:return_credit`,
        kind: "on_account_return",
        reference: `order:${rma.original_order_id}`,
        amountFen: creditFen,
        createdByUserId: actor.userId,
      });
    }
    if (cashFen > 0) {
      const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: rma.dealer_id });
      const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: rma.core_enterprise_id });
      try {
        await transfer(trx, {
          idempotencyKey: `order:${rma.id}:return_refund`,
          kind: "return_refund",
          reference: `order:${rma.id}`,
          debitAccountId: coreWallet.id,
          creditAccountId: dealerWallet.id,
          amountFen: cashFen,
          createdByUserId: actor.userId,
        });
      } catch (error) {
        if (error instanceof DomainError && error.code === "insufficient_funds") {
          throw new DomainError("insufficient_funds", "Your wallet cannot cover this refund yet", { status: "refund not covered" });
        }
        throw error;
      }
    }
    const refunded = await fire(trx, actor, rma, party, "refund", {
      patch: { paid_fen: rma.total_fen },
      data: { credit_restored_fen: creditFen, refunded_fen: cashFen },
    });
    await notifyParty(trx, actor, refunded, "order.return_refunded");
    return fire(trx, actor, refunded, "system", "complete", { patch: { closed_at: new Date() } });
  });
}

export { availableEvents };

// ---------------------------------------------------------------------------------------------
// Money position (read-only): what a core enterprise's dealers owe on account and what of it is
// overdue, and where its order pipeline stands in money. The ledger is the truth for what is
// owed; the orders say what each amount is for and when it falls due.

export const POSITION_LIMITS = {
  /** Overdue orders listed at most (oldest due first); the totals always cover all of them. */
  overdueOrders: 50,
  /** "Paid" counts orders placed in this many calendar days up to and including today. */
  paidWindowDays: 90,
} as const;

/** The same kinds `onAccountOutstanding` sums: the charge, and the three ways credit comes back. */
const ON_ACCOUNT_TRANSFER_KINDS = ["on_account_charge", "on_account_repayment", "on_account_cancel", "on_account_return"] as const;
/** Waiting for the dealer's money: the payment, a preorder's deposit, or its balance. */
const AWAITING_PAYMENT_STATUSES: readonly OrderStatus[] = ["confirmed", "awaiting_payment", "balance_due"];
/** Closed without a sale: nothing paid on them counts. */
const CLOSED_UNSOLD_STATUSES: readonly OrderStatus[] = ["draft", "rejected", "cancelled"];
const FINANCING_STATUS: OrderStatus = "awaiting_financing";

/** A sum or count read back from PostgreSQL (bigint and numeric arrive as strings). */
function wholeFen(value: string | number | bigint | null, what: string): Fen {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} must be a whole, non-negative number of fen; got ${String(value)}`);
  return n;
}

function requireBusinessDate(today: string): string {
  if (!isBusinessDate(today)) throw new DomainError("validation", "today must be a date written YYYY-MM-DD", { today: "invalid_date" });
  return today;
}

function statusList(statuses: readonly OrderStatus[]) {
  return sql.join(statuses.map((s) => sql`${s}`));
}

/**
 * On-account orders (not cancelled) of a core enterprise, optionally of one dealer, with what is
 * still owed on each (charged less restored, from `ledger_transfers` referenced `order:<id>`).
 * Only orders still owing something: fully repaid, returned or written off ones drop out.
 */
function owingOrders(db: Db, scope: { coreEnterpriseId: string; dealerId?: string | null }) {
  const owed = sql<string>`sum(case when lt.kind = 'on_account_charge' then lt.amount_fen else -lt.amount_fen end)`;
  let query = db
    .selectFrom("orders as o")
    .innerJoin("ledger_transfers as lt", (join) => join.on(sql<boolean>`lt.reference = 'order:' || o.id::text`))
    .select(["o.id", "o.number", "o.due_on", owed.as("outstanding_fen")])
    .where("o.core_enterprise_id", "=", scope.coreEnterpriseId)
    .where("o.payment_method", "=", "on_account")
    .where("o.status", "!=", "cancelled")
    .where("lt.kind", "in", ON_ACCOUNT_TRANSFER_KINDS);
  if (scope.dealerId) query = query.where("o.dealer_id", "=", scope.dealerId);
  return query.groupBy(["o.id", "o.number", "o.due_on"]).having(sql<boolean>`${owed} > 0`);
}

interface OnAccountTotals {
  outstandingCount: number;
  outstandingFen: Fen;
  overdueCount: number;
  overdueFen: Fen;
}

/** One aggregate query: what is owed on account, and what of it was due before `today`. */
async function onAccountTotals(db: Db, scope: { coreEnterpriseId: string; dealerId?: string | null }, today: string): Promise<OnAccountTotals> {
  const overdue = sql<boolean>`b.due_on < ${today}::date`;
  const row = await db
    .selectFrom(owingOrders(db, scope).as("b"))
    .select([
      sql<string>`count(*)`.as("outstanding_count"),
      sql<string>`coalesce(sum(b.outstanding_fen), 0)`.as("outstanding_fen"),
      sql<string>`count(*) filter (where ${overdue})`.as("overdue_count"),
      sql<string>`coalesce(sum(b.outstanding_fen) filter (where ${overdue}), 0)`.as("overdue_fen"),
    ])
    .executeTakeFirstOrThrow();
  const totals = {
    outstandingCount: wholeFen(row.outstanding_count, "outstanding_count"),
    outstandingFen: wholeFen(row.outstanding_fen, "outstanding_fen"),
    overdueCount: wholeFen(row.overdue_count, "overdue_count"),
    overdueFen: wholeFen(row.overdue_fen, "overdue_fen"),
  };
  // Overdue is a part of what is owed, never more.
  if (totals.overdueFen > totals.outstandingFen || totals.overdueCount > totals.outstandingCount) {
    throw new Error(`on-account totals out of order: ${JSON.stringify(totals)}`);
  }
  return totals;
}

export interface OverdueOrder {
  id: string;
  number: string;
  /** YYYY-MM-DD, the business day (Asia/Shanghai) the payment terms ended. */
  dueOn: string;
  outstandingFen: Fen;
  daysOverdue: number;
}

export interface OnAccountPosition {
  /** Owed on account now, over every on-account order of the scope. */
  outstandingFen: Fen;
  /** How many orders that is. */
  outstandingCount: number;
  /** The part of it due before today. */
  overdueFen: Fen;
  overdueCount: number;
  /** Overdue orders, oldest due first, at most POSITION_LIMITS.overdueOrders (overdueCount says how many in all). */
  overdueOrders: OverdueOrder[];
}

/**
 * What a core enterprise's dealers (or one dealer) owe it on account, and what is overdue: an
 * order is overdue once its `due_on` is before `today` (YYYY-MM-DD in Asia/Shanghai) and it still
 * owes something. Two queries, whatever the number of orders.
 */
export async function onAccountPosition(
  db: Db,
  input: { coreEnterpriseId: string; dealerId?: string | null; today: string },
): Promise<OnAccountPosition> {
  const today = requireBusinessDate(input.today);
  if (!isUuid(input.coreEnterpriseId) || (input.dealerId != null && !isUuid(input.dealerId))) {
    return { outstandingFen: 0, outstandingCount: 0, overdueFen: 0, overdueCount: 0, overdueOrders: [] };
  }
  const scope = { coreEnterpriseId: input.coreEnterpriseId, dealerId: input.dealerId ?? null };
  const totals = await onAccountTotals(db, scope, today);
  const rows =
    totals.overdueCount === 0
      ? []
      : await db
          .selectFrom(owingOrders(db, scope).as("b"))
          .select([
            "b.id",
            "b.number",
            sql<string>`to_char(b.due_on, 'YYYY-MM-DD')`.as("due_on"),
            "b.outstanding_fen",
            sql<number>`(${today}::date - b.due_on)`.as("days_overdue"),
          ])
          .where(sql<boolean>`b.due_on < ${today}::date`)
          .orderBy("b.due_on")
          .orderBy("b.number")
          .limit(POSITION_LIMITS.overdueOrders)
          .execute();
  return {
    ...totals,
    overdueOrders: rows.map((r) => ({
      id: r.id,
      number: r.number,
      dueOn: r.due_on,
      outstandingFen: wholeFen(r.outstanding_fen, "outstanding_fen"),
      daysOverdue: Number(r.days_overdue),
    })),
  };
}

export interface MoneyFigure {
  count: number;
  amountFen: Fen;
}

export interface OrderMoneySummary {
  /** Confirmed, waiting for e-Pay, or a preorder's balance due: the unpaid part of their totals. */
  awaitingPayment: MoneyFigure;
  /**
   * Paid by wallet or e-Pay (`paid_fen`) on orders placed from `sinceOn` (the last
   * POSITION_LIMITS.paidWindowDays days, today included) that are open or completed: not
   * rejected or cancelled. Returns are not netted off.
   */
  paid: MoneyFigure & { sinceOn: string; windowDays: number };
  /** Owed on account (from the ledger): the orders still owing something. */
  onCredit: MoneyFigure;
  /** The part of it past its due date. */
  overdue: MoneyFigure;
  /** Waiting for a financing disbursement: their totals. */
  financingRequested: MoneyFigure;
}

/**
 * The core enterprise's order pipeline in money, for the figures above its order list. Two
 * queries: one over the orders' own columns, one over the ledger for what is owed on account.
 */
export async function orderMoneySummary(db: Db, coreEnterpriseId: string, today: string): Promise<OrderMoneySummary> {
  requireBusinessDate(today);
  const windowDays = POSITION_LIMITS.paidWindowDays;
  const sinceOn = addDays(today, -(windowDays - 1));
  // Business days are Asia/Shanghai, which keeps UTC+8 all year.
  const since = new Date(`${sinceOn}T00:00:00+08:00`).toISOString();
  const none: MoneyFigure = { count: 0, amountFen: 0 };
  if (!isUuid(coreEnterpriseId)) {
    return { awaitingPayment: none, paid: { ...none, sinceOn, windowDays }, onCredit: none, overdue: none, financingRequested: none };
  }
  const awaiting = sql<boolean>`o.status in (${statusList(AWAITING_PAYMENT_STATUSES)})`;
  const paid = sql<boolean>`o.payment_method in ('wallet', 'epay') and o.paid_fen > 0 and o.created_at >= ${since}::timestamptz and o.status not in (${statusList(CLOSED_UNSOLD_STATUSES)})`;
  const financing = sql<boolean>`o.status = ${FINANCING_STATUS}`;
  const row = await db
    .selectFrom("orders as o")
    .select([
      sql<string>`count(*) filter (where ${awaiting})`.as("awaiting_count"),
      sql<string>`coalesce(sum(o.total_fen - o.paid_fen) filter (where ${awaiting}), 0)`.as("awaiting_fen"),
      sql<string>`count(*) filter (where ${paid})`.as("paid_count"),
      sql<string>`coalesce(sum(o.paid_fen) filter (where ${paid}), 0)`.as("paid_fen"),
      sql<string>`count(*) filter (where ${financing})`.as("financing_count"),
      sql<string>`coalesce(sum(o.total_fen) filter (where ${financing}), 0)`.as("financing_fen"),
    ])
    .where("o.core_enterprise_id", "=", coreEnterpriseId)
    .where("o.kind", "!=", "return")
    .where((eb) => eb.or([eb("o.status", "in", [...AWAITING_PAYMENT_STATUSES, FINANCING_STATUS]), eb("o.created_at", ">=", new Date(since))]))
    .executeTakeFirstOrThrow();
  const credit = await onAccountTotals(db, { coreEnterpriseId }, today);
  return {
    awaitingPayment: { count: wholeFen(row.awaiting_count, "awaiting_count"), amountFen: wholeFen(row.awaiting_fen, "awaiting_fen") },
    paid: { count: wholeFen(row.paid_count, "paid_count"), amountFen: wholeFen(row.paid_fen, "paid_fen"), sinceOn, windowDays },
    onCredit: { count: credit.outstandingCount, amountFen: credit.outstandingFen },
    overdue: { count: credit.overdueCount, amountFen: credit.overdueFen },
    financingRequested: { count: wholeFen(row.financing_count, "financing_count"), amountFen: wholeFen(row.financing_fen, "financing_fen") },
  };
}
