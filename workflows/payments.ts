import { z } from "zod";
import type { Logger } from "../app/logger.server";
import { DomainError } from "../app/models/errors";
import type { Trx } from "../app/models/outbox.server";
import {
  isCaptured,
  lockPaymentForFulfilment,
  markPaymentFulfilled,
  type Payment,
  type PaymentPurpose,
} from "../app/models/payments.server";
import { applyCapturedOrderPayment } from "../app/models/orders.server";
import { applyCapturedDepositPayment } from "../app/models/recruitment.server";
import { applyCapturedMarketPayment } from "../app/models/escrow.server";
import type { Step } from "./registry";

/**
 * Payments workflow: `succeeded --fulfil--> handed to its purpose`.
 *
 * applyGatewayEvent writes the outbox row `payments:<id>:fulfil` in the transaction that records
 * the success; this step hands the payment to whoever it was for, by purpose. One transaction:
 * lock the payment, skip if already fulfilled, run the purpose's handler (its changes share the
 * transaction), mark fulfilled. A second run — concurrent or later — finds it fulfilled and stops.
 */

export interface FulfilPaymentPayload {
  paymentId: string;
}

export const fulfilPaymentPayload = z.object({ paymentId: z.string().uuid() }).strict();

export function parseFulfilPaymentPayload(data: unknown): FulfilPaymentPayload {
  return fulfilPaymentPayload.parse(data);
}

export interface PurposeContext {
  logger: Logger;
  now: Date;
}

/**
 * Takes over a captured payment: the money is in the payer's wallet (gateway clearing → wallet,
 * already posted). A handler moves it on (to the payee, an escrow hold, a deposit account) and
 * moves its own state, in `trx`, idempotently (its own transfers carry idempotency keys).
 */
export type PaymentPurposeHandler = (trx: Trx, payment: Payment, ctx: PurposeContext) => Promise<void>;

/**
 * Who takes a captured payment over, by purpose. `null`: no handler yet — the step logs it and
 * leaves the payment unfulfilled (the money stays in the payer's wallet), so a handler added later
 * can still be run for it. Orders, deposits and the market fill their entries in.
 */
export const PAYMENT_PURPOSE_HANDLERS: Readonly<Record<PaymentPurpose, PaymentPurposeHandler | null>> = {
  // A top-up is complete once the money is in the payer's wallet, which capture already did.
  topup: async (_trx, payment, ctx) => {
    ctx.logger.info({ paymentId: payment.id, amountFen: payment.amountFen }, "top-up credited to the payer's wallet");
  },
  // A captured payment for a dealer order pays the part it was for (payment, deposit or balance).
  order: (trx, payment) => applyCapturedOrderPayment(trx, payment),
  // A recruitment deposit moves to its campaign's deposit account and marks the deposit paid.
  deposit: (trx, payment) => applyCapturedDepositPayment(trx, payment),
  // A captured checkout payment holds each of its orders in escrow.
  market_order: (trx, payment, ctx) => applyCapturedMarketPayment(trx, payment, ctx.now),
};

export function createFulfilPaymentStep(
  handlers: Readonly<Record<PaymentPurpose, PaymentPurposeHandler | null>> = PAYMENT_PURPOSE_HANDLERS,
): Step<FulfilPaymentPayload> {
  return async (deps, payload) => {
    const logger = deps.logger.child({ workflow: "payments", step: "fulfil", paymentId: payload.paymentId });
    await deps.db.transaction().execute(async (trx) => {
      const payment = await lockPaymentForFulfilment(trx, payload.paymentId);
      if (payment.fulfilledAt) return;
      if (!isCaptured(payment.status)) {
        // The row is written with the capture, so this is a bug, not a race: retrying will not help.
        throw new DomainError("validation", `payment ${payment.id} is ${payment.status}; only a captured payment is fulfilled`);
      }
      const handler = handlers[payment.purpose];
      if (!handler) {
        logger.info({ purpose: payment.purpose }, "no handler yet for this payment purpose; the money stays in the payer's wallet");
        return;
      }
      await handler(trx, payment, { logger, now: deps.now?.() ?? new Date() });
      await markPaymentFulfilled(trx, payment);
    });
  };
}

/** Idempotent: a second run finds the payment fulfilled and writes nothing. */
export const fulfilPaymentStep: Step<FulfilPaymentPayload> = createFulfilPaymentStep();
