import { sql } from "kysely";
import type { Db } from "../../../db";
import { DomainError, addDays } from "../shared";
import type { Fen } from "../ledger";
import { accrualDateFor } from "./accrual-run.server";

/**
 * The bank's portfolio day by day (the chart of outstanding and overdue over time). Rules:
 * - The days are the last `days` Shanghai business dates up to and including yesterday
 *   (accrualDateFor(now)): today is not over, so neither its principal nor its accrual is final.
 *   1 ≤ days ≤ 366.
 * - Outstanding at the end of day D = principal paid out on or before D (loans.disbursed_on) less
 *   principal repaid on or before D (loan_repayments.paid_on, their allocation's overdue and current
 *   principal; guarantee calls and debtors' payments are repayments too) less what was written off
 *   on or before D (loans.closed_on of a written-off loan). These are the business dates the loan's
 *   own records carry (the clock its steps were given), which the ledger's postings match amount
 *   for amount; the ledger's created_at is the machine's time of writing, not the business day.
 * - Overdue on D = the part of it owed on loans whose loan_accruals row for D has
 *   days_past_due > 0 (past due, grace days included: the day after the due date counts). A loan
 *   not accrued for D (not yet disbursed, closed, or the run not done) counts as not overdue.
 * - Interest on D = sum of loan_accruals.interest_fen for D; penaltyFen = its penalty + compound.
 * One SQL statement: generate_series over the days, the principal flows summed per loan and day once
 * (all history before the first day folds into its opening balance), a running sum for the total
 * and, for the overdue loan-days only, that loan's flows up to D.
 */

export const PORTFOLIO_HISTORY_LIMITS = { maxDays: 366 } as const;

export interface PortfolioHistoryPoint {
  /** 'YYYY-MM-DD', Asia/Shanghai */
  businessDate: string;
  outstandingFen: Fen;
  overdueFen: Fen;
  interestFen: Fen;
  penaltyFen: Fen;
}

export interface PortfolioHistory {
  from: string;
  through: string;
  points: PortfolioHistoryPoint[];
}

/** Sums come back as bigint text; a fractional or unsafe figure is a bug, not a display problem. */
function whole(value: unknown, what: string): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw new Error(`portfolio history: ${what} is not a safe integer (${String(value)})`);
  return n;
}

export async function portfolioHistory(db: Db, options: { days: number }, now: Date): Promise<PortfolioHistory> {
  const { days } = options;
  if (!Number.isSafeInteger(days) || days < 1 || days > PORTFOLIO_HISTORY_LIMITS.maxDays) {
    throw new DomainError("validation", `days must be a whole number from 1 to ${PORTFOLIO_HISTORY_LIMITS.maxDays}`, { days: "out_of_range" });
  }
  const through = accrualDateFor(now);
  const from = addDays(through, -(days - 1));
  const { rows } = await sql<{ business_date: string; outstanding_fen: string; overdue_fen: string; interest_fen: string; penalty_fen: string }>`
    with days as (
      select d::date as business_date from generate_series(${from}::date, ${through}::date, interval '1 day') as d
    ),
    flows as (
      select l.id as loan_id, l.disbursed_on as day, l.principal_fen as delta_fen
        from loans l
       where l.disbursed_on <= ${through}::date
      union all
      select r.loan_id, r.paid_on, -sum(coalesce((r.allocation->>'overdue_principal')::bigint, 0) + coalesce((r.allocation->>'current_principal')::bigint, 0))
        from loan_repayments r
       where r.paid_on <= ${through}::date
       group by r.loan_id, r.paid_on
      union all
      -- Written off: what was still owed leaves the book that day.
      select l.id, l.closed_on,
             -(l.principal_fen - coalesce((select sum(coalesce((r.allocation->>'overdue_principal')::bigint, 0) + coalesce((r.allocation->>'current_principal')::bigint, 0))
                                             from loan_repayments r where r.loan_id = l.id), 0))
        from loans l
       where l.status = 'written_off' and l.closed_on <= ${through}::date
    ),
    daily as (
      -- Everything before the first day is its opening balance, so the running sum starts there.
      select greatest(f.day, ${from}::date) as business_date, sum(f.delta_fen) as delta_fen
        from flows f
       group by 1
    ),
    overdue as (
      select a.business_date, sum(f.delta_fen) as overdue_fen
        from loan_accruals a
        join flows f on f.loan_id = a.loan_id and f.day <= a.business_date
       where a.business_date between ${from}::date and ${through}::date and a.days_past_due > 0
       group by a.business_date
    ),
    accrued as (
      select a.business_date, sum(a.interest_fen) as interest_fen, sum(a.penalty_fen + a.compound_fen) as penalty_fen
        from loan_accruals a
       where a.business_date between ${from}::date and ${through}::date
       group by a.business_date
    )
    select to_char(days.business_date, 'YYYY-MM-DD') as business_date,
           (sum(coalesce(daily.delta_fen, 0)) over (order by days.business_date))::bigint as outstanding_fen,
           coalesce(overdue.overdue_fen, 0)::bigint as overdue_fen,
           coalesce(accrued.interest_fen, 0)::bigint as interest_fen,
           coalesce(accrued.penalty_fen, 0)::bigint as penalty_fen
      from days
      left join daily on daily.business_date = days.business_date
      left join overdue on overdue.business_date = days.business_date
      left join accrued on accrued.business_date = days.business_date
     order by days.business_date`.execute(db);
  const points = rows.map((r) => ({
    businessDate: r.business_date,
    outstandingFen: whole(r.outstanding_fen, "outstanding_fen"),
    overdueFen: whole(r.overdue_fen, "overdue_fen"),
    interestFen: whole(r.interest_fen, "interest_fen"),
    penaltyFen: whole(r.penalty_fen, "penalty_fen"),
  }));
  // Postconditions: one point per day, and the overdue part never above the whole.
  if (points.length !== days) throw new Error(`portfolio history: ${points.length} points for ${days} days`);
  const bad = points.find((p) => p.overdueFen < 0 || p.overdueFen > p.outstandingFen);
  if (bad) throw new Error(`portfolio history: overdue ${bad.overdueFen} outside 0..${bad.outstandingFen} on ${bad.businessDate}`);
  return { from, through, points };
}
