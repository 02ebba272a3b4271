import type { Db } from "../db";
import type { Logger } from "../app/logger.server";
import { isDomainError } from "../app/domain/shared";
import { DELIVER_NOTIFICATION_JOB, NOTIFICATIONS_QUEUE } from "../app/domain/notifications";
import { deliverNotificationStep, parseDeliverNotificationPayload } from "./notifications";
import { FULFIL_PAYMENT_JOB, PAYMENTS_QUEUE, QUERY_PENDING_PAYMENTS_JOB } from "../app/domain/payments";
import { fulfilPaymentStep, parseFulfilPaymentPayload, parseQueryPendingPayload, queryPendingPaymentsStep } from "./payments";
import { AUTO_RECEIPT_JOB, autoReceiptStep, ORDER_NOTICE_JOB, orderNoticeStep, ORDERS_QUEUE, parseAutoReceiptPayload, parseOrderNoticePayload } from "./orders";
import {
  AUTO_CONFIRM_JOB,
  autoConfirmStep,
  EXPIRE_CHECKOUTS_JOB,
  expireCheckoutsStep,
  MARKET_ORDER_QUEUE,
  parseSettlePayload,
  parseSweepPayload,
  SETTLE_MARKET_ORDERS_JOB,
  settleStep,
} from "./market";
import { HOUSEKEEPING_QUEUE, parsePurgePayload, PURGE_EXPIRED_JOB, purgeExpiredStep } from "./housekeeping";
import {
  ACCRUAL_BATCH_JOB,
  ACCRUAL_CLOSE_JOB,
  ACCRUAL_START_JOB,
  accrualBatchStep,
  accrualCloseChildren,
  accrualCloseStep,
  accrualStartStep,
  AUTO_DEBIT_JOB,
  autoDebitStep,
  DISBURSE_JOB,
  disburseStep,
  FINANCING_QUEUE,
  GUARANTEE_CALL_JOB,
  guaranteeCallStep,
  parseAccrualBatchPayload,
  parseAccrualClosePayload,
  parseAccrualStartPayload,
  parseAutoDebitPayload,
  parseDisbursePayload,
  parseGuaranteeCallPayload,
} from "./financing";
import { parseSendPayoutPayload, SEND_PAYOUT_JOB, sendPayoutStep, SETTLEMENT_QUEUE } from "./settlement";
import { parseReconcileStatementPayload, RECONCILE_STATEMENT_JOB, reconcileStatementStep } from "./reconciliation";

/**
 * Every workflow step, by job name. A step is a plain async function over the database: BullMQ
 * workers (jobs/runtime.ts) and the embedded in-process runner (jobs/in-process-runner.ts) call the
 * same ones, and tests call them directly.
 *
 * Contract of a step: read the state, do the work in one transaction, move the state, write the
 * next outbox rows; running it twice (at-least-once delivery) changes nothing the second time.
 */

export interface StepDeps {
  db: Db;
  logger: Logger;
  /** The clock, for steps that compare against time (timers, due dates); tests pass a fixed one. */
  now?: () => Date;
}

export type Step<P> = (deps: StepDeps, payload: P) => Promise<void>;

/**
 * A job a parent step waits for (a BullMQ flow's child): a registered step's name, its
 * deterministic job id and its data. The parent runs once every child has run.
 */
export interface ChildJob {
  name: string;
  jobId: string;
  payload: Record<string, unknown>;
}

/** Most children one parent may have: a flow is added to Redis in one MULTI. */
export const FLOW_CHILDREN_MAX = 10_000;

/** A step as the runners see it: which queue it lives on, and how to run it from raw job data. */
export interface RegisteredStep {
  readonly queue: string;
  execute(deps: StepDeps, data: unknown): Promise<void>;
  /**
   * A parent step's children, computed from its own data (so its outbox row stays small and a
   * re-send after Redis is emptied rebuilds the same flow); absent for an ordinary step.
   */
  children?(data: unknown): readonly ChildJob[];
}

export interface TypedStep<P> extends RegisteredStep {
  parse(data: unknown): P;
  run: Step<P>;
}

export type StepRegistry = Readonly<Record<string, RegisteredStep>>;

/**
 * Retrying cannot help: the job data is malformed, its job name unknown, or the state it names is
 * gone. BullMQ gets an UnrecoverableError; the in-process runner marks the outbox row failed.
 */
export class PermanentStepError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentStepError";
  }
}

function parseOrPermanent<P>(parse: (data: unknown) => P, data: unknown): P {
  try {
    return parse(data);
  } catch (error) {
    throw new PermanentStepError(`invalid job data: ${(error as Error).message}`, { cause: error });
  }
}

export function defineStep<P>(definition: {
  queue: string;
  parse(data: unknown): P;
  run: Step<P>;
  /** Makes this a parent step: these run first (BullMQ FlowProducer children), then this step. */
  children?: (payload: P) => readonly ChildJob[];
}): TypedStep<P> {
  const children = definition.children;
  return {
    queue: definition.queue,
    parse: definition.parse,
    run: definition.run,
    ...(children
      ? {
          children(data: unknown) {
            const jobs = children(parseOrPermanent(definition.parse, data));
            if (jobs.length > FLOW_CHILDREN_MAX) throw new PermanentStepError(`a parent job has at most ${FLOW_CHILDREN_MAX} children, not ${jobs.length}`);
            return jobs;
          },
        }
      : {}),
    async execute(deps, data) {
      const payload = parseOrPermanent(definition.parse, data);
      try {
        await definition.run(deps, payload);
      } catch (error) {
        // A domain refusal of this kind will be the same on every retry.
        if (isDomainError(error) && (error.code === "not_found" || error.code === "validation")) {
          throw new PermanentStepError(error.message, { cause: error });
        }
        throw error;
      }
    },
  };
}

