import { sql } from "kysely";
import { inTransaction, type Db } from "../../db";
import type { MarketMerchantStatus, MarketStatus, MerchantApplicationStatus, OrganizationKind, StallStatus } from "../../db/schema";
import type { Actor } from "../domain/shared";
import { DomainError, decodeCursor, encodeCursor, isUuid, isBusinessDate, shanghaiDate } from "../domain/shared";
import { feeInForce, type FeeSchedule, getMarket, applicationQuery, getStall, merchantQuery, toApplication, toMarket, toMerchant, updateMarket, updateStall, type Market, type MarketMerchant, type MarketStall, type MerchantApplication } from "../domain/market";

/**
 * Keyset pages over the market operator's venues for /api/v1 (market.server.ts and
 * market-fees.server.ts return bounded lists for the pages: 200 applications, 5,000 stalls; an
 * integration must reach every row). Reads only: every change goes through market.server.ts.
 *
 * Tenancy as in market.server.ts: every function takes the acting organisation and filters by it;
 * a market of another operator is `not_found` (through `getMarket`), and each row query also
 * carries `operator_id`, so a row of another tenant can never be paged into.
 *
 * Cursors are opaque base64url JSON of the sort key of the last row; anything else is a
 * `validation` error naming `after`, never a query on garbage. Timestamps in cursors keep
 * PostgreSQL's microseconds (a millisecond ISO string would skip rows created in the same ms).
 */

export const MARKET_API_LIMITS = {
  pageSizeDefault: 50,
  pageSizeMax: 100,
} as const;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageOptions {
  after?: string | null;
  limit?: number | null;
}

function pageSize(limit: number | null | undefined): number {
  const n = Math.trunc(limit ?? MARKET_API_LIMITS.pageSizeDefault);
  return Math.min(Math.max(Number.isFinite(n) ? n : MARKET_API_LIMITS.pageSizeDefault, 1), MARKET_API_LIMITS.pageSizeMax);
}

// The shared codec (cursor.server.ts); each list below names the kinds of its sort key.
const text = "text" as const;
const uuid = "uuid" as const;
const timestamp = "timestamp" as const;
const date = "date" as const;

/** created_at as UTC text with microseconds, to round-trip through a cursor exactly. */
const utcMicros = (column: string) => sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

// ---------------------------------------------------------------------------------------------
// Markets: an operator's own, or the markets a merchant trades in

export interface MarketMembership {
  /** The market_merchants id. */
  id: string;
  status: MarketMerchantStatus;
  statusReason: string;
  stallId: string | null;
  stallCode: string | null;
  categories: string[];
}

/** A market as the acting organisation sees it: a merchant also sees its own membership. */
export interface MarketView extends Market {
  membership: MarketMembership | null;
}

export interface MarketReader {
  id: string;
  kind: OrganizationKind;
}

function marketSelect(db: Db) {
  return db
    .selectFrom("markets as m")
    .select(["m.id", "m.operator_id", "m.name", "m.city", "m.categories", "m.auto_confirm_days", "m.unpaid_expiry_minutes", "m.status", "m.created_at", "m.updated_at"]);
}

function membershipSelect(db: Db, merchantId: string) {
  return marketSelect(db)
    .innerJoin("market_merchants as mm", "mm.market_id", "m.id")
    .leftJoin("market_stalls as s", "s.id", "mm.stall_id")
    .select([
      "mm.id as membership_id",
      "mm.status as membership_status",
      "mm.status_reason",
      "mm.stall_id",
      "s.code as stall_code",
      "mm.categories as membership_categories",
    ])
    .where("mm.merchant_id", "=", merchantId);
}
type MembershipRow = Awaited<ReturnType<ReturnType<typeof membershipSelect>["executeTakeFirstOrThrow"]>>;

function toMembershipView(r: MembershipRow): MarketView {
  return {
    ...toMarket(r),
    membership: {
      id: r.membership_id,
      status: r.membership_status,
      statusReason: r.status_reason,
      stallId: r.stall_id,
      stallCode: r.stall_code,
      categories: r.membership_categories,
    },
  };
}

const marketNotFound = () => new DomainError("not_found", "Market not found");

/**
 * A market operator's markets, or the markets a merchant trades in (any membership status), by
 * name. Any other kind of organisation has none.
 */
