import { sql, type SqlBool } from "kysely";
import type { Db } from "../../../db";
import type { LedgerAccountKind, OrganizationKind } from "../../../db/schema";
import type { AccountNaming, Named } from "../../i18n/account-names";
import { decodeCursor, encodeCursor, invalidCursor, resolveDateRange, DomainError, isUuid, addDays } from "../shared";
import { accountView, type AccountView, type Fen } from "./ledger.server";

/**
 * What a person reads about ledger accounts: names instead of codes, and statements (对账单).
 * Read-only: this module never writes; the ledger (ledger.server.ts) is the one writer.
 *
 * Who may read an account (one rule, used by the account page, the statement, its CSV and print):
 *  - members of the account's owner organisation;
 *  - the bank's staff (any member of the `bank` organisation), who keep the books for everyone.
 * Anyone else gets `not_found`, the same answer as for an id that does not exist.
 *
 * A statement lists the account's *posted* movements (phase `single` and `post_pending`) in a
 * range of Asia/Shanghai business dates, oldest first, with the balance after each line. Holds
 * (pending) do not move the posted balance, so they are not lines; the account page shows them.
 * The balance before a page is the sum of every posted movement before its first line, so the
 * running balance is right on every page, not only the first; all sums are integer fen.
 */

export const STATEMENT_LIMITS = {
  defaultRangeDays: 30,
  /** A statement spans at most a year (and a day, for leap years). */
  maxRangeDays: 366,
  defaultPageSize: 50,
  maxPageSize: 200,
  /** The CSV export walks the whole range, in pages; it stops at this many lines. */
  maxCsvLines: 20_000,
} as const;

export const POSTED_PHASES = ["single", "post_pending"] as const;

export interface Reader {
  organizationId: string;
  organizationKind: OrganizationKind;
}

// ---------------------------------------------------------------------------------------------
// Names

interface NamingRow {
  id: string;
  code: string;
  kind: LedgerAccountKind;
  organization_id: string | null;
}

/**
 * How each account is named: its kind (the page translates it) and who it is about. A customer's
 * account names its owner; a credit line names grantor → holder; a market's commission account
 * names the market; a campaign's deposits name the campaign; the bank's own books name nobody.
 */
export async function nameAccounts(db: Db, rows: readonly NamingRow[]): Promise<Map<string, AccountNaming>> {
  const suffix = (row: NamingRow, prefix: string) => (row.code.startsWith(prefix) ? row.code.slice(prefix.length) : null);
  const linkIds = new Set<string>();
  const marketIds = new Set<string>();
  const campaignIds = new Set<string>();
  const orgIds = new Set<string>();
  for (const row of rows) {
    if (row.organization_id) orgIds.add(row.organization_id);
    const link = suffix(row, `${row.kind}:`);
    if ((row.kind === "trade_credit" || row.kind === "trade_receivable") && link && isUuid(link)) linkIds.add(link);
    const market = suffix(row, "market_fees:");
    if (row.kind === "market_fees" && market && isUuid(market)) marketIds.add(market);
    const campaign = suffix(row, "dealer_deposits:campaign:");
    if (row.kind === "dealer_deposits" && campaign && isUuid(campaign)) campaignIds.add(campaign);
  }
  const links = linkIds.size
    ? await db.selectFrom("dealer_links").select(["id", "core_enterprise_id", "dealer_id"]).where("id", "in", [...linkIds]).execute()
    : [];
  for (const l of links) orgIds.add(l.core_enterprise_id).add(l.dealer_id);
  const orgs = orgIds.size
    ? await db.selectFrom("organizations").select(["id", "kind", "name", "name_en"]).where("id", "in", [...orgIds]).execute()
    : [];
  const markets = marketIds.size ? await db.selectFrom("markets").select(["id", "name"]).where("id", "in", [...marketIds]).execute() : [];
  const campaigns = campaignIds.size
    ? await db.selectFrom("recruitment_campaigns").select(["id", "title"]).where("id", "in", [...campaignIds]).execute()
    : [];
  const orgById = new Map(orgs.map((o) => [o.id, o]));
  const named = (id: string | null | undefined): Named | null => {
    const org = id ? orgById.get(id) : undefined;
    return org ? { name: org.name, nameEn: org.name_en } : null;
  };
  const linkById = new Map(links.map((l) => [l.id, l]));
  const marketById = new Map(markets.map((m) => [m.id, { name: m.name, nameEn: null }]));
  const campaignById = new Map(campaigns.map((c) => [c.id, { name: c.title, nameEn: null }]));

  const result = new Map<string, AccountNaming>();
  for (const row of rows) {
    const parts: Named[] = [];
    const owner = orgById.get(row.organization_id ?? "");
    const link = linkById.get(suffix(row, `${row.kind}:`) ?? "");
    const market = marketById.get(suffix(row, "market_fees:") ?? "");
    const campaign = campaignById.get(suffix(row, "dealer_deposits:campaign:") ?? "");
    if ((row.kind === "trade_credit" || row.kind === "trade_receivable") && link) {
      for (const party of [named(link.core_enterprise_id), named(link.dealer_id)]) if (party) parts.push(party);
    } else if (row.kind === "market_fees" && market) {
      parts.push(market);
    } else if (row.kind === "dealer_deposits" && campaign) {
      parts.push(campaign);
    } else if (owner && owner.kind !== "bank") {
      parts.push({ name: owner.name, nameEn: owner.name_en });
    }
    result.set(row.id, { kind: row.kind, parts });
  }
  return result;
}

