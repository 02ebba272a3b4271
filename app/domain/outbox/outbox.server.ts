import { sql, type RawBuilder, type Selectable, type Transaction } from "kysely";
import type { Database, Db } from "../../../db";
import { insertFromArrays, type ArrayColumns } from "../../../db/unnest";
import type { OutboxTable } from "../../../db/schema";
import { recordAudit, type Actor, DomainError } from "../shared";

/**
 * The outbox: the only way a model asks for async work.
 *
 * Invariants:
 * - a row exists if and only if the business change that wrote it committed (same transaction);
 * - one row per job id (`<workflow>:<id>:<step>`), so asking twice for the same step is harmless;
 * - a row is taken out (published or run) at least once, and sent again while its step has not
 *   recorded completion (redelivery sweep, jobs/redelivery.ts); the step it names is idempotent,
 *   so "at least once" has the effect of "exactly once";
 * - a row ends at most once: `completed_at` (its step ran) or `failed_at` (given up, listed for a
 *   person), never both (CHECK outbox_one_ending).
 *
 * Everything that reads or moves outbox rows lives here, so the relay (jobs/relay.ts) and the
 * in-process runner (jobs/in-process-runner.ts) share one set of queries.
 */

export type Trx = Transaction<Database>;
export type OutboxRow = Selectable<OutboxTable>;

export const OUTBOX_LIMITS = {
  /** Job data is ids and a few display strings; anything bigger is a bug (or money data). */
  payloadBytesMax: 8 * 1024,
  jobIdPartCharsMax: 200,
  lastErrorCharsMax: 2_000,
  /** Largest batch the relay may lock and publish at once. */
  batchSizeMax: 500,
  /** Largest number of published rows deleted by one prune. */
  pruneBatchMax: 5_000,
} as const;

/** BullMQ: a queue name may not contain ':'; ours are lower-case words so keys stay readable. */
const QUEUE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const JOB_ID_PART = /^[^:]+$/;

export interface RetryPolicy {
  /** Runs (or publish attempts) before the row is given up on. */
  maxAttempts: number;
  /** Delay after the first failure; doubles after each further failure… */
  backoffBaseMs: number;
  /** …up to this cap. */
  backoffCapMs: number;
}

export interface OutboxJob {
  queue: string;
  /** The step's key in workflows/registry.ts. */
  name: string;
  /** `<workflow>:<id>:<step>`; build it with {@link outboxJobId}. */
  jobId: string;
  payload: Record<string, unknown>;
  /** Run no earlier than this (a timer); defaults to as soon as the transaction commits. */
  availableAt?: Date;
}

/** The deterministic job id of one step of one workflow instance. */
export function outboxJobId(workflow: string, id: string, step: string): string {
  for (const [label, part] of [["workflow", workflow], ["id", id], ["step", step]] as const) {
    if (!JOB_ID_PART.test(part) || part.length > OUTBOX_LIMITS.jobIdPartCharsMax) {
      throw new Error(`outbox: job id ${label} "${part}" must be 1–${OUTBOX_LIMITS.jobIdPartCharsMax} characters without ':'`);
    }
  }
  return `${workflow}:${id}:${step}`;
}

function assertValidJob(job: OutboxJob): string {
  if (!QUEUE_NAME.test(job.queue)) throw new Error(`outbox: queue name "${job.queue}" is not a lower-case word without ':'`);
  if (!job.name || job.name.length > 100) throw new Error("outbox: job name must be 1–100 characters");
  const parts = job.jobId.split(":");
  if (parts.length !== 3) throw new Error(`outbox: job id "${job.jobId}" must be <workflow>:<id>:<step>`);
  outboxJobId(parts[0], parts[1], parts[2]);
  if (job.payload === null || typeof job.payload !== "object" || Array.isArray(job.payload)) {
    throw new Error("outbox: payload must be a plain object");
  }
  const payload = JSON.stringify(job.payload);
  if (Buffer.byteLength(payload, "utf8") > OUTBOX_LIMITS.payloadBytesMax) {
    throw new Error(`outbox: payload of ${job.jobId} is over ${OUTBOX_LIMITS.payloadBytesMax} bytes; carry ids, not data`);
  }
  return payload;
}

