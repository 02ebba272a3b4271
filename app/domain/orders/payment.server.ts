import { sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import type { PaymentMethod } from "../../../db/schema";
import { type Actor, recordAudit, DomainError, addDays, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import { chargeOnAccount, restoreCredit } from "../credit";
import { ensureAccount, type Fen, transfer } from "../ledger";
import type { PurposeResult } from "../payments";
import { refuseWhilePaymentInFlight } from "../payments";
import { FINANCING_AVAILABLE, type OrderParty } from "./states";
import type { OrderRow } from "./orders.server";
import { creditParties, fire, lockOrder, orderNotFound, recordNote, requireLink } from "./internal.server";

/** Paying for an order: wallet, e-Pay, on account (and repaying it), financing. */

// ---------------------------------------------------------------------------------------------
// Payment

/** What is due now, and for what: the whole order, a preorder's deposit, or its balance. */
export function amountDue(order: Pick<OrderRow, "kind" | "status" | "total_fen" | "deposit_fen" | "paid_fen">): { part: "payment" | "deposit" | "balance"; amountFen: Fen } | null {
  if (order.kind === "preorder") {
    if (order.status === "confirmed") return { part: "deposit", amountFen: order.deposit_fen };
    if (order.status === "balance_due") return { part: "balance", amountFen: order.total_fen - order.paid_fen };
    return null;
  }
  if (order.status === "confirmed" || order.status === "awaiting_payment") return { part: "payment", amountFen: order.total_fen };
  return null;
}

const PART_EVENT = { payment: "pay", deposit: "pay_deposit", balance: "pay" } as const;

/** The payment purpose of one part of an order: every e-Pay attempt at that part carries it. */
export function orderPaymentReference(orderId: string, part: "payment" | "deposit" | "balance"): string {
  return `order:${orderId}:${part}`;
}

/**
 * Move the dealer's money to the supplier for one part of an order and fire the matching event.
 * The transfer's key is the order and part, so the wallet path and the e-Pay path can never both
 * charge the dealer: whichever comes second is a replay of the same transfer.
 */
async function collect(trx: Db, actor: Actor, order: OrderRow, party: OrderParty, part: "payment" | "deposit" | "balance", amountFen: Fen, method: PaymentMethod, now: Date) {
  const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.dealer_id });
  const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.core_enterprise_id });
  if (amountFen > 0) {
    try {
      await transfer(trx, {
        idempotencyKey: `order:${order.id}:${part}`,
        kind: `order_${part}`,
        reference: `order:${order.id}`,
        debitAccountId: dealerWallet.id,
        creditAccountId: coreWallet.id,
        amountFen,
        createdByUserId: actor.userId,
      });
    } catch (error) {
      if (error instanceof DomainError && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", `Your wallet cannot cover ${amountFen} fen: pay by e-Pay or on account instead`, {
          payment_method: "wallet balance too low",
        });
      }
      throw error;
    }
  }
  return fire(trx, actor, order, party, PART_EVENT[part], {
    patch: { paid_fen: order.paid_fen + amountFen, payment_method: method, ...(part !== "deposit" ? { paid_at: now } : {}) },
    data: { part, amount_fen: amountFen, method },
  });
}

/** Pay what is due from the dealer's wallet at the bank. */
export async function payFromWallet(db: Db, actor: Actor, orderId: string, now: Date): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const due = amountDue(order);
    if (!due) throw new DomainError("invalid_state", `Nothing is due on an order that is ${order.status}`, { status: order.status });
    await refuseWhilePaymentInFlight(trx, order.dealer_id, orderPaymentReference(order.id, due.part));
    return collect(trx, actor, order, party, due.part, due.amountFen, "wallet", now);
  });
}

