import { sql } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { type Actor, DomainError, addDays, divideHalfEven, isUuid, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import { applyBatch, ensureAccount, lockAccountsByCodes, type BatchOperation, type Fen } from "../ledger";
import { enqueue, outboxJobId, type OutboxJob, type Trx } from "../outbox";
import { findLoanTransition, OPEN_LOAN_STATUSES, type LoanEvent, type LoanStatus, type FinancingParty } from "./states";
import { accrualForDay, type AccrualState } from "./accrual";
import { allocate, ALLOCATION_COMPONENTS, type AllocationComponent } from "./allocation";
import { checkReclassification, classFloor, effectiveClass, LOAN_CLASSES, type LoanClass } from "./risk";
import { daysBetween } from "./schedule";
import { accountCodes, ensureIncomeAccounts, lockLoan, loanColumns, loanNotFound, readInstalments, recordFinancingEvents, type InstalmentRow, type LoanRow } from "./internal.server";
import { FINANCING_QUEUE } from "./applications.server";
import { refuseWhileEpayRepaymentInFlight } from "./epay-repayment.server";

/**
 * A loan's life after disbursement: the daily accrual, repayment with its allocation, overdue and
 * classification, the guarantee call and write-off. Every change locks the loan row first (one
 * lock per loan, taken in id order when a batch takes many), so the daily run, a repayment and an
 * officer's action on the same loan are serialised and each sees the other's result.
 *
 * Accrual, exactly once per loan and business date: the run for date d posts, for each open loan,
 * every day from the day after `accrued_through` (or the disbursement date) to d, in date order, as
 * `loan_accruals` rows (primary key: loan and date) and ledger transfers, and moves
 * `accrued_through` to d, all in one transaction under the loan's lock. A rerun of d finds
 * `accrued_through` = d and posts nothing; a gap of three days back-fills three. A repayment first
 * accrues the loan through yesterday, so a payment never meets interest that should have been
 * posted before it.
 */

export const LOAN_LIMITS = {
  /** Loans one accrual batch takes: one transaction, one ledger batch, one lock on the income accounts. */
  accrualBatch: 500,
  /** Days one catch-up may back-fill at most (a run that has not happened for a year is a fault to look at). */
  maxBackfillDays: 366,
  reasonChars: 500,
} as const;

export const AUTO_DEBIT_JOB = "financing.auto_debit";
export const GUARANTEE_CALL_JOB = "financing.call_guarantee";

export function guaranteeCallJob(loanId: string): OutboxJob {
  return { queue: FINANCING_QUEUE, name: GUARANTEE_CALL_JOB, jobId: outboxJobId("financing-guarantee", loanId, "call"), payload: { loanId } };
}

function accrualState(loan: LoanRow, instalments: readonly InstalmentRow[]): AccrualState {
  return {
    instalments,
    paid: instalments.map((i) => ({ seq: i.seq, principalPaidFen: i.principalPaidFen, interestPaidFen: i.interestPaidFen })),
    contractRatePpm: loan.annual_rate_ppm,
    penaltyRatePpm: loan.penalty_rate_ppm,
    graceDays: loan.grace_days,
  };
}

function transitionTo(loan: Pick<LoanRow, "status">, event: LoanEvent, party: FinancingParty): LoanStatus {
  const t = findLoanTransition(loan.status as LoanStatus, event);
  if (!t) throw new DomainError("invalid_state", `A loan that is ${loan.status.replaceAll("_", " ")} cannot take "${event}"`, { status: loan.status });
  if (!t.by.includes(party)) throw new DomainError("forbidden", `The ${party} cannot "${event}" this loan`, { status: loan.status });
  return t.to;
}

// ---------------------------------------------------------------------------------------------
// Accrual

interface LoanAccrualResult {
  loanId: string;
  days: number;
  interestFen: Fen;
  penaltyFen: Fen;
  compoundFen: Fen;
}

/**
 * Accrue the given loans through `throughDate` (the caller's transaction, or one of its own).
 * Loans already accrued through it, closed, or disbursed after it are skipped. Returns what each
 * loan posted. Statements: lock the loans, read their instalments, insert the accrual rows, one
 * ledger batch, update the loans; whatever the batch size.
 */
export async function accrueLoans(db: Db, loanIds: readonly string[], throughDate: string, now: Date): Promise<LoanAccrualResult[]> {
  if (loanIds.length === 0) return [];
  if (loanIds.length > LOAN_LIMITS.accrualBatch) throw new RangeError(`at most ${LOAN_LIMITS.accrualBatch} loans per accrual batch`);
  return inTransaction(db, async (trx) => {
    const loans = (await trx
      .selectFrom("loans")
      .select(loanColumns())
      .where("id", "=", sql<string>`any(${[...loanIds]}::uuid[])`)
      .where("status", "in", OPEN_LOAN_STATUSES)
      .orderBy("id")
      .forUpdate()
      .execute()) as LoanRow[];
    const due = loans.filter((l) => l.disbursed_on <= throughDate && (l.accrued_through === null || l.accrued_through < throughDate));
    if (due.length === 0) return [];
    const instalmentRows = await trx
      .selectFrom("loan_instalments")
      .select(["loan_id", "seq", sql<string>`to_char(period_start_on, 'YYYY-MM-DD')`.as("period_start_on"), sql<string>`to_char(due_on, 'YYYY-MM-DD')`.as("due_on"), "days", "principal_fen", "interest_fen", "principal_paid_fen", "interest_paid_fen"])
      .where("loan_id", "=", sql<string>`any(${due.map((l) => l.id)}::uuid[])`)
      .orderBy("loan_id")
      .orderBy("seq")
      .execute();
    const byLoan = new Map<string, InstalmentRow[]>();
    for (const r of instalmentRows) {
      const list = byLoan.get(r.loan_id) ?? [];
      list.push({ seq: r.seq, periodStartOn: r.period_start_on, dueOn: r.due_on, days: r.days, principalFen: r.principal_fen, interestFen: r.interest_fen, principalPaidFen: r.principal_paid_fen, interestPaidFen: r.interest_paid_fen });
      byLoan.set(r.loan_id, list);
    }
    const income = await ensureIncomeAccounts(trx);
    const receivables = await trx
      .selectFrom("ledger_accounts")
      .select(["id", "code"])
      .where("code", "in", due.flatMap((l) => [accountCodes.interest(l.id), accountCodes.penalty(l.id)]))
      .execute();
    const accountId = new Map(receivables.map((r) => [r.code, r.id]));

    const accrualRows: { loan_id: string; business_date: string; interest_fen: number; penalty_fen: number; compound_fen: number; days_past_due: number }[] = [];
    const operations: BatchOperation[] = [];
    const updates: { id: string; status: LoanStatus; dpd: number; ruleClass: LoanClass; call: boolean }[] = [];
    const results: LoanAccrualResult[] = [];
    for (const loan of due) {
      const state = accrualState(loan, byLoan.get(loan.id) ?? []);
      const from = loan.accrued_through === null ? loan.disbursed_on : addDays(loan.accrued_through, 1);
      const days = daysBetween(from, throughDate) + 1;
      if (days > LOAN_LIMITS.maxBackfillDays) throw new DomainError("invalid_state", `loan ${loan.number} would back-fill ${days} days; at most ${LOAN_LIMITS.maxBackfillDays}`);
      let interestFen = 0;
      let penaltyFen = 0;
      let compoundFen = 0;
      let dpd = 0;
      for (let d = 0; d < days; d++) {
        const date = addDays(from, d);
        const day = accrualForDay(state, date);
        accrualRows.push({ loan_id: loan.id, business_date: date, interest_fen: day.interestFen, penalty_fen: day.penaltyFen, compound_fen: day.compoundFen, days_past_due: day.daysPastDue });
        interestFen += day.interestFen;
        penaltyFen += day.penaltyFen;
        compoundFen += day.compoundFen;
        dpd = day.daysPastDue;
      }
      const key = `loan:${loan.id}:accrual:${from}:${throughDate}`;
      if (interestFen > 0) {
        operations.push({ op: "transfer", idempotencyKey: `${key}:interest`, kind: "loan_interest_accrual", reference: `loan:${loan.id}`, debitAccountId: accountId.get(accountCodes.interest(loan.id))!, creditAccountId: income.interest.id, amountFen: interestFen });
      }
      if (penaltyFen + compoundFen > 0) {
        operations.push({ op: "transfer", idempotencyKey: `${key}:penalty`, kind: "loan_penalty_accrual", reference: `loan:${loan.id}`, debitAccountId: accountId.get(accountCodes.penalty(loan.id))!, creditAccountId: income.penalty.id, amountFen: penaltyFen + compoundFen });
      }
      let status = loan.status as LoanStatus;
      if (status === "disbursed") status = transitionTo({ status }, "start_repaying", "system");
      if (status === "repaying" && dpd > loan.grace_days) status = transitionTo({ status }, "fall_overdue", "system");
      const call = status === "overdue" && loan.guarantor_organization_id !== null && loan.buy_back_days !== null && dpd >= loan.buy_back_days;
      updates.push({ id: loan.id, status, dpd, ruleClass: classFloor(dpd), call });
      results.push({ loanId: loan.id, days, interestFen, penaltyFen, compoundFen });
    }
    // The primary key is the backstop: a second writer of the same day fails the whole batch.
    await trx.insertInto("loan_accruals").values(accrualRows).execute();
    await sql`
      update loans set status = v.status, days_past_due = v.dpd, rule_class = v.rule_class, accrued_through = ${throughDate}::date
      from (select unnest(${updates.map((u) => u.id)}::uuid[]) as id, unnest(${updates.map((u) => u.status)}::text[]) as status,
                   unnest(${updates.map((u) => u.dpd)}::int[]) as dpd, unnest(${updates.map((u) => u.ruleClass)}::text[]) as rule_class) v
      where loans.id = v.id`.execute(trx);
    const changed = updates.filter((u) => u.status !== due.find((l) => l.id === u.id)!.status);
    await recordFinancingEvents(
      trx,
      SYSTEM_ACTOR,
      changed.map((u) => ({ loanId: u.id, event: u.status === "overdue" ? "fell_overdue" : "repaying", detail: { days_past_due: u.dpd, through: throughDate } })), now);
    for (const u of updates.filter((x) => x.call)) await enqueue(trx as Trx, guaranteeCallJob(u.id));
    // The ledger last: it locks the bank's one interest_income row, which every batch of every
    // worker needs; taken at the end, it is held only for this statement and the commit.
    await applyBatch(trx, operations);
    return results;
  });
}

// ---------------------------------------------------------------------------------------------
// What is owed

export type Owed = Record<AllocationComponent, Fen>;

/**
 * What the loan owes on `date`, by allocation component. `payoff` adds what an early repayment in
 * full settles: the rest of the principal and the current period's interest to date.
 */
export async function owedOn(db: Db, loan: LoanRow, instalments: readonly InstalmentRow[], date: string, payoff: boolean): Promise<Owed> {
  const sums = await db
    .selectFrom("loan_accruals")
    .select([sql<string>`coalesce(sum(penalty_fen), 0)`.as("penalty"), sql<string>`coalesce(sum(compound_fen), 0)`.as("compound")])
    .where("loan_id", "=", loan.id)
    .executeTakeFirstOrThrow();
  const paid = await db
    .selectFrom("loan_repayments")
    .select([sql<string>`coalesce(sum((allocation->>'penalty')::bigint), 0)`.as("penalty"), sql<string>`coalesce(sum((allocation->>'compound')::bigint), 0)`.as("compound")])
    .where("loan_id", "=", loan.id)
    .executeTakeFirstOrThrow();
  const owed: Owed = {
    penalty: Number(sums.penalty) - Number(paid.penalty),
    compound: Number(sums.compound) - Number(paid.compound),
    overdue_interest: 0,
    overdue_principal: 0,
    current_interest: 0,
    current_principal: 0,
  };
  for (const i of instalments) {
    const interestLeft = i.interestFen - i.interestPaidFen;
    const principalLeft = i.principalFen - i.principalPaidFen;
    if (i.dueOn < date) {
      owed.overdue_interest += interestLeft;
      owed.overdue_principal += principalLeft;
    } else if (i.dueOn === date) {
      owed.current_interest += interestLeft;
      owed.current_principal += principalLeft;
    } else if (payoff) {
      if (i.periodStartOn <= date) {
        // Interest to date only: what the run has recognised through yesterday.
        owed.current_interest += Math.max(0, recognisedThrough(i, date) - i.interestPaidFen);
      }
      owed.current_principal += principalLeft;
    }
  }
  return owed;
}

/** The period's interest the daily run has recognised on the days before `date` (accrual.ts's rule). */
function recognisedThrough(i: InstalmentRow, date: string): Fen {
  return Number(divideHalfEven(BigInt(i.interestFen) * BigInt(daysBetween(i.periodStartOn, date)), BigInt(i.days)));
}

export function totalOwed(owed: Owed): Fen {
  return ALLOCATION_COMPONENTS.reduce((sum, c) => sum + owed[c], 0);
}

// ---------------------------------------------------------------------------------------------
// Repayment

export interface RepaymentInput {
  /** `due`: what is due now (overdue and due today), or part of it; `payoff`: everything (提前结清). */
  mode: "due" | "payoff";
  /** For `due`: at most what is due; omitted, all of it. */
  amountFen?: Fen;
  source: "wallet" | "auto_debit" | "guarantee" | "debtor_payment" | "epay";
  idempotencyKey: string;
}

export interface RepaymentResult {
  repaymentId: string;
  amountFen: Fen;
  allocation: Record<AllocationComponent, Fen>;
  loanStatus: LoanStatus;
  replayed: boolean;
}

/**
 * Repay from a wallet: the borrower's (or, once the guarantee is called, the guarantor's). One
 * transaction under the loan's lock: accrue through yesterday, work out what is owed, allocate in
 * the product's order, move the money from the wallet to the loan's receivables, mark the
 * instalments paid, give the repaid principal back to the limits, and move the loan's state.
 * The same idempotency key returns the first result.
 */
export async function repayLoan(db: Db, actor: Actor, loanId: string, input: RepaymentInput, now: Date): Promise<RepaymentResult> {
  if (!isUuid(loanId)) throw loanNotFound();
  return inTransaction(db, async (trx) => {
    const seen = await trx.selectFrom("loan_repayments").selectAll().where("idempotency_key", "=", input.idempotencyKey).executeTakeFirst();
    if (seen) {
      if (seen.loan_id !== loanId) throw new DomainError("conflict", "This idempotency key was used for another loan", { idempotency_key: "reused" });
      const loan = await lockLoan(trx, loanId);
      return { repaymentId: seen.id, amountFen: seen.amount_fen, allocation: seen.allocation as Record<AllocationComponent, Fen>, loanStatus: loan.status as LoanStatus, replayed: true };
    }
    let loan = await lockLoan(trx, loanId);
    const payer = loan.status === "guarantee_called" ? loan.guarantor_organization_id! : loan.borrower_organization_id;
    if (actor.organizationId !== null && actor.organizationId !== payer && input.source !== "guarantee") {
      // The guarantor sees the loan; it pays once the guarantee is called, and the borrower no longer does.
      const party = actor.organizationId === loan.guarantor_organization_id || actor.organizationId === loan.borrower_organization_id;
      if (!party) throw loanNotFound();
      throw new DomainError("invalid_state", loan.status === "guarantee_called" ? "The guarantee was called: the guarantor repays this loan now" : "The guarantor repays a loan once its guarantee is called", { status: loan.status });
    }
    if (!OPEN_LOAN_STATUSES.includes(loan.status as LoanStatus)) {
      throw new DomainError("invalid_state", `A loan that is ${loan.status.replaceAll("_", " ")} owes nothing`, { status: loan.status });
    }
    // The payer may have paid by e-Pay already and the callback be on its way (as for an order).
    if (input.source === "wallet") await refuseWhileEpayRepaymentInFlight(trx, payer, loan.id);
    const today = shanghaiDate(now);
    await accrueLoans(trx, [loan.id], addDays(today, -1), now);
    loan = await lockLoan(trx, loanId);
    const instalments = await readInstalments(trx, loan.id);
    const owed = await owedOn(trx, loan, instalments, today, input.mode === "payoff");
    const owedFen = totalOwed(owed);
    if (owedFen === 0) throw new DomainError("invalid_state", "Nothing is due on this loan today: repay in full to settle it early", { amount_fen: "nothing due" });

    const payerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: input.source === "guarantee" ? loan.guarantor_organization_id! : payer });
    const walletView = (await lockAccountsByCodes(trx, [payerWallet.code])).byCode().get(payerWallet.code)!;
    let amountFen: Fen;
    if (input.mode === "payoff") {
      amountFen = owedFen;
    } else if (input.amountFen !== undefined) {
      if (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0) throw new DomainError("validation", "The amount must be a whole number of fen above zero", { amount_fen: "must be positive" });
      if (input.amountFen > owedFen) throw new DomainError("validation", `At most ${owedFen} fen is due now; to repay more, repay in full`, { amount_fen: `at most ${owedFen}` });
      amountFen = input.amountFen;
    } else {
      amountFen = owedFen;
    }
    // A debit order (代扣, the guarantee call) takes what the wallet holds; a person's payment is all or refused.
    if (input.source !== "wallet") amountFen = Math.min(amountFen, walletView.availableFen);
    if (amountFen <= 0) throw new DomainError("insufficient_funds", "The wallet holds nothing to repay with", { amount_fen: "wallet empty" });
    if (input.source === "wallet" && amountFen > walletView.availableFen) {
      throw new DomainError("insufficient_funds", `The wallet holds ${walletView.availableFen} fen; ${amountFen} fen is needed`, { amount_fen: "wallet balance too low" });
    }

    const product = await trx.selectFrom("loan_products").select("allocation_order").where("id", "=", loan.product_id).executeTakeFirstOrThrow();
    const { applied } = allocate(amountFen, owed, product.allocation_order as AllocationComponent[]);
    const repayment = await trx
      .insertInto("loan_repayments")
      .values({ loan_id: loan.id, idempotency_key: input.idempotencyKey, source: input.source, amount_fen: amountFen, allocation: JSON.stringify(applied), paid_on: today, created_by_user_id: actor.userId })
      .returning("id")
      .executeTakeFirstOrThrow();

    await markInstalmentsPaid(trx, loan.id, instalments, applied, today);
    const penaltyFen = applied.penalty + applied.compound;
    const interestFen = applied.overdue_interest + applied.current_interest;
    const principalFen = applied.overdue_principal + applied.current_principal;
    const key = `loan_repayment:${repayment.id}`;
    const codes = [accountCodes.penalty(loan.id), accountCodes.interest(loan.id), accountCodes.principal(loan.id)];
    const accounts = await trx.selectFrom("ledger_accounts").select(["id", "code"]).where("code", "in", codes).execute();
    const id = (code: string) => accounts.find((a) => a.code === code)!.id;
    const operations: BatchOperation[] = [];
    const move = (amount: Fen, to: string, part: string) => {
      if (amount > 0) operations.push({ op: "transfer", idempotencyKey: `${key}:${part}`, kind: `loan_repayment_${part}`, reference: `loan:${loan.id}`, debitAccountId: payerWallet.id, creditAccountId: id(to), amountFen: amount, createdByUserId: actor.userId });
    };
    move(penaltyFen, accountCodes.penalty(loan.id), "penalty");
    move(interestFen, accountCodes.interest(loan.id), "interest");
    move(principalFen, accountCodes.principal(loan.id), "principal");
    operations.push(...(await restoreLimits(trx, loan, principalFen, key)));
    await applyBatch(trx, operations);

    const left = totalOwed(await owedOn(trx, loan, await readInstalments(trx, loan.id), today, true));
    const principalLeft = (await readInstalments(trx, loan.id)).reduce((s, i) => s + i.principalFen - i.principalPaidFen, 0);
    let status = loan.status as LoanStatus;
    const party: FinancingParty = actor.userId ? "borrower" : "system";
    if (principalLeft === 0 && left === 0) {
      status = transitionTo(loan, "repay_in_full", loan.status === "guarantee_called" ? "system" : party);
    } else if (status === "overdue") {
      const after = await owedOn(trx, loan, await readInstalments(trx, loan.id), today, false);
      if (after.overdue_interest + after.overdue_principal === 0) status = transitionTo(loan, "cure", party);
    }
    if (status !== loan.status) {
      await trx
        .updateTable("loans")
        // Nothing owed, nothing to classify: a repaid loan is 正常 whatever it went through (its timeline keeps that).
        .set({ status, ...(status === "repaid" ? { closed_on: today, days_past_due: 0, rule_class: "normal", officer_class: null, officer_class_reason: null } : {}), ...(status === "repaying" ? { days_past_due: 0, rule_class: "normal" } : {}) })
        .where("id", "=", loan.id)
        .execute();
    }
    await recordFinancingEvents(trx, actor, [
      { loanId: loan.id, event: "repaid", detail: { amount_fen: amountFen, source: input.source, allocation: applied, status } },
    ], now);
    return { repaymentId: repayment.id, amountFen, allocation: applied, loanStatus: status, replayed: false };
  });
}

