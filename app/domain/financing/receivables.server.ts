import { sql } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { type Actor, addDays, divideHalfEven, DomainError, isUuid, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import type { Fen } from "../ledger";
import { latestOnAccountRepaymentId, lockOnAccountReceivable, onAccountReceivables, repayOnAccount } from "../orders";
import { HOLDING_APPLICATION_STATUSES, OPEN_LOAN_STATUSES, type LoanStatus } from "./states";
import { productOfKind } from "./products.server";
import { openApplication, withdrawApplication, type ApplicationRow } from "./applications.server";
import { accrueLoans, owedOn, repayLoan, totalOwed } from "./loans.server";
import { lockLoan, readInstalments, type LoanProductRow } from "./internal.server";

/**
 * Receivables advances (应收账款融资): a core enterprise sells the bank what a dealer owes it on an
 * on-account order. The advance is the product's share of what is still owed (half-even to the
 * fen), lent to the core enterprise through `openApplication` without a guarantor, with the loan's
 * `order_id` naming the receivable; the disbursement step pays the core enterprise's wallet and
 * leaves the order alone (it was already paid on account).
 *
 * The receivable is assigned: when the dealer repays the order, the bank is paid first from that
 * money, up to what the loan owes in full; the seller keeps the rest. Both moves are one
 * transaction, so the seller never holds the debtor's money while the loan still names it.
 */

export interface ReceivablesProduct {
  id: string;
  name: string;
  nameEn: string;
  advanceRateBps: number;
  /** Days past due an order may be and still be sold. */
  graceDays: number;
  rateBasis: "lpr" | "fixed";
  fixedRatePpm: number | null;
  spreadBps: number;
  termDays: number | null;
  minAmountFen: Fen;
  maxAmountFen: Fen;
}

export interface ReceivableForSale {
  orderId: string;
  orderNumber: string;
  dealerId: string;
  dealerName: string;
  dueOn: string;
  daysOverdue: number;
  outstandingFen: Fen;
  /** What the bank would advance on it today. */
  advanceFen: Fen;
}

export interface ReceivablesForSale {
  /** Null when the bank offers no receivables product: nothing can be sold. */
  product: ReceivablesProduct | null;
  receivables: ReceivableForSale[];
}

/** The advance on `outstandingFen` at `advanceRateBps`, half-even to the fen. */
export function advanceOn(outstandingFen: Fen, advanceRateBps: number): Fen {
  return Number(divideHalfEven(BigInt(outstandingFen) * BigInt(advanceRateBps), 10_000n));
}

export function productView(p: LoanProductRow): ReceivablesProduct {
  return {
    id: p.id,
    name: p.name,
    nameEn: p.name_en,
    advanceRateBps: p.advance_rate_bps ?? 0,
    graceDays: p.grace_days,
    rateBasis: p.rate_basis,
    fixedRatePpm: p.fixed_rate_ppm,
    spreadBps: p.spread_bps,
    termDays: p.term_days,
    minAmountFen: p.min_amount_fen,
    maxAmountFen: p.max_amount_fen,
  };
}

export async function activeProduct(db: Db): Promise<LoanProductRow | null> {
  try {
    return await productOfKind(db, "receivables");
  } catch (error) {
    if (error instanceof DomainError && error.fields.product === "none") return null;
    throw error;
  }
}

/**
 * Of these orders, those already sold: a receivables application still in play (applied, awaiting
 * a second approval, approved) or disbursed into a loan that is still open. A rejected or
 * withdrawn application, or a loan repaid, frees the order.
 */
async function soldOrderIds(db: Db, orderIds: readonly string[]): Promise<Set<string>> {
  if (orderIds.length === 0) return new Set();
  const rows = await db
    .selectFrom("loan_applications as a")
    .innerJoin("loan_products as p", "p.id", "a.product_id")
    .leftJoin("loans as l", "l.application_id", "a.id")
    .select("a.order_id")
    .where("p.kind", "=", "receivables")
    .where("a.order_id", "=", sql<string>`any(${[...orderIds]}::uuid[])`)
    .where((eb) => eb.or([eb("a.status", "in", HOLDING_APPLICATION_STATUSES), eb("l.status", "in", OPEN_LOAN_STATUSES)]))
    .execute();
  return new Set(rows.map((r) => r.order_id!));
}

/**
 * What the core enterprise may sell today: its on-account orders still owing something, not yet
 * due or overdue by at most the product's grace days, not already sold; each with the advance the
 * bank would pay on it. Without a receivables product the list is empty.
 */
export async function receivablesForSale(db: Db, coreEnterpriseId: string, now: Date): Promise<ReceivablesForSale> {
  const product = await activeProduct(db);
  if (!product || !isUuid(coreEnterpriseId)) return { product: product ? productView(product) : null, receivables: [] };
  const owing = await onAccountReceivables(db, { coreEnterpriseId, today: shanghaiDate(now), overdueDaysAtMost: product.grace_days });
  const sold = await soldOrderIds(db, owing.map((r) => r.orderId));
  const view = productView(product);
  return {
    product: view,
    receivables: owing.filter((r) => !sold.has(r.orderId)).map((r) => ({ ...r, advanceFen: advanceOn(r.outstandingFen, view.advanceRateBps) })),
  };
}

function orderRefused(code: string, words: string, message: string): DomainError {
  return new DomainError("invalid_state", message, { order_id: words }, { order_id: code });
}

/**
 * The core enterprise sells one on-account order's receivable. One transaction under the order's
 * row lock (a second sale of the same order waits, then finds the first): the advance is the
 * product's share of what is still owed, the application goes through every check of
 * `openApplication` on the core enterprise's own limit, and below the auto-approval limit its
 * disbursement is queued. Another enterprise's order, or one not on account, is not found.
 */
export async function sellReceivable(db: Db, actor: Actor, input: { orderId: string }, now: Date): Promise<ApplicationRow> {
  if (!actor.organizationId) throw new DomainError("forbidden", "An organisation sells its receivables");
  const coreEnterpriseId = actor.organizationId;
  if (!isUuid(input.orderId)) throw new DomainError("not_found", "order not found", { order_id: "not found" });
  return inTransaction(db, async (trx) => {
    const today = shanghaiDate(now);
    const receivable = await lockOnAccountReceivable(trx, { coreEnterpriseId, orderId: input.orderId, today });
    if (!receivable) {
      // Not this enterprise's on-account order (or any order): the same answer either way. Its own
      // order with nothing left owing is a state, said as one.
      const own = await trx.selectFrom("orders").select("id").where("id", "=", input.orderId).where("core_enterprise_id", "=", coreEnterpriseId).where("payment_method", "=", "on_account").executeTakeFirst();
      if (!own) throw new DomainError("not_found", "order not found", { order_id: "not found" });
      throw orderRefused("nothing_owed", "nothing owed on account", "Nothing is owed on account for this order");
    }
    const product = await productOfKind(trx, "receivables");
    if (receivable.daysOverdue > product.grace_days) {
      throw orderRefused("overdue", `overdue ${receivable.daysOverdue} days`, `Order ${receivable.orderNumber} is ${receivable.daysOverdue} days overdue; at most ${product.grace_days} may be sold`);
    }
    if ((await soldOrderIds(trx, [receivable.orderId])).size > 0) {
      throw new DomainError("conflict", `The receivable of order ${receivable.orderNumber} is already sold`, { order_id: "already sold" }, { order_id: "sold" });
    }
    const amountFen = advanceOn(receivable.outstandingFen, product.advance_rate_bps ?? 0);
    return openApplication(trx, actor, { product, borrowerId: coreEnterpriseId, guarantorId: null, orderId: receivable.orderId, amountFen, now });
  });
}

export interface AssignedRepaymentResult {
  /** What the dealer paid on the order (dealer's wallet → core enterprise's wallet). */
  repaidFen: Fen;
  /** The receivables loan the order was sold under; null when it was not sold. */
  loanId: string | null;
  /** Of the dealer's payment, what went on to the bank. */
  toBankFen: Fen;
  /** What the core enterprise keeps. */
  toSellerFen: Fen;
  loanStatus: LoanStatus | null;
}

/**
 * The dealer repays an on-account order whose receivable may have been sold. One transaction:
 * the orders context settles the order (dealer → core enterprise, the dealer's credit restored);
 * then, when an open receivables loan names the order, the money goes on from the core
 * enterprise's wallet to the bank (source `debtor_payment`): the whole payoff (principal and
 * interest to date) when the payment covers it, otherwise what is due now up to the payment. A
 * payment that covers neither (a bullet loan before maturity whose payoff exceeds the payment,
 * which an advance below 100% makes rare) passes nothing on: a partial prepayment is a contract
 * change this platform does not offer (decision 024), so the loan stays the seller's to repay.
 * A sale approved but not yet paid out is withdrawn in the same transaction; one still waiting for
 * the bank's officers is left to them.
 */
export async function repayOnAccountWithAssignment(db: Db, actor: Actor, orderId: string, now: Date): Promise<AssignedRepaymentResult> {
  return inTransaction(db, async (trx) => {
    const { repaidFen } = await repayOnAccount(trx, actor, orderId);
    // A sale approved but not yet paid out has lost what it was for: the system withdraws it, so
    // the bank does not advance on money the seller now holds (its holds go back to the limit).
    const approved = await trx
      .selectFrom("loan_applications as a")
      .innerJoin("loan_products as p", "p.id", "a.product_id")
      .select("a.id")
      .where("a.order_id", "=", orderId)
      .where("p.kind", "=", "receivables")
      .where("a.status", "=", "approved")
      .execute();
    for (const a of approved) await withdrawApplication(trx, { ...SYSTEM_ACTOR, requestId: actor.requestId }, a.id, now, "system");
    const loanRow = await trx
      .selectFrom("loans")
      .select("id")
      .where("order_id", "=", orderId)
      .where("kind", "=", "receivables")
      .where("status", "in", OPEN_LOAN_STATUSES)
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!loanRow) return { repaidFen, loanId: null, toBankFen: 0, toSellerFen: repaidFen, loanStatus: null };

    // What repayLoan will see: the loan accrued through yesterday, then owed today.
    const today = shanghaiDate(now);
    await accrueLoans(trx, [loanRow.id], addDays(today, -1), now);
    const loan = await lockLoan(trx, loanRow.id);
    const instalments = await readInstalments(trx, loan.id);
    const payoffFen = totalOwed(await owedOn(trx, loan, instalments, today, true));
    const dueFen = totalOwed(await owedOn(trx, loan, instalments, today, false));
    const transferId = await latestOnAccountRepaymentId(trx, orderId);
    const idempotencyKey = `loan:${loan.id}:debtor:${transferId ?? `order:${orderId}`}`;
    // The assignment moves the money, not a party of the loan: the dealer is neither borrower nor guarantor.
    const system: Actor = { ...SYSTEM_ACTOR, requestId: actor.requestId };
    let result: Awaited<ReturnType<typeof repayLoan>> | null = null;
    if (payoffFen > 0 && payoffFen <= repaidFen) {
      result = await repayLoan(trx, system, loan.id, { mode: "payoff", source: "debtor_payment", idempotencyKey }, now);
    } else if (dueFen > 0) {
      result = await repayLoan(trx, system, loan.id, { mode: "due", amountFen: Math.min(dueFen, repaidFen), source: "debtor_payment", idempotencyKey }, now);
    }
    const toBankFen = result?.amountFen ?? 0;
    return { repaidFen, loanId: loan.id, toBankFen, toSellerFen: repaidFen - toBankFen, loanStatus: result?.loanStatus ?? (loan.status as LoanStatus) };
  });
}

