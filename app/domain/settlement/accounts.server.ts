import { randomInt } from "node:crypto";
import { inTransaction, type Db } from "../../../db";
import type { OrganizationKind, Role, SettlementAccountStatus } from "../../../db/schema";
import { assertMay, may, rolesFor } from "../identity";
import { ensureAccount, transfer } from "../ledger";
import { EpayGatewayError, type EpayGateway } from "../payments";
import { DomainError, recordAudit, type Actor } from "../shared";
import { maskAccountNumber, SETTLEMENT_ACCOUNT_LIMITS as LIMITS } from "./format";

/**
 * Settlement accounts (对公账户) and their verification by a small random deposit (小额打款验证).
 * This module is the only writer of `settlement_accounts`.
 *
 * Invariants:
 *  - one account in force per organisation; a change replaces it, raises `revision`, draws a new
 *    deposit and needs the verification again (status back to `pending_deposit`), and is audited;
 *  - the account name equals the organisation's registered name (trimmed, NFKC, so full- and
 *    half-width brackets compare equal) — the bank pays only an account in the payee's own name;
 *  - the deposit is 1–99 fen, drawn at random on registration, sent once per revision (the gateway
 *    is idempotent on `deposit_reference`), and booked once (bank_expenses → gateway_clearing,
 *    idempotency key `settlement:deposit:<deposit_reference>`), whatever happens to the row since;
 *  - three wrong amounts lock the account for 24 h from the third (by the caller's `now`); a
 *    wrong amount is committed before it is refused, so retrying never resets the count;
 *  - only `verified` accounts may receive payouts (`requireVerifiedSettlementAccount`).
 */

export interface SettlementActor {
  organizationId: string;
  kind: OrganizationKind;
  roles: readonly Role[];
}

export interface SettlementAccountInput {
  bankName: string;
  branchName: string;
  accountNumber: string;
  accountName: string;
}

export interface SettlementAccountView {
  id: string;
  organizationId: string;
  bankName: string;
  branchName: string;
  /** In full only for the roles of `settlement_account.read_number`; else null. */
  accountNumber: string | null;
  accountNumberMasked: string;
  accountName: string;
  status: SettlementAccountStatus;
  revision: number;
  depositSentAt: Date | null;
  depositFailure: string | null;
  failedAttempts: number;
  attemptsLeft: number;
  /** Set while locked (in the future of `now`); null otherwise. */
  lockedUntil: Date | null;
  verifiedAt: Date | null;
  updatedAt: Date;
}

type Row = {
  id: string;
  organization_id: string;
  bank_name: string;
  branch_name: string;
  account_number: string;
  account_name: string;
  status: SettlementAccountStatus;
  revision: number;
  deposit_fen: number;
  deposit_reference: string;
  gateway_payout_id: string | null;
  deposit_sent_at: Date | null;
  deposit_failure: string | null;
  failed_attempts: number;
  locked_until: Date | null;
  verified_at: Date | null;
  updated_at: Date;
};

const COLUMNS = [
  "id",
  "organization_id",
  "bank_name",
  "branch_name",
  "account_number",
  "account_name",
  "status",
  "revision",
  "deposit_fen",
  "deposit_reference",
  "gateway_payout_id",
  "deposit_sent_at",
  "deposit_failure",
  "failed_attempts",
  "locked_until",
  "verified_at",
  "updated_at",
] as const;

/** Shown on the receiving account's statement, so the organisation knows which line to read. */
const DEPOSIT_REMARK = "融通对公账户验证 Rongtong account verification";

function isLocked(row: Pick<Row, "locked_until">, now: Date): boolean {
  return row.locked_until !== null && row.locked_until.getTime() > now.getTime();
}

function view(row: Row, who: SettlementActor, now: Date): SettlementAccountView {
  const locked = isLocked(row, now);
  // A lock that has run out gives the full number of tries back (applied for good on the next try).
  const failedAttempts = row.locked_until !== null && !locked ? 0 : row.failed_attempts;
  return {
    id: row.id,
    organizationId: row.organization_id,
    bankName: row.bank_name,
    branchName: row.branch_name,
    accountNumber: may(who.roles, "settlement_account.read_number", who.kind) ? row.account_number : null,
    accountNumberMasked: maskAccountNumber(row.account_number),
    accountName: row.account_name,
    status: row.status,
    revision: row.revision,
    depositSentAt: row.deposit_sent_at,
    depositFailure: row.deposit_failure,
    failedAttempts,
    attemptsLeft: row.status === "verified" ? LIMITS.wrongAttemptsMax : Math.max(0, LIMITS.wrongAttemptsMax - failedAttempts),
    lockedUntil: locked ? row.locked_until : null,
    verifiedAt: row.verified_at,
    updatedAt: row.updated_at,
  };
}

