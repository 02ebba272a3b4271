import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { DomainError } from "../../app/domain/shared/errors";
import { applyForOrderFinancing, approveApplication, rejectApplication, withdrawApplication } from "../../app/domain/financing/applications.server";
import { getFacility } from "../../app/domain/financing/facilities.server";
import { accrueLoans, reclassifyLoan, repayLoan } from "../../app/domain/financing/loans.server";
import { getLoan } from "../../app/domain/financing/queries.server";
import { closeAccrualRun, runAccrualBatch, sendLoanReminders, startAccrualRun } from "../../app/domain/financing/accrual-run.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { refusal } from "./catalog.fixtures";
import { createTestDatabase } from "../support/db";
import { balanceOf, confirmedOrder, financingWorld, fundWallet, runFinancingJobs } from "./financing.fixtures";

/** 10:00 in Shanghai on the given date. */
const at = (date: string) => new Date(`${date}T02:00:00Z`);

describe("order financing (融资支付), on PostgreSQL", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    // A hundred applications queue on one guarantee's lock: on a loaded machine some wait for a
    // connection longer than the production bound (5 s), which is not what this file tests.
    handle = await createTestDatabase({ connectionWaitMs: 60_000 });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("pays the supplier for a confirmed order, fixes the rate from the LPR and makes the schedule", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    const now = at("2026-03-02");
    const order = await confirmedOrder(db, w, 5, now); // 5 × ¥1,000 = 500,000 fen
    const app = await applyForOrderFinancing(db, w.asDealer, order.id, now);
    expect(app.status).toBe("approved"); // below the 1,000,000 fen auto limit
    expect(app.checks.map((c) => [c.check, c.ok])).toEqual([
      ["borrower_limit", true],
      ["guarantor_headroom", true],
      ["dealer_sub_limit", true],
      ["no_loan_overdue", true],
      ["order_confirmed_not_financed", true],
      ["guarantor_concentration", true],
    ]);
    expect((await getOrder(db, w.dealer, order.id)).order.status).toBe("awaiting_financing");
    expect(await runFinancingJobs(db, now)).toBe(1);
    // The step runs again (at-least-once): nothing more happens.
    await expect(runFinancingJobs(db, now)).resolves.toBe(0);

    const after = await getOrder(db, w.dealer, order.id);
    expect(after.order.status).toBe("paid");
    expect(await balanceOf(db, `wallet:${w.core}`)).toBe(500_000);
    const loans = await db.selectFrom("loans").select(["id", "annual_rate_ppm", "penalty_rate_ppm"]).where("application_id", "=", app.id).execute();
    expect(loans).toHaveLength(1);
    // LPR 3.10% + 125 bps = 4.35%; penalty + 50% = 6.525%.
    expect(loans[0]).toMatchObject({ annual_rate_ppm: 43_500, penalty_rate_ppm: 65_250 });
    const detail = await getLoan(db, { kind: "borrower", organizationId: w.dealer }, loans[0]!.id, now);
    // Bullet, 90 days: 500,000 × 4.35% × 90 / 360 = 5,437.5 fen → half to even: 5,438.
    expect(detail.instalments).toEqual([
      { seq: 1, periodStartOn: "2026-03-02", dueOn: "2026-05-31", days: 90, principalFen: 500_000, interestFen: 5_438, principalPaidFen: 0, interestPaidFen: 0 },
    ]);
    expect(detail.balances.principalFen).toBe(500_000);
    // Limits: each facility has the principal drawn.
    expect(await getFacility(db, w.agreementId)).toMatchObject({ limitFen: 50_000_000, usedFen: 500_000 });
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("accrues each day once: a rerun posts nothing, a three-day gap back-fills three, early payoff charges interest to date", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    const now = at("2026-03-02");
    const order = await confirmedOrder(db, w, 5, now);
    await applyForOrderFinancing(db, w.asDealer, order.id, now);
    await runFinancingJobs(db, now);
    const loan = await db.selectFrom("loans").select("id").where("order_id", "=", order.id).executeTakeFirstOrThrow();

    const first = await accrueLoans(db, [loan.id], "2026-03-02", at("2026-03-03"));
    // Day 1 of 90: half-even(5,438 × 1 / 90) = 60.
    expect(first).toEqual([{ loanId: loan.id, days: 1, interestFen: 60, penaltyFen: 0, compoundFen: 0 }]);
    expect(await accrueLoans(db, [loan.id], "2026-03-02", at("2026-03-03"))).toEqual([]);
    // The run for 03-05 finds the loan accrued through 03-02: it back-fills 03-03, 03-04, 03-05.
    const gap = await accrueLoans(db, [loan.id], "2026-03-05", at("2026-03-06"));
    // Cumulative: half-even(5,438 × 4 / 90) = 242 (241.69); 242 − 60 = 182.
    expect(gap).toEqual([{ loanId: loan.id, days: 3, interestFen: 182, penaltyFen: 0, compoundFen: 0 }]);
    const rows = await db.selectFrom("loan_accruals").select("interest_fen").where("loan_id", "=", loan.id).orderBy("business_date").execute();
    expect(rows.map((r) => r.interest_fen)).toEqual([60, 61, 60, 61]);
    expect(await balanceOf(db, `interest_receivable:${loan.id}`)).toBe(242);
    expect(await balanceOf(db, "interest_income")).toBeGreaterThanOrEqual(242);

    // Pay off on 03-08: the repayment accrues 03-06 and 03-07 first, then charges interest through 03-07:
    // half-even(5,438 × 6 / 90) = 363 (362.53).
    await fundWallet(db, w.dealer, 600_000);
    const payoff = await repayLoan(db, w.asDealer, loan.id, { mode: "payoff", source: "wallet", idempotencyKey: `payoff:${loan.id}` }, at("2026-03-08"));
    expect(payoff).toMatchObject({ amountFen: 500_363, loanStatus: "repaid", replayed: false });
    expect(payoff.allocation).toEqual({ penalty: 0, compound: 0, overdue_interest: 0, overdue_principal: 0, current_interest: 363, current_principal: 500_000 });
    const again = await repayLoan(db, w.asDealer, loan.id, { mode: "payoff", source: "wallet", idempotencyKey: `payoff:${loan.id}` }, at("2026-03-08"));
    expect(again).toMatchObject({ replayed: true, amountFen: 500_363 });
    expect(await balanceOf(db, `wallet:${w.dealer}`)).toBe(600_000 - 500_363);
    expect(await balanceOf(db, `loans_receivable:${loan.id}`)).toBe(0);
    expect(await balanceOf(db, `interest_receivable:${loan.id}`)).toBe(0);
    // The principal is back on every limit.
    expect(await getFacility(db, w.agreementId)).toMatchObject({ usedFen: 0, availableFen: 50_000_000 });
    // A repaid loan is not accrued again.
    expect(await accrueLoans(db, [loan.id], "2026-03-09", at("2026-03-10"))).toEqual([]);
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("queues amounts above the auto limit for officers, four eyes above the second limit, and a rejection gives the limits back", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    const now = at("2026-03-02");
    const big = await confirmedOrder(db, w, 60, now); // 6,000,000 fen: above the second-approver limit (5,000,000)
    const app = await applyForOrderFinancing(db, w.asDealer, big.id, now);
    expect(app.status).toBe("applied");
    expect(await runFinancingJobs(db, now)).toBe(0);
    const first = await approveApplication(db, w.asOfficer1, app.id, now);
    expect(first.status).toBe("awaiting_second_approval");
    const same = await refusal(approveApplication(db, w.asOfficer1, app.id, now));
    expect(same).toMatchObject({ code: "forbidden", fields: { approver: "same_officer" } });
    const second = await approveApplication(db, w.asOfficer2, app.id, now);
    expect(second.status).toBe("approved");
    expect(await runFinancingJobs(db, now)).toBe(1);
    expect((await getOrder(db, w.dealer, big.id)).order.status).toBe("paid");

    const mid = await confirmedOrder(db, w, 20, now); // 2,000,000: one officer suffices
    const app2 = await applyForOrderFinancing(db, w.asDealer, mid.id, now);
    expect(app2.status).toBe("applied");
    expect(await getFacility(db, w.agreementId)).toMatchObject({ usedFen: 8_000_000 });
    await expect(rejectApplication(db, w.asOfficer1, app2.id, "  ", now)).rejects.toMatchObject({ code: "validation", fields: { reason: "required" } });
    const rejected = await rejectApplication(db, w.asOfficer1, app2.id, "经销商流水不足", now);
    expect(rejected).toMatchObject({ status: "rejected", reason: "经销商流水不足" });
    expect((await getOrder(db, w.dealer, mid.id)).order.status).toBe("confirmed");
    expect(await getFacility(db, w.agreementId)).toMatchObject({ usedFen: 6_000_000 });
    // The order can be financed again, and withdrawn by the dealer before the bank decides.
    const app3 = await applyForOrderFinancing(db, w.asDealer, mid.id, now);
    const withdrawn = await withdrawApplication(db, w.asDealer, app3.id, now);
    expect(withdrawn.status).toBe("withdrawn");
    expect((await getOrder(db, w.dealer, mid.id)).order.status).toBe("confirmed");
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("never lets 100 concurrent applications exceed one guarantee limit", async () => {
    const db = handle.db;
    // The agreement covers 7 orders of 500,000; each dealer limit would allow all 100.
    const w = await financingWorld(db, { guaranteeFen: 3_500_000, subLimitFen: 100_000_000, limitFen: 100_000_000, product: { autoApproveLimitFen: 0 } });
    const now = at("2026-03-02");
    const orders = [];
    for (let i = 0; i < 100; i++) orders.push(await confirmedOrder(db, w, 5, now));
    const outcomes = await Promise.all(
      orders.map((o) =>
        applyForOrderFinancing(db, w.asDealer, o.id, now).then(
          () => "applied",
          (e) => (e instanceof DomainError ? `${e.code}:${Object.keys(e.fields ?? {}).join(",")}` : Promise.reject(e)),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === "applied")).toHaveLength(7);
    expect(outcomes.filter((o) => o === "invalid_state:guarantor_headroom")).toHaveLength(93);
    expect(await getFacility(db, w.agreementId)).toMatchObject({ limitFen: 3_500_000, usedFen: 3_500_000, availableFen: 0 });
    // The refused orders wrote nothing: still confirmed, no application.
    const statuses = await db.selectFrom("orders").select("status").where("id", "in", orders.map((o) => o.id)).execute();
    expect(statuses.filter((s) => s.status === "awaiting_financing")).toHaveLength(7);
    expect(statuses.filter((s) => s.status === "confirmed")).toHaveLength(93);
    expect(await db.selectFrom("loan_applications").select("id").where("order_id", "in", orders.map((o) => o.id)).execute()).toHaveLength(7);
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("falls overdue after grace, accrues penalty, classifies by days past due, lets an officer classify worse only, and calls the guarantee", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    const order = await confirmedOrder(db, w, 5, at("2026-03-02"));
    await applyForOrderFinancing(db, w.asDealer, order.id, at("2026-03-02"));
    await runFinancingJobs(db, at("2026-03-02"));
    const loan = await db.selectFrom("loans").select("id").where("order_id", "=", order.id).executeTakeFirstOrThrow();
    const scope = { kind: "bank" } as const;
    // Through the due date (05-31) nothing is overdue; the whole 5,438 is recognised by 05-30.
    await accrueLoans(db, [loan.id], "2026-05-31", at("2026-06-01"));
    expect(await balanceOf(db, `interest_receivable:${loan.id}`)).toBe(5_438);
    expect((await getLoan(db, scope, loan.id, at("2026-06-01"))).loan).toMatchObject({ status: "repaying", days_past_due: 0 });
    // 06-03: 3 days past due, within 3 days' grace: no penalty, not yet overdue.
    await accrueLoans(db, [loan.id], "2026-06-03", at("2026-06-04"));
    let detail = await getLoan(db, scope, loan.id, at("2026-06-04"));
    expect(detail.loan).toMatchObject({ status: "repaying", days_past_due: 3 });
    expect(detail.accrualTotals.penaltyFen).toBe(0);
    // 06-04: 4 days past due: overdue, 关注, penalty on 500,000 at 6.525%: 500,000 × 65,250 / 360,000,000 = 90.625 → 91;
    // compound on 5,438 unpaid interest: 0.9856… → 1.
    await accrueLoans(db, [loan.id], "2026-06-04", at("2026-06-05"));
    detail = await getLoan(db, scope, loan.id, at("2026-06-05"));
    expect(detail.loan).toMatchObject({ status: "overdue", days_past_due: 4, rule_class: "special_mention" });
    expect(detail.bucket).toBe("M1");
    expect(detail.accrualTotals).toEqual({ interestFen: 5_438, penaltyFen: 91, compoundFen: 1 });
    // The borrower now has a loan overdue: a new application fails that check.
    const next = await confirmedOrder(db, w, 1, at("2026-06-05"));
    expect(await refusal(applyForOrderFinancing(db, w.asDealer, next.id, at("2026-06-05")))).toMatchObject({ code: "invalid_state", fields: { no_loan_overdue: expect.stringContaining("1 loan(s) overdue") } });
    // An officer may classify worse, never better, and always with a reason.
    expect(await refusal(reclassifyLoan(db, w.asOfficer1, loan.id, "normal", "还款意愿良好", at("2026-06-05")))).toMatchObject({ code: "validation" });
    expect(await refusal(reclassifyLoan(db, w.asOfficer1, loan.id, "substandard", "", at("2026-06-05")))).toMatchObject({ fields: { reason: "required" } });
    await reclassifyLoan(db, w.asOfficer1, loan.id, "substandard", "核心企业经营恶化", at("2026-06-05"));
    expect((await getLoan(db, scope, loan.id, at("2026-06-05"))).loanClass).toBe("substandard");
    // Day 30 past due (06-30) is the buy-back day: the guarantor's wallet pays what is owed.
    await fundWallet(db, w.core, 100_000_000);
    await accrueLoans(db, [loan.id], "2026-06-30", at("2026-07-01"));
    expect(await runFinancingJobs(db, at("2026-07-01"))).toBe(1);
    detail = await getLoan(db, scope, loan.id, at("2026-07-01"));
    expect(detail.loan.status).toBe("repaid");
    expect(detail.repayments).toHaveLength(1);
    expect(detail.repayments[0]).toMatchObject({ source: "guarantee" });
    const paid = detail.repayments[0]!.allocation;
    expect(paid.overdue_principal).toBe(500_000);
    expect(paid.overdue_interest).toBe(5_438);
    expect(paid.penalty).toBe(detail.accrualTotals.penaltyFen);
    expect(paid.compound).toBe(detail.accrualTotals.compoundFen);
    expect(detail.balances).toEqual({ principalFen: 0, interestFen: 0, penaltyFen: 0 });
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("reminds the borrower and the guarantor three days before, on the day and on the first overdue day, once each", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    const order = await confirmedOrder(db, w, 5, at("2026-03-02"));
    await applyForOrderFinancing(db, w.asDealer, order.id, at("2026-03-02"));
    await runFinancingJobs(db, at("2026-03-02"));
    const loan = await db.selectFrom("loans").select(["id", "number"]).where("order_id", "=", order.id).executeTakeFirstOrThrow();
    const notices = () =>
      db
        .selectFrom("notification_requests")
        .select(["organization_id", "topic", "params"])
        .where(sql<boolean>`params->>'loanId' = ${loan.id}`)
        .orderBy("created_at")
        .orderBy("topic")
        .execute();
    expect(await sendLoanReminders(db, "2026-05-27")).toBe(0); // four days before: nothing of this loan
    expect(await notices()).toEqual([]);
    await sendLoanReminders(db, "2026-05-28");
    expect(await sendLoanReminders(db, "2026-05-28")).toBe(0); // a second pass sends nothing again
    let sent = await notices();
    expect(sent.map((n) => [n.organization_id, n.topic])).toEqual(
      expect.arrayContaining([
        [w.dealer, "loan.due_soon"],
        [w.core, "loan.due_soon"],
      ]),
    );
    expect(sent).toHaveLength(2);
    // 500,000 principal + 5,438 interest.
    expect(sent[0]!.params).toEqual({ loanId: loan.id, number: loan.number, dueOn: "2026-05-31", amountDisplay: "¥5,054.38" });
    await sendLoanReminders(db, "2026-05-31");
    await sendLoanReminders(db, "2026-06-01");
    sent = await notices();
    expect(sent.filter((n) => n.organization_id === w.dealer).map((n) => n.topic).sort()).toEqual(["loan.due_soon", "loan.due_today", "loan.overdue"]);
    expect(sent).toHaveLength(6);
  });

  it("runs the daily accrual as a run of batches, each posted once however often delivered", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    for (let i = 0; i < 3; i++) {
      const order = await confirmedOrder(db, w, 2, at("2026-03-02"));
      await applyForOrderFinancing(db, w.asDealer, order.id, at("2026-03-02"));
    }
    await runFinancingJobs(db, at("2026-03-02"));
    const run = await startAccrualRun(db, "2026-03-02", at("2026-03-03"));
    expect(run.status).toBe("running");
    expect(run.loansTotal).toBeGreaterThanOrEqual(3);
    expect((await startAccrualRun(db, "2026-03-02", at("2026-03-03"))).batchesTotal).toBe(run.batchesTotal);
    await runFinancingJobs(db, at("2026-03-03"));
    const done = await db.selectFrom("accrual_runs").selectAll().where("business_date", "=", "2026-03-02").executeTakeFirstOrThrow();
    expect(done).toMatchObject({ status: "done", batches_done: run.batchesTotal, loans_done: run.loansTotal });
    // Each of this world's loans accrued 03-02 once, with the day's interest (half-even(2,175 × 1 / 90) = 24).
    const mine = await db
      .selectFrom("loan_accruals")
      .innerJoin("loans", "loans.id", "loan_accruals.loan_id")
      .select(["loan_accruals.interest_fen"])
      .where("loans.borrower_organization_id", "=", w.dealer)
      .where("loan_accruals.business_date", "=", "2026-03-02")
      .execute();
    expect(mine.map((r) => r.interest_fen)).toEqual([24, 24, 24]);
    // A batch delivered again after the run is done posts nothing.
    await runAccrualBatch(db, "2026-03-02", 0, at("2026-03-03"));
    const again = await db.selectFrom("loan_accruals").innerJoin("loans", "loans.id", "loan_accruals.loan_id").select("loan_accruals.loan_id").where("loans.borrower_organization_id", "=", w.dealer).execute();
    expect(again).toHaveLength(3);
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("closes a run whose batches its children left undone by running them, once", async () => {
    const db = handle.db;
    const w = await financingWorld(db);
    const order = await confirmedOrder(db, w, 2, at("2026-04-01"));
    await applyForOrderFinancing(db, w.asDealer, order.id, at("2026-04-01"));
    await runFinancingJobs(db, at("2026-04-01"));
    const run = await startAccrualRun(db, "2026-04-01", at("2026-04-02"));
    // The close reached with no batch run (every child gave up): it runs them itself, then closes.
    const closed = await closeAccrualRun(db, "2026-04-01", at("2026-04-02"));
    expect(closed).toEqual({ closed: true, batchesRunHere: run.batchesTotal });
    expect(await db.selectFrom("accrual_runs").select(["status", "batches_done", "loans_done"]).where("business_date", "=", "2026-04-01").executeTakeFirstOrThrow()).toEqual({
      status: "done",
      batches_done: run.batchesTotal,
      loans_done: run.loansTotal,
    });
    expect(await closeAccrualRun(db, "2026-04-01", at("2026-04-02"))).toEqual({ closed: false, batchesRunHere: 0 });
    const autoDebits = await db.selectFrom("outbox").select("job_id").where("job_id", "=", "financing-auto-debit:2026-04-02:run").execute();
    expect(autoDebits).toHaveLength(1);
    const mine = await db.selectFrom("loan_accruals").innerJoin("loans", "loans.id", "loan_accruals.loan_id").select("loan_accruals.loan_id").where("loans.borrower_organization_id", "=", w.dealer).where("loan_accruals.business_date", "=", "2026-04-01").execute();
    expect(mine).toHaveLength(1);
    expect(await verifyLedger(db)).toEqual([]);
  });
});
