import type { Redis } from "ioredis";
import type { Db } from "../db";
import type { Logger } from "../app/logger.server";
import { lockStaleInFlight, markCompleted, markExhausted, OUTBOX_LIMITS, renewLease, type OutboxRow } from "../app/domain/outbox";
import { jobOptionsFor, RUNTIME_LIMITS } from "./queues";
import { startPassLoop, type PassLoop } from "./pass-loop";
import type { JobPublisher } from "./relay";
import { within } from "../app/domain/shared";
import { STEPS, type StepRegistry } from "../workflows/registry";
import { flowFor, isParentRow, type FlowPublisher } from "./flows";

/**
 * Redelivery: an outbox row is sent until its step has run, not merely until BullMQ accepted it.
 *
 * A job handed to BullMQ can still be lost: Redis restarted empty, a FLUSHALL, a failover that
 * dropped the last writes. The worker records each finished step (`completed_at`, through the
 * {@link CompletionRecorder}); a row in flight for longer than the lease without that record is
 * looked up in BullMQ by its deterministic job id, in one transaction holding the row (FOR UPDATE
 * SKIP LOCKED, so every worker can sweep):
 *
 * | BullMQ says        | meaning                                      | the sweep                         |
 * |--------------------|----------------------------------------------|-----------------------------------|
 * | unknown            | the job is gone (Redis lost it)              | adds it again, same job id        |
 * | completed          | ran; the worker died before recording it     | records completion                |
 * | failed             | retries spent or permanent error             | ends the row as failed, with why  |
 * | waiting/active/... | still on its way (backlog, retry backoff)    | renews the lease, sends nothing   |
 *
 * Nothing is sent twice while BullMQ holds the job (an add with a held id is a no-op), and a job
 * sent again after a loss runs a step that is idempotent, so its effect is still once. A parent
 * row is sent again as its whole flow (jobs/flows.ts): children already done run again as no-ops.
 * A parent waiting for its children is `waiting-children`: held.
 */

/** The part of a BullMQ Queue the sweep uses. */
export interface JobQueue extends JobPublisher {
  getJobState(jobId: string): Promise<string>;
  getJob(jobId: string): Promise<{ failedReason?: string; attemptsMade: number; finishedOn?: number } | undefined>;
  /** The Redis key of a job's hash (BullMQ's `<prefix>:<queue>:<jobId>`). */
  toKey(jobId: string): string;
}

/** The part of an ioredis connection the sweep's lookups use. */
export type JobLookupConnection = Pick<Redis, "pipeline">;

export interface RedeliveryOptions {
  db: Db;
  /** Queues by name; rows of a queue not open here are left for a sweep that has it. */
  queues: ReadonlyMap<string, JobQueue>;
  /** Where the sweep reads job hashes: the same Redis as the queues. */
  redis: JobLookupConnection;
  /** Re-adds lost parent jobs with their children; without it such rows are left for a sweep that has it. */
  flows?: FlowPublisher;
  steps?: StepRegistry;
  logger: Logger;
  leaseMs?: number;
  batchSize?: number;
  redisTimeoutMs?: number;
}

export interface RedeliveryPassResult {
  /** Stale rows this pass locked. */
  looked: number;
  resent: number;
  completed: number;
  failed: number;
  /** Still held by BullMQ (waiting, delayed, active): lease renewed. */
  held: number;
}

const HELD_STATES = new Set(["waiting", "active", "delayed", "prioritized", "waiting-children", "paused"]);

/** One sweep over at most `batchSize` stale rows. Safe to run concurrently from any process. */
export async function redeliverOnce(options: RedeliveryOptions): Promise<RedeliveryPassResult> {
  const leaseMs = options.leaseMs ?? RUNTIME_LIMITS.redeliveryLeaseMs;
  const batchSize = options.batchSize ?? OUTBOX_LIMITS.batchSizeMax;
  const redisTimeoutMs = options.redisTimeoutMs ?? RUNTIME_LIMITS.publishTimeoutMs;
  const steps = options.steps ?? STEPS;

  return options.db.transaction().execute(async (trx) => {
    const rows = await lockStaleInFlight(trx, leaseMs, batchSize);
    const result: RedeliveryPassResult = { looked: rows.length, resent: 0, completed: 0, failed: 0, held: 0 };
    if (rows.length === 0) return result;

    const byQueue = new Map<string, OutboxRow[]>();
    for (const row of rows) byQueue.set(row.queue, [...(byQueue.get(row.queue) ?? []), row]);

    const resentIds: number[] = [];
    const heldIds: number[] = [];
    const completedJobIds: string[] = [];
    for (const [name, group] of byQueue) {
      const queue = options.queues.get(name);
      if (!queue) continue;
      const states = await within(lookUpJobs(options.redis, queue, group.map((r) => r.job_id)), redisTimeoutMs, "job state lookup");
      const resend: OutboxRow[] = [];
      for (const [i, row] of group.entries()) {
        const state = states[i];
        if (state === "unknown") resend.push(row);
        else if (state === "completed") completedJobIds.push(row.job_id);
        else if (state === "failed") {
          const job = await within(queue.getJob(row.job_id), redisTimeoutMs, "failed job lookup");
          await markExhausted(trx, row.job_id, new Error(job?.failedReason || "failed in BullMQ"), job?.attemptsMade ?? 0);
          result.failed += 1;
        } else {
          if (!HELD_STATES.has(state)) options.logger.warn({ jobId: row.job_id, state }, "redelivery: unexpected job state; lease renewed");
          heldIds.push(row.id);
        }
      }
      const parents = resend.filter((r) => isParentRow(steps, r));
      const plain = resend.filter((r) => !isParentRow(steps, r));
      if (plain.length > 0) {
        await within(
          queue.addBulk(plain.map((r) => ({ name: r.job_name, data: r.payload, opts: jobOptionsFor(r.job_id) }))),
          redisTimeoutMs,
          "publish",
        );
        resentIds.push(...plain.map((r) => r.id));
      }
      const flows = options.flows;
      if (parents.length > 0 && flows) {
        await within(Promise.all(parents.map((r) => flows.add(flowFor(steps, r)))), redisTimeoutMs, "publish flow");
        resentIds.push(...parents.map((r) => r.id));
      }
    }

    result.completed = await markCompleted(trx, completedJobIds);
    await renewLease(trx, resentIds, { resent: true });
    await renewLease(trx, heldIds, { resent: false });
    result.resent = resentIds.length;
    result.held = heldIds.length;
    if (result.resent > 0 || result.completed > 0 || result.failed > 0) {
      options.logger.warn(
        { resent: result.resent, completed: result.completed, failed: result.failed, held: result.held },
        "redelivery: outbox rows BullMQ had lost or not reported were put right",
      );
    }
    return result;
  });
}

