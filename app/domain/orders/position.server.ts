import { sql } from "kysely";
import type { Db } from "../../../db";
import { DomainError, isUuid, addDays, isBusinessDate } from "../shared";
import type { Fen } from "../ledger";
import type { OrderStatus } from "./states";
import { wholeFen } from "./internal.server";

/**
 * Money position (read-only): what a core enterprise's dealers owe on account and what of it is
 * overdue, and where its order pipeline stands in money. The ledger is the truth for what is
 * owed; the orders say what each amount is for and when it falls due.
 */

// ---------------------------------------------------------------------------------------------
// Money position (read-only): what a core enterprise's dealers owe on account and what of it is
// overdue, and where its order pipeline stands in money. The ledger is the truth for what is
// owed; the orders say what each amount is for and when it falls due.

export const POSITION_LIMITS = {
  /** Overdue orders listed at most (oldest due first); the totals always cover all of them. */
  overdueOrders: 50,
  /** "Paid" counts orders placed in this many calendar days up to and including today. */
  paidWindowDays: 90,
} as const;

/** The same kinds `onAccountOutstanding` sums: the charge, and the three ways credit comes back. */
const ON_ACCOUNT_TRANSFER_KINDS = ["on_account_charge", "on_account_repayment", "on_account_cancel", "on_account_return"] as const;
/** Waiting for the dealer's money: the payment, a preorder's deposit, or its balance. */
const AWAITING_PAYMENT_STATUSES: readonly OrderStatus[] = ["confirmed", "awaiting_payment", "balance_due"];
/** Closed without a sale: nothing paid on them counts. */
const CLOSED_UNSOLD_STATUSES: readonly OrderStatus[] = ["draft", "rejected", "cancelled"];
const FINANCING_STATUS: OrderStatus = "awaiting_financing";


function requireBusinessDate(today: string): string {
  if (!isBusinessDate(today)) throw new DomainError("validation", "today must be a date written YYYY-MM-DD", { today: "invalid_date" });
  return today;
}

function statusList(statuses: readonly OrderStatus[]) {
  return sql.join(statuses.map((s) => sql`${s}`));
}

/**
 * On-account orders (not cancelled) of a core enterprise, optionally of one dealer, with what is
 * still owed on each (charged less restored, from `ledger_transfers` referenced `order:<id>`).
 * Only orders still owing something: fully repaid, returned or written off ones drop out.
 */
function owingOrders(db: Db, scope: { coreEnterpriseId: string; dealerId?: string | null }) {
  const owed = sql<string>`sum(case when lt.kind = 'on_account_charge' then lt.amount_fen else -lt.amount_fen end)`;
  let query = db
    .selectFrom("orders as o")
    .innerJoin("ledger_transfers as lt", (join) => join.on(sql<boolean>`lt.reference = 'order:' || o.id::text`))
    .select(["o.id", "o.number", "o.due_on", owed.as("outstanding_fen")])
    .where("o.core_enterprise_id", "=", scope.coreEnterpriseId)
    .where("o.payment_method", "=", "on_account")
    .where("o.status", "!=", "cancelled")
    .where("lt.kind", "in", ON_ACCOUNT_TRANSFER_KINDS);
  if (scope.dealerId) query = query.where("o.dealer_id", "=", scope.dealerId);
  return query.groupBy(["o.id", "o.number", "o.due_on"]).having(sql<boolean>`${owed} > 0`);
}

interface OnAccountTotals {
  outstandingCount: number;
  outstandingFen: Fen;
  overdueCount: number;
  overdueFen: Fen;
}

/** One aggregate query: what is owed on account, and what of it was due before `today`. */
async function onAccountTotals(db: Db, scope: { coreEnterpriseId: string; dealerId?: string | null }, today: string): Promise<OnAccountTotals> {
  const overdue = sql<boolean>`b.due_on < ${today}::date`;
  const row = await db
    .selectFrom(owingOrders(db, scope).as("b"))
    .select([
      sql<string>`count(*)`.as("outstanding_count"),
      sql<string>`coalesce(sum(b.outstanding_fen), 0)`.as("outstanding_fen"),
      sql<string>`count(*) filter (where ${overdue})`.as("overdue_count"),
      sql<string>`coalesce(sum(b.outstanding_fen) filter (where ${overdue}), 0)`.as("overdue_fen"),
    ])
    .executeTakeFirstOrThrow();
  const totals = {
    outstandingCount: wholeFen(row.outstanding_count, "outstanding_count"),
    outstandingFen: wholeFen(row.outstanding_fen, "outstanding_fen"),
    overdueCount: wholeFen(row.overdue_count, "overdue_count"),
    overdueFen: wholeFen(row.overdue_fen, "overdue_fen"),
  };
  // Overdue is a part of what is owed, never more.
  if (totals.overdueFen > totals.outstandingFen || totals.overdueCount > totals.outstandingCount) {
    throw new Error(`on-account totals out of order: ${JSON.stringify(totals)}`);
  }
  return totals;
}

export interface OverdueOrder {
  id: string;
  number: string;
  /** YYYY-MM-DD, the business day (Asia/Shanghai) the payment terms ended. */
  dueOn: string;
  outstandingFen: Fen;
  daysOverdue: number;
}

export interface OnAccountPosition {
  /** Owed on account now, over every on-account order of the scope. */
  outstandingFen: Fen;
  /** How many orders that is. */
  outstandingCount: number;
  /** The part of it due before today. */
  overdueFen: Fen;
  overdueCount: number;
  /** Overdue orders, oldest due first, at most POSITION_LIMITS.overdueOrders (overdueCount says how many in all). */
  overdueOrders: OverdueOrder[];
}

