import { sql, type Insertable, type RawBuilder } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { jsonInstant } from "../../../db/read-together";
import type {
  LedgerAccountKind,
  LedgerAccountsTable,
  LedgerTransfersTable,
  NormalSide,
  OverdraftRule,
  TransferPhase,
} from "../../../db/schema";
import { DomainError, isUuid } from "../shared";

/**
 * The ledger: the only source of truth for money.
 *
 * Invariants (checked by verifyLedger, asserted where they are made):
 *  I1 every transfer moves one positive integer amount of fen from one account (debit) to another
 *     (credit), so debits equal credits by construction;
 *  I2 each account's four stored totals equal the sums over its transfers
 *     (posted = single + post_pending; pending = pending transfers not yet resolved);
 *  I3 an account whose rule forbids it never has debits (posted + pending) above credits posted,
 *     or the mirror for assets; refused before any write, and the table's CHECK refuses the row;
 *  I4 a transfer whose idempotency key was seen is returned, never applied twice;
 *  I5 a pending transfer resolves at most once, by a post of at most its amount or a void;
 *  I6 transfers are never updated or deleted (a trigger refuses it); corrections are new transfers.
 *
 * Concurrency: a transfer locks both accounts (FOR NO KEY UPDATE, in id order so two transfers in
 * opposite directions cannot deadlock; not FOR UPDATE, which would also block every transaction
 * inserting a row that references the account, a transfer's own foreign keys included), decides under the lock, then writes: the transfer row first, which
 * claims its idempotency key on the unique index (I4), then both accounts' totals in one guarded
 * UPDATE (I3). Three statements: lock, insert, update (docs/decisions/010). Every function here
 * must run in a transaction; given a plain Kysely it opens one.
 *
 * One exception, for batches written by a single statement with no transaction around it
 * (`prepareTransfers`, decision 016): the movements are planned against accounts read without a
 * lock, and the statement's guarded UPDATE checks each rule (I3) against the rows as they are when
 * it runs; the statement asserts that every account and every transfer row was written, or fails
 * whole, and its caller then does the work the locked way.
 */

export type Fen = number;

/** 1 trillion yuan: well inside 2^53 even after summing many of them. */
export const MAX_TRANSFER_FEN: Fen = 100_000_000_000_000;
const MAX_TEXT = 200;

interface AccountKindRule {
  normalSide: NormalSide;
  overdraftRule: OverdraftRule;
}

/**
 * The bank's view: a customer's wallet is money the bank owes (credit-normal, may not go below
 * zero); loans receivable are money owed to the bank (debit-normal, may not be repaid past zero);
 * gateway clearing and the bank's equity are the two open ends money enters and leaves by.
 */
export const ACCOUNT_KIND_RULES: Record<LedgerAccountKind, AccountKindRule> = {
  wallet: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  escrow: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  market_fees: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  credit_line: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  interest_income: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  penalty_income: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  loans_receivable: { normalSide: "debit", overdraftRule: "credits_le_debits" },
  gateway_clearing: { normalSide: "debit", overdraftRule: "none" },
  bank_equity: { normalSide: "credit", overdraftRule: "none" },
  // Trade credit a core enterprise grants a dealer: the unused limit, what is owed on account,
  // and the open end limits are issued from. Charging on account moves credit to receivable, so
  // the same row lock that stops an overdraft stops a credit limit being exceeded.
  trade_credit: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  trade_receivable: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  credit_limits_issued: { normalSide: "debit", overdraftRule: "none" },
  // Recruitment deposits a campaign collected from its new dealers, held by the bank for them.
  dealer_deposits: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  // A loan's interest and penalty owed to the bank, beside its principal in loans_receivable.
  interest_receivable: { normalSide: "debit", overdraftRule: "credits_le_debits" },
  penalty_receivable: { normalSide: "debit", overdraftRule: "credits_le_debits" },
  // A financing facility's limit, as trade credit keeps one: drawing moves available → used under
  // the available account's lock, so however many applications arrive at once none exceeds it.
  facility_available: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  facility_used: { normalSide: "credit", overdraftRule: "debits_le_credits" },
  facility_limits_issued: { normalSide: "debit", overdraftRule: "none" },
  // The bank's own costs (the verification deposits it sends): grows by debits, never limited.
  bank_expenses: { normalSide: "debit", overdraftRule: "none" },
  // Still owed to the payee while the gateway sends it: a wallet's payout is held into it and, once
  // the gateway confirms, passed on to gateway_clearing (decision 026).
  payouts_in_transit: { normalSide: "credit", overdraftRule: "debits_le_credits" },
};

export type AccountRow = {
  id: string;
  code: string;
  organization_id: string | null;
  kind: LedgerAccountKind;
  normal_side: NormalSide;
  overdraft_rule: OverdraftRule;
  debits_posted_fen: number;
  credits_posted_fen: number;
  debits_pending_fen: number;
  credits_pending_fen: number;
  version: number;
  created_at: Date;
};

export interface TransferRow {
  id: string;
  idempotency_key: string;
  kind: string;
  reference: string;
  phase: TransferPhase;
  pending_id: string | null;
  debit_account_id: string;
  credit_account_id: string;
  amount_fen: number;
  created_by_user_id: string | null;
  created_at: Date;
}

export interface TransferResult {
  transfer: TransferRow;
  /** True when the idempotency key had been seen: nothing was applied this time. */
  replayed: boolean;
}

export interface AccountView {
  id: string;
  code: string;
  kind: LedgerAccountKind;
  organizationId: string | null;
  normalSide: NormalSide;
  /** Posted balance on the account's normal side. */
  balanceFen: Fen;
  /** Reserved by holds going out of this account. */
  pendingFen: Fen;
  /** Held on the way into this account, not yet spendable. */
  incomingPendingFen: Fen;
  /** What may still be drawn: balance less outgoing holds. */
  availableFen: Fen;
  createdAt: Date;
}

export interface TransferView {
  id: string;
  kind: string;
  reference: string;
  phase: TransferPhase;
  pendingId: string | null;
  amountFen: Fen;
  direction: "debit" | "credit";
  counterpartyCode: string;
  createdAt: Date;
}