export async function listMarketsPage(db: Db, reader: MarketReader, options: PageOptions & { status?: MarketStatus | null } = {}): Promise<Page<MarketView>> {
  const limit = pageSize(options.limit);
  const after = options.after ? decodeCursor(options.after, [text, uuid]) : null;
  let rows: MarketView[];
  let more: boolean;
  if (reader.kind === "market_operator") {
    let query = marketSelect(db).where("m.operator_id", "=", reader.id);
    if (options.status) query = query.where("m.status", "=", options.status);
    if (after) query = query.where(sql<boolean>`(m.name, m.id) > (${after[0]}, ${after[1]}::uuid)`);
    const found = await query.orderBy("m.name").orderBy("m.id").limit(limit + 1).execute();
    more = found.length > limit;
    rows = found.slice(0, limit).map((r) => ({ ...toMarket(r), membership: null }));
  } else if (reader.kind === "merchant") {
    let query = membershipSelect(db, reader.id);
    if (options.status) query = query.where("m.status", "=", options.status);
    if (after) query = query.where(sql<boolean>`(m.name, m.id) > (${after[0]}, ${after[1]}::uuid)`);
    const found = await query.orderBy("m.name").orderBy("m.id").limit(limit + 1).execute();
    more = found.length > limit;
    rows = found.slice(0, limit).map(toMembershipView);
  } else {
    return { items: [], nextCursor: null };
  }
  const last = rows[rows.length - 1];
  return { items: rows, nextCursor: more && last ? encodeCursor([last.name, last.id]) : null };
}

/** One market: the operator's own, or one the merchant trades in; anything else → not_found. */
export async function getMarketView(db: Db, reader: MarketReader, marketId: string): Promise<MarketView> {
  if (reader.kind === "market_operator") return { ...(await getMarket(db, reader.id, marketId)), membership: null };
  if (reader.kind !== "merchant" || !isUuid(marketId)) throw marketNotFound();
  const row = await membershipSelect(db, reader.id).where("m.id", "=", marketId).executeTakeFirst();
  if (!row) throw marketNotFound();
  return toMembershipView(row);
}

/** What a partial update of a market may carry: omitted fields keep their values. */
export interface MarketPatch {
  name?: string;
  city?: string;
  categories?: string[];
  autoConfirmDays?: number;
  unpaidExpiryMinutes?: number;
}

/**
 * Partial update over market.server's `updateMarket` (which takes the whole form): the market row is
 * locked before its current values are read, so two partial updates of different fields at the same
 * time both land instead of the second writing back the first's old values.
 */
export async function patchMarket(db: Db, actor: Actor, operatorId: string, marketId: string, patch: MarketPatch): Promise<Market> {
  return inTransaction(db, async (trx) => {
    await lockRow(trx, "markets", operatorId, marketId, marketNotFound);
    const current = await getMarket(trx, operatorId, marketId);
    return updateMarket(trx, actor, operatorId, marketId, {
      name: patch.name ?? current.name,
      city: patch.city ?? current.city,
      categories: patch.categories ?? current.categories,
      autoConfirmDays: patch.autoConfirmDays ?? current.autoConfirmDays,
      unpaidExpiryMinutes: patch.unpaidExpiryMinutes ?? current.unpaidExpiryMinutes,
    });
  });
}

async function lockRow(trx: Db, table: "markets" | "market_stalls", operatorId: string, id: string, notFound: () => DomainError): Promise<void> {
  if (!isUuid(id)) throw notFound();
  const row = await trx.selectFrom(table).select("id").where("id", "=", id).where("operator_id", "=", operatorId).forUpdate().executeTakeFirst();
  if (!row) throw notFound();
}

// ---------------------------------------------------------------------------------------------
// Stalls

function stallSelect(db: Db) {
  return db
    .selectFrom("market_stalls as s")
    .leftJoin("market_zones as z", "z.id", "s.zone_id")
    .leftJoin("market_merchants as mm", "mm.stall_id", "s.id")
    .leftJoin("organizations as o", "o.id", "mm.merchant_id")
    .select(["s.id", "s.market_id", "s.zone_id", "z.name as zone_name", "s.code", "s.area_dm2", "s.monthly_rent_fen", "s.status", "o.name as merchant_name"]);
}

