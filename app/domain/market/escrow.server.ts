import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import type { DisputeParty, DisputeRuling, MarketOrderStatus } from "../../../db/schema";
import { auditRows, recordAudits, type Actor, type AuditEntry } from "../shared/audit.server";
import { formatFen } from "../../i18n";
import { DomainError } from "../shared/errors";
import { decodeCursor, encodeCursor } from "../shared/cursor.server";
import { applyBatch, ensureAccount, lockAccountsByCodes, transfer, type AccountView, type BatchOperation, type Fen } from "../ledger/ledger.server";
import { commissionFen, feeInForce } from "./fees.server";
import {
  FINAL_STATUSES,
  HELD_STATUSES,
  marketOrderEventsFor,
  marketOrderTransition,
  type MarketOrderActor,
  type MarketOrderEvent,
} from "./order-states";
import { requestNotification, requestNotifications } from "../notifications/notifications.server";
import { enqueue, type Trx } from "../outbox/outbox.server";
import type { PurposeResult } from "../payments/purposes.server";
import { refuseWhilePaymentInFlight, startPaymentAttempt, type Payment, type PaymentsDeps } from "../payments/payments.server";
import { divideHalfEven } from "../shared/money";
import { isUuid } from "../shared/ids";
import { shanghaiDate } from "../shared/dates";

/**
 * Escrow trading in a market (decision 013): a buyer's checkout is split into one order per
 * merchant; one payment pays them all; each order's money is a ledger hold (a pending transfer
 * from the buyer's wallet to the merchant's wallet) until it is settled (the hold posted, then the
 * commission fixed at placement moved from the merchant's wallet to the market's fee account) or
 * refunded (the hold voided, or posted in part).
 *
 * Invariants:
 *  E1 an order in paid/shipped/received/disputed has exactly one unresolved hold of its goods total;
 *     a settled or refunded order's hold is resolved and refunded + net + fee = goods total
 *     (also a CHECK on market_orders);
 *  E2 stock is taken at placement under the listings' row locks (in id order) and given back once,
 *     by the transition that ends the order without the goods being kept (expire, cancel, refund);
 *  E3 every transition goes through MARKET_ORDER_TRANSITIONS under the order's row lock and writes
 *     the timeline and an audit row in the same transaction; firing it again is refused with
 *     `invalid_state` (or, for the system's timers and the payment, is a no-op).
 */

export const MARKET_ORDER_QUEUE = "market";
export const SETTLE_MARKET_ORDERS_JOB = "market.settle";
export const EXPIRE_CHECKOUTS_JOB = "market.expire_checkouts";
export const AUTO_CONFIRM_JOB = "market.auto_confirm";

export const ESCROW_LIMITS = {
  linesPerCheckout: 50,
  quantityMax: 1_000_000,
  idempotencyKeyChars: 200,
  trackingChars: 50,
  reasonChars: 500,
  statementChars: 2000,
  evidenceBytes: 2 * 1024 * 1024,
  pageSize: 50,
  pageSizeMax: 100,
  /** Orders one settlement transaction takes: the postings of a batch are a handful of statements. */
  settleBatch: 500,
  sweepBatch: 200,
} as const;

// ---------------------------------------------------------------------------------------------
// Types

export type MarketPartyKind = "buyer" | "merchant" | "market_operator";

/** Who is looking: the acting organisation and the side it takes in the market. */
export interface MarketViewer {
  organizationId: string;
  kind: MarketPartyKind;
}

export interface Checkout {
  id: string;
  marketId: string;
  buyerId: string;
  totalFen: Fen;
  status: "placed" | "paid" | "expired" | "cancelled";
  paymentId: string | null;
  expiresAt: Date;
  createdAt: Date;
}

export interface MarketOrderSummary {
  id: string;
  orderNo: string;
  marketId: string;
  marketName: string;
  checkoutId: string;
  buyerId: string;
  buyerName: string;
  merchantId: string;
  merchantName: string;
  status: MarketOrderStatus;
  goodsTotalFen: Fen;
  feeFen: Fen;
  refundedFen: Fen;
  settledNetFen: Fen;
  settledFeeFen: Fen;
  placedAt: Date;
  paidAt: Date | null;
  shippedAt: Date | null;
  autoConfirmAt: Date | null;
  receivedAt: Date | null;
  settledAt: Date | null;
}

export interface MarketOrderLine {
  lineNo: number;
  listingId: string;
  title: string;
  category: string;
  spec: string;
  unit: string;
  unitPriceFen: Fen;
  quantity: number;
  amountFen: Fen;
  commissionRateBps: number;
  minFeeFen: Fen;
}

export interface MarketOrderEventView {
  id: number;
  event: string;
  fromStatus: MarketOrderStatus | null;
  toStatus: MarketOrderStatus;
  actorOrganizationId: string | null;
  note: string;
  at: Date;
}

export interface DisputeStatementView {
  id: string;
  party: DisputeParty;
  organizationId: string;
  body: string;
  evidence: { filename: string; contentType: string } | null;
  createdAt: Date;
}

export interface DisputeView {
  id: string;
  orderId: string;
  orderNo: string;
  marketId: string;
  status: "open" | "ruled";
  openedFromStatus: "paid" | "shipped" | "received";
  ruling: DisputeRuling | null;
  refundFen: Fen;
  rulingReason: string;
  ruledAt: Date | null;
  openedAt: Date;
  statements: DisputeStatementView[];
}

