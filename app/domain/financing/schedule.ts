/**
 * Repayment schedules (还款计划). Rules:
 * - Instalment k falls due on addMonthsClamped(startOn, k): the start's day of month k months
 *   later, clamped to that month's last day, always counted from the START date (01-31 → 02-28 →
 *   03-31, never 02-28 → 03-28). Period k runs from the previous due date (or startOn) up to, not
 *   including, its due date; `days` is that actual day count.
 * - bullet (到期一次还本付息): one instalment due startOn + termDays, or addMonthsClamped(startOn,
 *   termMonths). interest_monthly (按月付息到期还本) and equal_principal (等额本金) take termMonths.
 * - bullet, interest_monthly, equal_principal: a period's interest = opening × rate × days /
 *   360,000,000 (actual/360), half to even to the fen. Equal principal repays half-even(P/n) in each
 *   of the first n−1 instalments and the rest in the last.
 * - equal_instalment (等额本息): the banks' annuity with the monthly rate r = annual/12, whatever the
 *   month's length: A = half-even(P·r·(1+r)^n / ((1+r)^n − 1)), computed exactly as the rational
 *   P·R·(D+R)^n / (D·((D+R)^n − D^n)) with R = rate ppm and D = 12,000,000; each period's interest
 *   = half-even(opening × R / D), principal = A − interest; the last instalment repays all remaining
 *   principal with its own interest, so it absorbs the rounding. At rate 0, A = half-even(P/n).
 * - Limits: principal a positive safe integer of fen; rate 0..1,000,000 ppm; 1..360 months or
 *   1..3650 days. The result is checked: principal repaid sums to the principal, the last closing
 *   balance is 0, no amount is negative (a principal of a few fen spread over many months can fail
 *   this under equal principal's rounding; it is refused rather than given a negative row).
 */
import { addDays, divideHalfEven, isBusinessDate } from "../shared";
import { PPM_DAY_DENOMINATOR, assertNonNegativeInteger } from "./rates";

import { REPAYMENT_METHODS, type RepaymentMethodName as RepaymentMethod } from "../../../db/schema";

export type { RepaymentMethod };


export const TERM_MONTHS_MAX = 360;
export const TERM_DAYS_MAX = 3_650;
export const ANNUAL_RATE_PPM_MAX = 1_000_000;

export interface ScheduleInput {
  principalFen: number;
  annualRatePpm: number;
  method: RepaymentMethod;
  startOn: string;
  termMonths?: number;
  termDays?: number;
}

export interface Instalment {
  seq: number;
  periodStartOn: string;
  dueOn: string;
  days: number;
  openingPrincipalFen: number;
  principalFen: number;
  interestFen: number;
  totalFen: number;
  closingPrincipalFen: number;
}

const MONTHLY_RATE_DENOMINATOR = 12_000_000n;

function assertDate(value: string, name: string): void {
  if (typeof value !== "string" || !isBusinessDate(value)) throw new RangeError(`${name} must be a date 'YYYY-MM-DD', got ${value}`);
}

function utcDay(date: string): number {
  const [y, m, d] = date.split("-").map(Number);
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

/** Calendar days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return utcDay(to) - utcDay(from);
}

/** The same day of month `months` later, clamped to that month's last day. */
export function addMonthsClamped(date: string, months: number): string {
  assertDate(date, "date");
  if (!Number.isSafeInteger(months)) throw new RangeError(`months must be an integer, got ${months}`);
  const [y, m, d] = date.split("-").map(Number);
  const monthIndex = y * 12 + (m - 1) + months;
  const year = Math.floor(monthIndex / 12);
  const month = monthIndex - year * 12; // 0-based
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month, Math.min(d, lastDay))).toISOString().slice(0, 10);
}

function periodInterestFen(openingFen: number, ratePpm: number, days: number): number {
  return Number(divideHalfEven(BigInt(openingFen) * BigInt(ratePpm) * BigInt(days), PPM_DAY_DENOMINATOR));
}