export interface SoldReceivable {
  loanId: string;
  loanNumber: string;
  status: LoanStatus;
  orderId: string;
  orderNumber: string;
  dealerName: string;
  principalFen: Fen;
  annualRatePpm: number;
  disbursedOn: string;
  maturityOn: string;
  /** Everything the bank has received on the loan. */
  repaidFen: Fen;
  /** The part of it that came from the dealer's payment of the order. */
  fromDebtorFen: Fen;
}

/** The core enterprise's receivables loans, newest first, with what the bank has been repaid on each. */
export async function receivablesSold(db: Db, coreEnterpriseId: string, limit = 200): Promise<SoldReceivable[]> {
  if (!isUuid(coreEnterpriseId)) return [];
  const rows = await db
    .selectFrom("loans as l")
    .innerJoin("orders as o", "o.id", "l.order_id")
    .innerJoin("organizations as d", "d.id", "o.dealer_id")
    .select([
      "l.id",
      "l.number",
      "l.status",
      "l.order_id",
      "o.number as order_number",
      "d.name as dealer_name",
      "l.principal_fen",
      "l.annual_rate_ppm",
      sql<string>`to_char(l.disbursed_on, 'YYYY-MM-DD')`.as("disbursed_on"),
      sql<string>`to_char(l.maturity_on, 'YYYY-MM-DD')`.as("maturity_on"),
      sql<string>`coalesce((select sum(r.amount_fen) from loan_repayments r where r.loan_id = l.id), 0)`.as("repaid_fen"),
      sql<string>`coalesce((select sum(r.amount_fen) from loan_repayments r where r.loan_id = l.id and r.source = 'debtor_payment'), 0)`.as("from_debtor_fen"),
    ])
    .where("l.borrower_organization_id", "=", coreEnterpriseId)
    .where("l.kind", "=", "receivables")
    .orderBy("l.created_at", "desc")
    .orderBy("l.id", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    loanId: r.id,
    loanNumber: r.number,
    status: r.status as LoanStatus,
    orderId: r.order_id!,
    orderNumber: r.order_number,
    dealerName: r.dealer_name,
    principalFen: r.principal_fen,
    annualRatePpm: r.annual_rate_ppm,
    disbursedOn: r.disbursed_on,
    maturityOn: r.maturity_on,
    repaidFen: Number(r.repaid_fen),
    fromDebtorFen: Number(r.from_debtor_fen),
  }));
}
