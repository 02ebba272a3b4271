import { type Db, inTransaction } from "../../../db";
import { type Actor, recordAudit, DomainError } from "../shared";
import { lockSkusForStock, returnStock } from "../catalog";
import { restoreCredit } from "../credit";
import { ensureAccount, transfer } from "../ledger";
import { findTransition, type OrderStatus } from "./states";
import { ORDER_LIMITS, type OrderRow } from "./orders.server";
import { creditParties, fire, lockOrder, notifyParty, orderNotFound, orderNumber, recordNote, requireText, withdrawReturnLocked } from "./internal.server";
import { onAccountOutstanding } from "./payment.server";

/** Returns (RMA) against a received order. */

// ---------------------------------------------------------------------------------------------
// Returns (RMA)

export async function requestReturn(
  db: Db,
  actor: Actor,
  input: { originalOrderId: string; lines: { lineId: string; quantity: number }[]; reason: string },
  now: Date,
): Promise<OrderRow> {
  const why = requireText(input.reason, "reason", ORDER_LIMITS.maxReasonChars);
  return inTransaction(db, async (trx) => {
    const { order: original, party } = await lockOrder(trx, actor.organizationId, input.originalOrderId);
    if (party !== "dealer") throw new DomainError("forbidden", "Only the dealer asks for a return", { original_order_id: "not yours" });
    if (!["received", "completed"].includes(original.status) || original.kind === "return") {
      throw new DomainError("invalid_state", "Goods can be returned once an order is received", { original_order_id: original.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", original.id).execute();
    const fields: Record<string, string> = {};
    const picked = input.lines.filter((l) => l.quantity !== 0);
    if (picked.length === 0) throw new DomainError("validation", "Choose at least one line to return", { lines: "empty" });
    picked.forEach((pick, i) => {
      const line = lines.find((l) => l.id === pick.lineId);
      if (!line) fields[`lines.${i}.line_id`] = "not a line of this order";
      else {
        const open = line.quantity_shipped - line.quantity_returned;
        if (!Number.isSafeInteger(pick.quantity) || pick.quantity < 0 || pick.quantity > open) {
          fields[`lines.${i}.quantity`] = `${line.sku_code}: between 0 and the ${open} that can still be returned`;
        }
      }
    });
    if (Object.keys(fields).length) throw new DomainError("validation", "Some return lines are wrong", fields);
    const rma = await trx
      .insertInto("orders")
      .values({
        number: orderNumber("return", now),
        kind: "return",
        status: "requested",
        core_enterprise_id: original.core_enterprise_id,
        dealer_id: original.dealer_id,
        dealer_link_id: original.dealer_link_id,
        original_order_id: original.id,
        reason: why,
        created_by_user_id: actor.userId,
        submitted_at: now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    let total = 0;
    let lineNo = 0;
    for (const pick of picked) {
      const line = lines.find((l) => l.id === pick.lineId)!;
      lineNo += 1;
      const amount = line.unit_price_fen * pick.quantity;
      total += amount;
      // Count the units as returned now, so two requests cannot claim the same goods.
      await trx.updateTable("order_lines").set({ quantity_returned: line.quantity_returned + pick.quantity }).where("id", "=", line.id).execute();
      await trx
        .insertInto("order_lines")
        .values({
          order_id: rma.id,
          line_no: lineNo,
          sku_id: line.sku_id,
          sku_code: line.sku_code,
          sku_name: line.sku_name,
          spec: line.spec,
          unit: line.unit,
          quantity_ordered: pick.quantity,
          quantity_confirmed: pick.quantity,
          unit_price_fen: line.unit_price_fen,
          price_rule: line.price_rule,
          tax_rate_bps: line.tax_rate_bps,
          amount_fen: amount,
          original_line_id: line.id,
        })
        .execute();
    }
    await trx.updateTable("orders").set({ total_fen: total }).where("id", "=", rma.id).execute();
    await trx
      .insertInto("order_events")
      .values({ order_id: rma.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "request_return", to_status: "requested", note: why })
      .execute();
    await recordNote(trx, actor, original, "return_requested", why, { return_order_id: rma.id, total_fen: total });
    await recordAudit(trx, actor, { action: "order.return_requested", entityType: "order", entityId: rma.id, after: { original_order_id: original.id, total_fen: total } });
    await notifyParty(trx, actor, { id: rma.id, status: "requested" }, "order.return_requested");
    return (await lockOrder(trx, actor.organizationId, rma.id)).order;
  });
}

export async function decideReturn(db: Db, actor: Actor, rmaId: string, decision: "approve" | "reject" | "cancel", now: Date, reason?: string | null): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, rmaId);
    if (order.kind !== "return") throw orderNotFound();
    if (decision === "approve") {
      const approved = await fire(trx, actor, order, party, "approve_return");
      await notifyParty(trx, actor, approved, "order.return_approved");
      return approved;
    }
    const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
    return withdrawReturnLocked(trx, actor, order, party, why, now, decision === "reject" ? "reject_return" : "cancel");
  });
}

/** The supplier has the goods back: they return to stock. */
export async function receiveReturnedGoods(db: Db, actor: Actor, rmaId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, rmaId);
    if (order.kind !== "return") throw orderNotFound();
    if (!findTransition(order.kind, order.status as OrderStatus, "goods_back")) {
      throw new DomainError("invalid_state", `A return that is ${order.status} cannot take goods back`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").select(["sku_id", "quantity_ordered"]).where("order_id", "=", order.id).execute();
    await lockSkusForStock(trx, lines.map((line) => line.sku_id));
    for (const line of lines) await returnStock(trx, { skuId: line.sku_id, quantity: line.quantity_ordered });
    return fire(trx, actor, order, party, "goods_back");
  });
}