/** Interest to oldest instalments first, then principal the same way; payoff takes the rest in order. */
async function markInstalmentsPaid(trx: Db, loanId: string, instalments: readonly InstalmentRow[], applied: Record<AllocationComponent, Fen>, today: string) {
  let interest = applied.overdue_interest + applied.current_interest;
  let principal = applied.overdue_principal + applied.current_principal;
  const changes: { seq: number; interest: Fen; principal: Fen }[] = [];
  for (const i of instalments) {
    // Due: all of its interest; the current period: what is recognised to date; a later one: none.
    const payable = i.dueOn <= today ? i.interestFen : i.periodStartOn <= today ? recognisedThrough(i, today) : 0;
    const takeInterest = Math.min(interest, payable - i.interestPaidFen);
    const takePrincipal = Math.min(principal, i.principalFen - i.principalPaidFen);
    const ti = Math.max(0, takeInterest);
    interest -= ti;
    principal -= takePrincipal;
    if (ti > 0 || takePrincipal > 0) changes.push({ seq: i.seq, interest: ti, principal: takePrincipal });
  }
  if (interest !== 0 || principal !== 0) throw new DomainError("invalid_state", "The repayment does not fit the schedule (a bug: nothing was written)");
  if (changes.length === 0) return;
  await sql`
    update loan_instalments set interest_paid_fen = interest_paid_fen + v.interest, principal_paid_fen = principal_paid_fen + v.principal
    from (select unnest(${changes.map((c) => c.seq)}::int[]) as seq, unnest(${changes.map((c) => c.interest)}::bigint[]) as interest,
                 unnest(${changes.map((c) => c.principal)}::bigint[]) as principal) v
    where loan_instalments.loan_id = ${loanId} and loan_instalments.seq = v.seq`.execute(trx);
}