/** The stalls of one of the operator's markets, by code (unique in a market). */
export async function listStallsPage(
  db: Db,
  operatorId: string,
  marketId: string,
  options: PageOptions & { status?: StallStatus | null; zoneId?: string | null } = {},
): Promise<Page<MarketStall>> {
  const market = await getMarket(db, operatorId, marketId);
  const limit = pageSize(options.limit);
  const after = options.after ? decodeCursor(options.after, [text]) : null;
  let query = stallSelect(db).where("s.market_id", "=", market.id).where("s.operator_id", "=", operatorId);
  if (options.status) query = query.where("s.status", "=", options.status);
  if (options.zoneId) query = isUuid(options.zoneId) ? query.where("s.zone_id", "=", options.zoneId) : query.where(sql<boolean>`false`);
  if (after) query = query.where("s.code", ">", after[0]);
  const rows = await query.orderBy("s.code").limit(limit + 1).execute();
  const items: MarketStall[] = rows.slice(0, limit).map((r) => ({
    id: r.id,
    marketId: r.market_id,
    zoneId: r.zone_id,
    zoneName: r.zone_name,
    code: r.code,
    areaDm2: r.area_dm2,
    monthlyRentFen: r.monthly_rent_fen,
    status: r.status,
    merchantName: r.merchant_name,
  }));
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.code]) : null };
}

/** What a partial update of a stall may carry (the code stays); `zoneId: null` takes it out of its zone. */
export interface StallPatch {
  zoneId?: string | null;
  areaDm2?: number;
  monthlyRentFen?: number;
}

/** Partial update over market.server's `updateStall`, under the stall's row lock (see patchMarket). */
export async function patchStall(db: Db, actor: Actor, operatorId: string, marketId: string, stallId: string, patch: StallPatch): Promise<MarketStall> {
  const stallNotFound = () => new DomainError("not_found", "Stall not found");
  return inTransaction(db, async (trx) => {
    await getMarket(trx, operatorId, marketId);
    await lockRow(trx, "market_stalls", operatorId, stallId, stallNotFound);
    const current = await getStall(trx, operatorId, marketId, stallId);
    return updateStall(trx, actor, operatorId, marketId, stallId, {
      zoneId: patch.zoneId === undefined ? current.zoneId : patch.zoneId,
      // Numbers reach the model as dm² and fen (strings would be read as m² and yuan).
      area: patch.areaDm2 ?? current.areaDm2,
      monthlyRent: patch.monthlyRentFen ?? current.monthlyRentFen,
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Merchants

/** The merchants of one of the operator's markets, by name. */
export async function listMarketMerchantsPage(
  db: Db,
  operatorId: string,
  marketId: string,
  options: PageOptions & { status?: MarketMerchantStatus | null } = {},
): Promise<Page<MarketMerchant>> {
  const market = await getMarket(db, operatorId, marketId);
  const limit = pageSize(options.limit);
  const after = options.after ? decodeCursor(options.after, [text, uuid]) : null;
  let query = merchantQuery(db)
    .where("mm.market_id", "=", market.id)
    .where("mm.operator_id", "=", operatorId);
  if (options.status) query = query.where("mm.status", "=", options.status);
  if (after) query = query.where(sql<boolean>`(o.name, mm.id) > (${after[0]}, ${after[1]}::uuid)`);
  const rows = await query.orderBy("o.name").orderBy("mm.id").limit(limit + 1).execute();
  const items: MarketMerchant[] = rows.slice(0, limit).map(toMerchant);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.merchantName, last.id]) : null };
}

// ---------------------------------------------------------------------------------------------
// Applications

/** Applications to one of the operator's markets, newest first, optionally of one status. */
export async function listMerchantApplicationsPage(
  db: Db,
  operatorId: string,
  marketId: string,
  options: PageOptions & { status?: MerchantApplicationStatus | null } = {},
): Promise<Page<MerchantApplication>> {
  const market = await getMarket(db, operatorId, marketId);
  const limit = pageSize(options.limit);
  const after = options.after ? decodeCursor(options.after, [timestamp, uuid]) : null;
  let query = applicationQuery(db)
    .select(utcMicros("a.created_at").as("created_at_key"))
    .where("a.market_id", "=", market.id)
    .where("a.operator_id", "=", operatorId);
  if (options.status) query = query.where("a.status", "=", options.status);
  if (after) query = query.where(sql<boolean>`(a.created_at, a.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`);
  const rows = await query.orderBy("a.created_at", "desc").orderBy("a.id", "desc").limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const items: MerchantApplication[] = page.map(toApplication);
  const last = page[page.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.created_at_key, last.id]) : null };
}

// ---------------------------------------------------------------------------------------------
// Fee schedules

export type FeeScheduleState = "in_force" | "scheduled" | "superseded";

export interface FeeScheduleView extends FeeSchedule {
  /** On `today` (Asia/Shanghai): the one applying now, one starting later, or one replaced. */
  state: FeeScheduleState;
}

