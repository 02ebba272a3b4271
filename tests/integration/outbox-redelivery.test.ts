import { afterEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import type { Db } from "../../db";
import { logger } from "../../app/logger.server";
import { listFailedJobs, outboxCounts } from "../../app/domain/outbox/outbox.server";
import { DELIVER_NOTIFICATION_JOB, NOTIFICATIONS_QUEUE } from "../../app/domain/notifications/notifications.server";
import { PermanentStepError, STEPS, type StepRegistry } from "../../workflows/registry";
import { relayOnce } from "../../jobs/relay";
import { redeliverOnce } from "../../jobs/redelivery";
import { createJobRuntime } from "../../jobs/runtime";
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer } from "../support/web";
import { commitMembershipNotice, countNotifications, createOrganizationWithMembers, outboxRows, testQueue, waitFor } from "./outbox.fixtures";

/**
 * Issue 12, item 2: an outbox row is sent until its step has run. Redis losing a published job is
 * simulated here by obliterating this test's own queue (its own key prefix on the shared Redis);
 * the fault-injection test restarts a private redis-server empty.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (let c = cleanups.pop(); c; c = cleanups.pop()) await c();
});

async function freshDb(): Promise<Db> {
  const t = await createTestDatabase();
  cleanups.push(() => t.close());
  return t.db;
}

function notificationsQueue(prefix: string) {
  const q = testQueue(NOTIFICATIONS_QUEUE, prefix);
  cleanups.push(q.close);
  return q.queue;
}

/** The real steps, counting runs: "ran again" and "had one effect" side by side. */
function counting(base: StepRegistry = STEPS): { steps: StepRegistry; runs: () => number } {
  let runs = 0;
  const steps: StepRegistry = Object.fromEntries(
    Object.entries(base).map(([name, step]) => [name, { queue: step.queue, execute: async (deps, data) => ((runs += 1), step.execute(deps, data)) }]),
  );
  return { steps, runs: () => runs };
}

async function startWorker(db: Db, prefix: string, steps: StepRegistry) {
  // A custom registry also keeps the schedulers out of this test's queues.
  const runtime = createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps, pollIntervalMs: 20 });
  cleanups.push(() => runtime.stop());
  await runtime.start();
  return runtime;
}

/** A sweep that treats every row published before now as past its lease. */
async function sweepNow(db: Db, prefix: string) {
  await new Promise((r) => setTimeout(r, 5));
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  cleanups.push(async () => void (await redis.quit()));
  return redeliverOnce({ db, queues: new Map([[NOTIFICATIONS_QUEUE, notificationsQueue(prefix)]]), redis, logger, leaseMs: 1 });
}

