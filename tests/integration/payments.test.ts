import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { releaseHeldDeliveries } from "../../app/sandbox/epay/sandbox.server";
import type { SandboxDirectives } from "../../app/domain/payments/epay/index.server";
import { SYSTEM_ACTOR, type Actor } from "../../app/domain/shared/audit.server";
import { DomainError } from "../../app/domain/shared/errors";
import {
  createPayment,
  getPayment,
  listPaymentEvents,
  listPaymentsNeedingAttention,
  listRefunds,
  refundPayment,
  type CreatePaymentInput,
} from "../../app/domain/payments/payments.server";
import { createFulfilPaymentStep, fulfilPaymentStep, PAYMENT_PURPOSE_HANDLERS } from "../../workflows/payments";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import {
  createPaymentsWorld,
  eventBody,
  expectLedgerClean,
  loggedIn,
  payOnSandboxPage,
  postCallback,
  settleDeliveries,
  startPaymentsServer,
  submitPayForm,
  transfersOf,
  walletBalanceFen,
  type PaymentsServer,
  type PaymentsWorld,
} from "./payments.fixtures";

const key = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;

describe("payments through e-Pay (sandbox over HTTP, PostgreSQL)", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let w: PaymentsWorld;
  let payerActor: Actor;
  let payeeActor: Actor;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 40 });
    w = await createPaymentsWorld(t.db);
    server = await startPaymentsServer(t.db);
    payerActor = { userId: null, organizationId: w.payer.id };
    payeeActor = { userId: null, organizationId: w.payee.id };
  });

  afterEach(async () => {
    await settleDeliveries(t.db);
    await expectLedgerClean(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  function input(overrides: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
    return {
      payerOrganizationId: w.payer.id,
      payeeOrganizationId: w.payee.id,
      purpose: "topup",
      reference: key("topup"),
      amountFen: 12_345,
      description: "钱包充值 Wallet top-up",
      returnPath: "/wallet",
      idempotencyKey: key("pay"),
      ...overrides,
    };
  }

  async function paid(directives?: SandboxDirectives, overrides: Partial<CreatePaymentInput> = {}) {
    const created = await createPayment(t.db, payerActor, input(overrides), server.deps(directives));
    const res = await payOnSandboxPage(created.payUrl, "pay");
    expect(res.status).toBe(302);
    return created.payment;
  }

  describe("creating a payment", () => {
    it("stores the payment as created and returns the gateway's pay page; the same key returns the same payment", async () => {
      const request = input();
      const first = await createPayment(t.db, payerActor, request, server.deps());
      expect(first.created).toBe(true);
      expect(first.payment.status).toBe("created");
      expect(first.payment.gatewayPaymentId).toMatch(/^ep_/);
      expect(first.payUrl).toBe(`${server.url}/sandbox/epay/pay/${first.payment.gatewayPaymentId}`);

      const again = await createPayment(t.db, payerActor, request, server.deps());
      expect(again.created).toBe(false);
      expect(again.payment.id).toBe(first.payment.id);
      expect(again.payUrl).toBe(first.payUrl);
      const rows = await t.db.selectFrom("sandbox_epay_payments").select("gateway_payment_id").where("merchant_reference", "=", first.payment.id).execute();
      expect(rows).toHaveLength(1);
    });

    it("refuses the same key with another amount, and names the field of bad input", async () => {
      const request = input();
      await createPayment(t.db, payerActor, request, server.deps());
      await expect(createPayment(t.db, payerActor, { ...request, amountFen: 1 }, server.deps())).rejects.toMatchObject({
        code: "idempotency_conflict",
        fields: { idempotencyKey: expect.stringContaining("amountFen") },
      });
      await expect(createPayment(t.db, payerActor, input({ amountFen: 10.5 }), server.deps())).rejects.toMatchObject({
        code: "validation",
        fields: { amountFen: expect.any(String) },
      });
      await expect(createPayment(t.db, payerActor, input({ returnPath: "//evil.example/x" }), server.deps())).rejects.toMatchObject({
        code: "validation",
        fields: { returnPath: expect.any(String) },
      });
      await expect(createPayment(t.db, payerActor, input({ purpose: "gift" as "topup" }), server.deps())).rejects.toMatchObject({
        fields: { purpose: expect.any(String) },
      });
      await expect(createPayment(t.db, { userId: null, organizationId: w.stranger.id }, input(), server.deps())).rejects.toMatchObject({
        code: "forbidden",
      });
    });

    it("refuses to run inside a transaction (the gateway call must not hold locks)", async () => {
      await expect(t.db.transaction().execute((trx) => createPayment(trx, payerActor, input(), server.deps()))).rejects.toThrow(
        /outside a transaction/,
      );
    });
  });

  describe("paying", () => {
    it("pays on the sandbox page: the signed callback captures the money once and asks for fulfilment", async () => {
      const { payment, payUrl } = await createPayment(t.db, payerActor, input({ amountFen: 50_000 }), server.deps());
      const page = await payOnSandboxPage(payUrl, "pay");
      expect(page.html).toContain(w.payee.name);
      expect(page.html).toContain("确认支付 Pay");
      expect(page.html).toContain("模拟失败 Fail");
      expect(page.status).toBe(302);
      expect(page.location).toBe(`${server.url}/payments/${payment.id}/return`);

      const after = await getPayment(t.db, payment.id);
      expect(after.status).toBe("succeeded");
      expect(await walletBalanceFen(t.db, w.payer.id)).toBeGreaterThanOrEqual(50_000);
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toEqual([
        { idempotency_key: `epay:${payment.id}:captured`, kind: "epay_payment", phase: "single", amount_fen: 50_000 },
      ]);
      const events = await listPaymentEvents(t.db, payment.id);
      expect(events.map((e) => [e.type, e.source, e.outcome])).toEqual([["payment.succeeded", "callback", "applied"]]);
      const outbox = await t.db.selectFrom("outbox").select(["job_id", "job_name", "queue"]).where("job_id", "=", `payments:${payment.id}:fulfil`).execute();
      expect(outbox).toEqual([{ job_id: `payments:${payment.id}:fulfil`, job_name: "payments.fulfil", queue: "payments" }]);

      // A second press of the button (a stale tab) changes nothing at the gateway or here.
      const again = await submitPayForm(payUrl, page.formToken, "fail");
      expect(again.status).toBe(302);
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");
      // The page now shows the outcome instead of the buttons.
      const shown = await (await fetch(payUrl)).text();
      expect(shown).not.toContain("form_token");
      expect(shown).toContain("支付成功");
      expect(await listPaymentEvents(t.db, payment.id)).toHaveLength(1);
    });

    it("fails on the sandbox page: the payment fails and no money moves", async () => {
      const { payment, payUrl } = await createPayment(t.db, payerActor, input(), server.deps());
      const res = await payOnSandboxPage(payUrl, "fail");
      expect(res.status).toBe(302);
      expect((await getPayment(t.db, payment.id)).status).toBe("failed");
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toEqual([]);
      await expect(
        refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 1, reason: "x", idempotencyKey: key("r") }, server.deps()),
      ).rejects.toMatchObject({ code: "invalid_state" });
    });

    it("delivers 20 concurrent copies of one callback: one event, one ledger transfer", async () => {
      const payment = await paid({ callback_copies: 20 });
      const deliveries = await t.db
        .selectFrom("sandbox_epay_deliveries as d")
        .innerJoin("sandbox_epay_events as e", "e.event_id", "d.event_id")
        .select(["d.status", "d.last_status_code"])
        .where("e.gateway_payment_id", "=", payment.gatewayPaymentId)
        .execute();
      expect(deliveries).toHaveLength(20);
      expect(deliveries.every((d) => d.status === "delivered" && d.last_status_code === 200)).toBe(true);
      expect(await listPaymentEvents(t.db, payment.id)).toHaveLength(1);
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toHaveLength(1);

      // And 20 more identical copies fired at once by hand, after the fact: all 200, all duplicates.
      const event = await t.db.selectFrom("sandbox_epay_events").select("body").where("gateway_payment_id", "=", payment.gatewayPaymentId!).executeTakeFirstOrThrow();
      const answers = await Promise.all(Array.from({ length: 20 }, () => postCallback(server.url, event.body)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(answers.every((a) => (a.json as { duplicate: boolean }).duplicate)).toBe(true);
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toHaveLength(1);
    });

    it("applies 20 concurrent first deliveries of a new event exactly once", async () => {
      const payment = await paid({ hold_callbacks: true });
      const event = await t.db.selectFrom("sandbox_epay_events").select("body").where("gateway_payment_id", "=", payment.gatewayPaymentId!).executeTakeFirstOrThrow();
      const answers = await Promise.all(Array.from({ length: 20 }, () => postCallback(server.url, event.body)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(answers.filter((a) => !(a.json as { duplicate: boolean }).duplicate)).toHaveLength(1);
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toHaveLength(1);
      expect(await t.db.selectFrom("outbox").select("id").where("job_id", "=", `payments:${payment.id}:fulfil`).execute()).toHaveLength(1);
    });

    it("refuses an event whose amount differs from the payment's: recorded, no money, state unchanged", async () => {
      const payment = await paid({ hold_callbacks: true });
      const forgedAmount = {
        event_id: `evt_test_${randomBytes(6).toString("hex")}`,
        type: "payment.succeeded" as const,
        gateway_payment_id: payment.gatewayPaymentId!,
        merchant_reference: payment.id,
        amount_fen: payment.amountFen + 1,
        occurred_at: new Date().toISOString(),
      };
      const res = await postCallback(server.url, eventBody(forgedAmount));
      expect(res.status).toBe(422);
      expect(res.json).toMatchObject({ error: { code: "amount_mismatch", fields: { amount_fen: expect.any(String) } } });
      expect((await getPayment(t.db, payment.id)).status).toBe("created");
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toEqual([]);
      const events = await listPaymentEvents(t.db, payment.id);
      expect(events.map((e) => e.outcome)).toEqual(["refused_amount_mismatch"]);

      // The gateway's real event still goes through.
      await releaseHeldDeliveries(server.sandbox, { gatewayPaymentId: payment.gatewayPaymentId! });
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");
    });

    it("ignores stale events (a failure after success, a success after refund) and never regresses", async () => {
      const payment = await paid();
      const stale = (type: "payment.failed" | "payment.succeeded") => ({
        event_id: `evt_test_${randomBytes(6).toString("hex")}`,
        type,
        gateway_payment_id: payment.gatewayPaymentId!,
        merchant_reference: payment.id,
        amount_fen: payment.amountFen,
        occurred_at: new Date(Date.now() - 60_000).toISOString(),
      });
      const res = await postCallback(server.url, eventBody(stale("payment.failed")));
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ outcome: "ignored_stale", payment_status: "succeeded" });

      await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: payment.amountFen, reason: "退货", idempotencyKey: key("r") }, server.deps());
      expect((await getPayment(t.db, payment.id)).status).toBe("refunded");
      const late = await postCallback(server.url, eventBody(stale("payment.succeeded")));
      expect(late.json).toMatchObject({ outcome: "ignored_stale", payment_status: "refunded" });
      expect((await transfersOf(t.db, `payment:${payment.id}`)).filter((r) => r.kind === "epay_payment")).toHaveLength(1);
    });
  });

  describe("coming back from the gateway", () => {
    it("applies the gateway's status when the callback is late, once, even when the callback then arrives", async () => {
      const { payment, payUrl } = await createPayment(t.db, payerActor, input({ returnPath: "/orders/42" }), server.deps({ hold_callbacks: true }));
      const res = await payOnSandboxPage(payUrl, "pay");
      expect((await getPayment(t.db, payment.id)).status).toBe("created");

      const client = await loggedIn(server.url, w.payerUser);
      const back = await client.get(new URL(res.location!).pathname);
      expect(back.status).toBe(302);
      expect(back.location).toBe("/orders/42");
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");

      // The late callback: a duplicate of the event the status query recorded.
      expect(await releaseHeldDeliveries(server.sandbox, { gatewayPaymentId: payment.gatewayPaymentId! })).toBe(1);
      const events = await listPaymentEvents(t.db, payment.id);
      expect(events.map((e) => [e.type, e.source, e.outcome])).toEqual([["payment.succeeded", "status_query", "applied"]]);
      const delivery = await t.db
        .selectFrom("sandbox_epay_deliveries as d")
        .innerJoin("sandbox_epay_events as e", "e.event_id", "d.event_id")
        .select(["d.status", "d.last_status_code"])
        .where("e.gateway_payment_id", "=", payment.gatewayPaymentId)
        .executeTakeFirstOrThrow();
      expect(delivery).toEqual({ status: "delivered", last_status_code: 200 });
      expect(await transfersOf(t.db, `payment:${payment.id}`)).toHaveLength(1);

      // Coming back again applies nothing new.
      await client.get(`/payments/${payment.id}/return`);
      expect(await listPaymentEvents(t.db, payment.id)).toHaveLength(1);
    });

    it("answers 404 for another organisation's payment, the payee's view of it, and a non-id", async () => {
      const payment = await paid();
      const stranger = await loggedIn(server.url, w.strangerUser);
      expect((await stranger.get(`/payments/${payment.id}/return`)).status).toBe(404);
      const payee = await loggedIn(server.url, w.payeeUser);
      expect((await payee.get(`/payments/${payment.id}/return`)).status).toBe(404);
      expect((await stranger.get(`/payments/not-a-uuid/return`)).status).toBe(404);
      const anonymous = await fetch(`${server.url}/payments/${payment.id}/return`, { redirect: "manual" });
      expect(anonymous.status).toBe(302);
      expect(anonymous.headers.get("location")).toMatch(/^\/login/);
    });
  });

  describe("refunds", () => {
    it("refunds in part then in full; the answer and the callback apply it once", async () => {
      const payment = await paid(undefined, { amountFen: 10_000 });
      const walletBefore = await walletBalanceFen(t.db, w.payer.id);
      const first = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 4_000, reason: "少发一箱", idempotencyKey: key("r") }, server.deps());
      expect(first.refund.status).toBe("succeeded");
      expect(first.payment).toMatchObject({ status: "partially_refunded", refundedFen: 4_000 });
      const second = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 6_000, reason: "整单退货", idempotencyKey: key("r") }, server.deps({ refund_mode: "callback_first" }));
      expect(second.refund.status).toBe("succeeded");
      expect(second.payment).toMatchObject({ status: "refunded", refundedFen: 10_000 });
      await settleDeliveries(t.db, payment.gatewayPaymentId!);

      expect(await walletBalanceFen(t.db, w.payer.id)).toBe(walletBefore - 10_000);
      const refundTransfers = (await transfersOf(t.db, `payment:${payment.id}`)).filter((r) => r.kind === "epay_refund");
      expect(refundTransfers.map((r) => [r.phase, r.amount_fen]).sort()).toEqual([
        ["pending", 4_000],
        ["pending", 6_000],
        ["post_pending", 4_000],
        ["post_pending", 6_000],
      ]);
      const events = await listPaymentEvents(t.db, payment.id);
      expect(events.filter((e) => e.type === "refund.succeeded").map((e) => e.outcome)).toEqual(["applied", "applied"]);
    });

    it("replays a refund for the same key and refuses another amount under it", async () => {
      const payment = await paid(undefined, { amountFen: 5_000 });
      const k = key("r");
      const first = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 1_000, reason: "r", idempotencyKey: k }, server.deps());
      const again = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 1_000, reason: "r", idempotencyKey: k }, server.deps());
      expect(again.created).toBe(false);
      expect(again.refund.id).toBe(first.refund.id);
      await expect(
        refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 2_000, reason: "r", idempotencyKey: k }, server.deps()),
      ).rejects.toMatchObject({ code: "idempotency_conflict" });
      expect((await getPayment(t.db, payment.id)).refundedFen).toBe(1_000);
    });

    it("refuses to refund more than was paid, naming the field", async () => {
      const payment = await paid(undefined, { amountFen: 3_000 });
      const error = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 3_001, reason: "r", idempotencyKey: key("r") }, server.deps()).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: "validation", status: 422, fields: { amountFen: "at most 3000 fen can still be refunded" } });
      expect(await listRefunds(t.db, payment.id)).toEqual([]);
    });

    it("never refunds more than was paid under 10 concurrent refunds", async () => {
      const payment = await paid(undefined, { amountFen: 10_000 });
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 3_000, reason: `并发 ${i}`, idempotencyKey: key("r") }, server.deps()),
        ),
      );
      const ok = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(ok).toHaveLength(3);
      expect(refused.every((r) => (r.reason as DomainError).code === "validation")).toBe(true);
      const after = await getPayment(t.db, payment.id);
      expect(after).toMatchObject({ status: "partially_refunded", refundedFen: 9_000 });
      const sandboxRow = await t.db.selectFrom("sandbox_epay_payments").select("refunded_fen").where("gateway_payment_id", "=", payment.gatewayPaymentId!).executeTakeFirstOrThrow();
      expect(sandboxRow.refunded_fen).toBe(9_000);
    });

    it("handles the refund callback arriving before the payment's own callback (held, then released in reverse)", async () => {
      const directives: SandboxDirectives = { hold_callbacks: true, refund_mode: "async" };
      const { payment, payUrl } = await createPayment(t.db, payerActor, input({ amountFen: 8_000 }), server.deps(directives));
      await payOnSandboxPage(payUrl, "pay");
      // The user comes back; the status query learns of the success (its callback is still held).
      const client = await loggedIn(server.url, w.payerUser);
      await client.get(`/payments/${payment.id}/return`);
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");

      const refund = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 8_000, reason: "取消", idempotencyKey: key("r") }, server.deps(directives));
      expect(refund.refund.status).toBe("requested"); // the gateway answered "pending"
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");

      // Now the gateway's callbacks arrive newest first: refund.succeeded, then payment.succeeded.
      expect(await releaseHeldDeliveries(server.sandbox, { gatewayPaymentId: payment.gatewayPaymentId!, order: "reversed" })).toBe(2);
      const after = await getPayment(t.db, payment.id);
      expect(after).toMatchObject({ status: "refunded", refundedFen: 8_000 });
      expect((await listRefunds(t.db, payment.id))[0].status).toBe("succeeded");
      const events = await listPaymentEvents(t.db, payment.id);
      expect(events.map((e) => [e.type, e.source, e.outcome])).toEqual([
        ["payment.succeeded", "status_query", "applied"],
        ["refund.succeeded", "callback", "applied"],
      ]);
      const kinds = (await transfersOf(t.db, `payment:${payment.id}`)).map((r) => `${r.kind}/${r.phase}`);
      expect(kinds).toEqual(["epay_payment/single", "epay_refund/pending", "epay_refund/post_pending"]);
    });

    it("releases the hold when the gateway fails the refund", async () => {
      const payment = await paid(undefined, { amountFen: 2_500 });
      const before = await walletBalanceFen(t.db, w.payer.id);
      const result = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 2_500, reason: "r", idempotencyKey: key("r") }, server.deps({ refund_outcome: "failed" }));
      expect(result.refund.status).toBe("failed");
      expect(result.payment.status).toBe("succeeded");
      expect(await walletBalanceFen(t.db, w.payer.id)).toBe(before);
      const kinds = (await transfersOf(t.db, `payment:${payment.id}`)).map((r) => `${r.kind}/${r.phase}`);
      expect(kinds).toEqual(["epay_payment/single", "epay_refund/pending", "epay_refund/void_pending"]);
      // The money can be refunded again afterwards.
      const retry = await refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 2_500, reason: "r", idempotencyKey: key("r") }, server.deps());
      expect(retry.payment.status).toBe("refunded");
    });

    it("lets only the payee (or the system) refund", async () => {
      const payment = await paid(undefined, { amountFen: 1_000 });
      const req = { paymentId: payment.id, amountFen: 100, reason: "r", idempotencyKey: key("r") };
      await expect(refundPayment(t.db, payerActor, req, server.deps())).rejects.toMatchObject({ code: "forbidden" });
      await expect(refundPayment(t.db, { userId: null, organizationId: w.stranger.id }, req, server.deps())).rejects.toMatchObject({ code: "not_found" });
      const bySystem = await refundPayment(t.db, SYSTEM_ACTOR, req, server.deps());
      expect(bySystem.refund.status).toBe("succeeded");
    });

    it("refuses a refund the payer's wallet can no longer cover, before asking the gateway", async () => {
      const payment = await paid(undefined, { amountFen: 700 });
      // Spend the wallet down to nothing.
      const wallet = await t.db.selectFrom("ledger_accounts").select(["id", "credits_posted_fen", "debits_posted_fen"]).where("code", "=", `wallet:${w.payer.id}`).executeTakeFirstOrThrow();
      const sink = await t.db.selectFrom("ledger_accounts").select("id").where("code", "=", "gateway_clearing").executeTakeFirstOrThrow();
      const { transfer } = await import("../../app/domain/ledger/ledger.server");
      await transfer(t.db, {
        idempotencyKey: key("spend"),
        kind: "test_spend",
        reference: "test:spend",
        debitAccountId: wallet.id,
        creditAccountId: sink.id,
        amountFen: wallet.credits_posted_fen - wallet.debits_posted_fen,
      });
      await expect(
        refundPayment(t.db, payeeActor, { paymentId: payment.id, amountFen: 700, reason: "r", idempotencyKey: key("r") }, server.deps()),
      ).rejects.toMatchObject({ code: "insufficient_funds", fields: { amountFen: expect.any(String) } });
      expect(await t.db.selectFrom("sandbox_epay_refunds").select("gateway_refund_id").where("gateway_payment_id", "=", payment.gatewayPaymentId!).execute()).toEqual([]);
    });
  });

  describe("fulfilment", () => {
    // Changed on purpose (decision 021): the capture itself hands the payment to its purpose; the
    // fulfil step finds the outcome recorded. A purpose that cannot take the money ends in
    // needs_attention at capture time instead of a step that fails for good.
    it("the capture hands a top-up over; the fulfil step then changes nothing; a payment naming no checkout needs attention", async () => {
      const topup = await paid();
      const deps = { db: t.db, logger };
      const captured = await getPayment(t.db, topup.id);
      expect(captured).toMatchObject({ status: "succeeded", purposeOutcome: "applied", attentionReason: null });
      expect(captured.fulfilledAt).toBeInstanceOf(Date);
      await runStep(STEPS, deps, "payments.fulfil", { paymentId: topup.id });
      await fulfilPaymentStep(deps, { paymentId: topup.id });
      expect((await getPayment(t.db, topup.id)).fulfilledAt).toEqual(captured.fulfilledAt);

      // A market payment naming no checkout cannot be applied and no retry will change that: the
      // capture records why, the step leaves it alone, the bank's list shows it.
      const order = await paid(undefined, { purpose: "market_order", reference: `market_order:${key("o")}` });
      const stuck = await getPayment(t.db, order.id);
      expect(stuck).toMatchObject({ status: "succeeded", purposeOutcome: "needs_attention", fulfilledAt: null });
      expect(stuck.attentionReason).toContain("names no checkout");
      await runStep(STEPS, deps, "payments.fulfil", { paymentId: order.id });
      expect((await getPayment(t.db, order.id)).purposeOutcome).toBe("needs_attention");
      expect((await listPaymentsNeedingAttention(t.db)).rows.map((r) => r.id)).toContain(order.id);

      // A payment captured before 0018 (no outcome recorded) is applied by the step, once, through
      // the registry it is given, in the step's transaction.
      await t.db.updateTable("payments").set({ purpose_outcome: null, attention_reason: null, attention_at: null }).where("id", "=", order.id).execute();
      const calls: string[] = [];
      const step = createFulfilPaymentStep({
        ...PAYMENT_PURPOSE_HANDLERS,
        market_order: async (_trx, payment) => {
          calls.push(payment.reference);
          return { outcome: "applied" };
        },
      });
      await step(deps, { paymentId: order.id });
      await step(deps, { paymentId: order.id });
      expect(calls).toEqual([order.reference]);
      expect((await getPayment(t.db, order.id)).purposeOutcome).toBe("applied");
    });

    it("refuses malformed job data as permanent", async () => {
      await expect(runStep(STEPS, { db: t.db, logger }, "payments.fulfil", { paymentId: "nope" })).rejects.toMatchObject({
        name: "PermanentStepError",
      });
    });
  });

  describe("under chaos (every callback twice, random delays)", () => {
    it("ends in the right state with the right money", async () => {
      const chaos = await startPaymentsServer(t.db, { chaos: true });
      try {
        const results = await Promise.all(
          Array.from({ length: 4 }, async (_, i) => {
            const created = await createPayment(t.db, payerActor, input({ amountFen: 1_000 + i }), chaos.deps());
            await payOnSandboxPage(created.payUrl, i === 3 ? "fail" : "pay");
            return created.payment;
          }),
        );
        const client = await loggedIn(chaos.url, w.payerUser);
        for (const p of results) await client.get(`/payments/${p.id}/return`);
        const refund = await refundPayment(t.db, payeeActor, { paymentId: results[0].id, amountFen: 1_000, reason: "r", idempotencyKey: key("r") }, chaos.deps());
        expect(["requested", "succeeded"]).toContain(refund.refund.status);
        await settleDeliveries(t.db, undefined, 30_000);

        const statuses = await Promise.all(results.map((p) => getPayment(t.db, p.id)));
        expect(statuses.map((p) => p.status)).toEqual(["refunded", "succeeded", "succeeded", "failed"]);
        for (const p of results.slice(0, 3)) {
          expect((await transfersOf(t.db, `payment:${p.id}`)).filter((r) => r.kind === "epay_payment")).toHaveLength(1);
        }
        const dupes = await t.db
          .selectFrom("sandbox_epay_deliveries as d")
          .innerJoin("sandbox_epay_events as e", "e.event_id", "d.event_id")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("e.gateway_payment_id", "in", results.map((p) => p.gatewayPaymentId!))
          .executeTakeFirstOrThrow();
        expect(Number(dupes.n)).toBe(10); // 5 events, each delivered twice
      } finally {
        await settleDeliveries(t.db, undefined, 30_000);
        await chaos.close();
      }
    });
  });
});
