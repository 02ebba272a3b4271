import { z } from "zod";
import { accrualBatchJob, accrualDateFor, autoDebitDueLoans, sendLoanReminders, callGuarantee, closeAccrualRun, disburseApplication, runAccrualBatch, startAccrualRun } from "../app/domain/financing";
import type { ChildJob, Step } from "./registry";

export { ACCRUAL_BATCH_JOB, ACCRUAL_CLOSE_JOB, ACCRUAL_START_JOB, AUTO_DEBIT_JOB, DISBURSE_JOB, FINANCING_QUEUE, GUARANTEE_CALL_JOB } from "../app/domain/financing";

/**
 * Financing's workflow steps (decision 024). Each is one or a few transactions over PostgreSQL, and
 * each is safe to run twice: the application, the accrual batch, the loan and the repayment key
 * each say whether the work is done.
 */

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

const disbursePayload = z.object({ applicationId: z.string().uuid() }).strict();
export const parseDisbursePayload = (data: unknown) => disbursePayload.parse(data);

export const disburseStep: Step<z.infer<typeof disbursePayload>> = async (deps, payload) => {
  const { loanId } = await disburseApplication(deps.db, payload.applicationId, deps.now?.() ?? new Date());
  if (loanId) deps.logger.info({ applicationId: payload.applicationId, loanId }, "loan disbursed");
};

/** The schedule's trigger: start the run for yesterday if it has not started. Missed days back-fill per loan. */
const startPayload = z.object({ businessDate: isoDate.optional() }).strict();
export const parseAccrualStartPayload = (data: unknown) => startPayload.parse(data ?? {});

export const accrualStartStep: Step<z.infer<typeof startPayload>> = async (deps, payload) => {
  const now = deps.now?.() ?? new Date();
  const run = await startAccrualRun(deps.db, payload.businessDate ?? accrualDateFor(now), now);
  deps.logger.info({ businessDate: run.businessDate, loans: run.loansTotal, batches: run.batchesTotal }, "accrual run started");
};

const batchPayload = z.object({ businessDate: isoDate, batchNo: z.number().int().min(0) }).strict();
export const parseAccrualBatchPayload = (data: unknown) => batchPayload.parse(data);

export const accrualBatchStep: Step<z.infer<typeof batchPayload>> = async (deps, payload) => {
  await runAccrualBatch(deps.db, payload.businessDate, payload.batchNo, deps.now?.() ?? new Date());
};

/** The run's parent job: its children are the run's batches, numbered 0 … batchesTotal − 1 (at most FLOW_CHILDREN_MAX, checked by defineStep). */
const closePayload = z.object({ businessDate: isoDate, batchesTotal: z.number().int().min(1) }).strict();
export const parseAccrualClosePayload = (data: unknown) => closePayload.parse(data);

export function accrualCloseChildren(payload: z.infer<typeof closePayload>): ChildJob[] {
  return Array.from({ length: payload.batchesTotal }, (_, batchNo) => {
    const job = accrualBatchJob(payload.businessDate, batchNo);
    return { name: job.name, jobId: job.jobId, payload: job.payload };
  });
}

export const accrualCloseStep: Step<z.infer<typeof closePayload>> = async (deps, payload) => {
  const result = await closeAccrualRun(deps.db, payload.businessDate, deps.now?.() ?? new Date());
  if (result.batchesRunHere > 0) deps.logger.warn({ businessDate: payload.businessDate, batches: result.batchesRunHere }, "accrual close ran batches its children had not finished");
  if (result.closed) deps.logger.info({ businessDate: payload.businessDate }, "accrual run closed");
};

const autoDebitPayload = z.object({ businessDate: isoDate }).strict();
export const parseAutoDebitPayload = (data: unknown) => autoDebitPayload.parse(data);

export const autoDebitStep: Step<z.infer<typeof autoDebitPayload>> = async (deps, payload) => {
  const result = await autoDebitDueLoans(deps.db, payload.businessDate, deps.now?.() ?? new Date());
  if (result.debited > 0) deps.logger.info({ ...result, businessDate: payload.businessDate }, "loans auto-debited");
  // After the debit: what it paid is not reminded.
  const reminded = await sendLoanReminders(deps.db, payload.businessDate);
  if (reminded > 0) deps.logger.info({ reminded, businessDate: payload.businessDate }, "loan reminders sent");
};

const callPayload = z.object({ loanId: z.string().uuid() }).strict();
export const parseGuaranteeCallPayload = (data: unknown) => callPayload.parse(data);

export const guaranteeCallStep: Step<z.infer<typeof callPayload>> = async (deps, payload) => {
  const result = await callGuarantee(deps.db, payload.loanId, deps.now?.() ?? new Date());
  if (result.called) deps.logger.info({ loanId: payload.loanId, paidFen: result.paidFen }, "guarantee called");
};
