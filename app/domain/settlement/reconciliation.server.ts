import { createHash } from "node:crypto";
import { inTransaction, sql, type Db } from "../../../db";
import { selectFromArrays, type ArrayColumns } from "../../../db/unnest";
import { RECONCILE_MISMATCH_KINDS, type ReconcileMismatchKind, type ReconcileMismatchStatus } from "../../../db/schema";
import { assertMay } from "../identity";
import { ensureAccount, transfer } from "../ledger";
import { shanghaiDayBounds, type GatewayStatement, type StatementLineType, type StatementRow } from "../payments";
import { addDays, DomainError, isBusinessDate, recordAudit, spreadsheetCsv, SYSTEM_ACTOR, type Actor } from "../shared";
import type { SettlementActor } from "./accounts.server";

/**
 * Reconciliation (对账, decision 027): the gateway's daily statement against our books. This module
 * is the only writer of `statement_days`, `statement_lines` and `reconcile_mismatches`.
 *
 * Invariants:
 *  - a day is imported once: the same file again changes nothing; another file for a day already
 *    imported is refused (`conflict`, field `date`) — the gateway does not rewrite a past day;
 *  - the import, the match and the fee booking of a day are one transaction: a day is either
 *    absent or imported, matched and booked;
 *  - matching is one set-based statement over the day's lines and our movements (payments and
 *    refunds with their capture/refund transfer, payouts by their ledger transfer), never a lookup
 *    per line; each movement is listed at most once per day (unique constraint), with one kind:
 *    missing_ours > duplicate > amount_differs > late, and missing_theirs for ours the day lacks;
 *  - a movement left off day D and listed on D+1 is `late` on D+1, and D's `missing_theirs` for it
 *    is superseded, so it is open once, not twice;
 *  - the day's gateway fees are booked once, `gateway_fees → gateway_clearing`, key
 *    `reconcile:fees:<date>`, from the statement's fee column (the gateway is the authority on it);
 *  - a day closes when no mismatch of it is open; resolving needs a note and is audited.
 */

export const RECONCILIATION_LIMITS = {
  /** Lines sent in one INSERT (one array parameter per column). */
  insertBatchLines: 10_000,
  noteCharsMax: 1_000,
  daysPageMax: 100,
  /** A day's mismatches shown or exported at once; a day with more needs the gateway called, not a page. */
  mismatchesMax: 5_000,
} as const;

export type ReconciliationActor = SettlementActor & { userId: string | null };

export interface StatementDaySummary {
  date: string;
  lineCount: number;
  grossFen: number;
  feeFen: number;
  importedAt: Date;
  closedAt: Date | null;
  open: number;
  resolved: number;
  byKind: Record<ReconcileMismatchKind, number>;
}

export interface MismatchView {
  id: string;
  date: string;
  kind: ReconcileMismatchKind;
  lineType: StatementLineType;
  merchantReference: string;
  gatewayId: string | null;
  theirsFen: number | null;
  oursFen: number | null;
  theirsLines: number;
  oursAt: Date | null;
  ledgerTransferId: string | null;
  status: ReconcileMismatchStatus;
  note: string | null;
  resolvedAt: Date | null;
}

export interface ImportOutcome {
  date: string;
  /** False when the same file had been imported before: nothing was written. */
  imported: boolean;
  lineCount: number;
  mismatches: number;
  feeFen: number;
}

function assertDate(date: string): void {
  if (!isBusinessDate(date)) throw new DomainError("validation", "date must be a calendar date YYYY-MM-DD", { date: "YYYY-MM-DD" });
}

/**
 * The bank only: another kind of organisation learns nothing, not even that reconciliation exists
 * (404); a bank member without the role is told which roles may (403), as everywhere (decision 019).
 */
function assertBank(who: SettlementActor, action: "reconciliation.view" | "reconciliation.resolve"): void {
  if (who.kind !== "bank") throw new DomainError("not_found", "not found");
  assertMay(who.roles, action, who.kind);
}

/** The bank's account for the gateway's charges, and the clearing account they come out of. */
async function feeAccounts(db: Db): Promise<{ fees: string; clearing: string }> {
  const bank = await db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
  if (!bank) throw new Error("reconciliation: no bank organisation owns the gateway fee and clearing accounts");
  // An expense of the bank's like the verification deposits (debit-normal, no overdraft rule), under its own code.
  const fees = await ensureAccount(db, { kind: "bank_expenses", organizationId: bank.id, code: "gateway_fees" });
  const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: bank.id, code: "gateway_clearing" });
  return { fees: fees.id, clearing: clearing.id };
}

