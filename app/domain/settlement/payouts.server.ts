import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import type { PayoutsTable } from "../../../db/schema";
import type { Selectable } from "kysely";
import { assertMay, may, rolesFor } from "../identity";
import { accountCode, ensureAccount, lockAccountsByCodes, postPending, transfer, voidPending } from "../ledger";
import { enqueue, outboxJobId, type OutboxJob, type Trx } from "../outbox";
import { EpayGatewayError, type EpayGateway } from "../payments";
import { decodeCursor, DomainError, encodeCursor, isUuid, recordAudit, SYSTEM_ACTOR, type Actor } from "../shared";
import { requireVerifiedSettlementAccount, type SettlementActor } from "./accounts.server";
import { payoutTransition, PAYOUT_FINAL_STATUSES, type PayoutEvent, type PayoutStatus } from "./payout-states";
import { availableForPayoutFen, RESERVE_RULES, retentionReserve, type Reserve } from "./reserve";

/**
 * On-demand payouts (decision 026): an organisation sends money from its wallet to its verified
 * settlement account. This module is the only writer of `payouts`.
 *
 * Invariants:
 *  - a request never exceeds what is available (wallet balance − outgoing holds − retention
 *    reserve), however many arrive at once: the wallet's ledger row is locked before the figure is
 *    read, so concurrent requests of one organisation are decided one after another;
 *  - the request holds its amount at once (pending transfer wallet → payouts_in_transit, key
 *    `payout:<id>:hold`), in the same transaction as the row and the outbox row of the send step;
 *  - the gateway is called only by the send step, outside any transaction, with reference
 *    `payout:<id>:<try>`; the gateway is idempotent on it, so a step run twice asks once per try;
 *  - success posts the hold and passes it on to gateway_clearing; a failure for good voids it (the
 *    wallet has it back). Each happens once (ledger keys, and a final payout changes no more);
 *  - a refused try is retried with a new reference after a backoff, at most `attemptsMax` tries,
 *    then the payout is `failed` with the gateway's reason, for an operator.
 */

export const PAYOUT_LIMITS = {
  idempotencyKeyCharsMax: 200,
  /** Tries at the gateway (each with its own reference) before the payout fails for good. */
  attemptsMax: 3,
  /** Delay before the second try; doubled for each further one. */
  retryBackoffBaseMs: 60_000,
  listPageMax: 100,
  reasonCharsMax: 500,
} as const;

export const SETTLEMENT_QUEUE = "settlement";
export const SEND_PAYOUT_JOB = "settlement.payout.send";

/** Shown on the receiving account's bank statement. */
const PAYOUT_REMARK = "融通提现 Rongtong payout";

export type PayoutRow = Selectable<PayoutsTable>;

export interface AvailableForPayout {
  /** The wallet's posted balance. */
  balanceFen: number;
  /** Held on the way out of the wallet (escrow-free holds, payouts in flight, pending charges). */
  holdsFen: number;
  reserveFen: number;
  availableFen: number;
  reserve: Reserve & { windowDays: number };
}

export interface PayoutView {
  id: string;
  organizationId: string;
  amountFen: number;
  status: PayoutStatus;
  bankName: string;
  accountNumberMasked: string;
  accountName: string;
  gatewayPayoutId: string | null;
  failureReason: string | null;
  lastFailureReason: string | null;
  attempts: number;
  requestedAt: Date;
  sentAt: Date | null;
  finishedAt: Date | null;
}

function view(row: PayoutRow): PayoutView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    amountFen: Number(row.amount_fen),
    status: row.status,
    bankName: row.bank_name,
    accountNumberMasked: `****${row.account_number.slice(-4)}`,
    accountName: row.account_name,
    gatewayPayoutId: row.gateway_payout_id,
    failureReason: row.failure_reason,
    lastFailureReason: row.last_failure_reason,
    attempts: row.attempts,
    requestedAt: row.requested_at,
    sentAt: row.sent_at,
    finishedAt: row.finished_at,
  };
}

export function sendPayoutJob(payoutId: string, attempt: number, availableAt?: Date): OutboxJob {
  return {
    queue: SETTLEMENT_QUEUE,
    name: SEND_PAYOUT_JOB,
    jobId: outboxJobId("settlement-payout", payoutId, `send-${attempt}`),
    payload: { payoutId },
    ...(availableAt ? { availableAt } : {}),
  };
}

function requirePayoutKind(who: SettlementActor): void {
  // The kinds that may hold a settlement account are the kinds that may be paid out; others see 404.
  if (rolesFor("payout.request", who.kind).length === 0) throw new DomainError("not_found", "resource not found");
}

