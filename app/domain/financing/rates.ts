/**
 * Financing rates. Rules:
 * - A rate is an integer in ppm (parts per million) per year: 3.45% = 34,500 ppm. A spread or a
 *   markup is in basis points (1 bp = 100 ppm). No rate passes through a float.
 * - Day count actual/360 (the PBoC convention for RMB loans): one day's interest on P fen at R ppm
 *   is P×R / (1,000,000 × 360), rounded half to even to the fen once, at the posting.
 * - Penalty interest (罚息) is the contract rate raised by a markup, 50% by default (the usual
 *   contract clause and the judicial ceiling for overdue principal), rounded half to even to the ppm.
 * - An LPR-linked rate is the published LPR plus a spread in bp (the spread may be negative, the
 *   result may not).
 */
import { divideHalfEven } from "../shared";

/** 罚息 = contract rate + 50%. */
export const PENALTY_MARKUP_DEFAULT_BPS = 5_000;

/** actual/360: 1,000,000 ppm × 360 days. */
export const PPM_DAY_DENOMINATOR = 360_000_000n;

export function assertNonNegativeInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

/** contract + contract × markup / 10,000, half to even to the ppm. */
export function penaltyRatePpm(contractRatePpm: number, markupBps: number = PENALTY_MARKUP_DEFAULT_BPS): number {
  assertNonNegativeInteger(contractRatePpm, "contractRatePpm");
  assertNonNegativeInteger(markupBps, "markupBps");
  return contractRatePpm + Number(divideHalfEven(BigInt(contractRatePpm) * BigInt(markupBps), 10_000n));
}

/** LPR + spread: 1 bp = 100 ppm. */
export function lprRatePpm(lprPpm: number, spreadBps: number): number {
  assertNonNegativeInteger(lprPpm, "lprPpm");
  if (!Number.isSafeInteger(spreadBps)) throw new RangeError(`spreadBps must be an integer, got ${spreadBps}`);
  const ratePpm = lprPpm + spreadBps * 100;
  if (ratePpm < 0) throw new RangeError(`LPR ${lprPpm} ppm + ${spreadBps} bp is a negative rate`);
  return ratePpm;
}

/** Interest on baseFen at ratePpm for `days` days, actual/360, half to even to the fen. */
export function dailyAmountFen(baseFen: number, ratePpm: number, days = 1): number {
  assertNonNegativeInteger(baseFen, "baseFen");
  assertNonNegativeInteger(ratePpm, "ratePpm");
  assertNonNegativeInteger(days, "days");
  const amount = Number(divideHalfEven(BigInt(baseFen) * BigInt(ratePpm) * BigInt(days), PPM_DAY_DENOMINATOR));
  if (!Number.isSafeInteger(amount)) throw new RangeError(`interest on ${baseFen} fen at ${ratePpm} ppm for ${days} days is beyond a safe integer`);
  return amount;
}
