import { inTransaction, type Db } from "../../../../db";
import { enqueue } from "../../outbox";
import { isUuid } from "../../shared";
import { ESCROW_LIMITS, MARKET_ORDER_QUEUE, SETTLE_MARKET_ORDERS_JOB } from "./model.server";
import { ORDER_COLUMNS, resolveHolds, transitionOrRefuse } from "./internal.server";

// ---------------------------------------------------------------------------------------------
// Settlement

/** A sweep that stopped at its batch limit with more due hands the rest to a new sweep job. */
export async function continueSettlement(db: Db, now: Date): Promise<void> {
  await inTransaction(db, (trx) =>
    enqueue(trx, { queue: MARKET_ORDER_QUEUE, name: SETTLE_MARKET_ORDERS_JOB, jobId: `market:sweep-${now.getTime()}:settle`, payload: {} }),
  );
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
  options: { limit?: number; now: Date; orderIds?: readonly string[] },
): Promise<string[]> {
  const limit = Math.min(Math.max(options.limit ?? ESCROW_LIMITS.settleBatch, 1), 2_000);
  const now = options.now;
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
