import { AUTO_RECEIPT_JOB, ORDERS_QUEUE } from "./orders";

/**
 * Time-driven steps. In server mode each becomes a BullMQ job scheduler (upserted by every worker
 * at start: the same id, so one schedule however many workers); in embedded mode the in-process
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
];