/** What an audit row keeps of an account: never the full number (the activity feed is read by every member). */
function auditShape(row: Pick<Row, "bank_name" | "branch_name" | "account_number" | "account_name" | "status" | "revision">) {
  return {
    bank_name: row.bank_name,
    branch_name: row.branch_name,
    account_number: maskAccountNumber(row.account_number),
    account_name: row.account_name,
    status: row.status,
    revision: row.revision,
  };
}

const normalizeName = (name: string) => name.normalize("NFKC").trim();

/** Every field checked, every problem named, before anything is written. */
function parseInput(input: SettlementAccountInput, registeredName: string): SettlementAccountInput {
  const fields: Record<string, string> = {};
  const messages: string[] = [];
  const bankName = String(input.bankName ?? "").trim();
  const branchName = String(input.branchName ?? "").trim();
  const accountNumber = String(input.accountNumber ?? "").replace(/[\s-]/g, "");
  const accountName = normalizeName(String(input.accountName ?? ""));
  for (const [field, value] of [
    ["bank_name", bankName],
    ["branch_name", branchName],
  ] as const) {
    if (value.length < LIMITS.bankNameCharsMin || value.length > LIMITS.bankNameCharsMax) {
      fields[field] = "length";
      messages.push(`${field} must be ${LIMITS.bankNameCharsMin} to ${LIMITS.bankNameCharsMax} characters`);
    }
  }
  if (!/^[0-9]+$/.test(accountNumber) || accountNumber.length < LIMITS.accountNumberDigitsMin || accountNumber.length > LIMITS.accountNumberDigitsMax) {
    fields.account_number = "digits";
    messages.push(`account_number must be ${LIMITS.accountNumberDigitsMin} to ${LIMITS.accountNumberDigitsMax} digits`);
  }
  if (accountName === "") {
    fields.account_name = "required";
    messages.push("account_name is required");
  } else if (accountName !== normalizeName(registeredName)) {
    fields.account_name = "must_match_organization_name";
    messages.push(`account_name must equal the organisation's registered name “${registeredName.trim()}” (compared after trimming spaces)`);
  }
  if (messages.length > 0) throw new DomainError("validation", messages.join("; "), fields);
  return { bankName, branchName, accountNumber, accountName: registeredName.trim() };
}

async function readRow(db: Db, organizationId: string, forUpdate = false): Promise<Row | undefined> {
  let query = db.selectFrom("settlement_accounts").select(COLUMNS).where("organization_id", "=", organizationId);
  if (forUpdate) query = query.forUpdate();
  return (await query.executeTakeFirst()) as Row | undefined;
}

/** The acting organisation's settlement account (null when none is registered); nobody else's. */
export async function getSettlementAccount(db: Db, who: SettlementActor, now: Date): Promise<SettlementAccountView | null> {
  // Kinds that have no settlement account see none (the page and the API are 404 for them).
  if (rolesFor("settlement_account.write", who.kind).length === 0) throw new DomainError("not_found", "resource not found");
  const row = await readRow(db, who.organizationId);
  return row ? view(row, who, now) : null;
}

/**
 * Register the organisation's settlement account, or change it. The same details as the account
 * in force change nothing (a repeated PUT). Anything else draws a new deposit and starts the
 * verification again; the deposit itself is sent by `sendVerificationDeposit`, outside this
 * transaction (it calls the gateway over HTTP).
 */