const walletCode = (organizationId: string) => accountCode({ kind: "wallet", organizationId });

/** The figures the reserve rule of this kind needs, as of `now`. */
async function reserveFor(db: Db, organizationId: string, kind: SettlementActor["kind"], now: Date): Promise<Reserve> {
  const since = new Date(now.getTime() - RESERVE_RULES.windowDays * 86_400_000);
  let settledEscrowNetFen = 0;
  let paidOnOpenOrdersFen = 0;
  if (kind === "merchant") {
    const row = await db
      .selectFrom("market_orders")
      .select(sql<string>`coalesce(sum(settled_net_fen), 0)`.as("fen"))
      .where("merchant_id", "=", organizationId)
      .where("settled_at", ">=", since)
      .where("settled_at", "<=", now)
      .executeTakeFirstOrThrow();
    settledEscrowNetFen = Number(row.fen);
  } else if (kind === "core_enterprise") {
    const row = await db
      .selectFrom("orders")
      .select(sql<string>`coalesce(sum(paid_fen), 0)`.as("fen"))
      .where("core_enterprise_id", "=", organizationId)
      .where("kind", "<>", "return")
      .where("is_cart", "=", false)
      .where("status", "not in", ["completed", "cancelled", "rejected"])
      .where("paid_fen", ">", 0)
      .where(sql<Date>`coalesce(paid_at, confirmed_at, created_at)`, ">=", since)
      .executeTakeFirstOrThrow();
    paidOnOpenOrdersFen = Number(row.fen);
  }
  return retentionReserve(kind, { settledEscrowNetFen, paidOnOpenOrdersFen });
}

async function figures(db: Db, organizationId: string, kind: SettlementActor["kind"], now: Date): Promise<AvailableForPayout> {
  const wallet = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", walletCode(organizationId)).executeTakeFirst();
  const balanceFen = wallet ? Number(wallet.credits_posted_fen) - Number(wallet.debits_posted_fen) : 0;
  const holdsFen = wallet ? Number(wallet.debits_pending_fen) : 0;
  const reserve = await reserveFor(db, organizationId, kind, now);
  return {
    balanceFen,
    holdsFen,
    reserveFen: reserve.reserveFen,
    availableFen: availableForPayoutFen({ balanceFen, holdsFen, reserveFen: reserve.reserveFen }),
    reserve: { ...reserve, windowDays: RESERVE_RULES.windowDays },
  };
}

/** The acting organisation's available amount with its parts. Any member may read it. */
export async function getAvailableForPayout(db: Db, who: SettlementActor, now: Date): Promise<AvailableForPayout> {
  requirePayoutKind(who);
  return figures(db, who.organizationId, who.kind, now);
}

/**
 * Ask for a payout of `amountFen` to the organisation's verified settlement account. The same
 * idempotency key again answers the payout it made (`replayed`); with another amount it is refused.
 */
