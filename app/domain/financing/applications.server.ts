import { sql, type Selectable } from "kysely";
import { inTransaction, type Db } from "../../../db";
import type { LoanApplicationCheck, LoanApplicationsTable } from "../../../db/schema";
import { type Actor, DomainError, isUuid, shanghaiDate, SYSTEM_ACTOR } from "../shared";
import { applyBatch, lockAccountsByCodes, transferByCode, type BatchOperation, type Fen } from "../ledger";
import { enqueue, outboxJobId, type OutboxJob, type Trx } from "../outbox";
import { requestFinancing, returnFromFinancing } from "../orders";
import { findApplicationTransition, type ApplicationEvent, type ApplicationGuard, type ApplicationStatus, type FinancingParty } from "./states";
import { productOfKind } from "./products.server";
import { facilitiesFor } from "./facilities.server";
import { accountCodes, applicationNotFound, nextNumber, recordFinancingEvents, type FacilityRow, type LoanProductRow } from "./internal.server";

/**
 * Loan applications: opened by a borrower, checked at once, approved by the checks below the
 * product's auto-approval limit or by credit officers above it (two different officers above the
 * second-approver limit), and handed to the disbursement step through the outbox.
 *
 * The amount is reserved on every facility the loan will draw (the borrower's limit, and for a
 * guaranteed loan the guarantor's agreement and the dealer's sub-limit) as pending ledger
 * transfers in the application's own transaction: a refusal by the ledger is a failed check, and a
 * reservation that stands is one no other application can take.
 */

export const FINANCING_QUEUE = "financing";
export const DISBURSE_JOB = "financing.disburse";

export const APPLICATION_LIMITS = {
  /** A guarantor's agreement may not have more than this share drawn by one dealer. */
  maxShareOfGuaranteeBps: 5_000,
  reasonChars: 500,
} as const;

export type ApplicationRow = Selectable<LoanApplicationsTable> & { status: ApplicationStatus };

export function disburseJob(applicationId: string): OutboxJob {
  return {
    queue: FINANCING_QUEUE,
    name: DISBURSE_JOB,
    jobId: outboxJobId("financing-disburse", applicationId, "disburse"),
    payload: { applicationId },
  };
}

async function lockApplication(trx: Db, applicationId: string): Promise<ApplicationRow> {
  if (!isUuid(applicationId)) throw applicationNotFound();
  const row = await trx.selectFrom("loan_applications").selectAll().where("id", "=", applicationId).forUpdate().executeTakeFirst();
  if (!row) throw applicationNotFound();
  return row as ApplicationRow;
}

function transitionOf(app: ApplicationRow, event: ApplicationEvent, party: FinancingParty, guard?: ApplicationGuard) {
  const t = findApplicationTransition(app.status, event, guard);
  if (!t) throw new DomainError("invalid_state", `An application that is ${app.status.replaceAll("_", " ")} cannot take "${event}"`, { status: app.status });
  if (!t.by.includes(party)) throw new DomainError("forbidden", `The ${party} cannot "${event}" this application`, { status: app.status });
  return t;
}

async function noLoanOverdue(trx: Db, borrowerId: string): Promise<LoanApplicationCheck> {
  const row = await trx
    .selectFrom("loans")
    .select((eb) => [eb.fn.countAll<string>().as("n"), sql<string | null>`max(number)`.as("number")])
    .where("borrower_organization_id", "=", borrowerId)
    .where("status", "in", ["overdue", "guarantee_called"])
    .executeTakeFirstOrThrow();
  const n = Number(row.n);
  return n === 0 ? { check: "no_loan_overdue", ok: true, detail: "none_overdue" } : { check: "no_loan_overdue", ok: false, detail: "overdue", params: { count: n, number: row.number ?? "" } };
}

const MISSING: Record<string, string> = {
  borrower_limit: "no limit on this product",
  guarantor_headroom: "no guarantee agreement",
  dealer_sub_limit: "no sub-limit for this dealer under the agreement",
};

/** A check's result in English words, for the refusal's message (pages translate the code). */
export function checkWords(c: LoanApplicationCheck): string {
  const p = c.params ?? {};
  switch (c.detail) {
    case "reserved":
      return "reserved";
    case "missing":
      return MISSING[c.check] ?? "missing";
    case "suspended":
      return "suspended";
    case "expired":
      return `expired on ${p.date}`;
    case "insufficient":
      return `${p.availableFen} fen available`;
    case "none_overdue":
      return "no loan overdue";
    case "overdue":
      return `${p.count} loan(s) overdue, e.g. ${p.number}`;
    case "confirmed":
      return "confirmed; no other application";
    case "share":
      return `this dealer would hold ${(Number(p.shareBps) / 100).toFixed(2)}% of the agreement (at most ${Number(p.maxBps) / 100}% without review)`;
    default:
      return c.detail;
  }
}