export async function registerSettlementAccount(
  db: Db,
  actor: Actor,
  who: SettlementActor,
  input: SettlementAccountInput,
  now: Date,
): Promise<{ account: SettlementAccountView; changed: boolean }> {
  assertMay(who.roles, "settlement_account.write", who.kind);
  return inTransaction(db, async (trx) => {
    const org = await trx.selectFrom("organizations").select(["name"]).where("id", "=", who.organizationId).forShare().executeTakeFirst();
    if (!org) throw new DomainError("not_found", "resource not found");
    const parsed = parseInput(input, org.name);
    const before = await readRow(trx, who.organizationId, true);
    if (
      before &&
      before.bank_name === parsed.bankName &&
      before.branch_name === parsed.branchName &&
      before.account_number === parsed.accountNumber &&
      before.account_name === parsed.accountName
    ) {
      return { account: view(before, who, now), changed: false };
    }
    const revision = (before?.revision ?? 0) + 1;
    const fresh = {
      bank_name: parsed.bankName,
      branch_name: parsed.branchName,
      account_number: parsed.accountNumber,
      account_name: parsed.accountName,
      status: "pending_deposit" as const,
      revision,
      deposit_fen: randomInt(LIMITS.depositFenMin, LIMITS.depositFenMax + 1),
      deposit_reference: `settlement:${who.organizationId}:r${revision}`,
      gateway_payout_id: null,
      deposit_sent_at: null,
      deposit_failure: null,
      failed_attempts: 0,
      locked_until: null,
      verified_at: null,
      updated_at: now,
    };
    const row = (
      before
        ? await trx.updateTable("settlement_accounts").set(fresh).where("id", "=", before.id).returning(COLUMNS).executeTakeFirstOrThrow()
        : await trx
            .insertInto("settlement_accounts")
            .values({ organization_id: who.organizationId, ...fresh })
            .onConflict((oc) => oc.column("organization_id").doNothing())
            .returning(COLUMNS)
            .executeTakeFirst()
    ) as Row | undefined;
    // Two first registrations at once: the other committed first; this one is refused, not a 500.
    if (!row) throw new DomainError("conflict", "the settlement account was registered at the same moment by someone else: reload and try again", { account_number: "concurrent" });
    await recordAudit(trx, actor, {
      action: before ? "settlement_account.changed" : "settlement_account.registered",
      entityType: "settlement_account",
      entityId: row.id,
      organizationId: who.organizationId,
      before: before ? auditShape(before) : null,
      after: auditShape(row),
    });
    return { account: view(row, who, now), changed: true };
  });
}

export type DepositOutcome = "sent" | "already_sent" | "failed" | "unavailable";

/**
 * Send the pending verification deposit through the gateway and book it. Outside any transaction
 * (an HTTP call); safe to call again at any time: the gateway answers a repeated reference with
 * the same payout and the ledger returns the same transfer for the same key. `unavailable` (the
 * gateway did not answer) leaves the account pending; calling again later retries.
 */
export async function sendVerificationDeposit(db: Db, gateway: EpayGateway, organizationId: string, now: Date): Promise<DepositOutcome> {
  if (db.isTransaction) throw new Error("sendVerificationDeposit calls the payment gateway over HTTP; call it outside a transaction");
  const row = await readRow(db, organizationId);
  if (!row) throw new DomainError("not_found", "resource not found");
  if (row.status !== "pending_deposit") return row.status === "deposit_failed" ? "failed" : "already_sent";
  let answer;
  try {
    answer = await gateway.payout({
      merchantPayoutReference: row.deposit_reference,
      amountFen: row.deposit_fen,
      bankName: row.bank_name,
      accountNumber: row.account_number,
      accountName: row.account_name,
      remark: DEPOSIT_REMARK,
    });
  } catch (error) {
    if (!(error instanceof EpayGatewayError)) throw error;
    if (error.kind === "refused") {
      await markDepositFailed(db, row, `${error.code}: ${error.message}`.slice(0, 500), now);
      return "failed";
    }
    return "unavailable";
  }
  if (answer.status === "failed") {
    await markDepositFailed(db, row, answer.failure_reason ?? "refused by the gateway", now);
    return "failed";
  }
  await inTransaction(db, async (trx) => {
    const bank = await trx.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    if (!bank) throw new Error("settlement: no bank organisation owns the expense and clearing accounts");
    const expenses = await ensureAccount(trx, { kind: "bank_expenses", organizationId: bank.id, code: "bank_expenses" });
    const clearing = await ensureAccount(trx, { kind: "gateway_clearing", organizationId: bank.id, code: "gateway_clearing" });
    // The money left whatever became of the row since: book it even if the account was changed meanwhile.
    await transfer(trx, {
      idempotencyKey: `settlement:deposit:${row.deposit_reference}`,
      kind: "settlement_verification_deposit",
      reference: `settlement_account:${row.id}`,
      debitAccountId: expenses.id,
      creditAccountId: clearing.id,
      amountFen: row.deposit_fen,
    });
    await trx
      .updateTable("settlement_accounts")
      .set({ status: "awaiting_confirmation", gateway_payout_id: answer.gateway_payout_id, deposit_sent_at: now, updated_at: now })
      .where("id", "=", row.id)
      .where("deposit_reference", "=", row.deposit_reference)
      .where("status", "=", "pending_deposit")
      .execute();
  });
  return "sent";
}

async function markDepositFailed(db: Db, row: Row, reason: string, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const updated = await trx
      .updateTable("settlement_accounts")
      .set({ status: "deposit_failed", deposit_failure: reason, updated_at: now })
      .where("id", "=", row.id)
      .where("deposit_reference", "=", row.deposit_reference)
      .where("status", "=", "pending_deposit")
      .returning("id")
      .executeTakeFirst();
    if (updated) {
      await recordAudit(trx, { userId: null, organizationId: row.organization_id }, {
        action: "settlement_account.deposit_failed",
        entityType: "settlement_account",
        entityId: row.id,
        organizationId: row.organization_id,
        after: { reason, revision: row.revision },
      });
    }
  });
}