/**
 * Ask for async work as part of the caller's transaction. Takes a transaction, not a db: a row
 * written outside the business change's transaction could survive its rollback, or be lost after
 * its commit, which is exactly what the outbox exists to prevent.
 *
 * The same job id twice leaves one row (ON CONFLICT DO NOTHING); `enqueued` says which call won.
 */
export async function enqueue(trx: Trx, job: OutboxJob): Promise<{ enqueued: boolean }> {
  if (!trx.isTransaction) throw new Error("outbox: enqueue must run inside the business change's transaction");
  const [values] = outboxRows([job]);
  const row = await trx
    .insertInto("outbox")
    .values(values)
    .onConflict((oc) => oc.column("job_id").doNothing())
    .returning("id")
    .executeTakeFirst();
  return { enqueued: row !== undefined };
}

/** Several jobs in one INSERT, each as `enqueue` would write it (a job id already there is left as it is). */
export async function enqueueAll(trx: Trx, jobs: readonly OutboxJob[]): Promise<void> {
  if (!trx.isTransaction) throw new Error("outbox: enqueue must run inside the business change's transaction");
  if (jobs.length === 0) return;
  await trx
    .insertInto("outbox")
    .values(outboxRows(jobs))
    .onConflict((oc) => oc.column("job_id").doNothing())
    .execute();
}

const JOB_ARRAY_COLUMNS: ArrayColumns<ReturnType<typeof outboxRows>[number]> = [
  ["queue", "text"],
  ["job_name", "text"],
  ["job_id", "text"],
  ["payload", "jsonb"],
];

/**
 * The INSERT of jobs (none with `availableAt`) for a WITH clause of a caller's statement, as
 * `enqueueAll` writes them: one statement text whatever their number. `keepIf` (over the rows as
 * `v`, payload as text: see insertFromArrays) writes only some, e.g. the jobs of requests the same
 * statement created.
 */
export function enqueueClause(jobs: readonly OutboxJob[], keepIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  if (jobs.some((job) => job.availableAt)) throw new Error("outbox: a job with availableAt is enqueued on its own");
  return sql`${insertFromArrays("outbox", outboxRows(jobs), JOB_ARRAY_COLUMNS, keepIf)} on conflict (job_id) do nothing`;
}

/**
 * Whether the job with this id is still waiting in the outbox, due and not yet taken, share-locking
 * its row until the caller's transaction ends: a caller that finds it may rely on it to run after
 * its own commit (the relay and the in-process runner take only rows they can lock).
 */
export async function holdWaitingJob(trx: Trx, jobId: string): Promise<boolean> {
  const row = await trx
    .selectFrom("outbox")
    .select("id")
    .where("job_id", "=", jobId)
    .where("published_at", "is", null)
    .where("failed_at", "is", null)
    .where("available_at", "<=", sql<Date>`now()`)
    .forShare()
    .executeTakeFirst();
  return row !== undefined;
}

/** The outbox rows of jobs, checked as `enqueue` checks them: for callers that write them in a statement of their own. */
export function outboxRows(jobs: readonly OutboxJob[]) {
  return jobs.map((job) => ({
    queue: job.queue,
    job_name: job.name,
    job_id: job.jobId,
    payload: assertValidJob(job),
    ...(job.availableAt ? { available_at: job.availableAt } : {}),
  }));
}

function assertBatchSize(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > OUTBOX_LIMITS.batchSizeMax) {
    throw new Error(`outbox: batch size ${limit} must be an integer in 1..${OUTBOX_LIMITS.batchSizeMax}`);
  }
}

function assertRetryPolicy(policy: RetryPolicy): void {
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1 || policy.maxAttempts > 100) {
    throw new Error("outbox: maxAttempts must be an integer in 1..100");
  }
  if (!(policy.backoffBaseMs > 0) || !(policy.backoffCapMs >= policy.backoffBaseMs)) {
    throw new Error("outbox: backoff needs 0 < backoffBaseMs <= backoffCapMs");
  }
}