interface LineRow {
  line_no: number;
  gateway_id: string;
  gateway_payment_id: string;
  merchant_reference: string;
  type: StatementLineType;
  gross_fen: number;
  fee_fen: number;
  net_fen: number;
  occurred_at: Date;
}

const LINE_COLUMNS = [
  ["line_no", "integer"],
  ["gateway_id", "text"],
  ["gateway_payment_id", "text"],
  ["merchant_reference", "text"],
  ["type", "text"],
  ["gross_fen", "bigint"],
  ["fee_fen", "bigint"],
  ["net_fen", "bigint"],
  ["occurred_at", "timestamptz"],
] as const satisfies ArrayColumns<LineRow>;

/**
 * Import a day's statement and match it. Idempotent: the same file again returns `imported: false`
 * and writes nothing.
 */
export async function importStatement(db: Db, statement: GatewayStatement, now: Date): Promise<ImportOutcome> {
  const date = statement.date;
  assertDate(date);
  for (const row of statement.rows) {
    if (row.occurredAt.getTime() > shanghaiDayBounds(date).to.getTime() + 24 * 3600 * 1000) {
      throw new DomainError("validation", `a line of ${date} happened after the next day`, { occurred_at: row.occurredAt.toISOString() });
    }
  }
  const sha = createHash("sha256").update(statement.csv).digest("hex");
  const grossFen = statement.rows.reduce((sum, r) => sum + r.amountFen, 0);
  const feeFen = statement.rows.reduce((sum, r) => sum + r.feeFen, 0);

  return inTransaction(db, async (trx) => {
    const inserted = await trx
      .insertInto("statement_days")
      .values({ statement_date: date, content_sha256: sha, line_count: statement.rows.length, gross_fen: grossFen, fee_fen: feeFen, fee_transfer_id: null, imported_at: now })
      .onConflict((oc) => oc.column("statement_date").doNothing())
      .returning("statement_date")
      .executeTakeFirst();
    if (!inserted) {
      const existing = await trx.selectFrom("statement_days").select(["content_sha256", "line_count", "fee_fen"]).where("statement_date", "=", date).executeTakeFirstOrThrow();
      if (existing.content_sha256 !== sha) {
        throw new DomainError("conflict", `the statement of ${date} was imported before with other content`, { date: "already imported with other content" });
      }
      const { count } = await trx
        .selectFrom("reconcile_mismatches")
        .select((eb) => eb.fn.countAll<number>().as("count"))
        .where("statement_date", "=", date)
        .executeTakeFirstOrThrow();
      return { date, imported: false, lineCount: existing.line_count, mismatches: Number(count), feeFen: Number(existing.fee_fen) };
    }

    const lines: LineRow[] = statement.rows.map((r: StatementRow, index) => ({
      line_no: index + 1,
      gateway_id: r.gatewayId,
      gateway_payment_id: r.gatewayPaymentId,
      merchant_reference: r.merchantReference,
      type: r.type,
      gross_fen: r.amountFen,
      fee_fen: r.feeFen,
      net_fen: r.netFen,
      occurred_at: r.occurredAt,
    }));
    for (let i = 0; i < lines.length; i += RECONCILIATION_LIMITS.insertBatchLines) {
      const batch = lines.slice(i, i + RECONCILIATION_LIMITS.insertBatchLines);
      await sql`insert into statement_lines (statement_date, ${sql.join(LINE_COLUMNS.map(([c]) => sql.id(c)))})
                select ${date}::date, v.* from (${selectFromArrays(batch, LINE_COLUMNS)}) v`.execute(trx);
    }

    const mismatches = await matchDay(trx, date, now);

    if (feeFen > 0) {
      const accounts = await feeAccounts(trx);
      const booked = await transfer(trx, {
        idempotencyKey: `reconcile:fees:${date}`,
        kind: "gateway_fees",
        reference: `statement:${date}`,
        debitAccountId: accounts.fees,
        creditAccountId: accounts.clearing,
        amountFen: feeFen,
      });
      await trx.updateTable("statement_days").set({ fee_transfer_id: booked.transfer.id }).where("statement_date", "=", date).execute();
    }
    // This day if clean, and any earlier day whose last open mismatch this day superseded.
    await sql`update statement_days d set closed_at = ${now}::timestamptz
               where d.closed_at is null
                 and not exists (select 1 from reconcile_mismatches m where m.statement_date = d.statement_date and m.status = 'open')`.execute(trx);
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: "reconciliation.imported",
      entityType: "statement_day",
      entityId: null,
      after: { date, lines: lines.length, gross_fen: grossFen, fee_fen: feeFen, mismatches },
    });
    return { date, imported: true, lineCount: lines.length, mismatches, feeFen };
  });
}