export async function requestPayout(
  db: Db,
  actor: Actor,
  who: SettlementActor,
  input: { amountFen: number; idempotencyKey: string },
  now: Date,
): Promise<{ payout: PayoutView; replayed: boolean }> {
  requirePayoutKind(who);
  assertMay(who.roles, "payout.request", who.kind);
  const amountFen = input.amountFen;
  if (!Number.isSafeInteger(amountFen) || amountFen <= 0) {
    throw new DomainError("validation", "amount_fen must be a whole number of fen above 0", { amount_fen: "positive_integer" });
  }
  const key = String(input.idempotencyKey ?? "").trim();
  if (key === "" || key.length > PAYOUT_LIMITS.idempotencyKeyCharsMax) {
    throw new DomainError("validation", `idempotency_key must be 1 to ${PAYOUT_LIMITS.idempotencyKeyCharsMax} characters`, { idempotency_key: "length" });
  }
  return inTransaction(db, async (trx) => {
    const bank = await trx.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    if (!bank) throw new Error("settlement: no bank organisation owns the payouts-in-transit account");
    const wallet = await ensureAccount(trx, { kind: "wallet", organizationId: who.organizationId });
    const inTransit = await ensureAccount(trx, { kind: "payouts_in_transit", organizationId: bank.id, code: "payouts_in_transit" });
    // Every payout of this organisation, and every other movement out of its wallet, waits here:
    // the figure read below is still true when the hold is written.
    await lockAccountsByCodes(trx, [wallet.code]);
    const existing = await trx
      .selectFrom("payouts")
      .selectAll()
      .where("organization_id", "=", who.organizationId)
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    if (existing) {
      if (Number(existing.amount_fen) !== amountFen) {
        throw new DomainError("idempotency_conflict", "this idempotency_key was used for a payout of another amount", { idempotency_key: "reused" });
      }
      return { payout: view(existing), replayed: true };
    }
    const account = await requireVerifiedSettlementAccount(trx, who.organizationId);
    const parts = await figures(trx, who.organizationId, who.kind, now);
    if (amountFen > parts.availableFen) {
      throw new DomainError("insufficient_funds", `amount_fen ${amountFen} exceeds the ${parts.availableFen} fen available for payout`, { amount_fen: "exceeds_available" });
    }
    const id = randomUUID();
    const hold = await transfer(trx, {
      idempotencyKey: `payout:${id}:hold`,
      kind: "payout_hold",
      reference: `payout:${id}`,
      debitAccountId: wallet.id,
      creditAccountId: inTransit.id,
      amountFen,
      pending: true,
      createdByUserId: actor.userId,
    });
    const row = await trx
      .insertInto("payouts")
      .values({
        id,
        organization_id: who.organizationId,
        settlement_account_id: account.id,
        account_revision: account.revision,
        bank_name: account.bankName,
        account_number: account.accountNumber,
        account_name: account.accountName,
        amount_fen: amountFen,
        idempotency_key: key,
        status: "requested",
        hold_transfer_id: hold.transfer.id,
        requested_by_user_id: actor.userId,
        requested_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await enqueue(trx as Trx, sendPayoutJob(id, 1));
    await recordAudit(trx, actor, {
      action: "payout.requested",
      entityType: "payout",
      entityId: id,
      organizationId: who.organizationId,
      after: { amount_fen: amountFen, account_number: `****${account.accountNumber.slice(-4)}`, available_fen: parts.availableFen },
    });
    return { payout: view(row), replayed: false };
  });
}

async function lockPayout(trx: Db, payoutId: string): Promise<PayoutRow> {
  if (!isUuid(payoutId)) throw new DomainError("not_found", "payout not found");
  const row = await trx.selectFrom("payouts").selectAll().where("id", "=", payoutId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "payout not found");
  return row;
}

function nextStatus(row: PayoutRow, event: PayoutEvent): PayoutStatus {
  const to = payoutTransition(row.status, event);
  if (!to) throw new Error(`payout invariant: ${row.status} cannot take ${event}`);
  return to;
}

export const payoutReference = (payoutId: string, attempt: number) => `payout:${payoutId}:${attempt}`;

export type PayoutAnswer =
  | { status: "succeeded"; reference: string; gatewayPayoutId: string }
  | { status: "failed"; reference: string; gatewayPayoutId: string | null; reason: string };

export type SendOutcome = "already_final" | "succeeded" | "failed" | "retry_scheduled";

/**
 * The send step: one try at the gateway, and its answer applied. Outside any transaction (HTTP).
 * Run twice it asks the gateway again with the same reference (which answers the same payout) or
 * finds the payout final and asks nothing. A gateway that does not answer throws: the outbox
 * runs the step again with its backoff, under the same reference.
 */
export async function sendPayout(db: Db, gateway: EpayGateway, payoutId: string, now: Date): Promise<SendOutcome> {
  if (db.isTransaction) throw new Error("sendPayout calls the payment gateway over HTTP; call it outside a transaction");
  const claimed = await db.transaction().execute(async (trx) => {
    const row = await lockPayout(trx, payoutId);
    if (PAYOUT_FINAL_STATUSES.includes(row.status)) return null;
    if (row.status === "sent") return row;
    // A new try: its own reference, so a refused one is not simply answered again.
    return trx
      .updateTable("payouts")
      .set({ status: nextStatus(row, "send"), attempts: row.attempts + 1, sent_at: now, updated_at: now })
      .where("id", "=", row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  if (!claimed) return "already_final";
  const reference = payoutReference(claimed.id, claimed.attempts);
  let answer: PayoutAnswer;
  try {
    const response = await gateway.payout({
      merchantPayoutReference: reference,
      amountFen: Number(claimed.amount_fen),
      bankName: claimed.bank_name,
      accountNumber: claimed.account_number,
      accountName: claimed.account_name,
      remark: PAYOUT_REMARK,
    });
    answer =
      response.status === "succeeded"
        ? { status: "succeeded", reference, gatewayPayoutId: response.gateway_payout_id }
        : { status: "failed", reference, gatewayPayoutId: response.gateway_payout_id, reason: response.failure_reason ?? "refused by the gateway" };
  } catch (error) {
    if (!(error instanceof EpayGatewayError) || error.kind !== "refused") throw error;
    answer = { status: "failed", reference, gatewayPayoutId: null, reason: `${error.code}: ${error.message}` };
  }
  return applyPayoutAnswer(db, payoutId, answer, now);
}

/**
 * Apply the gateway's answer for one try (from the send step, or a callback). Harmless again or
 * late: a final payout changes no more, and a refusal of a try that is no longer the current one
 * is ignored. A success is honoured whatever try it names: that money has left.
 */
export async function applyPayoutAnswer(db: Db, payoutId: string, answer: PayoutAnswer, now: Date): Promise<SendOutcome> {
  return inTransaction(db, async (trx) => {
    const row = await lockPayout(trx, payoutId);
    const prefix = `payout:${row.id}:`;
    if (!answer.reference.startsWith(prefix)) throw new DomainError("validation", "the answer names another payout", { reference: "mismatch" });
    if (PAYOUT_FINAL_STATUSES.includes(row.status)) return "already_final";
    const tryNo = Number(answer.reference.slice(prefix.length));
    if (answer.status === "succeeded") {
      await postPending(trx, { idempotencyKey: `payout:${row.id}:post`, pendingId: row.hold_transfer_id, kind: "payout_sent" });
      const clearing = await bankAccount(trx, "gateway_clearing");
      const inTransit = await bankAccount(trx, "payouts_in_transit");
      await transfer(trx, {
        idempotencyKey: `payout:${row.id}:clear`,
        kind: "payout_cleared",
        reference: `payout:${row.id}`,
        debitAccountId: inTransit,
        creditAccountId: clearing,
        amountFen: Number(row.amount_fen),
      });
      await trx
        .updateTable("payouts")
        .set({ status: nextStatus(row, "confirm"), gateway_payout_id: answer.gatewayPayoutId, finished_at: now, updated_at: now })
        .where("id", "=", row.id)
        .execute();
      await recordAudit(trx, SYSTEM_ACTOR, { action: "payout.succeeded", entityType: "payout", entityId: row.id, organizationId: row.organization_id, after: { amount_fen: Number(row.amount_fen), gateway_payout_id: answer.gatewayPayoutId, attempt: tryNo } });
      return "succeeded";
    }
    // A refusal of an earlier try arriving late: that try is over, the current one decides.
    if (tryNo !== row.attempts || row.status !== "sent") return "already_final";
    const reason = answer.reason.slice(0, PAYOUT_LIMITS.reasonCharsMax);
    if (row.attempts < PAYOUT_LIMITS.attemptsMax) {
      const availableAt = new Date(now.getTime() + PAYOUT_LIMITS.retryBackoffBaseMs * 2 ** (row.attempts - 1));
      // Back to `requested` (the hold stays): the next run of the step makes a new try.
      await trx.updateTable("payouts").set({ status: nextStatus(row, "retry"), last_failure_reason: reason, updated_at: now }).where("id", "=", row.id).execute();
      await enqueue(trx as Trx, sendPayoutJob(row.id, row.attempts + 1, availableAt));
      await recordAudit(trx, SYSTEM_ACTOR, { action: "payout.try_failed", entityType: "payout", entityId: row.id, organizationId: row.organization_id, after: { attempt: row.attempts, reason, retry_at: availableAt.toISOString() } });
      return "retry_scheduled";
    }
    await voidPending(trx, { idempotencyKey: `payout:${row.id}:void`, pendingId: row.hold_transfer_id, kind: "payout_failed" });
    await trx
      .updateTable("payouts")
      .set({ status: nextStatus(row, "fail"), failure_reason: reason, last_failure_reason: reason, gateway_payout_id: answer.gatewayPayoutId ?? row.gateway_payout_id, finished_at: now, updated_at: now })
      .where("id", "=", row.id)
      .execute();
    await recordAudit(trx, SYSTEM_ACTOR, { action: "payout.failed", entityType: "payout", entityId: row.id, organizationId: row.organization_id, after: { amount_fen: Number(row.amount_fen), reason, attempts: row.attempts } });
    return "failed";
  });
}

/**
 * The gateway's signed notice about one try of a payout (`POST /api/v1/payouts/callback`). The
 * signature is checked by the route; this is what its body must be.
 */
export const payoutCallbackSchema = z
  .object({
    event_id: z.string().min(1).max(100),
    type: z.enum(["payout.succeeded", "payout.failed"]),
    merchant_payout_reference: z.string().min(1).max(200),
    gateway_payout_id: z.string().min(1).max(100),
    amount_fen: z.number().int().positive(),
    failure_reason: z.string().max(PAYOUT_LIMITS.reasonCharsMax).nullable().optional(),
    occurred_at: z.string().max(40),
  })
  .strict();
export type PayoutCallback = z.infer<typeof payoutCallbackSchema>;

const REFERENCE = /^payout:([0-9a-f-]{36}):([1-9][0-9]{0,3})$/;

/**
 * Apply a verified callback: the same road as the send step's own answer, so a callback that
 * arrives before, after or instead of the step's answer, twice, or about an earlier try, books once.
 * A reference that names no payout of ours is `not_found`; another amount is refused naming
 * `amount_fen` and changes nothing.
 */
export async function applyPayoutCallback(db: Db, event: PayoutCallback, now: Date): Promise<{ payoutId: string; outcome: SendOutcome }> {
  const m = REFERENCE.exec(event.merchant_payout_reference);
  if (!m || !isUuid(m[1])) throw new DomainError("not_found", "no payout of ours has this reference", { merchant_payout_reference: "unknown" });
  const payoutId = m[1];
  const row = await db.selectFrom("payouts").select(["amount_fen", "attempts"]).where("id", "=", payoutId).executeTakeFirst();
  if (!row || Number(m[2]) > Math.max(row.attempts, 1)) throw new DomainError("not_found", "no payout of ours has this reference", { merchant_payout_reference: "unknown" });
  if (Number(row.amount_fen) !== event.amount_fen) {
    throw new DomainError("validation", `amount_fen ${event.amount_fen} differs from the payout's ${Number(row.amount_fen)}`, { amount_fen: "differs" });
  }
  const answer: PayoutAnswer =
    event.type === "payout.succeeded"
      ? { status: "succeeded", reference: event.merchant_payout_reference, gatewayPayoutId: event.gateway_payout_id }
      : { status: "failed", reference: event.merchant_payout_reference, gatewayPayoutId: event.gateway_payout_id, reason: event.failure_reason ?? "refused by the gateway" };
  return { payoutId, outcome: await applyPayoutAnswer(db, payoutId, answer, now) };
}

async function bankAccount(trx: Db, code: "gateway_clearing" | "payouts_in_transit"): Promise<string> {
  const row = await trx.selectFrom("ledger_accounts").select("id").where("code", "=", code).executeTakeFirst();
  if (row) return row.id;
  const bank = await trx.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirstOrThrow();
  return (await ensureAccount(trx, { kind: code, organizationId: bank.id, code })).id;
}

/**
 * Payouts newest first, one page. The organisation's own; or, for the bank's operations staff
 * (`payout.view_all`), everyone's, optionally only the failed ones.
 */
export async function listPayouts(
  db: Db,
  who: SettlementActor,
  options: { after?: string | null; limit?: number; status?: PayoutStatus | null } = {},
): Promise<{ items: (PayoutView & { organizationName: string })[]; nextCursor: string | null }> {
  const all = who.kind === "bank";
  if (all) assertMay(who.roles, "payout.view_all", who.kind);
  else requirePayoutKind(who);
  const limit = Math.min(Math.max(options.limit ?? 50, 1), PAYOUT_LIMITS.listPageMax);
  const after = decodeCursor(options.after, ["timestamp", "uuid"]);
  let query = db
    .selectFrom("payouts as p")
    .innerJoin("organizations as o", "o.id", "p.organization_id")
    .selectAll("p")
    .select([sql<string>`to_char(p.requested_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("requested_at_text"), "o.name as organization_name"])
    .orderBy("p.requested_at", "desc")
    .orderBy("p.id", "desc")
    .limit(limit + 1);
  if (!all) query = query.where("p.organization_id", "=", who.organizationId);
  if (options.status) query = query.where("p.status", "=", options.status);
  if (after) query = query.where(sql<boolean>`(p.requested_at, p.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`);
  const rows = await query.execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ ...view(r), organizationName: r.organization_name })),
    nextCursor: rows.length > limit && last ? encodeCursor([last.requested_at_text, last.id]) : null,
  };
}

/** One payout of the acting organisation (or any, for the bank's operations staff); 404 otherwise. */
export async function getPayout(db: Db, who: SettlementActor, payoutId: string): Promise<PayoutView> {
  const all = who.kind === "bank" && may(who.roles, "payout.view_all", who.kind);
  if (!all) requirePayoutKind(who);
  if (!isUuid(payoutId)) throw new DomainError("not_found", "resource not found");
  let query = db.selectFrom("payouts").selectAll().where("id", "=", payoutId);
  if (!all) query = query.where("organization_id", "=", who.organizationId);
  const row = await query.executeTakeFirst();
  if (!row) throw new DomainError("not_found", "resource not found");
  return view(row);
}
