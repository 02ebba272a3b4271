/**
 * The financing context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 * Pure modules first (state tables, schedules, rates, risk), then the `.server` modules.
 */
export { APPLICATION_EVENT_ROLES, APPLICATION_MACHINE, APPLICATION_STATUSES, HOLDING_APPLICATION_STATUSES, LOAN_EVENT_ROLES, LOAN_MACHINE, LOAN_STATUSES, OPEN_LOAN_STATUSES, availableApplicationEvents, availableLoanEvents } from "./states";
export type { ApplicationEvent, ApplicationStatus, FinancingParty, LoanEvent, LoanStatus } from "./states";
export { financingStatesMarkdown } from "./states-doc";
export { FINANCING_EVENTS } from "./internal.server";
export { addMonthsClamped, buildSchedule, equalInstalmentPaymentFen } from "./schedule";
export type { Instalment, RepaymentMethod, ScheduleInput } from "./schedule";
export { accrualForDay, payoffInterestFen } from "./accrual";
export { ALLOCATION_COMPONENTS, DEFAULT_ALLOCATION_ORDER, allocate } from "./allocation";
export type { AllocationComponent } from "./allocation";
export { LOAN_CLASSES, checkReclassification, classFloor, dpdBucket, effectiveClass } from "./risk";
export type { DpdBucket, LoanClass } from "./risk";
export { dailyAmountFen, lprRatePpm, penaltyRatePpm } from "./rates";
export { SCORECARD_BANDS, scoreDealer } from "./scorecard";
export type { ScorecardFeatures, ScoreRow } from "./scorecard";
export { PRODUCT_LIMITS, contractRates, createProduct, getProduct, listLprRates, listProducts, lprOn, productOfKind, recordLpr } from "./products.server";
export type { LprRate, ProductInput } from "./products.server";
export { FACILITY_LIMITS, getFacility, listFacilities, setFacility } from "./facilities.server";
export type { FacilityInput, FacilitySummary } from "./facilities.server";
export { APPLICATION_LIMITS, DISBURSE_JOB, FINANCING_QUEUE, applyForOrderFinancing, approveApplication, rejectApplication, withdrawApplication } from "./applications.server";
export { disburseApplication, previewSchedule } from "./disbursement.server";
export type { SchedulePreview } from "./disbursement.server";
export { AUTO_DEBIT_JOB, GUARANTEE_CALL_JOB, LOAN_LIMITS, accrueLoans, callGuarantee, reclassifyLoan, repayLoan, writeOffLoan } from "./loans.server";
export type { Owed, RepaymentInput, RepaymentResult } from "./loans.server";
export { ACCRUAL_BATCH_JOB, ACCRUAL_CLOSE_JOB, ACCRUAL_START_JOB, REMINDER_LIMITS, accrualBatchJob, accrualDateFor, closeAccrualRun, autoDebitDueLoans, sendLoanReminders, getAccrualRun, listAccrualRuns, runAccrualBatch, startAccrualRun } from "./accrual-run.server";
export type { AccrualRunView } from "./accrual-run.server";
export { EXPORT_LIMITS, applicationForOrder, exportLoansCsv, getApplication, getLoan, listApplications, listLoans, listLoansPage, portfolio, requireScopeFor } from "./queries.server";
export type { ApplicationView, FinancingScope, LoanDetail, LoanListItem, Portfolio } from "./queries.server";
export { proposeLimit } from "./scorecard.server";
export { renderLoanContractPdf } from "./contract-pdf.server";
export { creditLineFor, drawOnCreditLine, type CreditLineView, type DrawInput } from "./credit-lines.server";
export { PORTFOLIO_HISTORY_LIMITS, portfolioHistory, type PortfolioHistory, type PortfolioHistoryPoint } from "./portfolio-history.server";
export { advanceOn, receivablesForSale, receivablesSold, repayOnAccountWithAssignment, sellReceivable, type AssignedRepaymentResult, type ReceivableForSale, type ReceivablesForSale, type ReceivablesProduct, type SoldReceivable } from "./receivables.server";
export { marketReceivablesForSale, marketReceivablesSold, passMarketProceedsToBank, ruleMarketDisputeWithAssignment, sellMarketReceivable, settleMarketOrdersWithAssignment, type MarketReceivableForSale, type MarketReceivablesForSale, type ProceedsToBank, type SoldMarketReceivable } from "./market-receivables.server";
export { EPAY_REPAYMENT_LIMITS, applyCapturedLoanRepayment, loanRepaymentReference, settleEpayRepaymentAttempts, startEpayRepayment, type EpayRepaymentMode, type EpayRepaymentStart } from "./epay-repayment.server";