/**
 * Our movements, as the gateway would list them: (type, merchant reference, amount, when, the
 * ledger transfer that booked it). A payment or refund counts as ours only once its transfer exists:
 * money the gateway moved and our ledger did not book is missing on our side.
 */
const OURS = sql`
  select 'payment.succeeded'::text as type, p.id::text as merchant_reference, p.amount_fen, p.succeeded_at as at, t.id as transfer_id
    from payments p join ledger_transfers t on t.idempotency_key = 'epay:' || p.id::text || ':captured'
   where p.succeeded_at is not null
  union all
  select 'refund.succeeded', r.id::text, r.amount_fen, r.succeeded_at, t.id
    from payment_refunds r join ledger_transfers t on t.idempotency_key = 'epay:' || r.id::text || ':refunded'
   where r.succeeded_at is not null
  union all
  select 'payout.succeeded', substr(t.idempotency_key, length('settlement:deposit:') + 1), t.amount_fen, t.created_at, t.id
    from ledger_transfers t
   where t.kind = 'settlement_verification_deposit'
  union all
  select 'payout.succeeded', t.reference, t.amount_fen, t.created_at, t.id
    from ledger_transfers t
   where t.kind = 'payout_cleared'`;

/**
 * A payout is sent under one reference per try (`payout:<id>:<try>`, decision 026) and booked
 * under `payout:<id>`: the line is matched on the payout, whichever try the gateway paid.
 */
const MATCH_REFERENCE = sql`case when type = 'payout.succeeded' and merchant_reference ~ '^payout:[0-9a-f-]{36}:[0-9]+$'
  then regexp_replace(merchant_reference, ':[0-9]+$', '') else merchant_reference end`;

/**
 * The one set-based pass: every line group of the day against our movements, and our movements of
 * the day against the lines, written as mismatches in one INSERT; D's earlier `missing_theirs`
 * that turn out late are superseded in the same statement. Returns the day's mismatch count.
 */
async function matchDay(db: Db, date: string, now: Date): Promise<number> {
  const { from, to } = shanghaiDayBounds(date);
  const result = await sql<{ mismatches: number }>`
    with theirs as (
      select type, ${MATCH_REFERENCE} as merchant_reference, count(*)::int as n, min(gross_fen) as gross_min, max(gross_fen) as gross_max, min(gateway_id) as gateway_id
        from statement_lines where statement_date = ${date}::date
       group by 1, 2
    ), ours as (${OURS}),
    judged as (
      select th.*, o.amount_fen as ours_fen, o.at as ours_at, o.transfer_id,
             case when o.merchant_reference is null then 'missing_ours'
                  when th.n > 1 then 'duplicate'
                  when th.gross_min <> o.amount_fen or th.gross_max <> o.amount_fen then 'amount_differs'
                  when o.at < ${from} then 'late'
             end as kind
        from theirs th left join ours o on o.type = th.type and o.merchant_reference = th.merchant_reference
    ), found as (
      select ${date}::date as statement_date, kind, type as line_type, merchant_reference, gateway_id, gross_max as theirs_fen, ours_fen, n as theirs_lines, ours_at, transfer_id
        from judged where kind is not null
      union all
      select ${date}::date, 'missing_theirs', o.type, o.merchant_reference, null, null, o.amount_fen, 0, o.at, o.transfer_id
        from ours o
       where o.at >= ${from} and o.at < ${to}
         and not exists (select 1 from theirs th where th.type = o.type and th.merchant_reference = o.merchant_reference)
    ), written as (
      insert into reconcile_mismatches (statement_date, kind, line_type, merchant_reference, gateway_id, theirs_fen, ours_fen, theirs_lines, ours_at, ledger_transfer_id, created_at)
      select statement_date, kind, line_type, merchant_reference, gateway_id, theirs_fen, ours_fen, theirs_lines, ours_at, transfer_id, ${now}::timestamptz from found
      on conflict (statement_date, line_type, merchant_reference) do nothing
      returning kind, line_type, merchant_reference
    ), superseded as (
      update reconcile_mismatches m set status = 'superseded'
        from written w
       where w.kind = 'late' and m.kind = 'missing_theirs' and m.status = 'open'
         and m.line_type = w.line_type and m.merchant_reference = w.merchant_reference and m.statement_date < ${date}::date
      returning m.statement_date
    )
    select (select count(*)::int from written) as mismatches`.execute(db);
  return result.rows[0]?.mismatches ?? 0;
}