/** Principal repaid frees the same amount on every facility the loan drew. */
async function restoreLimits(trx: Db, loan: LoanRow, principalFen: Fen, key: string): Promise<BatchOperation[]> {
  if (principalFen === 0) return [];
  const app = await trx.selectFrom("loan_applications").select("holds").where("id", "=", loan.application_id).executeTakeFirstOrThrow();
  const codes = app.holds.flatMap((h) => [accountCodes.facilityAvailable(h.facilityId), accountCodes.facilityUsed(h.facilityId)]);
  if (codes.length === 0) return [];
  const accounts = await trx.selectFrom("ledger_accounts").select(["id", "code"]).where("code", "in", codes).execute();
  const id = (code: string) => accounts.find((a) => a.code === code)!.id;
  return app.holds.map((h) => ({
    op: "transfer" as const,
    idempotencyKey: `${key}:restore:${h.facilityId}`,
    kind: "facility_restored",
    reference: `loan:${loan.id}`,
    debitAccountId: id(accountCodes.facilityUsed(h.facilityId)),
    creditAccountId: id(accountCodes.facilityAvailable(h.facilityId)),
    amountFen: principalFen,
  }));
}

// ---------------------------------------------------------------------------------------------
// Risk: classification, the guarantee call, write-off

/** An officer classifies a loan: never better than the overdue rule gives, always with a reason. */
export async function reclassifyLoan(db: Db, actor: Actor, loanId: string, proposed: string, reason: string, now: Date): Promise<LoanRow> {
  if (!(LOAN_CLASSES as readonly string[]).includes(proposed)) throw new DomainError("validation", `class must be one of ${LOAN_CLASSES.join(", ")}`, { class: "unknown" });
  const why = requireReason(reason);
  return inTransaction(db, async (trx) => {
    const loan = await lockLoan(trx, loanId);
    transitionTo(loan, "reclassify", "bank");
    const check = checkReclassification(loan.rule_class as LoanClass, proposed as LoanClass);
    if (!check.ok) throw new DomainError("validation", check.reason, { class: "better than the rule allows" });
    await trx.updateTable("loans").set({ officer_class: proposed, officer_class_reason: why }).where("id", "=", loan.id).execute();
    await recordFinancingEvents(trx, actor, [{ loanId: loan.id, event: "reclassified", before: { class: effectiveClass(loan.rule_class as LoanClass, loan.officer_class as LoanClass | null) }, after: { class: proposed, reason: why } }], now);
    return lockLoan(trx, loan.id);
  });
}

