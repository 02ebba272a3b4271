import { describe, expect, it } from "vitest";
import { dailyAmountFen, lprRatePpm, penaltyRatePpm, PENALTY_MARKUP_DEFAULT_BPS } from "../../app/domain/financing/rates";
import { addMonthsClamped, buildSchedule, type Instalment } from "../../app/domain/financing/schedule";

const sum = (rows: Instalment[], key: "principalFen" | "interestFen" | "totalFen") => rows.reduce((s, r) => s + r[key], 0);

describe("rates", () => {
  it("penalty rate is the contract rate + 50% by default, half to even to the ppm", () => {
    expect(PENALTY_MARKUP_DEFAULT_BPS).toBe(5_000);
    expect(penaltyRatePpm(36_000, 5_000)).toBe(54_000);
    expect(penaltyRatePpm(43_500, 5_000)).toBe(65_250); // 43,500 + 21,750
    expect(penaltyRatePpm(33, 5_000)).toBe(49); // 33 + 16.5 → 16 (even)
    expect(penaltyRatePpm(35, 5_000)).toBe(53); // 35 + 17.5 → 18 (even)
  });

  it("LPR + spread in bp", () => {
    expect(lprRatePpm(30_000, 50)).toBe(35_000);
    expect(lprRatePpm(30_000, -50)).toBe(25_000);
    expect(() => lprRatePpm(3_000, -100)).toThrow(RangeError);
  });

  it("daily amount is actual/360, half to even", () => {
    expect(dailyAmountFen(1_000_000, 43_500, 90)).toBe(10_875);
    expect(dailyAmountFen(5_000, 36_000)).toBe(0); // 0.5 → 0
    expect(dailyAmountFen(5_000, 36_000, 3)).toBe(2); // 1.5 → 2
    expect(() => dailyAmountFen(-1, 36_000)).toThrow(RangeError);
    expect(() => dailyAmountFen(1.5, 36_000)).toThrow(RangeError);
  });
});

describe("addMonthsClamped", () => {
  it("clamps to the month's last day, counting from the start each time", () => {
    expect(addMonthsClamped("2027-01-31", 1)).toBe("2027-02-28");
    expect(addMonthsClamped("2027-01-31", 2)).toBe("2027-03-31");
    expect(addMonthsClamped("2027-01-31", 3)).toBe("2027-04-30");
    expect(addMonthsClamped("2028-01-31", 1)).toBe("2028-02-29");
    expect(addMonthsClamped("2027-12-31", 2)).toBe("2028-02-29");
    expect(addMonthsClamped("2027-01-15", 12)).toBe("2028-01-15");
    expect(addMonthsClamped("2027-01-15", 0)).toBe("2027-01-15");
  });
});

describe("buildSchedule: bullet", () => {
  it("1,000,000 fen at 4.35% for 90 days: 1,000,000 × 43,500 × 90 / 360,000,000 = 10,875", () => {
    const rows = buildSchedule({ principalFen: 1_000_000, annualRatePpm: 43_500, method: "bullet", startOn: "2027-01-01", termDays: 90 });
    expect(rows).toEqual([
      {
        seq: 1,
        periodStartOn: "2027-01-01",
        dueOn: "2027-04-01", // 31 + 28 + 31 = 90 days
        days: 90,
        openingPrincipalFen: 1_000_000,
        principalFen: 1_000_000,
        interestFen: 10_875,
        totalFen: 1_010_875,
        closingPrincipalFen: 0,
      },
    ]);
  });

  it("by months, clamped at month end", () => {
    const [row] = buildSchedule({ principalFen: 1_000_000, annualRatePpm: 36_000, method: "bullet", startOn: "2027-01-31", termMonths: 1 });
    expect(row.dueOn).toBe("2027-02-28");
    expect(row.days).toBe(28);
    expect(row.interestFen).toBe(2_800); // 1,000,000 × 36,000 × 28 / 360,000,000
  });

  it("rounds half to even", () => {
    expect(buildSchedule({ principalFen: 5_000, annualRatePpm: 36_000, method: "bullet", startOn: "2027-01-01", termDays: 1 })[0].interestFen).toBe(0); // 0.5
    expect(buildSchedule({ principalFen: 5_000, annualRatePpm: 36_000, method: "bullet", startOn: "2027-01-01", termDays: 3 })[0].interestFen).toBe(2); // 1.5
  });
});

