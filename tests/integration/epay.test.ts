import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import {
  createHttpEpayGateway,
  EPAY_MERCHANT_HEADER,
  EPAY_SANDBOX_HEADER,
  EPAY_SIGNATURE_HEADER,
  EpayGatewayError,
  requestSigningPayload,
  signPayload,
  unixSeconds,
  verifySignature,
  type GatewayEvent,
} from "../../app/domain/payments/epay/index.server";
import { transfer, verifyLedger } from "../../app/domain/ledger/ledger.server";
import {
  createPayment,
  gatewayClearingAccount,
  getPayment,
  listPaymentEvents,
  refundPayment,
  verifyPayments,
  type CreatePaymentInput,
} from "../../app/domain/payments/payments.server";
import { createEmbeddedTestDatabase, createTestDatabase, type TestDatabase } from "../support/db";
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
  TEST_EPAY_SECRET,
  transfersOf,
  walletBalanceFen,
  type PaymentsServer,
  type PaymentsWorld,
} from "./payments.fixtures";

const SECRET = TEST_EPAY_SECRET;
const key = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;

describe("e-Pay signatures", () => {
  const body = '{"event_id":"evt_1"}';
  const now = new Date("2025-03-01T08:00:00Z");
  const t = unixSeconds(now);

  it("accepts its own signature within ±300 s and nothing else", () => {
    expect(verifySignature(SECRET, body, signPayload(SECRET, body, t), { now })).toEqual({ ok: true, timestampS: t });
    expect(verifySignature(SECRET, body, signPayload(SECRET, body, t - 300), { now }).ok).toBe(true);
    expect(verifySignature(SECRET, body, signPayload(SECRET, body, t + 300), { now }).ok).toBe(true);
    expect(verifySignature(SECRET, body, signPayload(SECRET, body, t - 301), { now })).toEqual({ ok: false, problem: "expired" });
    expect(verifySignature(SECRET, body, signPayload(SECRET, body, t + 301), { now })).toEqual({ ok: false, problem: "expired" });
    expect(verifySignature(SECRET, `${body} `, signPayload(SECRET, body, t), { now })).toEqual({ ok: false, problem: "mismatch" });
    expect(verifySignature(SECRET, body, signPayload("another-secret", body, t), { now })).toEqual({ ok: false, problem: "mismatch" });
  });

  it("tells a missing header from a malformed one", () => {
    expect(verifySignature(SECRET, body, null, { now })).toEqual({ ok: false, problem: "missing" });
    for (const header of ["garbage", `t=${t}`, "v1=" + "a".repeat(64), `t=abc,v1=${"a".repeat(64)}`, `t=${t},v1=xyz`, `t=${t},v1=${"a".repeat(5000)}`]) {
      expect(verifySignature(SECRET, body, header, { now }), header.slice(0, 40)).toEqual({ ok: false, problem: "malformed" });
    }
  });

  it("accepts any one matching v1 among several (a secret being rotated)", () => {
    const good = signPayload(SECRET, body, t);
    const old = signPayload("old-secret", body, t).split(",")[1];
    expect(verifySignature(SECRET, body, `${good},${old}`, { now }).ok).toBe(true);
    expect(verifySignature(SECRET, body, `t=${t},${old}`, { now }).ok).toBe(false);
  });
});

