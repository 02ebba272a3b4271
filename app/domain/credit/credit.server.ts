import { inTransaction, type Db } from "../../../db";
import { recordAudit, type Actor, DomainError, isUuid } from "../shared";
import { accountView, ensureAccount, lockAccountsByCodes, transfer, transferByCode, type AccountView, type BatchOperation, type Fen, type LockedAccounts, type TransferResult } from "../ledger";

/**
 * Trade credit between a core enterprise and one of its dealers, kept in the ledger:
 *  - `trade_credit:<link>` (the dealer's): the unused part of the limit;
 *  - `trade_receivable:<link>` (the core enterprise's): what the dealer owes on account;
 *  - `credit_limits_issued:<core>`: where limits come from and go back to.
 * limit = unused + owed. An on-account charge moves unused → owed and is refused by the ledger's
 * own lock and rule when it would exceed the limit, however many orders arrive at once.
 */

export interface CreditParties {
  /** The dealer link (relationship) id: one credit line per core enterprise and dealer. */
  linkId: string;
  coreEnterpriseId: string;
  dealerId: string;
}

export interface CreditSummary {
  limitFen: Fen;
  usedFen: Fen;
  availableFen: Fen;
}

interface CreditAccounts {
  credit: AccountView;
  receivable: AccountView;
  issued: AccountView;
}

export async function ensureCreditAccounts(db: Db, parties: CreditParties): Promise<CreditAccounts> {
  // The common case — the line exists — in one read; creating it is the rare path below.
  const codes = [`trade_credit:${parties.linkId}`, `trade_receivable:${parties.linkId}`, `credit_limits_issued:${parties.coreEnterpriseId}`];
  const existing = await db.selectFrom("ledger_accounts").selectAll().where("code", "in", codes).execute();
  if (existing.length === 3) {
    const byCode = new Map(existing.map((row) => [row.code, accountView(row)]));
    return { credit: byCode.get(codes[0])!, receivable: byCode.get(codes[1])!, issued: byCode.get(codes[2])! };
  }
  const credit = await ensureAccount(db, {
    kind: "trade_credit",
    organizationId: parties.dealerId,
    code: `trade_credit:${parties.linkId}`,
  });
  const receivable = await ensureAccount(db, {
    kind: "trade_receivable",
    organizationId: parties.coreEnterpriseId,
    code: `trade_receivable:${parties.linkId}`,
  });
  const issued = await ensureAccount(db, {
    kind: "credit_limits_issued",
    organizationId: parties.coreEnterpriseId,
    code: `credit_limits_issued:${parties.coreEnterpriseId}`,
  });
  return { credit, receivable, issued };
}

export function creditLineSummary(credit: AccountView, receivable: AccountView): CreditSummary {
  // Holds on the credit line (orders submitted on account, not yet confirmed) count as used.
  const usedFen = receivable.balanceFen + credit.pendingFen;
  return { limitFen: credit.balanceFen + receivable.balanceFen, usedFen, availableFen: credit.availableFen };
}

export async function creditSummary(db: Db, linkId: string): Promise<CreditSummary> {
  if (!isUuid(linkId)) return { limitFen: 0, usedFen: 0, availableFen: 0 };
  const rows = await db
    .selectFrom("ledger_accounts")
    .selectAll()
    .where("code", "in", [`trade_credit:${linkId}`, `trade_receivable:${linkId}`])
    .execute();
  const credit = rows.find((r) => r.kind === "trade_credit");
  const receivable = rows.find((r) => r.kind === "trade_receivable");
  if (!credit || !receivable) return { limitFen: 0, usedFen: 0, availableFen: 0 };
  return creditLineSummary(accountView(credit), accountView(receivable));
}

/**
 * Set the limit to `limitFen`. Lowering it below what is owed is refused (the ledger will not let
 * the unused part go negative). Two changes at once are serialised on the credit account's lock.
 */
