/**
 * Benchmark: the financing daily accrual run (日终计提) over many open loans, through the real
 * scheduled path (outbox → relay → BullMQ → the start step → the run's close job, added by the relay
 * as a flow with one child per batch (FlowProducer) → batch steps in worker processes → the close
 * once every batch is done), with 1 and 2 worker processes.
 *
 * Setup (timed, not measured), once, in a scratch database:
 *  - the business date D is the day before yesterday (Shanghai). The run for yesterday is started
 *    first through startAccrualRun on the still empty database (0 loans, done): that is what the
 *    workers' schedule (`financing-accrual`, whose catch-up run fires as soon as a worker starts with
 *    an empty Redis prefix) would do, and with its run row there the schedule cannot start a run
 *    for yesterday over the bench's loans while the workers start.
 *  - ONE loan through the domain on D (financingWorld, a confirmed order, applyForOrderFinancing,
 *    the disbursement step through the registry): the template.
 *  - N − 1 copies of its rows made with set-based SQL: its application (no order, no facility holds:
 *    100,000 draws would exceed any limit, and accrual reads neither), the loan, its instalments, its
 *    three receivable accounts and its disbursement transfer (each copy debits its own
 *    loans_receivable account and credits the template's payee wallet, whose total is raised by the
 *    sum). Every loan is disbursed on D and not yet accrued: exactly one business date to accrue.
 *    verifyLedger must be clean.
 * Per worker count W: a database copied from the setup one (CREATE DATABASE … TEMPLATE, so each
 * round starts from the same state), pgbench TPC-B-like TPS at W clients, W workers
 * (`node --import tsx jobs/worker.ts`, i.e. `npm run worker`) with a Redis prefix of their own,
 * awaited until "worker ready" plus a moment for their first sweeps (not measured); then the trigger
 * as production writes one: an outbox row for ACCRUAL_START_JOB with payload {businessDate: D},
 * committed; the clock starts at the commit and stops when the run row is `done` (polled every
 * 100 ms). loans/s = N ÷ seconds. Then checks (every loan exactly one loan_accruals row for D and
 * accrued through D, verifyLedger clean, interest_income credits = Σ accrued interest, penalty_income
 * = Σ penalty + compound), pgbench again; ratio = loans/s ÷ the mean of the two pgbench runs.
 *
 * Run: `npm run bench -- accrual` (BENCH_ACCRUAL_LOANS, default 100,000; BENCH_ACCRUAL_WORKERS="1,2";
 * BENCH_SECONDS for each pgbench run, default 10; BENCH_ACCRUAL_PROFILE=1 adds a statement-by-statement
 * timing of one batch, called in-process on a throwaway copy: a diagnosis, not a figure).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { Redis } from "ioredis";
import { Kysely, PostgresDialect, sql, type LogEvent } from "kysely";
import pg from "pg";
import { parseInt8, type Database, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { enqueue, outboxJobId, type Trx } from "../../app/domain/outbox";
import { ACCRUAL_START_JOB, FINANCING_QUEUE, runAccrualBatch, startAccrualRun } from "../../app/domain/financing";
import { accountCodes } from "../../app/domain/financing/internal.server";
import { addDays, shanghaiDate } from "../../app/domain/shared/dates";
import { copyLoans, templateLoan, type Template } from "../support/loan-copies";
import { runFinancingJobs } from "../integration/financing.fixtures";
import { deleteRedisKeys, snapshot, startWorker, stopWorker, type WorkerProcess } from "./worker-processes";
import { pgbenchInit, pgbenchTps } from "./pgbench";
import { adminUrl, urlFor } from "./databases";
import { cpuBetween } from "./cpu";

const LOANS = Number(process.env.BENCH_ACCRUAL_LOANS ?? 100_000);
const WORKER_COUNTS = (process.env.BENCH_ACCRUAL_WORKERS ?? "1,2").split(",").map((n) => Number(n.trim())).filter((n) => n > 0);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const POLL_MS = 100;
/** BENCH_ACCRUAL_PROFILE=1: also time each statement of one batch, in-process on a throwaway copy (not a figure). */
const PROFILE = process.env.BENCH_ACCRUAL_PROFILE === "1";
/** A run not done after this long is reported as a failure rather than waited for. */
const RUN_CAP_MS = 30 * 60_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The bench's own connections (setup, polling, checks): createDb's int8 parser, plus an error
 * listener so an idle connection terminated from outside costs a reconnect instead of the run.
 */
