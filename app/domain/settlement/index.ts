/**
 * The settlement context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 * Pure modules first, then the `.server` modules.
 */
export { SETTLEMENT_ACCOUNT_LIMITS, maskAccountNumber } from "./format";
export { confirmVerificationDeposit, getSettlementAccount, registerSettlementAccount, requireVerifiedSettlementAccount, sendVerificationDeposit } from "./accounts.server";
export type { DepositOutcome, SettlementAccountInput, SettlementAccountView, SettlementActor } from "./accounts.server";
