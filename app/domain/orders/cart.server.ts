import { sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import type { Role } from "../../../db/schema";
import type { Actor } from "../shared";
import { planCreditHolds } from "../credit";
import type { DealerLink } from "../dealers";
import { DomainError } from "../shared";
import { assertMay } from "../identity";
import { applyBatch, type Fen } from "../ledger";
import { APPROVAL_BY_ANOTHER_MEMBER, type OrderParty } from "./states";
import { ORDER_LIMITS, type OrderRow } from "./orders.server";
import { creditHoldKey, fire, lockOrder, notifyParty, orderNumber, releaseCreditHold, requireLink, requireText } from "./internal.server";
import { getOrderSettings } from "./settings.server";
import { type LineInput, priceLines, writeLines } from "./placement.server";

/** The dealer's cart, its submission, and the dealer's own approval of orders above its threshold. */

/** The dealer's cart for a supplier (a draft standard order), created on first use. */
export async function addToCart(
  db: Db,
  actor: Actor,
  input: { dealerId: string; coreEnterpriseId: string; skuId: string; quantity: number },
  now: Date,
): Promise<OrderRow> {
  if (actor.organizationId !== input.dealerId) throw new DomainError("forbidden", "Only the dealer fills its cart", { dealer_id: "not yours" });
  return inTransaction(db, async (trx) => {
    const link = await requireLink(trx, input.coreEnterpriseId, input.dealerId);
    let draft = await trx
      .selectFrom("orders")
      .select("id")
      .where("dealer_id", "=", input.dealerId)
      .where("core_enterprise_id", "=", input.coreEnterpriseId)
      .where("status", "=", "draft")
      .where("is_cart", "=", true)
      .forUpdate()
      .executeTakeFirst();
    if (!draft) {
      draft = await trx
        .insertInto("orders")
        .values({
          number: orderNumber("standard", now),
          kind: "standard",
          status: "draft",
          is_cart: true,
          core_enterprise_id: input.coreEnterpriseId,
          dealer_id: input.dealerId,
          dealer_link_id: link.id,
          created_by_user_id: actor.userId,
        })
        .onConflict((oc) => oc.doNothing())
        .returning("id")
        .executeTakeFirst();
      if (!draft) throw new DomainError("conflict", "The cart changed at the same time: try again", { sku_id: "retry" });
      await trx
        .insertInto("order_events")
        .values({ order_id: draft.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "create", to_status: "draft" })
        .execute();
    }
    const current = await trx.selectFrom("order_lines").select(["sku_id", "quantity_ordered"]).where("order_id", "=", draft.id).execute();
    const existing = current.find((l) => l.sku_id === input.skuId);
    const quantity = (existing?.quantity_ordered ?? 0) + input.quantity;
    await setCartLines(trx, link, draft.id, [
      ...current.filter((l) => l.sku_id !== input.skuId).map((l) => ({ skuId: l.sku_id, quantity: l.quantity_ordered })),
      { skuId: input.skuId, quantity },
    ], now);
    return (await lockOrder(trx, actor.organizationId, draft.id)).order;
  });
}

/** Replace a cart's quantities (0 removes a line); the cart is repriced. */
export async function updateCart(
  db: Db,
  actor: Actor,
  input: { dealerId: string; orderId: string; lines: { skuId: string; quantity: number }[] },
  now: Date,
): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, input.orderId);
    if (party !== "dealer" || order.status !== "draft") throw new DomainError("invalid_state", "Only a cart (draft) can be edited", { status: order.status });
    const link = await requireLink(trx, order.core_enterprise_id, order.dealer_id);
    await setCartLines(trx, link, order.id, input.lines.filter((l) => l.quantity !== 0), now);
    return (await lockOrder(trx, actor.organizationId, order.id)).order;
  });
}

async function setCartLines(trx: Db, link: DealerLink, orderId: string, lines: LineInput[], now: Date): Promise<Fen> {
  await trx.deleteFrom("order_lines").where("order_id", "=", orderId).execute();
  const priced = lines.length ? await priceLines(trx, link, lines, now) : [];
  const total = await writeLines(trx, orderId, priced);
  await trx.updateTable("orders").set({ total_fen: total, updated_at: sql`now()` }).where("id", "=", orderId).execute();
  return total;
}

