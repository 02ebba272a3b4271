/**
 * Overdue buckets and the five-category loan classification (贷款五级分类). Rules:
 * - Buckets by days past due: current 0, M1 1–30, M2 31–60, M3 61–90, M3+ over 90.
 * - The classification floor follows the NFRA/PBoC rules on risk classification of financial
 *   assets (金融资产风险分类办法, 2023), by days past due: 0 → normal (正常); any overdue →
 *   at least special mention (关注); over 90 → substandard (次级); over 270 → doubtful (可疑);
 *   over 360 → loss (损失).
 * - An officer may classify a loan worse than its floor, never better: the effective class is the
 *   worse of the two, and a reclassification better than the floor is refused.
 */

export const LOAN_CLASSES = ["normal", "special_mention", "substandard", "doubtful", "loss"] as const;

export type LoanClass = (typeof LOAN_CLASSES)[number];

export type DpdBucket = "current" | "M1" | "M2" | "M3" | "M3+";

function assertDaysPastDue(daysPastDue: number): void {
  if (!Number.isSafeInteger(daysPastDue) || daysPastDue < 0) throw new RangeError(`daysPastDue must be a non-negative integer, got ${daysPastDue}`);
}

function rank(loanClass: LoanClass): number {
  const index = LOAN_CLASSES.indexOf(loanClass);
  if (index < 0) throw new RangeError(`unknown loan class ${String(loanClass)}`);
  return index;
}

export function dpdBucket(daysPastDue: number): DpdBucket {
  assertDaysPastDue(daysPastDue);
  if (daysPastDue === 0) return "current";
  if (daysPastDue <= 30) return "M1";
  if (daysPastDue <= 60) return "M2";
  if (daysPastDue <= 90) return "M3";
  return "M3+";
}

export function classFloor(daysPastDue: number): LoanClass {
  assertDaysPastDue(daysPastDue);
  if (daysPastDue > 360) return "loss";
  if (daysPastDue > 270) return "doubtful";
  if (daysPastDue > 90) return "substandard";
  if (daysPastDue >= 1) return "special_mention";
  return "normal";
}

/** The worse of the floor and the officer's class. */
export function effectiveClass(floor: LoanClass, officerClass: LoanClass | null): LoanClass {
  if (officerClass === null) return LOAN_CLASSES[rank(floor)];
  return rank(officerClass) > rank(floor) ? officerClass : floor;
}

export function checkReclassification(floor: LoanClass, proposed: LoanClass): { ok: true } | { ok: false; reason: string } {
  if (rank(proposed) < rank(floor)) {
    return { ok: false, reason: `a loan whose floor is ${floor} cannot be classified ${proposed}: an officer may only classify worse than the floor` };
  }
  return { ok: true };
}
