import { afterEach, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { Redis } from "ioredis";
import { createDb, type Db } from "../../db";
import { logger } from "../../app/logger.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { enqueue, outboxJobId, type Trx } from "../../app/domain/outbox/outbox.server";
import { DELIVER_NOTIFICATION_JOB, NOTIFICATIONS_QUEUE, requestNotification } from "../../app/domain/notifications/notifications.server";
import { STEPS, type StepRegistry } from "../../workflows/registry";
import { deliverNotificationStep } from "../../workflows/notifications";
import { relayOnce, type JobPublisher } from "../../jobs/relay";
import { jobOptionsFor, QUEUE_NAMES } from "../../jobs/queues";
import { createJobRuntime, type JobRuntime } from "../../jobs/runtime";
import { createInProcessRunner } from "../../jobs/in-process-runner";
import { createEmbeddedTestDatabase, createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from "../support/db";
import {
  commitMembershipNotice,
  countNotifications,
  createOrganizationWithMembers,
  outboxRows,
  testQueue,
  waitFor,
} from "./outbox.fixtures";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Last opened, first closed: runtimes and queues before the databases they use.
  for (let c = cleanups.pop(); c; c = cleanups.pop()) await c();
});

async function freshDb(): Promise<Db> {
  const t = await createTestDatabase();
  cleanups.push(() => t.close());
  return t.db;
}

async function freshDbWithUrl(): Promise<{ db: Db; url: string }> {
  const t = await createTestDatabase();
  cleanups.push(() => t.close());
  return { db: t.db, url: t.url };
}

function queueFor(prefix: string, name: string = NOTIFICATIONS_QUEUE) {
  const q = testQueue(name, prefix);
  cleanups.push(q.close);
  return q.queue;
}

function startedRuntime(runtime: JobRuntime): JobRuntime {
  cleanups.push(() => runtime.stop());
  return runtime;
}

/** The real steps, counting how often each runs: "ran twice" and "had one effect" side by side. */
function countingSteps(base: StepRegistry = STEPS): { steps: StepRegistry; runs: () => number } {
  let runs = 0;
  const steps: StepRegistry = Object.fromEntries(
    Object.entries(base).map(([name, step]) => [
      name,
      {
        queue: step.queue,
        async execute(deps, data) {
          runs += 1;
          await step.execute(deps, data);
        },
      },
    ]),
  );
  return { steps, runs: () => runs };
}

