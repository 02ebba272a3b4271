import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { receiveMarketOrder } from "../../app/domain/market/escrow/fulfilment.server";
import { settleReceivedOrders } from "../../app/domain/market/escrow/settlement.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createHttpEpayGateway, signPayload, unixSeconds } from "../../app/domain/payments/epay/index.server";
import { confirmVerificationDeposit, registerSettlementAccount, sendVerificationDeposit, type SettlementActor } from "../../app/domain/settlement/accounts.server";
import { applyPayoutAnswer, getAvailableForPayout, getPayout, listPayouts, PAYOUT_LIMITS, payoutReference, requestPayout, sendPayout } from "../../app/domain/settlement/payouts.server";
import type { Actor } from "../../app/domain/shared/audit.server";
import type { OrganizationKind, Role } from "../../db/schema";
import { createSendPayoutStep } from "../../workflows/settlement";
import { logger as appLogger } from "../../app/logger.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, unique } from "../support/factories";
import { createOrder } from "../../app/domain/orders/placement.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { payFromWallet } from "../../app/domain/orders/payment.server";
import { apiLogin, expectError } from "./api.fixtures";
import { actorOf, makeLink, makeSku, newOrg } from "./catalog.fixtures";
import { actorFor, fund } from "./market-trade.fixtures";
import { createTradeWorld, paidOrder } from "./market-orders.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * On-demand payouts (issue 15, decision 026): the available amount with its reserve, requests
 * within it (and refused beyond it, with nothing written), twenty at once never overdrawing, the
 * send step through the sandbox gateway over HTTP (success posts the hold, a refusal is retried
 * and then voided), a step run twice paying once, late and repeated answers, tenancy, the pages
 * and the API. Real PostgreSQL; `verifyLedger` clean after every test.
 */
