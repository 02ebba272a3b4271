import type { ColumnType, Generated, JSONColumnType } from "kysely";
import type { CreatedAt, NullableTimestamp } from "./foundation";

/**
 * Async work asked for by a committed business change. A row is written in the same transaction as
 * the change (so it exists if and only if the change committed), then taken out of the outbox by
 * the relay (server mode: published to BullMQ) or by the in-process runner (embedded mode: the step
 * is run to completion).
 */
export interface OutboxTable {
  id: Generated<number>;
  /** BullMQ queue the job goes to (one per workflow); never contains ':'. */
  queue: string;
  /** Job name: the key of the step in workflows/registry.ts. */
  job_name: string;
  /**
   * Deterministic `<workflow>:<id>:<step>` id, unique here and in BullMQ: asking twice for the same
   * step of the same workflow instance leaves one row and one job.
   */
  job_id: string;
  /** Ids only (never amounts to trust): the step re-reads the state it acts on. */
  payload: JSONColumnType<Record<string, unknown>, string, string>;
  created_at: CreatedAt;
  /** Not taken before this instant: a delayed job, a retry's backoff, or an in-process lease. */
  available_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** Taken out of the outbox: handed to BullMQ (server) or run (embedded); last re-sent by the sweep. */
  published_at: NullableTimestamp;
  /** Its step ran to the end. Until then a published row is in flight and may be re-sent. */
  completed_at: NullableTimestamp;
  /** Retries exhausted or a permanent error (either mode); the row is not taken again. */
  failed_at: NullableTimestamp;
  /** Times the redelivery sweep sent the job again because BullMQ no longer held it. */
  redeliveries: Generated<number>;
  /** Times a person asked for the failed job to run again (the bank's console). */
  reruns: Generated<number>;
  /** Publish attempts (relay) or step runs started (in-process runner). */
  attempts: Generated<number>;
  last_error: string | null;
  /** When `last_error` was recorded; `available_at − last_error_at` is the backoff applied. */
  last_error_at: NullableTimestamp;
}

export const NOTIFICATION_TOPICS = [
  "membership.added",
  "wallet.credited",
  "order.submitted",
  "order.confirmed",
  "order.shipped",
  "recruitment.application_submitted",
  "market_order.paid",
  "market_order.disputed",
  "market.announcement_published",
  "market_order.shipped",
  "market_order.settled",
  "market_order.refunded",
  "market_dispute.ruled",
  "order.balance_due",
  "order.return_requested",
  "order.return_approved",
  "order.return_refunded",
  "payment.left_in_wallet",
  "loan.due_soon",
  "loan.due_today",
  "loan.overdue",
] as const;
export type NotificationTopic = (typeof NOTIFICATION_TOPICS)[number];

export type NotificationRequestStatus = "pending" | "delivered";

/** The notifications workflow's state: one row per request, `pending → delivered`. */
export interface NotificationRequestsTable {
  id: Generated<string>;
  organization_id: string;
  topic: NotificationTopic;
  params: JSONColumnType<Record<string, unknown>, string, string>;
  /** Caller's de-duplication key (e.g. `wallet.credited:<transfer id>`): one request per key. */
  dedupe_key: string | null;
  status: Generated<NotificationRequestStatus>;
  requested_by_user_id: string | null;
  recipient_count: number | null;
  created_at: CreatedAt;
  delivered_at: NullableTimestamp;
}

/** The organisation-scoped inbox: one row per (request, member). */
export interface NotificationsTable {
  id: Generated<string>;
  request_id: string;
  organization_id: string;
  user_id: string;
  topic: NotificationTopic;
  params: JSONColumnType<Record<string, unknown>, string, string>;
  created_at: CreatedAt;
  read_at: NullableTimestamp;
}

export interface OutboxTables {
  outbox: OutboxTable;
  notification_requests: NotificationRequestsTable;
  notifications: NotificationsTable;
}
