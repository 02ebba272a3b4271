import type { Db } from "../db";
import type { Logger } from "../app/logger.server";
import { claimNextRunnable, markRun, OUTBOX_LIMITS, pruneOutbox, recordRunFailure, type RetryPolicy } from "../app/domain/outbox";
import { PermanentStepError, runWithChildren, STEPS, type StepRegistry } from "../workflows/registry";
import { OUTBOX_RETENTION_MS, RUNTIME_LIMITS, STEP_RETRY_POLICY } from "./queues";

/**
 * Embedded mode's job runner (no Redis): polls the outbox and calls the same step functions the
 * BullMQ workers call, with the same retry policy, recorded in the outbox row itself
 * (`attempts`, `last_error`, `available_at`; `failed_at` when given up).
 *
 * One step at a time: PGlite has a single connection, and a step holding a transaction while
 * another step waits for it would only queue behind it anyway. Runs never overlap within the
 * process (every pass goes through one promise chain); across processes (the runner pointed at a
 * real PostgreSQL without Redis) rows are claimed with SKIP LOCKED and a lease, so two runners
 * never take the same row at the same time, and a row whose runner died comes back after the lease.
 */

export interface InProcessRunnerOptions {
  db: Db;
  logger: Logger;
  /** Defaults to the real registry; tests pass their own steps. */
  steps?: StepRegistry;
  pollIntervalMs?: number;
  retry?: RetryPolicy;
  leaseMs?: number;
  rowsPerTick?: number;
  now?: () => Date;
}

export interface RunPassResult {
  ran: number;
  failed: number;
}

export interface InProcessRunner {
  /** Begin polling; a no-op when already started. */
  start(): void;
  /** Stop polling and wait for the step in flight to finish. */
  stop(): Promise<void>;
  /** One pass: run due rows, one after another, up to the per-tick limit. */
  runOnce(): Promise<RunPassResult>;
  /** Passes until one finds nothing due (or `maxPasses`); for tests and for draining on demand. */
  runUntilIdle(options?: { maxPasses?: number }): Promise<RunPassResult>;
  health(): { ok: boolean; detail: string };
}

export function createInProcessRunner(options: InProcessRunnerOptions): InProcessRunner {
  const steps = options.steps ?? STEPS;
  const retry = options.retry ?? STEP_RETRY_POLICY;
  const pollIntervalMs = options.pollIntervalMs ?? RUNTIME_LIMITS.inProcessPollIntervalMs;
  const leaseMs = options.leaseMs ?? RUNTIME_LIMITS.inProcessLeaseMs;
  const rowsPerTick = options.rowsPerTick ?? RUNTIME_LIMITS.inProcessRowsPerTick;
  if (!Number.isInteger(rowsPerTick) || rowsPerTick < 1 || rowsPerTick > OUTBOX_LIMITS.batchSizeMax) {
    throw new Error(`in-process runner: rowsPerTick must be in 1..${OUTBOX_LIMITS.batchSizeMax}`);
  }
  const logger = options.logger.child({ component: "in-process-runner" });
  const deps = { db: options.db, logger, now: options.now ?? (() => new Date()) };

  let chain: Promise<unknown> = Promise.resolve();
  let running = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | null = null;
  let lastPassAt: Date | null = null;
  let lastPassError: string | null = null;
  let consecutivePassFailures = 0;
  let lastPruneAtMs = 0;

  /** Serialise: each call waits for the previous one, whatever it returned or threw. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = chain.then(work, work);
    chain = result.catch(() => undefined);
    return result;
  }

  async function pass(): Promise<RunPassResult> {
    let ran = 0;
    let failed = 0;
    const seen: number[] = [];
    for (let i = 0; i < rowsPerTick; i++) {
      const row = await claimNextRunnable(options.db, leaseMs, { skipIds: seen });
      if (!row) break;
      seen.push(row.id);
      try {
        // A parent job (a BullMQ flow in server mode) runs its children first, here in order.
        await runWithChildren(steps, deps, row.job_name, row.payload);
        await markRun(options.db, row.id);
        ran += 1;
      } catch (error) {
        failed += 1;
        const permanent = error instanceof PermanentStepError;
        const outcome = await recordRunFailure(options.db, row, error, retry, { permanent });
        const log = { err: error, jobId: row.job_id, attempts: row.attempts, retryInMs: outcome.retryInMs };
        if (outcome.givenUp) logger.error(log, "step failed; given up");
        else logger.warn(log, "step failed; will retry");
      }
    }
    return { ran, failed };
  }

  const runOnce = () => exclusive(pass);

  async function tick(): Promise<void> {
    let delayMs = pollIntervalMs;
    try {
      const result = await runOnce();
      lastPassAt = new Date();
      lastPassError = null;
      consecutivePassFailures = 0;
      // A full tick means more is probably due: go again at once (after yielding to I/O).
      if (result.ran + result.failed === rowsPerTick) delayMs = 0;
      if (!stopped && Date.now() - lastPruneAtMs >= RUNTIME_LIMITS.pruneIntervalMs) {
        lastPruneAtMs = Date.now();
        await exclusive(() => pruneOutbox(options.db, { retentionMs: OUTBOX_RETENTION_MS, limit: RUNTIME_LIMITS.pruneBatchSize }));
      }
    } catch (error) {
      // The database itself failed (not a step): back off, capped, and keep going.
      consecutivePassFailures += 1;
      lastPassError = (error as Error).message;
      delayMs = Math.min(30_000, pollIntervalMs * 2 ** Math.min(consecutivePassFailures, 10));
      logger.error({ err: error, retryInMs: delayMs }, "in-process runner: pass failed");
    }
    if (running && !stopped) timer = setTimeout(scheduleTick, delayMs);
  }

  function scheduleTick(): void {
    ticking = tick().finally(() => {
      ticking = null;
    });
  }

  return {
    start() {
      if (running || stopped) return;
      running = true;
      timer = setTimeout(scheduleTick, 0);
    },
    async stop() {
      stopped = true;
      running = false;
      clearTimeout(timer);
      await ticking;
      await chain;
    },
    runOnce,
    async runUntilIdle({ maxPasses = 100 } = {}) {
      const total = { ran: 0, failed: 0 };
      for (let i = 0; i < maxPasses; i++) {
        const result = await runOnce();
        total.ran += result.ran;
        total.failed += result.failed;
        if (result.ran + result.failed === 0) break;
      }
      return total;
    },
    health() {
      if (!running) return { ok: false, detail: stopped ? "in-process runner stopped" : "in-process runner not started" };
      if (lastPassError) return { ok: false, detail: `in-process runner: last pass failed: ${lastPassError}` };
      return { ok: true, detail: `in-process runner polling; last pass ${lastPassAt?.toISOString() ?? "pending"}` };
    },
  };
}
