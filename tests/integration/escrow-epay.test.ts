import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { placeCheckout, startCheckoutPayment } from "../../app/domain/market/escrow/checkout.server";
import { getCheckout, getMarketOrder } from "../../app/domain/market/escrow/queries.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg } from "../support/factories";
import { actorFor, createMarketWorld, makeBuyer, makeListing, walletOf } from "./market-trade.fixtures";
import { expectLedgerClean, payOnSandboxPage, postCallback, settleDeliveries, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

describe("a market checkout paid through e-Pay (sandbox over HTTP, PostgreSQL)", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
    const bank = await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    if (!bank) await createOrg(t.db, { kind: "bank", name: "测试银行" });
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("holds each merchant's order once, however many times the callback and the fulfil step arrive", async () => {
    const w = await createMarketWorld(t.db);
    const a = await makeListing(t.db, w, 0, { priceFen: 12_800 });
    const b = await makeListing(t.db, w, 1, { priceFen: 9_900, category: "男装" });
    const buyer = await makeBuyer(t.db);
    const placed = await placeCheckout(t.db, actorFor(buyer.id), {
      buyerId: buyer.id,
      marketId: w.marketId,
      lines: [
        { listingId: a.id, quantity: 2 },
        { listingId: b.id, quantity: 1 },
      ],
      idempotencyKey: "epay-checkout-1",
    }, new Date());
    const { payUrl, paymentId } = await startCheckoutPayment(t.db, actorFor(buyer.id), buyer.id, placed.checkout.id, server.deps(), new Date());
    // Asking again gives the same payment.
    expect((await startCheckoutPayment(t.db, actorFor(buyer.id), buyer.id, placed.checkout.id, server.deps(), new Date())).paymentId).toBe(paymentId);
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    await settleDeliveries(t.db);

    // The gateway's callback again, 10 times at once, and the fulfil step twice.
    const payment = await t.db.selectFrom("payments").select("gateway_payment_id").where("id", "=", paymentId).executeTakeFirstOrThrow();
    const event = await t.db.selectFrom("sandbox_epay_events").select("body").where("gateway_payment_id", "=", payment.gateway_payment_id!).executeTakeFirstOrThrow();
    const answers = await Promise.all(Array.from({ length: 10 }, () => postCallback(server.url, event.body)));
    expect(answers.map((x) => x.status)).toEqual(Array(10).fill(200));
    const deps = { db: t.db, logger: quiet };
    await runStep(STEPS, deps, "payments.fulfil", { paymentId });
    await runStep(STEPS, deps, "payments.fulfil", { paymentId });

    const { checkout, orders } = await getCheckout(t.db, buyer.id, placed.checkout.id);
    expect(checkout.status).toBe("paid");
    expect(orders.map((o) => o.status)).toEqual(["paid", "paid"]);
    for (const o of orders) {
      const holds = await t.db.selectFrom("ledger_transfers").select(["amount_fen", "phase"]).where("reference", "=", `market_order:${o.id}`).execute();
      expect(holds).toEqual([{ amount_fen: o.goodsTotalFen, phase: "pending" }]);
      const detail = await getMarketOrder(t.db, buyer.id, o.id);
      expect(detail.events.filter((e) => e.event === "pay")).toHaveLength(1);
    }
    // The buyer's captured money is all held: nothing spendable, nothing lost.
    expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: 35_500, availableFen: 0, incomingFen: 0 });
    await expectLedgerClean(t.db);
  });
});