function benchDb(url: string, log?: (event: LogEvent) => void): { db: Db; close: () => Promise<void> } {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    types: { getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 20 ? parseInt8 : pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser },
  });
  pool.on("error", (error) => console.log(`  (bench connection lost: ${error.message})`));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
  return { db, close: () => db.destroy() };
}

// ---------------------------------------------------------------------------------------------
// Setup


async function setUp(url: string, businessDate: string, now: Date): Promise<{ template: Template; setupMs: number }> {
  const started = performance.now();
  const handle = benchDb(url);
  try {
    const db = handle.db;
    await migrateToLatest(db);
    // Yesterday's run, on the empty database, as the schedule would start it (see the header).
    const yesterday = await startAccrualRun(db, addDays(shanghaiDate(now), -1), now);
    if (yesterday.status !== "done" || yesterday.loansTotal !== 0) throw new Error(`yesterday's run: ${JSON.stringify(yesterday)}`);
    const template = await templateLoan(db, businessDate);
    if (LOANS > 1) await copyLoans(db, template, LOANS - 1);
    const violations = await verifyLedger(db);
    const open = await db.selectFrom("loans").select((eb) => eb.fn.countAll<number>().as("n")).where("status", "=", "disbursed").where("disbursed_on", "=", businessDate).where("accrued_through", "is", null).executeTakeFirstOrThrow();
    if (violations.length > 0 || Number(open.n) !== LOANS) throw new Error(`setup is not sound: ${open.n} loans to accrue of ${LOANS}, ledger ${JSON.stringify(violations.slice(0, 5))}`);
    // No job of the setup may be left for the workers: the measured run is the only financing work.
    await runFinancingJobs(db, now);
    return { template, setupMs: performance.now() - started };
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Workers






function describeCpu(cpu: ReturnType<typeof cpuBetween>, loans: number): string {
  if (!existsSync("/proc/stat")) return "no /proc: CPU split not available";
  if (cpu.totalMs === 0) return "too short to split";
  const order = ["postgres", "workers", "redis", "bench", "postgres (other work)", "others"];
  const parts = order.filter((g) => cpu.groups.has(g)).map((g) => `${g} ${(cpu.groups.get(g)! / 1000).toFixed(1)} s`);
  const per = ((cpu.groups.get("postgres") ?? 0) + (cpu.groups.get("workers") ?? 0) + (cpu.groups.get("redis") ?? 0)) / loans;
  return `${parts.join(", ")}; machine ${Math.round((100 * cpu.busyMs) / cpu.totalMs)} % busy; postgres + workers + redis ${(per * 1000).toFixed(0)} µs CPU per loan`;
}

/**
 * Where a batch's time goes, statement by statement: on a copy of the setup database, the start step
 * and batch 0 are called in-process with a logging connection. Diagnosis only: the figures come from
 * the worker processes.
 */
async function profileBatch(base: string, setupDb: string, businessDate: string): Promise<void> {
  const dbName = `${setupDb}_profile`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${dbName} template ${setupDb}`);
  const statements: { ms: number; text: string }[] = [];
  let recording = false;
  const handle = benchDb(urlFor(base, dbName), (event) => {
    if (recording) statements.push({ ms: event.queryDurationMillis, text: event.query.sql.replace(/\s+/g, " ").slice(0, 110) });
  });
  try {
    const now = new Date();
    await startAccrualRun(handle.db, businessDate, now);
    recording = true;
    const started = performance.now();
    const result = await runAccrualBatch(handle.db, businessDate, 0, now);
    const wallMs = performance.now() - started;
    recording = false;
    const inStatements = statements.reduce((s, x) => s + x.ms, 0);
    console.log(`profile (in-process, one batch of ${result.loans} loans, not a figure): ${statements.length} statements, ${wallMs.toFixed(0)} ms wall, ${inStatements.toFixed(0)} ms in statements`);
    for (const x of statements) console.log(`  ${x.ms.toFixed(1).padStart(7)} ms  ${x.text}`);
  } finally {
    await handle.close();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------
// One round

interface RoundResult {
  workers: number;
  elapsedMs: number;
  perSecond: number;
  tps: number;
  checksOk: boolean;
}

async function check(db: Db, businessDate: string): Promise<boolean> {
  let ok = true;
  const fail = (message: string) => {
    ok = false;
    console.log(`  CHECK FAILED: ${message}`);
  };
  const violations = await verifyLedger(db);
  if (violations.length > 0) fail(`ledger verification: ${JSON.stringify(violations.slice(0, 5))}`);
  const { rows } = await sql<{ loans: number; accrued: number; rows_for_date: number; loans_with_one: number; rows_total: number; interest: number; penalty: number }>`
    select (select count(*) from loans)::int as loans,
           (select count(*) from loans where accrued_through = ${businessDate}::date)::int as accrued,
           (select count(*) from loan_accruals where business_date = ${businessDate}::date)::int as rows_for_date,
           (select count(*) from (select loan_id from loan_accruals where business_date = ${businessDate}::date group by loan_id having count(*) = 1) o)::int as loans_with_one,
           (select count(*) from loan_accruals)::int as rows_total,
           (select coalesce(sum(interest_fen), 0) from loan_accruals)::bigint as interest,
           (select coalesce(sum(penalty_fen + compound_fen), 0) from loan_accruals)::bigint as penalty`.execute(db);
  const r = rows[0];
  if (r.loans !== LOANS || r.accrued !== LOANS) fail(`${r.accrued} of ${r.loans} loans accrued through ${businessDate} (expected ${LOANS})`);
  if (r.rows_for_date !== LOANS || r.loans_with_one !== LOANS || r.rows_total !== LOANS) {
    fail(`loan_accruals: ${r.rows_for_date} rows for ${businessDate}, ${r.loans_with_one} loans with exactly one, ${r.rows_total} in all (expected ${LOANS} each)`);
  }
  const income = await db.selectFrom("ledger_accounts").select(["code", "credits_posted_fen", "debits_posted_fen"]).where("code", "in", [accountCodes.interestIncome, accountCodes.penaltyIncome]).execute();
  const credit = (code: string) => {
    const a = income.find((x) => x.code === code);
    return a ? a.credits_posted_fen - a.debits_posted_fen : 0;
  };
  if (credit(accountCodes.interestIncome) !== Number(r.interest)) fail(`interest_income ${credit(accountCodes.interestIncome)} fen ≠ Σ accrued interest ${r.interest} fen`);
  if (credit(accountCodes.penaltyIncome) !== Number(r.penalty)) fail(`penalty_income ${credit(accountCodes.penaltyIncome)} fen ≠ Σ accrued penalty ${r.penalty} fen`);
  const failed = await db.selectFrom("outbox").select((eb) => eb.fn.countAll<number>().as("n")).where("failed_at", "is not", null).executeTakeFirstOrThrow();
  if (Number(failed.n) > 0) fail(`${failed.n} outbox rows failed`);
  console.log(
    `  checks: ledger ${violations.length === 0 ? "clean" : `${violations.length} violations`}; ${r.accrued}/${r.loans} loans accrued through ${businessDate}; ` +
      `${r.loans_with_one} loans with exactly one accrual row (${r.rows_total} rows in all); interest_income ${credit(accountCodes.interestIncome)} fen = Σ interest ${r.interest} fen`,
  );
  return ok;
}

async function round(base: string, setupDb: string, pgbenchUrl: string, workers: number, suffix: string, businessDate: string, redis: Redis): Promise<RoundResult> {
  const dbName = `${setupDb}_w${workers}`;
  const prefix = `rtbenchaccrual${suffix}w${workers}`;
  const admin = new pg.Client({ connectionString: base });
  admin.on("error", (error) => console.log(`  (admin connection lost: ${error.message})`));
  await admin.connect();
  const copyStarted = performance.now();
  await admin.query(`create database ${dbName} template ${setupDb}`);
  const dbUrl = urlFor(base, dbName);
  const handle = benchDb(dbUrl);
  const procs: WorkerProcess[] = [];
  try {
    const db = handle.db;
    console.log(`[${workers} worker${workers > 1 ? "s" : ""}] database copied from the setup one in ${seconds(performance.now() - copyStarted)}`);
    const tpsBefore = await pgbenchTps(pgbenchUrl, workers, SECONDS);

    for (let i = 0; i < workers; i++) procs.push(startWorker({ databaseUrl: dbUrl, redisUrl: REDIS_URL, prefix, index: i + 1 }));
    const startAsked = performance.now();
    await Promise.all(procs.map((p) => p.ready));
    // The schedulers' first runs (yesterday's accrual start finding its run, empty sweeps) are over first.
    await sleep(1_500);
    console.log(`  workers ready in ${seconds(performance.now() - startAsked)} (not measured)`);

    const workerPids = procs.map((p) => p.child.pid ?? -1);
    const cpu0 = snapshot(dbName, workerPids);
    const t0 = performance.now();
    await db.transaction().execute((trx) =>
      enqueue(trx as Trx, { queue: FINANCING_QUEUE, name: ACCRUAL_START_JOB, jobId: outboxJobId("financing-accrual", businessDate, "bench-start"), payload: { businessDate } }),
    );
    let firstSeenMs: number | null = null;
    // What the database's backends for this run are doing, sampled at each poll: on CPU or I/O, waiting for a row lock, or idle in a transaction (the worker's side).
    const waits = new Map<string, number>();
    let samples = 0;
    for (;;) {
      await sleep(POLL_MS);
      const { rows: activity } = await sql<{ what: string; n: number }>`
        select case when state = 'active' and wait_event_type = 'Lock' then 'lock wait (' || wait_event || ')'
                    when state = 'active' then 'running' || coalesce(' (' || wait_event_type || ')', '')
                    else state end as what, count(*)::int as n
          from pg_stat_activity where datname = ${dbName} and pid <> pg_backend_pid() and state <> 'idle' group by 1`.execute(db);
      // Which rows are queued for: a waiter on a row lock shows as a tuple lock on its table (the first in line waits on the holder's transaction id).
      const { rows: queued } = await sql<{ what: string; n: number }>`
        select 'queued on ' || coalesce(relation::regclass::text, locktype) as what, count(*)::int as n from pg_locks
         where not granted and (database = (select oid from pg_database where datname = current_database()) or locktype = 'transactionid') group by 1`.execute(db);
      samples += 1;
      for (const a of [...activity, ...queued]) waits.set(a.what, (waits.get(a.what) ?? 0) + a.n);
      const run = await db.selectFrom("accrual_runs").select(["status", "batches_total"]).where("business_date", "=", businessDate).executeTakeFirst();
      if (run && firstSeenMs === null) firstSeenMs = performance.now() - t0;
      if (run?.status === "done") break;
      if (procs.some((p) => p.child.exitCode !== null)) throw new Error(`a worker exited: ${procs.flatMap((p) => p.errors).join(" | ")}`);
      if (performance.now() - t0 > RUN_CAP_MS) throw new Error(`the run was not done after ${seconds(RUN_CAP_MS)}`);
    }
    const elapsedMs = performance.now() - t0;
    const cpu = cpuBetween(cpu0, snapshot(dbName, workerPids));
    const perSecond = LOANS / (elapsedMs / 1000);
    const run = await sql<{ loans_total: number; batches_total: number }>`
      select loans_total, batches_total from accrual_runs where business_date = ${businessDate}::date`.execute(db);
    const r = run.rows[0];
    console.log(
      `  run for ${businessDate}: ${r.loans_total} loans in ${r.batches_total} batches done in ${seconds(elapsedMs)} after the trigger committed ` +
        `(run row seen after ${seconds(firstSeenMs ?? 0)}): ${perSecond.toFixed(0)} loans/s, ` +
        `${(elapsedMs / Math.max(r.batches_total, 1)).toFixed(0)} ms of wall time per batch of 500`,
    );
    console.log(`  CPU during the run: ${describeCpu(cpu, LOANS)}`);
    const byCount = [...waits.entries()].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${what} ${(n / samples).toFixed(1)}`);
    console.log(`  database backends of the run, mean over ${samples} samples: ${byCount.join(", ") || "none seen"}`);
    await Promise.all(procs.map(stopWorker));
    const failures = procs.reduce((n, p) => n + p.failures, 0);
    if (failures > 0) console.log(`  worker warnings/errors: ${failures}; first: ${procs.flatMap((p) => p.errors).slice(0, 3).join(" | ")}`);
    const checksOk = (await check(db, businessDate)) && r.loans_total === LOANS;
    const tpsAfter = await pgbenchTps(pgbenchUrl, workers, SECONDS);
    const tps = (tpsBefore + tpsAfter) / 2;
    console.log(`  pgbench TPC-B-like at ${workers} client${workers > 1 ? "s" : ""}: ${tpsBefore.toFixed(0)} TPS before, ${tpsAfter.toFixed(0)} after, mean ${tps.toFixed(0)}`);
    return { workers, elapsedMs, perSecond, tps, checksOk };
  } finally {
    await Promise.all(procs.map(stopWorker));
    const deleted = await deleteRedisKeys(redis, prefix);
    console.log(`  cleaned up ${deleted} redis keys of prefix ${prefix}`);
    await handle.close();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

export async function run(): Promise<void> {
  const base = adminUrl();
  const suffix = randomBytes(4).toString("hex");
  const pgbenchDb = `rt_bench_pgbench_${suffix}`;
  const setupDb = `rt_bench_accrual_${suffix}`;
  const admin = new pg.Client({ connectionString: base });
  admin.on("error", (error) => console.log(`  (admin connection lost: ${error.message})`));
  await admin.connect();
  await admin.query(`create database ${pgbenchDb}`);
  await admin.query(`create database ${setupDb}`);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const results: RoundResult[] = [];
  try {
    await pgbenchInit(urlFor(base, pgbenchDb), 10);
    const now = new Date();
    const businessDate = addDays(shanghaiDate(now), -2);
    console.log(`financing accrual run: ${LOANS} open loans disbursed on ${businessDate}, each with that one day to accrue; workers ${WORKER_COUNTS.join(", ")}; pgbench ${SECONDS} s`);
    const { template, setupMs } = await setUp(urlFor(base, setupDb), businessDate, now);
    console.log(`setup ${seconds(setupMs)}: template loan ${template.loanId} (${template.principalFen} fen) through the domain, ${LOANS - 1} copies by SQL, ledger clean`);
    if (PROFILE) await profileBatch(base, setupDb, businessDate);
    for (const workers of WORKER_COUNTS) {
      const result = await round(base, setupDb, urlFor(base, pgbenchDb), workers, suffix, businessDate, redis);
      results.push(result);
      const ratio = result.perSecond / result.tps;
      console.log(
        `  ${workers} worker${workers > 1 ? "s" : ""}: ${result.perSecond.toFixed(0)} loans/s; pgbench TPC-B-like ${result.tps.toFixed(0)} TPS at ${workers} client${workers > 1 ? "s" : ""}; ` +
          `ratio ${ratio.toFixed(2)} (target ≥ 2 at 2 workers: ${ratio >= 2 ? "met" : "NOT met"})`,
      );
      if (!result.checksOk) process.exitCode = 1;
    }
    for (const r of results) {
      console.log(
        JSON.stringify({
          bench: "accrual",
          workers: r.workers,
          loans: LOANS,
          seconds: Math.round(r.elapsedMs) / 1000,
          loans_per_s: Math.round(r.perSecond * 10) / 10,
          pgbench_tps: Math.round(r.tps),
          ratio: Math.round((r.perSecond / r.tps) * 1000) / 1000,
          via: "outbox → BullMQ flow (parent + one child per batch) → worker processes",
        }),
      );
    }
  } finally {
    await redis.quit();
    await admin.query(`drop database if exists ${setupDb} with (force)`);
    await admin.query(`drop database if exists ${pgbenchDb} with (force)`);
    await admin.end();
  }
}
