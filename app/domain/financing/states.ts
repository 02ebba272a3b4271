/**
 * Financing's two machines, as data: a loan application, and the loan it becomes. Each transition
 * names who may fire it; the domain checks every change against these tables, pages ask them
 * which buttons to show, and docs/financing-states.md is generated from them.
 *
 *   application: applied → approved | awaiting_second_approval | rejected | withdrawn;
 *                awaiting_second_approval → approved | rejected; approved → disbursed (the loan exists)
 *   loan:        disbursed → repaying → repaid
 *                repaying → overdue → repaying (arrears cleared) | repaid | guarantee_called | written_off
 *                guarantee_called → repaid | written_off
 *
 * What each state holds: an `applied` or `approved` application holds its amount on the borrower's
 * limit and, when guaranteed, on the guarantor's agreement and the dealer's sub-limit (pending
 * ledger transfers); `disbursed` posts those holds and the principal is owed; `rejected` and
 * `withdrawn` void them. A loan holds its principal on the limits until it is repaid, written off
 * or called (a called guarantee moves the exposure to the guarantor's own claim).
 */

import type { Role } from "../../../db/schema";

export const APPLICATION_STATUSES = ["applied", "awaiting_second_approval", "approved", "rejected", "withdrawn", "disbursed"] as const;
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

export const APPLICATION_EVENTS = ["approve", "second_approve", "reject", "withdraw", "disburse"] as const;
export type ApplicationEvent = (typeof APPLICATION_EVENTS)[number];

export const LOAN_STATUSES = ["disbursed", "repaying", "overdue", "repaid", "guarantee_called", "written_off"] as const;
export type LoanStatus = (typeof LOAN_STATUSES)[number];

export const LOAN_EVENTS = ["start_repaying", "fall_overdue", "cure", "repay_in_full", "call_guarantee", "write_off", "reclassify"] as const;
export type LoanEvent = (typeof LOAN_EVENTS)[number];

/** `borrower`: the borrowing organisation; `bank`: the bank's staff; `system`: a workflow step. */
export type FinancingParty = "borrower" | "bank" | "system";

export interface FinancingTransition<S extends string, E extends string> {
  from: S;
  event: E;
  to: S;
  by: readonly FinancingParty[];
  /** When one event has two targets, the condition that picks this one (named for the doc). */
  when?: ApplicationGuard;
}

/** Four eyes (两人审批): above the product's second-approver limit one approval is not enough. */
export type ApplicationGuard = "within_second_approver_limit" | "above_second_approver_limit";

const a = (from: ApplicationStatus, event: ApplicationEvent, to: ApplicationStatus, ...by: FinancingParty[]): FinancingTransition<ApplicationStatus, ApplicationEvent> => ({ from, event, to, by });
const guarded = (when: ApplicationGuard, transition: FinancingTransition<ApplicationStatus, ApplicationEvent>) => ({ ...transition, when });
const l = (from: LoanStatus, event: LoanEvent, to: LoanStatus, ...by: FinancingParty[]): FinancingTransition<LoanStatus, LoanEvent> => ({ from, event, to, by });

export const APPLICATION_MACHINE: readonly FinancingTransition<ApplicationStatus, ApplicationEvent>[] = [
  // Below the product's auto-approval limit the checks approve it (system); above, an officer.
  guarded("within_second_approver_limit", a("applied", "approve", "approved", "bank", "system")),
  // Four eyes: above the second-approver limit the first approval is one signature; a different
  // officer's approval (never the first one's) moves it on.
  guarded("above_second_approver_limit", a("applied", "approve", "awaiting_second_approval", "bank")),
  a("awaiting_second_approval", "second_approve", "approved", "bank"),
  a("applied", "reject", "rejected", "bank", "system"),
  a("awaiting_second_approval", "reject", "rejected", "bank"),
  a("applied", "withdraw", "withdrawn", "borrower"),
  a("awaiting_second_approval", "withdraw", "withdrawn", "borrower"),
  // A disbursement step that finds the purpose gone (the order cancelled) withdraws it.
  a("approved", "withdraw", "withdrawn", "system"),
  a("approved", "disburse", "disbursed", "system"),
];