async function delayed(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** The (single) outbox row's retry bookkeeping; `backoff_ms` is the delay its last failure set. */
async function outboxState(db: Db) {
  return db
    .selectFrom("outbox")
    .select([
      "attempts",
      "last_error",
      "published_at",
      "failed_at",
      sql<number>`round(extract(epoch from (available_at - last_error_at)) * 1000)::int`.as("backoff_ms"),
      sql<number>`extract(epoch from (available_at - now()))::float8 * 1000`.as("due_in_ms"),
    ])
    .executeTakeFirstOrThrow();
}

/** Let the backoff pass without sleeping through it: the row becomes due now. */
async function backoffElapses(db: Db): Promise<void> {
  await db.updateTable("outbox").set({ available_at: sql<Date>`now()` }).where("published_at", "is", null).execute();
}

describe("outbox", () => {
  it("holds a row only when the business change commits", async () => {
    const db = await freshDb();
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 2);

    await expect(
      db.transaction().execute(async (trx) => {
        await requestNotification(trx, SYSTEM_ACTOR, {
          organizationId,
          topic: "membership.added",
          params: { userId: userIds[0], displayName: "Li Na", role: "viewer" },
        });
        throw new Error("a later rule of the business change failed");
      }),
    ).rejects.toThrow(/later rule/);
    expect(await outboxRows(db)).toHaveLength(0);
    expect(await db.selectFrom("notification_requests").selectAll().execute()).toHaveLength(0);

    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    const rows = await outboxRows(db);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      queue: "notifications",
      job_name: DELIVER_NOTIFICATION_JOB,
      job_id: `notifications:${requestId}:deliver`,
      payload: { requestId },
      published_at: null,
      attempts: 0,
    });
  });

  it("has no effect for a rolled-back change, even after the relay and a worker run", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("rollback");
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 2);
    await expect(
      db.transaction().execute(async (trx) => {
        await requestNotification(trx, SYSTEM_ACTOR, {
          organizationId,
          topic: "membership.added",
          params: { userId: userIds[1], displayName: "Li Na", role: "viewer" },
        });
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");

    const queue = queueFor(prefix);
    expect(await relayOnce({ db, publishers: new Map([[NOTIFICATIONS_QUEUE, queue]]), logger })).toEqual({ locked: 0, published: 0, failed: 0 });
    expect(await queue.count()).toBe(0);
    const counted = countingSteps();
    const runtime = startedRuntime(createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps: counted.steps, pollIntervalMs: 20 }));
    await runtime.start();
    await delayed(300);
    expect(counted.runs()).toBe(0);
    expect(await db.selectFrom("notifications").selectAll().execute()).toHaveLength(0);
  });

  it("keeps one row per job id", async () => {
    const db = await freshDb();
    const job = { queue: "notifications", name: DELIVER_NOTIFICATION_JOB, jobId: outboxJobId("notifications", "n-1", "deliver"), payload: { requestId: "n-1" } };
    const first = await db.transaction().execute((trx) => enqueue(trx, job));
    const second = await db.transaction().execute((trx) => enqueue(trx, job));
    expect(first).toEqual({ enqueued: true });
    expect(second).toEqual({ enqueued: false });
    expect(await outboxRows(db)).toHaveLength(1);
  });

  it("refuses what BullMQ would refuse, oversized payloads, and writes outside a transaction", async () => {
    const db = await freshDb();
    const good = { queue: "notifications", name: "x.y", jobId: "wf:1:step", payload: { id: "1" } };
    await expect(enqueue(db as unknown as Trx, good)).rejects.toThrow(/inside the business change's transaction/);
    await expect(db.transaction().execute((trx) => enqueue(trx, { ...good, jobId: "wf:1:step:extra" }))).rejects.toThrow(/<workflow>:<id>:<step>/);
    await expect(db.transaction().execute((trx) => enqueue(trx, { ...good, queue: "bad:queue" }))).rejects.toThrow(/queue name/);
    await expect(db.transaction().execute((trx) => enqueue(trx, { ...good, payload: { blob: "x".repeat(9_000) } }))).rejects.toThrow(/carry ids/);
    expect(() => outboxJobId("wf", "a:b", "step")).toThrow(/without ':'/);
    // The table holds the same line, whatever code writes to it.
    await expect(
      db.insertInto("outbox").values({ queue: "notifications", job_name: "x", job_id: "only:two", payload: "{}" }).execute(),
    ).rejects.toThrow(/outbox_job_id_three_parts/);
    const raw = (jobId: string) => db.insertInto("outbox").values({ queue: "notifications", job_name: "x", job_id: jobId, payload: "{}" }).execute();
    for (const bad of ["a:b:c:d", ":b:c", "a::c", "a:b:", `${"a".repeat(201)}:b:c`, `a:${"b".repeat(201)}:c`, `a:b:${"c".repeat(201)}`]) {
      await expect(raw(bad), bad.slice(0, 12)).rejects.toThrow(/outbox_job_id_three_parts/);
    }
    expect(await outboxRows(db)).toHaveLength(0);
    // Each part may be 200 characters long.
    await raw(`${"a".repeat(200)}:${"b".repeat(200)}:${"c".repeat(200)}`);
    expect(await outboxRows(db)).toHaveLength(1);
  });

  it("gives workers a queue for every registered step, each a name BullMQ accepts", () => {
    expect(QUEUE_NAMES).toEqual(expect.arrayContaining(Object.values(STEPS).map((s) => s.queue)));
    for (const name of QUEUE_NAMES) expect(name).toMatch(/^[a-z][a-z0-9_-]*$/);
  });
});

