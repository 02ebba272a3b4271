import type { JobsOptions } from "bullmq";
import type { RetryPolicy } from "../app/domain/outbox";
import { NOTIFICATIONS_QUEUE } from "../app/domain/notifications";
import { queueNamesOf, STEPS } from "../workflows/registry";

/**
 * BullMQ wiring constants: the queues workers listen on, and the job options every published job
 * gets. One queue per workflow; the steps (workflows/registry.ts) say which queue they live on.
 */

/** Every queue a worker listens on: derived from the registry so a new step cannot be forgotten. */
export const QUEUE_NAMES: readonly string[] = queueNamesOf(STEPS);

/**
 * Retries of a failing step, the same in both modes: BullMQ's exponential backoff is
 * `base · 2^(attempt − 1)`, so with 10 attempts and a 1 s base the longest wait is 256 s (< cap);
 * the in-process runner applies the cap explicitly. About 8.5 minutes from first to last try.
 */
export const STEP_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  backoffBaseMs: 1_000,
  backoffCapMs: 5 * 60_000,
};

/** The relay's own retry of a publish (Redis down): never given up, backoff capped at a minute. */
export const PUBLISH_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 100,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
};

/**
 * How long BullMQ keeps finished jobs. While a job is kept, adding the same job id again is a
 * no-op: this is the window in which a relay that crashed between publish and mark (and so
 * publishes again) cannot cause a second run. After it, a second run is still harmless because
 * steps are idempotent; the window only saves the work.
 */
export const JOB_RETENTION = {
  completedAgeSeconds: 7 * 24 * 3600,
  completedCountMax: 100_000,
  failedAgeSeconds: 30 * 24 * 3600,
  failedCountMax: 100_000,
} as const;

/** Outbox rows already published are deleted after this long (they are history, not state). */
export const OUTBOX_RETENTION_MS = 7 * 24 * 3600 * 1000;

export const RUNTIME_LIMITS = {
  relayBatchSize: 200,
  /** A publish that takes longer is abandoned and retried; BullMQ dedups if it landed after all. */
  publishTimeoutMs: 10_000,
  relayPollIntervalMs: 250,
  inProcessPollIntervalMs: 500,
  /** Concurrent jobs per queue per worker process; the pg pool (20) must cover the sum. */
  workerConcurrency: 8,
  workerConcurrencyMax: 50,
  /** In-process: a claimed row comes back if its step has not finished in this time. */
  inProcessLeaseMs: 5 * 60_000,
  /** In-process: rows run per tick before yielding to the event loop and the next poll. */
  inProcessRowsPerTick: 50,
  healthTimeoutMs: 1_500,
  redisConnectTimeoutMs: 2_000,
  /**
   * A published job whose step has not recorded completion within this is looked up in BullMQ and
   * sent again if BullMQ lost it (jobs/redelivery.ts). Longer than a relay-to-worker hop by far;
   * short enough that a Redis restart costs a minute or so of delay. OUTBOX_LEASE_MS overrides it.
   */
  redeliveryLeaseMs: 60_000,
  /** Finished steps are recorded in batches gathered over this long. */
  completionFlushDelayMs: 20,
  pruneIntervalMs: 10 * 60_000,
  pruneBatchSize: 5_000,
} as const;

/** Options of every job the relay publishes; `jobId` is the outbox row's deterministic id. */
export function jobOptionsFor(jobId: string): JobsOptions {
  return {
    jobId,
    attempts: STEP_RETRY_POLICY.maxAttempts,
    backoff: { type: "exponential", delay: STEP_RETRY_POLICY.backoffBaseMs },
    removeOnComplete: { age: JOB_RETENTION.completedAgeSeconds, count: JOB_RETENTION.completedCountMax },
    removeOnFail: { age: JOB_RETENTION.failedAgeSeconds, count: JOB_RETENTION.failedCountMax },
  };
}

/**
 * Jobs at once per worker for a queue. A queue whose step is group-committed (notification
 * deliveries share a transaction, DELIVERY_GROUP_COMMIT) holds no connection per running job: its
 * jobs wait to join a batch, and more of them at once make fuller batches (measured with
 * `npm run bench -- recovery`: 8 → 24 took deliveries from 1,476 to 2,720 jobs/s). Every other
 * step holds a connection while it runs and stays at the default.
 */
const QUEUE_CONCURRENCY: Readonly<Record<string, number>> = { [NOTIFICATIONS_QUEUE]: 32 };

export function workerConcurrencyFor(queue: string): number {
  return QUEUE_CONCURRENCY[queue] ?? RUNTIME_LIMITS.workerConcurrency;
}
