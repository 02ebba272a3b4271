import { sql } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { type Actor, DomainError, addDays, isUuid, recordAudit, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import type { Fen } from "../ledger";
import type { Trx } from "../outbox";
import { refuseWhilePaymentInFlight, settlePaymentAttempts, startPaymentAttempt, type Payment, type PaymentsDeps, type PurposeResult } from "../payments";
import { OPEN_LOAN_STATUSES, type LoanStatus } from "./states";
import { bankOrganizationId, lockLoan, loanNotFound, readInstalments, type LoanRow } from "./internal.server";
import { accrueLoans, owedOn, repayLoan, totalOwed, type RepaymentInput } from "./loans.server";

/**
 * Repaying a loan by e-Pay (issue 14; decisions 021 and 024).
 *
 * Starting: the payer (the borrower, or the guarantor once its guarantee is called) asks to pay
 * what is due now or the payoff amount; the amount is worked out here, under the loan's lock and
 * after accruing through yesterday, exactly as a wallet repayment would, and a payment with purpose
 * `loan_repayment` is started at the gateway (outside any transaction: an HTTP call).
 *
 * The payment's reference is `loan:<loan>:<mode>:<round>`. The mode (due | payoff) is recorded
 * there because the capture needs it. The round is 1 + the payer's e-Pay repayments of this loan
 * that have been committed to it (applied or left in the wallet): a loan is repaid many times, and
 * the payments side closes a reference to further attempts once money came in under it. Within a
 * round, a failed attempt can be tried again (the payments side numbers the attempts).
 *
 * Capturing (`applyCapturedLoanRepayment`, the `loan_repayment` purpose handler): in the capture's
 * own transaction, so the money the capture put in the payer's wallet is never free there, the
 * loan is repaid from that wallet with the idempotency key `epay:<payment>:loan_repayment`.
 * Rule when the loan moved on meanwhile (repaid from the wallet, auto-debited, guarantee called):
 *  - a payoff payment that still covers the payoff amount pays the loan off; anything above it
 *    stays in the wallet;
 *  - otherwise (a due payment, or a payoff payment that no longer covers the payoff: interest of
 *    one more day when the payer paid after midnight) it repays what is due now, up to its amount,
 *    and the rest stays in the wallet; a partial payoff is not offered (decision 024);
 *  - nothing due now, the loan closed, or the payment made by a party that no longer repays it:
 *    `left_in_wallet`, the money stays in the payer's wallet (the payer is told, and can repay or
 *    ask for a refund from there).
 * Money left in the wallet beyond what was applied is recorded as `financing.epay_left_in_wallet`.
 *
 * While an attempt is in flight (pending at the gateway, or captured but needing the bank's
 * attention) the wallet path refuses, as an order's does: the payer may have paid already.
 */

export type EpayRepaymentMode = "due" | "payoff";
const MODES: readonly EpayRepaymentMode[] = ["due", "payoff"];

export const EPAY_REPAYMENT_LIMITS = {
  /** Rounds one loan may take by e-Pay (each an instalment or more): far above any schedule here. */
  roundsMax: 10_000,
  descriptionChars: 100,
} as const;

const REFERENCE = /^loan:([0-9a-f-]{36}):(due|payoff):([1-9][0-9]{0,4})$/;

export function loanRepaymentReference(loanId: string, mode: EpayRepaymentMode, round: number): string {
  return `loan:${loanId}:${mode}:${round}`;
}

/** The round the payer's next e-Pay repayment of this loan belongs to (see the module comment). */
async function currentRound(db: Db, payerOrganizationId: string, loanId: string): Promise<number> {
  const row = await db
    .selectFrom("payments")
    .select(sql<string>`count(*)`.as("n"))
    .where("payer_organization_id", "=", payerOrganizationId)
    .where("purpose", "=", "loan_repayment")
    .where("reference", "like", `loan:${loanId}:%`)
    .where("purpose_outcome", "in", ["applied", "left_in_wallet"])
    .executeTakeFirstOrThrow();
  const round = Number(row.n) + 1;
  if (round > EPAY_REPAYMENT_LIMITS.roundsMax) throw new DomainError("rate_limited", "too many e-Pay repayments of this loan", { payment: "too_many_attempts" });
  return round;
}

/** The references an attempt of this round may be under, one per mode. */
export async function currentEpayRepaymentReferences(db: Db, payerOrganizationId: string, loanId: string): Promise<Record<EpayRepaymentMode, string>> {
  const round = await currentRound(db, payerOrganizationId, loanId);
  return { due: loanRepaymentReference(loanId, "due", round), payoff: loanRepaymentReference(loanId, "payoff", round) };
}

/**
 * The wallet path's guard (repayLoan, source `wallet`): refused while an e-Pay repayment of this
 * loan is in flight. Takes each mode's purpose lock, in a fixed order.
 */
export async function refuseWhileEpayRepaymentInFlight(trx: Db, payerOrganizationId: string, loanId: string): Promise<void> {
  const references = await currentEpayRepaymentReferences(trx, payerOrganizationId, loanId);
  for (const mode of MODES) await refuseWhilePaymentInFlight(trx, payerOrganizationId, references[mode]);
}

/** Who repays now: the borrower, or the guarantor once its guarantee is called. */
function payerOf(loan: Pick<LoanRow, "status" | "borrower_organization_id" | "guarantor_organization_id">): string {
  return loan.status === "guarantee_called" ? loan.guarantor_organization_id! : loan.borrower_organization_id;
}

export interface EpayRepaymentStart {
  paymentId: string;
  /** The gateway's page for the payer. */
  payUrl: string;
  mode: EpayRepaymentMode;
  amountFen: Fen;
}

/**
 * Start (or resume) an e-Pay repayment of a loan by the acting organisation. Who: the payer only
 * (another party of the loan: 409 naming `status`; anyone else: 404, as reading the loan is); the
 * member's role is checked by the page or API against `financing.repay` (the permission table).
 * Nothing due now (mode `due`): 409 naming `amount_fen`. An attempt of the other mode in flight:
 * 409 naming `payment`.
 */
export async function startEpayRepayment(
  db: Db,
  actor: Actor,
  loanId: string,
  input: { mode: EpayRepaymentMode; description?: string },
  deps: PaymentsDeps | undefined,
  now: Date,
): Promise<EpayRepaymentStart> {
  if (!isUuid(loanId)) throw loanNotFound();
  if (!MODES.includes(input.mode)) throw new DomainError("validation", "mode must be due or payoff", { mode: "must be due or payoff" });
  const plan = await inTransaction(db, async (trx) => {
    let loan = await lockLoan(trx, loanId);
    const payer = payerOf(loan);
    if (actor.organizationId !== payer) {
      const party = actor.organizationId === loan.guarantor_organization_id || actor.organizationId === loan.borrower_organization_id;
      if (!party) throw loanNotFound();
      throw new DomainError("invalid_state", loan.status === "guarantee_called" ? "The guarantee was called: the guarantor repays this loan now" : "The guarantor repays a loan once its guarantee is called", { status: loan.status });
    }
    if (!OPEN_LOAN_STATUSES.includes(loan.status as LoanStatus)) {
      throw new DomainError("invalid_state", `A loan that is ${loan.status.replaceAll("_", " ")} owes nothing`, { status: loan.status });
    }
    // As a wallet repayment does: the amount includes every day's interest before today.
    const today = shanghaiDate(now);
    await accrueLoans(trx, [loan.id], addDays(today, -1), now);
    loan = await lockLoan(trx, loan.id);
    const owedFen = totalOwed(await owedOn(trx, loan, await readInstalments(trx, loan.id), today, input.mode === "payoff"));
    if (owedFen === 0) throw new DomainError("invalid_state", "Nothing is due on this loan today: repay in full to settle it early", { amount_fen: "nothing due" });
    return { payer, owedFen, number: loan.number, bankId: await bankOrganizationId(trx), references: await currentEpayRepaymentReferences(trx, payer, loan.id) };
  });
  // One e-Pay repayment at a time: a pending attempt of the other mode is asked about first (it
  // may have been paid), and refused while it stays in flight.
  const other = input.mode === "due" ? "payoff" : "due";
  const otherAttempts = await settlePaymentAttempts(db, plan.payer, plan.references[other], deps);
  if (otherAttempts.inFlight) {
    throw new DomainError("invalid_state", `an e-Pay repayment of this loan is in progress (payment ${otherAttempts.inFlight.id}): finish or fail it first`, { payment: "payment_pending" });
  }
  const description = (input.description?.trim() || `Loan ${plan.number} repayment`).slice(0, EPAY_REPAYMENT_LIMITS.descriptionChars);
  const started = await startPaymentAttempt(
    db,
    actor,
    {
      payerOrganizationId: plan.payer,
      // The bank lends and is repaid; the ledger moves the money, the payee names who is paid.
      payeeOrganizationId: plan.bankId,
      purpose: "loan_repayment",
      reference: plan.references[input.mode],
      amountFen: plan.owedFen,
      description,
      returnPath: `/financing/loans/${loanId}`,
    },
    deps,
  );
  return { paymentId: started.payment.id, payUrl: started.payUrl, mode: input.mode, amountFen: started.payment.amountFen };
}

/**
 * Where the payer's e-Pay repayment of this loan stands (for the loan's page): the attempt in
 * flight and whether the latest failed, after asking the gateway about a pending one.
 * `changed`: the gateway's answer was just recorded (and so the loan may have been repaid).
 */
export async function settleEpayRepaymentAttempts(db: Db, payerOrganizationId: string, loanId: string, deps: PaymentsDeps | undefined) {
  const references = await currentEpayRepaymentReferences(db, payerOrganizationId, loanId);
  let changed = false;
  let lastFailed: Payment | null = null;
  for (const mode of MODES) {
    const attempts = await settlePaymentAttempts(db, payerOrganizationId, references[mode], deps);
    changed ||= attempts.changed;
    if (attempts.inFlight) return { inFlight: attempts.inFlight, lastFailed: null, changed };
    if (attempts.lastFailed && (!lastFailed || attempts.lastFailed.createdAt > lastFailed.createdAt)) lastFailed = attempts.lastFailed;
  }
  return { inFlight: null, lastFailed, changed };
}

/**
 * The `loan_repayment` purpose handler (decision 021): in the capture's transaction, repay the
 * loan from the payer's wallet, which the capture has just credited. See the module comment for
 * the rule when the loan moved on. A payment that names no loan, or is paid by an organisation that
 * is no party of the loan, can never be applied: a DomainError (the bank looks at it).
 */
export async function applyCapturedLoanRepayment(trx: Trx, payment: Payment, now: Date): Promise<PurposeResult> {
  const match = REFERENCE.exec(payment.reference);
  if (!match) throw new DomainError("validation", `payment ${payment.id} names no loan (${payment.reference})`);
  const [, loanId, mode] = match as unknown as [string, string, EpayRepaymentMode];
  const idempotencyKey = `epay:${payment.id}:loan_repayment`;
  let loan = await lockLoan(trx, loanId);
  if (payment.payerOrganizationId !== loan.borrower_organization_id && payment.payerOrganizationId !== loan.guarantor_organization_id) {
    throw new DomainError("validation", `payment ${payment.id} was not paid by a party of loan ${loan.number}`);
  }
  // A replay (the fulfil step of a payment captured before its outcome was recorded) finds it applied.
  const seen = await trx.selectFrom("loan_repayments").select("id").where("idempotency_key", "=", idempotencyKey).executeTakeFirst();
  if (seen) return { outcome: "applied" };

  const left = async (why: string, appliedFen: Fen) => {
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: "financing.epay_left_in_wallet",
      entityType: "loan",
      entityId: loan.id,
      organizationId: payment.payerOrganizationId,
      after: { payment_id: payment.id, mode, amount_fen: payment.amountFen, applied_fen: appliedFen, left_fen: payment.amountFen - appliedFen, why },
    });
  };
  const leaveAll = async (why: string): Promise<PurposeResult> => {
    await left(why, 0);
    return { outcome: "left_in_wallet", why };
  };
  if (!OPEN_LOAN_STATUSES.includes(loan.status as LoanStatus)) return leaveAll(`loan ${loan.number} is ${loan.status}`);
  if (payment.payerOrganizationId !== payerOf(loan)) return leaveAll(`loan ${loan.number} is repaid by its ${loan.status === "guarantee_called" ? "guarantor" : "borrower"} now`);

  const today = shanghaiDate(now);
  await accrueLoans(trx, [loan.id], addDays(today, -1), now);
  loan = await lockLoan(trx, loan.id);
  const instalments = await readInstalments(trx, loan.id);
  let input: RepaymentInput | null = null;
  if (mode === "payoff") {
    const payoffFen = totalOwed(await owedOn(trx, loan, instalments, today, true));
    if (payoffFen > 0 && payment.amountFen >= payoffFen) input = { mode: "payoff", source: "epay", idempotencyKey };
  }
  if (!input) {
    const dueFen = totalOwed(await owedOn(trx, loan, instalments, today, false));
    if (dueFen === 0) return leaveAll(`nothing is due on loan ${loan.number} now`);
    input = { mode: "due", amountFen: Math.min(payment.amountFen, dueFen), source: "epay", idempotencyKey };
  }
  // The system repays (no member acts in a callback); the payer was checked above.
  const result = await repayLoan(trx, SYSTEM_ACTOR, loan.id, input, now);
  if (result.amountFen < payment.amountFen) {
    await left(mode === "payoff" && input.mode === "due" ? "the payment no longer covers the payoff: what is due was repaid" : "less was owed than was paid", result.amountFen);
  }
  return { outcome: "applied" };
}
