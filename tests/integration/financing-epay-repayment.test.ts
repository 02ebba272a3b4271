import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { startEpayRepayment } from "../../app/domain/financing/epay-repayment.server";
import { repayLoan } from "../../app/domain/financing/loans.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import type { GatewayEvent } from "../../app/domain/payments/epay/index.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser, TEST_PASSWORD } from "../support/factories";
import { apiLogin, expectError } from "./api.fixtures";
import { newOrg } from "./catalog.fixtures";
import { confirmedOrder, financingWorld, fundWallet, runFinancingJobs, type FinancingWorld } from "./financing.fixtures";
import { expectLedgerClean, loggedIn, payOnSandboxPage, postCallback, settleDeliveries, startPaymentsServer, transfersOf, walletBalanceFen, type PaymentsServer } from "./payments.fixtures";

/**
 * Repaying a loan by e-Pay (issue 14): the sandbox gateway over HTTP, our callback endpoint, real
 * PostgreSQL. The capture commits the money to the loan in its own transaction (decision 021), so
 * the payer's wallet never shows it free.
 *
 * Figures: a 5 × ¥1,000 order financed at 4.35% (LPR 3.10% + 125 bps), bullet over 90 days: the one
 * instalment owes 500,000 fen of principal and 500,000 × 43,500 × 90 / 360,000,000 = 5,437.5 → 5,438
 * fen of interest; paid out 90 days ago, all 505,438 fen fall due today.
 */
