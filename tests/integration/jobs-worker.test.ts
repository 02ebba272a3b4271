import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix, type TestDatabase } from "../support/db";
import { commitMembershipNotice, countNotifications, createOrganizationWithMembers, waitFor } from "./outbox.fixtures";

/** `npm run worker` as the operator runs it: a separate process, configured from the environment. */

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnWorker(env: Record<string, string>): Spawned {
  // Plain node with tsx's loader: signals reach the worker itself, not a wrapper process.
  const child = spawn(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

describe("worker process", () => {
  const open: { close(): Promise<void> }[] = [];
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const handle of open) await handle.close();
  });

  it("refuses to start without DATABASE_URL and REDIS_URL, saying which is missing", async () => {
    const worker = spawnWorker({});
    children.push(worker.child);
    const { code } = await worker.exited;
    expect(code).toBe(2);
    expect(worker.stderr()).toMatch(/npm run worker needs DATABASE_URL and REDIS_URL/);

    const onlyDb = spawnWorker({ DATABASE_URL: "postgres://127.0.0.1/none" });
    children.push(onlyDb.child);
    expect((await onlyDb.exited).code).toBe(2);
    expect(onlyDb.stderr()).toMatch(/needs REDIS_URL:/);
  });

  it("delivers committed work, then shuts down cleanly on SIGTERM", async () => {
    const t: TestDatabase = await createTestDatabase();
    open.push(t);
    const { organizationId, userIds } = await createOrganizationWithMembers(t.db, 2);
    const before = await commitMembershipNotice(t.db, organizationId, userIds[0]);

    const worker = spawnWorker({ DATABASE_URL: t.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: testRedisPrefix("proc") });
    children.push(worker.child);
    await waitFor("worker ready", async () => worker.stdout().includes('"msg":"worker ready"'), 30_000);
    const after = await commitMembershipNotice(t.db, organizationId, userIds[1]);
    await waitFor("both requests delivered", async () => (await countNotifications(t.db, before)) === 2 && (await countNotifications(t.db, after)) === 2);

    worker.child.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.stdout()).toContain('"msg":"job workers stopped"');
    expect(worker.stdout()).toContain('"msg":"worker stopped"');
    expect(worker.stderr()).toBe("");
  });
});
