import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { enqueue, outboxJobId, type Trx } from "../../app/domain/outbox";
import { ACCRUAL_START_JOB, FINANCING_QUEUE, startAccrualRun } from "../../app/domain/financing";
import { accountCodes } from "../../app/domain/financing/internal.server";
import { addDays, shanghaiDate } from "../../app/domain/shared/dates";
import { createTestDatabase, testRedisPrefix, type TestDatabase } from "../support/db";
import { copyLoans, templateLoan } from "../support/loan-copies";
import { killAll, spawnWorker, startPrivateRedis, type PrivateRedis, type SpawnedProcess } from "../support/processes";
import { runFinancingJobs } from "../integration/financing.fixtures";

/**
 * The daily accrual run (日终计提) survives the faults of server mode. Worker processes
 * (`npm run worker`) run it as production does: the start step writes the run's close job, the relay
 * adds it to BullMQ as a flow with one child per batch, workers run the batches, and BullMQ runs the
 * close once they are done.
 *  - A worker SIGKILLed once a few batches are done (whatever batch it held rolls back), and a
 *    replacement started.
 *  - Redis restarted empty once a few batches are done: the flow (close job and the batches still
 *    waiting) is gone; the redelivery sweep finds the close's outbox row unfinished and adds the
 *    whole flow again, and the batches already done run again as no-ops.
 * Either way every loan has accrued the day exactly once, the run is done with every batch counted
 * once, the day's auto-debit is queued once, and the books verify: interest income equals the
 * interest accrued.
 */

const LOANS = 6_000; // 12 batches of 500
const OUTBOX_LEASE_MS = 1_500;
const BOOT_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One database with LOANS loans to accrue on `day` and a private Redis, per describe. The workers
 * read the real clock: a run is for a day that is over. `day` is the day before yesterday;
 * yesterday's run is started (on no loans) first, so the schedule's catch-up run for yesterday,
 * which a freshly started worker fires, cannot take the test's loans.
 */
function accrualWorld() {
  const now = new Date();
  const world = {
    t: undefined as unknown as TestDatabase,
    redis: undefined as unknown as PrivateRedis,
    children: [] as SpawnedProcess[],
    day: addDays(shanghaiDate(now), -2),
    prefix: "",
    deadline: 0,
    startWorker(): SpawnedProcess {
      const env = { DATABASE_URL: world.t.url, REDIS_URL: world.redis.url, REDIS_PREFIX: world.prefix, OUTBOX_LEASE_MS: String(OUTBOX_LEASE_MS) };
      const worker = spawnWorker(env);
      world.children.push(worker);
      return worker;
    },
    /** What production's schedule writes: the start step's outbox row. The run's clock starts. */
    async triggerRun(): Promise<void> {
      world.deadline = Date.now() + RUN_TIMEOUT_MS;
      await world.t.db.transaction().execute((trx) =>
        enqueue(trx as Trx, { queue: FINANCING_QUEUE, name: ACCRUAL_START_JOB, jobId: outboxJobId("financing-accrual", world.day, "start"), payload: { businessDate: world.day } }),
      );
    },
    progress: () => world.t.db.selectFrom("accrual_runs").select(["status", "batches_done", "batches_total"]).where("business_date", "=", world.day).executeTakeFirst(),
    /** Once the run is under way (a batch done) and not over: the moment for the fault. */
    async underWay() {
      for (;;) {
        const p = await world.progress();
        if (p && p.batches_done >= 1 && p.status === "running") return p;
        if (p?.status === "done") throw new Error("the run finished before the fault: give it more loans");
        if (Date.now() > world.deadline) throw new Error(`the run did not start: ${JSON.stringify(p)}`);
        await sleep(20);
      }
    },
    async done(faultAt: unknown): Promise<void> {
      for (;;) {
        const p = await world.progress();
        if (p?.status === "done") return;
        if (Date.now() > world.deadline) throw new Error(`the run did not finish: ${JSON.stringify(p)}; fault at ${JSON.stringify(faultAt)}`);
        await sleep(100);
      }
    },
  };

  beforeAll(async () => {
    world.t = await createTestDatabase({ poolMax: 6 });
    await startAccrualRun(world.t.db, addDays(shanghaiDate(now), -1), now);
    const template = await templateLoan(world.t.db, world.day);
    await copyLoans(world.t.db, template, LOANS - 1);
    await runFinancingJobs(world.t.db, now);
    world.redis = await startPrivateRedis();
    world.prefix = testRedisPrefix("accrual-fault");
  }, 120_000);

  afterEach((context) => {
    if (context.task.result?.state === "fail") for (const child of world.children) console.error(child.describe());
  });

  afterAll(async () => {
    await killAll();
    await world.t?.close();
  });
  return world;
}

