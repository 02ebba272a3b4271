/**
 * Repayment allocation (还款顺序). Rules:
 * - A repayment is applied to the components in order, each taking min(what is left, what it is
 *   owed); what no component takes is returned as unapplied (an overpayment the caller refunds or
 *   holds), never spread pro rata.
 * - The default order settles the oldest and costliest debt first: penalty (罚息), compound (复利),
 *   overdue interest, overdue principal, then the current instalment's interest and principal, the
 *   common order of PRC loan contracts (charges → interest → principal). A contract may agree
 *   another; it must name each of the six components exactly once.
 * - All amounts are non-negative safe integers of fen.
 */
import { assertNonNegativeInteger } from "./rates";

export const ALLOCATION_COMPONENTS = ["penalty", "compound", "overdue_interest", "overdue_principal", "current_interest", "current_principal"] as const;

export type AllocationComponent = (typeof ALLOCATION_COMPONENTS)[number];

export const DEFAULT_ALLOCATION_ORDER: readonly AllocationComponent[] = ALLOCATION_COMPONENTS;

export function assertAllocationOrder(order: readonly AllocationComponent[]): void {
  const seen = new Set<string>(order);
  if (order.length !== ALLOCATION_COMPONENTS.length || seen.size !== order.length || !ALLOCATION_COMPONENTS.every((c) => seen.has(c))) {
    throw new RangeError(`allocation order must name each of ${ALLOCATION_COMPONENTS.join(", ")} exactly once, got ${order.join(", ")}`);
  }
}

export function allocate(
  amountFen: number,
  owed: Record<AllocationComponent, number>,
  order: readonly AllocationComponent[] = DEFAULT_ALLOCATION_ORDER,
): { applied: Record<AllocationComponent, number>; unappliedFen: number } {
  assertNonNegativeInteger(amountFen, "amountFen");
  assertAllocationOrder(order);
  for (const component of ALLOCATION_COMPONENTS) assertNonNegativeInteger(owed[component], `owed ${component}`);

  const applied = Object.fromEntries(ALLOCATION_COMPONENTS.map((c) => [c, 0])) as Record<AllocationComponent, number>;
  let restFen = amountFen;
  for (const component of order) {
    const takenFen = Math.min(restFen, owed[component]);
    applied[component] = takenFen;
    restFen -= takenFen;
  }
  return { applied, unappliedFen: restFen };
}