export async function nameAccount(db: Db, row: NamingRow): Promise<AccountNaming> {
  return (await nameAccounts(db, [row])).get(row.id)!;
}

// ---------------------------------------------------------------------------------------------
// Access

/** The account, if this reader may see it (see the rule at the top); else `not_found`. */
export async function getReadableAccount(db: Db, reader: Reader, accountId: string): Promise<AccountView & { naming: AccountNaming }> {
  if (!isUuid(accountId)) throw new DomainError("not_found", "ledger account not found");
  let query = db.selectFrom("ledger_accounts").selectAll().where("id", "=", accountId);
  if (reader.organizationKind !== "bank") query = query.where("organization_id", "=", reader.organizationId);
  const row = await query.executeTakeFirst();
  if (!row) throw new DomainError("not_found", "ledger account not found");
  return { ...accountView(row), naming: await nameAccount(db, row) };
}

/** The accounts a dashboard lists for an organisation, each with its name. */
export async function listNamedAccounts(db: Db, organizationId: string): Promise<(AccountView & { naming: AccountNaming })[]> {
  const rows = await db.selectFrom("ledger_accounts").selectAll().where("organization_id", "=", organizationId).orderBy("kind").orderBy("code").execute();
  const names = await nameAccounts(db, rows);
  return rows.map((row) => ({ ...accountView(row), naming: names.get(row.id)! }));
}

// ---------------------------------------------------------------------------------------------
// Business references

export type ReferenceType = "order" | "market_order" | "market_checkout" | "application" | "dealer_link" | "opening" | "other";

export interface BusinessReference {
  type: ReferenceType;
  /** What identifies it to a person: an order number, a company name; raw text for `other`. */
  label: string;
  /** A page the reader may open; null when the reader has no page for it. */
  href: string | null;
}

/**
 * Resolve transfer references (`order:<id>`, `market_order:<id>`, `payment:<id>` …) to what a
 * person knows them by, and to a link only where the reader's organisation is a party that has a
 * page for it. A payment is read through to what it paid for.
 */