export const STEPS = {
  [DELIVER_NOTIFICATION_JOB]: defineStep({
    queue: NOTIFICATIONS_QUEUE,
    parse: parseDeliverNotificationPayload,
    run: deliverNotificationStep,
  }),
  [FULFIL_PAYMENT_JOB]: defineStep({ queue: PAYMENTS_QUEUE, parse: parseFulfilPaymentPayload, run: fulfilPaymentStep }),
  [QUERY_PENDING_PAYMENTS_JOB]: defineStep({ queue: PAYMENTS_QUEUE, parse: parseQueryPendingPayload, run: queryPendingPaymentsStep }),
  [AUTO_RECEIPT_JOB]: defineStep({ queue: ORDERS_QUEUE, parse: parseAutoReceiptPayload, run: autoReceiptStep }),
  [ORDER_NOTICE_JOB]: defineStep({ queue: ORDERS_QUEUE, parse: parseOrderNoticePayload, run: orderNoticeStep }),
  [SETTLE_MARKET_ORDERS_JOB]: defineStep({ queue: MARKET_ORDER_QUEUE, parse: parseSettlePayload, run: settleStep }),
  [EXPIRE_CHECKOUTS_JOB]: defineStep({ queue: MARKET_ORDER_QUEUE, parse: parseSweepPayload, run: expireCheckoutsStep }),
  [AUTO_CONFIRM_JOB]: defineStep({ queue: MARKET_ORDER_QUEUE, parse: parseSweepPayload, run: autoConfirmStep }),
  [PURGE_EXPIRED_JOB]: defineStep({ queue: HOUSEKEEPING_QUEUE, parse: parsePurgePayload, run: purgeExpiredStep }),
  [DISBURSE_JOB]: defineStep({ queue: FINANCING_QUEUE, parse: parseDisbursePayload, run: disburseStep }),
  [ACCRUAL_START_JOB]: defineStep({ queue: FINANCING_QUEUE, parse: parseAccrualStartPayload, run: accrualStartStep }),
  [ACCRUAL_BATCH_JOB]: defineStep({ queue: FINANCING_QUEUE, parse: parseAccrualBatchPayload, run: accrualBatchStep }),
  [ACCRUAL_CLOSE_JOB]: defineStep({ queue: FINANCING_QUEUE, parse: parseAccrualClosePayload, run: accrualCloseStep, children: accrualCloseChildren }),
  [AUTO_DEBIT_JOB]: defineStep({ queue: FINANCING_QUEUE, parse: parseAutoDebitPayload, run: autoDebitStep }),
  [GUARANTEE_CALL_JOB]: defineStep({ queue: FINANCING_QUEUE, parse: parseGuaranteeCallPayload, run: guaranteeCallStep }),
  [SEND_PAYOUT_JOB]: defineStep({ queue: SETTLEMENT_QUEUE, parse: parseSendPayoutPayload, run: sendPayoutStep }),
  [RECONCILE_STATEMENT_JOB]: defineStep({ queue: SETTLEMENT_QUEUE, parse: parseReconcileStatementPayload, run: reconcileStatementStep }),
} as const satisfies StepRegistry;

export type JobName = keyof typeof STEPS;
export type JobPayload<N extends JobName> = ReturnType<(typeof STEPS)[N]["parse"]>;

/** Run the named step; an unknown name is permanent (a job from a newer deploy, or a typo). */
export async function runStep(registry: StepRegistry, deps: StepDeps, name: string, data: unknown): Promise<void> {
  await stepOf(registry, name).execute(deps, data);
}

/** The registered step of a job name, or a permanent error (a job from a newer deploy, or a typo). */
export function stepOf(registry: StepRegistry, name: string): RegisteredStep {
  const step = Object.prototype.hasOwnProperty.call(registry, name) ? registry[name] : undefined;
  if (!step) throw new PermanentStepError(`no step registered for job ${name}`);
  return step;
}

/** The children a job waits for before it runs: none for an ordinary step. */
export function childrenOf(registry: StepRegistry, name: string, data: unknown): readonly ChildJob[] {
  return stepOf(registry, name).children?.(data) ?? [];
}

/**
 * Run a job as a flow runs it without BullMQ (the in-process runner, tests): its children one
 * after another, then the job itself. A child that fails fails the whole run of the job, which is
 * retried as one; the children are idempotent steps, so the ones already done change nothing.
 */
export async function runWithChildren(registry: StepRegistry, deps: StepDeps, name: string, data: unknown): Promise<void> {
  for (const child of childrenOf(registry, name, data)) await runStep(registry, deps, child.name, child.payload);
  await runStep(registry, deps, name, data);
}

/** The queues a registry's steps live on, each once, sorted. */
export function queueNamesOf(registry: StepRegistry): string[] {
  return [...new Set(Object.values(registry).map((s) => s.queue))].sort();
}