/** `base · 2^(attempts − 1)`, capped; `attempts` counts the failure just recorded (≥ 1). */
export function backoffMs(attempts: number, policy: RetryPolicy): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** exponent);
}

function truncateError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, OUTBOX_LIMITS.lastErrorCharsMax);
}

// Clock exception: the outbox schedules I/O on the database clock alone (available_at, leases, retries, retention all stamped and compared with now()), so relays on several hosts agree.
const waiting = sql<boolean>`published_at is null and failed_at is null`;
const inFlight = sql<boolean>`published_at is not null and completed_at is null and failed_at is null`;

/**
 * Lock up to `limit` due rows for publishing, oldest first. SKIP LOCKED: several relays (one per
 * worker process) each take rows no other relay holds, and none waits on another.
 */
export async function lockPublishableBatch(trx: Trx, limit: number): Promise<OutboxRow[]> {
  assertBatchSize(limit);
  return trx
    .selectFrom("outbox")
    .selectAll()
    .where(waiting)
    .where("available_at", "<=", sql<Date>`now()`)
    .orderBy("id")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/**
 * Taken out of the outbox: published to BullMQ, or (in-process) run to completion. `last_error`
 * stays as history of what it took.
 */
export async function markPublished(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("outbox")
    .set({ published_at: sql<Date>`now()` })
    .where("id", "in", ids)
    .where("published_at", "is", null)
    .execute();
}

/**
 * These jobs' steps ran to the end (a BullMQ worker, or the sweep finding them completed in BullMQ).
 * By job id, since that is what a BullMQ job carries. A row still unmarked by its relay (a job can
 * finish before the relay's transaction commits; this statement then waits for it) counts as
 * published too. Returns how many rows this call completed.
 */
export async function markCompleted(db: Db, jobIds: readonly string[]): Promise<number> {
  if (jobIds.length === 0) return 0;
  if (jobIds.length > OUTBOX_LIMITS.batchSizeMax * 4) throw new Error(`outbox: at most ${OUTBOX_LIMITS.batchSizeMax * 4} completions at once`);
  const result = await db
    .updateTable("outbox")
    .set({ completed_at: sql<Date>`now()`, published_at: sql<Date>`coalesce(published_at, now())` })
    .where("job_id", "in", jobIds)
    .where("completed_at", "is", null)
    .where("failed_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * BullMQ gave up on this job (retries spent, or a permanent error): the row ends as failed, with the
 * reason, and is listed for a person (/healthz, the bank's console) instead of being sent again.
 */
export async function markExhausted(db: Db, jobId: string, error: unknown, runs: number): Promise<boolean> {
  const result = await db
    .updateTable("outbox")
    .set({
      failed_at: sql<Date>`now()`,
      last_error: truncateError(error),
      last_error_at: sql<Date>`now()`,
      // For a published row `attempts` counted publishes; what a reader wants now is how often it ran.
      attempts: sql<number>`greatest(attempts, ${Math.max(0, Math.floor(runs))}::int)`,
    })
    .where("job_id", "=", jobId)
    .where("completed_at", "is", null)
    .where("failed_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Rows handed to BullMQ more than `leaseMs` ago whose steps have not recorded completion, oldest
 * first, locked for the redelivery sweep (SKIP LOCKED: one sweep per worker, disjoint rows).
 */
export async function lockStaleInFlight(trx: Trx, leaseMs: number, limit: number): Promise<OutboxRow[]> {
  assertBatchSize(limit);
  if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new Error("outbox: leaseMs must be a positive integer");
  return trx
    .selectFrom("outbox")
    .selectAll()
    .where(inFlight)
    .where("published_at", "<", sql<Date>`now() - ${leaseMs} * interval '1 millisecond'`)
    .orderBy("published_at")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/**
 * The sweep looked at these in-flight rows: a new lease from now. `resent`: BullMQ no longer had
 * them and they were sent again (counted in `redeliveries`); otherwise BullMQ still holds them
 * (waiting, delayed for a retry, running) and nothing was sent.
 */
export async function renewLease(trx: Trx, ids: readonly number[], options: { resent: boolean }): Promise<void> {
  if (ids.length === 0) return;
  await trx
    .updateTable("outbox")
    .set({
      published_at: sql<Date>`now()`,
      ...(options.resent ? { redeliveries: sql<number>`redeliveries + 1` } : {}),
    })
    .where("id", "in", ids)
    .where(inFlight)
    .execute();
}

/**
 * The relay could not publish these rows (Redis down, unknown queue after a deploy skew): count the
 * attempt and hold them back with capped exponential backoff. The relay never gives a row up: the
 * work was committed and must happen once the cause is fixed.
 */
export async function recordPublishFailure(db: Db, ids: readonly number[], error: unknown, policy: RetryPolicy): Promise<void> {
  if (ids.length === 0) return;
  assertRetryPolicy(policy);
  // attempts here is the value before this failure, so the first failure waits base · 2^0.
  const delayMs = sql<number>`least(${policy.backoffCapMs}::float8, ${policy.backoffBaseMs}::float8 * power(2, least(attempts, 30)))`;
  await db
    .updateTable("outbox")
    .set({
      attempts: sql<number>`attempts + 1`,
      last_error: truncateError(error),
      last_error_at: sql<Date>`now()`,
      available_at: sql<Date>`now() + ${delayMs} * interval '1 millisecond'`,
    })
    .where("id", "in", ids)
    .where(waiting)
    .execute();
}

/**
 * In-process runner: claim the oldest due row by pushing its `available_at` a lease into the future
 * and counting the attempt, in one statement. If the process dies mid-step the lease runs out and
 * the row is due again; no lock is held while the step runs (PGlite has a single connection).
 * `skipIds`: rows this pass already ran, so a short backoff cannot make one pass spin on one row.
 */
export async function claimNextRunnable(
  db: Db,
  leaseMs: number,
  options: { skipIds?: readonly number[] } = {},
): Promise<OutboxRow | undefined> {
  if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new Error("outbox: leaseMs must be a positive integer");
  const skipIds = options.skipIds ?? [];
  if (skipIds.length > OUTBOX_LIMITS.batchSizeMax) throw new Error(`outbox: at most ${OUTBOX_LIMITS.batchSizeMax} ids to skip`);
  return db
    .updateTable("outbox")
    .set({
      attempts: sql<number>`attempts + 1`,
      available_at: sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`,
    })
    .where("id", "=", (eb) =>
      eb
        .selectFrom("outbox")
        .select("id")
        .where(waiting)
        .where("available_at", "<=", sql<Date>`now()`)
        .$if(skipIds.length > 0, (qb) => qb.where("id", "not in", skipIds))
        .orderBy("id")
        .limit(1)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .executeTakeFirst();
}

/**
 * In-process runner: a claimed row's step failed. Retry after capped exponential backoff, or give
 * up (`failed_at`) once the attempts are spent or the error is permanent.
 */
export async function recordRunFailure(
  db: Db,
  row: Pick<OutboxRow, "id" | "attempts">,
  error: unknown,
  policy: RetryPolicy,
  options: { permanent?: boolean } = {},
): Promise<{ givenUp: boolean; retryInMs: number | null }> {
  assertRetryPolicy(policy);
  const givenUp = options.permanent === true || row.attempts >= policy.maxAttempts;
  const retryInMs = givenUp ? null : backoffMs(row.attempts, policy);
  await db
    .updateTable("outbox")
    .set(
      retryInMs === null
        ? { failed_at: sql<Date>`now()`, last_error: truncateError(error), last_error_at: sql<Date>`now()` }
        : {
            last_error: truncateError(error),
            last_error_at: sql<Date>`now()`,
            available_at: sql<Date>`now() + ${retryInMs} * interval '1 millisecond'`,
          },
    )
    .where("id", "=", row.id)
    .where(waiting)
    .execute();
  return { givenUp, retryInMs };
}

/**
 * A person (the bank's operations staff, `jobs.rerun`) asks for a job given up on to run again,
 * once its cause is fixed: the row goes back to waiting with fresh attempts, and the relay (or
 * in-process runner) takes it like a new one. Only a failed row can be re-run: one waiting, in
 * flight or completed is refused (`invalid_state`), so a double click runs nothing twice.
 */
export async function rerunFailedJob(db: Db, actor: Actor, outboxId: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom("outbox")
      .select(["id", "job_id", "failed_at", "last_error", "attempts", "reruns"])
      .where("id", "=", outboxId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw new DomainError("not_found", "No such job", { outboxId: "unknown" });
    if (row.failed_at === null) throw new DomainError("invalid_state", "This job is not given up: it has run or is still on its way", { outboxId: "invalid_state" });
    await trx
      .updateTable("outbox")
      .set({
        failed_at: null,
        published_at: null,
        completed_at: null,
        attempts: 0,
        available_at: sql<Date>`now()`,
        reruns: sql<number>`reruns + 1`,
      })
      .where("id", "=", row.id)
      .execute();
    await recordAudit(trx, actor, {
      action: "job.rerun",
      entityType: "outbox",
      entityId: row.job_id,
      before: { failedAt: row.failed_at, lastError: row.last_error, attempts: row.attempts },
      after: { reruns: row.reruns + 1 },
    });
  });
}

/** In-process runner: the claimed row's step ran to the end. */
export async function markRun(db: Db, id: number): Promise<void> {
  await db
    .updateTable("outbox")
    .set({ published_at: sql<Date>`coalesce(published_at, now())`, completed_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("completed_at", "is", null)
    .where("failed_at", "is", null)
    .execute();
}

/** Delete rows completed longer ago than the retention, at most `limit` per call. */
export async function pruneOutbox(db: Db, options: { retentionMs: number; limit: number }): Promise<number> {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > OUTBOX_LIMITS.pruneBatchMax) {
    throw new Error(`outbox: prune limit must be in 1..${OUTBOX_LIMITS.pruneBatchMax}`);
  }
  const result = await db
    .deleteFrom("outbox")
    .where("id", "in", (eb) =>
      eb
        .selectFrom("outbox")
        .select("id")
        .where("completed_at", "<", sql<Date>`now() - ${options.retentionMs} * interval '1 millisecond'`)
        .limit(options.limit)
        .forUpdate()
        .skipLocked(),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface OutboxCounts {
  /** Not yet taken out (due now or later). */
  waiting: number;
  /** Handed to BullMQ, step not yet recorded as run. */
  inFlight: number;
  /** Given up on (either mode); each needs a person to look at `last_error`. */
  failed: number;
}

/** Three partial-index counts; none of them reads completed history. */
export async function outboxCounts(db: Db): Promise<OutboxCounts> {
  const count = (where: RawBuilder<boolean>) => sql<number>`(select count(*)::int from outbox where ${where})`;
  const row = await db
    .selectNoFrom([
      count(waiting).as("waiting"),
      count(inFlight).as("in_flight"),
      count(sql<boolean>`failed_at is not null`).as("failed"),
    ])
    .executeTakeFirstOrThrow();
  return { waiting: Number(row.waiting), inFlight: Number(row.in_flight), failed: Number(row.failed) };
}

export interface FailedJob {
  id: number;
  jobId: string;
  jobName: string;
  queue: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  failedAt: Date;
}

/** Jobs given up on, newest first: what the bank's operations staff look into. */
export async function listFailedJobs(db: Db, limit = 50): Promise<{ rows: FailedJob[]; total: number }> {
  if (!Number.isInteger(limit) || limit < 1 || limit > OUTBOX_LIMITS.batchSizeMax) throw new Error("outbox: list limit out of range");
  const rows = await db
    .selectFrom("outbox")
    .select(["id", "job_id", "job_name", "queue", "attempts", "last_error", "created_at", "failed_at"])
    .where("failed_at", "is not", null)
    .orderBy("failed_at", "desc")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  const { failed } = await outboxCounts(db);
  return {
    rows: rows.map((r) => ({
      id: r.id,
      jobId: r.job_id,
      jobName: r.job_name,
      queue: r.queue,
      attempts: r.attempts,
      lastError: r.last_error,
      createdAt: r.created_at,
      failedAt: r.failed_at as Date,
    })),
    total: failed,
  };
}