/** Days imported, newest first, with their mismatch counts by kind. */
export async function listStatementDays(db: Db, who: SettlementActor, options: { limit?: number; date?: string } = {}): Promise<StatementDaySummary[]> {
  assertBank(who, "reconciliation.view");
  if (options.date !== undefined) assertDate(options.date);
  const limit = Math.min(Math.max(1, options.limit ?? 30), RECONCILIATION_LIMITS.daysPageMax);
  const rows = await db
    .selectFrom("statement_days as d")
    .leftJoin("reconcile_mismatches as m", (j) => j.onRef("m.statement_date", "=", "d.statement_date").on("m.status", "<>", "superseded"))
    .select([
      sql<string>`d.statement_date::text`.as("date"),
      "d.line_count",
      "d.gross_fen",
      "d.fee_fen",
      "d.imported_at",
      "d.closed_at",
      sql<number>`count(*) filter (where m.status = 'open')::int`.as("open"),
      sql<number>`count(*) filter (where m.status = 'resolved')::int`.as("resolved"),
      ...RECONCILE_MISMATCH_KINDS.map((kind) => sql<number>`count(*) filter (where m.kind = ${kind})::int`.as(kind)),
    ])
    .$if(options.date !== undefined, (q) => q.where("d.statement_date", "=", options.date as string))
    .groupBy("d.statement_date")
    .orderBy("d.statement_date", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => {
    const counts = r as unknown as Record<ReconcileMismatchKind, number>;
    return {
      date: r.date,
      lineCount: r.line_count,
      grossFen: Number(r.gross_fen),
      feeFen: Number(r.fee_fen),
      importedAt: r.imported_at,
      closedAt: r.closed_at,
      open: r.open,
      resolved: r.resolved,
      byKind: Object.fromEntries(RECONCILE_MISMATCH_KINDS.map((k) => [k, Number(counts[k])])) as Record<ReconcileMismatchKind, number>,
    };
  });
}

/** One imported day with its counts, or 404 when the day was never imported. */
export async function getStatementDay(db: Db, who: SettlementActor, date: string): Promise<StatementDaySummary> {
  const [day] = await listStatementDays(db, who, { date, limit: 1 });
  if (!day) throw new DomainError("not_found", `no statement imported for ${date}`, { date: "not imported" });
  return day;
}

/** A day's mismatches (superseded ones left out: they are listed as `late` on the later day). */
export async function listMismatches(db: Db, who: SettlementActor, date: string): Promise<MismatchView[]> {
  assertBank(who, "reconciliation.view");
  assertDate(date);
  const rows = await db
    .selectFrom("reconcile_mismatches")
    .selectAll()
    .select(sql<string>`statement_date::text`.as("date"))
    .where("statement_date", "=", date)
    .where("status", "<>", "superseded")
    .orderBy("kind")
    .orderBy("merchant_reference")
    .limit(RECONCILIATION_LIMITS.mismatchesMax)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    date: r.date,
    kind: r.kind,
    lineType: r.line_type,
    merchantReference: r.merchant_reference,
    gatewayId: r.gateway_id,
    theirsFen: r.theirs_fen === null ? null : Number(r.theirs_fen),
    oursFen: r.ours_fen === null ? null : Number(r.ours_fen),
    theirsLines: r.theirs_lines,
    oursAt: r.ours_at,
    ledgerTransferId: r.ledger_transfer_id,
    status: r.status,
    note: r.note,
    resolvedAt: r.resolved_at,
  }));
}