export async function setCreditLimit(
  db: Db,
  actor: Actor,
  parties: CreditParties,
  limitFen: Fen,
): Promise<CreditSummary> {
  if (!Number.isSafeInteger(limitFen) || limitFen < 0 || limitFen > 100_000_000_000_000) {
    throw new DomainError("validation", "Credit limit must be a whole number of fen, zero or more", {
      credit_limit_fen: "must be zero or more",
    });
  }
  const run = async (trx: Db) => {
    const accounts = await ensureCreditAccounts(trx, parties);
    // Lock first, then read: the delta must be computed from totals nobody else is changing.
    const locked = await trx
      .selectFrom("ledger_accounts")
      .selectAll()
      .where("id", "in", [accounts.credit.id, accounts.receivable.id].sort())
      .orderBy("id")
      .forUpdate()
      .execute();
    const credit = accountView(locked.find((r) => r.id === accounts.credit.id)!);
    const receivable = accountView(locked.find((r) => r.id === accounts.receivable.id)!);
    const before = creditLineSummary(credit, receivable);
    const delta = limitFen - before.limitFen;
    if (delta === 0) return before;
    if (delta < 0 && -delta > credit.availableFen) {
      throw new DomainError(
        "validation",
        `The dealer already owes ${before.usedFen} fen on account: the limit cannot go below that`,
        { credit_limit_fen: "below the credit in use" },
      );
    }
    // Under the lock the n-th change of this limit has one key: a racing duplicate cannot apply.
    const idempotencyKey = `credit_limit:${parties.linkId}:${await limitChangeCount(trx, accounts.credit.id)}`;
    await transfer(trx, {
      idempotencyKey,
      kind: delta > 0 ? "credit_limit_raised" : "credit_limit_lowered",
      reference: `dealer_link:${parties.linkId}`,
      debitAccountId: delta > 0 ? accounts.issued.id : accounts.credit.id,
      creditAccountId: delta > 0 ? accounts.credit.id : accounts.issued.id,
      amountFen: Math.abs(delta),
      createdByUserId: actor.userId,
    });
    const after = { ...before, limitFen, availableFen: before.availableFen + delta };
    await recordAudit(trx, actor, {
      action: "dealer_link.credit_limit_set",
      entityType: "dealer_link",
      entityId: parties.linkId,
      before: { credit_limit_fen: before.limitFen },
      after: { credit_limit_fen: limitFen },
    });
    return after;
  };
  return inTransaction(db, run);
}