export interface LedgerViolation {
  check: string;
  detail: string;
}

function assertFen(amount: unknown, field: string): asserts amount is Fen {
  if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_TRANSFER_FEN) {
    throw new DomainError("validation", `${field} must be a whole number of fen between 1 and ${MAX_TRANSFER_FEN}`, {
      [field]: "must be a positive whole number of fen",
    });
  }
}

function assertText(value: unknown, field: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_TEXT) {
    throw new DomainError("validation", `${field} is required (at most ${MAX_TEXT} characters)`, { [field]: "required" });
  }
}

export function accountView(row: AccountRow): AccountView {
  const credit = row.normal_side === "credit";
  const balanceFen = credit
    ? row.credits_posted_fen - row.debits_posted_fen
    : row.debits_posted_fen - row.credits_posted_fen;
  const pendingFen = credit ? row.debits_pending_fen : row.credits_pending_fen;
  const incomingPendingFen = credit ? row.credits_pending_fen : row.debits_pending_fen;
  return {
    id: row.id,
    code: row.code,
    kind: row.kind,
    organizationId: row.organization_id,
    normalSide: row.normal_side,
    balanceFen,
    pendingFen,
    incomingPendingFen,
    availableFen: balanceFen - pendingFen,
    createdAt: row.created_at,
  };
}

// ---------------------------------------------------------------------------------------------
// Accounts

export interface AccountSpec {
  kind: LedgerAccountKind;
  /** null for the bank's platform-wide accounts that belong to no customer. */
  organizationId: string | null;
  /** Defaults to `<kind>:<organizationId>`, or `<kind>` for organisation-less accounts. */
  code?: string;
}

export function accountCode(spec: AccountSpec): string {
  return spec.code ?? (spec.organizationId ? `${spec.kind}:${spec.organizationId}` : spec.kind);
}

/**
 * Get or create the account; safe under concurrency (the code is unique). Accounts are created once
 * and read on every payment, so the read comes first and the insert only when it finds nothing.
 */
export async function ensureAccount(db: Db, spec: AccountSpec): Promise<AccountView> {
  const code = accountCode(spec);
  assertText(code, "code");
  const rule = ACCOUNT_KIND_RULES[spec.kind];
  if (!rule) throw new DomainError("validation", `unknown account kind ${spec.kind}`, { kind: "unknown" });
  const byCode = () => db.selectFrom("ledger_accounts").selectAll().where("code", "=", code).executeTakeFirst();
  let row = await byCode();
  if (!row) {
    row = await db
      .insertInto("ledger_accounts")
      .values({
        code,
        organization_id: spec.organizationId,
        kind: spec.kind,
        normal_side: rule.normalSide,
        overdraft_rule: rule.overdraftRule,
      })
      .onConflict((oc) => oc.column("code").doNothing())
      .returningAll()
      .executeTakeFirst();
    // Created by someone else between the read and the insert: theirs stands.
    row ??= await byCode();
    if (!row) throw new Error(`ledger invariant: account ${code} neither found nor created`);
  }
  if (row.kind !== spec.kind || row.organization_id !== spec.organizationId) {
    throw new DomainError("conflict", `ledger account ${code} exists with another kind or owner`, { code: "taken" });
  }
  return accountView(row);
}

export async function findAccountByCode(db: Db, code: string): Promise<AccountView | null> {
  const row = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", code).executeTakeFirst();
  return row ? accountView(row) : null;
}

export async function getAccount(db: Db, accountId: string): Promise<AccountView> {
  const row = await db.selectFrom("ledger_accounts").selectAll().where("id", "=", accountId).executeTakeFirst();
  if (!row) throw new DomainError("not_found", "ledger account not found");
  return accountView(row);
}

export async function listAccountsForOrganization(db: Db, organizationId: string): Promise<AccountView[]> {
  const rows = await db
    .selectFrom("ledger_accounts")
    .selectAll()
    .where("organization_id", "=", organizationId)
    .orderBy("kind")
    .orderBy("code")
    .execute();
  return rows.map(accountView);
}

/** The tenancy rule for accounts: another organisation's account id is simply not found. */
export async function getAccountForOrganization(db: Db, organizationId: string, accountId: string): Promise<AccountView> {
  if (!isUuid(accountId)) throw new DomainError("not_found", "ledger account not found");
  const row = await db
    .selectFrom("ledger_accounts")
    .selectAll()
    .where("id", "=", accountId)
    .where("organization_id", "=", organizationId)
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "ledger account not found");
  return accountView(row);
}


export async function listTransfersForAccount(
  db: Db,
  accountId: string,
  options: { limit?: number } = {},
): Promise<TransferView[]> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const rows = await db
    .selectFrom("ledger_transfers as t")
    .innerJoin("ledger_accounts as d", "d.id", "t.debit_account_id")
    .innerJoin("ledger_accounts as c", "c.id", "t.credit_account_id")
    .select([
      "t.id",
      "t.kind",
      "t.reference",
      "t.phase",
      "t.pending_id",
      "t.amount_fen",
      "t.created_at",
      "t.debit_account_id",
      "d.code as debit_code",
      "c.code as credit_code",
    ])
    .where((eb) => eb.or([eb("t.debit_account_id", "=", accountId), eb("t.credit_account_id", "=", accountId)]))
    .orderBy("t.created_at", "desc")
    .orderBy("t.id", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => {
    const direction = r.debit_account_id === accountId ? "debit" : "credit";
    return {
      id: r.id,
      kind: r.kind,
      reference: r.reference,
      phase: r.phase,
      pendingId: r.pending_id,
      amountFen: r.amount_fen,
      direction,
      counterpartyCode: direction === "debit" ? r.credit_code : r.debit_code,
      createdAt: r.created_at,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Transfers

export interface TransferInput {
  idempotencyKey: string;
  /** What the money movement is, e.g. `order_payment`, `topup`, `escrow_hold`. */
  kind: string;
  /** The business object it belongs to, e.g. `order:<id>`. */
  reference: string;
  debitAccountId: string;
  creditAccountId: string;
  amountFen: Fen;
  /** Reserve now (an escrow hold); resolve later with postPending or voidPending. */
  pending?: boolean;
  createdByUserId?: string | null;
}

async function lockAccounts(trx: Db, ids: string[]): Promise<Map<string, AccountRow>> {
  for (const id of ids) {
    if (!isUuid(id)) throw new DomainError("not_found", "ledger account not found");
  }
  const rows = await trx
    .selectFrom("ledger_accounts")
    .selectAll()
    .where("id", "=", sql<string>`any(${ids}::uuid[])`)
    .orderBy("id")
    .forNoKeyUpdate()
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r as AccountRow]));
  for (const id of ids) {
    if (!byId.has(id)) throw new DomainError("not_found", "ledger account not found");
  }
  return byId;
}

