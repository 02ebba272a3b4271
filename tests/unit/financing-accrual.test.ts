import { describe, expect, it } from "vitest";
import { accrualForDay, payoffInterestFen, type AccrualState } from "../../app/domain/financing/accrual";
import { addDays } from "../../app/domain/shared/dates";

function state(parts: Partial<AccrualState> & Pick<AccrualState, "instalments">): AccrualState {
  return { paid: [], contractRatePpm: 36_000, penaltyRatePpm: 54_000, graceDays: 3, ...parts };
}

// The 90-day bullet of the schedule test: 1,000,000 fen at 4.35%, interest 10,875.
const bullet = state({
  contractRatePpm: 43_500,
  penaltyRatePpm: 65_250,
  instalments: [{ seq: 1, periodStartOn: "2027-01-01", dueOn: "2027-04-01", days: 90, interestFen: 10_875, principalFen: 1_000_000 }],
});

describe("accrualForDay: scheduled interest", () => {
  it("a 90-day bullet's days sum to exactly its interest", () => {
    let total = 0;
    for (let k = 0; k < 90; k++) total += accrualForDay(bullet, addDays("2027-01-01", k)).interestFen;
    expect(total).toBe(10_875);
  });

  it("day values by cumulative rounding: 10,875/90 = 120.83 a day", () => {
    // day 1: he(120.83) = 121; day 2: he(241.67) = 242 − 121 = 121; day 3: he(362.5) = 362 − 242 = 120
    expect(accrualForDay(bullet, "2027-01-01").interestFen).toBe(121);
    expect(accrualForDay(bullet, "2027-01-02").interestFen).toBe(121);
    expect(accrualForDay(bullet, "2027-01-03").interestFen).toBe(120);
  });

  it("a 3-day period of 10 fen: 3, 4, 3", () => {
    // he(3.33) = 3; he(6.67) = 7 → 4; 10 → 3
    const s = state({ instalments: [{ seq: 1, periodStartOn: "2027-05-01", dueOn: "2027-05-04", days: 3, interestFen: 10, principalFen: 100 }] });
    expect(["2027-05-01", "2027-05-02", "2027-05-03"].map((d) => accrualForDay(s, d).interestFen)).toEqual([3, 4, 3]);
  });

  it("a 4-day period of 10 fen rounds halves to even: 2, 3, 3, 2", () => {
    // he(2.5) = 2; he(5) = 5 → 3; he(7.5) = 8 → 3; 10 → 2
    const s = state({ instalments: [{ seq: 1, periodStartOn: "2027-05-01", dueOn: "2027-05-05", days: 4, interestFen: 10, principalFen: 100 }] });
    expect(["2027-05-01", "2027-05-02", "2027-05-03", "2027-05-04"].map((d) => accrualForDay(s, d).interestFen)).toEqual([2, 3, 3, 2]);
  });

  it("nothing before the start nor from the last due date on", () => {
    expect(accrualForDay(bullet, "2026-12-31").interestFen).toBe(0);
    expect(accrualForDay(bullet, "2027-04-01")).toEqual({ date: "2027-04-01", interestFen: 0, penaltyFen: 0, compoundFen: 0, overduePrincipalFen: 0, overdueInterestFen: 0, daysPastDue: 0 });
  });
});

