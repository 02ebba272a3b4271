import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { amountDue, markAwaitingEpay } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createPayment } from "../../app/domain/payments/payments.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { actorOf, makeLink, makeSku, newOrg, newUser } from "./catalog.fixtures";
import { expectLedgerClean, payOnSandboxPage, settleDeliveries, startPaymentsServer, walletBalanceFen, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

describe("a dealer order paid by e-Pay (sandbox over HTTP, PostgreSQL)", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("captures into the dealer's wallet, pays the supplier once, and marks the order paid", async () => {
    const { db } = t;
    await db.insertInto("organizations").values({ kind: "bank", name: "测试银行" }).onConflict((oc) => oc.doNothing()).execute();
    const core = await newOrg(db, "core_enterprise");
    const link = await makeLink(db, core);
    const sku = await makeSku(db, core, { basePriceFen: 188_800 });
    const asDealer = actorOf(link.dealerId, await newUser(db));
    const order = await createOrder(db, asDealer, { dealerId: link.dealerId, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: sku.id, quantity: 2 }] }, new Date());
    const confirmed = await confirmOrder(db, actorOf(core, await newUser(db)), order.id, new Date());
    const due = amountDue(confirmed)!;
    expect(due).toEqual({ part: "payment", amountFen: 377_600 });

    const { payment, payUrl } = await createPayment(
      db,
      asDealer,
      {
        payerOrganizationId: link.dealerId,
        payeeOrganizationId: core,
        purpose: "order",
        reference: `order:${order.id}:${due.part}`,
        amountFen: due.amountFen,
        description: `订单 ${order.number}`,
        returnPath: `/orders/${order.id}`,
        idempotencyKey: `order:${order.id}:${due.part}`,
      },
      server.deps(),
    );
    expect((await markAwaitingEpay(db, asDealer, order.id, payment.id)).status).toBe("awaiting_payment");
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    await settleDeliveries(db);

    // The fulfil step the outbox asked for, run twice as at-least-once delivery may.
    const deps = { db, logger: quiet };
    await runStep(STEPS, deps, "payments.fulfil", { paymentId: payment.id });
    await runStep(STEPS, deps, "payments.fulfil", { paymentId: payment.id });

    const detail = await getOrder(db, link.dealerId, order.id);
    expect(detail.order).toMatchObject({ status: "paid", payment_method: "epay", paid_fen: 377_600 });
    expect(detail.events.filter((e) => e.event === "pay")).toHaveLength(1);
    expect(await walletBalanceFen(db, core)).toBe(377_600);
    expect(await walletBalanceFen(db, link.dealerId)).toBe(0);
    const outbox = await db.selectFrom("outbox").select("job_id").where("job_id", "=", `payments:${payment.id}:fulfil`).execute();
    expect(outbox).toHaveLength(1);
    await expectLedgerClean(db);
  });
});
