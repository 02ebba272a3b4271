/**
 * Benchmark: re-delivery after Redis lost every job (issue 12), against raw BullMQ in the same run.
 *
 * On a fresh database and a private `redis-server` (its own port, never the machine's 6379):
 *  - setup (not measured): 1,000 organisations, half with one active member and half with two;
 *    10,000 notification requests made through requestNotifications (the domain's batch path:
 *    request, outbox row and audit row per request) in 5 transactions of 2,000. The step each row
 *    names is `notifications.deliver` (workflows/notifications.ts → deliverNotification): one
 *    transaction that locks the request, reads its members, inserts one inbox row per member, moves
 *    the request to `delivered` and writes an audit row.
 *  - the real relay (relayOnce, a BullMQ Queue per queue name as jobs/runtime.ts builds them)
 *    publishes every row while no worker runs; then FLUSHALL on the private Redis. Every row is now
 *    published and not completed, and BullMQ holds nothing.
 *  - 2 worker processes (`jobs/worker.ts`, i.e. `npm run worker`) with OUTBOX_LEASE_MS (default
 *    1,000) start; their redelivery sweeps find the rows, see BullMQ does not know them, add them
 *    again with the same job ids, and the workers run them. Polled every 100 ms until every row has
 *    `completed_at`.
 *  - figures: re-delivery throughput = rows ÷ (last `completed_at` − first re-send, the earliest
 *    BullMQ `timestamp` of a re-sent job); and the wall time from FLUSHALL to all done, which also
 *    holds the workers' start-up and the lease wait.
 *  - the limit, measured just before and just after on the same Redis (mean of the two): 10,000
 *    no-op jobs with a payload of the same size and the same job options, added with addBulk in
 *    batches of the sweep's size (500), processed by 2 processes each running one BullMQ Worker at
 *    the product's per-queue concurrency (tests/bench/raw-bullmq-worker.ts): jobs ÷ (last
 *    `finishedOn` − first `timestamp`).
 *  - checks: every row completed, none failed, every row re-sent at least once (`redeliveries`),
 *    every request delivered with exactly one notification per member; a failed check fails the run.
 *  - then, on the same workers, 10,000 new requests delivered the ordinary way (relay → BullMQ →
 *    step), for comparison: the gap between that figure and re-delivery is what the sweep costs;
 *    the gap between it and raw BullMQ is what the step costs.
 *  - per phase, where the time went: CPU per process group (/proc), Redis commands and time per job
 *    (INFO commandstats), PostgreSQL transactions per job, and what the sweeps logged.
 *
 * Run: `npm run bench -- recovery` (BENCH_RECOVERY_ROWS, BENCH_RECOVERY_LEASE_MS to change the
 * size and the lease).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { sql } from "kysely";
import pg from "pg";
import { createDb, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { logger } from "../../app/logger.server";
import { DELIVER_NOTIFICATION_JOB, NOTIFICATIONS_QUEUE, requestNotifications } from "../../app/domain/notifications/notifications.server";
import { OUTBOX_LIMITS } from "../../app/domain/outbox/outbox.server";
import { jobOptionsFor, QUEUE_NAMES, workerConcurrencyFor } from "../../jobs/queues";
import { relayOnce, type JobPublisher } from "../../jobs/relay";
import { killAll, startPrivateRedis, type PrivateRedis } from "../support/processes";
import { adminUrl, urlFor } from "./databases";
import { cpuBetween, cpuSnapshot, type CpuSnapshot } from "./cpu";

const ROWS = Number(process.env.BENCH_RECOVERY_ROWS ?? 10_000);
const LEASE_MS = Number(process.env.BENCH_RECOVERY_LEASE_MS ?? 1_000);
const WORKERS = 2;
const ORGANIZATIONS = 1_000;
const REQUESTS_PER_TRANSACTION = 2_000;
const POLL_MS = 100;
const ALL_DONE_CAP_MS = 150_000;
const READY_TIMEOUT_MS = 60_000;
const STOP_WAIT_MS = 40_000;
/** The sweep adds what it re-sends in batches of at most this (jobs/redelivery.ts). */
const ADD_BATCH = OUTBOX_LIMITS.batchSizeMax;
const TARGET_RATIO = 0.5;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const REDELIVERY_LOG = "redelivery: outbox rows BullMQ had lost or not reported were put right";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Setup