/**
 * What a core enterprise's dealers (or one dealer) owe it on account, and what is overdue: an
 * order is overdue once its `due_on` is before `today` (YYYY-MM-DD in Asia/Shanghai) and it still
 * owes something. Two queries, whatever the number of orders.
 */
export async function onAccountPosition(
  db: Db,
  input: { coreEnterpriseId: string; dealerId?: string | null; today: string },
): Promise<OnAccountPosition> {
  const today = requireBusinessDate(input.today);
  if (!isUuid(input.coreEnterpriseId) || (input.dealerId != null && !isUuid(input.dealerId))) {
    return { outstandingFen: 0, outstandingCount: 0, overdueFen: 0, overdueCount: 0, overdueOrders: [] };
  }
  const scope = { coreEnterpriseId: input.coreEnterpriseId, dealerId: input.dealerId ?? null };
  const totals = await onAccountTotals(db, scope, today);
  const rows =
    totals.overdueCount === 0
      ? []
      : await db
          .selectFrom(owingOrders(db, scope).as("b"))
          .select([
            "b.id",
            "b.number",
            sql<string>`to_char(b.due_on, 'YYYY-MM-DD')`.as("due_on"),
            "b.outstanding_fen",
            sql<number>`(${today}::date - b.due_on)`.as("days_overdue"),
          ])
          .where(sql<boolean>`b.due_on < ${today}::date`)
          .orderBy("b.due_on")
          .orderBy("b.number")
          .limit(POSITION_LIMITS.overdueOrders)
          .execute();
  return {
    ...totals,
    overdueOrders: rows.map((r) => ({
      id: r.id,
      number: r.number,
      dueOn: r.due_on,
      outstandingFen: wholeFen(r.outstanding_fen, "outstanding_fen"),
      daysOverdue: Number(r.days_overdue),
    })),
  };
}

export interface MoneyFigure {
  count: number;
  amountFen: Fen;
}

export interface OrderMoneySummary {
  /** Confirmed, waiting for e-Pay, or a preorder's balance due: the unpaid part of their totals. */
  awaitingPayment: MoneyFigure;
  /**
   * Paid by wallet or e-Pay (`paid_fen`) on orders placed from `sinceOn` (the last
   * POSITION_LIMITS.paidWindowDays days, today included) that are open or completed: not
   * rejected or cancelled. Returns are not netted off.
   */
  paid: MoneyFigure & { sinceOn: string; windowDays: number };
  /** Owed on account (from the ledger): the orders still owing something. */
  onCredit: MoneyFigure;
  /** The part of it past its due date. */
  overdue: MoneyFigure;
  /** Waiting for a financing disbursement: their totals. */
  financingRequested: MoneyFigure;
}

/**
 * The core enterprise's order pipeline in money, for the figures above its order list. Two
 * queries: one over the orders' own columns, one over the ledger for what is owed on account.
 */
export async function orderMoneySummary(db: Db, coreEnterpriseId: string, today: string): Promise<OrderMoneySummary> {
  requireBusinessDate(today);
  const windowDays = POSITION_LIMITS.paidWindowDays;
  const sinceOn = addDays(today, -(windowDays - 1));
  // Business days are Asia/Shanghai, which keeps UTC+8 all year.
  const since = new Date(`${sinceOn}T00:00:00+08:00`).toISOString();
  const none: MoneyFigure = { count: 0, amountFen: 0 };
  if (!isUuid(coreEnterpriseId)) {
    return { awaitingPayment: none, paid: { ...none, sinceOn, windowDays }, onCredit: none, overdue: none, financingRequested: none };
  }
  const awaiting = sql<boolean>`o.status in (${statusList(AWAITING_PAYMENT_STATUSES)})`;
  const paid = sql<boolean>`o.payment_method in ('wallet', 'epay') and o.paid_fen > 0 and o.created_at >= ${since}::timestamptz and o.status not in (${statusList(CLOSED_UNSOLD_STATUSES)})`;
  const financing = sql<boolean>`o.status = ${FINANCING_STATUS}`;
  const row = await db
    .selectFrom("orders as o")
    .select([
      sql<string>`count(*) filter (where ${awaiting})`.as("awaiting_count"),
      sql<string>`coalesce(sum(o.total_fen - o.paid_fen) filter (where ${awaiting}), 0)`.as("awaiting_fen"),
      sql<string>`count(*) filter (where ${paid})`.as("paid_count"),
      sql<string>`coalesce(sum(o.paid_fen) filter (where ${paid}), 0)`.as("paid_fen"),
      sql<string>`count(*) filter (where ${financing})`.as("financing_count"),
      sql<string>`coalesce(sum(o.total_fen) filter (where ${financing}), 0)`.as("financing_fen"),
    ])
    .where("o.core_enterprise_id", "=", coreEnterpriseId)
    .where("o.kind", "!=", "return")
    .where((eb) => eb.or([eb("o.status", "in", [...AWAITING_PAYMENT_STATUSES, FINANCING_STATUS]), eb("o.created_at", ">=", new Date(since))]))
    .executeTakeFirstOrThrow();
  const credit = await onAccountTotals(db, { coreEnterpriseId }, today);
  return {
    awaitingPayment: { count: wholeFen(row.awaiting_count, "awaiting_count"), amountFen: wholeFen(row.awaiting_fen, "awaiting_fen") },
    paid: { count: wholeFen(row.paid_count, "paid_count"), amountFen: wholeFen(row.paid_fen, "paid_fen"), sinceOn, windowDays },
    onCredit: { count: credit.outstandingCount, amountFen: credit.outstandingFen },
    overdue: { count: credit.overdueCount, amountFen: credit.overdueFen },
    financingRequested: { count: wholeFen(row.financing_count, "financing_count"), amountFen: wholeFen(row.financing_fen, "financing_fen") },
  };
}