function facilityCheck(check: string, facility: FacilityRow | undefined, today: string): LoanApplicationCheck | null {
  if (!facility) return { check, ok: false, detail: "missing" };
  if (facility.status !== "active") return { check, ok: false, detail: "suspended" };
  if (facility.valid_to < today) return { check, ok: false, detail: "expired", params: { date: facility.valid_to } };
  return null;
}

/**
 * Reserve `amountFen` on a facility (available → used, pending). The ledger refuses when the
 * unused part cannot cover it; that refusal becomes the check's failure.
 */
async function reserve(trx: Db, applicationId: string, facilityId: string, amountFen: Fen): Promise<{ ok: true; transferId: string } | { ok: false; availableFen: Fen }> {
  try {
    const result = await transferByCode(trx, {
      idempotencyKey: `loan_application:${applicationId}:hold:${facilityId}`,
      kind: "facility_reservation",
      reference: `loan_application:${applicationId}`,
      debitAccountCode: accountCodes.facilityAvailable(facilityId),
      creditAccountCode: accountCodes.facilityUsed(facilityId),
      amountFen,
      pending: true,
    });
    return { ok: true, transferId: result.transfer.id };
  } catch (error) {
    if (error instanceof DomainError && (error.code === "insufficient_funds" || error.code === "not_found")) {
      const locked = await lockAccountsByCodes(trx, [accountCodes.facilityAvailable(facilityId)]).catch(() => null);
      const view = locked?.byCode().get(accountCodes.facilityAvailable(facilityId));
      return { ok: false, availableFen: view?.availableFen ?? 0 };
    }
    throw error;
  }
}

/**
 * Finance a confirmed dealer order (融资支付): the bank pays the core enterprise for it under the
 * core enterprise's guarantee, and the dealer repays the bank. One transaction: the order moves to
 * `awaiting_financing`, the application is written with every check's result, the amount is
 * reserved on the limits, and either approved at once (below the auto limit) with its
 * disbursement queued, or left for the credit officers. A check that fails refuses the whole
 * request, naming the check; nothing is written.
 */
export async function applyForOrderFinancing(db: Db, actor: Actor, orderId: string, now: Date): Promise<ApplicationRow> {
  if (!actor.organizationId) throw new DomainError("forbidden", "An organisation applies for financing");
  return inTransaction(db, async (trx) => {
    const order = await requestFinancing(trx, actor, orderId);
    const product = await productOfKind(trx, "order_financing");
    return openApplication(trx, actor, {
      product,
      borrowerId: order.dealer_id,
      guarantorId: order.core_enterprise_id,
      orderId: order.id,
      amountFen: order.total_fen,
      now,
    });
  });
}

export interface OpenInput {
  product: LoanProductRow;
  borrowerId: string;
  guarantorId: string | null;
  orderId: string | null;
  /** A merchant's receivables advance: the escrow order whose proceeds repay it (never with orderId). */
  marketOrderId?: string | null;
  amountFen: Fen;
  now: Date;
}