function requireReason(reason: string | null | undefined): string {
  const text = (reason ?? "").trim();
  if (text.length === 0 || text.length > LOAN_LIMITS.reasonChars) throw new DomainError("validation", `A reason is required (at most ${LOAN_LIMITS.reasonChars} characters)`, { reason: "required" });
  return text;
}

/**
 * The buy-back day (回购): the guarantor pays what the loan owes in full from its wallet, as far as
 * the wallet goes; what it cannot cover stays on the loan, now the guarantor's to pay, and keeps
 * accruing penalty. A step behind the outbox: the daily run enqueues it; running it twice finds
 * the loan already called (or repaid) and does nothing.
 */
export async function callGuarantee(db: Db, loanId: string, now: Date): Promise<{ called: boolean; paidFen: Fen }> {
  return inTransaction(db, async (trx) => {
    const loan = await lockLoan(trx, loanId);
    if (loan.status !== "overdue" || !loan.guarantor_organization_id) return { called: false, paidFen: 0 };
    const to = transitionTo(loan, "call_guarantee", "system");
    await trx.updateTable("loans").set({ status: to }).where("id", "=", loan.id).execute();
    await recordFinancingEvents(trx, SYSTEM_ACTOR, [{ loanId: loan.id, event: "guarantee_called", detail: { guarantor: loan.guarantor_organization_id, days_past_due: loan.days_past_due } }], now);
    let paidFen = 0;
    try {
      const result = await repayLoan(trx, SYSTEM_ACTOR, loan.id, { mode: "payoff", source: "guarantee", idempotencyKey: `loan:${loan.id}:guarantee_call` }, now);
      paidFen = result.amountFen;
    } catch (error) {
      // An empty wallet is the guarantor's overdue claim, not a failed step.
      if (!(error instanceof DomainError && error.code === "insufficient_funds")) throw error;
    }
    return { called: true, paidFen };
  });
}