describe("outbox relay", () => {
  it("publishes a committed change once, and its job has one effect, however often the relay runs", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("once");
    const queue = queueFor(prefix);
    const publishers = new Map([[NOTIFICATIONS_QUEUE, queue]]);
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 3);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);

    expect(await relayOnce({ db, publishers, logger })).toEqual({ locked: 1, published: 1, failed: 0 });
    expect(await relayOnce({ db, publishers, logger })).toEqual({ locked: 0, published: 0, failed: 0 });
    const [row] = await outboxRows(db);
    expect(row.published_at).toBeInstanceOf(Date);
    const jobId = `notifications:${requestId}:deliver`;
    const job = await queue.getJob(jobId);
    expect(job?.data).toEqual({ requestId });
    expect(job?.opts.removeOnComplete).toMatchObject({ age: expect.any(Number), count: expect.any(Number) });

    const counted = countingSteps();
    const runtime = startedRuntime(createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps: counted.steps, pollIntervalMs: 20 }));
    await runtime.start();
    await waitFor("the job to complete", async () => (await queue.getJobCounts("completed")).completed === 1);
    expect(counted.runs()).toBe(1);
    expect(await countNotifications(db, requestId)).toBe(3);
  });

  it("run by two relays at once, publishes each row exactly once (SKIP LOCKED)", async () => {
    const { db, url } = await freshDbWithUrl();
    const second = createDb({ databaseUrl: url, poolMax: 4 });
    cleanups.push(() => second.close());
    const prefix = testRedisPrefix("pair");
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 2);
    const requestIds: string[] = [];
    for (let i = 0; i < 40; i++) requestIds.push(await commitMembershipNotice(db, organizationId, userIds[0]));

    // Two "processes": own pool, own Redis connection each.
    const relays = [
      { db, publishers: new Map([[NOTIFICATIONS_QUEUE, queueFor(prefix)]]) },
      { db: second.db, publishers: new Map([[NOTIFICATIONS_QUEUE, queueFor(prefix)]]) },
    ];
    const publishedJobIds: string[] = [];
    const publishedBy = [0, 0];
    await Promise.all(
      relays.map(async (relay, i) => {
        for (let pass = 0; pass < 100; pass++) {
          const result = await relayOnce({
            ...relay,
            logger,
            batchSize: 5,
            // Hold the row locks a moment so the two passes overlap.
            hooks: { afterPublish: async (rows) => { publishedJobIds.push(...rows.map((r) => r.job_id)); await delayed(50); } },
          });
          publishedBy[i] += result.published;
          if (result.locked === 0) break;
        }
      }),
    );
    expect(publishedJobIds).toHaveLength(40);
    expect(new Set(publishedJobIds).size).toBe(40);
    expect(publishedBy[0]).toBeGreaterThan(0);
    expect(publishedBy[1]).toBeGreaterThan(0);
    expect(publishedBy[0] + publishedBy[1]).toBe(40);
    const queue = queueFor(prefix);
    expect(await queue.count()).toBe(40);
    expect((await outboxRows(db)).every((r) => r.published_at !== null)).toBe(true);
  });

  it("after a crash between publish and mark, publishes again and the job still has one effect", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("crash");
    const queue = queueFor(prefix);
    const publishers = new Map([[NOTIFICATIONS_QUEUE, queue]]);
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 3);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);

    await expect(
      relayOnce({ db, publishers, logger, hooks: { afterPublish: () => { throw new Error("process killed after publish"); } } }),
    ).rejects.toThrow(/killed/);
    const [row] = await outboxRows(db);
    expect(row.published_at).toBeNull();
    expect(await queue.count()).toBe(1);

    expect(await relayOnce({ db, publishers, logger })).toEqual({ locked: 1, published: 1, failed: 0 });
    expect(await queue.count()).toBe(1);

    const counted = countingSteps();
    const runtime = startedRuntime(createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps: counted.steps, pollIntervalMs: 20 }));
    await runtime.start();
    await waitFor("the job to complete", async () => (await queue.getJobCounts("completed")).completed === 1);

    // The crash can also come after the job ran: the next relay publishes a job BullMQ still holds.
    // (The worker runtime's own relay loop takes the row this time.)
    // (A crash before either mark: neither publication nor completion was recorded.)
    await db.updateTable("outbox").set({ published_at: null, completed_at: null }).where("id", "=", row.id).execute();
    await waitFor("the row to be published again", async () => (await outboxRows(db))[0].published_at !== null);
    expect(await queue.getJobCounts("waiting", "active", "completed")).toEqual({ waiting: 0, active: 0, completed: 1 });
    await delayed(300);
    expect(counted.runs()).toBe(1);
    expect(await countNotifications(db, requestId)).toBe(3);
  });

  it("when a job runs twice, the second run changes nothing", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("twice");
    const queue = queueFor(prefix);
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 3);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    const jobId = `notifications:${requestId}:deliver`;

    const counted = countingSteps();
    const runtime = startedRuntime(createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps: counted.steps, pollIntervalMs: 20 }));
    await runtime.start();
    await waitFor("the job to complete", async () => (await queue.getJobCounts("completed")).completed === 1);
    expect(await countNotifications(db, requestId)).toBe(3);

    // Added again while BullMQ keeps the finished job: ignored.
    await queue.add(DELIVER_NOTIFICATION_JOB, { requestId }, jobOptionsFor(jobId));
    expect(await queue.getJobCounts("waiting", "active", "completed")).toEqual({ waiting: 0, active: 0, completed: 1 });
    await delayed(300);
    expect(counted.runs()).toBe(1);

    // Evicted (retention passed) and added again: it runs, and finds the work done.
    await queue.remove(jobId);
    await queue.add(DELIVER_NOTIFICATION_JOB, { requestId }, jobOptionsFor(jobId));
    await waitFor("the second run", async () => counted.runs() === 2 && (await queue.getJobCounts("completed")).completed === 1);

    // Called directly, twice at once, with no queue at all.
    const deps = { db, logger };
    await Promise.all([deliverNotificationStep(deps, { requestId }), deliverNotificationStep(deps, { requestId })]);

    expect(await countNotifications(db, requestId)).toBe(3);
    const request = await db.selectFrom("notification_requests").selectAll().where("id", "=", requestId).executeTakeFirstOrThrow();
    expect(request).toMatchObject({ status: "delivered", recipient_count: 3 });
    const delivered = await db.selectFrom("audit_events").select("id").where("action", "=", "notification.delivered").execute();
    expect(delivered).toHaveLength(1);
  });

  it("holds rows back with backoff while they cannot be published, and never gives them up", async () => {
    const db = await freshDb();
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 1);
    await commitMembershipNotice(db, organizationId, userIds[0]);
    const redisDown: JobPublisher = { addBulk: async () => { throw new Error("connect ECONNREFUSED"); }, remove: async () => 0 };
    const hung: JobPublisher = { addBulk: () => new Promise(() => undefined), remove: async () => 0 };

    expect(await relayOnce({ db, publishers: new Map([[NOTIFICATIONS_QUEUE, redisDown]]), logger })).toEqual({ locked: 1, published: 0, failed: 1 });
    const afterFirst = await outboxState(db);
    expect(afterFirst).toMatchObject({ attempts: 1, failed_at: null, backoff_ms: 1_000, last_error: expect.stringMatching(/ECONNREFUSED/) });
    expect(afterFirst.due_in_ms).toBeGreaterThan(0);
    // Not due yet: the next pass leaves it alone.
    expect(await relayOnce({ db, publishers: new Map([[NOTIFICATIONS_QUEUE, redisDown]]), logger })).toEqual({ locked: 0, published: 0, failed: 0 });

    // A publish that hangs is abandoned after the timeout; a queue nobody serves waits for a deploy.
    await backoffElapses(db);
    expect(await relayOnce({ db, publishers: new Map([[NOTIFICATIONS_QUEUE, hung]]), logger, publishTimeoutMs: 100 })).toMatchObject({ failed: 1 });
    expect(await outboxState(db)).toMatchObject({ attempts: 2, backoff_ms: 2_000, last_error: expect.stringMatching(/within 100 ms/) });
    await backoffElapses(db);
    expect(await relayOnce({ db, publishers: new Map(), logger })).toMatchObject({ failed: 1 });
    expect(await outboxState(db)).toMatchObject({
      attempts: 3,
      backoff_ms: 4_000,
      failed_at: null,
      published_at: null,
      last_error: expect.stringMatching(/no publisher for queue notifications/),
    });
  });
});