interface World {
  organizationIds: string[];
  members: number;
}

async function setUp(db: Db): Promise<World> {
  const orgs = await db
    .insertInto("organizations")
    .values(Array.from({ length: ORGANIZATIONS }, (_, i) => ({ kind: "buyer" as const, name: `基准采购商 ${i + 1}` })))
    .returning("id")
    .execute();
  const organizationIds = orgs.map((o) => o.id);
  // Half the organisations have one member, half two: each delivery writes one or two inbox rows.
  const memberships = organizationIds.flatMap((id, i) => (i % 2 === 0 ? [{ id, n: 1 }] : [{ id, n: 1 }, { id, n: 2 }]));
  const users = await db
    .insertInto("users")
    .values(memberships.map((m, k) => ({ email: `bench-recovery-${k}@example.cn`, display_name: `成员 ${k}`, password_hash: "not-a-login" })))
    .returning("id")
    .execute();
  await db
    .insertInto("memberships")
    .values(memberships.map((m, k) => ({ user_id: users[k].id, organization_id: m.id, role: "purchaser" as const })))
    .execute();

  const world = { organizationIds, members: memberships.length };
  await makeRequests(db, world, REQUESTS_PER_TRANSACTION);
  await sql`vacuum analyze`.execute(db);
  return world;
}

/** ROWS notification requests through the domain's batch path, `perTransaction` to a transaction. */
async function makeRequests(db: Db, world: World, perTransaction: number): Promise<void> {
  const { organizationIds } = world;
  for (let start = 0; start < ROWS; start += perTransaction) {
    const count = Math.min(perTransaction, ROWS - start);
    await db.transaction().execute((trx) =>
      requestNotifications(
        trx,
        Array.from({ length: count }, (_, i) => {
          const organizationId = organizationIds[(start + i) % ORGANIZATIONS];
          return {
            actor: { userId: null, organizationId, ip: null, requestId: null },
            notification: {
              organizationId,
              topic: "market.announcement_published" as const,
              params: { announcementId: randomUUID(), marketName: "四季青服装市场", title: `公告 ${start + i + 1}` },
            },
          };
        }),
      ),
    );
  }
}

