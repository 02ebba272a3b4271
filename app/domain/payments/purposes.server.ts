import { sql } from "kysely";
import type { PaymentPurpose, PaymentPurposeOutcome } from "../../../db/schema";
import { formatFen } from "../../i18n";
import type { Logger } from "../../logger.server";
import { recordAudit, SYSTEM_ACTOR, isDomainError } from "../shared";
import { applyCapturedMarketPayment } from "../market";
import { applyCapturedLoanRepayment } from "../financing";
import { ensureAccount } from "../ledger";
import { requestNotification } from "../notifications";
import { applyCapturedOrderPayment } from "../orders";
import type { Trx } from "../outbox";
import type { Payment } from "./payments.server";
import { applyCapturedDepositPayment } from "../recruitment";

/**
 * Who takes captured money over, by purpose (decision 021).
 *
 * The capture (applyGatewayEvent, from the callback or a status query) posts gateway_clearing →
 * payer wallet and, in the SAME transaction, asks the purpose's owner to take the money on: hold a
 * checkout in escrow, pay an order's part, pay a recruitment deposit. The wallet row stays locked
 * by the capture until commit, so no other transaction ever sees that money free in the wallet.
 *
 * Lock order: the payment row (locked by the capture), then the purpose's rows (checkout and its
 * orders, the dealer order, the application), then ledger accounts. The wallet paths lock the
 * purpose's rows, then the purpose's advisory lock, then accounts; neither takes the other's locks
 * in the opposite order.
 *
 * A handler answers:
 *  - `applied`: the purpose took the money (also when it is a replay and finds it taken);
 *  - `left_in_wallet`: the purpose can no longer take it (checkout expired or cancelled, the order
 *    moved on): the money stays in the payer's wallet; the handler wrote its own audit row, this
 *    module adds the payment's audit row and the payer's notice; a refund can be asked from there;
 *  - it throws a DomainError: the payment cannot be applied and no retry will change that (it names
 *    no checkout, the payer or amount differ). Its writes are rolled back to a savepoint, the
 *    payment is marked `needs_attention` with the error's message, and the bank's console lists it.
 *    Any other error (the database, a bug) aborts the whole capture, which the gateway retries.
 */
export type PurposeResult = { outcome: "applied" } | { outcome: "left_in_wallet"; why: string };

export interface PurposeContext {
  logger: Logger;
  now: Date;
}

/** Takes captured money over in `trx`, idempotently (its transfers carry idempotency keys). */
export type PaymentPurposeHandler = (trx: Trx, payment: Payment, ctx: PurposeContext) => Promise<PurposeResult>;

export const PAYMENT_PURPOSE_HANDLERS: Readonly<Record<PaymentPurpose, PaymentPurposeHandler>> = {
  // A top-up is complete once the money is in the payer's wallet, which the capture did.
  topup: async () => ({ outcome: "applied" }),
  // A captured payment for a dealer order pays the part it was for (payment, deposit or balance).
  order: (trx, payment, ctx) => applyCapturedOrderPayment(trx, payment, ctx.now),
  // A recruitment deposit moves to its campaign's deposit account and marks the deposit paid.
  deposit: (trx, payment, ctx) => applyCapturedDepositPayment(trx, payment, ctx.now),
  // A captured checkout payment holds each of its orders in escrow.
  market_order: (trx, payment, ctx) => applyCapturedMarketPayment(trx, payment, ctx.now),
  // A captured loan repayment repays the loan from the payer's wallet (what is due, or the payoff).
  loan_repayment: (trx, payment, ctx) => applyCapturedLoanRepayment(trx, payment, ctx.now),
};

/**
 * Hand a captured payment to its purpose, inside the capture's transaction (the caller holds the
 * payment's row lock). A payment whose outcome is already recorded is left alone: the fulfil job,
 * still delivered by the outbox, and a replayed capture are no-ops.
 */
export async function commitCaptureToPurpose(
  trx: Trx,
  payment: Payment,
  ctx: PurposeContext,
  handlers: Readonly<Record<PaymentPurpose, PaymentPurposeHandler>> = PAYMENT_PURPOSE_HANDLERS,
): Promise<PaymentPurposeOutcome> {
  if (payment.purposeOutcome) return payment.purposeOutcome;
  const log = ctx.logger.child({ paymentId: payment.id, purpose: payment.purpose, reference: payment.reference });
  let result: PurposeResult;
  await sql`savepoint capture_purpose`.execute(trx);
  try {
    result = await handlers[payment.purpose](trx, payment, ctx);
    await sql`release savepoint capture_purpose`.execute(trx);
  } catch (error) {
    if (!isDomainError(error)) throw error;
    await sql`rollback to savepoint capture_purpose`.execute(trx);
    log.error({ err: error }, "captured payment cannot be applied to its purpose: needs the bank's attention");
    await trx
      .updateTable("payments")
      .set({ purpose_outcome: "needs_attention", attention_reason: error.message.slice(0, 500), attention_at: ctx.now, updated_at: sql<Date>`now()` })
      .where("id", "=", payment.id)
      .execute();
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: "payment.needs_attention",
      entityType: "payment",
      entityId: payment.id,
      organizationId: payment.payerOrganizationId,
      after: { purpose: payment.purpose, reference: payment.reference, reason: error.message, code: error.code },
    });
    return "needs_attention";
  }

  await trx
    .updateTable("payments")
    .set({ purpose_outcome: result.outcome, fulfilled_at: ctx.now, updated_at: sql<Date>`now()` })
    .where("id", "=", payment.id)
    .execute();
  if (result.outcome === "applied") {
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: "payment.fulfilled",
      entityType: "payment",
      entityId: payment.id,
      organizationId: payment.payerOrganizationId,
      after: { purpose: payment.purpose, reference: payment.reference },
    });
    return "applied";
  }
  log.warn({ why: result.why }, "captured payment arrived after its purpose closed: left in the payer's wallet");
  await recordAudit(trx, SYSTEM_ACTOR, {
    action: "payment.left_in_wallet",
    entityType: "payment",
    entityId: payment.id,
    organizationId: payment.payerOrganizationId,
    after: { purpose: payment.purpose, reference: payment.reference, amount_fen: payment.amountFen, why: result.why },
  });
  const wallet = await ensureAccount(trx, { kind: "wallet", organizationId: payment.payerOrganizationId });
  await requestNotification(trx, SYSTEM_ACTOR, {
    organizationId: payment.payerOrganizationId,
    topic: "payment.left_in_wallet",
    params: { paymentId: payment.id, accountCode: wallet.code, amountDisplay: formatFen(payment.amountFen) },
    dedupeKey: `payment.left_in_wallet:${payment.id}`,
  });
  return "left_in_wallet";
}