describe("job runtime", () => {
  it("with several workers at once, delivers every committed request exactly once", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("fleet");
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 2);
    const requestIds: string[] = [];
    for (let i = 0; i < 30; i++) requestIds.push(await commitMembershipNotice(db, organizationId, userIds[0]));

    const counted = countingSteps();
    const runtimes = [0, 1, 2].map(() =>
      startedRuntime(createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps: counted.steps, pollIntervalMs: 10, concurrency: 4 })),
    );
    await Promise.all(runtimes.map((r) => r.start()));
    await waitFor("every request delivered", async () => {
      const pending = await db.selectFrom("notification_requests").select("id").where("status", "=", "pending").execute();
      return pending.length === 0;
    });
    const queue = queueFor(prefix);
    await waitFor("every job completed", async () => (await queue.getJobCounts("completed")).completed === 30);
    expect(counted.runs()).toBe(30);
    const total = await db.selectFrom("notifications").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    expect(Number(total.n)).toBe(60);
    for (const id of requestIds) expect(await countNotifications(db, id)).toBe(2);
  });

  it("stops gracefully: finishes the running job, then closes its Redis connections", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("stop");
    let started = false;
    const finished: string[] = [];
    const steps: StepRegistry = {
      "probe.slow": {
        queue: "probe",
        async execute(_deps, data) {
          started = true;
          await delayed(500);
          finished.push(String((data as { id: string }).id));
        },
      },
    };
    await db.transaction().execute((trx) => enqueue(trx, { queue: "probe", name: "probe.slow", jobId: "probe:1:slow", payload: { id: "1" } }));
    const runtime = createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps, pollIntervalMs: 10 });
    cleanups.push(() => runtime.stop());
    await runtime.start();
    expect(await runtime.health()).toMatchObject({ ok: true });
    await waitFor("the slow job to start", async () => started);

    const admin = new Redis(TEST_REDIS_URL);
    cleanups.push(async () => void (await admin.quit()));
    const clientsOfThisPrefix = async () => ((await admin.client("LIST")) as string).split("\n").filter((line) => line.includes(`name=${prefix}`)).length;
    expect(await clientsOfThisPrefix()).toBeGreaterThan(0);

    await runtime.stop();
    expect(finished).toEqual(["1"]);
    expect(await clientsOfThisPrefix()).toBe(0);
    expect(await runtime.health()).toEqual({ ok: false, detail: "job workers not started" });
    const queue = queueFor(prefix, "probe");
    expect(await queue.getJobCounts("completed", "active")).toEqual({ completed: 1, active: 0 });
  });

  it("for a web process with Redis, answers health within 2 s, down when Redis is", async () => {
    const db = await freshDb();
    const up = startedRuntime(createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix: testRedisPrefix("web"), role: "web", logger }));
    expect(up.mode).toBe("bullmq");
    await up.start();
    await waitFor("redis ready", async () => (await up.health()).ok);

    const down = startedRuntime(createJobRuntime({ db, redisUrl: "redis://127.0.0.1:1", prefix: testRedisPrefix("web"), role: "web", logger }));
    await down.start();
    const startedAt = Date.now();
    const health = await down.health();
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/redis unreachable/);
  });

  it("chooses its mode from the role and REDIS_URL", async () => {
    const db = await freshDb();
    expect(createJobRuntime({ db, prefix: "p", role: "web", logger }).mode).toBe("in-process");
    expect(() => createJobRuntime({ db, prefix: "p", role: "worker", logger })).toThrow(/needs REDIS_URL/);
    expect(() => createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix: "a:b", role: "worker", logger })).toThrow(/prefix/);
  });
});

