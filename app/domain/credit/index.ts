/**
 * The credit context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { chargeOnAccount, creditLineCodes, creditSummary, planCreditHolds, restoreCredit, setCreditLimit } from "./credit.server";
export type { CreditParties, CreditSummary } from "./credit.server";