/** The real relay, as a worker's relay loop runs it, until nothing is left to publish. */
async function publishAll(db: Db, redis: Redis, prefix: string): Promise<number> {
  const queues = QUEUE_NAMES.map((name) => new Queue(name, { connection: redis, prefix }));
  const publishers = new Map<string, JobPublisher>(queues.map((q) => [q.name, q]));
  let published = 0;
  try {
    for (;;) {
      const pass = await relayOnce({ db, publishers, logger: logger.child({ component: "relay" }) });
      if (pass.failed > 0) throw new Error(`relay: ${pass.failed} rows failed to publish`);
      published += pass.published;
      if (pass.locked === 0) return published;
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

// ---------------------------------------------------------------------------------------------
// Where the CPU went (Linux /proc), per process group, in ms of CPU time

function snapshot(dbName: string, workerPids: readonly number[], redisPid: number | undefined): CpuSnapshot {
  return cpuSnapshot((pid, cmdline) =>
    workerPids.includes(pid)
      ? "workers"
      : pid === process.pid
        ? "bench"
        : pid === redisPid
          ? "redis"
          : cmdline.startsWith("postgres: ")
            ? cmdline.includes(` ${dbName} `)
              ? "postgres"
              : "postgres (other)"
            : "others",
  );
}

function describeCpu(a: CpuSnapshot, b: CpuSnapshot, jobs: number): string {
  if (b.totalMs === 0) return "no /proc: CPU split not available";
  const { groups } = cpuBetween(a, b);
  const order = ["workers", "postgres", "redis", "bench", "postgres (other)", "others"];
  const parts = order.filter((g) => groups.has(g)).map((g) => `${g} ${(groups.get(g)! / 1000).toFixed(1)} s`);
  const usMs = (g: string) => ((groups.get(g) ?? 0) * 1000) / jobs;
  const cores = (b.totalMs - a.totalMs) / 1000;
  return (
    `${parts.join(", ")}; machine ${Math.round((100 * (b.busyMs - a.busyMs)) / Math.max(b.totalMs - a.totalMs, 1))} % busy of ${cores.toFixed(1)} core·s; ` +
    `per job: workers ${usMs("workers").toFixed(0)} µs, postgres ${usMs("postgres").toFixed(0)} µs, redis ${usMs("redis").toFixed(0)} µs`
  );
}

// ---------------------------------------------------------------------------------------------
// Redis and PostgreSQL counters

/** Calls and µs per Redis command since the last reset (INFO commandstats). */
async function redisCommandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await redis.info("commandstats");
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const line of info.split("\r\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) stats.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

function describeRedis(stats: Map<string, { calls: number; usec: number }>, jobs: number): string {
  let calls = 0;
  let usec = 0;
  for (const s of stats.values()) {
    calls += s.calls;
    usec += s.usec;
  }
  const top = [...stats.entries()]
    .sort((a, b) => b[1].usec - a[1].usec)
    .slice(0, 5)
    .map(([name, s]) => `${name} ${s.calls} (${(s.usec / 1000).toFixed(0)} ms)`);
  return `${(calls / jobs).toFixed(1)} commands and ${(usec / jobs).toFixed(0)} µs of Redis time per job; most time: ${top.join(", ")}`;
}

async function pgTransactions(db: Db, dbName: string): Promise<number> {
  // Counters reach pg_stat_database when a backend reports; the short wait lets the workers' do so.
  const row = await sql<{ n: string }>`select xact_commit + xact_rollback as n from pg_stat_database where datname = ${dbName}`.execute(db);
  return Number(row.rows[0]?.n ?? 0);
}

/** BullMQ's own timestamps of these jobs: when each was added, and when it finished. */
async function jobTimes(redis: Redis, prefix: string, queue: string, jobIds: readonly string[]): Promise<{ firstAddMs: number; lastAddMs: number; lastFinishMs: number; missing: number }> {
  let firstAddMs = Infinity;
  let lastAddMs = 0;
  let lastFinishMs = 0;
  let missing = 0;
  for (let i = 0; i < jobIds.length; i += 1_000) {
    const pipeline = redis.pipeline();
    for (const id of jobIds.slice(i, i + 1_000)) pipeline.hmget(`${prefix}:${queue}:${id}`, "timestamp", "finishedOn");
    for (const [error, value] of (await pipeline.exec()) ?? []) {
      const [added, finished] = (value ?? [null, null]) as (string | null)[];
      if (error || !added || !finished) {
        missing += 1;
        continue;
      }
      firstAddMs = Math.min(firstAddMs, Number(added));
      lastAddMs = Math.max(lastAddMs, Number(added));
      lastFinishMs = Math.max(lastFinishMs, Number(finished));
    }
  }
  return { firstAddMs, lastAddMs, lastFinishMs, missing };
}

// ---------------------------------------------------------------------------------------------
// Raw BullMQ: the limit

interface RawWorker {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
  errors: string[];
}

function startRawWorker(redisUrl: string, prefix: string): RawWorker {
  const child = spawn(process.execPath, ["--import", "tsx", "tests/bench/raw-bullmq-worker.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", REDIS_URL: redisUrl, REDIS_PREFIX: prefix, QUEUE: NOTIFICATIONS_QUEUE },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const errors: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`raw worker exited with ${code}: ${errors.join(" | ")}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "raw worker ready") resolve();
    });
    createInterface({ input: child.stderr! }).on("line", (line) => {
      if (errors.length < 5) errors.push(line.slice(0, 300));
    });
  });
  return { child, ready, exited, errors };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_WAIT_MS);
  await exited;
  clearTimeout(timer);
}

interface RawResult {
  perSecond: number;
  elapsedMs: number;
}

async function measureRaw(redis: Redis, redisUrl: string, prefix: string, cpuOf: (workerPids: number[]) => CpuSnapshot, label: string): Promise<RawResult> {
  const workers = Array.from({ length: WORKERS }, () => startRawWorker(redisUrl, prefix));
  const queue = new Queue(NOTIFICATIONS_QUEUE, { connection: redis, prefix });
  try {
    await Promise.all(workers.map((w) => w.ready));
    const cpu = () => cpuOf(workers.map((w) => w.child.pid ?? -1));
    // The same job as the product's: its name, a payload of the same size, the same options.
    const jobs = Array.from({ length: ROWS }, () => {
      const requestId = randomUUID();
      return { name: DELIVER_NOTIFICATION_JOB, data: { requestId }, opts: jobOptionsFor(`notifications:${requestId}:deliver`) };
    });
    await redis.config("RESETSTAT");
    const cpu0 = cpu();
    for (let i = 0; i < jobs.length; i += ADD_BATCH) await queue.addBulk(jobs.slice(i, i + ADD_BATCH));
    const deadline = Date.now() + ALL_DONE_CAP_MS;
    for (;;) {
      const counts = await queue.getJobCounts("completed", "failed");
      if (counts.failed > 0) throw new Error(`raw BullMQ: ${counts.failed} no-op jobs failed`);
      if (counts.completed >= ROWS) break;
      if (Date.now() > deadline) throw new Error(`raw BullMQ: ${counts.completed} of ${ROWS} done after ${seconds(ALL_DONE_CAP_MS)}`);
      if (workers.some((w) => w.child.exitCode !== null)) throw new Error(`a raw worker exited: ${workers.flatMap((w) => w.errors).join(" | ")}`);
      await sleep(POLL_MS);
    }
    const cpu1 = cpu();
    const stats = await redisCommandStats(redis);
    const times = await jobTimes(redis, prefix, NOTIFICATIONS_QUEUE, jobs.map((j) => j.opts.jobId!));
    if (times.missing > 0) throw new Error(`raw BullMQ: ${times.missing} jobs without timestamps`);
    const elapsedMs = times.lastFinishMs - times.firstAddMs;
    const perSecond = ROWS / (elapsedMs / 1000);
    console.log(`  raw BullMQ (${label}): ${ROWS} no-op jobs in ${seconds(elapsedMs)} from first add to last finish: ${perSecond.toFixed(0)} jobs/s`);
    console.log(`    CPU: ${describeCpu(cpu0, cpu1, ROWS)}`);
    console.log(`    Redis: ${describeRedis(stats, ROWS)}`);
    return { perSecond, elapsedMs };
  } finally {
    await Promise.all(workers.map((w) => stopChild(w.child, w.exited)));
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The product: re-delivery after Redis lost everything

interface RecoveryResult {
  perSecond: number;
  resendToDoneMs: number;
  flushToDoneMs: number;
  firstResendAfterFlushMs: number;
  resendPerSecond: number;
  /** The same step on the same workers, delivered the first time (relay → BullMQ → worker). */
  firstDeliveryPerSecond: number;
  checksOk: boolean;
}

interface SweepCounts {
  passesLogged: number;
  resent: number;
  held: number;
  completed: number;
  warnings: string[];
}

interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
  /** The last lines of stderr and of warnings or errors logged, for a failure message. */
  tail: string[];
}

/**
 * `node --import tsx jobs/worker.ts` (`npm run worker`) with only what the product reads in its
 * environment. Started here rather than with tests/support's spawnWorker: that keeps every byte of
 * output in a buffer it re-slices per chunk, and at a log line per job that costs the bench a
 * second or more of CPU taken from the workers it measures.
 */
function startWorker(env: Record<string, string>, counts: SweepCounts): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line.slice(0, 400));
    if (tail.length > 10) tail.shift();
  };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once("exit", (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before it was ready: ${tail.join(" | ")}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      // The step logs a line per job: only lines that can matter are parsed.
      if (!line.includes('"msg":"redelivery') && !line.includes('"msg":"worker ready"') && !/"level":[456]0/.test(line)) return;
      let entry: { msg?: string; level?: number; resent?: number; held?: number; completed?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.msg === "worker ready") resolve();
      if (entry.msg === REDELIVERY_LOG) {
        counts.passesLogged += 1;
        counts.resent += entry.resent ?? 0;
        counts.held += entry.held ?? 0;
        counts.completed += entry.completed ?? 0;
      } else if ((entry.level ?? 0) >= 40) {
        keep(line);
        if (counts.warnings.length < 5) counts.warnings.push(line.slice(0, 400));
      }
    });
    createInterface({ input: child.stderr! }).on("line", keep);
  });
  return { child, ready, exited, tail };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const isRunning = (w: WorkerProcess) => w.child.exitCode === null && w.child.signalCode === null;

async function check(db: Db): Promise<boolean> {
  let ok = true;
  const fail = (message: string) => {
    ok = false;
    console.log(`  CHECK FAILED: ${message}`);
  };
  const rows = await sql<{ total: number; completed: number; failed: number; never_resent: number; resent_twice: number; max_redeliveries: number }>`
    select count(*)::int as total,
           count(*) filter (where completed_at is not null)::int as completed,
           count(*) filter (where failed_at is not null)::int as failed,
           count(*) filter (where redeliveries < 1)::int as never_resent,
           count(*) filter (where redeliveries > 1)::int as resent_twice,
           coalesce(max(redeliveries), 0)::int as max_redeliveries
      from outbox where queue = ${NOTIFICATIONS_QUEUE}`.execute(db);
  const r = rows.rows[0];
  if (r.total !== ROWS) fail(`${r.total} outbox rows, expected ${ROWS}`);
  if (r.completed !== ROWS) fail(`${r.completed} of ${ROWS} rows completed`);
  if (r.failed > 0) fail(`${r.failed} rows failed`);
  if (r.never_resent > 0) fail(`${r.never_resent} rows completed without a redelivery (redeliveries = 0): something other than the sweep ran them`);
  const deliveries = await sql<{ requests: number; delivered: number; wrong_count: number; notifications: number; expected: number }>`
    select count(*)::int as requests,
           count(*) filter (where r.status = 'delivered')::int as delivered,
           count(*) filter (where n.k <> m.k or r.recipient_count <> m.k)::int as wrong_count,
           coalesce(sum(n.k), 0)::int as notifications,
           coalesce(sum(m.k), 0)::int as expected
      from notification_requests r
      join lateral (select count(*)::int as k from notifications x where x.request_id = r.id) n on true
      join lateral (select count(*)::int as k from memberships y where y.organization_id = r.organization_id) m on true`.execute(db);
  const d = deliveries.rows[0];
  if (d.requests !== ROWS || d.delivered !== ROWS) fail(`${d.delivered} of ${d.requests} requests delivered (expected ${ROWS})`);
  if (d.wrong_count > 0) fail(`${d.wrong_count} requests without exactly one notification per member`);
  console.log(
    `  checks: ${r.completed}/${r.total} rows completed, ${r.failed} failed; re-sent: every row ≥ 1 ${r.never_resent === 0 ? "yes" : "NO"}, ` +
      `${r.resent_twice} more than once (max ${r.max_redeliveries}); ${d.delivered}/${d.requests} requests delivered, ` +
      `${d.notifications} notifications for ${d.expected} memberships asked, ${d.wrong_count} requests off`,
  );
  return ok;
}

/**
 * For comparison, on the workers still running: ROWS new requests in one transaction, delivered the
 * ordinary way (relay → BullMQ → step). Re-delivery cannot beat this; the gap between the two is
 * what the sweep costs.
 */
async function measureFirstDelivery(
  db: Db,
  world: World,
  redis: Redis,
  prefix: string,
  cpu: () => CpuSnapshot,
  workers: readonly WorkerProcess[],
): Promise<{ perSecond: number; ok: boolean }> {
  const before = await db.selectFrom("outbox").select((eb) => eb.fn.max("id").as("id")).executeTakeFirstOrThrow();
  const idAfter = Number(before.id ?? 0);
  await redis.config("RESETSTAT");
  const cpu0 = cpu();
  await makeRequests(db, world, ROWS);
  const deadline = Date.now() + ALL_DONE_CAP_MS;
  for (;;) {
    const row = await db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("id", ">", idAfter)
      .where("completed_at", "is not", null)
      .executeTakeFirstOrThrow();
    if (Number(row.n) >= ROWS) break;
    if (Date.now() > deadline) throw new Error(`first delivery: only ${row.n} of ${ROWS} rows completed after ${seconds(ALL_DONE_CAP_MS)}`);
    const gone = workers.find((w) => !isRunning(w));
    if (gone) throw new Error(`a worker exited: ${gone.tail.join(" | ")}`);
    await sleep(POLL_MS);
  }
  const cpu1 = cpu();
  const stats = await redisCommandStats(redis);
  const jobIds = (await db.selectFrom("outbox").select("job_id").where("id", ">", idAfter).execute()).map((r) => r.job_id);
  const times = await jobTimes(redis, prefix, NOTIFICATIONS_QUEUE, jobIds);
  const ends = await sql<{ last_ms: number; redelivered: number; requests_open: number }>`
    select (extract(epoch from max(completed_at)) * 1000)::float8 as last_ms,
           count(*) filter (where redeliveries > 0)::int as redelivered,
           (select count(*)::int from notification_requests where status <> 'delivered') as requests_open
      from outbox where id > ${idAfter}`.execute(db);
  const e = ends.rows[0];
  const elapsedMs = Number(e.last_ms) - times.firstAddMs;
  const perSecond = ROWS / (elapsedMs / 1000);
  console.log(
    `  first delivery, same workers: ${ROWS} new requests in one transaction, relay → BullMQ → step: ${seconds(elapsedMs)} from first publish to last completion, ` +
      `${perSecond.toFixed(0)} jobs/s (${e.redelivered} re-sent, ${e.requests_open} requests not delivered)`,
  );
  console.log(`    CPU (request transaction included): ${describeCpu(cpu0, cpu1, ROWS)}`);
  console.log(`    Redis: ${describeRedis(stats, ROWS)}`);
  const ok = times.missing === 0 && e.requests_open === 0;
  if (!ok) console.log(`  CHECK FAILED: first delivery: ${times.missing} jobs missing in BullMQ, ${e.requests_open} requests not delivered`);
  return { perSecond, ok };
}

async function measureRecovery(
  db: Db,
  world: World,
  redisHandle: PrivateRedis,
  redisPid: number | undefined,
  redis: Redis,
  dbUrl: string,
  dbName: string,
  prefix: string,
): Promise<RecoveryResult> {
  const published = await publishAll(db, redis, prefix);
  const probe = new Queue(NOTIFICATIONS_QUEUE, { connection: redis, prefix });
  const inRedis = await probe.getJobCounts("waiting");
  const state = await sql<{ in_flight: number }>`
    select count(*)::int as in_flight from outbox where published_at is not null and completed_at is null and failed_at is null`.execute(db);
  if (published !== ROWS || inRedis.waiting !== ROWS || state.rows[0].in_flight !== ROWS) {
    throw new Error(`publish: ${published} published, ${inRedis.waiting} waiting in BullMQ, ${state.rows[0].in_flight} in flight; expected ${ROWS} each`);
  }
  console.log(`  relay published ${published} rows (${inRedis.waiting} jobs waiting in BullMQ, no worker running)`);

  await redisHandle.flushAll();
  const flushedAt = Date.now();
  const left = await probe.getJobCounts("waiting");
  if (left.waiting !== 0) throw new Error(`FLUSHALL left ${left.waiting} jobs`);
  console.log("  FLUSHALL: BullMQ holds nothing; every row is published and not completed");

  const counts: SweepCounts = { passesLogged: 0, resent: 0, held: 0, completed: 0, warnings: [] };
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < WORKERS; i++) {
    workers.push(
      startWorker({ DATABASE_URL: dbUrl, REDIS_URL: redisHandle.url, REDIS_PREFIX: prefix, OUTBOX_LEASE_MS: String(LEASE_MS), SEED_DEMO: "0" }, counts),
    );
  }
  try {
    await withTimeout(Promise.all(workers.map((w) => w.ready)), READY_TIMEOUT_MS, "workers ready");
    const readyMs = Date.now() - flushedAt;
    const workerPids = workers.map((w) => w.child.pid ?? -1);
    const cpu = () => snapshot(dbName, workerPids, redisPid);
    await redis.config("RESETSTAT");
    const xacts0 = await pgTransactions(db, dbName);
    const cpu0 = cpu();
    console.log(`  ${WORKERS} workers ready ${seconds(readyMs)} after FLUSHALL (lease ${LEASE_MS} ms)`);

    const deadline = Date.now() + ALL_DONE_CAP_MS;
    for (;;) {
      const row = await db
        .selectFrom("outbox")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("completed_at", "is not", null)
        .executeTakeFirstOrThrow();
      if (Number(row.n) >= ROWS) break;
      if (Date.now() > deadline) throw new Error(`only ${row.n} of ${ROWS} rows completed ${seconds(ALL_DONE_CAP_MS)} after FLUSHALL`);
      const gone = workers.find((w) => !isRunning(w));
      if (gone) throw new Error(`a worker exited: ${gone.tail.join(" | ")}`);
      await sleep(POLL_MS);
    }
    const flushToDoneMs = Date.now() - flushedAt;
    const cpu1 = cpu();
    await sleep(600);
    const xacts = (await pgTransactions(db, dbName)) - xacts0;
    const stats = await redisCommandStats(redis);

    const jobIds = (await db.selectFrom("outbox").select("job_id").where("queue", "=", NOTIFICATIONS_QUEUE).execute()).map((r) => r.job_id);
    const times = await jobTimes(redis, prefix, NOTIFICATIONS_QUEUE, jobIds);
    if (times.missing > 0) throw new Error(`${times.missing} re-sent jobs not found completed in BullMQ`);
    const ends = await sql<{ first_ms: number; last_ms: number }>`
      select (extract(epoch from min(completed_at)) * 1000)::float8 as first_ms, (extract(epoch from max(completed_at)) * 1000)::float8 as last_ms
        from outbox where queue = ${NOTIFICATIONS_QUEUE}`.execute(db);
    const lastCompletedMs = Number(ends.rows[0].last_ms);
    const resendToDoneMs = lastCompletedMs - times.firstAddMs;
    const perSecond = ROWS / (resendToDoneMs / 1000);
    const bullmqMs = times.lastFinishMs - times.firstAddMs;
    console.log(
      `  first re-send ${seconds(times.firstAddMs - flushedAt)} after FLUSHALL; all ${ROWS} steps ran and were recorded ${seconds(resendToDoneMs)} after it: ` +
        `${perSecond.toFixed(0)} jobs/s (last BullMQ finish ${seconds(bullmqMs)} after the first re-send: ${(ROWS / (bullmqMs / 1000)).toFixed(0)} jobs/s; ` +
        `last completion record ${(lastCompletedMs - times.lastFinishMs).toFixed(0)} ms after it)`,
    );
    console.log(`  FLUSHALL to all done: ${seconds(flushToDoneMs)} (worker start-up ${seconds(readyMs)}, the lease wait and the re-delivery)`);
    console.log(`    CPU from workers ready to all done: ${describeCpu(cpu0, cpu1, ROWS)}`);
    console.log(`    Redis: ${describeRedis(stats, ROWS)}`);
    console.log(
      `    PostgreSQL: ${xacts} transactions committed in the database (${(xacts / ROWS).toFixed(2)} per job); ` +
        `sweeps that re-sent: ${counts.passesLogged} passes, ${counts.resent} rows re-sent, ${counts.held} lookups of rows still held, ${counts.completed} found completed`,
    );
    if (counts.warnings.length > 0) console.log(`    worker warnings/errors: ${counts.warnings.join(" | ")}`);
    const failedJobs = await probe.getJobCounts("failed");
    if (failedJobs.failed > 0) console.log(`  CHECK FAILED: ${failedJobs.failed} jobs failed in BullMQ`);
    const checksOk = (await check(db)) && failedJobs.failed === 0;
    const first = await measureFirstDelivery(db, world, redis, prefix, cpu, workers);
    return {
      perSecond,
      resendToDoneMs,
      flushToDoneMs,
      firstResendAfterFlushMs: times.firstAddMs - flushedAt,
      // The sweep's own part: every lost job back in BullMQ (running them is the workers' usual work).
      resendPerSecond: ROWS / (Math.max(1, times.lastAddMs - times.firstAddMs) / 1000),
      firstDeliveryPerSecond: first.perSecond,
      checksOk: checksOk && first.ok,
    };
  } finally {
    await Promise.all(workers.map((w) => stopChild(w.child, w.exited)));
    await probe.close();
  }
}

export async function run(): Promise<void> {
  const base = adminUrl();
  const suffix = randomBytes(4).toString("hex");
  const dbName = `rt_bench_recovery_${suffix}`;
  const prefix = `rtbenchrecovery${suffix}`;
  const rawPrefix = `rtbenchraw${suffix}`;
  const admin = new pg.Client({ connectionString: base });
  admin.on("error", (error) => console.log(`  (admin connection lost: ${error.message})`));
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const dbUrl = urlFor(base, dbName);
  const handle = createDb({ databaseUrl: dbUrl, poolMax: 4 });
  let redisHandle: PrivateRedis | null = null;
  let redis: Redis | null = null;
  try {
    redisHandle = await startPrivateRedis();
    redis = new Redis(redisHandle.url, { maxRetriesPerRequest: null });
    const db = handle.db;
    await migrateToLatest(db);
    const setupStarted = performance.now();
    const world = await setUp(db);
    console.log(
      `recovery: ${ROWS} outbox rows of step notifications.deliver (one transaction: lock the request, read its members, ` +
        `one inbox row per member, request → delivered, audit row) for ${ORGANIZATIONS} organisations with 1 or 2 members ` +
        `(${world.members} memberships); ${WORKERS} worker processes at concurrency ${workerConcurrencyFor(NOTIFICATIONS_QUEUE)} on ${NOTIFICATIONS_QUEUE}; ` +
        `private redis on port ${redisHandle.port}; setup ${seconds(performance.now() - setupStarted)}`,
    );

    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]) || undefined;
    const rawCpu = (workerPids: number[]) => snapshot(dbName, workerPids, redisPid);
    const rawBefore = await measureRaw(redis, redisHandle.url, rawPrefix, rawCpu, "before");
    const recovery = await measureRecovery(db, world, redisHandle, redisPid, redis, dbUrl, dbName, prefix);
    const rawAfter = await measureRaw(redis, redisHandle.url, rawPrefix, rawCpu, "after");
    const rawPerSecond = (rawBefore.perSecond + rawAfter.perSecond) / 2;
    const rawMs = (rawBefore.elapsedMs + rawAfter.elapsedMs) / 2;
    const ratio = recovery.perSecond / rawPerSecond;
    console.log(
      `  re-delivery ${recovery.perSecond.toFixed(0)} jobs/s; raw BullMQ ${rawBefore.perSecond.toFixed(0)} before, ${rawAfter.perSecond.toFixed(0)} after, ` +
        `mean ${rawPerSecond.toFixed(0)} jobs/s; ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? "met" : "NOT met"}); ` +
        `first delivery of the same step ${recovery.firstDeliveryPerSecond.toFixed(0)} jobs/s (ratio ${(recovery.firstDeliveryPerSecond / rawPerSecond).toFixed(2)})`,
    );
    console.log(
      JSON.stringify({
        bench: "recovery",
        figure: "redelivery_jobs_per_s",
        workers: WORKERS,
        step: DELIVER_NOTIFICATION_JOB,
        value: round(recovery.perSecond, 1),
        raw_bullmq_jobs_per_s: round(rawPerSecond, 1),
        ratio: round(ratio, 3),
        target_ratio: TARGET_RATIO,
      }),
    );
    console.log(
      JSON.stringify({
        bench: "recovery",
        figure: "resend_jobs_per_s",
        measures: "the sweeps putting every lost job back into BullMQ (first to last re-add), not running them",
        workers: WORKERS,
        value: round(recovery.resendPerSecond, 1),
        raw_bullmq_jobs_per_s: round(rawPerSecond, 1),
        ratio: round(recovery.resendPerSecond / rawPerSecond, 3),
      }),
    );
    console.log(
      JSON.stringify({
        bench: "recovery",
        figure: "first_delivery_jobs_per_s",
        workers: WORKERS,
        step: DELIVER_NOTIFICATION_JOB,
        value: round(recovery.firstDeliveryPerSecond, 1),
        raw_bullmq_jobs_per_s: round(rawPerSecond, 1),
        ratio: round(recovery.firstDeliveryPerSecond / rawPerSecond, 3),
      }),
    );
    console.log(
      JSON.stringify({
        bench: "recovery",
        figure: "flush_to_all_done_s",
        workers: WORKERS,
        step: DELIVER_NOTIFICATION_JOB,
        lease_ms: LEASE_MS,
        includes: "worker start-up, lease wait, re-delivery",
        value: round(recovery.flushToDoneMs / 1000, 2),
        first_resend_after_s: round(recovery.firstResendAfterFlushMs / 1000, 2),
        raw_bullmq_s: round(rawMs / 1000, 2),
        ratio: round(rawMs / recovery.flushToDoneMs, 3),
      }),
    );
    if (!recovery.checksOk) process.exitCode = 1;
  } finally {
    await redis?.quit().catch(() => undefined);
    await killAll();
    await handle.close();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}