describe("buildSchedule: interest monthly", () => {
  it("pays interest each month on actual days and the principal at the end", () => {
    const rows = buildSchedule({ principalFen: 1_000_000, annualRatePpm: 36_000, method: "interest_monthly", startOn: "2027-01-31", termMonths: 3 });
    expect(rows.map((r) => [r.periodStartOn, r.dueOn, r.days, r.principalFen, r.interestFen, r.closingPrincipalFen])).toEqual([
      ["2027-01-31", "2027-02-28", 28, 0, 2_800, 1_000_000],
      ["2027-02-28", "2027-03-31", 31, 0, 3_100, 1_000_000],
      ["2027-03-31", "2027-04-30", 30, 1_000_000, 3_000, 0],
    ]);
  });
});

describe("buildSchedule: equal principal", () => {
  // 1,200,000 fen at 3.6% from 2027-01-15: 100,000 a month; interest = opening × 36,000 × days /
  // 360,000,000 = opening × days / 10,000.
  const rows = buildSchedule({ principalFen: 1_200_000, annualRatePpm: 36_000, method: "equal_principal", startOn: "2027-01-15", termMonths: 12 });

  it("works out by hand", () => {
    expect(rows).toHaveLength(12);
    expect(rows[0]).toEqual({
      seq: 1,
      periodStartOn: "2027-01-15",
      dueOn: "2027-02-15",
      days: 31,
      openingPrincipalFen: 1_200_000,
      principalFen: 100_000,
      interestFen: 3_720, // 1,200,000 × 31 / 10,000
      totalFen: 103_720,
      closingPrincipalFen: 1_100_000,
    });
    expect([rows[1].days, rows[1].interestFen]).toEqual([28, 3_080]); // 1,100,000 × 28 / 10,000
    expect([rows[2].days, rows[2].interestFen]).toEqual([31, 3_100]); // 1,000,000 × 31
    expect([rows[3].days, rows[3].interestFen]).toEqual([30, 2_700]); // 900,000 × 30
    expect(rows[11]).toMatchObject({ periodStartOn: "2027-12-15", dueOn: "2028-01-15", days: 31, openingPrincipalFen: 100_000, principalFen: 100_000, interestFen: 310, closingPrincipalFen: 0 });
    expect(rows.map((r) => r.interestFen)).toEqual([3_720, 3_080, 3_100, 2_700, 2_480, 2_100, 1_860, 1_550, 1_200, 930, 600, 310]);
    expect(sum(rows, "principalFen")).toBe(1_200_000);
    expect(sum(rows, "interestFen")).toBe(23_630);
  });

  it("the last instalment takes what rounding left", () => {
    // 1,000,000 / 3 = 333,333.33 → 333,333, 333,333, then 333,334
    const three = buildSchedule({ principalFen: 1_000_000, annualRatePpm: 0, method: "equal_principal", startOn: "2027-01-15", termMonths: 3 });
    expect(three.map((r) => r.principalFen)).toEqual([333_333, 333_333, 333_334]);
    expect(three.map((r) => r.interestFen)).toEqual([0, 0, 0]);
  });

  it("refuses a principal too small to spread without a negative row", () => {
    // 13 / 8 = 1.625 → 2 a month: seven instalments take 14 > 13
    expect(() => buildSchedule({ principalFen: 13, annualRatePpm: 0, method: "equal_principal", startOn: "2027-01-15", termMonths: 8 })).toThrow(RangeError);
  });
});