export async function resolveReferences(db: Db, reader: Reader, references: readonly string[]): Promise<Map<string, BusinessReference>> {
  const parse = (reference: string): { type: string; id: string } | null => {
    const at = reference.lastIndexOf(":");
    const id = reference.slice(at + 1);
    return at > 0 && isUuid(id) ? { type: reference.slice(0, at), id: id.toLowerCase() } : null;
  };
  const paymentIds = references.flatMap((r) => (parse(r)?.type === "payment" ? [parse(r)!.id] : []));
  const payments = paymentIds.length ? await db.selectFrom("payments").select(["id", "reference"]).where("id", "in", paymentIds).execute() : [];
  const paid = new Map(payments.map((p) => [`payment:${p.id}`, p.reference]));
  const underlying = (reference: string) => paid.get(reference) ?? reference;
  const wanted = (type: string) => references.flatMap((r) => (parse(underlying(r))?.type === type ? [parse(underlying(r))!.id] : []));

  const orderIds = wanted("order");
  const marketOrderIds = wanted("market_order");
  const checkoutIds = wanted("market_checkout");
  const applicationIds = wanted("recruitment_application");
  const linkIds = wanted("dealer_link");
  const orders = orderIds.length
    ? await db.selectFrom("orders").select(["id", "number", "dealer_id", "core_enterprise_id"]).where("id", "in", orderIds).execute()
    : [];
  const marketOrders = marketOrderIds.length
    ? await db.selectFrom("market_orders").select(["id", "order_no", "buyer_id", "merchant_id"]).where("id", "in", marketOrderIds).execute()
    : [];
  const checkoutOrders = checkoutIds.length
    ? await db.selectFrom("market_orders").select(["checkout_id", "order_no", "buyer_id"]).where("checkout_id", "in", checkoutIds).orderBy("order_no").execute()
    : [];
  const applications = applicationIds.length
    ? await db.selectFrom("recruitment_applications").select(["id", "campaign_id", "core_enterprise_id", "company_name"]).where("id", "in", applicationIds).execute()
    : [];
  const links = linkIds.length
    ? await db
        .selectFrom("dealer_links as l")
        .innerJoin("organizations as d", "d.id", "l.dealer_id")
        .select(["l.id", "l.core_enterprise_id", "l.dealer_id", "d.name"])
        .where("l.id", "in", linkIds)
        .execute()
    : [];
  const me = reader.organizationId;
  const result = new Map<string, BusinessReference>();
  for (const reference of references) {
    if (result.has(reference)) continue;
    const target = parse(underlying(reference));
    let resolved: BusinessReference = { type: "other", label: reference, href: null };
    if (reference.startsWith("demo:opening:")) resolved = { type: "opening", label: "", href: null };
    else if (target?.type === "order") {
      const o = orders.find((x) => x.id === target.id);
      if (o) resolved = { type: "order", label: o.number, href: o.dealer_id === me || o.core_enterprise_id === me ? `/orders/${o.id}` : null };
    } else if (target?.type === "market_order") {
      const o = marketOrders.find((x) => x.id === target.id);
      if (o) resolved = { type: "market_order", label: o.order_no, href: o.buyer_id === me || o.merchant_id === me ? `/market/orders/${o.id}` : null };
    } else if (target?.type === "market_checkout") {
      const inCheckout = checkoutOrders.filter((x) => x.checkout_id === target.id);
      if (inCheckout.length) {
        resolved = {
          type: "market_checkout",
          label: inCheckout.map((x) => x.order_no).join(", "),
          href: inCheckout[0].buyer_id === me ? `/market/checkouts/${target.id}` : null,
        };
      }
    } else if (target?.type === "recruitment_application") {
      const a = applications.find((x) => x.id === target.id);
      if (a) resolved = { type: "application", label: a.company_name, href: a.core_enterprise_id === me ? `/campaigns/${a.campaign_id}/applications/${a.id}` : null };
    } else if (target?.type === "dealer_link") {
      const l = links.find((x) => x.id === target.id);
      if (l) resolved = { type: "dealer_link", label: l.name, href: l.core_enterprise_id === me ? `/dealers/${l.id}` : null };
    }
    result.set(reference, resolved);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Statements

export interface StatementRange {
  from: string;
  to: string;
}

/**
 * The range as sent (query string): `to` defaults to today (Asia/Shanghai), `from` to 30 days
 * ending at `to`. Refusals name the field: `from`/`to` date_format; `to` date_order (before
 * `from`); `to` range_too_long (more than 366 days).
 */
export function resolveStatementRange(raw: { from?: string | null; to?: string | null }, now: Date): StatementRange {
  return resolveDateRange(raw, now, STATEMENT_LIMITS);
}

/** The first instant of a Shanghai business date (UTC+8 all year since 1991). */
function shanghaiStart(date: string): string {
  return `${date}T00:00:00+08:00`;
}

/**
 * Lines are ordered by (created_at, out_rank, id): transfers made in one transaction share their
 * instant, and within an instant money in comes before money out (out_rank 0, then 1), so the
 * running balance of an account that may not go below zero never shows a dip that never was.
 * The cursor is the last line's key, created_at at microsecond precision (PostgreSQL's text).
 */
export function decodeStatementCursor(cursor: string | null | undefined): { at: string; rank: number; id: string } | null {
  const parts = decodeCursor(cursor, ["timestamp", "int", "uuid"], "cursor");
  if (!parts) return null;
  const [at, rank, id] = parts;
  if (rank !== 0 && rank !== 1) throw invalidCursor("cursor");
  return { at, rank, id: id.toLowerCase() };
}

export function clampStatementPageSize(raw: string | number | null | undefined): number {
  if (raw === null || raw === undefined || raw === "") return STATEMENT_LIMITS.defaultPageSize;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > STATEMENT_LIMITS.maxPageSize) {
    throw new DomainError("validation", `limit must be a whole number from 1 to ${STATEMENT_LIMITS.maxPageSize}`, { limit: "out_of_range" });
  }
  return n;
}

export interface StatementLine {
  transferId: string;
  at: Date;
  kind: string;
  /** Signed from the account's side: positive raises its balance, negative lowers it. */
  amountFen: Fen;
  direction: "debit" | "credit";
  balanceAfterFen: Fen;
  counterpartyId: string;
  counterparty: AccountNaming;
  reference: BusinessReference;
}

export interface Statement {
  account: AccountView & { naming: AccountNaming };
  range: StatementRange;
  /** Posted balance at the start of `from` and at the end of `to`. */
  openingFen: Fen;
  closingFen: Fen;
  /** Totals over the whole range (not the page): what came in, what went out (positive). */
  inFen: Fen;
  outFen: Fen;
  lineCount: number;
  lines: StatementLine[];
  nextCursor: string | null;
}

export async function getStatement(
  db: Db,
  reader: Reader,
  accountId: string,
  options: { from?: string | null; to?: string | null; cursor?: string | null; limit?: string | number | null },
  now: Date,
): Promise<Statement> {
  const account = await getReadableAccount(db, reader, accountId);
  const range = resolveStatementRange(options, now);
  const limit = clampStatementPageSize(options.limit);
  const cursor = decodeStatementCursor(options.cursor);
  const start = shanghaiStart(range.from);
  const end = shanghaiStart(addDays(range.to, 1));
  // +1 when the movement raises the balance on the account's normal side.
  const creditPositive = account.normalSide === "credit" ? 1 : -1;
  const signed = sql<number>`case when t.credit_account_id = ${account.id} then t.amount_fen else -t.amount_fen end * ${creditPositive}`;
  const outRank = sql<number>`case when (${signed}) > 0 then 0 else 1 end`;
  const key = sql`(t.created_at, ${outRank}, t.id)`;
  const cursorKey = cursor ? sql`(${cursor.at}::timestamptz, ${cursor.rank}::int, ${cursor.id}::uuid)` : null;
  const posted = db
    .selectFrom("ledger_transfers as t")
    .where((eb) => eb.or([eb("t.debit_account_id", "=", account.id), eb("t.credit_account_id", "=", account.id)]))
    .where("t.phase", "in", [...POSTED_PHASES]);

  const totals = await posted
    .select([
      sql<string>`coalesce(sum(${signed}) filter (where t.created_at < ${start}::timestamptz), 0)::bigint`.as("opening"),
      sql<string>`coalesce(sum(greatest(${signed}, 0)) filter (where t.created_at >= ${start}::timestamptz and t.created_at < ${end}::timestamptz), 0)::bigint`.as("in_fen"),
      sql<string>`coalesce(sum(greatest(-(${signed}), 0)) filter (where t.created_at >= ${start}::timestamptz and t.created_at < ${end}::timestamptz), 0)::bigint`.as("out_fen"),
      sql<string>`count(*) filter (where t.created_at >= ${start}::timestamptz and t.created_at < ${end}::timestamptz)`.as("line_count"),
      ...(cursor
        ? [sql<string>`coalesce(sum(${signed}) filter (where ${key} <= ${cursorKey}), 0)::bigint`.as("before_page")]
        : []),
    ])
    .executeTakeFirstOrThrow();
  const fen = (value: unknown) => {
    const n = Number(value ?? 0);
    if (!Number.isSafeInteger(n)) throw new Error(`ledger invariant: a sum of fen beyond 2^53 (${String(value)})`);
    return n;
  };
  const openingFen = fen(totals.opening);
  const inFen = fen(totals.in_fen);
  const outFen = fen(totals.out_fen);
  // The balance before the page's first line: everything posted up to and including the cursor
  // line (which is inside the range, so never before the opening balance).
  let balance = cursor ? fen((totals as { before_page?: unknown }).before_page) : openingFen;

  let q = posted
    .innerJoin("ledger_accounts as other", (join) =>
      join.on(sql<SqlBool>`other.id = case when t.debit_account_id = ${account.id} then t.credit_account_id else t.debit_account_id end`),
    )
    .select([
      "t.id",
      "t.kind",
      "t.reference",
      "t.created_at",
      "t.amount_fen",
      "t.debit_account_id",
      "other.id as other_id",
      "other.code as other_code",
      "other.kind as other_kind",
      "other.organization_id as other_org",
      sql<string>`to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("cursor_at"),
      signed.as("signed_fen"),
      outRank.as("out_rank"),
    ])
    .where("t.created_at", ">=", sql<Date>`${start}::timestamptz`)
    .where("t.created_at", "<", sql<Date>`${end}::timestamptz`);
  if (cursorKey) q = q.where(sql<SqlBool>`${key} > ${cursorKey}`);
  const rows = await q.orderBy("t.created_at", "asc").orderBy(outRank, "asc").orderBy("t.id", "asc").limit(limit + 1).execute();
  const page = rows.slice(0, limit);

  const names = await nameAccounts(
    db,
    page.map((r) => ({ id: r.other_id, code: r.other_code, kind: r.other_kind, organization_id: r.other_org })),
  );
  const references = await resolveReferences(db, reader, [...new Set(page.map((r) => r.reference))]);
  const lines: StatementLine[] = page.map((r) => {
    const amountFen = fen(r.signed_fen);
    balance += amountFen;
    return {
      transferId: r.id,
      at: r.created_at,
      kind: r.kind,
      amountFen,
      direction: r.debit_account_id === account.id ? "debit" : "credit",
      balanceAfterFen: balance,
      counterpartyId: r.other_id,
      counterparty: names.get(r.other_id)!,
      reference: references.get(r.reference)!,
    };
  });
  const last = page[page.length - 1];
  return {
    account,
    range,
    openingFen,
    closingFen: openingFen + inFen - outFen,
    inFen,
    outFen,
    lineCount: fen(totals.line_count),
    lines,
    nextCursor: rows.length > limit && last ? encodeCursor([last.cursor_at, Number(last.out_rank), last.id]) : null,
  };
}

/**
 * Every line of the range, page by page, for the CSV export; refuses a range of more than
 * `maxCsvLines` lines (the reader narrows it) rather than cutting the file short silently.
 */
export async function getWholeStatement(db: Db, reader: Reader, accountId: string, options: { from?: string | null; to?: string | null }, now: Date): Promise<Statement> {
  const first = await getStatement(db, reader, accountId, { ...options, limit: STATEMENT_LIMITS.maxPageSize }, now);
  if (first.lineCount > STATEMENT_LIMITS.maxCsvLines) {
    throw new DomainError("validation", `The range holds ${first.lineCount} lines; export at most ${STATEMENT_LIMITS.maxCsvLines} at once`, { to: "too_many_lines" });
  }
  const lines = [...first.lines];
  let cursor = first.nextCursor;
  while (cursor) {
    const next = await getStatement(db, reader, accountId, { ...first.range, cursor, limit: STATEMENT_LIMITS.maxPageSize }, now);
    lines.push(...next.lines);
    cursor = next.nextCursor;
  }
  return { ...first, lines, nextCursor: null };
}

/** The statement's query string as sent, each value cut to a sane length before it is checked. */
export function statementQuery(url: URL): { from: string; to: string; cursor: string; limit: string } {
  const get = (name: string, max: number) => (url.searchParams.get(name) ?? "").slice(0, max);
  return { from: get("from", 20), to: get("to", 20), cursor: get("cursor", 240), limit: get("limit", 6) };
}

export const ACCOUNT_LIST_PAGE_SIZE = 100;

/**
 * Every account, for the bank's staff (who keep the books for everyone): by owner name, then kind,
 * a page at a time (`after` is the last row's offset-free key: owner name, kind, id). Anyone else
 * is `not_found`: a customer reads its own accounts on its dashboard.
 */
export async function listAllAccountsForBank(db: Db, reader: Reader, after: string | null): Promise<{ accounts: (AccountView & { naming: AccountNaming; ownerName: string | null })[]; nextAfter: string | null }> {
  if (reader.organizationKind !== "bank") throw new DomainError("not_found", "no such page");
  let key: { name: string; kind: string; id: string } | null = null;
  const parts = decodeCursor(after, ["text", "text", "uuid"]);
  if (parts) key = { name: parts[0], kind: parts[1], id: parts[2] };
  let q = db
    .selectFrom("ledger_accounts as a")
    .leftJoin("organizations as o", "o.id", "a.organization_id")
    .selectAll("a")
    .select(sql<string>`coalesce(o.name, '')`.as("owner_name"));
  if (key) q = q.where(sql<SqlBool>`(coalesce(o.name, ''), a.kind::text, a.id) > (${key.name}, ${key.kind}, ${key.id}::uuid)`);
  const rows = await q
    .orderBy(sql`coalesce(o.name, '')`)
    .orderBy(sql`a.kind::text`)
    .orderBy("a.id")
    .limit(ACCOUNT_LIST_PAGE_SIZE + 1)
    .execute();
  const page = rows.slice(0, ACCOUNT_LIST_PAGE_SIZE);
  const names = await nameAccounts(db, page);
  const last = page[page.length - 1];
  return {
    accounts: page.map((row) => ({ ...accountView(row), naming: names.get(row.id)!, ownerName: row.owner_name || null })),
    nextAfter: rows.length > ACCOUNT_LIST_PAGE_SIZE && last ? encodeCursor([last.owner_name, last.kind, last.id]) : null,
  };
}
