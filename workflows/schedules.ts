import { AUTO_RECEIPT_JOB, ORDERS_QUEUE } from "./orders";
import { HOUSEKEEPING_QUEUE, PURGE_EXPIRED_JOB } from "./housekeeping";
import { PAYMENTS_QUEUE, QUERY_PENDING_PAYMENTS_JOB } from "../app/domain/payments";
import { ACCRUAL_START_JOB, FINANCING_QUEUE } from "./financing";
import { AUTO_CONFIRM_JOB, EXPIRE_CHECKOUTS_JOB, MARKET_ORDER_QUEUE, SETTLE_MARKET_ORDERS_JOB } from "./market";
import { RECONCILE_STATEMENT_JOB } from "./reconciliation";
import { SETTLEMENT_QUEUE } from "../app/domain/settlement";

/**
 * Time-driven steps. In server mode each becomes a BullMQ job scheduler (kept asserted by every
 * worker, jobs/schedule-keeper.ts: the same id, so one schedule however many workers, and back
 * after Redis is emptied, with one catch-up run of the missed sweep); in embedded mode the in-process
 * runtime enqueues one outbox row per slot. Either way the step runs with the ordinary guarantees.
 */
export interface Schedule {
  /** Stable id: the BullMQ scheduler id and the outbox job id's first part. */
  id: string;
  queue: string;
  jobName: string;
  every_ms: number;
}

export const SCHEDULES: readonly Schedule[] = [
  { id: "orders-auto-receipt", queue: ORDERS_QUEUE, jobName: AUTO_RECEIPT_JOB, every_ms: 15 * 60 * 1000 },
  // Each checkout also has its own expiry timer (outbox availableAt); the sweep is the safety net.
  { id: "market-expire-checkouts", queue: MARKET_ORDER_QUEUE, jobName: EXPIRE_CHECKOUTS_JOB, every_ms: 60 * 1000 },
  { id: "market-auto-confirm", queue: MARKET_ORDER_QUEUE, jobName: AUTO_CONFIRM_JOB, every_ms: 15 * 60 * 1000 },
  // Each receipt enqueues its own settlement; the sweep settles anything a lost job left behind.
  { id: "market-settle", queue: MARKET_ORDER_QUEUE, jobName: SETTLE_MARKET_ORDERS_JOB, every_ms: 5 * 60 * 1000 },
  // e-Pay payments whose callback never arrived and whose payer never came back: asked at the gateway.
  { id: "payments-query-pending", queue: PAYMENTS_QUEUE, jobName: QUERY_PENDING_PAYMENTS_JOB, every_ms: 2 * 60 * 1000 },
  // Expired sessions, API tokens, login failures and idempotency records, in bounded batches.
  // The daily accrual for yesterday: started once (the run row is the guard), so asking every
  // 15 minutes costs one indexed read and a run missed while everything was down starts on return.
  { id: "financing-accrual", queue: FINANCING_QUEUE, jobName: ACCRUAL_START_JOB, every_ms: 15 * 60 * 1000 },
  { id: "housekeeping-purge-expired", queue: HOUSEKEEPING_QUEUE, jobName: PURGE_EXPIRED_JOB, every_ms: 60 * 60 * 1000 },
  // Yesterday's gateway statement, imported and matched: a day already imported is one indexed
  // read, so asking hourly costs nothing and a day the gateway was down for comes in on the next try.
  { id: "settlement-reconcile", queue: SETTLEMENT_QUEUE, jobName: RECONCILE_STATEMENT_JOB, every_ms: 60 * 60 * 1000 },
];
