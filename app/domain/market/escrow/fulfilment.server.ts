import { inTransaction, type Db } from "../../../../db";
import type { MarketOrderStatus } from "../../../../db/schema";
import type { Actor } from "../../shared";
import { applyBatch } from "../../ledger";
import { enqueue, holdWaitingJob, type Trx } from "../../outbox";
import { ESCROW_LIMITS, MARKET_ORDER_QUEUE, reasonInputSchema, SETTLE_MARKET_ORDERS_JOB, shipInputSchema, type ShipInput } from "./model.server";
import { lockOrderFor, notifyBuyer, ORDER_COLUMNS, parse, restock, settleJob, transitionOrRefuse, writeTimeline, type OrderRow } from "./internal.server";

// ---------------------------------------------------------------------------------------------
// Fulfilment

export async function shipMarketOrder(db: Db, actor: Actor, merchantId: string, orderId: string, raw: ShipInput, now: Date): Promise<void> {
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
export async function receiveMarketOrder(db: Db, actor: Actor, buyerId: string, orderId: string, now: Date): Promise<void> {
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
  if (await holdWaitingJob(trx, jobId)) return;
  for (const id of orderIds) await enqueue(trx, settleJob(id));
}

/** The merchant cannot fulfil a paid order: the hold goes back to the buyer, the units on sale. */
export async function cancelPaidMarketOrder(db: Db, actor: Actor, merchantId: string, orderId: string, raw: { reason: string }, now: Date): Promise<void> {
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