describe("in-process runner (embedded mode, PGlite)", () => {
  async function embedded() {
    const e = await createEmbeddedTestDatabase();
    cleanups.push(() => e.close());
    return e.db;
  }

  it("delivers a committed request by calling the same step, without Redis", async () => {
    const db = await embedded();
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 3);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    const runtime = startedRuntime(createJobRuntime({ db, prefix: "embedded", role: "web", logger, pollIntervalMs: 20 }));
    expect(runtime.mode).toBe("in-process");
    await runtime.start();
    await waitFor("delivery", async () => (await countNotifications(db, requestId)) === 3);
    expect(await runtime.health()).toMatchObject({ ok: true });
    await runtime.stop();
    const [row] = await outboxRows(db);
    expect(row).toMatchObject({ attempts: 1, last_error: null, failed_at: null });
    expect(row.published_at).toBeInstanceOf(Date);
    expect(await runtime.health()).toMatchObject({ ok: false });
  });

  it("retries a failing step with exponential backoff recorded in the outbox row, then succeeds", async () => {
    const db = await embedded();
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 2);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    let calls = 0;
    const real = STEPS[DELIVER_NOTIFICATION_JOB];
    const steps: StepRegistry = {
      [DELIVER_NOTIFICATION_JOB]: {
        queue: real.queue,
        async execute(deps, data) {
          calls += 1;
          if (calls <= 2) throw new Error(`mail gateway timeout #${calls}`);
          await real.execute(deps, data);
        },
      },
    };
    const runner = createInProcessRunner({ db, logger, steps, retry: { maxAttempts: 5, backoffBaseMs: 1_000, backoffCapMs: 1_500 } });
    cleanups.push(() => runner.stop());

    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 1 });
    const first = await outboxState(db);
    expect(first).toMatchObject({ attempts: 1, backoff_ms: 1_000, last_error: expect.stringMatching(/timeout #1/), published_at: null });
    expect(first.due_in_ms).toBeGreaterThan(0);
    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 0 });

    await backoffElapses(db);
    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 1 });
    // 1 000 · 2 = 2 000, capped at 1 500.
    expect(await outboxState(db)).toMatchObject({ attempts: 2, backoff_ms: 1_500, last_error: expect.stringMatching(/timeout #2/) });

    await backoffElapses(db);
    expect(await runner.runOnce()).toEqual({ ran: 1, failed: 0 });
    const done = await outboxState(db);
    expect(done).toMatchObject({ attempts: 3, failed_at: null, last_error: expect.stringMatching(/timeout #2/) });
    expect(done.published_at).toBeInstanceOf(Date);
    expect(await countNotifications(db, requestId)).toBe(2);
    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 0 });
  });

  it("gives a step up after its last attempt, and at once when the error is permanent", async () => {
    const db = await embedded();
    const steps: StepRegistry = {
      "probe.broken": { queue: "probe", execute: async () => { throw new Error("always broken"); } },
    };
    await db.transaction().execute(async (trx) => {
      await enqueue(trx, { queue: "probe", name: "probe.broken", jobId: "probe:1:broken", payload: {} });
      await enqueue(trx, { queue: "probe", name: "probe.renamed", jobId: "probe:2:renamed", payload: {} });
    });
    const runner = createInProcessRunner({ db, logger, steps, retry: { maxAttempts: 2, backoffBaseMs: 10, backoffCapMs: 10 } });
    cleanups.push(() => runner.stop());

    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 2 });
    await backoffElapses(db);
    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 1 });
    await backoffElapses(db);
    expect(await runner.runOnce()).toEqual({ ran: 0, failed: 0 });

    const rows = await outboxRows(db);
    expect(rows[0]).toMatchObject({ job_id: "probe:1:broken", attempts: 2, last_error: expect.stringMatching(/always broken/) });
    expect(rows[0].failed_at).toBeInstanceOf(Date);
    expect(rows[1]).toMatchObject({ job_id: "probe:2:renamed", attempts: 1, last_error: expect.stringMatching(/no step registered for job probe.renamed/) });
    expect(rows[1].failed_at).toBeInstanceOf(Date);
  });

  it("never runs two steps at once against PGlite", async () => {
    const db = await embedded();
    let inFlight = 0;
    let maxInFlight = 0;
    let done = 0;
    const steps: StepRegistry = {
      "probe.step": {
        queue: "probe",
        async execute(deps) {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await sql`select pg_sleep(0.01)`.execute(deps.db);
          await delayed(10);
          inFlight -= 1;
          done += 1;
        },
      },
    };
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < 8; i++) await enqueue(trx, { queue: "probe", name: "probe.step", jobId: `probe:${i}:step`, payload: {} });
    });
    const runner = createInProcessRunner({ db, logger, steps, pollIntervalMs: 1, rowsPerTick: 2 });
    cleanups.push(() => runner.stop());
    runner.start();
    await Promise.all([runner.runOnce(), runner.runOnce(), runner.runUntilIdle()]);
    await waitFor("all steps", async () => done === 8);
    expect(maxInFlight).toBe(1);
  });
});