describe("repaying a loan by e-Pay", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const DAY_MS = 86_400_000;
  const DUE_FEN = 505_438;

  async function world() {
    const w = await financingWorld(t.db);
    const dealerOwner = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
    const coreOwner = await createUser(t.db, { memberships: [[w.core, "owner"]] });
    return { ...w, dealerOwner, coreOwner };
  }

  /** A loan on a 5 × ¥1,000 order, paid out `daysAgo` days ago. */
  async function loanPaidOut(w: FinancingWorld, daysAgo: number) {
    const then = new Date(Date.now() - daysAgo * DAY_MS);
    const order = await confirmedOrder(t.db, w, 5, then);
    const app = await applyForOrderFinancing(t.db, w.asDealer, order.id, then);
    await runFinancingJobs(t.db, then);
    const loan = await t.db.selectFrom("loans").select(["id", "number"]).where("application_id", "=", app.id).executeTakeFirstOrThrow();
    return { loan, path: `/financing/loans/${loan.id}` };
  }

  const loanRow = (id: string) => t.db.selectFrom("loans").select(["status"]).where("id", "=", id).executeTakeFirstOrThrow();
  const instalments = (id: string) => t.db.selectFrom("loan_instalments").select(["principal_fen", "interest_fen", "principal_paid_fen", "interest_paid_fen"]).where("loan_id", "=", id).orderBy("seq").execute();
  const repayments = (id: string) => t.db.selectFrom("loan_repayments").select(["source", "amount_fen", "idempotency_key"]).where("loan_id", "=", id).orderBy("created_at").execute();
  const paymentRow = (id: string) => t.db.selectFrom("payments").select(["status", "purpose", "reference", "amount_fen", "purpose_outcome", "fulfilled_at"]).where("id", "=", id).executeTakeFirstOrThrow();

  /** The sandbox's callback for a payment whose delivery it was told to hold. */
  async function heldCallback(paymentId: string) {
    const payment = await t.db.selectFrom("payments").select("gateway_payment_id").where("id", "=", paymentId).executeTakeFirstOrThrow();
    const row = await t.db.selectFrom("sandbox_epay_events").select("body").where("gateway_payment_id", "=", payment.gateway_payment_id!).executeTakeFirstOrThrow();
    return { body: row.body, event: JSON.parse(row.body) as GatewayEvent };
  }

  it("from the loan's page: the capture repays the instalment in its own transaction, the wallet never holds it; the return shows it settled", async () => {
    const w = await world();
    const { loan, path } = await loanPaidOut(w, 90);
    const dealer = await loggedIn(server.url, w.dealerOwner);
    const page = await dealer.get(path);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-intent="epay"');
    expect(page.body).toContain('data-mode="due"');
    expect(page.body).toContain('data-mode="payoff"');
    expect(page.body).toContain("¥5,054.38");

    const csrf = await dealer.csrfFrom(path);
    const started = await dealer.post(path, { csrf, intent: "epay", mode: "due" });
    expect(started.status).toBe(302);
    expect(started.location).toMatch(/\/sandbox\/epay\/pay\//);
    const payment = await t.db.selectFrom("payments").select(["id", "amount_fen", "reference", "purpose"]).where("payer_organization_id", "=", w.dealer).where("purpose", "=", "loan_repayment").executeTakeFirstOrThrow();
    expect(payment).toMatchObject({ amount_fen: DUE_FEN, reference: `loan:${loan.id}:due:1` });

    // Pending at the gateway: the page shows it in flight and offers no other way to repay; the
    // wallet path refuses (the payer may have paid already), naming the pending payment.
    const pending = await dealer.get(path);
    expect(pending.body).toContain('data-testid="payment-in-flight"');
    expect(pending.body).not.toContain('data-intent="repay_due"');
    await fundWallet(t.db, w.dealer, 1_000);
    const byWallet = await dealer.post(path, { csrf, intent: "repay_due", amount: "1.00", idempotency_key: randomUUID() });
    expect(byWallet.status).toBe(409);
    expect(byWallet.body).toContain("e-Pay 还款正在进行中");
    expect(await repayments(loan.id)).toHaveLength(0);

    const walletBefore = await walletBalanceFen(t.db, w.dealer);
    expect(walletBefore).toBe(1_000);
    const paid = await payOnSandboxPage(started.location!.startsWith("http") ? started.location! : `${server.url}${started.location}`, "pay");
    expect(paid.status).toBe(302);
    await settleDeliveries(t.db);

    // The capture and the repayment in one transaction: the wallet is as it was, the loan is repaid.
    expect(await walletBalanceFen(t.db, w.dealer)).toBe(walletBefore);
    expect(await paymentRow(payment.id)).toMatchObject({ status: "succeeded", purpose_outcome: "applied" });
    expect(await repayments(loan.id)).toEqual([{ source: "epay", amount_fen: DUE_FEN, idempotency_key: `epay:${payment.id}:loan_repayment` }]);
    expect(await instalments(loan.id)).toEqual([{ principal_fen: 500_000, interest_fen: 5_438, principal_paid_fen: 500_000, interest_paid_fen: 5_438 }]);
    expect((await loanRow(loan.id)).status).toBe("repaid");
    const captured = (await transfersOf(t.db, `payment:${payment.id}`)).filter((x) => x.idempotency_key === `epay:${payment.id}:captured`);
    expect(captured).toHaveLength(1);
    // One transaction: every row it wrote carries its start time (now()), the capture and the repayment alike.
    const times = await t.db
      .selectFrom("ledger_transfers")
      .select(["idempotency_key", "created_at"])
      .where((eb) => eb.or([eb("idempotency_key", "=", `epay:${payment.id}:captured`), eb("reference", "=", `loan:${loan.id}`).and("kind", "like", "loan_repayment_%")]))
      .execute();
    expect(times.length).toBe(3);
    expect(new Set(times.map((x) => x.created_at.toISOString())).size).toBe(1);

    // Back from the gateway: the return page goes on to the loan, which shows the repayment by e-Pay.
    const back = await dealer.get(paid.location!.replace(server.url, ""));
    expect(back.status).toBe(302);
    expect(back.location).toBe(path);
    const after = await dealer.get(path);
    expect(after.body).not.toContain('data-testid="payment-in-flight"');
    expect(after.body).toContain('data-testid="loan-repayments"');
    expect(after.body).toContain("e-Pay");
    await expectLedgerClean(t.db);
  });

  it("a duplicate callback repays once", async () => {
    const w = await world();
    const { loan } = await loanPaidOut(w, 90);
    const started = await startEpayRepayment(t.db, w.asDealer, loan.id, { mode: "payoff" }, server.deps({ hold_callbacks: true }), new Date());
    expect(started).toMatchObject({ mode: "payoff", amountFen: DUE_FEN });
    await payOnSandboxPage(started.payUrl, "pay");
    const { body } = await heldCallback(started.paymentId);
    const first = await postCallback(server.url, body);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ duplicate: false, payment_status: "succeeded" });
    const second = await postCallback(server.url, body);
    expect(second.status).toBe(200);
    expect(second.json).toMatchObject({ duplicate: true });
    expect(await repayments(loan.id)).toHaveLength(1);
    expect((await loanRow(loan.id)).status).toBe("repaid");
    expect(await walletBalanceFen(t.db, w.dealer)).toBe(0);
    const moved = await t.db.selectFrom("ledger_transfers").select((eb) => eb.fn.sum<string>("amount_fen").as("fen")).where("reference", "=", `loan:${loan.id}`).where("kind", "like", "loan_repayment_%").executeTakeFirstOrThrow();
    expect(Number(moved.fen)).toBe(DUE_FEN);
    await expectLedgerClean(t.db);
  });

  it("a loan repaid meanwhile leaves the money in the payer's wallet; a loan that owes less takes what it owes", async () => {
    const w = await world();
    const { loan } = await loanPaidOut(w, 90);
    const started = await startEpayRepayment(t.db, w.asDealer, loan.id, { mode: "due" }, server.deps({ hold_callbacks: true }), new Date());
    await payOnSandboxPage(started.payUrl, "pay");
    // While the callback is on its way, the day's auto-debit (not refused: it takes what the wallet holds) repays the loan.
    await fundWallet(t.db, w.dealer, DUE_FEN);
    const debited = await repayLoan(t.db, SYSTEM_ACTOR, loan.id, { mode: "due", source: "auto_debit", idempotencyKey: `test:auto_debit:${loan.id}` }, new Date());
    expect(debited.loanStatus).toBe("repaid");
    expect(await walletBalanceFen(t.db, w.dealer)).toBe(0);
    const res = await postCallback(server.url, (await heldCallback(started.paymentId)).body);
    expect(res.status).toBe(200);
    expect(await paymentRow(started.paymentId)).toMatchObject({ status: "succeeded", purpose_outcome: "left_in_wallet" });
    expect(await walletBalanceFen(t.db, w.dealer)).toBe(DUE_FEN);
    expect(await repayments(loan.id)).toHaveLength(1);
    const audit = await t.db.selectFrom("audit_events").select(["action", "after"]).where("entity_id", "=", loan.id).where("action", "=", "financing.epay_left_in_wallet").execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.after).toMatchObject({ payment_id: started.paymentId, applied_fen: 0, left_fen: DUE_FEN });
    const notice = await t.db.selectFrom("notification_requests").select("topic").where("organization_id", "=", w.dealer).where("topic", "=", "payment.left_in_wallet").execute();
    expect(notice).toHaveLength(1);

    // Another loan: an auto-debit takes ¥1,000.00 of what is due while the e-Pay payment of all of
    // it is on its way; the capture repays the rest and leaves ¥1,000.00 in the wallet.
    const second = await loanPaidOut(w, 90);
    const s2 = await startEpayRepayment(t.db, w.asDealer, second.loan.id, { mode: "due" }, server.deps({ hold_callbacks: true }), new Date());
    await payOnSandboxPage(s2.payUrl, "pay");
    const walletBefore = await walletBalanceFen(t.db, w.dealer);
    await fundWallet(t.db, w.dealer, 100_000);
    await repayLoan(t.db, SYSTEM_ACTOR, second.loan.id, { mode: "due", amountFen: 100_000, source: "auto_debit", idempotencyKey: `test:auto_debit:${second.loan.id}` }, new Date());
    await postCallback(server.url, (await heldCallback(s2.paymentId)).body);
    expect(await paymentRow(s2.paymentId)).toMatchObject({ purpose_outcome: "applied" });
    expect((await repayments(second.loan.id)).map((r) => [r.source, r.amount_fen])).toEqual([
      ["auto_debit", 100_000],
      ["epay", DUE_FEN - 100_000],
    ]);
    expect((await loanRow(second.loan.id)).status).toBe("repaid");
    expect(await walletBalanceFen(t.db, w.dealer)).toBe(walletBefore + 100_000);
    await expectLedgerClean(t.db);
  });

  it("only the payer starts it: another dealer gets 404, the guarantor before a call 409, a viewer 403; over the API too", async () => {
    const w = await world();
    const { loan, path } = await loanPaidOut(w, 90);
    const other = await newOrg(t.db, "dealer");
    const strangerUser = await createUser(t.db, { memberships: [[other, "owner"]] });

    await expect(startEpayRepayment(t.db, { userId: null, organizationId: other }, loan.id, { mode: "due" }, server.deps(), new Date())).rejects.toMatchObject({ code: "not_found" });
    await expect(startEpayRepayment(t.db, w.asCore, loan.id, { mode: "due" }, server.deps(), new Date())).rejects.toMatchObject({ code: "invalid_state", fields: { status: expect.any(String) } });

    const stranger = await loggedIn(server.url, strangerUser);
    expect((await stranger.post(path, { csrf: await stranger.csrfFrom("/"), intent: "epay", mode: "due" })).status).toBe(404);
    const guarantor = await loggedIn(server.url, w.coreOwner);
    const guarantorPage = await guarantor.get(path);
    expect(guarantorPage.body).not.toContain('data-intent="epay"');
    expect((await guarantor.post(path, { csrf: await guarantor.csrfFrom(path), intent: "epay", mode: "due" })).status).toBe(409);
    const viewer = await loggedIn(server.url, await createUser(t.db, { memberships: [[w.dealer, "viewer"]] }));
    expect((await viewer.get(path)).body).not.toContain('data-intent="epay"');
    expect((await viewer.post(path, { csrf: await viewer.csrfFrom(path), intent: "epay", mode: "due" })).status).toBe(403);
    const none = await t.db.selectFrom("payments").select("id").where("purpose", "=", "loan_repayment").where("reference", "like", `loan:${loan.id}:%`).execute();
    expect(none).toHaveLength(0);

    const api = `/api/v1/financing/loans/${loan.id}/epay-repayments`;
    const strangerApi = await apiLogin(server.url, strangerUser.email, TEST_PASSWORD);
    expectError(await strangerApi.post(api, { mode: "due" }), 404, "not_found");
    const dealerApi = await apiLogin(server.url, w.dealerOwner.email, TEST_PASSWORD);
    expectError(await dealerApi.post(api, { mode: "sometime" }), 422, "validation");
    const key = randomUUID();
    const created = await dealerApi.post<{ payment_id: string; pay_url: string; mode: string; amount_fen: number }>(api, { mode: "due" }, { key });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ mode: "due", amount_fen: DUE_FEN });
    expect(created.body.pay_url).toContain("/sandbox/epay/pay/");
    // The same key: the same payment. Another mode while it is pending: refused, naming it.
    expect((await dealerApi.post<{ payment_id: string }>(api, { mode: "due" }, { key })).body.payment_id).toBe(created.body.payment_id);
    const payoff = expectError(await dealerApi.post(api, { mode: "payoff" }), 409, "invalid_state");
    expect(payoff.fields).toEqual({ payment: "invalid_state" });
    expect(payoff.message).toContain("in progress");
    // Failed at the gateway: a new attempt may start.
    await payOnSandboxPage(created.body.pay_url, "fail");
    await settleDeliveries(t.db);
    const retry = await dealerApi.post<{ payment_id: string }>(api, { mode: "due" });
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    expect(retry.body.payment_id).not.toBe(created.body.payment_id);
    await expectLedgerClean(t.db);
  });
});
