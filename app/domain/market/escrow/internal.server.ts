import { sql } from "kysely";
import { z } from "zod";
import type { Db } from "../../../../db";
import type { MarketOrderStatus } from "../../../../db/schema";
import { auditClause, type Actor, type AuditEntry, DomainError, isUuid } from "../../shared";
import { applyBatch, ensureAccount, type BatchOperation, type Fen } from "../../ledger";
import { marketOrderTransition, type MarketOrderActor, type MarketOrderEvent } from "../order-states";
import { requestNotification, requestNotifications } from "../../notifications";
import type { Trx } from "../../outbox";
import { feeOnReleaseFen, MARKET_ORDER_QUEUE, SETTLE_MARKET_ORDERS_JOB, type Checkout } from "./model.server";

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

// Helpers shared by the escrow use cases (checkout, fulfilment, settlement, disputes, queries);
// not part of the market's public surface.

export function parse<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
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

export const ORDER_COLUMNS = [
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

export type OrderRow = {
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

export async function lockOrder(trx: Trx, orderId: string): Promise<OrderRow> {
  if (!isUuid(orderId)) throw new DomainError("not_found", "market order not found");
  const row = await trx.selectFrom("market_orders as o").select(ORDER_COLUMNS).where("o.id", "=", orderId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "market order not found");
  return row;
}

export function roleOf(order: Pick<OrderRow, "buyer_id" | "merchant_id" | "operator_id">, organizationId: string | null): Exclude<MarketOrderActor, "system"> | null {
  if (!organizationId) return null;
  if (order.buyer_id === organizationId) return "buyer";
  if (order.merchant_id === organizationId) return "merchant";
  if (order.operator_id === organizationId) return "operator";
  return null;
}

/** The order as its `party` may act on it: anyone else gets the same not_found as a missing id. */
export async function lockOrderFor(trx: Trx, orderId: string, organizationId: string, party: Exclude<MarketOrderActor, "system">): Promise<OrderRow> {
  const order = await lockOrder(trx, orderId);
  if (roleOf(order, organizationId) !== party) throw new DomainError("not_found", "market order not found");
  return order;
}

function refuse(order: OrderRow, event: MarketOrderEvent): never {
  throw new DomainError("invalid_state", `order ${order.order_no} is ${order.status}: it cannot ${event.replace(/_/g, " ")} now`, { status: order.status });
}

export function transitionOrRefuse(order: OrderRow, event: MarketOrderEvent, actor: MarketOrderActor) {
  const t = marketOrderTransition(order.status, event);
  if (!t || !t.by.includes(actor)) refuse(order, event);
  return t;
}

export interface TimelineEntry {
  orderId: string;
  event: MarketOrderEvent | "place";
  from: MarketOrderStatus | null;
  to: MarketOrderStatus;
  note?: string;
}

export async function writeTimeline(trx: Trx, actor: Actor, entries: readonly TimelineEntry[], at: Date): Promise<void> {
  if (entries.length === 0) return;
  // The timeline and the audit rows in one statement, one array per column.
  const audits = entries.map(
    (e): AuditEntry => ({
      action: `market_order.${e.event}`,
      entityType: "market_order",
      entityId: e.orderId,
      before: e.from ? { status: e.from } : undefined,
      after: { status: e.to, ...(e.note ? { note: e.note } : {}) },
    }),
  );
  await sql`
    with events as (
      insert into market_order_events (order_id, event, from_status, to_status, actor_organization_id, actor_user_id, note, at)
      select o, e, f, t, ${actor.organizationId}::uuid, ${actor.userId}::uuid, n, ${at}::timestamptz
        from unnest(${entries.map((e) => e.orderId)}::uuid[], ${entries.map((e) => e.event)}::text[], ${entries.map((e) => e.from)}::text[],
                    ${entries.map((e) => e.to)}::text[], ${entries.map((e) => (e.note ?? "").slice(0, 500))}::text[]) as v (o, e, f, t, n)
    )
    ${auditClause(actor, audits)}`.execute(trx);
}

/**
 * Give the units of these orders back to their listings (E2). The listings are locked first, in id
 * order, as a checkout locks them: an UPDATE over several rows takes them in the planner's order, and
 * a checkout holding one of them while waiting for another would deadlock with it.
 */
export async function restock(trx: Trx, orderIds: readonly string[]): Promise<void> {
  if (orderIds.length === 0) return;
  const orders = sql.join(orderIds.map((id) => sql`${id}::uuid`));
  await sql`select id from market_listings
             where id in (select listing_id from market_order_lines where order_id in (${orders}))
             order by id for update`.execute(trx);
  await sql`
    update market_listings l
       set stock_qty = l.stock_qty + q.quantity, updated_at = now()
      from (select listing_id, sum(quantity)::int as quantity
              from market_order_lines where order_id in (${orders})
             group by listing_id) q
     where l.id = q.listing_id`.execute(trx);
}

export async function organizationName(db: Db, organizationId: string): Promise<string> {
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
export async function notifyBuyer(
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

export function walletSpec(organizationId: string) {
  return { kind: "wallet" as const, organizationId };
}

async function feeAccountId(trx: Db, marketId: string, operatorId: string): Promise<string> {
  const account = await ensureAccount(trx, { kind: "market_fees", organizationId: operatorId, code: `market_fees:${marketId}` });
  return account.id;
}

export function settleJob(orderId: string) {
  return { queue: MARKET_ORDER_QUEUE, name: SETTLE_MARKET_ORDERS_JOB, jobId: `market:${orderId}:settle`, payload: { orderId } };
}

export function checkoutView(row: {
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

export interface Resolution {
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
export async function resolveHolds(trx: Trx, actor: Actor, resolutions: readonly Resolution[], now: Date): Promise<void> {
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
