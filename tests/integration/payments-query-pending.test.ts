import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { placeCheckout, startCheckoutPayment } from "../../app/domain/market/escrow/checkout.server";
import { getCheckout } from "../../app/domain/market/escrow/queries.server";
import { getPayment, PENDING_QUERY_LIMITS } from "../../app/domain/payments/payments.server";
import { createHttpEpayGateway } from "../../app/domain/payments/epay/index.server";
import { createQueryPendingPaymentsStep } from "../../workflows/payments";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg } from "../support/factories";
import { actorFor, createMarketWorld, makeBuyer, makeListing, walletOf, type MarketWorld } from "./market-trade.fixtures";
import { expectLedgerClean, payOnSandboxPage, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * A payer pays at the gateway, the gateway's callback is lost (our web process died while it was
 * delivering) and the payer never comes back through the return page. The payment must not stay
 * `created` with the payer's money taken: the pending-payment sweep asks the gateway and applies
 * the capture through the same road as the callback, once. Found by the server-mode fault test.
 */
describe("payments whose outcome never reached us are asked at the gateway", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let w: MarketWorld;
  let listingId: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    server = await startPaymentsServer(t.db);
    await createOrg(t.db, { kind: "bank", name: "测试银行" });
    w = await createMarketWorld(t.db);
    listingId = (await makeListing(t.db, w, 0, { priceFen: 12_000, stock: 100 })).id;
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function paidAtGatewayOnly() {
    const buyer = await makeBuyer(t.db);
    const actor = actorFor(buyer.id);
    const { checkout } = await placeCheckout(t.db, actor, { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId, quantity: 1 }], idempotencyKey: `pending-${buyer.id}` }, new Date());
    // The gateway holds its callback: nothing reaches us, and the test never visits the return page.
    const { payUrl, paymentId } = await startCheckoutPayment(t.db, actor, buyer.id, checkout.id, server.deps({ hold_callbacks: true }), new Date());
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    return { buyer, checkout, paymentId };
  }

  /** Runs a sweep step as the worker would, on a clock set to `at`. */
  const stepAt = (at: Date) => (step: ReturnType<typeof createQueryPendingPaymentsStep>) => step({ db: t.db, logger, now: () => at }, {});

  it("leaves a young payment to its callback, then applies the capture once, to its checkout", async () => {
    const { buyer, checkout, paymentId } = await paidAtGatewayOnly();
    const step = createQueryPendingPaymentsStep(() => server.deps());
    await stepAt(new Date())(step);
    expect((await getPayment(t.db, paymentId)).status).toBe("created");

    const later = new Date(Date.now() + PENDING_QUERY_LIMITS.olderThanMs + 1_000);
    await stepAt(later)(step);
    const payment = await getPayment(t.db, paymentId);
    expect(payment).toMatchObject({ status: "succeeded", purposeOutcome: "applied" });
    expect((await getCheckout(t.db, buyer.id, checkout.id)).checkout.status).toBe("paid");

    // A second run finds nothing pending and changes nothing.
    await stepAt(later)(step);
    const captures = await t.db.selectFrom("ledger_transfers").select("id").where("idempotency_key", "=", `epay:${paymentId}:captured`).execute();
    expect(captures).toHaveLength(1);
    // The captured money sits in the buyer's wallet held for the checkout: none of it free to spend.
    expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: checkout.totalFen, availableFen: 0, incomingFen: 0 });
    await expectLedgerClean(t.db);
  });

  it("goes on past a payment the gateway cannot answer for, and asks again next run", async () => {
    const { paymentId } = await paidAtGatewayOnly();
    const unreachable = () => ({
      ...server.deps(),
      gateway: createHttpEpayGateway({ baseUrl: "http://127.0.0.1:9/epay", merchantId: "rongtong", secret: "x", timeoutMs: 500, maxAttempts: 1 }),
    });
    const later = new Date(Date.now() + PENDING_QUERY_LIMITS.olderThanMs + 1_000);
    await expect(stepAt(later)(createQueryPendingPaymentsStep(unreachable))).resolves.toBeUndefined();
    expect((await getPayment(t.db, paymentId)).status).toBe("created");
    await stepAt(later)(createQueryPendingPaymentsStep(() => server.deps()));
    expect((await getPayment(t.db, paymentId)).status).toBe("succeeded");
  });
});
