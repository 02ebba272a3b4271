import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { expireUnpaidCheckouts, payCheckoutFromWallet, placeCheckout, startCheckoutPayment } from "../../app/domain/market/escrow/checkout.server";
import { getCheckout } from "../../app/domain/market/escrow/queries.server";
import { amountDue, markAwaitingEpay, payFromWallet } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createPayment, getPayment, refundPayment } from "../../app/domain/payments/payments.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { actorOf, makeLink, makeSku, newOrg, newUser } from "./catalog.fixtures";
import { actorFor, createMarketWorld, fund, makeBuyer, makeListing, walletOf, type MarketWorld } from "./market-trade.fixtures";
import { expectLedgerClean, loggedIn, payOnSandboxPage, postCallback, startPaymentsServer, walletBalanceFen, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

/**
 * Decision 021: captured e-Pay money is committed to its purpose in the capture's own transaction.
 * Before it, the capture credited the payer's wallet and a later fulfil step placed the hold; a
 * concurrent wallet payment of the same payer could spend the money in between. These tests stop
 * the wallet payment exactly there (a second connection holds a row it must lock first) and run
 * the capture meanwhile, or the other way round.
 */
describe("captured e-Pay money is committed to its purpose in the capture's transaction (PostgreSQL)", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let bankId: string;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
    const bank = await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    bankId = bank?.id ?? (await createOrg(t.db, { kind: "bank", name: "测试银行" })).id;
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  /** Hold a row lock on another connection until released, as a transaction stopped mid-way would. */
  async function holdRowLock(table: "market_checkouts" | "orders", id: string) {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const done = t.db.transaction().execute(async (trx) => {
      await sql`select 1 from ${sql.table(table)} where id = ${id} for update`.execute(trx);
      locked();
      await released;
    });
    await isLocked;
    return { release, done };
  }

  /** Wait until `n` sessions of this database wait for a lock (the interleaving point is reached). */
  async function lockWaiters(n: number): Promise<void> {
    for (let i = 0; i < 800; i++) {
      const { rows } = await sql<{ n: string }>`
        select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(t.db);
      if (Number(rows[0].n) >= n) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`never saw ${n} sessions waiting for a lock`);
  }

  /** Settle a promise into its outcome, so a test can start it now and look at it later. */
  function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    return p.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  }

  /** The gateway's success event for a payment paid on the sandbox page with callbacks held back. */
  async function heldSuccessEvent(paymentId: string): Promise<string> {
    const payment = await t.db.selectFrom("payments").select("gateway_payment_id").where("id", "=", paymentId).executeTakeFirstOrThrow();
    const event = await t.db
      .selectFrom("sandbox_epay_events")
      .select("body")
      .where("gateway_payment_id", "=", payment.gateway_payment_id!)
      .where("type", "=", "payment.succeeded")
      .executeTakeFirstOrThrow();
    return event.body;
  }

  async function fulfilTwice(paymentId: string) {
    const deps = { db: t.db, logger: quiet };
    await runStep(STEPS, deps, "payments.fulfil", { paymentId });
    await runStep(STEPS, deps, "payments.fulfil", { paymentId });
  }

  /** A buyer with `fundedFen` in the wallet, checkout A to pay by e-Pay (12,800) and B by wallet (9,900). */
  async function twoCheckouts(fundedFen: number) {
    const w: MarketWorld = await createMarketWorld(t.db);
    const a = await makeListing(t.db, w, 0, { priceFen: 12_800 });
    const b = await makeListing(t.db, w, 1, { priceFen: 9_900, category: "男装" });
    const buyer = await makeBuyer(t.db, fundedFen);
    const actor = actorFor(buyer.id);
    const place = (listingId: string, key: string) =>
      placeCheckout(t.db, actor, { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId, quantity: 1 }], idempotencyKey: key }, new Date());
    const byEpay = (await place(a.id, `${buyer.id}:a`)).checkout;
    const byWallet = (await place(b.id, `${buyer.id}:b`)).checkout;
    const { payUrl, paymentId } = await startCheckoutPayment(t.db, actor, buyer.id, byEpay.id, server.deps({ hold_callbacks: true }), new Date());
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    return { buyer, actor, byEpay, byWallet, paymentId, event: await heldSuccessEvent(paymentId) };
  }

  async function expectHeldByItsOwnPayment(buyerId: string, checkoutId: string, paymentId: string) {
    const { checkout, orders } = await getCheckout(t.db, buyerId, checkoutId);
    expect(checkout.status).toBe("paid");
    for (const o of orders) {
      expect(o.status).toBe("paid");
      const holds = await t.db.selectFrom("ledger_transfers").select(["amount_fen", "phase"]).where("reference", "=", `market_order:${o.id}`).execute();
      expect(holds).toEqual([{ amount_fen: o.goodsTotalFen, phase: "pending" }]);
    }
    const payment = await getPayment(t.db, paymentId);
    expect(payment).toMatchObject({ status: "succeeded", purposeOutcome: "applied", attentionReason: null });
    expect(payment.fulfilledAt).toBeInstanceOf(Date);
  }

  describe("a market checkout's capture and a wallet payment of the same buyer", () => {
    it("the capture lands while the wallet payment waits for its checkout: the wallet payment cannot spend the e-Pay money", async () => {
      const s = await twoCheckouts(5_000);
      const blocker = await holdRowLock("market_checkouts", s.byWallet.id);
      const walletPay = outcome(payCheckoutFromWallet(t.db, s.actor, s.buyer.id, s.byWallet.id, new Date()));
      await lockWaiters(1);

      // The capture commits while the wallet payment is stopped before it has read the wallet.
      expect((await postCallback(server.url, s.event)).status).toBe(200);
      blocker.release();
      await blocker.done;

      const paid = await walletPay;
      expect(paid.ok).toBe(false);
      expect(!paid.ok && paid.error).toMatchObject({ code: "insufficient_funds" });
      await fulfilTwice(s.paymentId);

      await expectHeldByItsOwnPayment(s.buyer.id, s.byEpay.id, s.paymentId);
      expect((await getCheckout(t.db, s.buyer.id, s.byWallet.id)).checkout.status).toBe("placed");
      // The e-Pay money is in the wallet's balance, all of it held for checkout A; only the 5,000 is free.
      expect(await walletOf(t.db, s.buyer.id)).toEqual({ balanceFen: 17_800, availableFen: 5_000, incomingFen: 0 });
      await expectLedgerClean(t.db);
    });

    it("the wallet payment runs while the capture is between crediting the wallet and holding the checkout: it waits, then finds the money held", async () => {
      const s = await twoCheckouts(5_000);
      // Stop the capture at its checkout's lock: it has already locked the payment and credited the wallet.
      const blocker = await holdRowLock("market_checkouts", s.byEpay.id);
      const capture = postCallback(server.url, s.event);
      await lockWaiters(1);
      const walletPay = outcome(payCheckoutFromWallet(t.db, s.actor, s.buyer.id, s.byWallet.id, new Date()));
      await lockWaiters(2);
      blocker.release();
      await blocker.done;

      expect((await capture).status).toBe(200);
      const paid = await walletPay;
      expect(!paid.ok && paid.error).toMatchObject({ code: "insufficient_funds" });
      await fulfilTwice(s.paymentId);

      await expectHeldByItsOwnPayment(s.buyer.id, s.byEpay.id, s.paymentId);
      expect(await walletOf(t.db, s.buyer.id)).toEqual({ balanceFen: 17_800, availableFen: 5_000, incomingFen: 0 });
      await expectLedgerClean(t.db);
    });

    it("with enough free money the wallet payment goes through, taking only the free money", async () => {
      const s = await twoCheckouts(20_000);
      const blocker = await holdRowLock("market_checkouts", s.byWallet.id);
      const walletPay = outcome(payCheckoutFromWallet(t.db, s.actor, s.buyer.id, s.byWallet.id, new Date()));
      await lockWaiters(1);
      expect((await postCallback(server.url, s.event)).status).toBe(200);
      blocker.release();
      await blocker.done;

      expect((await walletPay).ok).toBe(true);
      await fulfilTwice(s.paymentId);
      await expectHeldByItsOwnPayment(s.buyer.id, s.byEpay.id, s.paymentId);
      expect((await getCheckout(t.db, s.buyer.id, s.byWallet.id)).checkout.status).toBe("paid");
      // 20,000 + 12,800 in; 12,800 held for A, 9,900 for B; 10,100 free.
      expect(await walletOf(t.db, s.buyer.id)).toEqual({ balanceFen: 32_800, availableFen: 10_100, incomingFen: 0 });
      await expectLedgerClean(t.db);
    });
  });

  it("a dealer order's e-Pay capture pays its order before a concurrent wallet payment of another order can spend it", async () => {
    const { db } = t;
    const core = await newOrg(db, "core_enterprise");
    const link = await makeLink(db, core);
    const sku = await makeSku(db, core, { basePriceFen: 100_000 });
    const asDealer = actorOf(link.dealerId, await newUser(db));
    const asCore = actorOf(core, await newUser(db));
    const confirmedOrder = async (quantity: number) => {
      const order = await createOrder(db, asDealer, { dealerId: link.dealerId, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: sku.id, quantity }] }, new Date());
      return confirmOrder(db, asCore, order.id, new Date());
    };
    const byEpay = await confirmedOrder(2);
    const byWallet = await confirmedOrder(1);
    const due = amountDue(byEpay)!;
    const dueWallet = amountDue(byWallet)!;
    // Free money short of order B, but not once order A's e-Pay money is counted.
    await fund(db, link.dealerId, dueWallet.amountFen - 1);
    const { payment, payUrl } = await createPayment(
      db,
      asDealer,
      {
        payerOrganizationId: link.dealerId,
        payeeOrganizationId: core,
        purpose: "order",
        reference: `order:${byEpay.id}:${due.part}`,
        amountFen: due.amountFen,
        description: `订单 ${byEpay.number}`,
        returnPath: `/orders/${byEpay.id}`,
        idempotencyKey: `order:${byEpay.id}:${due.part}:1`,
      },
      server.deps({ hold_callbacks: true }),
    );
    await markAwaitingEpay(db, asDealer, byEpay.id, payment.id);
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    const event = await heldSuccessEvent(payment.id);

    const blocker = await holdRowLock("orders", byWallet.id);
    const walletPay = outcome(payFromWallet(db, asDealer, byWallet.id, new Date()));
    await lockWaiters(1);
    expect((await postCallback(server.url, event)).status).toBe(200);
    blocker.release();
    await blocker.done;

    const paid = await walletPay;
    expect(!paid.ok && paid.error).toMatchObject({ code: "insufficient_funds" });
    await fulfilTwice(payment.id);

    expect((await getOrder(db, link.dealerId, byEpay.id)).order).toMatchObject({ status: "paid", payment_method: "epay", paid_fen: due.amountFen });
    expect(await getPayment(db, payment.id)).toMatchObject({ purposeOutcome: "applied" });
    expect(await walletBalanceFen(db, core)).toBe(due.amountFen);
    const unpaid = (await getOrder(db, link.dealerId, byWallet.id)).order;
    expect(unpaid.paid_fen).toBe(0);
    expect(amountDue(unpaid)).toEqual(dueWallet);
    expect(await walletOf(db, link.dealerId)).toEqual({ balanceFen: dueWallet.amountFen - 1, availableFen: dueWallet.amountFen - 1, incomingFen: 0 });
    await expectLedgerClean(db);
  });

  it("a capture for a checkout that expired meanwhile leaves the money in the wallet, with an audit row and a notice, refundable", async () => {
    const w = await createMarketWorld(t.db);
    const listing = await makeListing(t.db, w, 0, { priceFen: 6_600 });
    const buyer = await makeBuyer(t.db);
    const actor = actorFor(buyer.id);
    const { checkout } = await placeCheckout(t.db, actor, { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 1 }], idempotencyKey: "late" }, new Date());
    const { payUrl, paymentId } = await startCheckoutPayment(t.db, actor, buyer.id, checkout.id, server.deps({ hold_callbacks: true }), new Date());
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    // The sweep runs before the gateway's callback arrives: the payment was still pending.
    expect(await expireUnpaidCheckouts(t.db, new Date(checkout.expiresAt.getTime() + 1_000))).toContain(checkout.id);

    expect((await postCallback(server.url, await heldSuccessEvent(paymentId))).status).toBe(200);
    await fulfilTwice(paymentId);

    const payment = await getPayment(t.db, paymentId);
    expect(payment).toMatchObject({ status: "succeeded", purposeOutcome: "left_in_wallet", attentionReason: null });
    expect(payment.fulfilledAt).toBeInstanceOf(Date);
    expect((await getCheckout(t.db, buyer.id, checkout.id)).checkout.status).toBe("expired");
    expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: checkout.totalFen, availableFen: checkout.totalFen, incomingFen: 0 });
    const audit = await t.db.selectFrom("audit_events").select(["action", "after"]).where("entity_id", "=", paymentId).where("action", "=", "payment.left_in_wallet").execute();
    expect(audit).toHaveLength(1);
    const notices = await t.db.selectFrom("notification_requests").select(["organization_id", "params"]).where("topic", "=", "payment.left_in_wallet").execute();
    expect(notices.filter((n) => n.organization_id === buyer.id).map((n) => (n.params as Record<string, unknown>).paymentId)).toEqual([paymentId]);

    // A refund can be started from there: the money goes back through the gateway from the wallet.
    const refund = await refundPayment(
      t.db,
      { userId: null, organizationId: null, ip: null, requestId: null },
      { paymentId, amountFen: checkout.totalFen, reason: "checkout expired before the payment arrived", idempotencyKey: `late:${paymentId}` },
      server.deps(),
    );
    expect(["requested", "succeeded"]).toContain(refund.refund.status);
    await expectLedgerClean(t.db);
  });

  it("a capture its purpose cannot take ends in needs_attention with the reason, shown on the bank's console, and is not retried", async () => {
    const w = await createMarketWorld(t.db);
    const listing = await makeListing(t.db, w, 0, { priceFen: 4_400 });
    const owner = await makeBuyer(t.db);
    const { checkout } = await placeCheckout(t.db, actorFor(owner.id), {
      buyerId: owner.id,
      marketId: w.marketId,
      lines: [{ listingId: listing.id, quantity: 1 }],
      idempotencyKey: "attention",
    }, new Date());
    // Another buyer's payment naming this checkout: no retry can make it this buyer's checkout.
    const other = await makeBuyer(t.db);
    const { payment, payUrl } = await createPayment(
      t.db,
      actorFor(other.id),
      {
        payerOrganizationId: other.id,
        payeeOrganizationId: w.operatorId,
        purpose: "market_order",
        reference: `market_checkout:${checkout.id}`,
        amountFen: checkout.totalFen,
        description: "mismatched",
        returnPath: "/market",
        idempotencyKey: "attention:1",
      },
      server.deps({ hold_callbacks: true }),
    );
    expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
    expect((await postCallback(server.url, await heldSuccessEvent(payment.id))).status).toBe(200);
    await fulfilTwice(payment.id);

    const stuck = await getPayment(t.db, payment.id);
    expect(stuck).toMatchObject({ status: "succeeded", purposeOutcome: "needs_attention", fulfilledAt: null });
    expect(stuck.attentionReason).toContain("does not match checkout");
    expect(stuck.attentionAt).toBeInstanceOf(Date);
    // Nothing of the refused hold was written; the owner's checkout is untouched.
    expect((await getCheckout(t.db, owner.id, checkout.id)).checkout.status).toBe("placed");
    expect(await walletOf(t.db, other.id)).toEqual({ balanceFen: checkout.totalFen, availableFen: checkout.totalFen, incomingFen: 0 });
    await expectLedgerClean(t.db);

    const banker = await createUser(t.db, { memberships: [[bankId, "owner"]] });
    const client = await loggedIn(server.url, banker);
    for (const [lang, heading] of [
      ["zh-CN", "需要银行处理的 e-Pay 付款"],
      ["en", "e-Pay payments needing the bank&#x27;s attention"],
    ] as const) {
      await t.db.updateTable("users").set({ locale: lang }).where("id", "=", banker.id).execute();
      const page = await client.get("/");
      expect(page.status).toBe(200);
      expect(page.body).toContain(`data-payment-id="${payment.id}"`);
      expect(page.body).toContain("does not match checkout");
      expect(page.body.includes(heading) || page.body.includes(heading.replace("&#x27;", "'"))).toBe(true);
    }
  });
});
