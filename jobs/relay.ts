import type { JobsOptions } from "bullmq";
import type { Db } from "../db";
import type { Logger } from "../app/logger.server";
import { lockPublishableBatch, markPublished, OUTBOX_LIMITS, pruneOutbox, recordPublishFailure, type OutboxRow } from "../app/domain/outbox";
import { jobOptionsFor, OUTBOX_RETENTION_MS, PUBLISH_RETRY_POLICY, RUNTIME_LIMITS } from "./queues";
import { startPassLoop, type PassLoop } from "./pass-loop";
import { within } from "../app/domain/shared";
import { STEPS, type StepRegistry } from "../workflows/registry";
import { flowFor, isParentRow, type FlowPublisher } from "./flows";

/**
 * The relay: moves committed outbox rows into BullMQ.
 *
 * One pass = one PostgreSQL transaction: lock a batch of due rows (FOR UPDATE SKIP LOCKED, so any
 * number of relays run side by side on disjoint rows), `addBulk` them per queue with
 * `jobId` = the row's deterministic job id, mark them published, commit.
 *
 * Crash anywhere before the commit: the rows stay unpublished and are published again by the next
 * pass. BullMQ ignores an add whose job id it still holds (we keep finished jobs for a while), and
 * the step is idempotent anyway. So the guarantee is at-least-once publish, exactly-once effect.
 *
 * A parent step's row (the accrual run's close) is added as a flow with its children
 * (jobs/flows.ts), one FlowProducer call per such row.
 */

export interface BulkJob {
  name: string;
  data: Record<string, unknown>;
  opts: JobsOptions;
}

/** The part of a BullMQ Queue the relay uses. */
export interface JobPublisher {
  addBulk(jobs: BulkJob[]): Promise<unknown>;
  /** Drops a finished job of this id (a re-run's failed predecessor); 0 when there is none. */
  remove(jobId: string): Promise<number>;
}

export interface RelayHooks {
  /**
   * Fault injection for tests: runs after the jobs are in BullMQ and before the rows are marked;
   * throwing here is a crash between publish and mark.
   */
  afterPublish?(rows: readonly OutboxRow[]): void | Promise<void>;
}

export interface RelayOptions {
  db: Db;
  /** Publisher per queue name; a row for a queue not listed here waits (deploy skew) with backoff. */
  publishers: ReadonlyMap<string, JobPublisher>;
  /** Adds parent rows as flows; without it such rows wait with backoff, like an unknown queue. */
  flows?: FlowPublisher;
  /** Which job names are parents, and their children; defaults to the real registry. */
  steps?: StepRegistry;
  logger: Logger;
  batchSize?: number;
  publishTimeoutMs?: number;
  hooks?: RelayHooks;
}

export interface RelayPassResult {
  /** Rows this pass locked (others' locked rows are skipped, not counted). */
  locked: number;
  published: number;
  failed: number;
}

/** One relay pass over at most `batchSize` rows. Safe to call concurrently from any process. */
export async function relayOnce(options: RelayOptions): Promise<RelayPassResult> {
  const batchSize = options.batchSize ?? RUNTIME_LIMITS.relayBatchSize;
  if (batchSize > OUTBOX_LIMITS.batchSizeMax) throw new Error(`relay batch size is at most ${OUTBOX_LIMITS.batchSizeMax}`);
  const publishTimeoutMs = options.publishTimeoutMs ?? RUNTIME_LIMITS.publishTimeoutMs;
  const steps = options.steps ?? STEPS;

  return options.db.transaction().execute(async (trx) => {
    const rows = await lockPublishableBatch(trx, batchSize);
    if (rows.length === 0) return { locked: 0, published: 0, failed: 0 };

    const byQueue = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const group = byQueue.get(row.queue);
      if (group) group.push(row);
      else byQueue.set(row.queue, [row]);
    }

    const publishedIds: number[] = [];
    const failures: { ids: number[]; error: unknown }[] = [];
    for (const [queue, group] of byQueue) {
      const publisher = options.publishers.get(queue);
      const ids = group.map((r) => r.id);
      if (!publisher) {
        failures.push({ ids, error: new Error(`no publisher for queue ${queue} (is this worker older than the web?)`) });
        continue;
      }
      try {
        // A re-run asked for by a person: BullMQ still keeps the failed job under this id, and an
        // add of a held id is a no-op. Rare (a console action), so one call per such row is fine.
        const reruns = group.filter((r) => r.reruns > 0);
        if (reruns.length > 0) await within(Promise.all(reruns.map((r) => publisher.remove(r.job_id))), publishTimeoutMs, "remove");
        const parents = group.filter((r) => isParentRow(steps, r));
        const plain = parents.length === 0 ? group : group.filter((r) => !isParentRow(steps, r));
        if (parents.length > 0) {
          const flows = options.flows;
          if (!flows) throw new Error(`no flow publisher for the parent jobs of queue ${queue}`);
          await within(Promise.all(parents.map((r) => flows.add(flowFor(steps, r)))), publishTimeoutMs, "publish flow");
        }
        if (plain.length > 0) {
          await within(
            publisher.addBulk(plain.map((r) => ({ name: r.job_name, data: r.payload, opts: jobOptionsFor(r.job_id) }))),
            publishTimeoutMs,
            "publish",
          );
        }
        publishedIds.push(...ids);
      } catch (error) {
        failures.push({ ids, error });
      }
    }

    const published = new Set(publishedIds);
    await options.hooks?.afterPublish?.(rows.filter((r) => published.has(r.id)));

    await markPublished(trx, publishedIds);
    for (const failure of failures) {
      options.logger.warn({ err: failure.error, outboxIds: failure.ids }, "relay: publish failed; rows held back with backoff");
      await recordPublishFailure(trx, failure.ids, failure.error, PUBLISH_RETRY_POLICY);
    }
    const failed = failures.reduce((n, f) => n + f.ids.length, 0);
    return { locked: rows.length, published: publishedIds.length, failed };
  });
}

export interface RelayLoopOptions extends RelayOptions {
  pollIntervalMs?: number;
}

export type RelayLoop = PassLoop;

/**
 * Run relay passes until stopped (jobs/pass-loop.ts: at once again while batches come back full,
 * every `pollIntervalMs` when idle, backing off while passes fail). Also deletes long-completed
 * outbox rows now and then; each loop does it, SKIP LOCKED keeps them from colliding.
 */
export function startRelayLoop(options: RelayLoopOptions): RelayLoop {
  const batchSize = options.batchSize ?? RUNTIME_LIMITS.relayBatchSize;
  let lastPruneAtMs = 0;
  return startPassLoop({
    name: "relay",
    intervalMs: options.pollIntervalMs ?? RUNTIME_LIMITS.relayPollIntervalMs,
    logger: options.logger,
    async pass() {
      const result = await relayOnce({ ...options, batchSize });
      if (Date.now() - lastPruneAtMs >= RUNTIME_LIMITS.pruneIntervalMs) {
        lastPruneAtMs = Date.now();
        const deleted = await pruneOutbox(options.db, { retentionMs: OUTBOX_RETENTION_MS, limit: RUNTIME_LIMITS.pruneBatchSize });
        if (deleted > 0) options.logger.info({ deleted }, "relay: pruned completed outbox rows");
      }
      return { again: result.locked === batchSize && result.failed === 0 };
    },
  });
}