async function submitLocked(trx: Db, actor: Actor, orderId: string, now: Date, paymentMethod: "on_account" | null): Promise<OrderRow> {
  const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
  if (paymentMethod === "on_account" && order.kind === "preorder") {
    throw new DomainError("validation", "A preorder's deposit is paid, not put on account", { payment_method: "not for preorders" });
  }
  // Prices are fixed at submission: reprice a cart's lines as of now.
  const link = await requireLink(trx, order.core_enterprise_id, order.dealer_id);
  const lines = await trx.selectFrom("order_lines").select(["sku_id", "quantity_ordered"]).where("order_id", "=", order.id).orderBy("line_no").execute();
  const total_fen = await setCartLines(trx, link, order.id, lines.map((l) => ({ skuId: l.sku_id, quantity: l.quantity_ordered })), now);
  const { approvalThresholdFen } = await getOrderSettings(trx, order.dealer_id);
  if (paymentMethod === "on_account") {
    // Held before the order moves: a refusal leaves the cart as it was.
    const { locked, plans } = await planCreditHolds(trx, [
      { linkId: link.id, amountFen: total_fen, idempotencyKey: creditHoldKey(order.id), reference: `order:${order.id}`, createdByUserId: actor.userId },
    ]);
    if (!plans[0].ok) throw plans[0].error;
    await applyBatch(trx, [plans[0].hold], { locked });
  }
  return submitPriced(trx, actor, { ...order, total_fen }, party, approvalThresholdFen, now, paymentMethod);
}

/** Submit a priced draft: to the supplier, or to the dealer's approver when above its threshold. */
async function submitPriced(
  trx: Db,
  actor: Actor,
  order: OrderRow,
  party: OrderParty,
  approvalThresholdFen: Fen | null,
  now: Date,
  paymentMethod: "on_account" | null,
): Promise<OrderRow> {
  const total_fen = order.total_fen;
  const needsApproval = approvalThresholdFen !== null && total_fen > approvalThresholdFen;
  const submitted = await fire(trx, actor, order, party, needsApproval ? "submit_for_approval" : "submit", {
    patch: { submitted_at: now, ...(paymentMethod ? { payment_method: paymentMethod } : {}) },
    data: {
      total_fen,
      ...(needsApproval ? { approval_threshold_fen: approvalThresholdFen } : {}),
      ...(paymentMethod === "on_account" ? { payment_method: "on_account", credit_held_fen: total_fen } : {}),
    },
  });
  if (submitted.status === "submitted") await notifyParty(trx, actor, submitted, "order.submitted");
  return submitted;
}

/**
 * Send the cart (or a draft) to the supplier, or to the dealer's approver when above its
 * threshold; `on_account` holds its total on the dealer's credit line (see CreateOrderInput).
 */
export async function submitOrder(db: Db, actor: Actor, orderId: string, now: Date, options: { paymentMethod?: "on_account" | null } = {}): Promise<OrderRow> {
  return inTransaction(db, (trx) => submitLocked(trx, actor, orderId, now, options.paymentMethod ?? null));
}

/**
 * Four eyes (order-states.ts APPROVAL_BY_ANOTHER_MEMBER): may this user approve this order, or did
 * they submit it for approval themselves? Pages ask it to hide the button; approveOrder enforces it.
 */
export async function isOwnApprovalRequest(db: Db, order: Pick<OrderRow, "id" | "status">, userId: string | null): Promise<boolean> {
  if (order.status !== "pending_approval" || userId === null) return false;
  const submitted = await db
    .selectFrom("order_events")
    .select("actor_user_id")
    .where("order_id", "=", order.id)
    .where("event", "=", APPROVAL_BY_ANOTHER_MEMBER.notBy)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return submitted?.actor_user_id === userId;
}

async function refuseOwnApproval(trx: Db, actor: Actor, order: OrderRow): Promise<void> {
  if (await isOwnApprovalRequest(trx, order, actor.userId)) {
    throw new DomainError("forbidden", "You submitted this order: another owner or admin of the dealer must approve it", { approver: "not_the_submitter" });
  }
}

/** The dealer's own approval: an owner or admin (not the submitter) lets an order above the threshold through. */
export async function approveOrder(db: Db, actor: Actor, roles: readonly Role[], orderId: string, decision: "approve" | "decline", now: Date, reason?: string | null) {
  // Who may approve is the permission table's (beside the order machine); the model checks too.
  assertMay(roles, decision === "approve" ? "order.approve" : "order.decline_approval", "dealer");
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (decision === "approve") {
      await refuseOwnApproval(trx, actor, order);
      const approved = await fire(trx, actor, order, party, "approve");
      await notifyParty(trx, actor, approved, "order.submitted");
      return approved;
    }
    const why = requireText(reason, "reason", ORDER_LIMITS.maxReasonChars);
    const declined = await fire(trx, actor, order, party, "decline_approval", { note: why, patch: { reason: why, closed_at: now } });
    await releaseCreditHold(trx, actor, order);
    return declined;
  });
}