describe("buildSchedule: equal instalment", () => {
  // ¥100,000 at 4.9% over 12 months. Independent check (python3, fractions, r = 0.049/12):
  //   A = 10,000,000 × r × (1+r)^12 / ((1+r)^12 − 1) = 855,616.62 fen → 855,617 (¥8,556.17);
  //   bc -l gives 8556.1662 yuan. The figure ¥8,560.75 sometimes quoted is for 5.0% (8,560.748).
  // Row 1: interest 10,000,000 × 49,000 / 12,000,000 = 40,833.33 → 40,833; principal 814,784.
  // Row 2: opening 9,185,216; interest 37,506.30 → 37,506; principal 818,111.
  // Row 12: opening 852,132; interest 3,479.54 → 3,480; pays 852,132 + 3,480 = 855,612.
  const rows = buildSchedule({ principalFen: 10_000_000, annualRatePpm: 49_000, method: "equal_instalment", startOn: "2027-03-10", termMonths: 12 });

  it("pays the annuity each month and the last absorbs the rounding", () => {
    expect(rows.slice(0, 11).every((r) => r.totalFen === 855_617)).toBe(true);
    expect(rows[0]).toEqual({
      seq: 1,
      periodStartOn: "2027-03-10",
      dueOn: "2027-04-10",
      days: 31,
      openingPrincipalFen: 10_000_000,
      principalFen: 814_784,
      interestFen: 40_833,
      totalFen: 855_617,
      closingPrincipalFen: 9_185_216,
    });
    expect(rows[1]).toMatchObject({ days: 30, openingPrincipalFen: 9_185_216, interestFen: 37_506, principalFen: 818_111, closingPrincipalFen: 8_367_105 });
    expect(rows[11]).toMatchObject({ dueOn: "2028-03-10", days: 29, openingPrincipalFen: 852_132, principalFen: 852_132, interestFen: 3_480, totalFen: 855_612, closingPrincipalFen: 0 });
    expect(sum(rows, "principalFen")).toBe(10_000_000);
    expect(sum(rows, "interestFen")).toBe(267_399); // python3 run, same rules
  });

  it("at rate 0 repays P/n and the last takes the rest", () => {
    const zero = buildSchedule({ principalFen: 1_000, annualRatePpm: 0, method: "equal_instalment", startOn: "2027-01-31", termMonths: 3 });
    expect(zero.map((r) => [r.dueOn, r.principalFen, r.interestFen, r.totalFen])).toEqual([
      ["2027-02-28", 333, 0, 333],
      ["2027-03-31", 333, 0, 333],
      ["2027-04-30", 334, 0, 334],
    ]);
  });
});

describe("buildSchedule: preconditions", () => {
  const base = { principalFen: 1_000_000, annualRatePpm: 36_000, startOn: "2027-01-15" } as const;
  it("refuses bad amounts, methods and terms", () => {
    expect(() => buildSchedule({ ...base, principalFen: -1, method: "bullet", termDays: 30 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, principalFen: 0, method: "bullet", termDays: 30 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, principalFen: 100.5, method: "bullet", termDays: 30 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, annualRatePpm: -1, method: "bullet", termDays: 30 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, method: "balloon" as never, termMonths: 3 })).toThrow(/unsupported repayment method/);
    expect(() => buildSchedule({ ...base, method: "equal_principal", termMonths: 0 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, method: "equal_principal", termMonths: 361 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, method: "bullet", termDays: 3_651 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, method: "bullet", termDays: 30, termMonths: 1 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, method: "bullet" })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, method: "equal_principal", termDays: 30 })).toThrow(RangeError);
    expect(() => buildSchedule({ ...base, startOn: "2027-02-30", method: "bullet", termDays: 30 })).toThrow(RangeError);
    expect(buildSchedule({ ...base, method: "bullet", termDays: 3_650 })).toHaveLength(1);
    expect(buildSchedule({ ...base, method: "equal_instalment", termMonths: 360 })).toHaveLength(360);
  });
});