describe("the daily accrual run with a worker SIGKILLed in the middle", () => {
  const w = accrualWorld();

  it("accrues every loan exactly once, and the books verify", async () => {
    const workers = [w.startWorker(), w.startWorker()];
    await Promise.all(workers.map((worker) => worker.waitForLog(/"msg":"worker ready"/, BOOT_TIMEOUT_MS)));
    await w.triggerRun();
    const killedAt = await w.underWay();
    workers[0]!.kill("SIGKILL");
    await workers[0]!.exited;
    await w.startWorker().waitForLog(/"msg":"worker ready"/, BOOT_TIMEOUT_MS);
    await w.done(killedAt);

    expect(killedAt.batches_done).toBeLessThan(LOANS / 500);
    await expectAccruedOnce(w.t, w.day);
  }, RUN_TIMEOUT_MS + 60_000);
});

describe("the daily accrual run with Redis restarted empty in the middle", () => {
  const w = accrualWorld();

  it("adds the lost flow again, accrues every loan exactly once, and the books verify", async () => {
    // One worker: its 8 concurrent jobs leave some of the 12 batches waiting in Redis, to be lost.
    await w.startWorker().waitForLog(/"msg":"worker ready"/, BOOT_TIMEOUT_MS);
    await w.triggerRun();
    const emptiedAt = await w.underWay();
    await w.redis.restartEmpty();
    await w.done(emptiedAt);

    expect(emptiedAt.batches_done).toBeLessThan(LOANS / 500);
    await expectAccruedOnce(w.t, w.day);
    // The redelivery sweep is what brought the flow back: the close's row says it was sent again.
    const close = await w.t.db.selectFrom("outbox").select("redeliveries").where("job_id", "=", outboxJobId("financing-accrual", w.day, "close")).executeTakeFirstOrThrow();
    expect(close.redeliveries).toBeGreaterThanOrEqual(1);
    // And the daily schedule is back in the emptied Redis (the worker's schedule keeper).
    const connection = new Redis(w.redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(FINANCING_QUEUE, { connection, prefix: w.prefix });
    try {
      const ids = (await queue.getJobSchedulers()).map((s) => s.key);
      expect(ids).toContain("financing-accrual");
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, RUN_TIMEOUT_MS + 60_000);
});

/** Every loan accrued `day` once, the run closed once with every batch counted once, the books verify. */
async function expectAccruedOnce(t: TestDatabase, day: string): Promise<void> {
  const run = await t.db.selectFrom("accrual_runs").select(["status", "batches_done", "batches_total", "loans_done", "loans_total"]).where("business_date", "=", day).executeTakeFirst();
  expect(run).toMatchObject({ status: "done", batches_total: LOANS / 500, batches_done: LOANS / 500, loans_total: LOANS, loans_done: LOANS });
  const { rows } = await sql<{ accrued: number; rows_for_day: number; loans_with_one: number; interest: string }>`
    select (select count(*) from loans where accrued_through = ${day}::date)::int as accrued,
           (select count(*) from loan_accruals where business_date = ${day}::date)::int as rows_for_day,
           (select count(*) from (select loan_id from loan_accruals where business_date = ${day}::date group by loan_id having count(*) = 1) o)::int as loans_with_one,
           (select coalesce(sum(interest_fen), 0) from loan_accruals)::text as interest`.execute(t.db);
  expect(rows[0]).toMatchObject({ accrued: LOANS, rows_for_day: LOANS, loans_with_one: LOANS });
  const income = await t.db.selectFrom("ledger_accounts").select(["credits_posted_fen", "debits_posted_fen"]).where("code", "=", accountCodes.interestIncome).executeTakeFirstOrThrow();
  expect(income.credits_posted_fen - income.debits_posted_fen).toBe(Number(rows[0]!.interest));
  // Each loan's day: half-even(5,438 × 1 / 90) = 60 fen.
  expect(Number(rows[0]!.interest)).toBe(LOANS * 60);
  expect(await verifyLedger(t.db)).toEqual([]);
  const failed = await t.db.selectFrom("outbox").select("job_id").where("failed_at", "is not", null).execute();
  expect(failed).toEqual([]);
  // The close ran (the flow's parent) and queued the next day's auto-debit, once. The worker
  // records a finished job a few milliseconds after it (in batches), so give it a moment.
  const closeId = outboxJobId("financing-accrual", day, "close");
  const recordedBy = Date.now() + 10_000;
  while ((await t.db.selectFrom("outbox").select("completed_at").where("job_id", "=", closeId).executeTakeFirstOrThrow()).completed_at === null) {
  if (Date.now() > recordedBy) throw new Error("the run's close job was never recorded as completed");
  await sleep(50);
  }
  const autoDebit = await t.db.selectFrom("outbox").select("job_id").where("job_id", "=", outboxJobId("financing-auto-debit", addDays(day, 1), "run")).execute();
  expect(autoDebit).toHaveLength(1);
}
