import { z } from "zod";
import { DomainError } from "../app/domain/shared";
import { commitCaptureToPurpose, PAYMENT_PURPOSE_HANDLERS, type PaymentPurposeHandler, type PurposeContext, isCaptured, listPaymentsAwaitingGateway, lockPaymentForFulfilment, paymentsDepsFromConfig, syncPaymentFromGateway, type PaymentPurpose, type PaymentsDeps } from "../app/domain/payments";
import { readConfig } from "../app/config.server";
import type { Step } from "./registry";

export { PAYMENT_PURPOSE_HANDLERS, type PaymentPurposeHandler, type PurposeContext };

/**
 * Payments workflow: `succeeded --fulfil--> handed to its purpose`.
 *
 * Since decision 021 the capture itself hands the money to its purpose, in its own transaction
 * (app/domain/payments/purposes.server.ts), and records the outcome on the payment. applyGatewayEvent
 * still writes the outbox row `payments:<id>:fulfil`: this step locks the payment, finds the outcome
 * recorded and does nothing. It does the work only for a payment captured before that change (no
 * outcome yet), through the same function, so both roads end the same way: applied, left in the
 * payer's wallet, or needs_attention — never an endless retry.
 */

export interface FulfilPaymentPayload {
  paymentId: string;
}

export const fulfilPaymentPayload = z.object({ paymentId: z.string().uuid() }).strict();

export function parseFulfilPaymentPayload(data: unknown): FulfilPaymentPayload {
  return fulfilPaymentPayload.parse(data);
}

export function createFulfilPaymentStep(
  handlers: Readonly<Record<PaymentPurpose, PaymentPurposeHandler>> = PAYMENT_PURPOSE_HANDLERS,
): Step<FulfilPaymentPayload> {
  return async (deps, payload) => {
    const logger = deps.logger.child({ workflow: "payments", step: "fulfil", paymentId: payload.paymentId });
    await deps.db.transaction().execute(async (trx) => {
      const payment = await lockPaymentForFulfilment(trx, payload.paymentId);
      if (payment.purposeOutcome || payment.fulfilledAt) return;
      if (!isCaptured(payment.status)) {
        // The row is written with the capture, so this is a bug, not a race: retrying will not help.
        throw new DomainError("validation", `payment ${payment.id} is ${payment.status}; only a captured payment is fulfilled`);
      }
      await commitCaptureToPurpose(trx, payment, { logger, now: deps.now?.() ?? new Date() }, handlers);
    });
  };
}

/** Idempotent: a second run finds the outcome recorded and writes nothing. */
export const fulfilPaymentStep: Step<FulfilPaymentPayload> = createFulfilPaymentStep();

const queryPendingPayload = z.object({}).strict();
export const parseQueryPendingPayload = (data: unknown): Record<string, never> => queryPendingPayload.parse(data ?? {}) as Record<string, never>;

/**
 * Safety net for lost callbacks (schedule `payments-query-pending`): ask the gateway about each
 * payment still `created` a while after it started, and apply what it answers through the same
 * function the callback uses (so a capture commits to its purpose, once). The gateway is asked
 * outside any transaction; one payment the gateway cannot answer for does not stop the others.
 */
export function createQueryPendingPaymentsStep(
  gatewayDeps: (logger: PaymentsDeps["logger"]) => PaymentsDeps = (logger) => paymentsDepsFromConfig(readConfig(), logger),
): Step<Record<string, never>> {
  return async (deps) => {
    const now = deps.now?.() ?? new Date();
    const ids = await listPaymentsAwaitingGateway(deps.db, now);
    if (ids.length === 0) return;
    const paymentsDeps = { ...gatewayDeps(deps.logger), now: () => deps.now?.() ?? new Date() };
    let learned = 0;
    let unanswered = 0;
    for (const id of ids) {
      try {
        const { recorded } = await syncPaymentFromGateway(deps.db, id, paymentsDeps);
        learned += recorded > 0 ? 1 : 0;
      } catch (error) {
        unanswered += 1;
        deps.logger.warn({ err: error, paymentId: id }, "pending payment: gateway status query failed; next run asks again");
      }
    }
    deps.logger.info({ asked: ids.length, learned, unanswered }, "pending payments queried at the gateway");
  };
}

export const queryPendingPaymentsStep: Step<Record<string, never>> = createQueryPendingPaymentsStep();