/** An officer writes off what a loan still owes (核销), with a reason: the loss is the bank's. */
export async function writeOffLoan(db: Db, actor: Actor, loanId: string, reason: string, now: Date): Promise<LoanRow> {
  const why = requireReason(reason);
  return inTransaction(db, async (trx) => {
    const loan = await lockLoan(trx, loanId);
    const to = transitionTo(loan, "write_off", "bank");
    const bank = await trx.selectFrom("organizations").select("id").where("kind", "=", "bank").orderBy("created_at").limit(1).executeTakeFirstOrThrow();
    const equity = await ensureAccount(trx, { kind: "bank_equity", organizationId: bank.id, code: "bank_equity" });
    const locked = await lockAccountsByCodes(trx, [accountCodes.principal(loan.id), accountCodes.interest(loan.id), accountCodes.penalty(loan.id)]);
    const operations: BatchOperation[] = [];
    for (const [code, part] of [[accountCodes.principal(loan.id), "principal"], [accountCodes.interest(loan.id), "interest"], [accountCodes.penalty(loan.id), "penalty"]] as const) {
      const view = locked.byCode().get(code)!;
      if (view.balanceFen > 0) operations.push({ op: "transfer", idempotencyKey: `loan:${loan.id}:write_off:${part}`, kind: "loan_write_off", reference: `loan:${loan.id}`, debitAccountId: equity.id, creditAccountId: view.id, amountFen: view.balanceFen, createdByUserId: actor.userId });
    }
    await applyBatch(trx, operations, { locked });
    await trx.updateTable("loans").set({ status: to, closed_on: shanghaiDate(now) }).where("id", "=", loan.id).execute();
    await recordFinancingEvents(trx, actor, [{ loanId: loan.id, event: "written_off", detail: { reason: why, amounts: Object.fromEntries(operations.map((o) => [o.op === "transfer" ? o.idempotencyKey.split(":").pop()! : "", o.op === "transfer" ? o.amountFen : 0])) } }], now);
    return lockLoan(trx, loan.id);
  });
}

export { accountCodes };