/**
 * The organisation says how much arrived. Right: verified. Wrong: the try is counted (committed),
 * then refused naming `amount_fen`; the third wrong try locks the account for 24 h from `now`.
 * Amounts outside 1–99 fen are refused as input and not counted.
 */
export async function confirmVerificationDeposit(
  db: Db,
  actor: Actor,
  who: SettlementActor,
  amountFen: number,
  now: Date,
): Promise<SettlementAccountView> {
  assertMay(who.roles, "settlement_account.verify", who.kind);
  if (!Number.isSafeInteger(amountFen) || amountFen < LIMITS.depositFenMin || amountFen > LIMITS.depositFenMax) {
    throw new DomainError("validation", `amount_fen must be a whole number of fen from ${LIMITS.depositFenMin} to ${LIMITS.depositFenMax}`, {
      amount_fen: "range",
    });
  }
  // Committed in its own transaction (never a caller's, which a refusal would roll back along with the count).
  if (db.isTransaction) throw new Error("confirmVerificationDeposit commits a wrong try before refusing it; call it outside a transaction");
  const outcome = await db.transaction().execute(async (trx) => {
    const row = await readRow(trx, who.organizationId, true);
    if (!row) throw new DomainError("not_found", "resource not found");
    if (row.status === "verified") return { row, wrong: false as const };
    if (row.status !== "awaiting_confirmation") {
      throw new DomainError("invalid_state", "no verification deposit has been sent to this account yet", { amount_fen: "no_deposit" });
    }
    if (isLocked(row, now)) {
      throw new DomainError("invalid_state", `too many wrong amounts: locked until ${row.locked_until!.toISOString()}`, { amount_fen: "locked" });
    }
    const failedBefore = row.locked_until !== null ? 0 : row.failed_attempts;
    if (amountFen === row.deposit_fen) {
      const verified = (await trx
        .updateTable("settlement_accounts")
        .set({ status: "verified", verified_at: now, failed_attempts: 0, locked_until: null, updated_at: now })
        .where("id", "=", row.id)
        .returning(COLUMNS)
        .executeTakeFirstOrThrow()) as Row;
      await recordAudit(trx, actor, {
        action: "settlement_account.verified",
        entityType: "settlement_account",
        entityId: row.id,
        organizationId: who.organizationId,
        before: auditShape(row),
        after: auditShape(verified),
      });
      return { row: verified, wrong: false as const };
    }
    const failed = failedBefore + 1;
    const lockedUntil = failed >= LIMITS.wrongAttemptsMax ? new Date(now.getTime() + LIMITS.lockMs) : null;
    const updated = (await trx
      .updateTable("settlement_accounts")
      .set({ failed_attempts: failed, locked_until: lockedUntil, updated_at: now })
      .where("id", "=", row.id)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow()) as Row;
    await recordAudit(trx, actor, {
      action: lockedUntil ? "settlement_account.locked" : "settlement_account.verification_failed",
      entityType: "settlement_account",
      entityId: row.id,
      organizationId: who.organizationId,
      after: { failed_attempts: failed, locked_until: lockedUntil?.toISOString() ?? null, revision: row.revision },
    });
    return { row: updated, wrong: true as const };
  });
  const account = view(outcome.row, who, now);
  if (outcome.wrong) {
    if (account.lockedUntil) {
      throw new DomainError("invalid_state", `the amount does not match the deposit; too many wrong amounts: locked until ${account.lockedUntil.toISOString()}`, { amount_fen: "locked" });
    }
    throw new DomainError("validation", `the amount does not match the deposit; ${account.attemptsLeft} tries left`, { amount_fen: "mismatch" });
  }
  return account;
}

/**
 * For payouts (later in issue 15): the organisation's verified account, or a refusal naming
 * `settlement_account`. Never an unverified one.
 */
export async function requireVerifiedSettlementAccount(
  db: Db,
  organizationId: string,
): Promise<{ id: string; bankName: string; branchName: string; accountNumber: string; accountName: string; revision: number }> {
  const row = await readRow(db, organizationId);
  if (!row || row.status !== "verified") {
    throw new DomainError("invalid_state", "the organisation has no verified settlement account", { settlement_account: row ? "unverified" : "missing" });
  }
  return { id: row.id, bankName: row.bank_name, branchName: row.branch_name, accountNumber: row.account_number, accountName: row.account_name, revision: row.revision };
}
