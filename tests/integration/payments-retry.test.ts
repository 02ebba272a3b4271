import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicUrlFor } from "../../app/config.server";
import { logger } from "../../app/logger.server";
import { payCheckoutFromWallet, placeCheckout, startCheckoutPayment } from "../../app/domain/market/escrow/checkout.server";
import { getCheckout } from "../../app/domain/market/escrow/queries.server";
import { receiveOrder, shipOrder } from "../../app/domain/orders/fulfilment.server";
import { payOnAccount } from "../../app/domain/orders/payment.server";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { requestReturn } from "../../app/domain/orders/returns.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { FINANCING_AVAILABLE, ORDER_MACHINES } from "../../app/domain/orders/states";
import { createPayment, startPaymentAttempt } from "../../app/domain/payments/payments.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { Client } from "../support/web";
import { apiLogin, expectError } from "./api.fixtures";
import { actorOf, makeLink, makeSku, newOrg, refusal } from "./catalog.fixtures";
import { actorFor, createMarketWorld, makeBuyer, makeListing } from "./market-trade.fixtures";
import { expectLedgerClean, loggedIn, payOnSandboxPage, settleDeliveries, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

/**
 * Paying twice, and paying again after a failure (issue 11, item 3), and the financing choice that
 * led nowhere (item 4). Everything runs against the sandbox gateway over HTTP and the real pages.
 */
describe("one open payment per purpose, a new attempt after a failure", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
    await t.db.insertInto("organizations").values({ kind: "bank", name: "测试银行" }).onConflict((oc) => oc.doNothing()).execute();
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  /** A dealer (an owner who can sign in) with a confirmed order of 2 × ¥1,888.00 from its supplier. */
  async function confirmedOrder(options: { creditLimitFen?: number } = {}) {
    const { db } = t;
    const core = await newOrg(db, "core_enterprise");
    const link = await makeLink(db, core, { creditLimitFen: options.creditLimitFen ?? 0 });
    const sku = await makeSku(db, core, { basePriceFen: 188_800 });
    const dealerUser = await createUser(db, { memberships: [[link.dealerId, "owner"]] });
    const coreUser = await createUser(db, { memberships: [[core, "owner"]] });
    const asDealer = actorOf(link.dealerId, dealerUser.id);
    const asCore = actorOf(core, coreUser.id);
    const order = await createOrder(db, asDealer, { dealerId: link.dealerId, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: sku.id, quantity: 2 }] }, new Date());
    await confirmOrder(db, asCore, order.id, new Date());
    return { core, dealerId: link.dealerId, order, asDealer, asCore, dealerUser, coreUser, path: `/orders/${order.id}` };
  }

  const attemptsOf = (reference: string) =>
    t.db.selectFrom("payments").select(["id", "status", "idempotency_key", "pay_url"]).where("reference", "=", reference).orderBy("created_at").execute();

  async function fulfil(paymentId: string) {
    await runStep(STEPS, { db: t.db, logger: quiet }, "payments.fulfil", { paymentId });
  }

  describe("a dealer order paid by e-Pay from its page", () => {
    it("waits for a pending payment, refuses a second one, and after a failed attempt pays by a new one", async () => {
      const w = await confirmedOrder();
      const reference = `order:${w.order.id}:payment`;
      const dealer = await loggedIn(server.url, w.dealerUser);

      const started = await dealer.post(w.path, { csrf: await dealer.csrfFrom(w.path), intent: "epay" });
      expect(started.status).toBe(302);
      expect(started.location).toMatch(/\/sandbox\/epay\/pay\//);
      const [first] = await attemptsOf(reference);
      expect(first.idempotency_key).toBe(`${reference}:1`);

      // Back on the order page while the payment is pending: no way to pay again, a refresh instead.
      const pending = await dealer.get(w.path);
      expect(pending.body).toContain('data-testid="payment-in-flight"');
      expect(pending.body).toContain("e-Pay 支付处理中");
      expect(pending.body).toMatch(/<noscript><meta http-equiv="refresh" content="5"\/?><\/noscript>/);
      expect(pending.body).toContain('data-testid="payment-refresh"');
      expect(pending.body).toContain(`href="${first.pay_url}"`);
      expect(pending.body).not.toContain('data-intent="pay_wallet"');
      expect(pending.body).not.toContain('data-intent="epay"');

      // A stale tab pays from the wallet: refused, 409, and said why.
      const wallet = await dealer.post(w.path, { csrf: await dealer.csrfFrom(w.path), intent: "pay_wallet" });
      expect(wallet.status).toBe(409);
      expect(wallet.body).toContain("已有一笔 e-Pay 支付在处理中");
      // The API says the same, as invalid_state.
      const api = await apiLogin(server.url, w.dealerUser.email, w.dealerUser.password);
      const apiWallet = expectError(await api.post(`/api/v1/orders/${w.order.id}/pay`, { method: "wallet" }), 409, "invalid_state");
      expect(apiWallet.message).toMatch(/e-Pay payment of this is in progress/);
      expectError(await api.post(`/api/v1/orders/${w.order.id}/pay`, { method: "on_account" }), 409, "invalid_state");
      // A second payment of the same part under another key: refused in the model.
      const second = await refusal(
        createPayment(
          t.db,
          w.asDealer,
          {
            payerOrganizationId: w.dealerId,
            payeeOrganizationId: w.core,
            purpose: "order",
            reference,
            amountFen: 377_600,
            description: "again",
            returnPath: w.path,
            idempotencyKey: "another-key",
          },
          server.deps(),
        ),
      );
      expect(second).toMatchObject({ code: "invalid_state", status: 409, fields: { payment: "payment_pending" } });
      // And the unique index holds it whatever the code does.
      await expect(
        t.db
          .insertInto("payments")
          .values({
            payer_organization_id: w.dealerId,
            payee_organization_id: w.core,
            purpose: "order",
            reference,
            amount_fen: 377_600,
            description: "around the model",
            return_path: w.path,
            idempotency_key: "raw-insert",
          })
          .execute(),
      ).rejects.toThrow(/payments_one_open_per_purpose/);
      expect(await attemptsOf(reference)).toHaveLength(1);

      // The user fails it on the gateway's page: the pay buttons come back, saying so.
      expect((await payOnSandboxPage(first.pay_url!, "fail")).status).toBe(302);
      await settleDeliveries(t.db);
      const afterFailure = await dealer.get(w.path);
      expect(afterFailure.body).not.toContain('data-testid="payment-in-flight"');
      expect(afterFailure.body).toContain('data-testid="payment-last-failed"');
      expect(afterFailure.body).toContain("重新 e-Pay 支付");

      // The retry is a new payment with a pay form — never the failed payment's page.
      const retry = await dealer.post(w.path, { csrf: await dealer.csrfFrom(w.path), intent: "epay" });
      expect(retry.status).toBe(302);
      const attempts = await attemptsOf(reference);
      expect(attempts.map((a) => [a.status, a.idempotency_key])).toEqual([
        ["failed", `${reference}:1`],
        ["created", `${reference}:2`],
      ]);
      expect(retry.location).toBe(attempts[1].pay_url);
      expect(retry.location).not.toBe(first.pay_url);
      expect((await payOnSandboxPage(retry.location!, "pay")).status).toBe(302);
      await settleDeliveries(t.db);
      await fulfil(attempts[1].id);

      const paid = await getOrder(t.db, w.dealerId, w.order.id);
      expect(paid.order).toMatchObject({ status: "paid", payment_method: "epay", paid_fen: 377_600 });
      const page = await dealer.get(w.path);
      expect(page.body).not.toContain('data-testid="payment-in-flight"');
      expect(page.body).not.toContain('data-intent="epay"');
      // Paid: nothing more can start, in the model either.
      const again = await refusal(
        startPaymentAttempt(
          t.db,
          w.asDealer,
          { payerOrganizationId: w.dealerId, payeeOrganizationId: w.core, purpose: "order", reference, amountFen: 377_600, description: "again", returnPath: w.path },
          server.deps(),
        ),
      );
      expect(again).toMatchObject({ code: "invalid_state", fields: { payment: "already_paid" } });
      await expectLedgerClean(t.db);
    });

    it("asks the gateway when the callback is late: the page shows the order paid, and paying again is refused", async () => {
      const w = await confirmedOrder();
      const reference = `order:${w.order.id}:payment`;
      // The gateway holds its callbacks: only our status query can learn that the user paid.
      const { payment, payUrl } = await startPaymentAttempt(
        t.db,
        w.asDealer,
        { payerOrganizationId: w.dealerId, payeeOrganizationId: w.core, purpose: "order", reference, amountFen: 377_600, description: "订单", returnPath: w.path },
        server.deps({ hold_callbacks: true }),
      );
      expect((await payOnSandboxPage(payUrl, "pay")).status).toBe(302);
      expect((await t.db.selectFrom("payments").select("status").where("id", "=", payment.id).executeTakeFirstOrThrow()).status).toBe("created");

      // Changed on purpose (decision 021): the status query's capture pays the order in its own
      // transaction, so the page it served already shows the order paid, with nothing left to pay.
      const dealer = await loggedIn(server.url, w.dealerUser);
      const page = await dealer.get(w.path);
      expect(page.body).toContain('data-status="paid"');
      expect(page.body).not.toContain('data-intent="pay_wallet"');
      expect(page.body).not.toContain('data-intent="epay"');
      expect((await getOrder(t.db, w.dealerId, w.order.id)).order.status).toBe("paid");
      const wallet = await dealer.post(w.path, { csrf: await dealer.csrfFrom(w.path), intent: "pay_wallet" });
      expect(wallet.status).toBe(409);
      const epay = await dealer.post(w.path, { csrf: await dealer.csrfFrom(w.path), intent: "epay" });
      expect(epay.status).toBe(409);

      await fulfil(payment.id);
      expect((await getOrder(t.db, w.dealerId, w.order.id)).order.status).toBe("paid");
      expect(await attemptsOf(reference)).toHaveLength(1);
      await expectLedgerClean(t.db);
    });
  });

  describe("under concurrency", () => {
    it("lets exactly one of 8 simultaneous payments of one order part through, whatever their keys", async () => {
      const w = await confirmedOrder();
      const reference = `order:${w.order.id}:payment`;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          createPayment(
            t.db,
            w.asDealer,
            {
              payerOrganizationId: w.dealerId,
              payeeOrganizationId: w.core,
              purpose: "order",
              reference,
              amountFen: 377_600,
              description: "订单",
              returnPath: w.path,
              idempotencyKey: `tab-${i}`,
            },
            server.deps(),
          ),
        ),
      );
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected") expect(o.reason).toMatchObject({ code: "invalid_state", fields: { payment: "payment_pending" } });
      }
      expect(await attemptsOf(reference)).toHaveLength(1);
    });
  });

  describe("a market checkout", () => {
    it("pays by a new attempt after a failed one, and refuses the wallet while an attempt is pending", async () => {
      const w = await createMarketWorld(t.db);
      const listing = await makeListing(t.db, w, 0, { priceFen: 12_800 });
      const buyer = await makeBuyer(t.db, 100_000);
      const actor = actorFor(buyer.id, buyer.user.id);
      const placed = await placeCheckout(t.db, actor, { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 1 }], idempotencyKey: "retry-1" }, new Date());
      const reference = `market_checkout:${placed.checkout.id}`;
      const path = `/market/checkouts/${placed.checkout.id}`;

      const first = await startCheckoutPayment(t.db, actor, buyer.id, placed.checkout.id, server.deps(), new Date());
      // Asking again while it is pending resumes the same payment.
      expect((await startCheckoutPayment(t.db, actor, buyer.id, placed.checkout.id, server.deps(), new Date())).paymentId).toBe(first.paymentId);
      expect(await refusal(payCheckoutFromWallet(t.db, actor, buyer.id, placed.checkout.id, new Date()))).toMatchObject({
        code: "invalid_state",
        fields: { payment: "payment_pending" },
      });
      const page = await loggedIn(server.url, buyer.user);
      const pending = await page.get(path);
      expect(pending.body).toContain('data-testid="payment-in-flight"');
      expect(pending.body).not.toContain('data-intent="wallet"');
      const walletPost = await page.post(path, { csrf: await page.csrfFrom(path), intent: "wallet" });
      expect(walletPost.status).toBe(409);
      expect(walletPost.body).toContain("已有一笔 e-Pay 支付在处理中");

      expect((await payOnSandboxPage(first.payUrl, "fail")).status).toBe(302);
      await settleDeliveries(t.db);
      expect((await page.get(path)).body).toContain('data-testid="payment-last-failed"');

      // The retry from the page: a new payment whose pay page has its form (the failed one has none).
      const retry = await page.post(path, { csrf: await page.csrfFrom(path), intent: "epay" });
      expect(retry.status).toBe(302);
      const attempts = await attemptsOf(reference);
      expect(attempts.map((a) => [a.status, a.idempotency_key])).toEqual([
        ["failed", `${reference}:1`],
        ["created", `${reference}:2`],
      ]);
      expect(retry.location).toBe(attempts[1].pay_url);
      expect((await payOnSandboxPage(retry.location!, "pay")).status).toBe(302);
      await settleDeliveries(t.db);
      await fulfil(attempts[1].id);
      const { checkout } = await getCheckout(t.db, buyer.id, placed.checkout.id);
      expect(checkout).toMatchObject({ status: "paid", paymentId: attempts[1].id });
      expect(await refusal(startCheckoutPayment(t.db, actor, buyer.id, placed.checkout.id, server.deps(), new Date()))).toMatchObject({ code: "invalid_state" });
      await expectLedgerClean(t.db);
    });
  });

  describe("the host the user came in on", () => {
    it("builds the return and callback URLs on the request's host when PUBLIC_URL is unset", async () => {
      const w = await confirmedOrder();
      const port = new URL(server.url).port;
      // The server is configured (like a default install) with 127.0.0.1; the user opened localhost.
      const viaLocalhost = new Client(`http://localhost:${port}`);
      expect((await viaLocalhost.login(w.dealerUser.email, w.dealerUser.password)).status).toBe(302);
      const started = await viaLocalhost.post(w.path, { csrf: await viaLocalhost.csrfFrom(w.path), intent: "epay" });
      expect(started.status).toBe(302);
      const [payment] = await attemptsOf(`order:${w.order.id}:payment`);
      const atGateway = await t.db
        .selectFrom("sandbox_epay_payments")
        .select(["return_url", "notify_url"])
        .where("merchant_reference", "=", payment.id)
        .executeTakeFirstOrThrow();
      expect(atGateway.return_url).toBe(`http://localhost:${port}/payments/${payment.id}/return`);
      expect(atGateway.notify_url).toBe(`http://localhost:${port}/api/v1/payments/callback`);
    });

    it("prefers PUBLIC_URL, trusts forwarded headers only behind a trusted proxy, and ignores a forged host", () => {
      const request = (headers: Record<string, string>) => new Request("http://127.0.0.1:3000/orders/x", { headers });
      const unset = { publicUrl: "http://localhost:3000", publicUrlFromEnv: false, trustProxy: false };
      expect(publicUrlFor(request({ host: "127.0.0.1:3000" }), unset)).toBe("http://127.0.0.1:3000");
      expect(publicUrlFor(request({ host: "127.0.0.1:3000", "x-forwarded-host": "evil.example" }), unset)).toBe("http://127.0.0.1:3000");
      expect(publicUrlFor(request({ host: "a b/c" }), unset)).toBe("http://localhost:3000");
      const proxied = { ...unset, trustProxy: true };
      expect(publicUrlFor(request({ host: "10.0.0.5:3000", "x-forwarded-host": "shop.example.cn", "x-forwarded-proto": "https" }), proxied)).toBe(
        "https://shop.example.cn",
      );
      const set = { publicUrl: "https://rongtong.example.cn", publicUrlFromEnv: true, trustProxy: true };
      expect(publicUrlFor(request({ host: "127.0.0.1:3000", "x-forwarded-host": "other.example" }), set)).toBe("https://rongtong.example.cn");
    });
  });

  describe("withdrawing a return", () => {
    /** A received order of 2 units, and a return request for both. */
    async function requestedReturn() {
      const w = await confirmedOrder({ creditLimitFen: 10_000_000 });
      await payOnAccount(t.db, w.asDealer, w.order.id, new Date());
      const detail = await getOrder(t.db, w.dealerId, w.order.id);
      await shipOrder(t.db, w.asCore, w.order.id, { carrier: "顺丰", trackingNumber: "SF1", lines: [{ lineId: detail.lines[0].id, quantity: 2 }] }, new Date());
      await receiveOrder(t.db, w.asDealer, w.order.id, new Date());
      const lineId = detail.lines[0].id;
      const rma = await requestReturn(t.db, w.asDealer, { originalOrderId: w.order.id, lines: [{ lineId, quantity: 2 }], reason: "外观破损" }, new Date());
      return { ...w, lineId, rma };
    }
    /** Units of the original order's line counted as returned (or asked to be). */
    const returnedOf = async (dealerId: string, orderId: string) => (await getOrder(t.db, dealerId, orderId)).lines[0].quantity_returned;

    it("through the API gives the units back to the original order, which can then be returned again", async () => {
      const w = await requestedReturn();
      expect(await returnedOf(w.dealerId, w.order.id)).toBe(2);
      const api = await apiLogin(server.url, w.dealerUser.email, w.dealerUser.password);
      const withdrawn = await api.post<{ status: string }>(`/api/v1/orders/${w.rma.id}/cancel`, { reason: "不退了" });
      expect(withdrawn.status).toBe(200);
      expect(withdrawn.body.status).toBe("cancelled");
      expect(await returnedOf(w.dealerId, w.order.id)).toBe(0);
      const again = await api.post<{ status: string }>(`/api/v1/orders/${w.order.id}/returns`, { lines: [{ line_id: w.lineId, quantity: 2 }], reason: "还是要退" });
      expect(again.status).toBe(201);
      // Withdrawn once: a second withdrawal is the wrong state, and gives nothing back twice.
      expectError(await api.post(`/api/v1/orders/${w.rma.id}/cancel`, { reason: "再撤" }), 409, "invalid_state");
      expect(await returnedOf(w.dealerId, w.order.id)).toBe(2);
    });

    it("through the page does the same", async () => {
      const w = await requestedReturn();
      const dealer = await loggedIn(server.url, w.dealerUser);
      const path = `/orders/${w.rma.id}`;
      const res = await dealer.post(path, { csrf: await dealer.csrfFrom(path), intent: "cancel", reason: "不退了" });
      expect(res.status).toBe(302);
      expect((await getOrder(t.db, w.dealerId, w.rma.id)).order.status).toBe("cancelled");
      expect(await returnedOf(w.dealerId, w.order.id)).toBe(0);
      const again = await requestReturn(t.db, w.asDealer, { originalOrderId: w.order.id, lines: [{ lineId: w.lineId, quantity: 2 }], reason: "还是要退" }, new Date());
      expect(again.status).toBe("requested");
    });
  });

  describe("financing, from the order page", () => {
    it("is offered on a confirmed order as its own page, and refused by the model while the bank offers no product", async () => {
      const w = await confirmedOrder();
      expect(FINANCING_AVAILABLE).toBe(true);
      expect(ORDER_MACHINES.standard.some((tr) => tr.event === "request_financing")).toBe(true);
      expect((await getOrder(t.db, w.dealerId, w.order.id)).actions).toContain("request_financing");
      // No order_financing product in this database: the request is refused whole, the order stays confirmed.
      await t.db.updateTable("loan_products").set({ status: "retired" }).where("kind", "=", "order_financing").execute();
      const refused = await refusal(applyForOrderFinancing(t.db, w.asDealer, w.order.id, new Date()));
      expect(refused).toMatchObject({ code: "invalid_state", fields: { product: "none" } });
      expect((await getOrder(t.db, w.dealerId, w.order.id)).order.status).toBe("confirmed");

      const dealer = await loggedIn(server.url, w.dealerUser);
      const page = await dealer.get(w.path);
      expect(page.body).toContain(`href="/financing/apply/${w.order.id}"`);
      expect(page.body).toContain("申请融资支付");
      // A form posted by an older page lands on the financing page, which shows rate and schedule first.
      const posted = await dealer.post(w.path, { csrf: await dealer.csrfFrom(w.path), intent: "financing" });
      expect(posted.status).toBe(302);
      expect(posted.headers.get("location")).toBe(`/financing/apply/${w.order.id}`);

      // The API pays orders by wallet, e-Pay or on account; financing has its own resource.
      const api = await apiLogin(server.url, w.dealerUser.email, w.dealerUser.password);
      const viaApi = expectError(await api.post(`/api/v1/orders/${w.order.id}/pay`, { method: "financing" }), 422, "validation");
      expect(Object.keys(viaApi.fields)).toEqual(["method"]);
      expect((await getOrder(t.db, w.dealerId, w.order.id)).order.status).toBe("confirmed");
    });

  });
});
