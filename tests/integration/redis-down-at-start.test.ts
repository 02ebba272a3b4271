import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db";
import { createTestDatabase, testRedisPrefix, type TestDatabase } from "../support/db";
import { freePort, killAll, spawnWeb, spawnWorker, startPrivateRedis, type SpawnedProcess, type SpawnedWeb } from "../support/processes";
import { commitMembershipNotice, countNotifications, createOrganizationWithMembers, waitFor } from "./outbox.fixtures";

/**
 * Issue 12: Redis is down when the web process and a worker start, and comes back later. Meanwhile
 * the web serves pages and /healthz says 503 for the queue; committed work waits in the outbox.
 * Once Redis answers, /healthz turns 200 and the waiting work is published and delivered.
 */

const BOOT_TIMEOUT_MS = 20_000;
/** The web's health connection retries at most 2 s apart (jobs/runtime.ts failFastRedisOptions). */
const RECOVERY_TIMEOUT_MS = 15_000;

interface HealthBody {
  status: string;
  db: { ok: boolean };
  queue: { ok: boolean; mode: string; detail?: string };
}

async function outboxRowsFor(db: Db, requestId: string) {
  return db.selectFrom("outbox").select(["job_id", "published_at", "attempts"]).where("job_id", "like", `%${requestId}%`).execute();
}

describe("Redis down at start-up, then back (issue 12)", () => {
  let t: TestDatabase;
  let redisPort: number;
  let web: SpawnedWeb;
  let worker: SpawnedProcess;
  let organizationId: string;
  let userIds: string[];
  let requestId: string;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 4 });
    ({ organizationId, userIds } = await createOrganizationWithMembers(t.db, 1));
    // A port of our own that nothing listens on yet: Redis is "down" until the test starts it.
    redisPort = await freePort();
    const env = { DATABASE_URL: t.url, REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_PREFIX: testRedisPrefix("down") };
    web = await spawnWeb(env);
    worker = spawnWorker(env);
  });

  afterEach((context) => {
    // The children's own words are usually the fastest way to see why a step failed.
    if (context.task.result?.state === "fail") {
      for (const proc of [web, worker]) if (proc) console.error(proc.describe());
    }
  });

  afterAll(async () => {
    await killAll();
    await t?.close();
  });

  it("the web process comes up and serves public pages while Redis is down", async () => {
    const login = await web.waitForHttp("/login", (answer) => answer.status === 200, BOOT_TIMEOUT_MS);
    expect(login.headers.get("content-type")).toMatch(/text\/html/);
    expect(login.body).toMatch(/<form[^>]*method="post"/i);
    await web.waitForLog(/"msg":"listening"/, BOOT_TIMEOUT_MS);
  });

  it("/healthz answers 503, the database fine and the queue unreachable", async () => {
    const answer = await web.request("/healthz");
    expect(answer.status).toBe(503);
    const health = JSON.parse(answer.body) as HealthBody;
    expect(health.status).toBe("unavailable");
    expect(health.db.ok).toBe(true);
    expect(health.queue).toMatchObject({ ok: false, mode: "bullmq" });
    expect(health.queue.detail).toMatch(/unreachable/);
  });

  it("the worker stays up, waiting for Redis, and says so", async () => {
    await worker.waitForLog(/"msg":"redis connection error"/, BOOT_TIMEOUT_MS);
    expect(worker.isRunning).toBe(true);
    expect(worker.stdout()).not.toContain('"msg":"worker ready"');
  });

  it("a worker stopped while Redis is down exits cleanly, without waiting on Redis", async () => {
    const other = spawnWorker({ DATABASE_URL: t.url, REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_PREFIX: testRedisPrefix("down-stop") });
    await other.waitForLog(/"msg":"redis connection error"/, BOOT_TIMEOUT_MS);
    const stoppedAt = Date.now();
    other.kill("SIGTERM");
    expect(await other.exited).toEqual({ code: 0, signal: null });
    // Its shutdown deadline is 30 s; a close waiting on Redis would run into it and exit 1.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    // One line per outage, not one per reconnect attempt.
    expect(other.stdout().match(/"msg":"(queue|worker) error"/g) ?? []).toEqual([]);
  });

  it("work committed meanwhile waits in the outbox, undelivered", async () => {
    requestId = await commitMembershipNotice(t.db, organizationId, userIds[0]);
    // Give a (wrongly) running relay a few of its passes to show itself.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await countNotifications(t.db, requestId)).toBe(0);
    const rows = await outboxRowsFor(t.db, requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0].published_at).toBeNull();
  });

  it("once Redis is up, /healthz turns 200 and the waiting work is published and delivered", async () => {
    const redis = await startPrivateRedis({ port: redisPort });
    expect(redis.isRunning).toBe(true);

    const healthy = await web.waitForHttp("/healthz", (answer) => answer.status === 200, RECOVERY_TIMEOUT_MS);
    expect((JSON.parse(healthy.body) as HealthBody).queue).toMatchObject({ ok: true, mode: "bullmq" });

    await worker.waitForLog(/"msg":"worker ready"/, RECOVERY_TIMEOUT_MS);
    await waitFor("the notification delivered", async () => (await countNotifications(t.db, requestId)) === 1, RECOVERY_TIMEOUT_MS);
    const [row] = await outboxRowsFor(t.db, requestId);
    expect(row.published_at).not.toBeNull();
    expect(web.isRunning && worker.isRunning).toBe(true);
  });
});