describe("e-Pay over HTTP (PostgreSQL)", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let w: PaymentsWorld;
  let payerActor: Actor;

  beforeAll(async () => {
    t = await createTestDatabase();
    w = await createPaymentsWorld(t.db);
    server = await startPaymentsServer(t.db);
    payerActor = { userId: null, organizationId: w.payer.id };
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
      purpose: "order",
      reference: `order:${randomUUID()}`,
      amountFen: 9_900,
      description: "订单付款",
      returnPath: "/orders",
      idempotencyKey: key("pay"),
      ...overrides,
    };
  }

  /** A payment the gateway has taken money for, whose callback is still held back. */
  async function paidWithHeldCallback() {
    const created = await createPayment(t.db, payerActor, input(), server.deps({ hold_callbacks: true }));
    await payOnSandboxPage(created.payUrl, "pay");
    const row = await t.db
      .selectFrom("sandbox_epay_events")
      .select("body")
      .where("gateway_payment_id", "=", created.payment.gatewayPaymentId!)
      .executeTakeFirstOrThrow();
    return { payment: created.payment, body: row.body, event: JSON.parse(row.body) as GatewayEvent };
  }

  describe("our callback endpoint", () => {
    it("accepts a valid signature and applies the event", async () => {
      const { payment, body } = await paidWithHeldCallback();
      const res = await postCallback(server.url, body);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ received: true, duplicate: false, outcome: "applied", payment_status: "succeeded" });
      expect((await getPayment(t.db, payment.id)).status).toBe("succeeded");
    });

    it("refuses a forged signature with 401 and an expired one with 400, writing nothing", async () => {
      const { payment, body } = await paidWithHeldCallback();
      const forged = await postCallback(server.url, body, { secret: "not-the-secret" });
      expect(forged.status).toBe(401);
      expect(forged.json).toEqual({
        error: { code: "signature_invalid", message: expect.any(String), fields: { "X-Epay-Signature": "mismatch" } },
      });
      const tampered = await postCallback(server.url, body.replace(`"amount_fen":${payment.amountFen}`, '"amount_fen":1'), {
        signature: signPayload(SECRET, body, unixSeconds(new Date())),
      });
      expect(tampered.status).toBe(401);
      const expired = await postCallback(server.url, body, { timestampS: unixSeconds(new Date()) - 301 });
      expect(expired.status).toBe(400);
      expect(expired.json).toMatchObject({ error: { code: "signature_expired" } });
      const missing = await postCallback(server.url, body, { signature: null });
      expect(missing.status).toBe(400);
      expect(missing.json).toMatchObject({ error: { code: "signature_missing" } });
      const malformed = await postCallback(server.url, body, { signature: "t=1,v1=nope" });
      expect(malformed.status).toBe(400);
      expect(malformed.json).toMatchObject({ error: { code: "signature_malformed" } });

      expect(await listPaymentEvents(t.db, payment.id)).toEqual([]);
      expect((await getPayment(t.db, payment.id)).status).toBe("created");
    });

    it("answers bad bodies with 4xx naming the field, never a 500", async () => {
      const { event } = await paidWithHeldCallback();
      const notJson = await postCallback(server.url, "{not json");
      expect(notJson.status).toBe(400);
      expect(notJson.json).toMatchObject({ error: { code: "invalid_json", fields: { body: expect.any(String) } } });

      const { amount_fen: _dropped, ...withoutAmount } = event;
      const noAmount = await postCallback(server.url, JSON.stringify(withoutAmount));
      expect(noAmount.status).toBe(400);
      expect(noAmount.json).toMatchObject({ error: { code: "invalid_event", fields: { amount_fen: expect.any(String) } } });

      const floatAmount = await postCallback(server.url, eventBody({ ...event, amount_fen: 99.5 }));
      expect(floatAmount.status).toBe(400);
      expect(floatAmount.json).toMatchObject({ error: { fields: { amount_fen: expect.any(String) } } });

      const badType = await postCallback(server.url, JSON.stringify({ ...event, type: "payment.exploded" }));
      expect(badType.json).toMatchObject({ error: { fields: { type: expect.any(String) } } });

      const unknown = await postCallback(server.url, eventBody({ ...event, event_id: `evt_${randomBytes(4).toString("hex")}`, merchant_reference: randomUUID() }));
      expect(unknown.status).toBe(400);
      expect(unknown.json).toMatchObject({ error: { code: "unknown_payment", fields: { merchant_reference: expect.any(String) } } });

      const wrongGateway = await postCallback(server.url, eventBody({ ...event, gateway_payment_id: "ep_someone_else" }));
      expect(wrongGateway.status).toBe(400);

      const huge = await postCallback(server.url, JSON.stringify({ ...event, padding: "x".repeat(65 * 1024) }));
      expect(huge.status).toBe(413);
      expect(huge.json).toMatchObject({ error: { code: "body_too_large" } });

      const plain = await postCallback(server.url, eventBody(event), { contentType: "text/plain" });
      expect(plain.status).toBe(415);

      const get = await fetch(`${server.url}/api/v1/payments/callback`);
      expect(get.status).toBe(405);
      expect(await get.json()).toMatchObject({ error: { code: "method_not_allowed" } });
    });
  });

  describe("the sandbox gateway's API", () => {
    async function signedFetch(path: string, init: { method?: string; body?: string; secret?: string; merchant?: string; signPath?: string; headers?: Record<string, string> } = {}) {
      const method = init.method ?? "GET";
      const body = init.body ?? "";
      const signature = signPayload(init.secret ?? SECRET, requestSigningPayload(method, init.signPath ?? path, body), unixSeconds(new Date()));
      return fetch(`${server.url}${path}`, {
        method,
        body: method === "GET" ? undefined : body,
        headers: {
          "Content-Type": "application/json",
          [EPAY_MERCHANT_HEADER]: init.merchant ?? server.config.epayMerchantId,
          [EPAY_SIGNATURE_HEADER]: signature,
          ...init.headers,
        },
      });
    }

    it("refuses unsigned, forged, replayed-elsewhere and foreign-merchant requests, and signs its answers", async () => {
      const { payment } = await paidWithHeldCallback();
      const path = `/sandbox/epay/api/payments/${payment.gatewayPaymentId}`;
      const ok = await signedFetch(path);
      expect(ok.status).toBe(200);
      const okText = await ok.text();
      expect(verifySignature(SECRET, okText, ok.headers.get(EPAY_SIGNATURE_HEADER), { now: new Date() }).ok).toBe(true);
      expect(JSON.parse(okText)).toMatchObject({ status: "succeeded", merchant_reference: payment.id, events: [{ type: "payment.succeeded" }] });

      const unsigned = await fetch(`${server.url}${path}`, { headers: { [EPAY_MERCHANT_HEADER]: server.config.epayMerchantId } });
      expect(unsigned.status).toBe(400);
      expect((await signedFetch(path, { secret: "wrong" })).status).toBe(401);
      expect((await signedFetch(path, { signPath: "/sandbox/epay/api/payments/ep_other" })).status).toBe(401);
      const foreign = await signedFetch(path, { merchant: "someone-else" });
      expect(foreign.status).toBe(401);
      expect(await foreign.json()).toMatchObject({ error: { code: "unknown_merchant" } });
      const directives = await signedFetch(path, { headers: { [EPAY_SANDBOX_HEADER]: '{"callback_copies":500}' } });
      expect(directives.status).toBe(400);
      expect(await directives.json()).toMatchObject({ error: { fields: { callback_copies: expect.any(String) } } });
    });

    it("validates a create request field by field and is idempotent on merchant_reference", async () => {
      const bad = await signedFetch("/sandbox/epay/api/payments", { method: "POST", body: JSON.stringify({ merchant_reference: "x", amount_fen: -5 }) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: "invalid_request", fields: { amount_fen: expect.any(String), currency: expect.any(String) } } });

      const gateway = server.deps().gateway;
      const request = {
        merchantReference: randomUUID(),
        amountFen: 100,
        description: "d",
        merchantDisplayName: "m",
        notifyUrl: `${server.url}/api/v1/payments/callback`,
        returnUrl: `${server.url}/`,
      };
      const first = await gateway.createPayment(request);
      const second = await gateway.createPayment(request);
      expect(second.gateway_payment_id).toBe(first.gateway_payment_id);
      await expect(gateway.createPayment({ ...request, amountFen: 101 })).rejects.toMatchObject({
        kind: "refused",
        status: 409,
        code: "merchant_reference_conflict",
      });
      await expect(gateway.getPayment("ep_does_not_exist")).rejects.toMatchObject({ kind: "refused", status: 404 });
    });

    it("serves the day's statement: successes and refunds, not failures, by Asia/Shanghai day", async () => {
      const deps = server.deps();
      const a = await createPayment(t.db, payerActor, input({ amountFen: 1_111 }), deps);
      const b = await createPayment(t.db, payerActor, input({ amountFen: 2_222 }), deps);
      const c = await createPayment(t.db, payerActor, input({ amountFen: 3_333 }), deps);
      await payOnSandboxPage(a.payUrl, "pay");
      await payOnSandboxPage(b.payUrl, "pay");
      await payOnSandboxPage(c.payUrl, "fail");
      await refundPayment(t.db, { userId: null, organizationId: w.payee.id }, { paymentId: a.payment.id, amountFen: 111, reason: "r", idempotencyKey: key("r") }, deps);

      const occurred = await t.db.selectFrom("sandbox_epay_events").select("occurred_at").where("gateway_payment_id", "=", a.payment.gatewayPaymentId!).executeTakeFirstOrThrow();
      const day = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(occurred.occurred_at);
      const statement = await deps.gateway.statement(day);
      expect(statement.csv.split("\n")[0]).toBe("gateway_id,gateway_payment_id,merchant_reference,type,gross_fen,fee_fen,net_fen,occurred_at");
      const mine = new Set([a.payment.gatewayPaymentId, b.payment.gatewayPaymentId, c.payment.gatewayPaymentId]);
      const rows = statement.rows.filter((r) => mine.has(r.gatewayPaymentId));
      expect(rows.map((r) => [r.gatewayPaymentId, r.type, r.amountFen])).toEqual([
        [a.payment.gatewayPaymentId, "payment.succeeded", 1_111],
        [b.payment.gatewayPaymentId, "payment.succeeded", 2_222],
        [a.payment.gatewayPaymentId, "refund.succeeded", 111],
      ]);
      expect(rows.every((r) => r.gatewayPaymentId.startsWith("ep_"))).toBe(true);

      const dayBefore = new Date(Date.parse(`${day}T12:00:00+08:00`) - 24 * 3600 * 1000);
      const earlier = await deps.gateway.statement(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(dayBefore));
      expect(earlier.rows.filter((r) => mine.has(r.gatewayPaymentId))).toEqual([]);

      await expect(deps.gateway.statement("2025-02-30")).rejects.toBeInstanceOf(EpayGatewayError);
      const raw = await signedFetch("/sandbox/epay/api/statements/2025-02-30");
      expect(raw.status).toBe(400);
      expect(await raw.json()).toMatchObject({ error: { code: "invalid_date", fields: { date: expect.any(String) } } });
    });

    it("refuses a forged pay form and a form without an outcome", async () => {
      const created = await createPayment(t.db, payerActor, input(), server.deps());
      const forged = await submitPayForm(created.payUrl, "0".repeat(64), "pay");
      expect(forged.status).toBe(403);
      const empty = await submitPayForm(created.payUrl, "0".repeat(64), "");
      expect(empty.status).toBe(400);
      expect((await getPayment(t.db, created.payment.id)).status).toBe("created");
      expect((await fetch(`${server.url}/sandbox/epay/pay/ep_nope`)).status).toBe(404);
    });
  });

  describe("the HTTP client", () => {
    const createInput = {
      merchantReference: randomUUID(),
      amountFen: 100,
      description: "d",
      merchantDisplayName: "m",
      notifyUrl: "http://127.0.0.1/cb",
      returnUrl: "http://127.0.0.1/back",
    };

    it("does not trust an answer without a valid signature", async () => {
      const unsigned: typeof fetch = async () => Response.json({ gateway_payment_id: "ep_x" });
      const gateway = createHttpEpayGateway({ baseUrl: "http://epay.invalid", merchantId: "m", secret: SECRET, fetch: unsigned });
      await expect(gateway.createPayment(createInput)).rejects.toMatchObject({ kind: "protocol" });
      // Nor a refusal: a forged "refused" would make us release a refund's hold.
      const refused: typeof fetch = async () => Response.json({ error: { code: "nope", message: "no" } }, { status: 422 });
      const gateway2 = createHttpEpayGateway({ baseUrl: "http://epay.invalid", merchantId: "m", secret: SECRET, fetch: refused });
      await expect(gateway2.createPayment(createInput)).rejects.toMatchObject({ kind: "protocol" });
    });

    it("retries a capped number of times when the outcome is unknown, then gives up as unavailable", async () => {
      let calls = 0;
      const flaky: typeof fetch = async () => {
        calls += 1;
        throw new TypeError("fetch failed");
      };
      const gateway = createHttpEpayGateway({ baseUrl: "http://epay.invalid", merchantId: "m", secret: SECRET, fetch: flaky, maxAttempts: 3 });
      const error = await gateway.getPayment("ep_1").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EpayGatewayError);
      expect((error as EpayGatewayError).kind).toBe("unavailable");
      expect(calls).toBe(3);

      let served = 0;
      const recovering: typeof fetch = async (url) => {
        served += 1;
        if (served === 1) return new Response("busy", { status: 503 });
        const body = JSON.stringify({ gateway_payment_id: "ep_1", merchant_reference: "r", amount_fen: 1, refunded_fen: 0, status: "pending", events: [] });
        expect(String(url)).toBe("http://epay.invalid/api/payments/ep_1");
        return new Response(body, { headers: { [EPAY_SIGNATURE_HEADER]: signPayload(SECRET, body, unixSeconds(new Date())) } });
      };
      const ok = createHttpEpayGateway({ baseUrl: "http://epay.invalid/", merchantId: "m", secret: SECRET, fetch: recovering });
      await expect(ok.getPayment("ep_1")).resolves.toMatchObject({ status: "pending" });
      expect(served).toBe(2);
    });

    it("times out a call that never answers", async () => {
      const hanging: typeof fetch = (_url, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        });
      const gateway = createHttpEpayGateway({ baseUrl: "http://epay.invalid", merchantId: "m", secret: SECRET, fetch: hanging, timeoutMs: 50, maxAttempts: 1 });
      const started = Date.now();
      await expect(gateway.getPayment("ep_1")).rejects.toMatchObject({ kind: "unavailable" });
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
});