function feeSelect(db: Db, today: string) {
  return db
    .selectFrom("fee_schedules as f")
    .select([
      "f.id",
      "f.market_id",
      "f.category",
      "f.commission_rate_bps",
      "f.min_fee_fen",
      sql<string>`to_char(f.effective_from, 'YYYY-MM-DD')`.as("effective_from"),
      "f.created_at",
      sql<FeeScheduleState>`case
        when f.effective_from > ${today}::date then 'scheduled'
        when f.effective_from = (
          select max(g.effective_from) from fee_schedules g
          where g.market_id = f.market_id and g.category = f.category and g.effective_from <= ${today}::date
        ) then 'in_force'
        else 'superseded' end`.as("state"),
    ]);
}
type FeeRow = Awaited<ReturnType<ReturnType<typeof feeSelect>["executeTakeFirstOrThrow"]>>;

function toFeeView(r: FeeRow): FeeScheduleView {
  return {
    id: r.id,
    marketId: r.market_id,
    category: r.category,
    commissionRateBps: r.commission_rate_bps,
    minFeeFen: r.min_fee_fen,
    effectiveFrom: r.effective_from,
    createdAt: r.created_at,
    state: r.state,
  };
}

/** One schedule of one of the operator's markets, with its state today. */
export async function getFeeScheduleView(db: Db, operatorId: string, marketId: string, scheduleId: string, now: Date = new Date()): Promise<FeeScheduleView> {
  const market = await getMarket(db, operatorId, marketId);
  const row = isUuid(scheduleId)
    ? await feeSelect(db, shanghaiDate(now)).where("f.id", "=", scheduleId).where("f.market_id", "=", market.id).where("f.operator_id", "=", operatorId).executeTakeFirst()
    : undefined;
  if (!row) throw new DomainError("not_found", "Fee schedule not found");
  return toFeeView(row);
}

/**
 * The schedules of one of the operator's markets: by category, newest start first, each with its
 * state today (the in-force rule of market-fees.server.ts: the latest start on or before today).
 */
export async function listFeeSchedulesPage(
  db: Db,
  operatorId: string,
  marketId: string,
  options: PageOptions & { category?: string | null } = {},
  now: Date = new Date(),
): Promise<Page<FeeScheduleView>> {
  const market = await getMarket(db, operatorId, marketId);
  const limit = pageSize(options.limit);
  const after = options.after ? decodeCursor(options.after, [text, date]) : null;
  let query = feeSelect(db, shanghaiDate(now))
    .where("f.market_id", "=", market.id)
    .where("f.operator_id", "=", operatorId);
  const category = options.category?.normalize("NFKC").trim();
  if (category) query = query.where("f.category", "=", category);
  if (after) {
    const [afterCategory, afterFrom] = after;
    query = query.where(sql<boolean>`(f.category > ${afterCategory} or (f.category = ${afterCategory} and f.effective_from < ${afterFrom}::date))`);
  }
  const rows = await query.orderBy("f.category").orderBy("f.effective_from", "desc").limit(limit + 1).execute();
  const items = rows.slice(0, limit).map(toFeeView);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.category, last.effectiveFrom]) : null };
}

/**
 * The schedule in force for one category of one of the operator's markets on a business date
 * (default: today in Asia/Shanghai), or null when none has started (no commission is due then).
 * The category must be one of the market's: asking about another is a mistake worth naming.
 */
export async function feeScheduleInForce(
  db: Db,
  operatorId: string,
  marketId: string,
  input: { category: string; on?: string | null },
  now: Date = new Date(),
): Promise<{ market: Market; category: string; on: string; schedule: FeeSchedule | null }> {
  const market = await getMarket(db, operatorId, marketId);
  const category = input.category.normalize("NFKC").trim();
  if (!category) throw new DomainError("validation", "Name a category", { category: "required" });
  if (!market.categories.includes(category)) {
    throw new DomainError("validation", `Not a category of this market: ${category.slice(0, 50)}`, { category: "unknown_category" });
  }
  const on = input.on?.trim() || shanghaiDate(now);
  if (!isBusinessDate(on)) throw new DomainError("validation", "on must be a date written YYYY-MM-DD", { on: "date_format" });
  // Noon in Shanghai lies inside that business date whatever the instant's rounding.
  const schedule = await feeInForce(db, market.id, category, new Date(`${on}T12:00:00+08:00`));
  return { market, category, on, schedule };
}