/** Charge what is due to the dealer's credit line; due after the payment terms. */
export async function payOnAccount(db: Db, actor: Actor, orderId: string, now: Date): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    const due = amountDue(order);
    if (!due || due.part === "deposit") {
      throw new DomainError("invalid_state", due ? "A deposit is paid, not put on account" : `Nothing is due on an order that is ${order.status}`, {
        payment_method: "not available",
      });
    }
    await refuseWhilePaymentInFlight(trx, order.dealer_id, orderPaymentReference(order.id, due.part));
    const link = await requireLink(trx, order.core_enterprise_id, order.dealer_id);
    await chargeOnAccount(trx, creditParties(order), { reference: `order:${order.id}`, amountFen: due.amountFen, createdByUserId: actor.userId });
    const dueOn = addDays(shanghaiDate(now), link.paymentTermsDays);
    return fire(trx, actor, order, party, "pay_on_account", {
      patch: { payment_method: "on_account", due_on: dueOn, paid_at: now },
      data: { amount_fen: due.amountFen, due_on: dueOn },
    });
  });
}

/**
 * The dealer chose e-Pay: the route has created the gateway payment (over HTTP, outside any
 * transaction); this marks the order as waiting for it. Deposits and balances keep their status.
 */
export async function markAwaitingEpay(db: Db, actor: Actor, orderId: string, paymentId: string): Promise<OrderRow> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (order.status === "awaiting_payment") return order;
    if (order.kind !== "preorder" && order.status === "confirmed") {
      return fire(trx, actor, order, party, "choose_epay", { patch: { payment_method: "epay" }, data: { payment_id: paymentId } });
    }
    await recordNote(trx, actor, order, "epay_started", `e-Pay payment ${paymentId}`, { payment_id: paymentId });
    return order;
  });
}

/**
 * A captured e-Pay payment for an order (the money is in the dealer's wallet): pay the part it was
 * for. Called in the capture's own transaction (decision 021). If the order can no longer take it
 * (cancelled meanwhile), the money stays in the dealer's wallet and the timeline says so.
 */
export async function applyCapturedOrderPayment(
  trx: Db,
  payment: { id: string; reference: string; amountFen: Fen; payerOrganizationId: string },
  now: Date,
): Promise<PurposeResult> {
  const match = /^order:([0-9a-f-]{36}):(payment|deposit|balance)$/.exec(payment.reference);
  if (!match) throw new DomainError("validation", `payment ${payment.id} has an unknown order reference ${payment.reference}`);
  const [, orderId, part] = match as unknown as [string, string, "payment" | "deposit" | "balance"];
  const system: Actor = { userId: null, organizationId: null, ip: null, requestId: null };
  const { order } = await lockOrder(trx, null, orderId);
  if (order.dealer_id !== payment.payerOrganizationId) throw new DomainError("validation", `payment ${payment.id} was not paid by the order's dealer`);
  const due = amountDue(order);
  if (!due || due.part !== part || due.amountFen !== payment.amountFen) {
    await recordNote(trx, system, order, "payment_not_applied", `e-Pay payment ${payment.id} arrived when the order was ${order.status}; the money stays in the dealer's wallet`, {
      payment_id: payment.id,
      amount_fen: payment.amountFen,
    });
    return { outcome: "left_in_wallet", why: `order ${order.status}` };
  }
  await collect(trx, system, order, "system", due.part, due.amountFen, "epay", now);
  return { outcome: "applied" };
}

/**
 * The dealer asks the bank to pay this order (融资支付). Called by the financing context in the
 * transaction that opens the loan application, under the order's lock; returns the order as it now
 * is, whose `total_fen` is what the loan pays.
 */
export async function requestFinancing(trx: Db, actor: Actor, orderId: string): Promise<OrderRow> {
  const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
  if (!FINANCING_AVAILABLE) {
    throw new DomainError("invalid_state", "Financing is not available: pay from the wallet, by e-Pay or on account", {
      payment_method: "financing not available",
    });
  }
  if (order.kind === "preorder") {
    throw new DomainError("invalid_state", "A preorder's deposit and balance are paid, not financed", { payment_method: "not available" });
  }
  await refuseWhilePaymentInFlight(trx, order.dealer_id, orderPaymentReference(order.id, "payment"));
  return fire(trx, actor, order, party, "request_financing", { patch: { payment_method: "financing" } });
}

/**
 * The bank has paid the supplier for this order (the financing context moved the money in this
 * transaction): the order is paid by the loan.
 */
