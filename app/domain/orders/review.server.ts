import { sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import type { Actor } from "../shared";
import { reserveStocks, StockShortError } from "../catalog";
import { DomainError, applyRateBps, addDays, shanghaiDate } from "../shared";
import { postPending } from "../ledger";
import { findTransition, type OrderStatus } from "./states";
import { ORDER_LIMITS, type OrderRow } from "./orders.server";
import { fire, lockOrder, notifyParty, openCreditHold, releaseCreditHold, requireText } from "./internal.server";

/** The supplier's review of a submitted order: confirm (with adjustments) or reject. */

// ---------------------------------------------------------------------------------------------
// Supplier: confirm (with adjustments) or reject

export interface ConfirmAdjustment {
  lineId: string;
  /** 0 rejects the line; at most the quantity ordered. */
  quantity: number;
  reason?: string | null;
}

/**
 * The supplier confirms, optionally lowering quantities (with a reason per changed line).
 * Standard and replenishment orders reserve their stock here; refusing when a SKU is short,
 * naming it. Preorders reserve when their season is released.
 */
export async function confirmOrder(db: Db, actor: Actor, orderId: string, now: Date, adjustments: readonly ConfirmAdjustment[] = []): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (!findTransition(order.kind, order.status as OrderStatus, "confirm")) {
      throw new DomainError("invalid_state", `An order that is ${order.status} cannot be confirmed`, { status: order.status });
    }
    const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).orderBy("line_no").execute();
    const fields: Record<string, string> = {};
    const confirmed = new Map<string, { quantity: number; reason: string | null }>();
    for (const line of lines) confirmed.set(line.id, { quantity: line.quantity_ordered, reason: null });
    adjustments.forEach((adj, i) => {
      const line = lines.find((l) => l.id === adj.lineId);
      if (!line) {
        fields[`lines.${i}.line_id`] = "not a line of this order";
        return;
      }
      if (!Number.isSafeInteger(adj.quantity) || adj.quantity < 0 || adj.quantity > line.quantity_ordered) {
        fields[`lines.${i}.quantity`] = `${line.sku_code}: between 0 and the ${line.quantity_ordered} ordered`;
        return;
      }
      const reason = (adj.reason ?? "").trim();
      if (adj.quantity !== line.quantity_ordered && !reason) {
        fields[`lines.${i}.reason`] = `${line.sku_code}: say why the quantity changes`;
        return;
      }
      if (reason.length > ORDER_LIMITS.maxReasonChars) {
        fields[`lines.${i}.reason`] = "too long";
        return;
      }
      confirmed.set(line.id, { quantity: adj.quantity, reason: reason || null });
    });
    if (Object.keys(fields).length) throw new DomainError("validation", "Some adjustments cannot be applied", fields);
    const total = lines.reduce((sum, l) => sum + confirmed.get(l.id)!.quantity * l.unit_price_fen, 0);
    if (total === 0) {
      throw new DomainError("validation", "Every line would be rejected: reject the order instead, with a reason", { lines: "all_rejected" });
    }
    // Every line's confirmed quantity in one UPDATE.
    const confirmedValues = sql.join(
      lines.map((line) => {
        const c = confirmed.get(line.id)!;
        return sql`(${line.id}::uuid, ${c.quantity}::integer, ${c.quantity * line.unit_price_fen}::bigint, ${c.reason}::text)`;
      }),
    );
    await sql`
      update order_lines l
         set quantity_confirmed = v.quantity, amount_fen = v.amount_fen, adjust_reason = v.reason
        from (values ${confirmedValues}) as v (id, quantity, amount_fen, reason)
       where l.id = v.id and l.order_id = ${order.id}`.execute(trx);
    if (order.kind !== "preorder") {
      // All the stock in one guarded UPDATE; a short SKU is refused naming its line.
      const reserving = lines.filter((line) => confirmed.get(line.id)!.quantity > 0);
      try {
        await reserveStocks(
          trx,
          reserving.map((line) => ({ skuId: line.sku_id, quantity: confirmed.get(line.id)!.quantity })),
        );
      } catch (error) {
        const line = error instanceof StockShortError ? reserving.find((l) => l.sku_id === error.skuId) : undefined;
        if (error instanceof StockShortError && line) {
          throw new DomainError("conflict", `${error.message}: lower the quantity of ${line.sku_code} or wait for stock`, {
            [`lines.${line.line_no - 1}.quantity`]: error.fields.quantity ?? "not enough stock",
          });
        }
        throw error;
      }
    }
    const season = order.season_id ? await trx.selectFrom("seasons").select("deposit_rate_bps").where("id", "=", order.season_id).executeTakeFirst() : undefined;
    const depositFen = season ? applyRateBps(total, season.deposit_rate_bps) : 0;
    const adjusted = lines.filter((l) => confirmed.get(l.id)!.quantity !== l.quantity_ordered).map((l) => l.sku_code);
    let next = await fire(trx, actor, order, party, "confirm", {
      patch: { total_fen: total, deposit_fen: depositFen, confirmed_at: now },
      note: adjusted.length ? `adjusted: ${adjusted.join(", ")}` : null,
      data: { total_fen: total, ...(depositFen ? { deposit_fen: depositFen } : {}) },
    });
    const hold = order.payment_method === "on_account" ? await openCreditHold(trx, order.id) : undefined;
    if (hold) {
      // Submitted on account: the confirmed total is charged from the hold (what was cut is released).
      await postPending(trx, { idempotencyKey: `order:${order.id}:credit_charge`, pendingId: hold.id, amountFen: total, kind: "on_account_charge", createdByUserId: actor.userId });
      const terms = await trx.selectFrom("dealer_links").select("payment_terms_days").where("id", "=", order.dealer_link_id).executeTakeFirstOrThrow();
      const dueOn = addDays(shanghaiDate(now), terms.payment_terms_days);
      next = await fire(trx, actor, next, "system", "pay_on_account", {
        patch: { payment_method: "on_account", due_on: dueOn, paid_at: now },
        data: { amount_fen: total, due_on: dueOn, credit_released_fen: hold.amount_fen - total },
      });
    }
    await notifyParty(trx, actor, next, "order.confirmed");
    return next;
  });
}

export async function rejectOrder(db: Db, actor: Actor, orderId: string, reason: string, now: Date): Promise<OrderRow> {
  const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const rejected = await fire(trx, actor, order, party, "reject", { note: why, patch: { reason: why, closed_at: now } });
    await releaseCreditHold(trx, actor, order);
    return rejected;
  });
}
