/**
 * A transparent dealer scorecard that PROPOSES a credit limit from platform history; a credit
 * officer decides. Rules:
 * - Four features, each mapped to 0..100 points by the bands in SCORECARD_BANDS (inclusive ranges,
 *   max null = no upper bound), weighted 35% / 30% / 20% / 15% (sum 10,000 bps):
 *   12-month order volume, on-time repayment ratio of on-account orders, longest overdue, tenure.
 * - No on-account history (onAccountOrders = 0): the ratio is taken as 5,000 bps and scores the
 *   neutral 50 points, neither rewarded as perfect nor punished as bad.
 * - A row's contribution, in hundredths of a score point, is points × weightBps / 100 (exact for
 *   these weights); the score is their sum, 0..10,000 hundredths (= 0..100.00).
 * - Proposed limit = half-even(volume × 25% × score / 100) fen, rounded DOWN to a whole ¥1,000
 *   (100,000 fen), capped at ¥500,000 (50,000,000 fen): a quarter of a year's purchases at a
 *   perfect score, i.e. about three months of trade on credit. A dealer ever more than 90 days
 *   overdue is proposed 0, whatever the score. Integer arithmetic only.
 */
import { divideHalfEven } from "../shared";
import { assertNonNegativeInteger } from "./rates";

export interface ScorecardFeatures {
  orderVolume12mFen: number;
  /** 0..10,000: share of on-account orders repaid by their due date; ignored when onAccountOrders = 0. */
  onTimeRepaymentRatioBps: number;
  onAccountOrders: number;
  longestOverdueDays: number;
  tenureMonths: number;
}

export interface ScoreRow {
  feature: keyof ScorecardFeatures | string;
  value: number;
  /** 0..100 */
  points: number;
  weightBps: number;
  /** points × weight / 10,000 in score points, held as integer hundredths. */
  contribution: number;
}

export interface ScoreBand {
  min: number;
  /** inclusive; null: no upper bound */
  max: number | null;
  points: number;
}

export interface ScoreFeatureBands {
  feature: keyof ScorecardFeatures;
  unit: "fen" | "bps" | "days" | "months";
  weightBps: number;
  bands: readonly ScoreBand[];
}

export const SCORECARD_BANDS: readonly ScoreFeatureBands[] = [
  {
    feature: "orderVolume12mFen",
    unit: "fen",
    weightBps: 3_500,
    bands: [
      { min: 0, max: 0, points: 0 },
      { min: 1, max: 9_999_999, points: 20 }, // under ¥100,000
      { min: 10_000_000, max: 49_999_999, points: 40 }, // ¥100,000 – ¥500,000
      { min: 50_000_000, max: 99_999_999, points: 60 }, // ¥500,000 – ¥1,000,000
      { min: 100_000_000, max: 499_999_999, points: 80 }, // ¥1m – ¥5m
      { min: 500_000_000, max: null, points: 100 }, // ¥5m and over
    ],
  },
  {
    feature: "onTimeRepaymentRatioBps",
    unit: "bps",
    weightBps: 3_000,
    bands: [
      { min: 0, max: 7_999, points: 0 }, // under 80%
      { min: 8_000, max: 8_999, points: 40 },
      { min: 9_000, max: 9_499, points: 70 },
      { min: 9_500, max: 10_000, points: 100 },
    ],
  },
  {
    feature: "longestOverdueDays",
    unit: "days",
    weightBps: 2_000,
    bands: [
      { min: 0, max: 0, points: 100 },
      { min: 1, max: 7, points: 80 },
      { min: 8, max: 30, points: 50 },
      { min: 31, max: 90, points: 20 },
      { min: 91, max: null, points: 0 }, // and the proposal is 0
    ],
  },
  {
    feature: "tenureMonths",
    unit: "months",
    weightBps: 1_500,
    bands: [
      { min: 0, max: 5, points: 0 },
      { min: 6, max: 11, points: 30 },
      { min: 12, max: 23, points: 60 },
      { min: 24, max: 35, points: 80 },
      { min: 36, max: null, points: 100 },
    ],
  },
];

/** With no on-account history the ratio is shown as 5,000 bps and scores this. */
export const NO_HISTORY_RATIO_BPS = 5_000;
export const NO_HISTORY_POINTS = 50;
export const LIMIT_SHARE_OF_VOLUME_BPS = 2_500;
export const LIMIT_STEP_FEN = 100_000;
export const LIMIT_CAP_FEN = 50_000_000;
export const LIMIT_REFUSED_OVER_OVERDUE_DAYS = 90;

function pointsFor(bands: readonly ScoreBand[], value: number): number {
  const band = bands.find((b) => value >= b.min && (b.max === null || value <= b.max));
  if (!band) throw new RangeError(`no band holds ${value}`);
  return band.points;
}

export function scoreDealer(f: ScorecardFeatures): { rows: ScoreRow[]; scoreHundredths: number; proposedLimitFen: number } {
  for (const key of ["orderVolume12mFen", "onTimeRepaymentRatioBps", "onAccountOrders", "longestOverdueDays", "tenureMonths"] as const) {
    assertNonNegativeInteger(f[key], key);
  }
  if (f.onTimeRepaymentRatioBps > 10_000) throw new RangeError(`onTimeRepaymentRatioBps must be at most 10,000, got ${f.onTimeRepaymentRatioBps}`);

  const rows: ScoreRow[] = SCORECARD_BANDS.map(({ feature, weightBps, bands }) => {
    const noHistory = feature === "onTimeRepaymentRatioBps" && f.onAccountOrders === 0;
    const value = noHistory ? NO_HISTORY_RATIO_BPS : f[feature];
    const points = noHistory ? NO_HISTORY_POINTS : pointsFor(bands, value);
    const contribution = Number(divideHalfEven(BigInt(points) * BigInt(weightBps), 100n));
    return { feature, value, points, weightBps, contribution };
  });
  const scoreHundredths = rows.reduce((sum, row) => sum + row.contribution, 0);

  let proposedLimitFen = 0;
  if (f.longestOverdueDays <= LIMIT_REFUSED_OVER_OVERDUE_DAYS) {
    // volume × 2,500/10,000 × scoreHundredths/10,000
    const rawFen = divideHalfEven(BigInt(f.orderVolume12mFen) * BigInt(LIMIT_SHARE_OF_VOLUME_BPS) * BigInt(scoreHundredths), 100_000_000n);
    const steppedFen = (rawFen / BigInt(LIMIT_STEP_FEN)) * BigInt(LIMIT_STEP_FEN);
    proposedLimitFen = Number(steppedFen < BigInt(LIMIT_CAP_FEN) ? steppedFen : BigInt(LIMIT_CAP_FEN));
  }
  return { rows, scoreHundredths, proposedLimitFen };
}