describe("settlement payouts", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  const DAY_MS = 86_400_000;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 30 });
    server = await startPaymentsServer(t.db);
    const bank = await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    if (!bank) await createOrg(t.db, { kind: "bank", name: "测试银行" });
  }, 240_000);
  afterEach(async () => {
    expect(await verifyLedger(t.db)).toEqual([]);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const gateway = () => createHttpEpayGateway({ baseUrl: server.config.epayBaseUrl, merchantId: server.config.epayMerchantId, secret: server.config.epaySecret, maxAttempts: 1 });
  const accountNumber = () => `6222${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}1`;
  const logger = appLogger.child({ test: "settlement-payouts" }, { level: "silent" });
  const step = createSendPayoutStep(() => gateway());

  async function verified(organizationId: string, kind: OrganizationKind) {
    const name = (await t.db.selectFrom("organizations").select("name").where("id", "=", organizationId).executeTakeFirstOrThrow()).name;
    const owner = await createUser(t.db, { memberships: [[organizationId, "owner"]] });
    const who = (roles: Role[] = ["owner"]): SettlementActor => ({ organizationId, kind, roles });
    const actor: Actor = { userId: owner.id, organizationId };
    await registerSettlementAccount(t.db, actor, who(), { bankName: "中国工商银行", branchName: "杭州分行营业部", accountNumber: accountNumber(), accountName: name }, new Date());
    expect(await sendVerificationDeposit(t.db, gateway(), organizationId, new Date())).toBe("sent");
    const { deposit_fen } = await t.db.selectFrom("settlement_accounts").select("deposit_fen").where("organization_id", "=", organizationId).executeTakeFirstOrThrow();
    await confirmVerificationDeposit(t.db, actor, who(), deposit_fen, new Date());
    return { id: organizationId, name, owner, who, actor };
  }

  async function org(kind: OrganizationKind = "core_enterprise", fundedFen = 0) {
    const o = await createOrg(t.db, { kind, name: unique("杭州李记服饰商行") });
    if (fundedFen > 0) await fund(t.db, o.id, fundedFen);
    return verified(o.id, kind);
  }

  const payoutRows = (organizationId: string) => t.db.selectFrom("payouts").selectAll().where("organization_id", "=", organizationId).orderBy("requested_at").execute();
  const wallet = async (organizationId: string) => {
    const a = await t.db.selectFrom("ledger_accounts").selectAll().where("code", "=", `wallet:${organizationId}`).executeTakeFirstOrThrow();
    return { balanceFen: Number(a.credits_posted_fen) - Number(a.debits_posted_fen), holdsFen: Number(a.debits_pending_fen) };
  };
  const transfersOf = (payoutId: string) =>
    t.db
      .selectFrom("ledger_transfers as x")
      .innerJoin("ledger_accounts as d", "d.id", "x.debit_account_id")
      .innerJoin("ledger_accounts as c", "c.id", "x.credit_account_id")
      .select(["x.phase", "x.amount_fen", "x.idempotency_key", "d.kind as debit_kind", "c.kind as credit_kind"])
      .where("x.reference", "=", `payout:${payoutId}`)
      .orderBy("x.created_at")
      // One transaction's transfers share their time: hold, then its resolution, then what follows.
      .orderBy(sql`array_position(array['pending','post_pending','void_pending','single'], x.phase)`)
      .execute();
  const sandboxRows = (payoutId: string) =>
    t.db.selectFrom("sandbox_epay_payouts").select(["merchant_payout_reference", "status", "failure_reason", "amount_fen"]).where("merchant_payout_reference", "like", `payout:${payoutId}:%`).orderBy("created_at").execute();
  const outboxOf = (payoutId: string) => t.db.selectFrom("outbox").select(["job_id", "job_name", "available_at"]).where("job_id", "like", `settlement-payout:${payoutId}:%`).orderBy("id").execute();

  it("a merchant's available amount is its balance less holds less 10% of the last 7 days' settled proceeds; older settlements keep nothing back", async () => {
    const world = await createTradeWorld(t.db);
    const merchantId = world.w.merchants[0].id;
    const orderId = await paidOrder(t.db, world, world.dress.id, 3, { ship: true });
    await receiveMarketOrder(t.db, actorFor(world.buyer.id), world.buyer.id, orderId, new Date());
    expect(await settleReceivedOrders(t.db, { now: new Date(), orderIds: [orderId] })).toEqual([orderId]);
    const { settled_net_fen } = await t.db.selectFrom("market_orders").select("settled_net_fen").where("id", "=", orderId).executeTakeFirstOrThrow();
    const netFen = Number(settled_net_fen);
    // ¥300 less 2.5% commission (at least ¥5): ¥292.50.
    expect(netFen).toBe(29_250);
    const m = await verified(merchantId, "merchant");
    await fund(t.db, merchantId, 100_000);

    const now = new Date();
    const reserveFen = Math.ceil(netFen / 10);
    const parts = await getAvailableForPayout(t.db, m.who(["viewer"]), now);
    expect(parts).toMatchObject({ balanceFen: netFen + 100_000, holdsFen: 0, reserveFen, availableFen: netFen + 100_000 - reserveFen });
    expect(parts.reserve).toMatchObject({ rule: "merchant_settled_share", baseFen: netFen, shareBps: 1_000, windowDays: 7 });

    // A payout in flight counts as a hold; the reserve stays.
    const { payout } = await requestPayout(t.db, m.actor, m.who(), { amountFen: 50_000, idempotencyKey: randomUUID() }, now);
    expect(await getAvailableForPayout(t.db, m.who(), now)).toMatchObject({ holdsFen: 50_000, reserveFen, availableFen: netFen + 50_000 - reserveFen });
    // Eight days on the settlement is out of the window.
    expect(await getAvailableForPayout(t.db, m.who(), new Date(now.getTime() + 8 * DAY_MS))).toMatchObject({ reserveFen: 0, availableFen: netFen + 50_000 });
    // Exactly the available amount may be asked for; one fen more may not.
    const avail = (await getAvailableForPayout(t.db, m.who(), now)).availableFen;
    await expect(requestPayout(t.db, m.actor, m.who(), { amountFen: avail + 1, idempotencyKey: randomUUID() }, now)).rejects.toMatchObject({ code: "insufficient_funds", fields: { amount_fen: "exceeds_available" } });
    expect(await step({ db: t.db, logger }, { payoutId: payout.id })).toBeUndefined();
    expect((await getPayout(t.db, m.who(), payout.id)).status).toBe("succeeded");
  });

  it("a core enterprise keeps back nothing without open dealer payments; other kinds keep nothing; buyers and banks have no payouts (404)", async () => {
    const core = await org("core_enterprise", 80_000);
    expect(await getAvailableForPayout(t.db, core.who(), new Date())).toMatchObject({ balanceFen: 80_000, reserveFen: 0, availableFen: 80_000, reserve: { rule: "core_enterprise_open_orders" } });
    const dealer = await org("dealer", 1_000);
    expect(await getAvailableForPayout(t.db, dealer.who(), new Date())).toMatchObject({ reserveFen: 0, availableFen: 1_000, reserve: { rule: "none" } });
    const buyer = await createOrg(t.db, { kind: "buyer" });
    await expect(getAvailableForPayout(t.db, { organizationId: buyer.id, kind: "buyer", roles: ["owner"] }, new Date())).rejects.toMatchObject({ code: "not_found" });
    await expect(requestPayout(t.db, { userId: null, organizationId: buyer.id }, { organizationId: buyer.id, kind: "buyer", roles: ["owner"] }, { amountFen: 1, idempotencyKey: "k" }, new Date())).rejects.toMatchObject({ code: "not_found" });
  });

  it("a core enterprise keeps back what dealers paid in the last 7 days on orders not yet completed", async () => {
    const coreId = await newOrg(t.db, "core_enterprise");
    const link = await makeLink(t.db, coreId, { creditLimitFen: 0 });
    const sku = await makeSku(t.db, coreId, { basePriceFen: 10_000, stockOnHand: 1_000 });
    const now = new Date();
    const order = await createOrder(t.db, actorOf(link.dealerId), { dealerId: link.dealerId, coreEnterpriseId: coreId, kind: "standard", lines: [{ skuId: sku.id, quantity: 3 }] }, now);
    await confirmOrder(t.db, actorOf(coreId), order.id, now);
    await fund(t.db, link.dealerId, 30_000);
    await payFromWallet(t.db, actorOf(link.dealerId), order.id, now);
    const core = await verified(coreId, "core_enterprise");
    await fund(t.db, coreId, 5_000);
    expect(await getAvailableForPayout(t.db, core.who(), now)).toMatchObject({
      balanceFen: 35_000,
      reserveFen: 30_000,
      availableFen: 5_000,
      reserve: { rule: "core_enterprise_open_orders", baseFen: 30_000, shareBps: 10_000 },
    });
    await expect(requestPayout(t.db, core.actor, core.who(), { amountFen: 5_001, idempotencyKey: randomUUID() }, now)).rejects.toMatchObject({ fields: { amount_fen: "exceeds_available" } });
    // Past the window the payment no longer counts; a completed order never did.
    expect((await getAvailableForPayout(t.db, core.who(), new Date(now.getTime() + 8 * DAY_MS))).reserveFen).toBe(0);
    await t.db.updateTable("orders").set({ status: "completed" }).where("id", "=", order.id).execute();
    expect(await getAvailableForPayout(t.db, core.who(), now)).toMatchObject({ reserveFen: 0, availableFen: 35_000 });
  });

  it("refuses beyond the available amount (422 naming amount_fen), bad input, a viewer and an unverified account — writing nothing; the same key replays", async () => {
    const o = await org("market_operator", 30_000);
    const before = await wallet(o.id);
    const refusals = [
      [{ amountFen: 30_001, idempotencyKey: "a" }, { code: "insufficient_funds", status: 422, fields: { amount_fen: "exceeds_available" } }],
      [{ amountFen: 0, idempotencyKey: "b" }, { code: "validation", fields: { amount_fen: "positive_integer" } }],
      [{ amountFen: 1.5, idempotencyKey: "c" }, { code: "validation", fields: { amount_fen: "positive_integer" } }],
      [{ amountFen: 100, idempotencyKey: "" }, { code: "validation", fields: { idempotency_key: "length" } }],
    ] as const;
    for (const [input, error] of refusals) await expect(requestPayout(t.db, o.actor, o.who(), input, new Date())).rejects.toMatchObject(error);
    await expect(requestPayout(t.db, o.actor, o.who(["viewer"]), { amountFen: 100, idempotencyKey: "d" }, new Date())).rejects.toMatchObject({ code: "forbidden" });

    const unverified = await createOrg(t.db, { kind: "merchant" });
    await fund(t.db, unverified.id, 5_000);
    await expect(
      requestPayout(t.db, { userId: null, organizationId: unverified.id }, { organizationId: unverified.id, kind: "merchant", roles: ["finance"] }, { amountFen: 100, idempotencyKey: "e" }, new Date()),
    ).rejects.toMatchObject({ code: "invalid_state", status: 409, fields: { settlement_account: "missing" } });
    expect(await payoutRows(o.id)).toEqual([]);
    expect(await payoutRows(unverified.id)).toEqual([]);
    expect(await wallet(o.id)).toEqual(before);

    const first = await requestPayout(t.db, o.actor, o.who(["finance"]), { amountFen: 30_000, idempotencyKey: "same" }, new Date());
    expect(first).toMatchObject({ replayed: false, payout: { status: "requested", amountFen: 30_000 } });
    const again = await requestPayout(t.db, o.actor, o.who(["finance"]), { amountFen: 30_000, idempotencyKey: "same" }, new Date());
    expect(again).toMatchObject({ replayed: true, payout: { id: first.payout.id } });
    await expect(requestPayout(t.db, o.actor, o.who(), { amountFen: 20_000, idempotencyKey: "same" }, new Date())).rejects.toMatchObject({ code: "idempotency_conflict", fields: { idempotency_key: "reused" } });
    expect(await payoutRows(o.id)).toHaveLength(1);
    expect(await wallet(o.id)).toEqual({ balanceFen: 30_000, holdsFen: 30_000 });
    expect(await transfersOf(first.payout.id)).toEqual([{ phase: "pending", amount_fen: 30_000, idempotency_key: `payout:${first.payout.id}:hold`, debit_kind: "wallet", credit_kind: "payouts_in_transit" }]);
    expect(await outboxOf(first.payout.id)).toMatchObject([{ job_id: `settlement-payout:${first.payout.id}:send-1`, job_name: "settlement.payout.send" }]);
    await sendPayout(t.db, gateway(), first.payout.id, new Date());
  });

  it("twenty requests at once that together exceed the available amount never overdraw it", async () => {
    const o = await org("merchant", 150_000);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => requestPayout(t.db, o.actor, o.who(), { amountFen: 10_000, idempotencyKey: randomUUID() }, new Date())),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(15);
    expect(refused).toHaveLength(5);
    for (const r of refused) expect(r.reason).toMatchObject({ code: "insufficient_funds", fields: { amount_fen: "exceeds_available" } });
    expect(await wallet(o.id)).toEqual({ balanceFen: 150_000, holdsFen: 150_000 });
    expect((await getAvailableForPayout(t.db, o.who(), new Date())).availableFen).toBe(0);
    expect(await payoutRows(o.id)).toHaveLength(15);
    // Paid out, every one: the wallet is empty and the money sits in the gateway's clearing.
    for (const p of await payoutRows(o.id)) expect(await sendPayout(t.db, gateway(), p.id, new Date())).toBe("succeeded");
    expect(await wallet(o.id)).toEqual({ balanceFen: 0, holdsFen: 0 });
  });

  it("success posts the hold and passes it to gateway_clearing; the step run twice at once pays once; a late answer changes nothing", async () => {
    const o = await org("dealer", 20_000);
    const { payout } = await requestPayout(t.db, o.actor, o.who(), { amountFen: 12_345, idempotencyKey: randomUUID() }, new Date());
    const outcomes = await Promise.all([sendPayout(t.db, gateway(), payout.id, new Date()), sendPayout(t.db, gateway(), payout.id, new Date())]);
    expect(outcomes).toContain("succeeded");
    expect(await sandboxRows(payout.id)).toEqual([{ merchant_payout_reference: payoutReference(payout.id, 1), status: "succeeded", failure_reason: null, amount_fen: 12_345 }]);
    expect(await transfersOf(payout.id)).toEqual([
      { phase: "pending", amount_fen: 12_345, idempotency_key: `payout:${payout.id}:hold`, debit_kind: "wallet", credit_kind: "payouts_in_transit" },
      { phase: "post_pending", amount_fen: 12_345, idempotency_key: `payout:${payout.id}:post`, debit_kind: "wallet", credit_kind: "payouts_in_transit" },
      { phase: "single", amount_fen: 12_345, idempotency_key: `payout:${payout.id}:clear`, debit_kind: "payouts_in_transit", credit_kind: "gateway_clearing" },
    ]);
    expect(await wallet(o.id)).toEqual({ balanceFen: 20_000 - 12_345, holdsFen: 0 });
    const done = await getPayout(t.db, o.who(), payout.id);
    expect(done).toMatchObject({ status: "succeeded", attempts: 1, failureReason: null });
    expect(done.gatewayPayoutId).toMatch(/^po_/);
    // A third run, a repeated success and a stale refusal: all harmless.
    expect(await sendPayout(t.db, gateway(), payout.id, new Date())).toBe("already_final");
    expect(await applyPayoutAnswer(t.db, payout.id, { status: "succeeded", reference: payoutReference(payout.id, 1), gatewayPayoutId: done.gatewayPayoutId! }, new Date())).toBe("already_final");
    expect(await applyPayoutAnswer(t.db, payout.id, { status: "failed", reference: payoutReference(payout.id, 1), gatewayPayoutId: null, reason: "late" }, new Date())).toBe("already_final");
    expect(await transfersOf(payout.id)).toHaveLength(3);
    expect(await sandboxRows(payout.id)).toHaveLength(1);
  });

  it("a step that died after the gateway paid (status sent) asks again with the same reference and books once", async () => {
    const o = await org("core_enterprise", 5_000);
    const { payout } = await requestPayout(t.db, o.actor, o.who(), { amountFen: 4_000, idempotencyKey: randomUUID() }, new Date());
    // The first run marked the try sent and the gateway paid; the process died before booking it.
    await t.db.updateTable("payouts").set({ status: "sent", attempts: 1, sent_at: new Date(), updated_at: new Date() }).where("id", "=", payout.id).execute();
    await gateway().payout({ merchantPayoutReference: payoutReference(payout.id, 1), amountFen: 4_000, bankName: "中国工商银行", accountNumber: (await payoutRows(o.id))[0].account_number, accountName: o.name, remark: "first run" });
    expect(await sendPayout(t.db, gateway(), payout.id, new Date())).toBe("succeeded");
    expect(await sandboxRows(payout.id)).toHaveLength(1);
    expect(await wallet(o.id)).toEqual({ balanceFen: 1_000, holdsFen: 0 });
  });

  it("signed callbacks: a success before the step books once; duplicates, a late refusal of the same try, forged, unknown and wrong-amount notices change nothing", async () => {
    const o = await org("merchant", 9_000);
    const { payout } = await requestPayout(t.db, o.actor, o.who(), { amountFen: 7_000, idempotencyKey: randomUUID() }, new Date());
    const send = (event: Record<string, unknown>, secret = server.config.epaySecret) => {
      const body = JSON.stringify(event);
      return fetch(`${server.url}/api/v1/payouts/callback`, { method: "POST", headers: { "Content-Type": "application/json", "X-Epay-Signature": signPayload(secret, body, unixSeconds(new Date())) }, body });
    };
    const event = (type: string, more: Record<string, unknown> = {}) => ({
      event_id: `evt_${randomUUID()}`,
      type,
      merchant_payout_reference: payoutReference(payout.id, 1),
      gateway_payout_id: "po_callback",
      amount_fen: 7_000,
      occurred_at: new Date().toISOString(),
      ...more,
    });
    expect((await send(event("payout.succeeded"), "wrong-secret-0123456789abcdef")).status).toBe(401);
    expect((await send(event("payout.succeeded", { amount_fen: 7_001 }))).status).toBe(422);
    expect((await send(event("payout.succeeded", { merchant_payout_reference: payoutReference(randomUUID(), 1) }))).status).toBe(400);
    expect((await send(event("payout.succeeded", { merchant_payout_reference: payoutReference(payout.id, 2) }))).status).toBe(400);
    expect(await transfersOf(payout.id)).toHaveLength(1);

    const first = await send(event("payout.succeeded"));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, outcome: "succeeded" });
    const again = await send(event("payout.succeeded"));
    expect(await again.json()).toEqual({ received: true, outcome: "already_final" });
    const lateRefusal = await send(event("payout.failed", { failure_reason: "account frozen" }));
    expect(await lateRefusal.json()).toEqual({ received: true, outcome: "already_final" });
    // The step that was queued finds the payout final and asks the gateway nothing.
    expect(await sendPayout(t.db, gateway(), payout.id, new Date())).toBe("already_final");
    expect(await sandboxRows(payout.id)).toEqual([]);
    expect((await transfersOf(payout.id)).map((x) => x.phase)).toEqual(["pending", "post_pending", "single"]);
    expect(await getPayout(t.db, o.who(), payout.id)).toMatchObject({ status: "succeeded", gatewayPayoutId: "po_callback" });
    expect(await wallet(o.id)).toEqual({ balanceFen: 2_000, holdsFen: 0 });
  });

  it("a refused payout is retried with backoff under new references, then left failed with the gateway's reason and the hold voided (the wallet has it back)", async () => {
    const o = await org("merchant", 50_000);
    // Sandbox magic: an amount ending in 13 fen finds the account frozen.
    const { payout } = await requestPayout(t.db, o.actor, o.who(), { amountFen: 20_013, idempotencyKey: randomUUID() }, new Date());
    const t0 = new Date();
    expect(await sendPayout(t.db, gateway(), payout.id, t0)).toBe("retry_scheduled");
    const afterFirst = await getPayout(t.db, o.who(), payout.id);
    expect(afterFirst).toMatchObject({ status: "requested", attempts: 1, failureReason: null });
    expect(afterFirst.lastFailureReason).toContain("account frozen");
    const jobs = await outboxOf(payout.id);
    expect(jobs.map((j) => j.job_id)).toEqual([`settlement-payout:${payout.id}:send-1`, `settlement-payout:${payout.id}:send-2`]);
    expect(jobs[1].available_at.getTime()).toBe(t0.getTime() + PAYOUT_LIMITS.retryBackoffBaseMs);
    // Still held while it is retried.
    expect(await wallet(o.id)).toEqual({ balanceFen: 50_000, holdsFen: 20_013 });

    expect(await sendPayout(t.db, gateway(), payout.id, new Date(t0.getTime() + 60_000))).toBe("retry_scheduled");
    expect((await outboxOf(payout.id))[2].available_at.getTime()).toBe(t0.getTime() + 60_000 + 2 * PAYOUT_LIMITS.retryBackoffBaseMs);
    // A late refusal of the first try while the second is current changes nothing.
    await t.db.updateTable("payouts").set({ status: "sent", attempts: 3 }).where("id", "=", payout.id).execute();
    expect(await applyPayoutAnswer(t.db, payout.id, { status: "failed", reference: payoutReference(payout.id, 1), gatewayPayoutId: null, reason: "stale" }, new Date())).toBe("already_final");
    await t.db.updateTable("payouts").set({ status: "requested", attempts: 2 }).where("id", "=", payout.id).execute();

    expect(await sendPayout(t.db, gateway(), payout.id, new Date())).toBe("failed");
    const failed = await getPayout(t.db, o.who(), payout.id);
    expect(failed).toMatchObject({ status: "failed", attempts: PAYOUT_LIMITS.attemptsMax });
    expect(failed.failureReason).toContain("account frozen");
    expect((await sandboxRows(payout.id)).map((r) => r.merchant_payout_reference)).toEqual([1, 2, 3].map((n) => payoutReference(payout.id, n)));
    expect((await transfersOf(payout.id)).map((x) => x.phase)).toEqual(["pending", "void_pending"]);
    expect(await wallet(o.id)).toEqual({ balanceFen: 50_000, holdsFen: 0 });
    expect((await getAvailableForPayout(t.db, o.who(), new Date())).availableFen).toBe(50_000);
    // Nothing more happens to a failed payout: no further try, no further booking.
    expect(await sendPayout(t.db, gateway(), payout.id, new Date())).toBe("already_final");
    expect(await sandboxRows(payout.id)).toHaveLength(3);

    // The bank's operations staff see it with its reason; a credit officer may not list everyone's.
    const bankId = (await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirstOrThrow()).id;
    const failedList = await listPayouts(t.db, { organizationId: bankId, kind: "bank", roles: ["operations"] }, { status: "failed" });
    expect(failedList.items.find((p) => p.id === payout.id)).toMatchObject({ organizationName: o.name, failureReason: failed.failureReason });
    await expect(listPayouts(t.db, { organizationId: bankId, kind: "bank", roles: ["credit_officer"] })).rejects.toMatchObject({ code: "forbidden" });
  });

  it("tenancy: another organisation's payout is 404 and absent from its list; the list pages by cursor", async () => {
    const a = await org("merchant", 10_000);
    const b = await org("merchant", 10_000);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await requestPayout(t.db, a.actor, a.who(), { amountFen: 1_000 + i, idempotencyKey: randomUUID() }, new Date(Date.now() + i))).payout.id);
    await expect(getPayout(t.db, b.who(), ids[0])).rejects.toMatchObject({ code: "not_found", status: 404 });
    await expect(getPayout(t.db, b.who(), "not-a-uuid")).rejects.toMatchObject({ code: "not_found" });
    expect((await listPayouts(t.db, b.who())).items).toEqual([]);
    const first = await listPayouts(t.db, a.who(["viewer"]), { limit: 2 });
    expect(first.items.map((p) => p.id)).toEqual([ids[2], ids[1]]);
    const second = await listPayouts(t.db, a.who(["viewer"]), { limit: 2, after: first.nextCursor });
    expect(second).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });
    await expect(listPayouts(t.db, a.who(), { after: "garbage" })).rejects.toMatchObject({ fields: { after: "invalid_cursor" } });
    for (const id of ids) await sendPayout(t.db, gateway(), id, new Date());
  });
  it("pages: the parts shown, a payout requested from the form (CSRF, no JS), over the available amount refused next to its field; the bank's console lists failures with reasons", async () => {
    const o = await org("merchant", 40_000);
    const client = await loggedIn(server.url, o.owner);
    expect((await client.get("/settlement/account")).body).toContain('data-testid="settlement-payouts-link"');
    const page = await client.get("/settlement/payouts");
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="payouts-available-amount"');
    expect(page.body).toContain('data-fen="40000"');
    expect(page.body).toContain('data-rule="merchant_settled_share"');
    const csrf = await client.csrfFrom("/settlement/payouts");
    const key = /name="idempotency_key" value="([^"]+)"/.exec(page.body)?.[1];
    expect(key).toBeTruthy();

    const over = await client.post("/settlement/payouts", { csrf, intent: "request", idempotency_key: key!, amount: "400.01" });
    expect(over.status).toBe(422);
    expect(over.body).toContain('data-problem="exceeds_available"');
    expect(over.body).toContain("超过可提现金额 ¥400.00");
    expect(over.body).toContain('value="400.01"');
    const bad = await client.post("/settlement/payouts", { csrf, intent: "request", idempotency_key: key!, amount: "abc" });
    expect(bad.status).toBe(422);
    expect(bad.body).toContain('data-problem="positive_integer"');
    expect(await payoutRows(o.id)).toEqual([]);

    const ok = await client.post("/settlement/payouts", { csrf, intent: "request", idempotency_key: key!, amount: "100.13" });
    expect(ok.status).toBe(302);
    // The same form sent twice is one payout.
    expect((await client.post("/settlement/payouts", { csrf, intent: "request", idempotency_key: key!, amount: "100.13" })).status).toBe(302);
    const rows = await payoutRows(o.id);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].amount_fen)).toBe(10_013);
    const after = await client.get("/settlement/payouts");
    expect(after.body).toContain(`data-payout-id="${rows[0].id}"`);
    expect(after.body).toContain('data-fen="10013"');

    // A viewer sees the figures and history but no form; the action refuses it.
    const viewer = await createUser(t.db, { memberships: [[o.id, "viewer"]] });
    const viewerClient = await loggedIn(server.url, viewer);
    const viewerPage = await viewerClient.get("/settlement/payouts");
    expect(viewerPage.body).toContain('data-testid="payouts-no-permission"');
    expect((await viewerClient.post("/settlement/payouts", { csrf: await viewerClient.csrfFrom("/settlement/payouts"), intent: "request", idempotency_key: randomUUID(), amount: "1" })).status).toBe(403);

    // Frozen three times over: failed for good, shown to the bank's operations staff with the reason.
    for (let i = 0; i < PAYOUT_LIMITS.attemptsMax; i++) await sendPayout(t.db, gateway(), rows[0].id, new Date());
    expect((await payoutRows(o.id))[0].status).toBe("failed");
    const bankId = (await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirstOrThrow()).id;
    const ops = await createUser(t.db, { memberships: [[bankId, "operations"]] });
    const opsClient = await loggedIn(server.url, ops);
    const console_ = await opsClient.get("/settlement/payouts?status=failed");
    expect(console_.status).toBe(200);
    expect(console_.body).toMatch(new RegExp(`data-payout-id="${rows[0].id}" data-status="failed"`));
    expect(console_.body).toContain("account frozen");
    expect(console_.body).toContain(o.name);
    // The console has no form: the bank has no payouts of its own to ask for.
    expect((await opsClient.post("/settlement/payouts", { csrf: await opsClient.csrfFrom("/settlement/payouts"), intent: "request", idempotency_key: randomUUID(), amount: "1" })).status).toBe(404);
    const officer = await createUser(t.db, { memberships: [[bankId, "credit_officer"]] });
    expect((await (await loggedIn(server.url, officer)).get("/settlement/payouts")).status).toBe(403);
    const buyer = await createOrg(t.db, { kind: "buyer" });
    const buyerUser = await createUser(t.db, { memberships: [[buyer.id, "owner"]] });
    expect((await (await loggedIn(server.url, buyerUser)).get("/settlement/payouts")).status).toBe(404);
  });

  it("API: the available amount, a payout created within it (Idempotency-Key), refused beyond it naming amount_fen, listed by cursor and got; another tenant's id is 404", async () => {
    const o = await org("core_enterprise", 25_000);
    const api = await apiLogin(server.url, o.owner.email, o.owner.password);
    const available = await api.get<{ available_fen: number; balance_fen: number; holds_fen: number; reserve_fen: number; reserve: { rule: string } }>("/api/v1/settlement/available");
    expect(available.status).toBe(200);
    expect(available.body).toMatchObject({ balance_fen: 25_000, holds_fen: 0, reserve_fen: 0, available_fen: 25_000, reserve: { rule: "core_enterprise_open_orders" } });

    expect(expectError(await api.post("/api/v1/settlement/payouts", { amount_fen: 25_001 }), 422, "insufficient_funds").fields).toEqual({ amount_fen: "exceeds_available" });
    expect(Object.keys(expectError(await api.post("/api/v1/settlement/payouts", { amount_fen: 0 }), 422).fields)).toContain("amount_fen");
    expectError(await api.post("/api/v1/settlement/payouts", { amount_fen: 100 }, { key: null }), 400);
    expect(await payoutRows(o.id)).toEqual([]);

    const key = randomUUID();
    const created = await api.post<{ id: string; status: string; amount_fen: number }>("/api/v1/settlement/payouts", { amount_fen: 10_000 }, { key });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: "requested", amount_fen: 10_000 });
    const replay = await api.post<{ id: string }>("/api/v1/settlement/payouts", { amount_fen: 10_000 }, { key });
    expect(replay.body.id).toBe(created.body.id);
    const second = await api.post<{ id: string }>("/api/v1/settlement/payouts", { amount_fen: 5_000 });
    expect((await api.get<{ available_fen: number; holds_fen: number }>("/api/v1/settlement/available")).body).toMatchObject({ holds_fen: 15_000, available_fen: 10_000 });

    const first = await api.get<{ data: { id: string }[]; next_cursor: string | null }>("/api/v1/settlement/payouts?limit=1");
    expect(first.body.data.map((p) => p.id)).toEqual([second.body.id]);
    const next = await api.get<{ data: { id: string }[]; next_cursor: string | null }>(`/api/v1/settlement/payouts?limit=1&after=${first.body.next_cursor}`);
    expect(next.body).toEqual({ data: [expect.objectContaining({ id: created.body.id })], next_cursor: null });
    expect(expectError(await api.get("/api/v1/settlement/payouts?after=nonsense"), 422).fields).toEqual({ after: "invalid_cursor" });
    expect((await api.get<{ id: string }>(`/api/v1/settlement/payouts/${created.body.id}`)).body.id).toBe(created.body.id);

    const stranger = await org("core_enterprise", 0);
    const strangerApi = await apiLogin(server.url, stranger.owner.email, stranger.owner.password);
    expectError(await strangerApi.get(`/api/v1/settlement/payouts/${created.body.id}`), 404, "not_found");
    expect((await strangerApi.get<{ data: unknown[] }>("/api/v1/settlement/payouts")).body.data).toEqual([]);

    for (const id of [created.body.id, second.body.id]) expect(await sendPayout(t.db, gateway(), id, new Date())).toBe("succeeded");
    expect((await api.get<{ status: string }>(`/api/v1/settlement/payouts/${created.body.id}`)).body.status).toBe("succeeded");
    expect((await api.get("/api/v1/settlement/available")).body).toMatchObject({ balance_fen: 10_000, holds_fen: 0, available_fen: 10_000 });
  });
});