/** Open an application of any product (the public entry points say what it finances). */
export async function openApplication(trx: Db, actor: Actor, input: OpenInput): Promise<ApplicationRow> {
  const { product, amountFen } = input;
  const today = shanghaiDate(input.now);
  if (amountFen < product.min_amount_fen || amountFen > product.max_amount_fen) {
    throw new DomainError("validation", `${product.name_en} lends from ${product.min_amount_fen} to ${product.max_amount_fen} fen`, { amount_fen: "outside the product's range" });
  }
  const number = await nextNumber(trx, "FA", today);
  const app = await trx
    .insertInto("loan_applications")
    .values({
      number,
      product_id: product.id,
      borrower_organization_id: input.borrowerId,
      guarantor_organization_id: input.guarantorId,
      order_id: input.orderId,
      market_order_id: input.marketOrderId ?? null,
      amount_fen: amountFen,
      applied_by_user_id: actor.userId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();

  const facilities = await facilitiesFor(trx, input.borrowerId, product.id, input.guarantorId);
  const checks: LoanApplicationCheck[] = [];
  const holds: { facilityId: string; transferId: string }[] = [];
  const onFacility = async (check: string, facility: FacilityRow | undefined) => {
    const invalid = facilityCheck(check, facility, today);
    if (invalid) return checks.push(invalid);
    const reserved = await reserve(trx, app.id, facility!.id, amountFen);
    if (reserved.ok) {
      holds.push({ facilityId: facility!.id, transferId: reserved.transferId });
      checks.push({ check, ok: true, detail: "reserved" });
    } else {
      checks.push({ check, ok: false, detail: "insufficient", params: { availableFen: reserved.availableFen } });
    }
  };
  await onFacility("borrower_limit", facilities.limit);
  if (input.guarantorId) {
    await onFacility("guarantor_headroom", facilities.agreement);
    await onFacility("dealer_sub_limit", facilities.sub);
  }
  checks.push(await noLoanOverdue(trx, input.borrowerId));
  if (input.orderId) checks.push({ check: "order_confirmed_not_financed", ok: true, detail: "confirmed" });

  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    // Words for the page (each failed check), codes for the API.
    const fields = Object.fromEntries(failed.map((c) => [c.check, checkWords(c)]));
    const codes = Object.fromEntries(failed.map((c) => [c.check, c.detail]));
    throw new DomainError("invalid_state", `Financing refused: ${failed.map((c) => `${c.check.replaceAll("_", " ")} (${checkWords(c)})`).join("; ")}`, fields, codes);
  }

  // Concentration: soft. Over the share, an officer decides whatever the amount.
  let concentrated = false;
  if (input.guarantorId && facilities.agreement && facilities.sub) {
    const exposure = await guaranteedExposure(trx, facilities.agreement.id, facilities.sub.id);
    const limitFen = exposure.agreementLimitFen;
    const shareBps = limitFen > 0 ? Math.floor((exposure.dealerUsedFen * 10_000) / limitFen) : 10_000;
    concentrated = shareBps > APPLICATION_LIMITS.maxShareOfGuaranteeBps;
    checks.push({ check: "guarantor_concentration", ok: !concentrated, detail: "share", params: { shareBps, maxBps: APPLICATION_LIMITS.maxShareOfGuaranteeBps } });
  }

  const auto = amountFen <= product.auto_approve_limit_fen && !concentrated;
  let status: ApplicationStatus = "applied";
  if (auto) status = findApplicationTransition("applied", "approve", "within_second_approver_limit")!.to;
  const updated = (await trx
    .updateTable("loan_applications")
    .set({
      checks: JSON.stringify(checks),
      holds: JSON.stringify(holds),
      status,
      ...(auto ? { decided_at: input.now, reason: null } : {}),
    })
    .where("id", "=", app.id)
    .returningAll()
    .executeTakeFirstOrThrow()) as ApplicationRow;
  await recordFinancingEvents(trx, actor, [{ applicationId: app.id, event: "applied", detail: { number, amount_fen: amountFen, order_id: input.orderId, ...(input.marketOrderId ? { market_order_id: input.marketOrderId } : {}), checks } }], input.now);
  // Below the auto limit the checks approve it: the bank's rule, not the applicant, is the actor.
  if (auto) {
    await recordFinancingEvents(trx, { ...SYSTEM_ACTOR, requestId: actor.requestId }, [
      { applicationId: app.id, event: "approved", detail: { by: "checks", auto_approve_limit_fen: product.auto_approve_limit_fen } },
    ], input.now);
  }
  if (auto) await enqueue(trx as Trx, disburseJob(app.id));
  return updated;
}

/** What a guarantee agreement and one dealer's sub-limit have drawn (reservations included). */
async function guaranteedExposure(trx: Db, agreementId: string, subId: string): Promise<{ agreementLimitFen: Fen; dealerUsedFen: Fen }> {
  const locked = await lockAccountsByCodes(trx, [accountCodes.facilityAvailable(agreementId), accountCodes.facilityUsed(agreementId), accountCodes.facilityAvailable(subId), accountCodes.facilityUsed(subId)]);
  const aAvail = locked.byCode().get(accountCodes.facilityAvailable(agreementId))!;
  const aUsed = locked.byCode().get(accountCodes.facilityUsed(agreementId))!;
  const sAvail = locked.byCode().get(accountCodes.facilityAvailable(subId))!;
  const sUsed = locked.byCode().get(accountCodes.facilityUsed(subId))!;
  return {
    agreementLimitFen: aAvail.balanceFen + aUsed.balanceFen,
    dealerUsedFen: sUsed.balanceFen + sAvail.pendingFen,
  };
}

/**
 * A credit officer approves. At or below the second-approver limit one approval is enough; above
 * it the first approval is a signature and a different officer's approval completes it (the table's
 * CHECK refuses the same person twice, whatever this code does).
 */
export async function approveApplication(db: Db, actor: Actor, applicationId: string, now: Date): Promise<ApplicationRow> {
  return inTransaction(db, async (trx) => {
    const app = await lockApplication(trx, applicationId);
    const product = await trx.selectFrom("loan_products").select(["second_approver_limit_fen"]).where("id", "=", app.product_id).executeTakeFirstOrThrow();
    if (app.status === "awaiting_second_approval") {
      const t = transitionOf(app, "second_approve", "bank");
      if (app.first_approver_user_id === actor.userId) {
        throw new DomainError("forbidden", "Four eyes: a different credit officer gives the second approval", { approver: "same_officer" });
      }
      const updated = (await trx.updateTable("loan_applications").set({ status: t.to, decided_by_user_id: actor.userId, decided_at: now }).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow()) as ApplicationRow;
      await recordFinancingEvents(trx, actor, [{ applicationId: app.id, event: "approved", detail: { second_approver: actor.userId }, before: { status: app.status }, after: { status: t.to } }], now);
      await enqueue(trx as Trx, disburseJob(app.id));
      return updated;
    }
    const guard: ApplicationGuard = app.amount_fen > product.second_approver_limit_fen ? "above_second_approver_limit" : "within_second_approver_limit";
    const t = transitionOf(app, "approve", "bank", guard);
    const patch =
      t.to === "awaiting_second_approval"
        ? { status: t.to, first_approver_user_id: actor.userId, first_approved_at: now }
        : { status: t.to, decided_by_user_id: actor.userId, decided_at: now };
    const updated = (await trx.updateTable("loan_applications").set(patch).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow()) as ApplicationRow;
    await recordFinancingEvents(trx, actor, [
      { applicationId: app.id, event: t.to === "approved" ? "approved" : "first_approval", before: { status: app.status }, after: { status: t.to } },
    ], now);
    if (t.to === "approved") await enqueue(trx as Trx, disburseJob(app.id));
    return updated;
  });
}

async function releaseHolds(trx: Db, app: ApplicationRow): Promise<void> {
  const ops: BatchOperation[] = app.holds.map((h) => ({
    op: "void_pending" as const,
    pendingId: h.transferId,
    idempotencyKey: `loan_application:${app.id}:void:${h.facilityId}`,
  }));
  await applyBatch(trx, ops);
}

function requireReason(reason: string | null | undefined): string {
  const text = (reason ?? "").trim();
  if (text.length === 0 || text.length > APPLICATION_LIMITS.reasonChars) {
    throw new DomainError("validation", `A reason is required (at most ${APPLICATION_LIMITS.reasonChars} characters)`, { reason: "required" });
  }
  return text;
}

/** A credit officer rejects, with a reason: the reservations are released, the order waits for payment again. */
export async function rejectApplication(db: Db, actor: Actor, applicationId: string, reason: string, now: Date): Promise<ApplicationRow> {
  const why = requireReason(reason);
  return inTransaction(db, async (trx) => {
    const app = await lockApplication(trx, applicationId);
    const t = transitionOf(app, "reject", "bank");
    await releaseHolds(trx, app);
    const updated = (await trx.updateTable("loan_applications").set({ status: t.to, reason: why, decided_by_user_id: actor.userId, decided_at: now }).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow()) as ApplicationRow;
    if (app.order_id) await returnFromFinancing(trx, app.order_id, `Financing ${app.number} rejected: ${why}`);
    await recordFinancingEvents(trx, actor, [{ applicationId: app.id, event: "rejected", detail: { reason: why }, before: { status: app.status }, after: { status: t.to } }], now);
    return updated;
  });
}

/** The borrower withdraws before the bank decides (or the disbursement finds the purpose gone). */
export async function withdrawApplication(db: Db, actor: Actor, applicationId: string, now: Date, party: FinancingParty = "borrower"): Promise<ApplicationRow> {
  return inTransaction(db, async (trx) => {
    const app = await lockApplication(trx, applicationId);
    if (party === "borrower" && app.borrower_organization_id !== actor.organizationId) throw applicationNotFound();
    const t = transitionOf(app, "withdraw", party);
    await releaseHolds(trx, app);
    const updated = (await trx.updateTable("loan_applications").set({ status: t.to, decided_at: now }).where("id", "=", app.id).returningAll().executeTakeFirstOrThrow()) as ApplicationRow;
    if (app.order_id) await returnFromFinancing(trx, app.order_id, `Financing ${app.number} withdrawn`);
    await recordFinancingEvents(trx, actor, [{ applicationId: app.id, event: "withdrawn", before: { status: app.status }, after: { status: t.to } }], now);
    return updated;
  });
}

export { lockApplication, SYSTEM_ACTOR };
