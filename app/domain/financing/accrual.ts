/**
 * Daily accrual (计提) for one loan on one business date. Rules:
 * - Scheduled interest is recognised day by day over its period with cumulative rounding: on the
 *   k-th day of a period (k = date − periodStartOn + 1, 1..days) the day's interest is
 *   half-even(I×k/days) − half-even(I×(k−1)/days), so the days of a period sum to exactly the
 *   instalment's interest, whatever the rounding. `date` belongs to the instalment with
 *   periodStartOn ≤ date < dueOn. Nothing accrues before the first period or from the last due date
 *   on: an overdue loan earns penalty instead.
 * - An instalment is past due on `date` when date > dueOn and its principal or interest is not fully
 *   paid. daysPastDue = date − the oldest such instalment's dueOn (0 when none).
 * - Grace: no penalty and no compound interest while daysPastDue ≤ graceDays, and none is charged
 *   back for the grace days afterwards. From the next day, each day: penalty (罚息) =
 *   dailyAmountFen(overdue principal, penalty rate), compound (复利) = dailyAmountFen(overdue unpaid
 *   interest, penalty rate), each rounded half to even per day. Penalty and compound themselves
 *   earn nothing. Overdue principal / interest = scheduled minus paid, over the instalments past due
 *   on that date.
 * - payoffInterestFen: the interest an early payoff on `date` settles: the current period's interest
 *   recognised up to and excluding `date` (half-even(I×elapsed/days), less what was already paid
 *   towards that instalment's interest, never below 0) plus the unpaid interest of every instalment
 *   due on or before `date`. Interest to date only: no prepayment fee, and penalty/compound are
 *   balances the caller already holds.
 */
import { divideHalfEven, isBusinessDate } from "../shared";
import { assertNonNegativeInteger, dailyAmountFen } from "./rates";
import { daysBetween, type Instalment } from "./schedule";

export interface AccrualState {
  instalments: readonly Pick<Instalment, "seq" | "periodStartOn" | "dueOn" | "days" | "interestFen" | "principalFen">[];
  paid: readonly { seq: number; principalPaidFen: number; interestPaidFen: number }[];
  contractRatePpm: number;
  penaltyRatePpm: number;
  graceDays: number;
}

export interface DayAccrual {
  date: string;
  interestFen: number;
  penaltyFen: number;
  compoundFen: number;
  overduePrincipalFen: number;
  overdueInterestFen: number;
  daysPastDue: number;
}

type ScheduledRow = AccrualState["instalments"][number];

interface Paid {
  principalFen: number;
  interestFen: number;
}

function validate(state: AccrualState, date: string): Map<number, Paid> {
  if (typeof date !== "string" || !isBusinessDate(date)) throw new RangeError(`date must be a date 'YYYY-MM-DD', got ${date}`);
  assertNonNegativeInteger(state.contractRatePpm, "contractRatePpm");
  assertNonNegativeInteger(state.penaltyRatePpm, "penaltyRatePpm");
  assertNonNegativeInteger(state.graceDays, "graceDays");
  const seqs = new Set<number>();
  let previousDueOn: string | null = null;
  for (const row of state.instalments) {
    if (seqs.has(row.seq)) throw new RangeError(`instalment ${row.seq} appears twice`);
    seqs.add(row.seq);
    assertNonNegativeInteger(row.interestFen, `instalment ${row.seq} interestFen`);
    assertNonNegativeInteger(row.principalFen, `instalment ${row.seq} principalFen`);
    if (!Number.isSafeInteger(row.days) || row.days < 1 || daysBetween(row.periodStartOn, row.dueOn) !== row.days) {
      throw new RangeError(`instalment ${row.seq}: days ${row.days} is not ${row.periodStartOn} → ${row.dueOn}`);
    }
    if (previousDueOn !== null && row.periodStartOn < previousDueOn) throw new RangeError(`instalment ${row.seq} starts before the previous one is due`);
    previousDueOn = row.dueOn;
  }
  const paid = new Map<number, Paid>();
  for (const payment of state.paid) {
    if (!seqs.has(payment.seq)) throw new RangeError(`payment towards unknown instalment ${payment.seq}`);
    assertNonNegativeInteger(payment.principalPaidFen, `paid principal of instalment ${payment.seq}`);
    assertNonNegativeInteger(payment.interestPaidFen, `paid interest of instalment ${payment.seq}`);
    const sum = paid.get(payment.seq) ?? { principalFen: 0, interestFen: 0 };
    paid.set(payment.seq, { principalFen: sum.principalFen + payment.principalPaidFen, interestFen: sum.interestFen + payment.interestPaidFen });
  }
  return paid;
}

/** half-even(I × elapsed / days): the period's interest recognised after `elapsed` days. */
function recognisedFen(row: ScheduledRow, elapsedDays: number): number {
  return Number(divideHalfEven(BigInt(row.interestFen) * BigInt(elapsedDays), BigInt(row.days)));
}

function currentPeriod(state: AccrualState, date: string): ScheduledRow | undefined {
  return state.instalments.find((row) => row.periodStartOn <= date && date < row.dueOn);
}

function unpaid(row: ScheduledRow, paid: Map<number, Paid>): Paid {
  const p = paid.get(row.seq) ?? { principalFen: 0, interestFen: 0 };
  return { principalFen: Math.max(0, row.principalFen - p.principalFen), interestFen: Math.max(0, row.interestFen - p.interestFen) };
}

export function accrualForDay(state: AccrualState, date: string): DayAccrual {
  const paid = validate(state, date);

  let interestFen = 0;
  const current = currentPeriod(state, date);
  if (current) {
    const k = daysBetween(current.periodStartOn, date) + 1;
    interestFen = recognisedFen(current, k) - recognisedFen(current, k - 1);
  }

  let overduePrincipalFen = 0;
  let overdueInterestFen = 0;
  let oldestDueOn: string | null = null;
  for (const row of state.instalments) {
    if (!(date > row.dueOn)) continue;
    const owed = unpaid(row, paid);
    if (owed.principalFen === 0 && owed.interestFen === 0) continue;
    overduePrincipalFen += owed.principalFen;
    overdueInterestFen += owed.interestFen;
    if (oldestDueOn === null || row.dueOn < oldestDueOn) oldestDueOn = row.dueOn;
  }
  const daysPastDue = oldestDueOn === null ? 0 : daysBetween(oldestDueOn, date);
  const charging = daysPastDue > state.graceDays;

  return {
    date,
    interestFen,
    penaltyFen: charging ? dailyAmountFen(overduePrincipalFen, state.penaltyRatePpm) : 0,
    compoundFen: charging ? dailyAmountFen(overdueInterestFen, state.penaltyRatePpm) : 0,
    overduePrincipalFen,
    overdueInterestFen,
    daysPastDue,
  };
}

export function payoffInterestFen(state: AccrualState, date: string): number {
  const paid = validate(state, date);
  let interestFen = 0;
  const current = currentPeriod(state, date);
  if (current) {
    const recognised = recognisedFen(current, daysBetween(current.periodStartOn, date));
    interestFen += Math.max(0, recognised - (paid.get(current.seq)?.interestFen ?? 0));
  }
  for (const row of state.instalments) {
    if (row.dueOn <= date) interestFen += unpaid(row, paid).interestFen;
  }
  return interestFen;
}