describe("accrualForDay: overdue", () => {
  // 1,000,000 principal + 50,000 interest due 2027-01-31; penalty rate 54,000 ppm (3.6% + 50%), grace 3.
  // A day's penalty on 1,000,000: 1,000,000 × 54,000 / 360,000,000 = 150.
  // A day's compound on 50,000: 50,000 × 54,000 / 360,000,000 = 7.5 → 8 (even).
  const overdue = state({ instalments: [{ seq: 1, periodStartOn: "2027-01-01", dueOn: "2027-01-31", days: 30, interestFen: 50_000, principalFen: 1_000_000 }] });

  it("is not past due on the due date itself", () => {
    expect(accrualForDay(overdue, "2027-01-31")).toMatchObject({ daysPastDue: 0, overduePrincipalFen: 0, penaltyFen: 0 });
  });

  it("charges nothing within grace, then penalty and compound each day", () => {
    expect(accrualForDay(overdue, "2027-02-01")).toEqual({ date: "2027-02-01", interestFen: 0, penaltyFen: 0, compoundFen: 0, overduePrincipalFen: 1_000_000, overdueInterestFen: 50_000, daysPastDue: 1 });
    expect(accrualForDay(overdue, "2027-02-03")).toMatchObject({ daysPastDue: 3, penaltyFen: 0, compoundFen: 0 });
    expect(accrualForDay(overdue, "2027-02-04")).toMatchObject({ daysPastDue: 4, penaltyFen: 150, compoundFen: 8 });
    expect(accrualForDay({ ...overdue, graceDays: 0 }, "2027-02-01")).toMatchObject({ daysPastDue: 1, penaltyFen: 150, compoundFen: 8 });
  });

  it("compound runs on unpaid interest only", () => {
    // 20,000 of the interest paid: 30,000 × 54,000 / 360,000,000 = 4.5 → 4 (even)
    const partly = { ...overdue, paid: [{ seq: 1, principalPaidFen: 0, interestPaidFen: 20_000 }] };
    expect(accrualForDay(partly, "2027-02-10")).toMatchObject({ overdueInterestFen: 30_000, compoundFen: 4, penaltyFen: 150 });
    // interest all paid, 400,000 principal paid: penalty on 600,000 = 90, no compound
    const interestPaid = { ...overdue, paid: [{ seq: 1, principalPaidFen: 400_000, interestPaidFen: 50_000 }] };
    expect(accrualForDay(interestPaid, "2027-02-10")).toMatchObject({ overduePrincipalFen: 600_000, overdueInterestFen: 0, penaltyFen: 90, compoundFen: 0, daysPastDue: 10 });
    // paid in two payments summing to the whole: no longer past due
    const settled = { ...overdue, paid: [{ seq: 1, principalPaidFen: 1_000_000, interestPaidFen: 30_000 }, { seq: 1, principalPaidFen: 0, interestPaidFen: 20_000 }] };
    expect(accrualForDay(settled, "2027-02-10")).toMatchObject({ daysPastDue: 0, penaltyFen: 0, compoundFen: 0, overduePrincipalFen: 0 });
  });

  it("keeps recognising the current period while an older instalment is overdue; dpd from the oldest", () => {
    const s = state({
      graceDays: 0,
      instalments: [
        { seq: 1, periodStartOn: "2027-01-01", dueOn: "2027-01-31", days: 30, interestFen: 3_000, principalFen: 100_000 },
        { seq: 2, periodStartOn: "2027-01-31", dueOn: "2027-03-02", days: 30, interestFen: 3_000, principalFen: 100_000 },
        { seq: 3, periodStartOn: "2027-03-02", dueOn: "2027-04-01", days: 30, interestFen: 3_000, principalFen: 100_000 },
      ],
    });
    // 2027-02-10: day 11 of period 2 → 3,000×11/30 − 3,000×10/30 = 1,100 − 1,000 = 100
    // overdue: instalment 1 only; penalty 100,000 × 54,000/360e6 = 15; compound 3,000 × … = 0.45 → 0
    expect(accrualForDay(s, "2027-02-10")).toEqual({ date: "2027-02-10", interestFen: 100, penaltyFen: 15, compoundFen: 0, overduePrincipalFen: 100_000, overdueInterestFen: 3_000, daysPastDue: 10 });
    // 2027-03-05: instalments 1 and 2 overdue, 33 days past the first
    expect(accrualForDay(s, "2027-03-05")).toMatchObject({ overduePrincipalFen: 200_000, overdueInterestFen: 6_000, daysPastDue: 33, penaltyFen: 30, compoundFen: 1 });
    // first paid in full: dpd counts from the second
    expect(accrualForDay({ ...s, paid: [{ seq: 1, principalPaidFen: 100_000, interestPaidFen: 3_000 }] }, "2027-03-05")).toMatchObject({ daysPastDue: 3, overduePrincipalFen: 100_000 });
  });

  it("refuses bad state", () => {
    expect(() => accrualForDay(overdue, "2027-02-30")).toThrow(RangeError);
    expect(() => accrualForDay({ ...overdue, graceDays: -1 }, "2027-02-01")).toThrow(RangeError);
    expect(() => accrualForDay({ ...overdue, paid: [{ seq: 9, principalPaidFen: 1, interestPaidFen: 0 }] }, "2027-02-01")).toThrow(RangeError);
    expect(() => accrualForDay({ ...overdue, paid: [{ seq: 1, principalPaidFen: -1, interestPaidFen: 0 }] }, "2027-02-01")).toThrow(RangeError);
    expect(() => accrualForDay(state({ instalments: [{ seq: 1, periodStartOn: "2027-01-01", dueOn: "2027-01-31", days: 29, interestFen: 1, principalFen: 1 }] }), "2027-01-05")).toThrow(RangeError);
  });
});

describe("payoffInterestFen", () => {
  it("is the interest recognised up to, not including, the payoff date", () => {
    expect(payoffInterestFen(bullet, "2027-01-01")).toBe(0);
    // three days elapsed: he(10,875 × 3 / 90) = he(362.5) = 362 = 121 + 121 + 120
    expect(payoffInterestFen(bullet, "2027-01-04")).toBe(362);
    expect(payoffInterestFen(bullet, "2027-04-01")).toBe(10_875);
    expect(payoffInterestFen({ ...bullet, paid: [{ seq: 1, principalPaidFen: 0, interestPaidFen: 10_875 }] }, "2027-04-05")).toBe(0);
  });

  it("adds unpaid interest of instalments already due", () => {
    const s = state({
      instalments: [
        { seq: 1, periodStartOn: "2027-01-01", dueOn: "2027-01-31", days: 30, interestFen: 3_000, principalFen: 100_000 },
        { seq: 2, periodStartOn: "2027-01-31", dueOn: "2027-03-02", days: 30, interestFen: 3_000, principalFen: 100_000 },
      ],
      paid: [{ seq: 1, principalPaidFen: 0, interestPaidFen: 1_000 }],
    });
    // 2,000 still owed on instalment 1 + 10 of 30 days of instalment 2 (1,000)
    expect(payoffInterestFen(s, "2027-02-10")).toBe(3_000);
  });
});