describe("outbox redelivery", () => {
  it("records a finished step as completed, and the sweep then leaves the row alone", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("done");
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 2);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    const counted = counting();
    await startWorker(db, prefix, counted.steps);

    await waitFor("the row to be recorded completed", async () => (await outboxRows(db))[0].completed_at !== null);
    const [row] = await outboxRows(db);
    expect(row).toMatchObject({ failed_at: null, redeliveries: 0 });
    expect(row.published_at).toBeInstanceOf(Date);
    expect(await countNotifications(db, requestId)).toBe(2);
    expect(await sweepNow(db, prefix)).toMatchObject({ looked: 0 });
    expect(counted.runs()).toBe(1);
    expect(await outboxCounts(db)).toEqual({ waiting: 0, inFlight: 0, failed: 0 });
  });

  it("sends a job again when Redis lost it, leaves one BullMQ still holds, and the effect is once", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("lost");
    const queue = notificationsQueue(prefix);
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 3);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);

    expect(await relayOnce({ db, publishers: new Map([[NOTIFICATIONS_QUEUE, queue]]), logger })).toMatchObject({ published: 1 });
    expect(await outboxCounts(db)).toEqual({ waiting: 0, inFlight: 1, failed: 0 });
    // Held by BullMQ (no worker yet): the sweep renews the lease and sends nothing.
    expect(await sweepNow(db, prefix)).toMatchObject({ looked: 1, held: 1, resent: 0 });

    await queue.obliterate({ force: true });
    expect(await queue.getJobState(`notifications:${requestId}:deliver`)).toBe("unknown");
    expect(await sweepNow(db, prefix)).toMatchObject({ looked: 1, resent: 1, held: 0 });
    expect(await queue.getJobState(`notifications:${requestId}:deliver`)).toBe("waiting");
    expect((await outboxRows(db))[0]).toMatchObject({ redeliveries: 1, completed_at: null });

    const counted = counting();
    await startWorker(db, prefix, counted.steps);
    await waitFor("the re-sent job to complete", async () => (await outboxRows(db))[0].completed_at !== null);
    expect(counted.runs()).toBe(1);
    expect(await countNotifications(db, requestId)).toBe(3);
  });

  it("records a completion the worker did not get to write, from BullMQ's completed job, without running it again", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("unrecorded");
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 1);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    const counted = counting();
    await startWorker(db, prefix, counted.steps);
    await waitFor("the row to be recorded completed", async () => (await outboxRows(db))[0].completed_at !== null);

    // A worker killed after the step and before its batched completion write.
    await db.updateTable("outbox").set({ completed_at: null }).execute();
    expect(await sweepNow(db, prefix)).toMatchObject({ looked: 1, completed: 1, resent: 0 });
    expect((await outboxRows(db))[0].completed_at).toBeInstanceOf(Date);
    expect(counted.runs()).toBe(1);
    expect(await countNotifications(db, requestId)).toBe(1);
  });

  it("ends a job BullMQ gave up on as failed: not sent again, counted on /healthz, listed on the bank's console only, run again from there", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("given-up");
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 1);
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);
    const refusing: StepRegistry = {
      [DELIVER_NOTIFICATION_JOB]: {
        queue: NOTIFICATIONS_QUEUE,
        execute: async () => {
          throw new PermanentStepError("recipient organisation was deleted");
        },
      },
    };
    const runtime = await startWorker(db, prefix, refusing);
    await waitFor("the row to end as failed", async () => (await outboxRows(db))[0].failed_at !== null);
    const [row] = await outboxRows(db);
    expect(row.completed_at).toBeNull();
    expect(row.last_error).toMatch(/recipient organisation was deleted/);
    expect(row.attempts).toBeGreaterThanOrEqual(1);
    expect(await outboxCounts(db)).toEqual({ waiting: 0, inFlight: 0, failed: 1 });
    expect(await sweepNow(db, prefix)).toMatchObject({ looked: 0 });
    await runtime.stop();

    // The worker's own write lost (killed at that moment): the sweep finds the job failed in BullMQ.
    await db.updateTable("outbox").set({ failed_at: null, last_error: null }).execute();
    expect(await sweepNow(db, prefix)).toMatchObject({ looked: 1, failed: 1, resent: 0 });
    expect((await outboxRows(db))[0].last_error).toMatch(/recipient organisation was deleted/);

    const listed = await listFailedJobs(db);
    expect(listed.total).toBe(1);
    expect(listed.rows[0]).toMatchObject({ jobId: row.job_id, jobName: DELIVER_NOTIFICATION_JOB });

    const server = await startTestServer(db);
    cleanups.push(() => server.close());
    const health = await fetch(`${server.url}/healthz`);
    expect(((await health.json()) as { outbox: unknown }).outbox).toEqual({ waiting: 0, inFlight: 0, failed: 1 });

    const bank = await createOrg(db, { kind: "bank", name: "测试银行" });
    const bankUser = await createUser(db, { memberships: [[bank.id, "operations"]] });
    const dealerUser = await createUser(db, { memberships: [[organizationId, "owner"]] });
    const asBank = new Client(server.url);
    expect((await asBank.login(bankUser.email, TEST_PASSWORD)).status).toBe(302);
    const console = await asBank.get("/");
    expect(console.body).toContain('data-testid="failed-jobs"');
    expect(console.body).toContain(`data-job-id="${row.job_id}"`);
    expect(console.body).toContain("recipient organisation was deleted");

    const asDealer = new Client(server.url);
    expect((await asDealer.login(dealerUser.email, TEST_PASSWORD)).status).toBe(302);
    const dashboard = await asDealer.get("/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).not.toContain("failed-jobs");
    expect(dashboard.body).not.toContain(row.job_id);
    // Not a dealer's action at all: 404, as for any action of another kind of organisation.
    expect((await asDealer.post("/?index", { csrf: await asDealer.csrfFrom("/"), intent: "rerun", outboxId: String(row.id) })).status).toBe(404);

    // The cause fixed (here: the real step deployed), operations staff run it again from the console.
    const counted = counting();
    await startWorker(db, prefix, counted.steps);
    const csrf = await asBank.csrfFrom("/");
    const rerun = await asBank.post("/?index", { csrf, intent: "rerun", outboxId: String(row.id) });
    expect(rerun.status).toBe(302);
    await waitFor("the re-run job to complete", async () => (await outboxRows(db))[0].completed_at !== null);
    expect((await outboxRows(db))[0]).toMatchObject({ failed_at: null, reruns: 1 });
    expect(counted.runs()).toBe(1);
    // One notice per member at delivery time: the first member and the dealer user who joined since.
    expect(await countNotifications(db, requestId)).toBe(2);
    // A second click finds nothing to re-run, and says so instead of running it twice.
    const again = await asBank.post("/?index", { csrf, intent: "rerun", outboxId: String(row.id) });
    expect(again.status).toBe(302);
    expect(counted.runs()).toBe(1);
    const audit = await db.selectFrom("audit_events").select(["action", "entity_id"]).where("action", "=", "job.rerun").execute();
    expect(audit).toEqual([{ action: "job.rerun", entity_id: row.job_id }]);
    expect(await asBank.get("/")).toMatchObject({ status: 200 });
    expect((await asBank.get("/")).body).toContain('data-testid="failed-jobs-none"');
  });
});
