import { sql } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { type Actor, addDays, DomainError, isUuid, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import type { Fen } from "../ledger";
import {
  advanceableMarketOrders,
  getDisputeOrderId,
  isAdvanceable,
  lockAdvanceableMarketOrder,
  marketOrderOutcomes,
  ruleDispute,
  settleReceivedOrders,
  type AdvanceableOrder,
} from "../market";
import type { MarketOrderStatus } from "../../../db/schema";
import { HOLDING_APPLICATION_STATUSES, OPEN_LOAN_STATUSES, type ApplicationStatus, type LoanStatus } from "./states";
import { productOfKind } from "./products.server";
import { openApplication, withdrawApplication, type ApplicationRow } from "./applications.server";
import { accrueLoans, owedOn, repayLoan, totalOwed } from "./loans.server";
import { lockLoan, readInstalments } from "./internal.server";
import { activeProduct, advanceOn, productView, type ReceivablesProduct } from "./receivables.server";

/**
 * Receivables advances for market merchants (应收账款融资, decision 024): a merchant sells the bank
 * the proceeds of one of its escrow orders that is shipped or received (not disputed, not settled).
 * The advance is the receivables product's rate of what settlement will pay the merchant (the goods
 * total less the commission fixed at placement), half-even to the fen, lent to the merchant
 * through `openApplication` without a guarantor, the loan's `market_order_id` naming the order.
 * Disbursement pays the merchant's wallet and leaves the order alone.
 *
 * The proceeds are assigned: when the order settles (or a dispute is ruled to release money to
 * the merchant), the same transaction moves from the merchant's wallet to the bank what the loan
 * owes, up to what the release paid (source `debtor_payment`); the merchant keeps the rest. The
 * market does not know of loans: the settlement step and the ruling are called through
 * `settleMarketOrdersWithAssignment` and `ruleMarketDisputeWithAssignment`, which wrap the
 * market's own functions in one transaction, as `repayOnAccountWithAssignment` wraps the orders'.
 *
 * A ruling that refunds the buyer in full pays the merchant nothing: no money comes, and the loan
 * stays the merchant's to repay by its schedule.
 */

export interface MarketReceivableForSale extends AdvanceableOrder {
  /** What the bank would advance on the order today. */
  advanceFen: Fen;
}

export interface MarketReceivablesForSale {
  product: ReceivablesProduct | null;
  receivables: MarketReceivableForSale[];
}

/** Of these escrow orders, those whose proceeds are sold: an application in play or an open loan. */
async function soldMarketOrderIds(db: Db, orderIds: readonly string[]): Promise<Set<string>> {
  if (orderIds.length === 0) return new Set();
  const rows = await db
    .selectFrom("loan_applications as a")
    .leftJoin("loans as l", "l.application_id", "a.id")
    .select("a.market_order_id")
    .where("a.market_order_id", "=", sql<string>`any(${[...orderIds]}::uuid[])`)
    .where((eb) => eb.or([eb("a.status", "in", HOLDING_APPLICATION_STATUSES), eb("l.status", "in", OPEN_LOAN_STATUSES)]))
    .execute();
  return new Set(rows.map((r) => r.market_order_id!));
}

/**
 * What the merchant may sell today: its shipped and received escrow orders whose proceeds are not
 * already sold, each with the advance. Without a receivables product the list is empty.
 */
export async function marketReceivablesForSale(db: Db, merchantId: string): Promise<MarketReceivablesForSale> {
  const product = await activeProduct(db);
  if (!product || !isUuid(merchantId)) return { product: product ? productView(product) : null, receivables: [] };
  const orders = await advanceableMarketOrders(db, merchantId);
  const sold = await soldMarketOrderIds(db, orders.map((o) => o.orderId));
  const rateBps = product.advance_rate_bps ?? 0;
  return {
    product: productView(product),
    receivables: orders.filter((o) => !sold.has(o.orderId)).map((o) => ({ ...o, advanceFen: advanceOn(o.proceedsFen, rateBps) })),
  };
}

/**
 * The merchant sells one escrow order's proceeds. One transaction under the market order's row
 * lock (a second sale waits and then finds the first; a settlement of the order waits for the
 * sale): the advance is the product's share of the proceeds, and the application goes through
 * every check of `openApplication` on the merchant's own limit. Another party's order is not found.
 */
export async function sellMarketReceivable(db: Db, actor: Actor, input: { marketOrderId: string }, now: Date): Promise<ApplicationRow> {
  if (!actor.organizationId) throw new DomainError("forbidden", "An organisation sells its receivables");
  const merchantId = actor.organizationId;
  if (!isUuid(input.marketOrderId)) throw new DomainError("not_found", "market order not found", { market_order_id: "not found" });
  return inTransaction(db, async (trx) => {
    const order = await lockAdvanceableMarketOrder(trx, merchantId, input.marketOrderId);
    if (!isAdvanceable(order.status)) {
      throw new DomainError(
        "invalid_state",
        `Order ${order.orderNo} is ${order.status}: only a shipped or received order whose money is still held can be sold`,
        { market_order_id: `order is ${order.status}` },
        { market_order_id: order.status },
      );
    }
    const product = await productOfKind(trx, "receivables");
    if ((await soldMarketOrderIds(trx, [order.orderId])).size > 0) {
      throw new DomainError("conflict", `The proceeds of order ${order.orderNo} are already sold`, { market_order_id: "already sold" }, { market_order_id: "sold" });
    }
    const amountFen = advanceOn(order.proceedsFen, product.advance_rate_bps ?? 0);
    return openApplication(trx, actor, { product, borrowerId: merchantId, guarantorId: null, orderId: null, marketOrderId: order.orderId, amountFen, now });
  });
}

export interface ProceedsToBank {
  orderId: string;
  loanId: string;
  /** What the release paid the merchant (0 for a full refund). */
  proceedsFen: Fen;
  toBankFen: Fen;
  loanStatus: LoanStatus;
}

/**
 * After these escrow orders were resolved in `trx` (settled, or ruled), pass each one's proceeds
 * on to the bank where an open receivables loan names it: the whole payoff when the proceeds cover
 * it, otherwise what is due now up to the proceeds; a bullet loan before maturity whose payoff
 * exceeds them passes nothing (a partial prepayment is a contract change, decision 024). A sale
 * approved but not yet paid out is withdrawn: its purpose is gone. Cheap when nothing is sold:
 * one indexed query for the batch.
 */
export async function passMarketProceedsToBank(trx: Db, orderIds: readonly string[], now: Date, requestId: string | null = null): Promise<ProceedsToBank[]> {
  const ids = orderIds.filter(isUuid);
  if (ids.length === 0) return [];
  const named = await trx
    .selectFrom("loan_applications as a")
    .leftJoin("loans as l", "l.application_id", "a.id")
    .select(["a.id as application_id", "a.status as application_status", "a.market_order_id", "l.id as loan_id", "l.status as loan_status"])
    .where("a.market_order_id", "=", sql<string>`any(${ids}::uuid[])`)
    .where((eb) => eb.or([eb("a.status", "=", "approved"), eb("l.status", "in", OPEN_LOAN_STATUSES)]))
    .execute();
  if (named.length === 0) return [];
  const system: Actor = { ...SYSTEM_ACTOR, requestId };
  const outcomes = new Map((await marketOrderOutcomes(trx, named.map((n) => n.market_order_id!))).map((o) => [o.orderId, o]));
  const ended = (orderId: string) => {
    const status = outcomes.get(orderId)?.status;
    return status === "settled" || status === "refunded" || status === "cancelled";
  };
  const results: ProceedsToBank[] = [];
  for (const n of named) {
    const orderId = n.market_order_id!;
    if (!ended(orderId)) continue;
    let loanId = n.loan_id;
    if (!loanId) {
      // Approved, not yet paid out: the bank would advance on money the merchant now holds. Under
      // the application's lock: a disbursement that read the order before this settlement
      // committed may have paid out meanwhile, and then its loan is repaid below like any other.
      const app = await trx.selectFrom("loan_applications").select("status").where("id", "=", n.application_id).forUpdate().executeTakeFirstOrThrow();
      if (app.status === "approved") {
        await withdrawApplication(trx, system, n.application_id, now, "system");
        continue;
      }
      const paidOut = await trx.selectFrom("loans").select("id").where("application_id", "=", n.application_id).executeTakeFirst();
      if (!paidOut) continue;
      loanId = paidOut.id;
    }
    const proceedsFen = outcomes.get(orderId)!.settledNetFen;
    if (proceedsFen <= 0) {
      // Refunded to the buyer: no money comes; the loan stays the merchant's to repay.
      const open = await lockLoan(trx, loanId);
      results.push({ orderId, loanId, proceedsFen: 0, toBankFen: 0, loanStatus: open.status as LoanStatus });
      continue;
    }
    const today = shanghaiDate(now);
    // What repayLoan will see: the loan accrued through yesterday, then owed today.
    await accrueLoans(trx, [loanId], addDays(today, -1), now);
    const loan = await lockLoan(trx, loanId);
    if (!OPEN_LOAN_STATUSES.includes(loan.status as LoanStatus)) continue;
    const instalments = await readInstalments(trx, loan.id);
    const payoffFen = totalOwed(await owedOn(trx, loan, instalments, today, true));
    const dueFen = totalOwed(await owedOn(trx, loan, instalments, today, false));
    const idempotencyKey = `loan:${loan.id}:debtor:market_order:${orderId}`;
    let result: Awaited<ReturnType<typeof repayLoan>> | null = null;
    if (payoffFen > 0 && payoffFen <= proceedsFen) {
      result = await repayLoan(trx, system, loan.id, { mode: "payoff", source: "debtor_payment", idempotencyKey }, now);
    } else if (dueFen > 0) {
      result = await repayLoan(trx, system, loan.id, { mode: "due", amountFen: Math.min(dueFen, proceedsFen), source: "debtor_payment", idempotencyKey }, now);
    }
    results.push({ orderId, loanId: loan.id, proceedsFen, toBankFen: result?.amountFen ?? 0, loanStatus: result?.loanStatus ?? (loan.status as LoanStatus) });
  }
  return results;
}

/**
 * The market's settlement step with the assignment honoured: the received orders settled (their
 * holds posted to the merchants less commission) and, in the same transaction, the proceeds of
 * those sold passed on to the bank. The workflow's settle step calls this.
 */
export async function settleMarketOrdersWithAssignment(db: Db, options: { limit?: number; now: Date; orderIds?: readonly string[] }): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const settled = await settleReceivedOrders(trx, options);
    await passMarketProceedsToBank(trx, settled, options.now);
    return settled;
  });
}

