import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { logger } from "../../app/logger.server";
import { ensureAccount, transfer } from "../../app/domain/ledger/ledger.server";
import { shipOrder } from "../../app/domain/orders/fulfilment.server";
import { payFromWallet } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { createJobRuntime, enqueueScheduledSlot } from "../../jobs/runtime";
import { runStep, STEPS } from "../../workflows/registry";
import { SCHEDULES } from "../../workflows/schedules";
import { AUTO_RECEIPT_JOB } from "../../workflows/orders";
import { createTestDatabase, TEST_REDIS_URL, testRedisPrefix } from "../support/db";
import { actorOf, makeLink, makeSku, newOrg, newUser } from "./catalog.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

describe("schedules", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 10 });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("auto-receives a shipped order through the scheduled step once the supplier's days have passed", async () => {
    const { db } = handle;
    const core = await newOrg(db, "core_enterprise");
    const link = await makeLink(db, core);
    const sku = await makeSku(db, core, { basePriceFen: 50_000 });
    const asDealer = actorOf(link.dealerId, await newUser(db));
    const asCore = actorOf(core, await newUser(db));
    const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: null });
    const wallet = await ensureAccount(db, { kind: "wallet", organizationId: link.dealerId });
    await transfer(db, { idempotencyKey: `sched:${wallet.id}`, kind: "topup", reference: "t", debitAccountId: clearing.id, creditAccountId: wallet.id, amountFen: 50_000 });
    await updateOrderSettings(db, asCore, core, { autoReceiptDays: 5 });
    const order = await createOrder(db, asDealer, { dealerId: link.dealerId, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: sku.id, quantity: 1 }] }, new Date());
    await confirmOrder(db, asCore, order.id, new Date());
    await payFromWallet(db, asDealer, order.id, new Date());
    const line = (await getOrder(db, core, order.id)).lines[0];
    await shipOrder(db, asCore, order.id, { carrier: "顺丰", trackingNumber: "SF1", lines: [{ lineId: line.id, quantity: 1 }] }, new Date());
    const shippedAt = (await getOrder(db, core, order.id)).order.shipped_at!.getTime();
    const day = 86_400_000;

    await runStep(STEPS, { db, logger: quiet, now: () => new Date(shippedAt + 4 * day) }, AUTO_RECEIPT_JOB, {});
    expect((await getOrder(db, core, order.id)).order.status).toBe("shipped");
    await runStep(STEPS, { db, logger: quiet, now: () => new Date(shippedAt + 5 * day + 1) }, AUTO_RECEIPT_JOB, {});
    await runStep(STEPS, { db, logger: quiet, now: () => new Date(shippedAt + 5 * day + 2) }, AUTO_RECEIPT_JOB, {});
    const detail = await getOrder(db, link.dealerId, order.id);
    expect(detail.order.status).toBe("completed");
    expect(detail.events.filter((e) => e.event === "receive")).toHaveLength(1);
  });

  it("enqueues one outbox row per schedule slot however often the timer fires", async () => {
    const schedule = SCHEDULES[0];
    const at = new Date("2026-11-26T08:00:00Z");
    await Promise.all([1, 2, 3].map(() => enqueueScheduledSlot(handle.db, schedule, at)));
    await enqueueScheduledSlot(handle.db, schedule, new Date(at.getTime() + schedule.every_ms));
    const rows = await handle.db.selectFrom("outbox").select("job_id").where("job_name", "=", schedule.jobName).execute();
    expect(rows).toHaveLength(2);
  });

  it("keeps one BullMQ scheduler per schedule however many workers start", async () => {
    const prefix = testRedisPrefix("sched");
    const workers = [1, 2].map(() => createJobRuntime({ db: handle.db, redisUrl: TEST_REDIS_URL, prefix, role: "worker", logger: quiet }));
    await Promise.all(workers.map((w) => w.start()));
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(SCHEDULES[0].queue, { connection, prefix });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key)).toEqual([SCHEDULES[0].id]);
      expect(schedulers[0]).toMatchObject({ name: SCHEDULES[0].jobName, every: SCHEDULES[0].every_ms });
    } finally {
      await queue.close();
      connection.disconnect();
      await Promise.all(workers.map((w) => w.stop()));
    }
  });
});