/**
 * Accounts locked (FOR NO KEY UPDATE, in id order) by one transaction, as they were when locked: handed
 * to `applyBatch` in the same transaction, it spares the batch a second lock of the same rows.
 * Only the ledger makes one, so the rows are known to be locked; they stay current until the
 * transaction itself moves money on those accounts some other way, which a caller must not do in
 * between (the batch's guarded UPDATE and the table's CHECKs would still refuse an overdraft).
 */
export class LockedAccounts {
  readonly #trx: Db;
  readonly #rows: ReadonlyMap<string, AccountRow>;

  constructor(trx: Db, rows: readonly AccountRow[], key: symbol) {
    if (key !== LOCKED_ACCOUNTS_KEY) throw new Error("LockedAccounts are made by the ledger's lock functions");
    this.#trx = trx;
    this.#rows = new Map(rows.map((row) => [row.id, row]));
  }

  /** The locked accounts by code, as views. */
  byCode(): Map<string, AccountView> {
    return new Map([...this.#rows.values()].map((row) => [row.code, accountView(row)]));
  }

  /** The rows for these ids, if this lock was taken by `trx` and covers them all. */
  rowsFor(trx: Db, ids: readonly string[]): Map<string, AccountRow> | null {
    if (trx !== this.#trx || ids.some((id) => !this.#rows.has(id))) return null;
    return new Map(ids.map((id) => [id, this.#rows.get(id)!]));
  }
}

const LOCKED_ACCOUNTS_KEY = Symbol("ledger.lockedAccounts");

/**
 * Accounts as one read found them, without a lock: what movements can be planned on before a single
 * statement writes them (`prepareTransfers`). The rows may have changed by then; the statement's
 * guarded UPDATE is what decides.
 */
export class AccountSnapshot {
  readonly #rows: ReadonlyMap<string, AccountRow>;

  constructor(rows: readonly AccountRow[], key: symbol) {
    if (key !== ACCOUNT_SNAPSHOT_KEY) throw new Error("AccountSnapshots are made by the ledger's read functions");
    this.#rows = new Map(rows.map((row) => [row.id, row]));
  }

  /** The accounts by code, as views. */
  byCode(): Map<string, AccountView> {
    return new Map([...this.#rows.values()].map((row) => [row.code, accountView(row)]));
  }

  /** @internal the rows by id, for planning. */
  rowsById(): ReadonlyMap<string, AccountRow> {
    return this.#rows;
  }
}

const ACCOUNT_SNAPSHOT_KEY = Symbol("ledger.accountSnapshot");

/** The accounts with these codes that exist (the others are simply absent), read without a lock. */
export async function readAccountsByCodes(db: Db, codes: readonly string[]): Promise<AccountSnapshot> {
  return accountSnapshotFromRows(codes.length ? await accountsByCodesQuery(db, codes).execute() : []);
}

/** The query of `readAccountsByCodes`. */
export function accountsByCodesQuery(db: Db, codes: readonly string[]) {
  return db.selectFrom("ledger_accounts").selectAll().where("code", "=", sql<string>`any(${[...new Set(codes)]}::text[])`);
}

/** The rows of `accountsByCodesQuery`, as read directly or through JSON, as a snapshot. */
export function accountSnapshotFromRows(rows: readonly (Record<string, unknown> | AccountRow)[]): AccountSnapshot {
  return new AccountSnapshot(
    rows.map((row) => ({ ...(row as AccountRow), created_at: jsonInstant(row.created_at) })),
    ACCOUNT_SNAPSHOT_KEY,
  );
}

/** Lock the accounts with these codes that exist (the others are simply absent), in id order. */
export async function lockAccountsByCodes(trx: Db, codes: readonly string[]): Promise<LockedAccounts> {
  if (!trx.isTransaction) throw new Error("ledger: a lock is only worth taking inside the transaction that uses it");
  const rows = codes.length
    ? await trx.selectFrom("ledger_accounts").selectAll().where("code", "=", sql<string>`any(${[...new Set(codes)]}::text[])`).orderBy("id").forNoKeyUpdate().execute()
    : [];
  // Once the transaction holds the locks the rows cannot change under it: a later batch reads them here.
  return new LockedAccounts(trx, rows as AccountRow[], LOCKED_ACCOUNTS_KEY);
}

/** The same lock taken by the accounts' codes: still in id order, whatever order the codes come in. */
async function lockAccountsByCode(trx: Db, codes: string[]): Promise<Map<string, AccountRow>> {
  const rows = await trx
    .selectFrom("ledger_accounts")
    .selectAll()
    .where("code", "in", codes)
    .orderBy("id")
    .forNoKeyUpdate()
    .execute();
  const byCode = new Map(rows.map((r) => [r.code, r as AccountRow]));
  for (const code of codes) {
    if (!byCode.has(code)) throw new DomainError("not_found", "ledger account not found");
  }
  return byCode;
}

async function findTransferByKey(trx: Db, idempotencyKey: string): Promise<TransferRow | undefined> {
  return trx.selectFrom("ledger_transfers").selectAll().where("idempotency_key", "=", idempotencyKey).executeTakeFirst();
}

function replayOrConflict(existing: TransferRow, expected: Partial<TransferRow>): TransferResult {
  for (const [field, value] of Object.entries(expected) as [keyof TransferRow, unknown][]) {
    if (value !== undefined && existing[field] !== value) {
      throw new DomainError(
        "idempotency_conflict",
        `idempotency key ${existing.idempotency_key} was already used for a different transfer (${field} differs)`,
        { idempotency_key: `already used with another ${field}` },
      );
    }
  }
  return { transfer: existing, replayed: true };
}

/** Room left on the limited side of an account, or Infinity when it has no rule. */
function headroomFen(account: AccountRow, side: "debit" | "credit"): number {
  if (side === "debit" && account.overdraft_rule === "debits_le_credits") {
    return account.credits_posted_fen - account.debits_posted_fen - account.debits_pending_fen;
  }
  if (side === "credit" && account.overdraft_rule === "credits_le_debits") {
    return account.debits_posted_fen - account.credits_posted_fen - account.credits_pending_fen;
  }
  return Number.POSITIVE_INFINITY;
}

type Column = keyof Pick<
  LedgerAccountsTable,
  "debits_posted_fen" | "credits_posted_fen" | "debits_pending_fen" | "credits_pending_fen"
>;

type Deltas = Partial<Record<Column, number>>;

/**
 * The UPDATE adding `writes` to the accounts' totals, each row guarded by its rule inside the
 * UPDATE itself; one array per column, five parameters whatever the number of accounts.
 */
function guardedTotalsUpdate(writes: readonly (readonly [string, Deltas])[]) {
  const d = (c: Column) => writes.map(([, w]) => w[c] ?? 0);
  return sql<{ id: string }>`
    update ledger_accounts a
       set debits_posted_fen = a.debits_posted_fen + v.dp,
           credits_posted_fen = a.credits_posted_fen + v.cp,
           debits_pending_fen = a.debits_pending_fen + v.dpen,
           credits_pending_fen = a.credits_pending_fen + v.cpen,
           version = a.version + 1
      from unnest(${writes.map(([id]) => id)}::uuid[], ${d("debits_posted_fen")}::bigint[], ${d("credits_posted_fen")}::bigint[],
                  ${d("debits_pending_fen")}::bigint[], ${d("credits_pending_fen")}::bigint[]) as v (id, dp, cp, dpen, cpen)
     where a.id = v.id
       and (a.overdraft_rule <> 'debits_le_credits'
            or a.debits_posted_fen + v.dp + a.debits_pending_fen + v.dpen <= a.credits_posted_fen + v.cp)
       and (a.overdraft_rule <> 'credits_le_debits'
            or a.credits_posted_fen + v.cp + a.credits_pending_fen + v.cpen <= a.debits_posted_fen + v.dp)
    returning a.id`;
}

/**
 * Add (or subtract) amounts on the totals of the two accounts of a transfer, in one UPDATE, each
 * row guarded by its rule inside the UPDATE itself (and by the table's CHECK). The caller holds
 * both rows' locks (lockAccounts), so one statement changes them in whatever order it likes
 * without any risk of a deadlock, and no other transaction can slip in between the two.
 */
async function applyToAccounts(trx: Db, writes: readonly (readonly [string, Deltas])[]): Promise<void> {
  const { rows: updated } = await guardedTotalsUpdate(writes).execute(trx);
  if (updated.length !== writes.length) {
    // Unreachable while the caller holds the row locks and checked the headroom: a bug, not a refusal.
    throw new Error(`ledger invariant: guarded update of accounts ${writes.map(([id]) => id).join(", ")} matched ${updated.length} rows`);
  }
}

/**
 * Move `amountFen` from the debit account to the credit account, or reserve it (pending).
 * Refuses with `insufficient_funds` before writing anything when a limited account cannot cover it.
 */
export async function transfer(db: Db, input: TransferInput): Promise<TransferResult> {
  assertTransferInput(input);
  if (input.debitAccountId === input.creditAccountId) {
    throw new DomainError("validation", "a transfer needs two different accounts", {
      credit_account_id: "same as the debit account",
    });
  }
  return inTransaction(db, async (trx) => {
    const accounts = await lockAccounts(trx, [input.debitAccountId, input.creditAccountId]);
    return transferLocked(trx, accounts.get(input.debitAccountId)!, accounts.get(input.creditAccountId)!, input);
  });
}

/**
 * `transfer` between two accounts named by their codes (`trade_credit:<link>`), for callers that
 * know the codes and not the ids: the lookup and the lock are the same statement. Refused with
 * `not_found` when either account does not exist (nothing is created here).
 */
export async function transferByCode(
  db: Db,
  input: Omit<TransferInput, "debitAccountId" | "creditAccountId"> & { debitAccountCode: string; creditAccountCode: string },
): Promise<TransferResult> {
  assertTransferInput(input);
  if (input.debitAccountCode === input.creditAccountCode) {
    throw new DomainError("validation", "a transfer needs two different accounts", {
      credit_account_id: "same as the debit account",
    });
  }
  return inTransaction(db, async (trx) => {
    const accounts = await lockAccountsByCode(trx, [input.debitAccountCode, input.creditAccountCode]);
    return transferLocked(trx, accounts.get(input.debitAccountCode)!, accounts.get(input.creditAccountCode)!, input);
  });
}

function assertTransferInput(input: Pick<TransferInput, "idempotencyKey" | "kind" | "reference" | "amountFen">): void {
  assertText(input.idempotencyKey, "idempotency_key");
  assertText(input.kind, "kind");
  assertText(input.reference, "reference");
  assertFen(input.amountFen, "amount_fen");
}

/**
 * The decision and the writes of a transfer, with both accounts already locked by this
 * transaction (their rows as the lock returned them, so the headroom is the current one).
 *
 * I4 under the lock: the key is claimed by the INSERT itself (ON CONFLICT DO NOTHING on its
 * unique index), which sees every transfer committed before it, also one committed while this
 * transaction waited for the locks. A separate lookup is only needed when the claim fails (a
 * replay) or the headroom is short (a replay must still be returned, not refused). The key lookup
 * is deliberately not folded into the locking SELECT: that statement's snapshot is taken before
 * it waits for the locks, so it would miss a duplicate committed meanwhile.
 */
async function transferLocked(
  trx: Db,
  debit: AccountRow,
  credit: AccountRow,
  input: Omit<TransferInput, "debitAccountId" | "creditAccountId">,
): Promise<TransferResult> {
  const phase: TransferPhase = input.pending ? "pending" : "single";
  const expected: Partial<TransferRow> = {
    phase,
    debit_account_id: debit.id,
    credit_account_id: credit.id,
    amount_fen: input.amountFen,
    kind: input.kind,
  };
  const refusal =
    headroomFen(debit, "debit") < input.amountFen
      ? new DomainError("insufficient_funds", `account ${debit.code} cannot cover ${input.amountFen} fen`, {
          amount_fen: "exceeds the available balance",
        })
      : headroomFen(credit, "credit") < input.amountFen
        ? new DomainError("insufficient_funds", `account ${credit.code} cannot take ${input.amountFen} fen more`, {
            amount_fen: "exceeds the outstanding balance",
          })
        : null;
  if (refusal) {
    // Nothing written yet (I3): a seen key is a replay, whatever the balance is now.
    const existing = await findTransferByKey(trx, input.idempotencyKey);
    if (existing) return replayOrConflict(existing, expected);
    throw refusal;
  }
  const row = await trx
    .insertInto("ledger_transfers")
    .values({
      idempotency_key: input.idempotencyKey,
      kind: input.kind,
      reference: input.reference,
      phase,
      pending_id: null,
      debit_account_id: debit.id,
      credit_account_id: credit.id,
      amount_fen: input.amountFen,
      created_by_user_id: input.createdByUserId ?? null,
    })
    .onConflict((oc) => oc.column("idempotency_key").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) {
    const existing = await findTransferByKey(trx, input.idempotencyKey);
    if (!existing) throw new Error(`ledger invariant: idempotency key ${input.idempotencyKey} conflicted but holds no transfer`);
    return replayOrConflict(existing, expected);
  }
  const pending = phase === "pending";
  await applyToAccounts(trx, [
    [debit.id, pending ? { debits_pending_fen: input.amountFen } : { debits_posted_fen: input.amountFen }],
    [credit.id, pending ? { credits_pending_fen: input.amountFen } : { credits_posted_fen: input.amountFen }],
  ]);
  return { transfer: row, replayed: false };
}

export interface ResolvePendingInput {
  idempotencyKey: string;
  pendingId: string;
  /** Defaults to the pending transfer's kind. */
  kind?: string;
  /** Defaults to the pending transfer's reference. */
  reference?: string;
  createdByUserId?: string | null;
}

async function resolvePending(
  db: Db,
  input: ResolvePendingInput,
  phase: "post_pending" | "void_pending",
  postAmountFen: Fen | undefined,
): Promise<TransferResult> {
  assertText(input.idempotencyKey, "idempotency_key");
  if (postAmountFen !== undefined) assertFen(postAmountFen, "amount_fen");
  return inTransaction(db, async (trx) => {
    if (!isUuid(input.pendingId)) throw new DomainError("not_found", "pending transfer not found");
    const pending = await trx.selectFrom("ledger_transfers").selectAll().where("id", "=", input.pendingId).executeTakeFirst();
    if (!pending || pending.phase !== "pending") throw new DomainError("not_found", "pending transfer not found");
    // Every resolution of this hold locks the same two accounts, so they are serialised here.
    const accounts = await lockAccounts(trx, [pending.debit_account_id, pending.credit_account_id]);
    const amountFen = phase === "void_pending" ? pending.amount_fen : (postAmountFen ?? pending.amount_fen);
    const existing = await findTransferByKey(trx, input.idempotencyKey);
    if (existing) return replayOrConflict(existing, { phase, pending_id: pending.id, amount_fen: amountFen });
    const resolved = await trx
      .selectFrom("ledger_transfers")
      .select(["id", "phase"])
      .where("pending_id", "=", pending.id)
      .executeTakeFirst();
    if (resolved) {
      throw new DomainError(
        "invalid_state",
        `the hold was already ${resolved.phase === "post_pending" ? "posted" : "voided"}`,
        { pending_id: "already resolved" },
      );
    }
    if (amountFen > pending.amount_fen) {
      throw new DomainError("validation", `cannot post ${amountFen} fen from a hold of ${pending.amount_fen} fen`, {
        amount_fen: "exceeds the amount held",
      });
    }
    // Posting less than the hold releases the rest; neither side can cross its limit by this.
    const posted = phase === "post_pending" ? amountFen : 0;
    const writes: [string, Deltas][] = [
      [pending.debit_account_id, { debits_pending_fen: -pending.amount_fen, debits_posted_fen: posted }],
      [pending.credit_account_id, { credits_pending_fen: -pending.amount_fen, credits_posted_fen: posted }],
    ];
    for (const [id] of writes) {
      if (!accounts.has(id)) throw new Error("ledger invariant: hold account not locked");
    }
    await applyToAccounts(trx, writes);
    const row = await trx
      .insertInto("ledger_transfers")
      .values({
        idempotency_key: input.idempotencyKey,
        kind: input.kind ?? pending.kind,
        reference: input.reference ?? pending.reference,
        phase,
        pending_id: pending.id,
        debit_account_id: pending.debit_account_id,
        credit_account_id: pending.credit_account_id,
        amount_fen: amountFen,
        created_by_user_id: input.createdByUserId ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { transfer: row, replayed: false };
  });
}

/** Post a hold: move `amountFen` (default: all of it, at most all of it) and release the rest. */
export async function postPending(db: Db, input: ResolvePendingInput & { amountFen?: Fen }): Promise<TransferResult> {
  return resolvePending(db, input, "post_pending", input.amountFen);
}

/** Release a hold in full: nothing moves. */
export async function voidPending(db: Db, input: ResolvePendingInput): Promise<TransferResult> {
  return resolvePending(db, input, "void_pending", undefined);
}

// ---------------------------------------------------------------------------------------------
// Batches

/** One movement of a batch: a transfer (single or pending), or the resolution of a hold. */
export type BatchOperation =
  | ({ op: "transfer" } & TransferInput)
  | ({ op: "post_pending" } & ResolvePendingInput & { amountFen?: Fen })
  | ({ op: "void_pending" } & ResolvePendingInput);

/** Most operations one batch may carry: bounds the statement sizes and the locks held. */
export const MAX_BATCH_OPERATIONS = 5_000;

/**
 * Apply many movements at once, all or nothing, in a fixed number of statements whatever the
 * batch size: read the holds being resolved, lock every account touched (one SELECT … FOR UPDATE
 * in id order), check each movement in order against the running totals, insert every transfer
 * row (one INSERT), then add the totals (one guarded UPDATE). The same invariants as `transfer`
 * and `postPending`/`voidPending` hold (I1–I6): a refusal anywhere refuses the whole batch before
 * anything is written.
 *
 * Unlike `transfer`, a batch is not a replay unit: its caller makes the business change the
 * movements belong to in the same transaction (e.g. orders marked settled), so a second run finds
 * nothing to do. A seen idempotency key or an already resolved hold therefore means a caller bug
 * and is refused with `conflict`, and the unique indexes back that up.
 */
export async function applyBatch(db: Db, operations: readonly BatchOperation[], options: { locked?: LockedAccounts } = {}): Promise<TransferRow[]> {
  if (operations.length === 0) return [];
  checkBatchInput(operations);
  return inTransaction(db, async (trx) => {
    const pendingIds = [...new Set(operations.flatMap((op) => (op.op === "transfer" ? [] : [op.pendingId])))];
    for (const id of pendingIds) {
      if (!isUuid(id)) throw new DomainError("not_found", "pending transfer not found");
    }
    if (pendingIds.length !== operations.filter((op) => op.op !== "transfer").length) {
      throw new DomainError("validation", "a hold is resolved at most once per batch", { pending_id: "duplicate" });
    }
    const holds = new Map<string, TransferRow>();
    if (pendingIds.length > 0) {
      const rows = await trx.selectFrom("ledger_transfers").selectAll().where("id", "=", sql<string>`any(${pendingIds}::uuid[])`).execute();
      for (const row of rows) holds.set(row.id, row);
    }
    const accountIds = new Set<string>();
    for (const op of operations) {
      if (op.op === "transfer") {
        accountIds.add(op.debitAccountId);
        accountIds.add(op.creditAccountId);
      } else {
        const hold = holds.get(op.pendingId);
        if (!hold || hold.phase !== "pending") throw new DomainError("not_found", "pending transfer not found");
        accountIds.add(hold.debit_account_id);
        accountIds.add(hold.credit_account_id);
      }
    }
    // Already locked by this transaction (a caller that checked the accounts first): not again.
    const locked = options.locked?.rowsFor(trx, [...accountIds]) ?? (await lockAccounts(trx, [...accountIds]));
    if (pendingIds.length > 0) {
      // Read under the account locks every resolution of these holds is serialised by.
      const resolved = await trx.selectFrom("ledger_transfers").select("pending_id").where("pending_id", "=", sql<string>`any(${pendingIds}::uuid[])`).executeTakeFirst();
      if (resolved) throw new DomainError("conflict", `hold ${resolved.pending_id} was already resolved`, { pending_id: "already resolved" });
    }
    const plan = planMovements(operations, holds, locked);

    // One statement, one array per column: the transfer rows, and in a data-modifying WITH clause
    // the totals of every account touched, each row guarded by its rule (as applyToAccounts does).
    // Both always run; if either wrote fewer rows than it should, the error below rolls the whole
    // transaction back.
    const { rows: inserted } = await sql<TransferRow & { accounts_updated: number }>`
      with ${movementClauses(plan, "all")}
      select i.*, (select count(*) from ledger_totals)::integer as accounts_updated from ledger_rows i`.execute(trx);
    if (inserted.length !== plan.rows.length) {
      const seen = new Set(inserted.map((r) => r.idempotency_key));
      const key = plan.rows.find((r) => !seen.has(r.idempotency_key))?.idempotency_key;
      throw new DomainError("conflict", `idempotency key ${key} was already used`, { idempotency_key: "already used" });
    }
    if (inserted[0].accounts_updated !== plan.writes.length) {
      // Unreachable while the accounts are locked and the running totals were checked: a bug, not a refusal.
      throw new Error(`ledger invariant: guarded update of ${plan.writes.length} accounts matched ${inserted[0].accounts_updated} rows`);
    }
    for (const row of inserted) delete (row as Partial<{ accounts_updated: number }>).accounts_updated;
    const byKey = new Map(inserted.map((r) => [r.idempotency_key, r]));
    return plan.rows.map((r) => byKey.get(r.idempotency_key)!);
  });
}

/** What a batch must be before anything is read: bounded, distinct keys, well-formed movements. */
function checkBatchInput(operations: readonly BatchOperation[]): void {
  if (operations.length > MAX_BATCH_OPERATIONS) {
    throw new DomainError("validation", `a batch holds at most ${MAX_BATCH_OPERATIONS} operations`, { operations: "too many" });
  }
  const keys = new Set<string>();
  for (const op of operations) {
    assertText(op.idempotencyKey, "idempotency_key");
    if (keys.has(op.idempotencyKey)) {
      throw new DomainError("validation", `idempotency key ${op.idempotencyKey} appears twice in one batch`, { idempotency_key: "duplicate" });
    }
    keys.add(op.idempotencyKey);
    if (op.op === "transfer") {
      assertTransferInput(op);
      if (op.debitAccountId === op.creditAccountId) {
        throw new DomainError("validation", "a transfer needs two different accounts", { credit_account_id: "same as the debit account" });
      }
    } else if (op.op === "post_pending" && op.amountFen !== undefined) {
      assertFen(op.amountFen, "amount_fen");
    }
  }
}

/** A batch's transfer rows and the change of each account's totals, checked against the accounts' rules. */
interface MovementPlan {
  rows: Insertable<LedgerTransfersTable>[];
  writes: (readonly [string, Required<Deltas>])[];
}

/**
 * Running totals: each movement is checked, in order, against the state the ones before it left
 * on `accounts` (which must hold every account the movements touch). Refuses the whole batch with
 * the first movement that does not fit.
 */
function planMovements(operations: readonly BatchOperation[], holds: ReadonlyMap<string, TransferRow>, accounts: ReadonlyMap<string, AccountRow>): MovementPlan {
  const totals = new Map<string, AccountRow>([...accounts].map(([id, row]) => [id, { ...row }]));
  const deltas = new Map<string, Required<Deltas>>();
  const add = (id: string, column: Column, amount: number) => {
    const row = totals.get(id)!;
    row[column] += amount;
    const delta = deltas.get(id) ?? { debits_posted_fen: 0, credits_posted_fen: 0, debits_pending_fen: 0, credits_pending_fen: 0 };
    delta[column] += amount;
    deltas.set(id, delta);
  };
  const rows: Insertable<LedgerTransfersTable>[] = [];
  for (const op of operations) {
    if (op.op === "transfer") {
      const debit = totals.get(op.debitAccountId)!;
      const credit = totals.get(op.creditAccountId)!;
      if (headroomFen(debit, "debit") < op.amountFen) {
        throw new DomainError("insufficient_funds", `account ${debit.code} cannot cover ${op.amountFen} fen`, { amount_fen: "exceeds the available balance" });
      }
      if (headroomFen(credit, "credit") < op.amountFen) {
        throw new DomainError("insufficient_funds", `account ${credit.code} cannot take ${op.amountFen} fen more`, { amount_fen: "exceeds the outstanding balance" });
      }
      const pending = op.pending === true;
      add(debit.id, pending ? "debits_pending_fen" : "debits_posted_fen", op.amountFen);
      add(credit.id, pending ? "credits_pending_fen" : "credits_posted_fen", op.amountFen);
      rows.push({
        idempotency_key: op.idempotencyKey,
        kind: op.kind,
        reference: op.reference,
        phase: pending ? "pending" : "single",
        pending_id: null,
        debit_account_id: debit.id,
        credit_account_id: credit.id,
        amount_fen: op.amountFen,
        created_by_user_id: op.createdByUserId ?? null,
      });
    } else {
      const hold = holds.get(op.pendingId)!;
      const amountFen = op.op === "void_pending" ? hold.amount_fen : (op.amountFen ?? hold.amount_fen);
      if (amountFen > hold.amount_fen) {
        throw new DomainError("validation", `cannot post ${amountFen} fen from a hold of ${hold.amount_fen} fen`, { amount_fen: "exceeds the amount held" });
      }
      const posted = op.op === "post_pending" ? amountFen : 0;
      add(hold.debit_account_id, "debits_pending_fen", -hold.amount_fen);
      add(hold.debit_account_id, "debits_posted_fen", posted);
      add(hold.credit_account_id, "credits_pending_fen", -hold.amount_fen);
      add(hold.credit_account_id, "credits_posted_fen", posted);
      rows.push({
        idempotency_key: op.idempotencyKey,
        kind: op.kind ?? hold.kind,
        reference: op.reference ?? hold.reference,
        phase: op.op,
        pending_id: hold.id,
        debit_account_id: hold.debit_account_id,
        credit_account_id: hold.credit_account_id,
        amount_fen: amountFen,
        created_by_user_id: op.createdByUserId ?? null,
      });
    }
  }
  // In id order: two statements updating overlapping accounts then meet them in the same order.
  return { rows, writes: [...deltas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
}

/**
 * The two data-modifying WITH clauses that write a plan: `ledger_totals` (the guarded UPDATE of
 * every account touched, returning the ids it changed) and `ledger_rows` (the transfer rows, a
 * key already used writing nothing; returning the rows, or only their ids).
 */
function movementClauses(plan: MovementPlan, returning: "all" | "id"): RawBuilder<unknown> {
  const col = <K extends keyof (typeof plan.rows)[number]>(k: K) => plan.rows.map((r) => r[k] ?? null);
  return sql`ledger_totals as (${guardedTotalsUpdate(plan.writes)}),
      ledger_rows as (
        insert into ledger_transfers (idempotency_key, kind, reference, phase, pending_id, debit_account_id, credit_account_id, amount_fen, created_by_user_id)
        select * from unnest(${col("idempotency_key")}::text[], ${col("kind")}::text[], ${col("reference")}::text[], ${col("phase")}::text[],
                             ${col("pending_id")}::uuid[], ${col("debit_account_id")}::uuid[], ${col("credit_account_id")}::uuid[],
                             ${col("amount_fen")}::bigint[], ${col("created_by_user_id")}::uuid[])
        on conflict (idempotency_key) do nothing
        returning ${returning === "all" ? sql`*` : sql`id`}
      )`;
}

/**
 * Transfers planned against an unlocked snapshot, to be written by one statement of the caller's
 * together with the business rows they belong to (decision 016). The statement must carry
 * `clauses()` in its WITH list and fail unless `written()` holds, by `rongtong_assert`: then
 * either every total and every row was written, each total under its rule as it stood when the
 * statement ran, or nothing was.
 */
export class PreparedTransfers {
  readonly #plan: MovementPlan;

  constructor(plan: MovementPlan, key: symbol) {
    if (key !== PREPARED_TRANSFERS_KEY) throw new Error("PreparedTransfers are made by prepareTransfers");
    this.#plan = plan;
  }

  get count(): number {
    return this.#plan.rows.length;
  }

  /** The WITH clauses `ledger_totals` and `ledger_rows`. */
  clauses(): RawBuilder<unknown> {
    return movementClauses(this.#plan, "id");
  }

  /** True once the statement wrote every account's totals and every transfer row. */
  written(): RawBuilder<boolean> {
    return sql<boolean>`((select count(*) from ledger_totals) = ${this.#plan.writes.length} and (select count(*) from ledger_rows) = ${this.#plan.rows.length})`;
  }
}

const PREPARED_TRANSFERS_KEY = Symbol("ledger.preparedTransfers");

/** The SQLSTATE `rongtong_assert` fails with (migration 0012): nothing was written, redo it locked. */
export const STATEMENT_ASSERTION_FAILED = "RT409";

/**
 * Plan transfers (no hold resolutions) against a snapshot of their accounts, with the checks of
 * `applyBatch`: refused as a whole, before anything is written, when one does not fit.
 */
export function prepareTransfers(operations: readonly Extract<BatchOperation, { op: "transfer" }>[], snapshot: AccountSnapshot): PreparedTransfers {
  checkBatchInput(operations);
  const accounts = snapshot.rowsById();
  for (const op of operations) {
    if (op.op !== "transfer") throw new Error("prepareTransfers: transfers only");
    if (!accounts.has(op.debitAccountId) || !accounts.has(op.creditAccountId)) throw new DomainError("not_found", "ledger account not found");
  }
  return new PreparedTransfers(planMovements(operations, new Map(), accounts), PREPARED_TRANSFERS_KEY);
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Every ledger invariant in one query: stored totals against the transfers (I2), limits (I3),
 * debits against credits overall (I1), and the shape of each hold's resolution (I5).
 * An empty list means the books are sound.
 */
export async function verifyLedger(db: Db): Promise<LedgerViolation[]> {
  const { rows } = await sql<LedgerViolation>`
    with movements as (
      select debit_account_id as account_id, amount_fen as dp, 0::bigint as cp, 0::bigint as dpen, 0::bigint as cpen
        from ledger_transfers where phase in ('single', 'post_pending')
      union all
      select credit_account_id, 0, amount_fen, 0, 0
        from ledger_transfers where phase in ('single', 'post_pending')
      union all
      select t.debit_account_id, 0, 0, t.amount_fen, 0
        from ledger_transfers t
        where t.phase = 'pending' and not exists (select 1 from ledger_transfers r where r.pending_id = t.id)
      union all
      select t.credit_account_id, 0, 0, 0, t.amount_fen
        from ledger_transfers t
        where t.phase = 'pending' and not exists (select 1 from ledger_transfers r where r.pending_id = t.id)
    ),
    computed as (
      select account_id, sum(dp) as dp, sum(cp) as cp, sum(dpen) as dpen, sum(cpen) as cpen
        from movements group by account_id
    )
    select 'stored_totals_match_transfers' as "check",
           a.code || ': stored debits/credits posted ' || a.debits_posted_fen || '/' || a.credits_posted_fen
             || ' pending ' || a.debits_pending_fen || '/' || a.credits_pending_fen
             || ', from transfers ' || coalesce(c.dp, 0) || '/' || coalesce(c.cp, 0)
             || ' pending ' || coalesce(c.dpen, 0) || '/' || coalesce(c.cpen, 0) as detail
      from ledger_accounts a left join computed c on c.account_id = a.id
      where a.debits_posted_fen <> coalesce(c.dp, 0) or a.credits_posted_fen <> coalesce(c.cp, 0)
         or a.debits_pending_fen <> coalesce(c.dpen, 0) or a.credits_pending_fen <> coalesce(c.cpen, 0)
    union all
    select 'no_overdraft', a.code || ' (' || a.overdraft_rule || '): debits ' || a.debits_posted_fen || '+'
             || a.debits_pending_fen || ' pending, credits ' || a.credits_posted_fen || '+' || a.credits_pending_fen || ' pending'
      from ledger_accounts a
      where (a.overdraft_rule = 'debits_le_credits' and a.debits_posted_fen + a.debits_pending_fen > a.credits_posted_fen)
         or (a.overdraft_rule = 'credits_le_debits' and a.credits_posted_fen + a.credits_pending_fen > a.debits_posted_fen)
    union all
    select 'debits_equal_credits', 'all accounts: debits posted ' || sum(debits_posted_fen) || ', credits posted '
             || sum(credits_posted_fen) || ', debits pending ' || sum(debits_pending_fen) || ', credits pending '
             || sum(credits_pending_fen)
      from ledger_accounts
      having sum(debits_posted_fen) <> sum(credits_posted_fen) or sum(debits_pending_fen) <> sum(credits_pending_fen)
    union all
    select 'hold_resolution', 'transfer ' || r.id || ' resolves ' || r.pending_id
             || case when p.phase <> 'pending' then ' which is not a hold'
                     when r.debit_account_id <> p.debit_account_id or r.credit_account_id <> p.credit_account_id
                       then ' with other accounts'
                     else ' for ' || r.amount_fen || ' fen, more than the ' || p.amount_fen || ' held' end
      from ledger_transfers r join ledger_transfers p on p.id = r.pending_id
      where p.phase <> 'pending'
         or r.debit_account_id <> p.debit_account_id or r.credit_account_id <> p.credit_account_id
         or r.amount_fen > p.amount_fen
    union all
    select 'transfer_shape', 'transfer ' || id || ': amount ' || amount_fen
      from ledger_transfers where amount_fen <= 0 or debit_account_id = credit_account_id
  `.execute(db);
  return rows;
}

export async function ledgerTotals(db: Db): Promise<{
  accountCount: number;
  transferCount: number;
  walletLiabilitiesFen: Fen;
  pendingFen: Fen;
}> {
  const accounts = await db
    .selectFrom("ledger_accounts")
    .select((eb) => [
      eb.fn.countAll<number>().as("account_count"),
      sql<number>`coalesce(sum(case when kind = 'wallet' then credits_posted_fen - debits_posted_fen else 0 end), 0)::bigint`.as(
        "wallet_fen",
      ),
      sql<number>`coalesce(sum(debits_pending_fen), 0)::bigint`.as("pending_fen"),
    ])
    .executeTakeFirstOrThrow();
  const transfers = await db
    .selectFrom("ledger_transfers")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return {
    accountCount: Number(accounts.account_count),
    transferCount: Number(transfers.n),
    walletLiabilitiesFen: Number(accounts.wallet_fen),
    pendingFen: Number(accounts.pending_fen),
  };
}