async function limitChangeCount(db: Db, creditAccountId: string): Promise<number> {
  const row = await db
    .selectFrom("ledger_transfers")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where((eb) =>
      eb.and([
        eb.or([eb("debit_account_id", "=", creditAccountId), eb("credit_account_id", "=", creditAccountId)]),
        eb("kind", "in", ["credit_limit_raised", "credit_limit_lowered"]),
      ]),
    )
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function creditExceeded(amountFen: Fen, summary: CreditSummary): DomainError {
  return new DomainError(
    "insufficient_funds",
    `This order (${amountFen} fen) exceeds the credit available (${summary.availableFen} fen of ${summary.limitFen} fen)`,
    { payment_method: "exceeds the available credit" },
  );
}

export interface CreditHoldRequest {
  linkId: string;
  amountFen: Fen;
  idempotencyKey: string;
  reference: string;
  createdByUserId: string | null;
}

/** The accounts of these credit lines: the unused part and what is owed on account. */
export function creditLineCodes(linkIds: readonly string[]): string[] {
  return linkIds.flatMap((linkId) => [`trade_credit:${linkId}`, `trade_receivable:${linkId}`]);
}

type HoldPlan = { ok: true; hold: Extract<BatchOperation, { op: "transfer" }> } | { ok: false; error: DomainError };

/**
 * Plan holds on several credit lines at once (orders submitted on account together): lock the
 * lines' accounts (one SELECT … FOR UPDATE in id order) and check each request, in the order
 * given, against what the ones before it left. Each gets the hold to write or its refusal; one
 * refusal refuses no other. Write the holds with `applyBatch(trx, holds, { locked })` in the same
 * transaction: the accounts are not locked a second time.
 */
export async function planCreditHolds(trx: Db, requests: readonly CreditHoldRequest[]): Promise<{ locked: LockedAccounts; plans: HoldPlan[] }> {
  const locked = await lockAccountsByCodes(trx, creditLineCodes(requests.map((r) => r.linkId)));
  return { locked, plans: planHolds(locked.byCode(), requests) };
}

function planHolds(byCode: ReadonlyMap<string, AccountView>, requests: readonly CreditHoldRequest[]): HoldPlan[] {
  const drawnFen = new Map<string, Fen>();
  return requests.map((request) => {
    const credit = byCode.get(`trade_credit:${request.linkId}`);
    const receivable = byCode.get(`trade_receivable:${request.linkId}`);
    if (!credit || !receivable) {
      // A line never opened has no credit on it.
      return { ok: false as const, error: creditExceeded(request.amountFen, { limitFen: 0, usedFen: 0, availableFen: 0 }) };
    }
    const summary = creditLineSummary(credit, receivable);
    const drawn = drawnFen.get(credit.id) ?? 0;
    if (request.amountFen > summary.availableFen - drawn) {
      return { ok: false as const, error: creditExceeded(request.amountFen, { ...summary, availableFen: summary.availableFen - drawn, usedFen: summary.usedFen + drawn }) };
    }
    drawnFen.set(credit.id, drawn + request.amountFen);
    return {
      ok: true as const,
      hold: {
        op: "transfer" as const,
        pending: true,
        idempotencyKey: request.idempotencyKey,
        kind: "on_account_hold",
        reference: request.reference,
        debitAccountId: credit.id,
        creditAccountId: receivable.id,
        amountFen: request.amountFen,
        createdByUserId: request.createdByUserId,
      },
    };
  });
}

/**
 * Charge an order to the dealer's account. Refused with `insufficient_funds` naming the available
 * credit when it does not fit. Idempotent per `reference` (e.g. `order:<id>`).
 */
export async function chargeOnAccount(
  db: Db,
  parties: CreditParties,
  input: { reference: string; amountFen: Fen; createdByUserId?: string | null },
) {
  const charge = {
    idempotencyKey: `on_account_charge:${input.reference}`,
    kind: "on_account_charge",
    reference: input.reference,
    amountFen: input.amountFen,
    createdByUserId: input.createdByUserId ?? null,
  };
  try {
    const charged = await chargeOpenLine(db, parties, charge);
    if (charged) return charged;
    // A link whose credit accounts were never opened: open them, then charge (and be refused
    // below when, as is likely, there is no credit on them).
    const accounts = await ensureCreditAccounts(db, parties);
    return await transfer(db, { ...charge, debitAccountId: accounts.credit.id, creditAccountId: accounts.receivable.id });
  } catch (error) {
    if (error instanceof DomainError && error.code === "insufficient_funds") {
      throw creditExceeded(input.amountFen, await creditSummary(db, parties.linkId));
    }
    throw error;
  }
}

/**
 * The common case, in one statement fewer: the line's accounts exist, and the transfer finds and
 * locks them by code at once. Null, with nothing written, when they do not exist yet.
 */
async function chargeOpenLine(
  db: Db,
  parties: CreditParties,
  charge: { idempotencyKey: string; kind: string; reference: string; amountFen: Fen; createdByUserId: string | null },
): Promise<TransferResult | null> {
  try {
    return await transferByCode(db, {
      ...charge,
      debitAccountCode: `trade_credit:${parties.linkId}`,
      creditAccountCode: `trade_receivable:${parties.linkId}`,
    });
  } catch (error) {
    // transferByCode's only not_found: an account missing, refused before any write.
    if (error instanceof DomainError && error.code === "not_found") return null;
    throw error;
  }
}

/** Give credit back when an on-account amount is paid, cancelled or returned. */
export async function restoreCredit(
  db: Db,
  parties: CreditParties,
  input: { idempotencyKey: string; reference: string; amountFen: Fen; kind?: string; createdByUserId?: string | null },
) {
  const accounts = await ensureCreditAccounts(db, parties);
  return transfer(db, {
    idempotencyKey: input.idempotencyKey,
    kind: input.kind ?? "on_account_restore",
    reference: input.reference,
    debitAccountId: accounts.receivable.id,
    creditAccountId: accounts.credit.id,
    amountFen: input.amountFen,
    createdByUserId: input.createdByUserId ?? null,
  });
}
