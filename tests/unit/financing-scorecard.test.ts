import { describe, expect, it } from "vitest";
import { SCORECARD_BANDS, scoreDealer } from "../../app/domain/financing/scorecard";

describe("SCORECARD_BANDS", () => {
  it("weights sum to 10,000 bps and each feature's bands are contiguous from 0", () => {
    expect(SCORECARD_BANDS.reduce((s, f) => s + f.weightBps, 0)).toBe(10_000);
    for (const { bands } of SCORECARD_BANDS) {
      expect(bands[0].min).toBe(0);
      for (let i = 1; i < bands.length; i++) expect(bands[i].min).toBe(bands[i - 1].max! + 1);
      for (const band of bands) expect(band.points >= 0 && band.points <= 100).toBe(true);
    }
  });
});

describe("scoreDealer", () => {
  it("an established dealer, worked by hand", () => {
    // volume ¥1,234,567.89 → 80 pts × 35% = 28.00; on-time 96% → 100 × 30% = 30.00;
    // longest overdue 5 days → 80 × 20% = 16.00; tenure 18 months → 60 × 15% = 9.00. Score 83.00.
    // limit: 123,456,789 × 25% × 83% = 25,617,283.72 → 25,617,284 → down to ¥1,000: 25,600,000
    expect(scoreDealer({ orderVolume12mFen: 123_456_789, onTimeRepaymentRatioBps: 9_600, onAccountOrders: 40, longestOverdueDays: 5, tenureMonths: 18 })).toEqual({
      rows: [
        { feature: "orderVolume12mFen", value: 123_456_789, points: 80, weightBps: 3_500, contribution: 2_800 },
        { feature: "onTimeRepaymentRatioBps", value: 9_600, points: 100, weightBps: 3_000, contribution: 3_000 },
        { feature: "longestOverdueDays", value: 5, points: 80, weightBps: 2_000, contribution: 1_600 },
        { feature: "tenureMonths", value: 18, points: 60, weightBps: 1_500, contribution: 900 },
      ],
      scoreHundredths: 8_300,
      proposedLimitFen: 25_600_000,
    });
  });

  it("no on-account history scores the neutral 50 points on the ratio", () => {
    // volume ¥50,000 → 20 × 35% = 7.00; no history → 5,000 bps, 50 × 30% = 15.00;
    // never overdue → 100 × 20% = 20.00; tenure 3 → 0. Score 42.00.
    // limit: 5,000,000 × 25% × 42% = 525,000 → 500,000
    const result = scoreDealer({ orderVolume12mFen: 5_000_000, onTimeRepaymentRatioBps: 0, onAccountOrders: 0, longestOverdueDays: 0, tenureMonths: 3 });
    expect(result.rows[1]).toEqual({ feature: "onTimeRepaymentRatioBps", value: 5_000, points: 50, weightBps: 3_000, contribution: 1_500 });
    expect(result.rows.map((r) => r.contribution)).toEqual([700, 1_500, 2_000, 0]);
    expect(result.scoreHundredths).toBe(4_200);
    expect(result.proposedLimitFen).toBe(500_000);
  });

  it("caps the proposal at ¥500,000", () => {
    // ¥10m, perfect: score 100.00, 25% of volume = 250,000,000 → capped 50,000,000
    const result = scoreDealer({ orderVolume12mFen: 1_000_000_000, onTimeRepaymentRatioBps: 10_000, onAccountOrders: 100, longestOverdueDays: 0, tenureMonths: 48 });
    expect(result.scoreHundredths).toBe(10_000);
    expect(result.proposedLimitFen).toBe(50_000_000);
  });

  it("proposes 0 to a dealer once more than 90 days overdue", () => {
    const features = { orderVolume12mFen: 200_000_000, onTimeRepaymentRatioBps: 9_000, onAccountOrders: 50, tenureMonths: 24 };
    // at 90 days: 80×35 + 70×30 + 20×20 + 80×15 = 2,800 + 2,100 + 400 + 1,200 = 6,500
    // limit 200,000,000 × 25% × 65% = 32,500,000
    expect(scoreDealer({ ...features, longestOverdueDays: 90 })).toMatchObject({ scoreHundredths: 6_500, proposedLimitFen: 32_500_000 });
    // at 91: 0 points on that row (6,100) and no proposal
    expect(scoreDealer({ ...features, longestOverdueDays: 91 })).toMatchObject({ scoreHundredths: 6_100, proposedLimitFen: 0 });
  });

  it("no volume, no limit; refuses bad features", () => {
    expect(scoreDealer({ orderVolume12mFen: 0, onTimeRepaymentRatioBps: 0, onAccountOrders: 0, longestOverdueDays: 0, tenureMonths: 0 })).toMatchObject({ scoreHundredths: 3_500, proposedLimitFen: 0 });
    expect(() => scoreDealer({ orderVolume12mFen: 1, onTimeRepaymentRatioBps: 10_001, onAccountOrders: 1, longestOverdueDays: 0, tenureMonths: 0 })).toThrow(RangeError);
    expect(() => scoreDealer({ orderVolume12mFen: -1, onTimeRepaymentRatioBps: 0, onAccountOrders: 0, longestOverdueDays: 0, tenureMonths: 0 })).toThrow(RangeError);
    expect(() => scoreDealer({ orderVolume12mFen: 1, onTimeRepaymentRatioBps: 0, onAccountOrders: 0, longestOverdueDays: 0.5, tenureMonths: 0 })).toThrow(RangeError);
  });
});
