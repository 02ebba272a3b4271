/**
 * The ledger context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { MAX_TRANSFER_FEN, STATEMENT_ASSERTION_FAILED, accountCode, accountSnapshotFromRows, accountView, accountsByCodesQuery, applyBatch, ensureAccount, findAccountByCode, ledgerTotals, listAccountsForOrganization, lockAccountsByCodes, postPending, prepareTransfers, readAccountsByCodes, transfer, transferByCode, verifyLedger, voidPending } from "./ledger.server";
export type { AccountRow, AccountSnapshot, AccountView, BatchOperation, Fen, LockedAccounts, PreparedTransfers, TransferResult } from "./ledger.server";
export { STATEMENT_LIMITS, getReadableAccount, getStatement, getWholeStatement, listAllAccountsForBank, listNamedAccounts, statementQuery } from "./statements.server";