/** The day's mismatches as a spreadsheet-safe CSV (formula-looking cells neutralised). */
export async function mismatchesCsv(db: Db, who: SettlementActor, date: string): Promise<string> {
  const rows = await listMismatches(db, who, date);
  return spreadsheetCsv([
    ["date", "kind", "type", "merchant_reference", "gateway_id", "theirs_fen", "ours_fen", "theirs_lines", "ours_at", "status", "note"],
    ...rows.map((m) => [m.date, m.kind, m.lineType, m.merchantReference, m.gatewayId ?? "", String(m.theirsFen ?? ""), String(m.oursFen ?? ""), String(m.theirsLines), m.oursAt?.toISOString() ?? "", m.status, m.note ?? ""]),
  ]);
}

/**
 * Resolve an open mismatch with a note (what was done about it), audited; the day closes when it
 * was the last one open. Resolving again is refused (`invalid_state`), naming the mismatch.
 */
export async function resolveMismatch(
  db: Db,
  who: ReconciliationActor,
  actor: Actor,
  input: { mismatchId: string; note: string },
  now: Date,
): Promise<{ closed: boolean; date: string }> {
  assertBank(who, "reconciliation.resolve");
  const note = typeof input.note === "string" ? input.note.trim() : "";
  if (note.length === 0) throw new DomainError("validation", "say what was done about the mismatch", { note: "required" });
  if (note.length > RECONCILIATION_LIMITS.noteCharsMax) {
    throw new DomainError("validation", `the note is at most ${RECONCILIATION_LIMITS.noteCharsMax} characters`, { note: `at most ${RECONCILIATION_LIMITS.noteCharsMax} characters` });
  }
  if (!/^[0-9a-f-]{36}$/i.test(input.mismatchId)) throw new DomainError("not_found", "no such mismatch", { mismatch_id: "unknown" });
  return inTransaction(db, async (trx) => {
    const found = await trx
      .selectFrom("reconcile_mismatches")
      .select(["id", "status", "kind", "merchant_reference", sql<string>`statement_date::text`.as("date")])
      .where("id", "=", input.mismatchId)
      .executeTakeFirst();
    if (!found) throw new DomainError("not_found", "no such mismatch", { mismatch_id: "unknown" });
    // The day's row is the lock that makes "the last open one closes the day" exact under concurrency.
    await trx.selectFrom("statement_days").select("statement_date").where("statement_date", "=", found.date).forUpdate().execute();
    const updated = await trx
      .updateTable("reconcile_mismatches")
      .set({ status: "resolved", note, resolved_by_user_id: who.userId, resolved_at: now })
      .where("id", "=", found.id)
      .where("status", "=", "open")
      .returning("id")
      .executeTakeFirst();
    if (!updated) throw new DomainError("invalid_state", `this mismatch is already ${found.status}`, { mismatch_id: found.status });
    await recordAudit(trx, actor, {
      action: "reconciliation.mismatch_resolved",
      entityType: "reconcile_mismatch",
      entityId: found.id,
      before: { status: "open", kind: found.kind, date: found.date, merchant_reference: found.merchant_reference },
      after: { status: "resolved", note },
    });
    const open = await trx.selectFrom("reconcile_mismatches").select("id").where("statement_date", "=", found.date).where("status", "=", "open").limit(1).execute();
    const closed = open.length === 0;
    if (closed) {
      await trx.updateTable("statement_days").set({ closed_at: now }).where("statement_date", "=", found.date).where("closed_at", "is", null).execute();
      await recordAudit(trx, actor, { action: "reconciliation.day_closed", entityType: "statement_day", entityId: null, after: { date: found.date } });
    }
    return { closed, date: found.date };
  });
}

/** Whether a day's statement is in: the scheduled step asks this before fetching the file again. */
export async function statementImported(db: Db, date: string): Promise<boolean> {
  assertDate(date);
  const row = await db.selectFrom("statement_days").select("statement_date").where("statement_date", "=", date).executeTakeFirst();
  return row !== undefined;
}

/** The Shanghai business day before `now`'s: the last complete statement day. */
export function yesterdayInShanghai(now: Date): string {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(now);
  return addDays(today, -1);
}
