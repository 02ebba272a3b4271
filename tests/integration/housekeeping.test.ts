import { randomBytes, randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { logger } from "../../app/logger.server";
import { createJobRuntime, enqueueScheduledSlot } from "../../jobs/runtime";
import { runStep, STEPS } from "../../workflows/registry";
import { SCHEDULES } from "../../workflows/schedules";
import { PURGE_BATCH_ROWS, PURGE_EXPIRED_JOB, PURGE_MAX_BATCHES_PER_RUN, purgeExpiredStep } from "../../workflows/housekeeping";
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from "../support/db";
import { newOrg, newUser } from "./catalog.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

const hex64 = () => randomBytes(32).toString("hex");
const HOUR_MS = 3_600_000;

/**
 * Rows that only matter until they expire — web sessions, API tokens, login failures, idempotency
 * records — are deleted by a scheduled step (BullMQ scheduler in server mode, the in-process
 * runner's timer in embedded mode), a bounded number per run; live rows stay.
 */
describe("housekeeping: the expired-rows purge", () => {
  let handle: DbHandle;
  let user: string;
  let org: string;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 10 });
    org = await newOrg(handle.db, "dealer");
    user = await newUser(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  async function seedRows(now: Date, label: string) {
    const { db } = handle;
    const past = new Date(now.getTime() - HOUR_MS);
    const future = new Date(now.getTime() + HOUR_MS);
    const session = (expires_at: Date) => ({ token_hash: hex64(), user_id: user, organization_id: org, csrf_token: "c", expires_at });
    await db.insertInto("sessions").values([session(past), session(future)]).execute();
    const token = (expires_at: Date) => ({ token_hash: hex64(), user_id: user, organization_id: org, created_at: new Date(expires_at.getTime() - HOUR_MS), expires_at });
    await db.insertInto("api_tokens").values([token(past), token(future)]).execute();
    const idem = (key: string, expires_at: Date) => ({
      scope: `test:${label}`,
      key,
      request_hash: hex64(),
      method: "POST",
      path: "/api/v1/orders",
      status: "in_progress" as const,
      lock_token: randomUUID(),
      locked_at: new Date(expires_at.getTime() - HOUR_MS),
      expires_at,
    });
    await db.insertInto("idempotency_keys").values([idem("old", past), idem("live", future)]).execute();
    // Login failures stay a day (well past the 15-minute throttle window), then go.
    await db
      .insertInto("login_failures")
      .values([
        { email_normalized: `old-${label}@x.test`, ip: null, at: new Date(now.getTime() - 25 * HOUR_MS) },
        { email_normalized: `recent-${label}@x.test`, ip: null, at: new Date(now.getTime() - 2 * HOUR_MS) },
      ])
      .execute();
  }

  async function remaining(now: Date, label: string) {
    const { db } = handle;
    const count = async (q: { executeTakeFirstOrThrow(): Promise<{ n: number | string }> }) => Number((await q.executeTakeFirstOrThrow()).n);
    return {
      expiredSessions: await count(db.selectFrom("sessions").select((eb) => eb.fn.countAll<number>().as("n")).where("expires_at", "<", now)),
      liveSessions: await count(db.selectFrom("sessions").select((eb) => eb.fn.countAll<number>().as("n")).where("expires_at", ">", now)),
      expiredTokens: await count(db.selectFrom("api_tokens").select((eb) => eb.fn.countAll<number>().as("n")).where("expires_at", "<", now)),
      liveTokens: await count(db.selectFrom("api_tokens").select((eb) => eb.fn.countAll<number>().as("n")).where("expires_at", ">", now)),
      idempotencyKeys: (await db.selectFrom("idempotency_keys").select("key").where("scope", "=", `test:${label}`).execute()).map((r) => r.key),
      failures: (await db.selectFrom("login_failures").select("email_normalized").where("email_normalized", "like", `%-${label}@x.test`).execute()).map((r) => r.email_normalized),
    };
  }

  it("deletes expired sessions, API tokens, idempotency records and day-old login failures, and keeps the live ones", async () => {
    const now = new Date();
    await seedRows(now, "a");
    const before = await remaining(now, "a");
    expect(before.expiredSessions).toBeGreaterThan(0);
    expect(before.expiredTokens).toBeGreaterThan(0);

    await runStep(STEPS, { db: handle.db, logger: quiet, now: () => now }, PURGE_EXPIRED_JOB, {});

    const after = await remaining(now, "a");
    expect(after).toEqual({
      expiredSessions: 0,
      liveSessions: before.liveSessions,
      expiredTokens: 0,
      liveTokens: before.liveTokens,
      idempotencyKeys: ["live"],
      failures: ["recent-a@x.test"],
    });
    // A second run (at-least-once delivery) finds nothing more to do.
    await runStep(STEPS, { db: handle.db, logger: quiet, now: () => now }, PURGE_EXPIRED_JOB, {});
    expect(await remaining(now, "a")).toEqual(after);
  });

  it("deletes at most its batch limit per run and leaves the rest to the next run", async () => {
    const { db } = handle;
    const now = new Date();
    const cap = PURGE_BATCH_ROWS * PURGE_MAX_BATCHES_PER_RUN;
    const extra = 5;
    await sql`insert into login_failures (email_normalized, at)
      select 'bulk-b@x.test', ${new Date(now.getTime() - 30 * HOUR_MS)}::timestamptz from generate_series(1, ${cap + extra}::integer)`.execute(db);
    const bulk = async () =>
      Number((await db.selectFrom("login_failures").select((eb) => eb.fn.countAll<number>().as("n")).where("email_normalized", "=", "bulk-b@x.test").executeTakeFirstOrThrow()).n);
    expect(await bulk()).toBe(cap + extra);
    await purgeExpiredStep({ db, logger: quiet, now: () => now }, {});
    expect(await bulk()).toBe(extra);
    await purgeExpiredStep({ db, logger: quiet, now: () => now }, {});
    expect(await bulk()).toBe(0);
  });

  it("is a schedule: one outbox row per slot in embedded mode, and one BullMQ job scheduler however many workers start", async () => {
    const schedule = SCHEDULES.find((s) => s.jobName === PURGE_EXPIRED_JOB);
    expect(schedule).toBeDefined();
    expect(schedule!.queue).toBe(STEPS[PURGE_EXPIRED_JOB].queue);

    const at = new Date("2026-12-07T08:00:00Z");
    await Promise.all([1, 2].map(() => enqueueScheduledSlot(handle.db, schedule!, at)));
    const rows = await handle.db.selectFrom("outbox").select("job_id").where("job_name", "=", PURGE_EXPIRED_JOB).execute();
    expect(rows).toHaveLength(1);

    const prefix = testRedisPrefix("purge");
    const workers = [1, 2].map(() => createJobRuntime({ db: handle.db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger: quiet }));
    await Promise.all(workers.map((w) => w.start()));
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(schedule!.queue, { connection, prefix });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key)).toEqual([schedule!.id]);
      expect(schedulers[0]).toMatchObject({ name: PURGE_EXPIRED_JOB, every: schedule!.every_ms });
    } finally {
      await queue.close();
      connection.disconnect();
      await Promise.all(workers.map((w) => w.stop()));
    }
  });
});
