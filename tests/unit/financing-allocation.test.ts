import { describe, expect, it } from "vitest";
import { ALLOCATION_COMPONENTS, DEFAULT_ALLOCATION_ORDER, allocate, type AllocationComponent } from "../../app/domain/financing/allocation";

const owed: Record<AllocationComponent, number> = {
  penalty: 150,
  compound: 8,
  overdue_interest: 50_000,
  overdue_principal: 1_000_000,
  current_interest: 3_000,
  current_principal: 100_000,
};
// total owed: 150 + 8 + 50,000 + 1,000,000 + 3,000 + 100,000 = 1,153,158

describe("allocate", () => {
  it("the default order is charges, overdue interest, overdue principal, current", () => {
    expect(DEFAULT_ALLOCATION_ORDER).toEqual(["penalty", "compound", "overdue_interest", "overdue_principal", "current_interest", "current_principal"]);
    expect(ALLOCATION_COMPONENTS).toHaveLength(6);
  });

  it("a partial payment stops in the middle", () => {
    // 60,000: 150 + 8 + 50,000 = 50,158, then 9,842 of overdue principal
    expect(allocate(60_000, owed)).toEqual({
      applied: { penalty: 150, compound: 8, overdue_interest: 50_000, overdue_principal: 9_842, current_interest: 0, current_principal: 0 },
      unappliedFen: 0,
    });
    expect(allocate(100, owed).applied).toEqual({ penalty: 100, compound: 0, overdue_interest: 0, overdue_principal: 0, current_interest: 0, current_principal: 0 });
  });

  it("an exact payment clears everything", () => {
    expect(allocate(1_153_158, owed)).toEqual({ applied: owed, unappliedFen: 0 });
  });

  it("an excess comes back unapplied", () => {
    expect(allocate(1_200_000, owed)).toEqual({ applied: owed, unappliedFen: 46_842 });
    expect(allocate(0, owed).unappliedFen).toBe(0);
  });

  it("follows a custom order", () => {
    const principalFirst: AllocationComponent[] = ["overdue_principal", "overdue_interest", "current_principal", "current_interest", "penalty", "compound"];
    // 1,010,000: 1,000,000 principal, then 10,000 of overdue interest
    expect(allocate(1_010_000, owed, principalFirst)).toEqual({
      applied: { penalty: 0, compound: 0, overdue_interest: 10_000, overdue_principal: 1_000_000, current_interest: 0, current_principal: 0 },
      unappliedFen: 0,
    });
  });

  it("refuses an order that is not a permutation of the six, and bad amounts", () => {
    expect(() => allocate(1, owed, ["penalty", "compound"])).toThrow(RangeError);
    expect(() => allocate(1, owed, ["penalty", "penalty", "overdue_interest", "overdue_principal", "current_interest", "current_principal"])).toThrow(RangeError);
    expect(() => allocate(1, owed, ["penalty", "fee" as AllocationComponent, "overdue_interest", "overdue_principal", "current_interest", "current_principal"])).toThrow(RangeError);
    expect(() => allocate(-1, owed)).toThrow(RangeError);
    expect(() => allocate(1.5, owed)).toThrow(RangeError);
    expect(() => allocate(1, { ...owed, compound: -8 })).toThrow(RangeError);
  });
});