describe("e-Pay in embedded mode (PGlite: one connection, the sandbox on the same server)", () => {
  let handle: DbHandle;
  let server: PaymentsServer;
  let w: PaymentsWorld;

  beforeAll(async () => {
    handle = await createEmbeddedTestDatabase();
    w = await createPaymentsWorld(handle.db);
    server = await startPaymentsServer(handle.db, { dbMode: "embedded" });
  });

  afterAll(async () => {
    await server?.close();
    await handle?.close();
  });

  it("pays, comes back and refunds without deadlocking on the single connection", async () => {
    const db = handle.db;
    const created = await createPayment(
      db,
      { userId: null, organizationId: w.payer.id },
      {
        payerOrganizationId: w.payer.id,
        payeeOrganizationId: w.payee.id,
        purpose: "topup",
        reference: "topup:embedded",
        amountFen: 20_000,
        description: "充值",
        returnPath: "/",
        idempotencyKey: "embedded-1",
      },
      server.deps({ callback_copies: 3 }),
    );
    const res = await payOnSandboxPage(created.payUrl, "pay");
    expect(res.status).toBe(302);
    const client = await loggedIn(server.url, w.payerUser);
    expect((await client.get(`/payments/${created.payment.id}/return`)).location).toBe("/");
    expect((await getPayment(db, created.payment.id)).status).toBe("succeeded");
    expect(await walletBalanceFen(db, w.payer.id)).toBe(20_000);

    const refund = await refundPayment(
      db,
      { userId: null, organizationId: w.payee.id },
      { paymentId: created.payment.id, amountFen: 5_000, reason: "部分退款", idempotencyKey: "embedded-r1" },
      server.deps({ refund_mode: "callback_first" }),
    );
    expect(refund.refund.status).toBe("succeeded");
    await settleDeliveries(db);
    expect(await walletBalanceFen(db, w.payer.id)).toBe(15_000);
    expect((await transfersOf(db, `payment:${created.payment.id}`)).map((r) => r.phase)).toEqual(["single", "pending", "post_pending"]);
    await expectLedgerClean(db);
  });

  it("verifyPayments notices money captured for a payment that did not succeed", async () => {
    const db = handle.db;
    const created = await createPayment(
      db,
      { userId: null, organizationId: w.payer.id },
      {
        payerOrganizationId: w.payer.id,
        payeeOrganizationId: w.payee.id,
        purpose: "topup",
        reference: "topup:embedded-2",
        amountFen: 300,
        description: "充值",
        returnPath: "/",
        idempotencyKey: "embedded-2",
      },
      server.deps(),
    );
    await payOnSandboxPage(created.payUrl, "fail");
    expect(await verifyPayments(db)).toEqual([]);
    // A bug that captured anyway: the ledger balances, but the payments check does not.
    const clearing = await gatewayClearingAccount(db);
    const wallet = await db.selectFrom("ledger_accounts").select("id").where("code", "=", `wallet:${w.payer.id}`).executeTakeFirstOrThrow();
    await transfer(db, {
      idempotencyKey: `epay:${created.payment.id}:captured`,
      kind: "epay_payment",
      reference: `payment:${created.payment.id}`,
      debitAccountId: clearing.id,
      creditAccountId: wallet.id,
      amountFen: 300,
    });
    expect(await verifyLedger(db)).toEqual([]);
    expect(await verifyPayments(db)).toEqual([{ check: "one_capture_per_captured_payment", detail: expect.stringContaining(created.payment.id) }]);
  });
});