/**
 * Money back for returned goods: what is still owed on account for the original order is
 * written off first (credit restored), the rest is refunded from the supplier's wallet.
 */
export async function refundReturn(db: Db, actor: Actor, rmaId: string, now: Date): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order: rma, party } = await lockOrder(trx, actor.organizationId, rmaId);
    if (rma.kind !== "return" || !rma.original_order_id) throw orderNotFound();
    if (!findTransition(rma.kind, rma.status as OrderStatus, "refund")) {
      throw new DomainError("invalid_state", `A return that is ${rma.status} cannot be refunded`, { status: rma.status });
    }
    const outstanding = await onAccountOutstanding(trx, rma.original_order_id);
    const creditFen = Math.min(outstanding, rma.total_fen);
    const cashFen = rma.total_fen - creditFen;
    if (creditFen > 0) {
      await restoreCredit(trx, creditParties(rma), {
        idempotencyKey: `order:${rma.id}:return_credit`,
        kind: "on_account_return",
        reference: `order:${rma.original_order_id}`,
        amountFen: creditFen,
        createdByUserId: actor.userId,
      });
    }
    if (cashFen > 0) {
      const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: rma.dealer_id });
      const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: rma.core_enterprise_id });
      try {
        await transfer(trx, {
          idempotencyKey: `order:${rma.id}:return_refund`,
          kind: "return_refund",
          reference: `order:${rma.id}`,
          debitAccountId: coreWallet.id,
          creditAccountId: dealerWallet.id,
          amountFen: cashFen,
          createdByUserId: actor.userId,
        });
      } catch (error) {
        if (error instanceof DomainError && error.code === "insufficient_funds") {
          throw new DomainError("insufficient_funds", "Your wallet cannot cover this refund yet", { status: "refund not covered" });
        }
        throw error;
      }
    }
    const refunded = await fire(trx, actor, rma, party, "refund", {
      patch: { paid_fen: rma.total_fen },
      data: { credit_restored_fen: creditFen, refunded_fen: cashFen },
    });
    await notifyParty(trx, actor, refunded, "order.return_refunded");
    return fire(trx, actor, refunded, "system", "complete", { patch: { closed_at: now } });
  });
}
