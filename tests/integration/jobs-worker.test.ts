import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix, type TestDatabase } from "../support/db";
import { killAll, spawnWorker } from "../support/processes";
import { commitMembershipNotice, countNotifications, createOrganizationWithMembers, waitFor } from "./outbox.fixtures";

/** `npm run worker` as the operator runs it: a separate process, configured from the environment. */

describe("worker process", () => {
  const open: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await killAll();
    for (const handle of open) await handle.close();
  });

  it("refuses to start without DATABASE_URL and REDIS_URL, saying which is missing", async () => {
    const worker = spawnWorker({});
    const { code } = await worker.exited;
    expect(code).toBe(2);
    expect(worker.stderr()).toMatch(/npm run worker needs DATABASE_URL and REDIS_URL/);

    const onlyDb = spawnWorker({ DATABASE_URL: "postgres://127.0.0.1/none" });
    expect((await onlyDb.exited).code).toBe(2);
    expect(onlyDb.stderr()).toMatch(/needs REDIS_URL:/);
  });

  it("delivers committed work, then shuts down cleanly on SIGTERM", async () => {
    const t: TestDatabase = await createTestDatabase();
    open.push(t);
    const { organizationId, userIds } = await createOrganizationWithMembers(t.db, 2);
    const before = await commitMembershipNotice(t.db, organizationId, userIds[0]);

    const worker = spawnWorker({ DATABASE_URL: t.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: testRedisPrefix("proc") });
    await worker.waitForLog(/"msg":"worker ready"/, 30_000);
    const after = await commitMembershipNotice(t.db, organizationId, userIds[1]);
    await waitFor("both requests delivered", async () => (await countNotifications(t.db, before)) === 2 && (await countNotifications(t.db, after)) === 2);

    worker.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.stdout()).toContain('"msg":"job workers stopped"');
    expect(worker.stdout()).toContain('"msg":"worker stopped"');
    expect(worker.stderr()).toBe("");
  });
});