export async function markFinancingDisbursed(trx: Db, orderId: string, loan: { id: string; number: string }, now: Date): Promise<OrderRow> {
  const { order } = await lockOrder(trx, null, orderId);
  return fire(trx, SYSTEM_ACTOR, order, "system", "financing_disbursed", {
    patch: { paid_fen: order.total_fen, paid_at: now, payment_method: "financing" },
    data: { loan_id: loan.id, loan_number: loan.number, amount_fen: order.total_fen },
  });
}

/** The application was rejected or withdrawn: the order waits for its payment again. */
export async function returnFromFinancing(trx: Db, orderId: string, why: string): Promise<OrderRow> {
  const { order } = await lockOrder(trx, null, orderId);
  if (order.status !== "awaiting_financing") return order;
  return fire(trx, SYSTEM_ACTOR, order, "system", "financing_declined", { patch: { payment_method: null }, note: why });
}

/** The order as financing needs to check it: its parties, status and total (null when none). */
export async function orderForFinancing(db: Db, orderId: string) {
  return db
    .selectFrom("orders")
    .select(["id", "number", "kind", "status", "dealer_id", "core_enterprise_id", "total_fen", "payment_method"])
    .where("id", "=", orderId)
    .executeTakeFirst();
}

/** What the dealer still owes on account for this order (charged less restored), from the ledger. */
export async function onAccountOutstanding(db: Db, orderId: string): Promise<Fen> {
  const { rows } = await sql<{ outstanding: number }>`select ${onAccountOutstandingSql(orderId)} as outstanding`.execute(db);
  return Number(rows[0].outstanding);
}

/** What the dealer still owes on account for an order, as an SQL expression (for a larger read). */
export function onAccountOutstandingSql(orderId: string) {
  return sql<number>`(select coalesce(sum(case when kind = 'on_account_charge' then amount_fen else -amount_fen end), 0)::bigint
      from ledger_transfers
     where reference = ${`order:${orderId}`}
       and kind in ('on_account_charge', 'on_account_repayment', 'on_account_cancel', 'on_account_return'))`;
}

/** The dealer settles what it owes on account for an order, from its wallet. */
export async function repayOnAccount(db: Db, actor: Actor, orderId: string): Promise<{ repaidFen: Fen }> {
  return inTransaction(db, async (trx) => {
    const { order, party } = await lockOrder(trx, actor.organizationId, orderId);
    if (party !== "dealer") throw orderNotFound();
    const outstanding = await onAccountOutstanding(trx, order.id);
    if (outstanding <= 0) throw new DomainError("invalid_state", "Nothing is owed on account for this order", { amount_fen: "nothing owed" });
    const repayments = await trx
      .selectFrom("ledger_transfers")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("reference", "=", `order:${order.id}`)
      .where("kind", "=", "order_repayment")
      .executeTakeFirstOrThrow();
    const key = `order:${order.id}:repayment:${Number(repayments.n) + 1}`;
    const dealerWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.dealer_id });
    const coreWallet = await ensureAccount(trx, { kind: "wallet", organizationId: order.core_enterprise_id });
    try {
      await transfer(trx, {
        idempotencyKey: key,
        kind: "order_repayment",
        reference: `order:${order.id}`,
        debitAccountId: dealerWallet.id,
        creditAccountId: coreWallet.id,
        amountFen: outstanding,
        createdByUserId: actor.userId,
      });
    } catch (error) {
      if (error instanceof DomainError && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", `Your wallet cannot cover the ${outstanding} fen owed`, { amount_fen: "wallet balance too low" });
      }
      throw error;
    }
    await restoreCredit(trx, creditParties(order), {
      idempotencyKey: `${key}:credit`,
      kind: "on_account_repayment",
      reference: `order:${order.id}`,
      amountFen: outstanding,
      createdByUserId: actor.userId,
    });
    await trx.updateTable("orders").set({ paid_fen: Math.min(order.total_fen, order.paid_fen + outstanding), updated_at: sql`now()` }).where("id", "=", order.id).execute();
    await recordNote(trx, actor, order, "repaid_on_account", `${outstanding} fen repaid`, { amount_fen: outstanding });
    await recordAudit(trx, actor, { action: "order.repaid_on_account", entityType: "order", entityId: order.id, after: { amount_fen: outstanding } });
    return { repaidFen: outstanding };
  });
}