export interface MarketOrderDetail extends MarketOrderSummary {
  carrier: string;
  trackingNo: string;
  closedAt: Date | null;
  /** The side the viewer takes on this order. */
  role: Exclude<MarketOrderActor, "system">;
  /** Events the viewer may fire now. */
  actions: MarketOrderEvent[];
  lines: MarketOrderLine[];
  events: MarketOrderEventView[];
  dispute: DisputeView | null;
  checkout: Checkout;
  /** True while the goods total is held in escrow (E1). */
  held: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// ---------------------------------------------------------------------------------------------
// Input

const uuid = z.string().refine(isUuid, "must be an id (UUID)");
const reasonText = (max: number) => z.string().trim().min(1, "is required").max(max, `must be at most ${max} characters`);

export const checkoutInputSchema = z.object({
  buyerId: uuid,
  marketId: uuid,
  lines: z
    .array(
      z.object({
        listingId: uuid,
        quantity: z
          .number({ invalid_type_error: "must be a whole number" })
          .int("must be a whole number")
          .min(1, "must be at least 1")
          .max(ESCROW_LIMITS.quantityMax, `must be at most ${ESCROW_LIMITS.quantityMax}`),
      }),
    )
    .min(1, "add at least one listing")
    .max(ESCROW_LIMITS.linesPerCheckout, `at most ${ESCROW_LIMITS.linesPerCheckout} lines`),
  idempotencyKey: reasonText(ESCROW_LIMITS.idempotencyKeyChars),
});
export type CheckoutInput = z.input<typeof checkoutInputSchema>;

export const shipInputSchema = z.object({
  carrier: reasonText(ESCROW_LIMITS.trackingChars),
  trackingNo: z
    .string()
    .trim()
    .min(1, "is required")
    .max(ESCROW_LIMITS.trackingChars, `must be at most ${ESCROW_LIMITS.trackingChars} characters`)
    .regex(/^[A-Za-z0-9-]+$/, "letters, digits and '-' only"),
});
export type ShipInput = z.input<typeof shipInputSchema>;

export const reasonInputSchema = z.object({ reason: reasonText(ESCROW_LIMITS.reasonChars) });

export interface EvidenceInput {
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

export const statementInputSchema = z.object({ body: reasonText(ESCROW_LIMITS.statementChars) });

export const rulingInputSchema = z
  .object({
    ruling: z.enum(["release", "refund_full", "refund_partial"], { errorMap: () => ({ message: "must be release, refund_full or refund_partial" }) }),
    refundFen: z.number({ invalid_type_error: "must be a whole number of fen" }).int("must be a whole number of fen").min(0).optional(),
    reason: reasonText(ESCROW_LIMITS.reasonChars),
  })
  .strict();
export type RulingInput = z.input<typeof rulingInputSchema>;

function parse<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const fields: Record<string, string> = {};
  for (const issue of parsed.error.issues) {
    const field = issue.path.length > 0 ? issue.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("") : "input";
    fields[field] ??= issue.message;
  }
  throw new DomainError(
    "validation",
    Object.entries(fields)
      .map(([f, m]) => `${f}: ${m}`)
      .join("; "),
    fields,
  );
}

/** Content types evidence may have, recognised by their first bytes (the name can lie). */
function sniffEvidence(bytes: Uint8Array): "image/png" | "image/jpeg" | "application/pdf" | null {
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts([0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return "application/pdf";
  return null;
}

function checkEvidence(evidence: EvidenceInput | null | undefined): { filename: string; contentType: string; bytes: Buffer } | null {
  if (!evidence || evidence.bytes.byteLength === 0) return null;
  if (evidence.bytes.byteLength > ESCROW_LIMITS.evidenceBytes) {
    throw new DomainError("validation", "evidence: at most 2 MiB", { evidence: "larger than 2 MiB" });
  }
  const contentType = sniffEvidence(evidence.bytes);
  if (!contentType) throw new DomainError("validation", "evidence: a PNG or JPEG photo or a PDF", { evidence: "not a PNG, JPEG or PDF" });
  // Control characters and path separators out: the name is shown and sent back in a header.
  const filename =
    [...evidence.filename]
      .filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f && c !== "/" && c !== "\\")
      .join("")
      .trim()
      .slice(0, 200) || "evidence";
  return { filename, contentType, bytes: Buffer.from(evidence.bytes) };
}

// ---------------------------------------------------------------------------------------------
// Helpers

const ORDER_COLUMNS = [
  "o.id",
  "o.order_no",
  "o.market_id",
  "o.operator_id",
  "o.checkout_id",
  "o.buyer_id",
  "o.merchant_id",
  "o.status",
  "o.goods_total_fen",
  "o.fee_fen",
  "o.refunded_fen",
  "o.settled_net_fen",
  "o.settled_fee_fen",
  "o.hold_transfer_id",
  "o.carrier",
  "o.tracking_no",
  "o.placed_at",
  "o.paid_at",
  "o.shipped_at",
  "o.auto_confirm_at",
  "o.received_at",
  "o.settled_at",
  "o.closed_at",
] as const;

type OrderRow = {
  id: string;
  order_no: string;
  market_id: string;
  operator_id: string;
  checkout_id: string;
  buyer_id: string;
  merchant_id: string;
  status: MarketOrderStatus;
  goods_total_fen: number;
  fee_fen: number;
  refunded_fen: number;
  settled_net_fen: number;
  settled_fee_fen: number;
  hold_transfer_id: string | null;
  carrier: string;
  tracking_no: string;
  placed_at: Date;
  paid_at: Date | null;
  shipped_at: Date | null;
  auto_confirm_at: Date | null;
  received_at: Date | null;
  settled_at: Date | null;
  closed_at: Date | null;
};

async function lockOrder(trx: Trx, orderId: string): Promise<OrderRow> {
  if (!isUuid(orderId)) throw new DomainError("not_found", "market order not found");
  const row = await trx.selectFrom("market_orders as o").select(ORDER_COLUMNS).where("o.id", "=", orderId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "market order not found");
  return row;
}

function roleOf(order: Pick<OrderRow, "buyer_id" | "merchant_id" | "operator_id">, organizationId: string | null): Exclude<MarketOrderActor, "system"> | null {
  if (!organizationId) return null;
  if (order.buyer_id === organizationId) return "buyer";
  if (order.merchant_id === organizationId) return "merchant";
  if (order.operator_id === organizationId) return "operator";
  return null;
}

/** The order as its `party` may act on it: anyone else gets the same not_found as a missing id. */
async function lockOrderFor(trx: Trx, orderId: string, organizationId: string, party: Exclude<MarketOrderActor, "system">): Promise<OrderRow> {
  const order = await lockOrder(trx, orderId);
  if (roleOf(order, organizationId) !== party) throw new DomainError("not_found", "market order not found");
  return order;
}

function refuse(order: OrderRow, event: MarketOrderEvent): never {
  throw new DomainError("invalid_state", `order ${order.order_no} is ${order.status}: it cannot ${event.replace(/_/g, " ")} now`, { status: order.status });
}

function transitionOrRefuse(order: OrderRow, event: MarketOrderEvent, actor: MarketOrderActor) {
  const t = marketOrderTransition(order.status, event);
  if (!t || !t.by.includes(actor)) refuse(order, event);
  return t;
}

interface TimelineEntry {
  orderId: string;
  event: MarketOrderEvent | "place";
  from: MarketOrderStatus | null;
  to: MarketOrderStatus;
  note?: string;
}

async function writeTimeline(trx: Trx, actor: Actor, entries: readonly TimelineEntry[], at: Date): Promise<void> {
  if (entries.length === 0) return;
  // The timeline and the audit rows in one statement, one array per column.
  const audits = auditRows(
    actor,
    entries.map(
      (e): AuditEntry => ({
        action: `market_order.${e.event}`,
        entityType: "market_order",
        entityId: e.orderId,
        before: e.from ? { status: e.from } : undefined,
        after: { status: e.to, ...(e.note ? { note: e.note } : {}) },
      }),
    ),
  );
  await sql`
    with events as (
      insert into market_order_events (order_id, event, from_status, to_status, actor_organization_id, actor_user_id, note, at)
      select o, e, f, t, ${actor.organizationId}::uuid, ${actor.userId}::uuid, n, ${at}::timestamptz
        from unnest(${entries.map((e) => e.orderId)}::uuid[], ${entries.map((e) => e.event)}::text[], ${entries.map((e) => e.from)}::text[],
                    ${entries.map((e) => e.to)}::text[], ${entries.map((e) => (e.note ?? "").slice(0, 500))}::text[]) as v (o, e, f, t, n)
    )
    insert into audit_events (actor_user_id, organization_id, action, entity_type, entity_id, before, after, ip, request_id)
    select ${actor.userId}::uuid, g, a, 'market_order', i, b::jsonb, f::jsonb, ${actor.ip ?? null}::text, ${actor.requestId ?? null}::text
      from unnest(${audits.map((r) => r.organization_id ?? null)}::uuid[], ${audits.map((r) => r.action)}::text[], ${audits.map((r) => r.entity_id ?? null)}::text[],
                  ${audits.map((r) => r.before ?? null)}::text[], ${audits.map((r) => r.after ?? null)}::text[]) as v (g, a, i, b, f)`.execute(trx);
}

/** Give the units of these orders back to their listings (E2): one UPDATE. */
async function restock(trx: Trx, orderIds: readonly string[]): Promise<void> {
  if (orderIds.length === 0) return;
  await sql`
    update market_listings l
       set stock_qty = l.stock_qty + q.quantity, updated_at = now()
      from (select listing_id, sum(quantity)::int as quantity
              from market_order_lines where order_id in (${sql.join(orderIds.map((id) => sql`${id}::uuid`))})
             group by listing_id) q
     where l.id = q.listing_id`.execute(trx);
}

async function organizationName(db: Db, organizationId: string): Promise<string> {
  const row = await db.selectFrom("organizations").select("name").where("id", "=", organizationId).executeTakeFirst();
  return (row?.name ?? "").slice(0, 200) || "—";
}

async function organizationNames(db: Db, organizationIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(organizationIds)];
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom("organizations").select(["id", "name"]).where("id", "in", ids).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/**
 * Tell the buyer what the merchant (or escrow) did with its order, in the transition's
 * transaction. One notice per order and topic (the dedupe key): a retried step asks once.
 */
async function notifyBuyer(
  trx: Trx,
  actor: Actor,
  order: Pick<OrderRow, "id" | "order_no" | "buyer_id" | "merchant_id">,
  topic: "market_order.shipped" | "market_order.refunded",
): Promise<void> {
  await requestNotification(trx, actor, {
    organizationId: order.buyer_id,
    topic,
    params: { orderId: order.id, number: order.order_no, counterparty: await organizationName(trx, order.merchant_id) },
    dedupeKey: `${topic}:${order.id}`,
  });
}

function walletSpec(organizationId: string) {
  return { kind: "wallet" as const, organizationId };
}

async function feeAccountId(trx: Db, marketId: string, operatorId: string): Promise<string> {
  const account = await ensureAccount(trx, { kind: "market_fees", organizationId: operatorId, code: `market_fees:${marketId}` });
  return account.id;
}

function settleJob(orderId: string) {
  return { queue: MARKET_ORDER_QUEUE, name: SETTLE_MARKET_ORDERS_JOB, jobId: `market:${orderId}:settle`, payload: { orderId } };
}

/** The commission on the part of an order released to the merchant: pro rata of the fee fixed at placement, half-even. */
export function feeOnReleaseFen(order: { goods_total_fen: number; fee_fen: number }, releasedFen: Fen): Fen {
  if (releasedFen === order.goods_total_fen) return order.fee_fen;
  return Math.min(Number(divideHalfEven(BigInt(order.fee_fen) * BigInt(releasedFen), BigInt(order.goods_total_fen))), releasedFen);
}

// ---------------------------------------------------------------------------------------------
// Placement

export interface PlaceCheckoutResult {
  checkout: Checkout;
  orders: { id: string; orderNo: string; merchantId: string; goodsTotalFen: Fen; feeFen: Fen }[];
  /** True when the idempotency key named an existing checkout: nothing was placed this time. */
  replayed: boolean;
}

function checkoutView(row: {
  id: string;
  market_id: string;
  buyer_id: string;
  total_fen: number;
  status: Checkout["status"];
  payment_id: string | null;
  expires_at: Date;
  created_at: Date;
}): Checkout {
  return {
    id: row.id,
    marketId: row.market_id,
    buyerId: row.buyer_id,
    totalFen: row.total_fen,
    status: row.status,
    paymentId: row.payment_id,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

async function existingCheckout(db: Db, buyerId: string, idempotencyKey: string, marketId: string, lines: { listingId: string; quantity: number }[]): Promise<PlaceCheckoutResult | null> {
  const row = await db.selectFrom("market_checkouts").selectAll().where("buyer_id", "=", buyerId).where("idempotency_key", "=", idempotencyKey).executeTakeFirst();
  if (!row) return null;
  const placed = await db
    .selectFrom("market_order_lines as l")
    .innerJoin("market_orders as o", "o.id", "l.order_id")
    .select(["l.listing_id", "l.quantity"])
    .where("o.checkout_id", "=", row.id)
    .execute();
  const asked = new Map<string, number>();
  for (const l of lines) asked.set(l.listingId, (asked.get(l.listingId) ?? 0) + l.quantity);
  const same = row.market_id === marketId && placed.length === asked.size && placed.every((p) => asked.get(p.listing_id) === p.quantity);
  if (!same) {
    throw new DomainError("idempotency_conflict", `idempotency key ${idempotencyKey} was used for another checkout`, { idempotencyKey: "already used with other lines" });
  }
  const orders = await db
    .selectFrom("market_orders")
    .select(["id", "order_no", "merchant_id", "goods_total_fen", "fee_fen"])
    .where("checkout_id", "=", row.id)
    .orderBy(sql`length(order_no)`)
    .orderBy("order_no")
    .execute();
  return {
    checkout: checkoutView(row),
    orders: orders.map((o) => ({ id: o.id, orderNo: o.order_no, merchantId: o.merchant_id, goodsTotalFen: o.goods_total_fen, feeFen: o.fee_fen })),
    replayed: true,
  };
}

/**
 * Place a buyer's checkout in one market: one order per merchant, stock reserved (E2), the
 * commission fixed from the schedules in force now. The same idempotency key returns the same
 * checkout (and refuses other lines); nothing is written when any line is refused.
 */
/**
 * A market order's number: MO, the Shanghai business date, then the sequence zero-padded to at
 * least six digits and never cut — the dealer orders' rule (orders.server.ts `orderNumber`). A
 * fixed six-digit pad would cut the millionth order to six digits and collide with an earlier one.
 * Past 999,999 the number grows a digit, so "in sequence" is (length, text) order: sort by both.
 */
function marketOrderNumber(datePart: string) {
  return sql<string>`(select ${"MO" + datePart}::text || lpad(s.n::text, greatest(6, length(s.n::text)), '0')
    from nextval('market_order_no_seq') as s (n))`;
}

export async function placeCheckout(db: Db, actor: Actor, raw: CheckoutInput, now: Date = new Date()): Promise<PlaceCheckoutResult> {
  const input = parse(checkoutInputSchema, raw);
  if (actor.organizationId !== null && actor.organizationId !== input.buyerId) {
    throw new DomainError("forbidden", "only the buyer may place its checkout", { buyerId: "not yours" });
  }
  // One line per listing: the same listing twice is one line of the summed quantity.
  const quantities = new Map<string, number>();
  const firstIndex = new Map<string, number>();
  input.lines.forEach((l, i) => {
    quantities.set(l.listingId, (quantities.get(l.listingId) ?? 0) + l.quantity);
    if (!firstIndex.has(l.listingId)) firstIndex.set(l.listingId, i);
  });
  const lineField = (listingId: string, field: string) => `lines[${firstIndex.get(listingId)}].${field}`;

  const seen = await existingCheckout(db, input.buyerId, input.idempotencyKey, input.marketId, input.lines);
  if (seen) return seen;

  return inTransaction(db, async (trx) => {
    const buyer = await trx.selectFrom("organizations").select(["id", "kind", "status"]).where("id", "=", input.buyerId).executeTakeFirst();
    if (!buyer || buyer.kind !== "buyer") throw new DomainError("not_found", "buyer not found", { buyerId: "not a buyer" });
    if (buyer.status !== "active") throw new DomainError("invalid_state", "the buyer organisation is suspended", { buyerId: "suspended" });
    const market = await trx.selectFrom("markets").select(["id", "operator_id", "status", "unpaid_expiry_minutes"]).where("id", "=", input.marketId).executeTakeFirst();
    if (!market) throw new DomainError("not_found", "market not found", { marketId: "not found" });
    if (market.status !== "active") throw new DomainError("invalid_state", "the market is closed", { marketId: "closed" });

    // The stock lock, in id order so two checkouts sharing listings queue instead of deadlocking.
    const ids = [...quantities.keys()].sort();
    const listings = await trx
      .selectFrom("market_listings as l")
      .innerJoin("market_merchants as mm", (j) => j.onRef("mm.market_id", "=", "l.market_id").onRef("mm.merchant_id", "=", "l.merchant_id"))
      .select([
        "l.id",
        "l.market_id",
        "l.merchant_id",
        "l.title",
        "l.category",
        "l.spec",
        "l.unit",
        "l.price_fen",
        "l.stock_qty",
        "l.min_order_qty",
        "l.status",
        "l.moderation_status",
        "mm.status as merchant_status",
      ])
      .where("l.id", "in", ids)
      .orderBy("l.id")
      .forUpdate("l")
      .execute();
    const byId = new Map(listings.map((l) => [l.id, l]));

    // The key is claimed before anything is changed: a concurrent twin waits on it, then replays.
    const expiresAt = new Date(now.getTime() + market.unpaid_expiry_minutes * 60_000);
    const fields: Record<string, string> = {};
    let totalFen = 0;
    for (const id of ids) {
      const l = byId.get(id);
      const qty = quantities.get(id)!;
      if (!l || l.market_id !== market.id) fields[lineField(id, "listingId")] = "no such listing in this market";
      else if (l.status !== "active" || l.moderation_status !== "visible" || l.merchant_status !== "active") fields[lineField(id, "listingId")] = "not on sale";
      else if (qty < l.min_order_qty) fields[lineField(id, "quantity")] = `below the minimum order of ${l.min_order_qty}`;
      else if (qty > l.stock_qty) fields[lineField(id, "quantity")] = `only ${l.stock_qty} in stock`;
      else totalFen += l.price_fen * qty;
    }
    if (Object.keys(fields).length > 0) {
      const outOfStock = Object.values(fields).every((m) => m.startsWith("only "));
      throw new DomainError(
        outOfStock ? "invalid_state" : "validation",
        Object.entries(fields)
          .map(([f, m]) => `${f}: ${m}`)
          .join("; "),
        fields,
      );
    }
    if (!Number.isSafeInteger(totalFen) || totalFen > 100_000_000_000_000) {
      throw new DomainError("validation", "the checkout total is too large", { lines: "total too large" });
    }

    const inserted = await trx
      .insertInto("market_checkouts")
      .values({
        market_id: market.id,
        operator_id: market.operator_id,
        buyer_id: input.buyerId,
        total_fen: totalFen,
        idempotency_key: input.idempotencyKey,
        expires_at: expiresAt,
        created_by: actor.userId,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["buyer_id", "idempotency_key"]).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) {
      const replay = await existingCheckout(trx, input.buyerId, input.idempotencyKey, input.marketId, input.lines);
      if (!replay) throw new Error("escrow invariant: checkout key conflicted but names no checkout");
      return replay;
    }

    await sql`
      update market_listings l set stock_qty = l.stock_qty - v.qty, updated_at = now()
        from (values ${sql.join(ids.map((id) => sql`(${id}::uuid, ${quantities.get(id)!}::int)`))}) as v (id, qty)
       where l.id = v.id`.execute(trx);

    // Fees: the schedule in force today for each category, kept on the lines (E: fee at placement).
    const categories = [...new Set(listings.map((l) => l.category))];
    const schedules = new Map<string, Awaited<ReturnType<typeof feeInForce>>>();
    for (const category of categories) schedules.set(category, await feeInForce(trx, market.id, category, now));

    const byMerchant = new Map<string, typeof listings>();
    for (const id of ids) {
      const l = byId.get(id)!;
      byMerchant.set(l.merchant_id, [...(byMerchant.get(l.merchant_id) ?? []), l]);
    }
    const datePart = shanghaiDate(now).replace(/-/g, "");
    const orders: PlaceCheckoutResult["orders"] = [];
    const timeline: TimelineEntry[] = [];
    for (const [merchantId, lines] of [...byMerchant].sort(([a], [b]) => a.localeCompare(b))) {
      const goodsTotalFen = lines.reduce((sum, l) => sum + l.price_fen * quantities.get(l.id)!, 0);
      // Commission per category (each with its minimum), summed for the order.
      const perCategory = new Map<string, number>();
      for (const l of lines) perCategory.set(l.category, (perCategory.get(l.category) ?? 0) + l.price_fen * quantities.get(l.id)!);
      let feeFen = 0;
      for (const [category, amount] of perCategory) {
        const schedule = schedules.get(category);
        if (schedule) feeFen += commissionFen(amount, schedule);
      }
      feeFen = Math.min(feeFen, goodsTotalFen);
      const order = await trx
        .insertInto("market_orders")
        .values({
          order_no: marketOrderNumber(datePart),
          market_id: market.id,
          operator_id: market.operator_id,
          checkout_id: inserted.id,
          buyer_id: input.buyerId,
          merchant_id: merchantId,
          goods_total_fen: goodsTotalFen,
          fee_fen: feeFen,
          hold_transfer_id: null,
          placed_at: now,
          updated_at: now,
        })
        .returning(["id", "order_no"])
        .executeTakeFirstOrThrow();
      await trx
        .insertInto("market_order_lines")
        .values(
          lines.map((l, i) => {
            const schedule = schedules.get(l.category);
            return {
              order_id: order.id,
              listing_id: l.id,
              line_no: i + 1,
              title: l.title,
              category: l.category,
              spec: l.spec,
              unit: l.unit,
              unit_price_fen: l.price_fen,
              quantity: quantities.get(l.id)!,
              amount_fen: l.price_fen * quantities.get(l.id)!,
              fee_schedule_id: schedule?.id ?? null,
              commission_rate_bps: schedule?.commissionRateBps ?? 0,
              min_fee_fen: schedule?.minFeeFen ?? 0,
            };
          }),
        )
        .execute();
      orders.push({ id: order.id, orderNo: order.order_no, merchantId, goodsTotalFen, feeFen });
      timeline.push({ orderId: order.id, event: "place", from: null, to: "placed" });
    }
    await writeTimeline(trx, actor, timeline, now);
    // The timer that gives the stock back if nobody pays: one sweep per expiry, run by the schedule too.
    await enqueue(trx, {
      queue: MARKET_ORDER_QUEUE,
      name: EXPIRE_CHECKOUTS_JOB,
      jobId: `market:${inserted.id}:expire`,
      payload: {},
      availableAt: new Date(expiresAt.getTime() + 1000),
    });
    return { checkout: checkoutView(inserted), orders, replayed: false };
  });
}

// ---------------------------------------------------------------------------------------------
// Payment

async function lockCheckout(trx: Trx, checkoutId: string) {
  if (!isUuid(checkoutId)) throw new DomainError("not_found", "checkout not found");
  const row = await trx.selectFrom("market_checkouts").selectAll().where("id", "=", checkoutId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "checkout not found");
  return row;
}

/**
 * Hold each order's goods total from the buyer's wallet towards its merchant (E1). The caller
 * holds the checkout's lock and has seen it `placed`; the wallet must already have the money.
 */
async function holdCheckout(trx: Trx, actor: Actor, checkout: { id: string; buyer_id: string }, now: Date, note: string): Promise<void> {
  const orders = await trx
    .selectFrom("market_orders as o")
    .select(ORDER_COLUMNS)
    .where("o.checkout_id", "=", checkout.id)
    .orderBy("o.id")
    .forUpdate()
    .execute();
  const buyerWallet = await ensureAccount(trx, walletSpec(checkout.buyer_id));
  // Made (if new) in one order for every payer: two first payments to the same new wallets would
  // otherwise each insert one and wait on the other's insert.
  const merchantWallets = new Map<string, AccountView>();
  for (const merchantId of [...new Set(orders.map((o) => o.merchant_id))].sort()) {
    merchantWallets.set(merchantId, await ensureAccount(trx, walletSpec(merchantId)));
  }
  // Every wallet this checkout moves money between, locked at once in id order before the first
  // hold: one transfer per order would lock {buyer, merchant} pairs in order-id order, and two
  // buyers paying checkouts with the same two merchants would then take them crosswise (deadlock).
  await lockAccountsByCodes(trx, [buyerWallet.code, ...[...merchantWallets.values()].map((w) => w.code)]);
  const timeline: TimelineEntry[] = [];
  for (const order of orders) {
    if (order.status !== "placed") continue;
    transitionOrRefuse(order, "pay", "system");
    const merchantWallet = merchantWallets.get(order.merchant_id) as AccountView;
    const { transfer: hold } = await transfer(trx, {
      idempotencyKey: `market_order:${order.id}:hold`,
      kind: "escrow_hold",
      reference: `market_order:${order.id}`,
      debitAccountId: buyerWallet.id,
      creditAccountId: merchantWallet.id,
      amountFen: order.goods_total_fen,
      pending: true,
      createdByUserId: actor.userId,
    });
    await trx
      .updateTable("market_orders")
      .set({ status: "paid", hold_transfer_id: hold.id, paid_at: now, updated_at: now })
      .where("id", "=", order.id)
      .execute();
    timeline.push({ orderId: order.id, event: "pay", from: "placed", to: "paid", note });
    await requestNotification(trx, actor, {
      organizationId: order.merchant_id,
      topic: "market_order.paid",
      params: { orderId: order.id, number: order.order_no, counterparty: await organizationName(trx, order.buyer_id) },
      dedupeKey: `market_order.paid:${order.id}`,
    });
  }
  await trx.updateTable("market_checkouts").set({ status: "paid", updated_at: now }).where("id", "=", checkout.id).execute();
  await writeTimeline(trx, actor, timeline, now);
}

/** Start (or resume) the e-Pay payment of a placed checkout; the same checkout gives the same payment. */
export async function startCheckoutPayment(
  db: Db,
  actor: Actor,
  buyerId: string,
  checkoutId: string,
  deps?: PaymentsDeps,
  now: Date = new Date(),
): Promise<{ payUrl: string; paymentId: string }> {
  if (!isUuid(checkoutId)) throw new DomainError("not_found", "checkout not found");
  const checkout = await db
    .selectFrom("market_checkouts as c")
    .innerJoin("markets as m", "m.id", "c.market_id")
    .select(["c.id", "c.buyer_id", "c.operator_id", "c.total_fen", "c.status", "c.expires_at", "m.name as market_name"])
    .where("c.id", "=", checkoutId)
    .executeTakeFirst();
  if (!checkout || checkout.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
  if (checkout.status !== "placed") throw new DomainError("invalid_state", `the checkout is ${checkout.status}`, { status: checkout.status });
  if (checkout.expires_at.getTime() <= now.getTime()) throw new DomainError("invalid_state", "the checkout has expired", { status: "expired" });
  const orderNos = await db.selectFrom("market_orders").select("order_no").where("checkout_id", "=", checkout.id).orderBy(sql`length(order_no)`).orderBy("order_no").execute();
  // One attempt at a time; after a failed one, a new attempt under its own key (never the failed one's page).
  const result = await startPaymentAttempt(
    db,
    actor,
    {
      payerOrganizationId: buyerId,
      // The operator runs the market's escrow: the payment is made out to it; the ledger holds it.
      payeeOrganizationId: checkout.operator_id,
      purpose: "market_order",
      reference: `market_checkout:${checkout.id}`,
      amountFen: checkout.total_fen,
      description: `${checkout.market_name} ${orderNos.map((o) => o.order_no).join(" ")}`.slice(0, 100),
      returnPath: `/market/checkouts/${checkout.id}`,
    },
    deps,
  );
  // The checkout names its latest attempt: the one its expiry and cancellation look at.
  await db
    .updateTable("market_checkouts")
    .set({ payment_id: result.payment.id, updated_at: now })
    .where("id", "=", checkout.id)
    .where("status", "=", "placed")
    .execute();
  return { payUrl: result.payUrl, paymentId: result.payment.id };
}

/**
 * The `market_order` purpose handler: a captured payment of a checkout holds its orders. Runs in
 * the capture's own transaction (decision 021), once per payment; a checkout already paid, expired
 * or cancelled first leaves the money in the buyer's wallet (recorded here and by the caller).
 */
export async function applyCapturedMarketPayment(trx: Trx, payment: Payment, now: Date = new Date()): Promise<PurposeResult> {
  const match = /^market_checkout:([0-9a-f-]{36})$/.exec(payment.reference);
  if (!match) throw new DomainError("validation", `payment ${payment.id} names no checkout (${payment.reference})`);
  const checkout = await lockCheckout(trx, match[1]);
  const actor: Actor = { userId: null, organizationId: null };
  if (checkout.buyer_id !== payment.payerOrganizationId || checkout.total_fen !== payment.amountFen) {
    throw new DomainError("validation", `payment ${payment.id} does not match checkout ${checkout.id} (payer or amount)`);
  }
  if (checkout.status === "placed") {
    await holdCheckout(trx, actor, checkout, now, `e-Pay ${payment.id}`);
    return { outcome: "applied" };
  }
  // Paid another way meanwhile, or closed (expired, cancelled): this money belongs to no order now.
  // (The wallet path refuses while this payment is pending, so `paid` here is not expected.)
  await recordAudits(trx, actor, [
    {
      action: "market_checkout.late_payment",
      entityType: "market_checkout",
      entityId: checkout.id,
      organizationId: checkout.buyer_id,
      after: { payment_id: payment.id, amount_fen: payment.amountFen, left_in: "buyer wallet", checkout_status: checkout.status },
    },
  ]);
  return { outcome: "left_in_wallet", why: `checkout ${checkout.status}` };
}

/** Pay a placed checkout from the buyer's wallet balance (money already with the bank). */
export async function payCheckoutFromWallet(db: Db, actor: Actor, buyerId: string, checkoutId: string, now: Date = new Date()): Promise<Checkout> {
  return inTransaction(db, async (trx) => {
    const checkout = await lockCheckout(trx, checkoutId);
    if (checkout.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
    // A paid checkout is not paid again: 409, as every action in the wrong state (an API retry with
    // the same Idempotency-Key gets its first answer replayed before it reaches here).
    if (checkout.status !== "placed") throw new DomainError("invalid_state", `the checkout is ${checkout.status}`, { status: checkout.status });
    if (checkout.expires_at.getTime() <= now.getTime()) throw new DomainError("invalid_state", "the checkout has expired", { status: "expired" });
    await refuseWhilePaymentInFlight(trx, buyerId, `market_checkout:${checkout.id}`);
    try {
      await holdCheckout(trx, actor, checkout, now, "wallet");
    } catch (error) {
      if (error instanceof DomainError && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", "the wallet's available balance does not cover the checkout", { wallet: "not enough available" });
      }
      throw error;
    }
    return checkoutView({ ...checkout, status: "paid" });
  });
}

/** The buyer gives up an unpaid checkout: every order cancelled, the stock back on sale. */
export async function cancelCheckout(db: Db, actor: Actor, buyerId: string, checkoutId: string, now: Date = new Date()): Promise<Checkout> {
  return inTransaction(db, async (trx) => {
    const checkout = await lockCheckout(trx, checkoutId);
    if (checkout.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
    if (checkout.status !== "placed") throw new DomainError("invalid_state", `the checkout is ${checkout.status}`, { status: checkout.status });
    if (checkout.payment_id) {
      const payment = await trx.selectFrom("payments").select("status").where("id", "=", checkout.payment_id).executeTakeFirst();
      if (payment && payment.status !== "created" && payment.status !== "failed") {
        throw new DomainError("invalid_state", "the payment has gone through; the orders are being held", { status: "paying" });
      }
    }
    await closeUnpaidCheckout(trx, actor, checkout.id, "cancel", now);
    return checkoutView({ ...checkout, status: "cancelled" });
  });
}

async function closeUnpaidCheckout(trx: Trx, actor: Actor, checkoutId: string, event: "cancel" | "expire", now: Date): Promise<void> {
  const orders = await trx.selectFrom("market_orders as o").select(ORDER_COLUMNS).where("o.checkout_id", "=", checkoutId).orderBy("o.id").forUpdate().execute();
  const closing = orders.filter((o) => o.status === "placed");
  for (const o of closing) transitionOrRefuse(o, event, event === "cancel" ? "buyer" : "system");
  const to: MarketOrderStatus = event === "cancel" ? "cancelled" : "expired";
  if (closing.length > 0) {
    await trx
      .updateTable("market_orders")
      .set({ status: to, closed_at: now, updated_at: now })
      .where("id", "in", closing.map((o) => o.id))
      .execute();
    await restock(trx, closing.map((o) => o.id));
  }
  await trx.updateTable("market_checkouts").set({ status: to, updated_at: now }).where("id", "=", checkoutId).execute();
  await writeTimeline(trx, actor, closing.map((o) => ({ orderId: o.id, event, from: "placed", to })), now);
}

// ---------------------------------------------------------------------------------------------
// Fulfilment

export async function shipMarketOrder(db: Db, actor: Actor, merchantId: string, orderId: string, raw: ShipInput, now: Date = new Date()): Promise<void> {
  const input = parse(shipInputSchema, raw);
  await inTransaction(db, async (trx) => {
    const order = await lockOrderFor(trx, orderId, merchantId, "merchant");
    const t = transitionOrRefuse(order, "ship", "merchant");
    const market = await trx.selectFrom("markets").select("auto_confirm_days").where("id", "=", order.market_id).executeTakeFirstOrThrow();
    await trx
      .updateTable("market_orders")
      .set({
        status: t.to,
        carrier: input.carrier,
        tracking_no: input.trackingNo,
        shipped_at: now,
        auto_confirm_at: new Date(now.getTime() + market.auto_confirm_days * 86_400_000),
        updated_at: now,
      })
      .where("id", "=", order.id)
      .execute();
    await writeTimeline(trx, actor, [{ orderId: order.id, event: "ship", from: order.status, to: t.to, note: `${input.carrier} ${input.trackingNo}` }], now);
    await notifyBuyer(trx, actor, order, "market_order.shipped");
  });
}

/** The buyer confirms receipt; settlement follows in the settle step (outbox). */
export async function receiveMarketOrder(db: Db, actor: Actor, buyerId: string, orderId: string, now: Date = new Date()): Promise<void> {
  await inTransaction(db, async (trx) => {
    const order = await lockOrderFor(trx, orderId, buyerId, "buyer");
    const t = transitionOrRefuse(order, "receive", "buyer");
    await markReceived(trx, actor, [order], "receive", t.to, now);
  });
}

async function markReceived(trx: Trx, actor: Actor, orders: readonly OrderRow[], event: "receive" | "auto_confirm", to: MarketOrderStatus, now: Date): Promise<void> {
  if (orders.length === 0) return;
  await trx
    .updateTable("market_orders")
    .set({ status: to, received_at: now, auto_confirm_at: null, updated_at: now })
    .where("id", "in", orders.map((o) => o.id))
    .execute();
  await writeTimeline(trx, actor, orders.map((o) => ({ orderId: o.id, event, from: o.status, to })), now);
  const byMarket = new Map<string, string[]>();
  for (const o of orders) byMarket.set(o.market_id, [...(byMarket.get(o.market_id) ?? []), o.id]);
  for (const [marketId, orderIds] of byMarket) await enqueueSettlement(trx, marketId, orderIds, now);
}

/** Receipts of one market within this long share one settle job (a sweep). */
const SETTLE_SLOT_MS = 200;

/**
 * Ask for the settlement of orders just received, in the receipt's transaction. The receipts of a
 * market in the same slot share one sweep job (`market:<marketId>-<slot>:settle`) instead of one
 * job each: a burst of receipts is then a few sweeps of full batches, not one outbox row, one
 * BullMQ job and one read per order.
 *
 * Why no order is left behind: the shared row is share-locked until this transaction commits, and
 * the relay and the in-process runner only take rows they can lock (SKIP LOCKED), so the sweep
 * cannot start before these orders are visible to it. A row already taken out (published, or
 * claimed by the in-process runner, whose lease moves available_at past now()) is not shared:
 * each order then gets its own job as before.
 */
async function enqueueSettlement(trx: Trx, marketId: string, orderIds: readonly string[], now: Date): Promise<void> {
  const jobId = `market:${marketId}-${Math.floor(now.getTime() / SETTLE_SLOT_MS)}:settle`;
  await enqueue(trx, { queue: MARKET_ORDER_QUEUE, name: SETTLE_MARKET_ORDERS_JOB, jobId, payload: {} });
  const open = await trx
    .selectFrom("outbox")
    .select("id")
    .where("job_id", "=", jobId)
    .where("published_at", "is", null)
    .where("failed_at", "is", null)
    .where("available_at", "<=", sql<Date>`now()`)
    .forShare()
    .executeTakeFirst();
  if (open) return;
  for (const id of orderIds) await enqueue(trx, settleJob(id));
}

/** A sweep that stopped at its batch limit with more due hands the rest to a new sweep job. */
export async function continueSettlement(db: Db, now: Date): Promise<void> {
  await inTransaction(db, (trx) =>
    enqueue(trx, { queue: MARKET_ORDER_QUEUE, name: SETTLE_MARKET_ORDERS_JOB, jobId: `market:sweep-${now.getTime()}:settle`, payload: {} }),
  );
}

/** The merchant cannot fulfil a paid order: the hold goes back to the buyer, the units on sale. */
export async function cancelPaidMarketOrder(db: Db, actor: Actor, merchantId: string, orderId: string, raw: { reason: string }, now: Date = new Date()): Promise<void> {
  const { reason } = parse(reasonInputSchema, raw);
  await inTransaction(db, async (trx) => {
    const order = await lockOrderFor(trx, orderId, merchantId, "merchant");
    const t = transitionOrRefuse(order, "cancel", "merchant");
    await applyBatch(trx, [{ op: "void_pending", pendingId: order.hold_transfer_id!, idempotencyKey: `market_order:${order.id}:void`, kind: "escrow_refund", createdByUserId: actor.userId }]);
    await trx
      .updateTable("market_orders")
      .set({ status: t.to, refunded_fen: order.goods_total_fen, closed_at: now, updated_at: now })
      .where("id", "=", order.id)
      .execute();
    await restock(trx, [order.id]);
    await writeTimeline(trx, actor, [{ orderId: order.id, event: "cancel", from: order.status, to: t.to, note: reason }], now);
    await notifyBuyer(trx, actor, order, "market_order.refunded");
  });
}

// ---------------------------------------------------------------------------------------------
// Timers

/** Checkouts nobody paid in time: orders expired, stock back. A payment already captured is not expired. */
export async function expireUnpaidCheckouts(db: Db, now: Date, limit: number = ESCROW_LIMITS.sweepBatch): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const due = await trx
      .selectFrom("market_checkouts as c")
      .leftJoin("payments as p", "p.id", "c.payment_id")
      .select(["c.id"])
      .where("c.status", "=", "placed")
      .where("c.expires_at", "<=", now)
      .where((eb) => eb.or([eb("p.id", "is", null), eb("p.status", "in", ["created", "failed"])]))
      .orderBy("c.expires_at")
      .limit(limit)
      .forUpdate("c")
      .skipLocked()
      .execute();
    for (const c of due) await closeUnpaidCheckout(trx, { userId: null, organizationId: null }, c.id, "expire", now);
    return due.map((c) => c.id);
  });
}

/** Shipped orders past their auto-confirm time count as received; settlement follows. */
export async function autoConfirmShippedOrders(db: Db, now: Date, limit: number = ESCROW_LIMITS.sweepBatch): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const due = await trx
      .selectFrom("market_orders as o")
      .select(ORDER_COLUMNS)
      .where("o.status", "=", "shipped")
      .where("o.auto_confirm_at", "<=", now)
      .orderBy("o.auto_confirm_at")
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    for (const o of due) transitionOrRefuse(o, "auto_confirm", "system");
    await markReceived(trx, { userId: null, organizationId: null }, due, "auto_confirm", "received", now);
    return due.map((o) => o.id);
  });
}

// ---------------------------------------------------------------------------------------------
// Settlement

interface Resolution {
  order: OrderRow;
  event: "settle" | "rule_release" | "rule_refund_partial" | "rule_refund_full";
  to: MarketOrderStatus;
  refundFen: Fen;
  note?: string;
}

/**
 * Resolve the holds of these orders (each locked by the caller, each with its transition checked):
 * the released part posted to the merchant, its commission moved to the market's fee account, the
 * rest released back to the buyer's wallet. One ledger batch, one order UPDATE, one timeline
 * INSERT whatever the number of orders.
 */
async function resolveHolds(trx: Trx, actor: Actor, resolutions: readonly Resolution[], now: Date): Promise<void> {
  if (resolutions.length === 0) return;
  const feeAccounts = new Map<string, string>();
  for (const r of resolutions) {
    if (!feeAccounts.has(r.order.market_id)) feeAccounts.set(r.order.market_id, await feeAccountId(trx, r.order.market_id, r.order.operator_id));
  }
  const merchantWallets = new Map<string, string>();
  const walletRows = await trx
    .selectFrom("ledger_accounts")
    .select(["id", "organization_id"])
    .where("code", "in", [...new Set(resolutions.map((r) => `wallet:${r.order.merchant_id}`))])
    .execute();
  for (const w of walletRows) merchantWallets.set(w.organization_id!, w.id);

  const operations: BatchOperation[] = [];
  const figures: { id: string; status: MarketOrderStatus; refunded: number; net: number; fee: number; final: boolean }[] = [];
  for (const r of resolutions) {
    const o = r.order;
    if (!o.hold_transfer_id) throw new Error(`escrow invariant: order ${o.id} in ${o.status} has no hold`);
    const releasedFen = o.goods_total_fen - r.refundFen;
    if (releasedFen === 0) {
      operations.push({ op: "void_pending", pendingId: o.hold_transfer_id, idempotencyKey: `market_order:${o.id}:void`, kind: "escrow_refund", createdByUserId: actor.userId });
      figures.push({ id: o.id, status: r.to, refunded: o.goods_total_fen, net: 0, fee: 0, final: true });
      continue;
    }
    const fee = feeOnReleaseFen(o, releasedFen);
    operations.push({
      op: "post_pending",
      pendingId: o.hold_transfer_id,
      amountFen: releasedFen,
      idempotencyKey: `market_order:${o.id}:release`,
      kind: "escrow_release",
      createdByUserId: actor.userId,
    });
    if (fee > 0) {
      const merchantWallet = merchantWallets.get(o.merchant_id);
      if (!merchantWallet) throw new Error(`escrow invariant: merchant ${o.merchant_id} of a held order has no wallet`);
      operations.push({
        op: "transfer",
        debitAccountId: merchantWallet,
        creditAccountId: feeAccounts.get(o.market_id)!,
        amountFen: fee,
        idempotencyKey: `market_order:${o.id}:fee`,
        kind: "market_commission",
        reference: `market_order:${o.id}`,
        createdByUserId: actor.userId,
      });
    }
    figures.push({ id: o.id, status: r.to, refunded: r.refundFen, net: releasedFen - fee, fee, final: true });
  }
  await applyBatch(trx, operations);
  await sql`
    update market_orders o
       set status = v.status, refunded_fen = v.refunded, settled_net_fen = v.net, settled_fee_fen = v.fee,
           settled_at = case when v.status = 'settled' then ${now}::timestamptz else o.settled_at end,
           closed_at = ${now}::timestamptz, updated_at = ${now}::timestamptz
      from unnest(${figures.map((f) => f.id)}::uuid[], ${figures.map((f) => f.status)}::text[], ${figures.map((f) => f.refunded)}::bigint[],
                  ${figures.map((f) => f.net)}::bigint[], ${figures.map((f) => f.fee)}::bigint[]) as v (id, status, refunded, net, fee)
     where o.id = v.id`.execute(trx);
  const refundedAll = resolutions.filter((r) => r.refundFen === r.order.goods_total_fen).map((r) => r.order.id);
  await restock(trx, refundedAll);
  await writeTimeline(
    trx,
    actor,
    resolutions.map((r) => ({ orderId: r.order.id, event: r.event, from: r.order.status, to: r.to, note: r.note })),
    now,
  );
  // A settlement tells the buyer its money went to the merchant; a ruling tells both parties itself.
  const settled = resolutions.filter((r) => r.event === "settle").map((r) => r.order);
  if (settled.length > 0) {
    const names = await organizationNames(trx, settled.map((o) => o.merchant_id));
    await requestNotifications(
      trx,
      settled.map((o) => ({
        actor,
        notification: {
          organizationId: o.buyer_id,
          topic: "market_order.settled" as const,
          params: { orderId: o.id, number: o.order_no, counterparty: names.get(o.merchant_id) ?? o.merchant_id },
          dedupeKey: `market_order.settled:${o.id}`,
        },
      })),
    );
  }
}

/** Whether the order is received and not yet settled (a cheap check before a sweep). */
export async function awaitsSettlement(db: Db, orderId: string): Promise<boolean> {
  if (!isUuid(orderId)) return false;
  const row = await db.selectFrom("market_orders").select("status").where("id", "=", orderId).executeTakeFirst();
  return row?.status === "received";
}

/**
 * The settlement step: received orders' holds posted and fees split, `limit` orders per
 * transaction, claimed with SKIP LOCKED so several workers share the work without waiting on each
 * other's orders. `orderIds` narrows the claim (a receipt's own job); without it, any due order.
 * Returns the ids settled. Running it again finds nothing (E3).
 */
export async function settleReceivedOrders(
  db: Db,
  options: { limit?: number; now?: Date; orderIds?: readonly string[] } = {},
): Promise<string[]> {
  const limit = Math.min(Math.max(options.limit ?? ESCROW_LIMITS.settleBatch, 1), 2_000);
  const now = options.now ?? new Date();
  const ids = options.orderIds?.filter(isUuid);
  if (ids && ids.length === 0) return [];
  return inTransaction(db, async (trx) => {
    let query = trx.selectFrom("market_orders as o").select(ORDER_COLUMNS).where("o.status", "=", "received");
    if (ids) query = query.where("o.id", "in", ids);
    const due = await query.orderBy("o.received_at").limit(limit).forUpdate().skipLocked().execute();
    for (const o of due) transitionOrRefuse(o, "settle", "system");
    await resolveHolds(
      trx,
      { userId: null, organizationId: null },
      due.map((order) => ({ order, event: "settle" as const, to: "settled" as const, refundFen: 0 })),
      now,
    );
    return due.map((o) => o.id);
  });
}

// ---------------------------------------------------------------------------------------------
// Disputes

/** The buyer disputes an order before it is settled: the timer stops, the hold stays until ruled. */
export async function openDispute(
  db: Db,
  actor: Actor,
  buyerId: string,
  orderId: string,
  raw: { statement: string; evidence?: EvidenceInput | null },
  now: Date = new Date(),
): Promise<{ disputeId: string }> {
  const { body } = parse(statementInputSchema, { body: raw.statement });
  const evidence = checkEvidence(raw.evidence);
  return inTransaction(db, async (trx) => {
    const order = await lockOrderFor(trx, orderId, buyerId, "buyer");
    const t = transitionOrRefuse(order, "dispute", "buyer");
    const dispute = await trx
      .insertInto("market_disputes")
      .values({
        order_id: order.id,
        market_id: order.market_id,
        operator_id: order.operator_id,
        buyer_id: order.buyer_id,
        merchant_id: order.merchant_id,
        opened_from_status: order.status as "paid" | "shipped" | "received",
        opened_at: now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await insertStatement(trx, actor, dispute.id, "buyer", buyerId, body, evidence, now);
    await trx.updateTable("market_orders").set({ status: t.to, auto_confirm_at: null, updated_at: now }).where("id", "=", order.id).execute();
    await writeTimeline(trx, actor, [{ orderId: order.id, event: "dispute", from: order.status, to: t.to, note: body.slice(0, 200) }], now);
    const buyerName = await organizationName(trx, order.buyer_id);
    for (const organizationId of [order.merchant_id, order.operator_id]) {
      await requestNotification(trx, actor, {
        organizationId,
        topic: "market_order.disputed",
        params: { orderId: order.id, number: order.order_no, counterparty: buyerName },
        dedupeKey: `market_order.disputed:${order.id}:${organizationId}`,
      });
    }
    return { disputeId: dispute.id };
  });
}

async function insertStatement(
  trx: Trx,
  actor: Actor,
  disputeId: string,
  party: DisputeParty,
  organizationId: string,
  body: string,
  evidence: ReturnType<typeof checkEvidence>,
  now: Date,
): Promise<string> {
  const row = await trx
    .insertInto("market_dispute_statements")
    .values({
      dispute_id: disputeId,
      party,
      organization_id: organizationId,
      author_user_id: actor.userId,
      body,
      evidence_filename: evidence?.filename ?? null,
      evidence_content_type: evidence?.contentType ?? null,
      evidence_bytes: evidence?.bytes ?? null,
      created_at: now,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await recordAudits(trx, actor, [
    { action: "market_dispute.statement", entityType: "market_dispute", entityId: disputeId, after: { party, statement_id: row.id, evidence: evidence?.filename ?? null } },
  ]);
  return row.id;
}

async function lockDispute(trx: Trx, disputeId: string) {
  if (!isUuid(disputeId)) throw new DomainError("not_found", "dispute not found");
  const row = await trx.selectFrom("market_disputes").selectAll().where("id", "=", disputeId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "dispute not found");
  return row;
}

/** A statement (and evidence) from a party of an open dispute: the buyer, the merchant or the operator. */
export async function addDisputeStatement(
  db: Db,
  actor: Actor,
  organizationId: string,
  disputeId: string,
  raw: { body: string; evidence?: EvidenceInput | null },
  now: Date = new Date(),
): Promise<{ statementId: string }> {
  const { body } = parse(statementInputSchema, { body: raw.body });
  const evidence = checkEvidence(raw.evidence);
  return inTransaction(db, async (trx) => {
    const dispute = await lockDispute(trx, disputeId);
    const party: DisputeParty | null =
      dispute.buyer_id === organizationId ? "buyer" : dispute.merchant_id === organizationId ? "merchant" : dispute.operator_id === organizationId ? "operator" : null;
    if (!party) throw new DomainError("not_found", "dispute not found");
    if (dispute.status !== "open") throw new DomainError("invalid_state", "the dispute has been ruled", { status: "ruled" });
    return { statementId: await insertStatement(trx, actor, dispute.id, party, organizationId, body, evidence, now) };
  });
}

/**
 * The operator's ruling: release (the merchant is paid, less commission), refund_full (the hold
 * voided, the units back on sale) or refund_partial (refundFen back to the buyer, the rest released
 * with its pro-rata commission). refund + net + commission = the goods total, exactly (E1).
 */
export async function ruleDispute(db: Db, actor: Actor, operatorId: string, disputeId: string, raw: RulingInput, now: Date = new Date()): Promise<void> {
  const input = parse(rulingInputSchema, raw);
  await inTransaction(db, async (trx) => {
    const dispute = await lockDispute(trx, disputeId);
    if (dispute.operator_id !== operatorId) throw new DomainError("not_found", "dispute not found");
    if (dispute.status !== "open") throw new DomainError("invalid_state", "the dispute has been ruled", { status: "ruled" });
    const order = await lockOrder(trx, dispute.order_id);
    const totalFen = order.goods_total_fen;
    let refundFen: number;
    if (input.ruling === "release") refundFen = 0;
    else if (input.ruling === "refund_full") refundFen = totalFen;
    else {
      refundFen = input.refundFen ?? 0;
      if (refundFen <= 0 || refundFen >= totalFen) {
        throw new DomainError("validation", `refundFen: a partial refund is more than 0 and less than the order's ${totalFen} fen`, {
          refundFen: `must be between 1 and ${totalFen - 1} fen`,
        });
      }
    }
    const event: Resolution["event"] = `rule_${input.ruling}`;
    const t = transitionOrRefuse(order, event, "operator");
    await resolveHolds(trx, actor, [{ order, event, to: t.to, refundFen, note: input.reason }], now);
    await trx
      .updateTable("market_disputes")
      .set({ status: "ruled", ruling: input.ruling, refund_fen: refundFen, ruling_reason: input.reason, ruled_by: actor.userId, ruled_at: now })
      .where("id", "=", dispute.id)
      .execute();
    // The ruling ends the order for both sides: each hears it once (the dedupe key per party).
    await requestNotifications(
      trx,
      [order.buyer_id, order.merchant_id].map((organizationId) => ({
        actor,
        notification: {
          organizationId,
          topic: "market_dispute.ruled" as const,
          params: { orderId: order.id, disputeId: dispute.id, number: order.order_no, ruling: input.ruling, refundDisplay: formatFen(refundFen) },
          dedupeKey: `market_dispute.ruled:${dispute.id}:${organizationId}`,
        },
      })),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

function summaryQuery(db: Db) {
  return db
    .selectFrom("market_orders as o")
    .innerJoin("markets as m", "m.id", "o.market_id")
    .innerJoin("organizations as b", "b.id", "o.buyer_id")
    .innerJoin("organizations as s", "s.id", "o.merchant_id")
    .select([...ORDER_COLUMNS, "m.name as market_name", "b.name as buyer_name", "s.name as merchant_name"]);
}

type SummaryRow = OrderRow & { market_name: string; buyer_name: string; merchant_name: string };

function summaryView(r: SummaryRow): MarketOrderSummary {
  return {
    id: r.id,
    orderNo: r.order_no,
    marketId: r.market_id,
    marketName: r.market_name,
    checkoutId: r.checkout_id,
    buyerId: r.buyer_id,
    buyerName: r.buyer_name,
    merchantId: r.merchant_id,
    merchantName: r.merchant_name,
    status: r.status,
    goodsTotalFen: r.goods_total_fen,
    feeFen: r.fee_fen,
    refundedFen: r.refunded_fen,
    settledNetFen: r.settled_net_fen,
    settledFeeFen: r.settled_fee_fen,
    placedAt: r.placed_at,
    paidAt: r.paid_at,
    shippedAt: r.shipped_at,
    autoConfirmAt: r.auto_confirm_at,
    receivedAt: r.received_at,
    settledAt: r.settled_at,
  };
}

/** The orders a party sees: a buyer its own, a merchant those made to it, an operator its markets'. */
export async function listMarketOrders(
  db: Db,
  viewer: MarketViewer,
  options: { marketId?: string | null; status?: MarketOrderStatus | null; after?: string | null; limit?: number } = {},
): Promise<Page<MarketOrderSummary>> {
  const limit = Math.min(Math.max(options.limit ?? ESCROW_LIMITS.pageSize, 1), ESCROW_LIMITS.pageSizeMax);
  const column = viewer.kind === "buyer" ? "o.buyer_id" : viewer.kind === "merchant" ? "o.merchant_id" : "o.operator_id";
  let query = summaryQuery(db).where(column, "=", viewer.organizationId);
  if (options.marketId) {
    if (!isUuid(options.marketId)) return { items: [], nextCursor: null };
    query = query.where("o.market_id", "=", options.marketId);
  }
  if (options.status) query = query.where("o.status", "=", options.status);
  if (options.after) {
    const [at, id] = decodeCursor(options.after, ["timestamp", "uuid"])!;
    query = query.where((eb) => eb.or([eb("o.placed_at", "<", new Date(at)), eb.and([eb("o.placed_at", "=", new Date(at)), eb("o.id", "<", id)])]));
  }
  const rows = (await query.orderBy("o.placed_at", "desc").orderBy("o.id", "desc").limit(limit + 1).execute()) as SummaryRow[];
  const items = rows.slice(0, limit).map(summaryView);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.placedAt, last.id]) : null };
}

async function disputeFor(db: Db, orderId: string, orderNo: string): Promise<DisputeView | null> {
  const d = await db.selectFrom("market_disputes").selectAll().where("order_id", "=", orderId).executeTakeFirst();
  if (!d) return null;
  const statements = await db
    .selectFrom("market_dispute_statements")
    .select(["id", "party", "organization_id", "body", "evidence_filename", "evidence_content_type", "created_at"])
    .where("dispute_id", "=", d.id)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return {
    id: d.id,
    orderId: d.order_id,
    orderNo,
    marketId: d.market_id,
    status: d.status,
    openedFromStatus: d.opened_from_status,
    ruling: d.ruling,
    refundFen: d.refund_fen,
    rulingReason: d.ruling_reason,
    ruledAt: d.ruled_at,
    openedAt: d.opened_at,
    statements: statements.map((s) => ({
      id: s.id,
      party: s.party,
      organizationId: s.organization_id,
      body: s.body,
      evidence: s.evidence_filename && s.evidence_content_type ? { filename: s.evidence_filename, contentType: s.evidence_content_type } : null,
      createdAt: s.created_at,
    })),
  };
}

/** One order with its lines, timeline, dispute and the actions open to the viewer; anyone else: not_found. */
export async function getMarketOrder(db: Db, viewerOrganizationId: string, orderId: string): Promise<MarketOrderDetail> {
  if (!isUuid(orderId)) throw new DomainError("not_found", "market order not found");
  const row = (await summaryQuery(db).where("o.id", "=", orderId).executeTakeFirst()) as SummaryRow | undefined;
  const role = row ? roleOf(row, viewerOrganizationId) : null;
  if (!row || !role) throw new DomainError("not_found", "market order not found");
  const [lines, events, dispute, checkout] = [
    await db.selectFrom("market_order_lines").selectAll().where("order_id", "=", row.id).orderBy("line_no").execute(),
    await db.selectFrom("market_order_events").selectAll().where("order_id", "=", row.id).orderBy("id").execute(),
    await disputeFor(db, row.id, row.order_no),
    await db.selectFrom("market_checkouts").selectAll().where("id", "=", row.checkout_id).executeTakeFirstOrThrow(),
  ];
  // A placed order is paid or cancelled as its checkout, not on its own.
  const actions = marketOrderEventsFor(row.status, role).filter((e) => !(row.status === "placed" && (e === "cancel" || e === "pay")));
  return {
    ...summaryView(row),
    carrier: row.carrier,
    trackingNo: row.tracking_no,
    closedAt: row.closed_at,
    role,
    actions,
    held: HELD_STATUSES.includes(row.status),
    lines: lines.map((l) => ({
      lineNo: l.line_no,
      listingId: l.listing_id,
      title: l.title,
      category: l.category,
      spec: l.spec,
      unit: l.unit,
      unitPriceFen: l.unit_price_fen,
      quantity: l.quantity,
      amountFen: l.amount_fen,
      commissionRateBps: l.commission_rate_bps,
      minFeeFen: l.min_fee_fen,
    })),
    events: events.map((e) => ({
      id: e.id,
      event: e.event,
      fromStatus: e.from_status,
      toStatus: e.to_status,
      actorOrganizationId: e.actor_organization_id,
      note: e.note,
      at: e.at,
    })),
    dispute,
    checkout: checkoutView(checkout),
  };
}

/** A buyer's checkout with its orders (the payment page and the return from e-Pay). */
export async function getCheckout(db: Db, buyerId: string, checkoutId: string): Promise<{ checkout: Checkout; orders: MarketOrderSummary[]; marketName: string }> {
  if (!isUuid(checkoutId)) throw new DomainError("not_found", "checkout not found");
  const row = await db.selectFrom("market_checkouts").selectAll().where("id", "=", checkoutId).executeTakeFirst();
  if (!row || row.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
  const orders = ((await summaryQuery(db).where("o.checkout_id", "=", row.id).orderBy(sql`length(o.order_no)`).orderBy("o.order_no").execute()) as SummaryRow[]).map(summaryView);
  const market = await db.selectFrom("markets").select("name").where("id", "=", row.market_id).executeTakeFirstOrThrow();
  return { checkout: checkoutView(row), orders, marketName: market.name };
}

export interface DisputeListItem {
  id: string;
  orderId: string;
  orderNo: string;
  buyerName: string;
  merchantName: string;
  goodsTotalFen: Fen;
  status: "open" | "ruled";
  ruling: DisputeRuling | null;
  refundFen: Fen;
  openedAt: Date;
  ruledAt: Date | null;
}

/** The operator's disputes of one market (open first). Another operator's market: an empty list is not enough, so not_found. */
export async function listDisputes(db: Db, operatorId: string, marketId: string, options: { status?: "open" | "ruled" | null; limit?: number } = {}): Promise<DisputeListItem[]> {
  if (!isUuid(marketId)) throw new DomainError("not_found", "market not found");
  const market = await db.selectFrom("markets").select("id").where("id", "=", marketId).where("operator_id", "=", operatorId).executeTakeFirst();
  if (!market) throw new DomainError("not_found", "market not found");
  let query = db
    .selectFrom("market_disputes as d")
    .innerJoin("market_orders as o", "o.id", "d.order_id")
    .innerJoin("organizations as b", "b.id", "d.buyer_id")
    .innerJoin("organizations as s", "s.id", "d.merchant_id")
    .select([
      "d.id",
      "d.order_id",
      "o.order_no",
      "b.name as buyer_name",
      "s.name as merchant_name",
      "o.goods_total_fen",
      "d.status",
      "d.ruling",
      "d.refund_fen",
      "d.opened_at",
      "d.ruled_at",
    ])
    .where("d.market_id", "=", marketId);
  if (options.status) query = query.where("d.status", "=", options.status);
  const rows = await query
    .orderBy(sql`d.status = 'open'`, "desc")
    .orderBy("d.opened_at", "desc")
    .limit(Math.min(Math.max(options.limit ?? 100, 1), 200))
    .execute();
  return rows.map((r) => ({
    id: r.id,
    orderId: r.order_id,
    orderNo: r.order_no,
    buyerName: r.buyer_name,
    merchantName: r.merchant_name,
    goodsTotalFen: r.goods_total_fen,
    status: r.status,
    ruling: r.ruling,
    refundFen: r.refund_fen,
    openedAt: r.opened_at,
    ruledAt: r.ruled_at,
  }));
}

/** A dispute's order id, for a party of it (routes that start from the dispute). */
export async function getDisputeOrderId(db: Db, organizationId: string, disputeId: string): Promise<string> {
  if (!isUuid(disputeId)) throw new DomainError("not_found", "dispute not found");
  const d = await db.selectFrom("market_disputes").select(["order_id", "buyer_id", "merchant_id", "operator_id"]).where("id", "=", disputeId).executeTakeFirst();
  if (!d || ![d.buyer_id, d.merchant_id, d.operator_id].includes(organizationId)) throw new DomainError("not_found", "dispute not found");
  return d.order_id;
}

/** A statement's evidence file, for the parties of its dispute only. */
export async function getDisputeEvidence(db: Db, organizationId: string, statementId: string): Promise<{ filename: string; contentType: string; bytes: Buffer }> {
  if (!isUuid(statementId)) throw new DomainError("not_found", "evidence not found");
  const row = await db
    .selectFrom("market_dispute_statements as s")
    .innerJoin("market_disputes as d", "d.id", "s.dispute_id")
    .select(["s.evidence_filename", "s.evidence_content_type", "s.evidence_bytes", "d.buyer_id", "d.merchant_id", "d.operator_id"])
    .where("s.id", "=", statementId)
    .executeTakeFirst();
  if (!row || !row.evidence_bytes || ![row.buyer_id, row.merchant_id, row.operator_id].includes(organizationId)) {
    throw new DomainError("not_found", "evidence not found");
  }
  return { filename: row.evidence_filename ?? "evidence", contentType: row.evidence_content_type ?? "application/octet-stream", bytes: Buffer.from(row.evidence_bytes) };
}

/** A merchant's money in one place: held in escrow for it, settled to its wallet, commission paid. */
export async function merchantMoney(db: Db, merchantId: string): Promise<{ heldFen: Fen; settledNetFen: Fen; commissionFen: Fen; walletAvailableFen: Fen }> {
  const row = await db
    .selectFrom("market_orders")
    .select([
      sql<number>`coalesce(sum(goods_total_fen) filter (where status in ('paid','shipped','received','disputed')), 0)::bigint`.as("held"),
      sql<number>`coalesce(sum(settled_net_fen), 0)::bigint`.as("net"),
      sql<number>`coalesce(sum(settled_fee_fen), 0)::bigint`.as("fee"),
    ])
    .where("merchant_id", "=", merchantId)
    .executeTakeFirstOrThrow();
  const wallet = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", `wallet:${merchantId}`).executeTakeFirst();
  const available = wallet ? wallet.credits_posted_fen - wallet.debits_posted_fen - wallet.debits_pending_fen : 0;
  return { heldFen: Number(row.held), settledNetFen: Number(row.net), commissionFen: Number(row.fee), walletAvailableFen: available };
}

export { FINAL_STATUSES, HELD_STATUSES };