/**
 * The operator's ruling of a dispute with the assignment honoured: what the ruling releases to the
 * merchant goes to the bank first, in the ruling's transaction; a full refund passes nothing on.
 */
export async function ruleMarketDisputeWithAssignment(db: Db, actor: Actor, operatorId: string, disputeId: string, input: Parameters<typeof ruleDispute>[4], now: Date): Promise<ProceedsToBank[]> {
  return inTransaction(db, async (trx) => {
    await ruleDispute(trx, actor, operatorId, disputeId, input, now);
    const orderId = await getDisputeOrderId(trx, operatorId, disputeId);
    return passMarketProceedsToBank(trx, [orderId], now, actor.requestId);
  });
}

export interface SoldMarketReceivable {
  applicationId: string;
  applicationNumber: string;
  applicationStatus: ApplicationStatus;
  amountFen: Fen;
  marketOrderId: string;
  orderNo: string;
  orderStatus: MarketOrderStatus;
  loanId: string | null;
  loanNumber: string | null;
  loanStatus: LoanStatus | null;
  maturityOn: string | null;
  /** Everything the bank has received on the loan. */
  repaidFen: Fen;
  /** The part of it the order's settlement paid. */
  fromSettlementFen: Fen;
}

/** The merchant's sales of escrow proceeds, newest first: the application, its loan, what was repaid. */
export async function marketReceivablesSold(db: Db, merchantId: string, limit = 200): Promise<SoldMarketReceivable[]> {
  if (!isUuid(merchantId)) return [];
  const rows = await db
    .selectFrom("loan_applications as a")
    .innerJoin("market_orders as o", "o.id", "a.market_order_id")
    .leftJoin("loans as l", "l.application_id", "a.id")
    .select([
      "a.id",
      "a.number",
      "a.status",
      "a.amount_fen",
      "a.market_order_id",
      "o.order_no",
      "o.status as order_status",
      "l.id as loan_id",
      "l.number as loan_number",
      "l.status as loan_status",
      sql<string | null>`to_char(l.maturity_on, 'YYYY-MM-DD')`.as("maturity_on"),
      sql<string>`coalesce((select sum(r.amount_fen) from loan_repayments r where r.loan_id = l.id), 0)`.as("repaid_fen"),
      sql<string>`coalesce((select sum(r.amount_fen) from loan_repayments r where r.loan_id = l.id and r.source = 'debtor_payment'), 0)`.as("from_settlement_fen"),
    ])
    .where("a.borrower_organization_id", "=", merchantId)
    .orderBy("a.created_at", "desc")
    .orderBy("a.id", "desc")
    .limit(Math.min(Math.max(limit, 1), 500))
    .execute();
  return rows.map((r) => ({
    applicationId: r.id,
    applicationNumber: r.number,
    applicationStatus: r.status as ApplicationStatus,
    amountFen: r.amount_fen,
    marketOrderId: r.market_order_id!,
    orderNo: r.order_no,
    orderStatus: r.order_status,
    loanId: r.loan_id,
    loanNumber: r.loan_number,
    loanStatus: (r.loan_status as LoanStatus | null) ?? null,
    maturityOn: r.maturity_on,
    repaidFen: Number(r.repaid_fen),
    fromSettlementFen: Number(r.from_settlement_fen),
  }));
}