export const LOAN_MACHINE: readonly FinancingTransition<LoanStatus, LoanEvent>[] = [
  l("disbursed", "start_repaying", "repaying", "system"),
  l("disbursed", "repay_in_full", "repaid", "borrower", "system"),
  l("repaying", "repay_in_full", "repaid", "borrower", "system"),
  l("repaying", "fall_overdue", "overdue", "system"),
  l("disbursed", "fall_overdue", "overdue", "system"),
  l("overdue", "cure", "repaying", "borrower", "system"),
  l("overdue", "repay_in_full", "repaid", "borrower", "system"),
  l("overdue", "call_guarantee", "guarantee_called", "system"),
  l("overdue", "write_off", "written_off", "bank"),
  l("guarantee_called", "repay_in_full", "repaid", "system"),
  l("guarantee_called", "write_off", "written_off", "bank"),
  // A class change keeps the status; it is an event so it is authorised and recorded like one.
  l("disbursed", "reclassify", "disbursed", "bank"),
  l("repaying", "reclassify", "repaying", "bank"),
  l("overdue", "reclassify", "overdue", "bank"),
  l("guarantee_called", "reclassify", "guarantee_called", "bank"),
];

/** Loans that still owe something: accrued daily, listed in the portfolio's outstanding. */
export const OPEN_LOAN_STATUSES: readonly LoanStatus[] = ["disbursed", "repaying", "overdue", "guarantee_called"];
/** Applications that still hold their amount on the limits. */
export const HOLDING_APPLICATION_STATUSES: readonly ApplicationStatus[] = ["applied", "awaiting_second_approval", "approved"];

const BORROWER_FINANCE: readonly Role[] = ["owner", "admin", "finance"];
const CREDIT: readonly Role[] = ["credit_officer", "platform_admin"];

/** The roles behind each party's events (the bank acts through its credit staff). */
export const APPLICATION_EVENT_ROLES: Readonly<Record<ApplicationEvent, Partial<Record<"borrower" | "bank", readonly Role[]>>>> = {
  approve: { bank: CREDIT },
  second_approve: { bank: CREDIT },
  reject: { bank: CREDIT },
  withdraw: { borrower: BORROWER_FINANCE },
  disburse: {},
};

export const LOAN_EVENT_ROLES: Readonly<Record<LoanEvent, Partial<Record<"borrower" | "bank", readonly Role[]>>>> = {
  start_repaying: {},
  fall_overdue: {},
  cure: {},
  repay_in_full: { borrower: BORROWER_FINANCE },
  call_guarantee: {},
  // Writing a loan off loses the bank money: its credit staff only, with a reason.
  write_off: { bank: CREDIT },
  reclassify: { bank: CREDIT },
};

export function findApplicationTransition(from: ApplicationStatus, event: ApplicationEvent, guard?: ApplicationGuard) {
  return APPLICATION_MACHINE.find((t) => t.from === from && t.event === event && (t.when === undefined || t.when === guard));
}

export function findLoanTransition(from: LoanStatus, event: LoanEvent) {
  return LOAN_MACHINE.find((t) => t.from === from && t.event === event);
}

/** Events a party may fire on an application now: the buttons a page shows. */
export function availableApplicationEvents(from: ApplicationStatus, party: FinancingParty): ApplicationEvent[] {
  return [...new Set(APPLICATION_MACHINE.filter((t) => t.from === from && t.by.includes(party)).map((t) => t.event))];
}

export function availableLoanEvents(from: LoanStatus, party: FinancingParty): LoanEvent[] {
  return LOAN_MACHINE.filter((t) => t.from === from && t.by.includes(party)).map((t) => t.event);
}
