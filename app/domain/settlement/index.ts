/**
 * The settlement context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 * Pure modules first, then the `.server` modules.
 */
export { SETTLEMENT_ACCOUNT_LIMITS, maskAccountNumber } from "./format";
export { confirmVerificationDeposit, getSettlementAccount, registerSettlementAccount, requireVerifiedSettlementAccount, sendVerificationDeposit } from "./accounts.server";
export type { DepositOutcome, SettlementAccountInput, SettlementAccountView, SettlementActor } from "./accounts.server";
export { RESERVE_RULES, availableForPayoutFen, retentionReserve } from "./reserve";
export type { Reserve, ReserveFigures } from "./reserve";
export { PAYOUT_EVENTS, PAYOUT_FINAL_STATUSES, PAYOUT_MACHINE, PAYOUT_STATUSES, payoutTransition } from "./payout-states";
export type { PayoutEvent, PayoutParty, PayoutStatus, PayoutTransition } from "./payout-states";
export { PAYOUT_LIMITS, SEND_PAYOUT_JOB, SETTLEMENT_QUEUE, applyPayoutAnswer, applyPayoutCallback, getAvailableForPayout, payoutCallbackSchema, getPayout, listPayouts, payoutReference, requestPayout, sendPayout, sendPayoutJob } from "./payouts.server";
export type { AvailableForPayout, PayoutAnswer, PayoutCallback, PayoutView, SendOutcome } from "./payouts.server";
export { RECONCILIATION_LIMITS, getStatementDay, importStatement, listMismatches, listStatementDays, mismatchesCsv, resolveMismatch, statementImported, yesterdayInShanghai } from "./reconciliation.server";
export type { ImportOutcome, MismatchView, ReconciliationActor, StatementDaySummary } from "./reconciliation.server";