/**
 * Where BullMQ is with each job: "unknown" (no hash: lost), "waiting" (held, not finished) or, for
 * a finished job, its state. The hashes are read with one pipelined HMGET of two fields per job, in
 * one round trip: `getJob` per row read and parsed every field of every hash (the benchmark's
 * re-delivery spent more CPU on that than on re-adding the jobs), and `getJobState` scans BullMQ's
 * wait and active lists (LPOS, O(length)). Only a finished job, which the hash cannot tell apart as
 * completed or failed, needs its state, which the first ZSCOREs of getJobState answer.
 */
async function lookUpJobs(redis: JobLookupConnection, queue: JobQueue, jobIds: readonly string[]): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (const jobId of jobIds) pipeline.hmget(queue.toKey(jobId), "name", "finishedOn");
  const replies = (await pipeline.exec()) ?? [];
  return Promise.all(
    jobIds.map(async (jobId, i) => {
      const [error, fields] = replies[i] ?? [new Error("no reply"), null];
      if (error) throw error;
      const [name, finishedOn] = fields as (string | null)[];
      if (name === null) return "unknown";
      return finishedOn ? queue.getJobState(jobId) : "waiting";
    }),
  );
}

/** How often a worker sweeps: a quarter of the lease, within bounds. */
export function redeliveryIntervalMs(leaseMs: number): number {
  return Math.min(15_000, Math.max(250, Math.floor(leaseMs / 4)));
}

export function startRedeliveryLoop(options: RedeliveryOptions): PassLoop {
  const leaseMs = options.leaseMs ?? RUNTIME_LIMITS.redeliveryLeaseMs;
  const batchSize = options.batchSize ?? OUTBOX_LIMITS.batchSizeMax;
  return startPassLoop({
    name: "redelivery",
    intervalMs: redeliveryIntervalMs(leaseMs),
    logger: options.logger,
    async pass() {
      const result = await redeliverOnce({ ...options, leaseMs, batchSize });
      return { again: result.looked === batchSize };
    },
  });
}

/**
 * Records finished steps as completed outbox rows, a batch per statement: one UPDATE per job would
 * cost every job a round trip. A record lost to a crash before its flush is not lost work: the
 * sweep finds the job completed in BullMQ, or (Redis gone too) sends it again to a step that finds
 * its work done. So the step's success never waits on this.
 */
export interface CompletionRecorder {
  record(jobId: string): void;
  /** Write everything recorded so far. */
  flush(): Promise<void>;
  /** Flush and stop taking records. */
  stop(): Promise<void>;
}

export function createCompletionRecorder(options: { db: Db; logger: Logger; flushDelayMs?: number; batchMax?: number }): CompletionRecorder {
  const flushDelayMs = options.flushDelayMs ?? RUNTIME_LIMITS.completionFlushDelayMs;
  const batchMax = options.batchMax ?? OUTBOX_LIMITS.batchSizeMax;
  // Past this many unwritten records (database down a long while) new ones are dropped: the sweep
  // reconciles them from BullMQ later; memory does not grow without bound.
  const pendingMax = batchMax * 40;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let stopped = false;
  let dropped = 0;

  async function writeOnce(): Promise<void> {
    while (pending.size > 0) {
      const ids = [...pending].slice(0, batchMax);
      for (const id of ids) pending.delete(id);
      try {
        await markCompleted(options.db, ids);
      } catch (error) {
        for (const id of ids) if (pending.size < pendingMax) pending.add(id);
        options.logger.warn({ err: error, jobs: ids.length }, "could not record completed jobs; will retry");
        if (!stopped) timer ??= setTimeout(flushNow, Math.max(flushDelayMs, 1_000));
        return;
      }
    }
  }

  function flushNow(): void {
    timer = undefined;
    flushing = flushing.then(writeOnce);
  }

  return {
    record(jobId) {
      if (stopped) return;
      if (pending.size >= pendingMax) {
        dropped += 1;
        if (dropped === 1 || dropped % 1_000 === 0) options.logger.warn({ dropped }, "completion records dropped; the sweep will reconcile them");
        return;
      }
      pending.add(jobId);
      if (pending.size >= batchMax) {
        clearTimeout(timer);
        flushNow();
      } else {
        timer ??= setTimeout(flushNow, flushDelayMs);
      }
    },
    async flush() {
      clearTimeout(timer);
      flushNow();
      await flushing;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      flushNow();
      await flushing;
    },
  };
}
