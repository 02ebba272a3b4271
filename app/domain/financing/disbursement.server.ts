import { inTransaction, type Db } from "../../../db";
import { type Actor, isUuid, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import { applyBatch, ensureAccount, type BatchOperation } from "../ledger";
import { markFinancingDisbursed, onAccountOutstanding, orderForFinancing } from "../orders";
import { isAdvanceable, lockMarketOrderStatus } from "../market";
import { findApplicationTransition } from "./states";
import { buildSchedule, type Instalment } from "./schedule";
import { contractRates } from "./products.server";
import { lockApplication, withdrawApplication, type ApplicationRow } from "./applications.server";
import { accountCodes, ensureLoanAccounts, nextNumber, readProduct, recordFinancingEvents, type LoanProductRow } from "./internal.server";

/**
 * Disbursement (放款): the workflow step an approved application's outbox row runs. One
 * transaction: the loan is written with its rates (fixed now, from the LPR in force today) and its
 * schedule, the reservations on the limits are posted, the principal moves from the loan's
 * receivable to where the money goes (for order financing, the core enterprise's wallet, and the
 * order becomes paid), and the application becomes `disbursed`. Run twice, the second run finds
 * the application disbursed and does nothing.
 */

export interface SchedulePreview {
  annualRatePpm: number;
  penaltyRatePpm: number;
  lprPpm: number | null;
  instalments: Instalment[];
}

/** The schedule a loan of this product would get if paid out today: shown before the borrower asks. */
export async function previewSchedule(db: Db, product: LoanProductRow, principalFen: number, now: Date): Promise<SchedulePreview> {
  const today = shanghaiDate(now);
  const rates = await contractRates(db, product, today);
  const instalments = buildSchedule({
    principalFen,
    annualRatePpm: rates.annualRatePpm,
    method: product.repayment_method,
    startOn: today,
    ...(product.term_days != null ? { termDays: product.term_days } : { termMonths: product.term_months! }),
  });
  return { ...rates, instalments };
}

export async function disburseApplication(db: Db, applicationId: string, now: Date): Promise<{ loanId: string | null }> {
  return inTransaction(db, async (trx) => {
    // A merchant's advance: the escrow order's row first, as the settlement takes them (order,
    // then application), so neither waits on the other the opposite way round.
    const named = isUuid(applicationId) ? await trx.selectFrom("loan_applications").select("market_order_id").where("id", "=", applicationId).executeTakeFirst() : undefined;
    const marketOrderStatus = named?.market_order_id ? await lockMarketOrderStatus(trx, named.market_order_id) : null;
    const app = await lockApplication(trx, applicationId);
    if (app.status === "disbursed") {
      const loan = await trx.selectFrom("loans").select("id").where("application_id", "=", app.id).executeTakeFirst();
      return { loanId: loan?.id ?? null };
    }
    if (app.status !== "approved") return { loanId: null };
    const product = await readProduct(trx, app.product_id);
    if (app.order_id && product.kind !== "receivables") {
      const order = await orderForFinancing(trx, app.order_id);
      if (!order || order.status !== "awaiting_financing" || order.total_fen !== app.amount_fen) {
        // The purpose is gone (it cannot be cancelled while financed, but a changed total would be
        // a bug): nothing is paid out, the reservations go back.
        await withdrawApplication(trx, SYSTEM_ACTOR, app.id, now, "system");
        return { loanId: null };
      }
    }
    // A receivable the dealer has paid meanwhile (an officer approved late) has nothing left to advance on.
    if (app.order_id && product.kind === "receivables" && (await onAccountOutstanding(trx, app.order_id)) <= 0) {
      await withdrawApplication(trx, SYSTEM_ACTOR, app.id, now, "system");
      return { loanId: null };
    }
    // An escrow order settled, refunded or disputed meanwhile: its proceeds are paid out or in doubt.
    if (app.market_order_id) {
      if (!marketOrderStatus || !isAdvanceable(marketOrderStatus)) {
        await withdrawApplication(trx, SYSTEM_ACTOR, app.id, now, "system");
        return { loanId: null };
      }
    }
    return { loanId: await payOut(trx, app, product, now) };
  });
}

async function payOut(trx: Db, app: ApplicationRow, product: LoanProductRow, now: Date): Promise<string> {
  const today = shanghaiDate(now);
  const preview = await previewSchedule(trx, product, app.amount_fen, now);
  const maturityOn = preview.instalments[preview.instalments.length - 1]!.dueOn;
  const facility = app.guarantor_organization_id
    ? await trx.selectFrom("financing_facilities").select("buy_back_days").where("kind", "=", "guarantee").where("guarantor_organization_id", "=", app.guarantor_organization_id).executeTakeFirst()
    : undefined;
  const number = await nextNumber(trx, "LN", today);
  const loan = await trx
    .insertInto("loans")
    .values({
      number,
      application_id: app.id,
      product_id: product.id,
      kind: product.kind,
      borrower_organization_id: app.borrower_organization_id,
      guarantor_organization_id: app.guarantor_organization_id,
      order_id: app.order_id,
      market_order_id: app.market_order_id,
      principal_fen: app.amount_fen,
      annual_rate_ppm: preview.annualRatePpm,
      penalty_rate_ppm: preview.penaltyRatePpm,
      repayment_method: product.repayment_method,
      grace_days: product.grace_days,
      buy_back_days: facility?.buy_back_days ?? null,
      disbursed_on: today,
      maturity_on: maturityOn,
    })
    .returning(["id", "number", "borrower_organization_id"])
    .executeTakeFirstOrThrow();
  await trx
    .insertInto("loan_instalments")
    .values(
      preview.instalments.map((i) => ({
        loan_id: loan.id,
        seq: i.seq,
        period_start_on: i.periodStartOn,
        due_on: i.dueOn,
        days: i.days,
        principal_fen: i.principalFen,
        interest_fen: i.interestFen,
      })),
    )
    .execute();

  const accounts = await ensureLoanAccounts(trx, loan);
  // Where the money goes: an order's supplier, or (credit lines, receivables) the borrower.
  const payeeId = app.order_id ? (await orderForFinancing(trx, app.order_id))!.core_enterprise_id : app.borrower_organization_id;
  const payee = await ensureAccount(trx, { kind: "wallet", organizationId: payeeId });
  const operations: BatchOperation[] = [
    ...app.holds.map((h) => ({ op: "post_pending" as const, pendingId: h.transferId, idempotencyKey: `loan:${loan.id}:draw:${h.facilityId}` })),
    {
      op: "transfer",
      idempotencyKey: `loan:${loan.id}:disbursement`,
      kind: "loan_disbursement",
      reference: `loan:${loan.id}`,
      debitAccountId: accounts.principal.id,
      creditAccountId: payee.id,
      amountFen: app.amount_fen,
    },
  ];
  await applyBatch(trx, operations);
  const to = findApplicationTransition("approved", "disburse")!.to;
  await trx.updateTable("loan_applications").set({ status: to }).where("id", "=", app.id).execute();
  if (app.order_id && product.kind !== "receivables") await markFinancingDisbursed(trx, app.order_id, loan, now);
  const system: Actor = SYSTEM_ACTOR;
  await recordFinancingEvents(trx, system, [
    { applicationId: app.id, event: "disbursed", detail: { loan_id: loan.id, loan_number: number } },
    {
      loanId: loan.id,
      event: "disbursed",
      detail: { principal_fen: app.amount_fen, annual_rate_ppm: preview.annualRatePpm, lpr_ppm: preview.lprPpm, paid_to: payeeId, maturity_on: maturityOn },
    },
  ], now);
  return loan.id;
}

export { accountCodes };
