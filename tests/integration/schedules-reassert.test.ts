import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { catchUpJobId, startScheduleKeeper, type ScheduleKeeper } from "../../jobs/schedule-keeper";
import { SCHEDULES } from "../../workflows/schedules";
import { TEST_REDIS_URL, testRedisPrefix } from "../support/db";

const quiet = logger.child({});
quiet.level = "silent";

/** A fixed clock, so every keeper computes the same catch-up slot. */
const NOW = new Date("2026-12-07T16:00:30Z");
/** Short enough that the tests wait a fraction of a second for a pass. */
const TEST_INTERVAL_MS = 200;
/** Upper bound on waiting for something that should happen within an interval or a reconnect. */
const WAIT_BOUND_MS = 10_000;

/** One "worker": its own connection and queues under the test's prefix, and a keeper over them. */
interface KeeperUnderTest {
  connection: Redis;
  queues: Map<string, Queue>;
  keeper: ScheduleKeeper;
}

const opened: KeeperUnderTest[] = [];

async function startKeeper(prefix: string, intervalMs: number): Promise<KeeperUnderTest> {
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  // Connected first, as in the worker (it waits for its queues): the keeper's first 'ready' is then
  // a reconnect, and no background pass overlaps the test's own steps.
  await new Promise((resolve) => connection.once("ready", resolve));
  const queues = new Map<string, Queue>();
  for (const name of new Set(SCHEDULES.map((s) => s.queue))) queues.set(name, new Queue(name, { connection, prefix }));
  const keeper = startScheduleKeeper({ schedules: SCHEDULES, queues, connection, logger: quiet, intervalMs, now: () => NOW });
  const started = { connection, queues, keeper };
  opened.push(started);
  return started;
}

afterEach(async () => {
  for (const { connection, queues, keeper } of opened.splice(0)) {
    await keeper.stop();
    await Promise.all([...queues.values()].map((q) => q.close()));
    connection.disconnect();
  }
});

/** Simulates Redis restarted empty, for this test's keys only (the Redis is shared). */
async function emptyPrefix(redis: Redis, prefix: string, pattern = "*"): Promise<number> {
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:${pattern}`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}

async function schedulerIds(queues: Map<string, Queue>): Promise<string[]> {
  const ids: string[] = [];
  for (const queue of queues.values()) ids.push(...(await queue.getJobSchedulers()).map((s) => s.key));
  return ids.sort();
}

async function catchUpJobIds(queues: Map<string, Queue>): Promise<string[]> {
  const ids: string[] = [];
  for (const queue of queues.values()) {
    const jobs = await queue.getJobs(["waiting", "delayed", "prioritized", "active"]);
    ids.push(...jobs.map((j) => j.id ?? "").filter((id) => id.endsWith(":catchup")));
  }
  return ids.sort();
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_BOUND_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${WAIT_BOUND_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ALL_IDS = SCHEDULES.map((s) => s.id).sort();
const ALL_CATCH_UPS = SCHEDULES.map((s) => catchUpJobId(s, NOW)).sort();

describe("schedule keeper", () => {
  it("puts every scheduler back within its interval after Redis is emptied, with one catch-up run per sweep for two workers", async () => {
    const prefix = testRedisPrefix("keeper");
    const workers = await Promise.all([startKeeper(prefix, TEST_INTERVAL_MS), startKeeper(prefix, TEST_INTERVAL_MS)]);
    const [a, b] = workers;
    await Promise.all(workers.map((w) => w.keeper.reassert()));
    expect(await schedulerIds(a.queues)).toEqual(ALL_IDS);

    const deleted = await emptyPrefix(a.connection, prefix);
    expect(deleted).toBeGreaterThan(0);
    expect(await schedulerIds(a.queues)).toEqual([]);
    expect(await catchUpJobIds(a.queues)).toEqual([]);

    // Nobody calls reassert here: only the keepers' own timers can bring the schedulers back.
    await waitFor("schedulers back", async () => (await schedulerIds(b.queues)).length === ALL_IDS.length);
    expect(await schedulerIds(b.queues)).toEqual(ALL_IDS);
    await waitFor("catch-up runs enqueued", async () => (await catchUpJobIds(b.queues)).length >= ALL_CATCH_UPS.length);

    // Both keepers have had passes since; whatever they raced, each sweep has one catch-up run.
    await Promise.all(workers.map((w) => w.keeper.reassert()));
    expect(await catchUpJobIds(a.queues)).toEqual(ALL_CATCH_UPS);
    expect(await schedulerIds(a.queues)).toEqual(ALL_IDS);
  });

  it("adds one catch-up job per sweep and slot however many workers notice the loss at once", async () => {
    const prefix = testRedisPrefix("keeper");
    // An hour: no timer pass during the test; the passes below are the only ones.
    const workers = await Promise.all([startKeeper(prefix, 3_600_000), startKeeper(prefix, 3_600_000)]);
    const [a] = workers;
    await Promise.all(workers.map((w) => w.keeper.reassert()));
    expect(await catchUpJobIds(a.queues)).toEqual(ALL_CATCH_UPS);

    // Lose only the schedulers (the catch-up jobs survive) and let both keepers notice at once,
    // several times: the deterministic job id keeps one job per sweep and slot.
    for (let round = 0; round < 3; round += 1) {
      await emptyPrefix(a.connection, prefix, "*:repeat*");
      expect(await schedulerIds(a.queues)).toEqual([]);
      const missing = await Promise.all(workers.map((w) => w.keeper.reassert()));
      expect(missing.flat().length).toBeGreaterThanOrEqual(ALL_IDS.length);
      expect(await schedulerIds(a.queues)).toEqual(ALL_IDS);
      expect(await catchUpJobIds(a.queues)).toEqual(ALL_CATCH_UPS);
    }
  });

  it("re-registers the schedulers when its Redis connection comes back, without waiting for the interval", async () => {
    const prefix = testRedisPrefix("keeper");
    const worker = await startKeeper(prefix, 3_600_000);
    await worker.keeper.reassert();
    const admin = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    try {
      await emptyPrefix(admin, prefix);
      expect(await schedulerIds(worker.queues)).toEqual([]);
      // Drop the keeper's connection and let ioredis reconnect: its 'ready' is the trigger.
      worker.connection.disconnect(true);
      await waitFor("schedulers back after reconnect", async () => (await schedulerIds(worker.queues)).length === ALL_IDS.length);
      expect(await schedulerIds(worker.queues)).toEqual(ALL_IDS);
      await waitFor("catch-up runs after reconnect", async () => (await catchUpJobIds(worker.queues)).length === ALL_CATCH_UPS.length);
      expect(await catchUpJobIds(worker.queues)).toEqual(ALL_CATCH_UPS);
    } finally {
      await emptyPrefix(admin, prefix);
      admin.disconnect();
    }
  });
});
