import { afterEach, describe, expect, it } from "vitest";
import { FlowProducer } from "bullmq";
import { Redis } from "ioredis";
import { z } from "zod";
import type { Db } from "../../db";
import { logger } from "../../app/logger.server";
import { enqueue, type Trx } from "../../app/domain/outbox";
import { defineStep, PermanentStepError, type StepRegistry } from "../../workflows/registry";
import { createInProcessRunner } from "../../jobs/in-process-runner";
import { relayOnce } from "../../jobs/relay";
import { redeliverOnce } from "../../jobs/redelivery";
import { createJobRuntime } from "../../jobs/runtime";
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from "../support/db";
import { outboxRows, testQueue, waitFor } from "./outbox.fixtures";

/**
 * Parent jobs (decision 024: the daily accrual run's close and its batches): a step with children
 * in the registry is one outbox row, added to BullMQ as a flow; the parent runs after its children,
 * also when a child gave up; a flow lost with Redis is added again whole; embedded mode runs the
 * children first, in order.
 */

const QUEUE = "flowtest";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (let c = cleanups.pop(); c; c = cleanups.pop()) await c();
});

async function freshDb(): Promise<Db> {
  const t = await createTestDatabase();
  cleanups.push(() => t.close());
  return t.db;
}

/** A parent with `children` children; child `failing` (if any) gives up at once. */
function flowSteps(failing?: number) {
  const ran: string[] = [];
  const parentPayload = z.object({ id: z.string(), children: z.number().int().min(1) }).strict();
  const childPayload = z.object({ id: z.string(), n: z.number().int() }).strict();
  const steps: StepRegistry = {
    "test.child": defineStep({
      queue: QUEUE,
      parse: (d) => childPayload.parse(d),
      run: async (_deps, p) => {
        if (p.n === failing) throw new PermanentStepError(`child ${p.n} cannot`);
        ran.push(`child-${p.n}`);
      },
    }),
    "test.parent": defineStep({
      queue: QUEUE,
      parse: (d) => parentPayload.parse(d),
      run: async () => void ran.push("parent"),
      children: (p) => Array.from({ length: p.children }, (_, n) => ({ name: "test.child", jobId: `flowtest:${p.id}:child-${n}`, payload: { id: p.id, n } })),
    }),
  };
  return { steps, ran };
}

async function enqueueParent(db: Db, id: string, children: number): Promise<void> {
  await db.transaction().execute((trx) => enqueue(trx as Trx, { queue: QUEUE, name: "test.parent", jobId: `flowtest:${id}:parent`, payload: { id, children } }));
}

describe("parent jobs (flows)", () => {
  it("embedded: the in-process runner runs the children in order, then the parent", async () => {
    const db = await freshDb();
    const { steps, ran } = flowSteps();
    await enqueueParent(db, "a", 3);
    const runner = createInProcessRunner({ db, logger, steps, pollIntervalMs: 10 });
    expect(await runner.runUntilIdle()).toEqual({ ran: 1, failed: 0 });
    expect(ran).toEqual(["child-0", "child-1", "child-2", "parent"]);
    const [row] = await outboxRows(db);
    expect(row.completed_at ?? row.published_at).not.toBeNull();
  });

  it("server: the relay adds a flow; workers run every child, then the parent once", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("flow");
    const { steps, ran } = flowSteps();
    await enqueueParent(db, "b", 5);
    const runtime = createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps, pollIntervalMs: 20 });
    cleanups.push(() => runtime.stop());
    await runtime.start();
    await waitFor("the parent to run and be recorded", async () => (await outboxRows(db))[0].completed_at !== null);
    expect(ran.filter((r) => r === "parent")).toHaveLength(1);
    expect(ran.at(-1)).toBe("parent");
    expect(ran.slice(0, -1).sort()).toEqual(["child-0", "child-1", "child-2", "child-3", "child-4"]);
  });

  it("server: a child that gives up does not hold its parent for ever", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("flowfail");
    const { steps, ran } = flowSteps(1);
    await enqueueParent(db, "c", 3);
    const runtime = createJobRuntime({ db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger, steps, pollIntervalMs: 20 });
    cleanups.push(() => runtime.stop());
    await runtime.start();
    await waitFor("the parent to run", async () => ran.includes("parent"));
    expect(ran.slice(0, -1).sort()).toEqual(["child-0", "child-2"]);
    const { queue } = testQueue(QUEUE, prefix);
    cleanups.push(() => queue.close());
    expect(await queue.getJobState("flowtest:c:child-1")).toBe("failed");
  });

  it("a flow lost with Redis is added again whole by the redelivery sweep", async () => {
    const db = await freshDb();
    const prefix = testRedisPrefix("flowlost");
    const { steps } = flowSteps();
    await enqueueParent(db, "d", 2);
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const flows = new FlowProducer({ connection, prefix });
    const q = testQueue(QUEUE, prefix);
    cleanups.push(async () => {
      await flows.close();
      await q.close();
      connection.disconnect();
    });
    const publishers = new Map([[QUEUE, q.queue]]);

    expect(await relayOnce({ db, publishers, flows, steps, logger })).toMatchObject({ published: 1, failed: 0 });
    expect(await q.queue.getJobState("flowtest:d:parent")).toBe("waiting-children");
    expect(await q.queue.getJobState("flowtest:d:child-0")).toBe("waiting");

    // Redis loses it all: this prefix's keys only (the shared Redis serves other tests).
    for (const key of await connection.keys(`${prefix}:*`)) await connection.del(key);
    expect(await q.queue.getJobState("flowtest:d:parent")).toBe("unknown");

    await new Promise((r) => setTimeout(r, 5));
    const sweep = await redeliverOnce({ db, queues: publishers, flows, steps, redis: connection, logger, leaseMs: 1 });
    expect(sweep).toMatchObject({ looked: 1, resent: 1 });
    expect(await q.queue.getJobState("flowtest:d:parent")).toBe("waiting-children");
    expect(await q.queue.getJobState("flowtest:d:child-0")).toBe("waiting");
    expect(await q.queue.getJobState("flowtest:d:child-1")).toBe("waiting");
    const [row] = await outboxRows(db);
    expect(row.redeliveries).toBe(1);

    // Without a flow publisher the relay holds a parent row back rather than publish it childless.
    await enqueueParent(db, "e", 1);
    expect(await relayOnce({ db, publishers, steps, logger })).toMatchObject({ published: 0, failed: 1 });
  });
});