function validate(input: ScheduleInput): { dueDates: string[] } {
  const { principalFen, annualRatePpm, method, startOn, termMonths, termDays } = input;
  assertNonNegativeInteger(principalFen, "principalFen");
  if (principalFen === 0) throw new RangeError("principalFen must be positive");
  assertNonNegativeInteger(annualRatePpm, "annualRatePpm");
  if (annualRatePpm > ANNUAL_RATE_PPM_MAX) throw new RangeError(`annualRatePpm must be at most ${ANNUAL_RATE_PPM_MAX}, got ${annualRatePpm}`);
  if (!(REPAYMENT_METHODS as readonly string[]).includes(method)) throw new RangeError(`unsupported repayment method ${String(method)}`);
  assertDate(startOn, "startOn");
  if (termMonths !== undefined && (!Number.isSafeInteger(termMonths) || termMonths < 1 || termMonths > TERM_MONTHS_MAX)) {
    throw new RangeError(`termMonths must be an integer 1..${TERM_MONTHS_MAX}, got ${termMonths}`);
  }
  if (termDays !== undefined && (!Number.isSafeInteger(termDays) || termDays < 1 || termDays > TERM_DAYS_MAX)) {
    throw new RangeError(`termDays must be an integer 1..${TERM_DAYS_MAX}, got ${termDays}`);
  }
  if (method === "bullet") {
    if ((termMonths === undefined) === (termDays === undefined)) throw new RangeError("a bullet loan takes exactly one of termDays or termMonths");
    return { dueDates: [termDays !== undefined ? addDays(startOn, termDays) : addMonthsClamped(startOn, termMonths!)] };
  }
  if (termDays !== undefined) throw new RangeError(`${method} takes termMonths, not termDays`);
  if (termMonths === undefined) throw new RangeError(`${method} needs termMonths`);
  return { dueDates: Array.from({ length: termMonths }, (_, i) => addMonthsClamped(startOn, i + 1)) };
}

/** A = P·R·(D+R)^n / (D·((D+R)^n − D^n)), half to even; P/n at rate 0. */
export function equalInstalmentPaymentFen(principalFen: number, annualRatePpm: number, termMonths: number): number {
  const p = BigInt(principalFen);
  const n = BigInt(termMonths);
  if (annualRatePpm === 0) return Number(divideHalfEven(p, n));
  const r = BigInt(annualRatePpm);
  const grown = (MONTHLY_RATE_DENOMINATOR + r) ** n;
  const base = MONTHLY_RATE_DENOMINATOR ** n;
  return Number(divideHalfEven(p * r * grown, MONTHLY_RATE_DENOMINATOR * (grown - base)));
}

export function buildSchedule(input: ScheduleInput): Instalment[] {
  const { dueDates } = validate(input);
  const { principalFen, annualRatePpm, method, startOn } = input;
  const n = dueDates.length;
  const evenShareFen = Number(divideHalfEven(BigInt(principalFen), BigInt(n)));
  const paymentFen = method === "equal_instalment" ? equalInstalmentPaymentFen(principalFen, annualRatePpm, n) : 0;

  const rows: Instalment[] = [];
  let openingFen = principalFen;
  let periodStartOn = startOn;
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const dueOn = dueDates[i];
    const days = daysBetween(periodStartOn, dueOn);
    let interestFen: number;
    let repaidFen: number;
    if (method === "equal_instalment") {
      interestFen = Number(divideHalfEven(BigInt(openingFen) * BigInt(annualRatePpm), MONTHLY_RATE_DENOMINATOR));
      repaidFen = last ? openingFen : paymentFen - interestFen;
    } else {
      interestFen = periodInterestFen(openingFen, annualRatePpm, days);
      if (method === "equal_principal") repaidFen = last ? openingFen : evenShareFen;
      else repaidFen = last ? openingFen : 0;
    }
    const closingFen = openingFen - repaidFen;
    rows.push({
      seq: i + 1,
      periodStartOn,
      dueOn,
      days,
      openingPrincipalFen: openingFen,
      principalFen: repaidFen,
      interestFen,
      totalFen: repaidFen + interestFen,
      closingPrincipalFen: closingFen,
    });
    openingFen = closingFen;
    periodStartOn = dueOn;
  }

  const repaidTotalFen = rows.reduce((sum, row) => sum + row.principalFen, 0);
  if (repaidTotalFen !== principalFen || rows[n - 1].closingPrincipalFen !== 0) {
    throw new RangeError(`schedule repays ${repaidTotalFen} fen of ${principalFen}`);
  }
  for (const row of rows) {
    for (const amount of [row.principalFen, row.interestFen, row.totalFen, row.closingPrincipalFen]) {
      if (!Number.isSafeInteger(amount) || amount < 0) {
        throw new RangeError(`instalment ${row.seq} has amount ${amount}: principal ${principalFen} fen is too small to spread over ${n} instalments, or too large`);
      }
    }
  }
  return rows;
}
