import { type Db, inTransaction } from "../../../db";
import type { Actor } from "../shared";
import { lockSkusForStock, releaseStock } from "../catalog";
import { restoreCredit } from "../credit";
import { DomainError } from "../shared";
import { ensureAccount, transfer } from "../ledger";
import { findTransition, type OrderStatus, STATUS_HOLDS } from "./states";
import { ORDER_LIMITS, type OrderRow } from "./orders.server";
import { creditParties, fire, lockOrder, releaseCreditHold, requireText, withdrawReturnLocked } from "./internal.server";
import { onAccountOutstanding } from "./payment.server";

/** Cancelling an order before anything ships. */

// ---------------------------------------------------------------------------------------------
// Cancellation

/**
 * Cancel before anything ships: reserved stock goes back, money paid goes back to the dealer's
 * wallet (from the supplier's), credit charged is restored. One transaction.
 */
export async function cancelOrder(db: Db, actor: Actor, orderId: string, reason: string, now: Date): Promise<OrderRow> {
  const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    // Cancelling a return is withdrawing it, whichever door (page or API) it comes through.
    if (order.kind === "return") return withdrawReturnLocked(trx, actor, order, party, why, now);
    if (!findTransition(order.kind, order.status as OrderStatus, "cancel")) {
      throw new DomainError("invalid_state", `An order that is ${order.status} can no longer be cancelled`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).execute();
    if (STATUS_HOLDS[order.kind][order.status as OrderStatus].stock) {
      await lockSkusForStock(trx, lines.map((line) => line.sku_id));
      for (const line of lines) {
        if ((line.quantity_confirmed ?? 0) > 0) await releaseStock(trx, { skuId: line.sku_id, quantity: line.quantity_confirmed! });
      }
    }
    if (order.paid_fen > 0) {
      const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.dealer_id });
      const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.core_enterprise_id });
      try {
        await transfer(trx, {
          idempotencyKey: `order:${order.id}:cancel_refund`,
          kind: "order_refund",
          reference: `order:${order.id}`,
          debitAccountId: coreWallet.id,
          creditAccountId: dealerWallet.id,
          amountFen: order.paid_fen,
          createdByUserId: actor.userId,
        });
      } catch (error) {
        if (error instanceof DomainError && error.code === "insufficient_funds") {
          throw new DomainError("insufficient_funds", "The supplier's wallet cannot cover the refund of this order yet", { status: "refund not covered" });
        }
        throw error;
      }
    }
    const released = await releaseCreditHold(trx, actor, order);
    const outstanding = await onAccountOutstanding(trx, order.id);
    if (outstanding > 0) {
      await restoreCredit(trx, creditParties(order), {
        idempotencyKey: `order:${order.id}:cancel_credit`,
        kind: "on_account_cancel",
        reference: `order:${order.id}`,
        amountFen: outstanding,
        createdByUserId: actor.userId,
      });
    }
    return fire(trx, actor, order, party, "cancel", {
      note: why,
      patch: { reason: why, closed_at: now, paid_fen: 0 },
      data: { refunded_fen: order.paid_fen, credit_restored_fen: outstanding, ...(released ? { credit_released_fen: released } : {}) },
    });
  });
}
