import { z } from "zod";
import { ESCROW_LIMITS, expireUnpaidCheckouts, autoConfirmShippedOrders, awaitsSettlement, continueSettlement } from "../app/domain/market";
import { settleMarketOrdersWithAssignment } from "../app/domain/financing";
import type { Step } from "./registry";

export { AUTO_CONFIRM_JOB, EXPIRE_CHECKOUTS_JOB, MARKET_ORDER_QUEUE, SETTLE_MARKET_ORDERS_JOB } from "../app/domain/market";

/**
 * The market's escrow workflow steps. Each claims its orders with SKIP LOCKED and moves them in
 * one transaction per batch, so several workers (and a retry) never move an order twice.
 */

const settlePayload = z.object({ orderId: z.string().uuid().optional() }).strict();
export type SettlePayload = z.infer<typeof settlePayload>;
export const parseSettlePayload = (data: unknown): SettlePayload => settlePayload.parse(data ?? {});

const sweepPayload = z.object({}).strict();
export const parseSweepPayload = (data: unknown): Record<string, never> => sweepPayload.parse(data ?? {}) as Record<string, never>;

/** Batches one run of a sweep takes at most; the next run (or the next receipt) takes the rest. */
const MAX_BATCHES_PER_RUN = 20;

/**
 * Settlement: whatever is due, oldest receipt first, in batches whose postings are a handful of
 * statements each (the holds posted, the commissions split). A receipt's job whose order is
 * already settled — by another job's batch — stops at one indexed read, so a burst of receipts
 * costs a few large transactions, not one per order.
 */
export const settleStep: Step<SettlePayload> = async (deps, payload) => {
  const now = deps.now?.() ?? new Date();
  if (payload.orderId) {
    if (!(await awaitsSettlement(deps.db, payload.orderId))) return;
  }
  let settled = 0;
  let more = false;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    // The proceeds of an order whose receivable was sold go on to the bank in the same transaction.
    const batch = await settleMarketOrdersWithAssignment(deps.db, { limit: ESCROW_LIMITS.settleBatch, now });
    settled += batch.length;
    more = batch.length === ESCROW_LIMITS.settleBatch;
    if (!more) break;
  }
  // Receipts share sweep jobs now: the rest of a burst is a continuation's, not the 5-minute sweep's.
  if (more) await continueSettlement(deps.db, deps.now?.() ?? new Date());
  if (settled > 0) deps.logger.info({ settled }, "market orders settled");
};

/** Unpaid checkouts past the market's limit expire; their units go back on sale. */
export const expireCheckoutsStep: Step<Record<string, never>> = async (deps) => {
  const now = deps.now?.() ?? new Date();
  let expired = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const batch = await expireUnpaidCheckouts(deps.db, now, ESCROW_LIMITS.sweepBatch);
    expired += batch.length;
    if (batch.length < ESCROW_LIMITS.sweepBatch) break;
  }
  if (expired > 0) deps.logger.info({ expired }, "unpaid market checkouts expired");
};

/** Shipped orders past the market's auto-confirm days are received; settlement jobs follow. */
export const autoConfirmStep: Step<Record<string, never>> = async (deps) => {
  const now = deps.now?.() ?? new Date();
  let confirmed = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const batch = await autoConfirmShippedOrders(deps.db, now, ESCROW_LIMITS.sweepBatch);
    confirmed += batch.length;
    if (batch.length < ESCROW_LIMITS.sweepBatch) break;
  }
  if (confirmed > 0) deps.logger.info({ confirmed }, "shipped market orders auto-confirmed");
};
