import { sql, type SqlBool } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import type { ListingModerationStatus, ListingStatus } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, decodeCursor as decodeSharedCursor, encodeCursor, isUuid } from "../shared";
import { parseWholeNumber, parseYuanToFen } from "../catalog";
import { type Fen } from "../ledger";
import { checkWholeNumber, getMarket, parseOrRefuse } from "./venues.server";

/**
 * Listings of a commodity-trading market: a merchant's goods (title in Chinese and English, spec,
 * unit, price in fen, stock, minimum order), searched by buyers across the market.
 *
 * Who sees what:
 *  - a merchant reads and changes only its own listings (another merchant's id → not_found);
 *  - the market's operator reads every listing of its markets and hides / unhides them (another
 *    operator's market or listing → not_found);
 *  - any buyer organisation may search any active market (a wholesale market is open to every
 *    trade buyer who walks in; the platform does not gate buyers per market) and sees a listing
 *    only while it is *orderable*: on sale (`active`), `visible`, its merchant `active` in the
 *    market and as an organisation, and the market `active`. Anything else reads as not_found.
 *
 * Invariants, stated here and checked in the code (and by the table's CHECKs underneath):
 *  - money is integer fen (1 ≤ price_fen ≤ ¥1,000,000,000); stock 0…100,000,000, never negative:
 *    the merchant sets it under a row lock, or moves it by a delta with a guarded UPDATE;
 *  - a listing is created or changed only while the merchant is `active` in an `active` market,
 *    in a category that is both the market's and the merchant's (taking goods off sale and
 *    setting stock stay possible for a suspended merchant: they only reduce what can be bought);
 *  - a hidden listing always carries the operator's reason;
 *  - every change writes one audit event in the transaction that makes it.
 *
 * State machines, as data: status active —deactivate→ inactive —activate→ active (the merchant's),
 * moderation visible —hide (reason)→ hidden —unhide→ visible (the operator's).
 */

export const LISTING_LIMITS = {
  titleLength: 100,
  titleEnLength: 150,
  categoryLength: 20,
  specLength: 200,
  unitLength: 10,
  /** ¥1,000,000,000: the table's CHECK; anything above is a typo. */
  maxPriceFen: 100_000_000_000,
  maxStockQty: 100_000_000,
  maxMinOrderQty: 1_000_000,
  imageUrlLength: 500,
  reasonLength: 200,
  /** Per merchant per market: a stall's catalogue, not a warehouse's. */
  listingsPerMerchantMarketMax: 5_000,
  pageSizeDefault: 20,
  pageSizeMax: 100,
  /** Characters of a search query, after normalisation. */
  queryLength: 100,
  queryTermsMax: 8,
  marketsMax: 100,
  merchantsPerMarketMax: 5_000,
} as const;

// ---------------------------------------------------------------------------------------------
// State machines

export type ListingStatusEvent = "activate" | "deactivate";
export const LISTING_STATUS_TRANSITIONS: Record<ListingStatus, Partial<Record<ListingStatusEvent, ListingStatus>>> = {
  active: { deactivate: "inactive" },
  inactive: { activate: "active" },
};

export type ListingModerationEvent = "hide" | "unhide";
export const LISTING_MODERATION_TRANSITIONS: Record<ListingModerationStatus, Partial<Record<ListingModerationEvent, ListingModerationStatus>>> = {
  visible: { hide: "hidden" },
  hidden: { unhide: "visible" },
};

export function moderationEvents(status: ListingModerationStatus): ListingModerationEvent[] {
  return Object.keys(LISTING_MODERATION_TRANSITIONS[status]) as ListingModerationEvent[];
}

function invalidTransition(from: string, event: string): DomainError {
  return new DomainError("invalid_state", `A ${from} listing cannot ${event}`, { status: "invalid_transition" });
}

// ---------------------------------------------------------------------------------------------
// Shapes

export interface Listing {
  id: string;
  marketId: string;
  marketName: string;
  merchantId: string;
  merchantName: string;
  merchantNameEn: string | null;
  stallCode: string | null;
  title: string;
  titleEn: string;
  category: string;
  spec: string;
  unit: string;
  priceFen: Fen;
  stockQty: number;
  minOrderQty: number;
  imageUrl: string;
  status: ListingStatus;
  moderationStatus: ListingModerationStatus;
  moderationReason: string;
  /** On sale, visible, merchant and market active: a buyer can see and order it. */
  orderable: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last page. */
  nextCursor: string | null;
}

const listingNotFound = () => new DomainError("not_found", "Listing not found");
const marketNotFound = () => new DomainError("not_found", "Market not found");

// ---------------------------------------------------------------------------------------------
// Input: one zod schema per form over the strings a browser sends (numbers from code and the API:
// a number is already fen / a count). Messages are problem codes the pages translate.

/**
 * Text as typed → stored: what the merchant wrote, trimmed (NFC only, which changes no character a
 * reader can tell apart). A compatibility normalisation (NFKC) would rewrite their "，" as "," and
 * "㎡" as "m2"; it belongs to search keys only — `search_text` is NFKC-normalised in the database
 * and `searchKey` does the same to a query, so "T恤" finds "Ｔ恤" and "m2" finds "㎡".
 */
export function normalizeListingText(raw: string): string {
  return raw.normalize("NFC").trim();
}

/**
 * A search key: NFKC (full-width letters and digits, ㎡, the ideographic space folded to their
 * plain forms) and lower case — the same folding as the `search_text` column (migration 0017).
 */
export function searchKey(raw: string): string {
  return raw.normalize("NFKC").toLowerCase().trim();
}

/**
 * Categories are keys matched against the market's list (itself NFKC-normalised on save): a
 * category typed with full-width letters must still be the market's category.
 */
const categoryText = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform((v) => v.normalize("NFKC").trim())
    .pipe(z.string().min(1, "required").max(max, "too_long"));

const text = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform(normalizeListingText)
    .pipe(z.string().min(1, "required").max(max, "too_long"));

const optionalText = (max: number) =>
  z
    .string({ invalid_type_error: "required" })
    .nullish()
    .transform((v) => normalizeListingText(v ?? ""))
    .pipe(z.string().max(max, "too_long"));

/** Yuan as typed ("12.50", "¥1,299") → fen, or fen as a number; at least 1 fen. */
const priceField = z
  .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "money_format" })
  .transform((raw, ctx) => {
    const fen = typeof raw === "number" ? (Number.isSafeInteger(raw) ? raw : null) : raw.trim() === "" ? undefined : parseYuanToFen(raw);
    if (fen === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "required" });
      return z.NEVER;
    }
    if (fen === null || fen < 1) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "money_format" });
      return z.NEVER;
    }
    if (fen > LISTING_LIMITS.maxPriceFen) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "out_of_range" });
      return z.NEVER;
    }
    return fen;
  });

function wholeNumber(min: number, max: number, whenBlank?: number) {
  return z
    .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "whole_number" })
    .optional()
    .transform((raw, ctx) => {
      const blank = raw === undefined || (typeof raw === "string" && raw.trim() === "");
      if (blank && whenBlank !== undefined) return whenBlank;
      const n = blank ? undefined : typeof raw === "number" ? (Number.isSafeInteger(raw) ? raw : null) : parseWholeNumber(raw as string);
      return checkWholeNumber(n, min, max, ctx);
    });
}

/** Empty, or an http(s) address of at most 500 characters (the table's CHECK, said first here). */
const imageUrlField = z
  .string({ invalid_type_error: "url_format" })
  .nullish()
  .transform((v, ctx) => {
    const url = (v ?? "").trim();
    if (url === "") return "";
    let ok = url.length <= LISTING_LIMITS.imageUrlLength && /^https?:\/\/\S+$/i.test(url);
    if (ok) {
      try {
        new URL(url);
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "url_format" });
      return z.NEVER;
    }
    return url;
  });

const detailsShape = {
  title: text(LISTING_LIMITS.titleLength),
  titleEn: optionalText(LISTING_LIMITS.titleEnLength),
  category: categoryText(LISTING_LIMITS.categoryLength),
  spec: optionalText(LISTING_LIMITS.specLength),
  unit: text(LISTING_LIMITS.unitLength),
  price: priceField,
  minOrderQty: wholeNumber(1, LISTING_LIMITS.maxMinOrderQty, 1),
  imageUrl: imageUrlField,
};

/** The new-listing form (and the API's create body, mapped): price in yuan from a form, fen from code. */
export const listingFormSchema = z.object({ ...detailsShape, stockQty: wholeNumber(0, LISTING_LIMITS.maxStockQty) });
export type ListingInput = z.input<typeof listingFormSchema>;
export const LISTING_FORM_FIELDS = ["title", "titleEn", "category", "spec", "unit", "price", "stockQty", "minOrderQty", "imageUrl"] as const;

/** The edit form: everything but stock (its own form, its own rule) and status. */
export const listingDetailsSchema = z.object(detailsShape);
export type ListingDetailsInput = z.input<typeof listingDetailsSchema>;
export const LISTING_DETAILS_FIELDS = ["title", "titleEn", "category", "spec", "unit", "price", "minOrderQty", "imageUrl"] as const;

/** Set the stock to a number; with `expectedStockQty`, only if it still is what the merchant saw. */
export const stockFormSchema = z.object({
  stockQty: wholeNumber(0, LISTING_LIMITS.maxStockQty),
  expectedStockQty: z
    .union([z.string(), z.number()])
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || (typeof raw === "string" && raw.trim() === "")) return undefined;
      const n = typeof raw === "number" ? (Number.isSafeInteger(raw) && raw >= 0 ? raw : null) : parseWholeNumber(raw);
      if (n === null) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "whole_number" });
        return z.NEVER;
      }
      return n;
    }),
});
export type StockInput = z.input<typeof stockFormSchema>;

export const moderationReasonSchema = z.object({ reason: text(LISTING_LIMITS.reasonLength) });

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * The rule a buyer orders by, over a listing `l` joined to its market `m`, its merchant's membership
 * `mm` and the merchant `o`: on sale, visible, in an open market, from an active merchant.
 */
export const orderableListing = sql<boolean>`(l.status = 'active' and l.moderation_status = 'visible' and m.status = 'active' and mm.status = 'active' and o.status = 'active')`;

const cursorAt = sql<string>`to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function listingQuery(db: Db) {
  return db
    .selectFrom("market_listings as l")
    .innerJoin("markets as m", "m.id", "l.market_id")
    .innerJoin("organizations as o", "o.id", "l.merchant_id")
    .innerJoin("market_merchants as mm", (join) => join.onRef("mm.market_id", "=", "l.market_id").onRef("mm.merchant_id", "=", "l.merchant_id"))
    .leftJoin("market_stalls as s", "s.id", "mm.stall_id")
    .select([
      "l.id",
      "l.market_id",
      "m.name as market_name",
      "l.merchant_id",
      "o.name as merchant_name",
      "o.name_en as merchant_name_en",
      "s.code as stall_code",
      "l.title",
      "l.title_en",
      "l.category",
      "l.spec",
      "l.unit",
      "l.price_fen",
      "l.stock_qty",
      "l.min_order_qty",
      "l.image_url",
      "l.status",
      "l.moderation_status",
      "l.moderation_reason",
      "l.created_at",
      "l.updated_at",
      cursorAt.as("cursor_at"),
      orderableListing.as("orderable"),
    ]);
}
type ListingRow = Awaited<ReturnType<ReturnType<typeof listingQuery>["executeTakeFirstOrThrow"]>>;

function toListing(r: ListingRow): Listing {
  return {
    id: r.id,
    marketId: r.market_id,
    marketName: r.market_name,
    merchantId: r.merchant_id,
    merchantName: r.merchant_name,
    merchantNameEn: r.merchant_name_en,
    stallCode: r.stall_code,
    title: r.title,
    titleEn: r.title_en,
    category: r.category,
    spec: r.spec,
    unit: r.unit,
    priceFen: r.price_fen,
    stockQty: r.stock_qty,
    minOrderQty: r.min_order_qty,
    imageUrl: r.image_url,
    status: r.status,
    moderationStatus: r.moderation_status,
    moderationReason: r.moderation_reason,
    orderable: Boolean(r.orderable),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** What a buyer may see of every listing: the orderable ones only. */
function orderableOnly<Q extends ReturnType<typeof listingQuery>>(query: Q): Q {
  return query.where(orderableListing) as Q;
}

export function clampPageSize(limit: number | undefined | null): number {
  if (limit === undefined || limit === null || !Number.isFinite(limit)) return LISTING_LIMITS.pageSizeDefault;
  return Math.min(Math.max(Math.trunc(limit), 1), LISTING_LIMITS.pageSizeMax);
}

/**
 * Pages are walked newest first by (created_at, id), both descending: the id breaks ties between
 * listings created in the same microsecond, so no row is skipped or shown twice. The cursor is
 * the last row's pair (the shared codec, cursor.server.ts), with the timestamp at PostgreSQL's
 * microsecond precision (a JS Date would cut it to milliseconds and repeat or skip rows).
 */
function listingCursor(row: { cursor_at: string; id: string }): string {
  return encodeCursor([row.cursor_at, row.id]);
}

export function decodeCursor(after: string | null | undefined): { at: string; id: string } | null {
  const parts = decodeSharedCursor(after, ["timestamp", "uuid"]);
  return parts ? { at: parts[0], id: parts[1].toLowerCase() } : null;
}

async function keysetPage<Q extends ReturnType<typeof listingQuery>>(query: Q, after: string | null | undefined, limit: number | undefined | null): Promise<Page<Listing>> {
  const size = clampPageSize(limit);
  const cursor = decodeCursor(after);
  let q = query;
  if (cursor) q = q.where(sql<SqlBool>`(l.created_at, l.id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`) as Q;
  const rows = await q.orderBy("l.created_at", "desc").orderBy("l.id", "desc").limit(size + 1).execute();
  const page = rows.slice(0, size);
  return { items: page.map(toListing), nextCursor: rows.length > size ? listingCursor(page[page.length - 1]) : null };
}

function escapeLike(term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * A search box's text → search-key terms (`searchKey`: NFKC and lower case, as `search_text` is
 * folded: full-width Ｔ恤 → t恤, ㎡ → m2, the ideographic space → a space), then split on spaces and
 * commas. Too long or too many terms is a `q` problem.
 */
export function searchTerms(q: string | null | undefined): string[] {
  const text = searchKey(q ?? "");
  if (text.length > LISTING_LIMITS.queryLength) throw new DomainError("validation", `q is over ${LISTING_LIMITS.queryLength} characters`, { q: "too_long" });
  const terms = [...new Set(text.split(/[\s,;、，；]+/).filter(Boolean))];
  if (terms.length > LISTING_LIMITS.queryTermsMax) throw new DomainError("validation", `q has more than ${LISTING_LIMITS.queryTermsMax} words`, { q: "too_many" });
  return terms;
}

/**
 * Every term must appear in the listing's text (title, English title, spec, category: the
 * generated, lower-cased `search_text`) or in its merchant's name. Substring matching works for
 * Chinese, which has no spaces between words. A sequential filter over the market's rows; a
 * trigram index is the next step if one market outgrows it.
 */
function withTerms<Q extends ReturnType<typeof listingQuery>>(query: Q, terms: readonly string[]): Q {
  let q = query;
  for (const term of terms) {
    const pattern = `%${escapeLike(term)}%`;
    q = q.where(
      sql<SqlBool>`(l.search_text ilike ${pattern} or normalize(o.name, NFKC) ilike ${pattern} or normalize(coalesce(o.name_en, ''), NFKC) ilike ${pattern})`,
    ) as Q;
  }
  return q;
}

function optionalUuid(value: string | null | undefined, field: string): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (!isUuid(value)) throw new DomainError("validation", `${field} is not an id`, { [field]: "unknown" });
  return value.toLowerCase();
}

function priceBounds(minPriceFen: number | null | undefined, maxPriceFen: number | null | undefined): { min: number | null; max: number | null } {
  const check = (v: number | null | undefined, field: string) => {
    if (v === undefined || v === null) return null;
    if (!Number.isSafeInteger(v) || v < 0 || v > LISTING_LIMITS.maxPriceFen) throw new DomainError("validation", `${field} is not a price`, { [field]: "money_format" });
    return v;
  };
  const min = check(minPriceFen, "minPrice");
  const max = check(maxPriceFen, "maxPrice");
  if (min !== null && max !== null && min > max) throw new DomainError("validation", "The lowest price is above the highest", { maxPrice: "price_range" });
  return { min, max };
}

// ---------------------------------------------------------------------------------------------
// Merchant

/** Filters every list of listings takes; `status` and `moderation` only matter where hidden and off-sale rows are listed. */
export interface ListingFilters {
  q?: string | null;
  category?: string | null;
  /** Inclusive bounds, fen. */
  minPriceFen?: number | null;
  maxPriceFen?: number | null;
  merchantId?: string | null;
  status?: ListingStatus | null;
  moderation?: ListingModerationStatus | null;
  after?: string | null;
  limit?: number | null;
}

/** Checked before any query: a bad filter is a validation error naming it. */
function filtered<Q extends ReturnType<typeof listingQuery>>(query: Q, filters: ListingFilters): Q {
  const terms = searchTerms(filters.q);
  const price = priceBounds(filters.minPriceFen, filters.maxPriceFen);
  const merchantId = optionalUuid(filters.merchantId, "merchantId");
  let q = withTerms(query, terms);
  const category = filters.category ? filters.category.normalize("NFKC").trim() : "";
  if (category) q = q.where("l.category", "=", category) as Q;
  if (price.min !== null) q = q.where("l.price_fen", ">=", price.min) as Q;
  if (price.max !== null) q = q.where("l.price_fen", "<=", price.max) as Q;
  if (merchantId) q = q.where("l.merchant_id", "=", merchantId) as Q;
  if (filters.status) q = q.where("l.status", "=", filters.status) as Q;
  if (filters.moderation) q = q.where("l.moderation_status", "=", filters.moderation) as Q;
  return q;
}

export interface MerchantListingFilters extends Omit<ListingFilters, "merchantId"> {
  marketId?: string | null;
}

/** The merchant's own listings, newest first, any status (keyset pages of at most 100). */
export async function listMerchantListings(db: Db, merchantId: string, filters: MerchantListingFilters = {}): Promise<Page<Listing>> {
  const marketId = optionalUuid(filters.marketId, "marketId");
  let query = filtered(listingQuery(db), filters);
  if (!isUuid(merchantId)) return { items: [], nextCursor: null };
  query = query.where("l.merchant_id", "=", merchantId);
  if (marketId) query = query.where("l.market_id", "=", marketId);
  return keysetPage(query, filters.after, filters.limit);
}

/** How many listings the merchant has, by what buyers can see (for its list's header). */
export async function countMerchantListings(db: Db, merchantId: string): Promise<{ total: number; active: number; inactive: number; hidden: number }> {
  if (!isUuid(merchantId)) return { total: 0, active: 0, inactive: 0, hidden: 0 };
  const row = await db
    .selectFrom("market_listings")
    .select((eb) => [
      eb.fn.countAll<number>().as("total"),
      eb.fn.count<number>("id").filterWhere("status", "=", "active").as("active"),
      eb.fn.count<number>("id").filterWhere("status", "=", "inactive").as("inactive"),
      eb.fn.count<number>("id").filterWhere("moderation_status", "=", "hidden").as("hidden"),
    ])
    .where("merchant_id", "=", merchantId)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), active: Number(row.active), inactive: Number(row.inactive), hidden: Number(row.hidden) };
}

/** One of the merchant's own listings; another merchant's (or no) id → not_found. */
export async function getMerchantListing(db: Db, merchantId: string, listingId: string): Promise<Listing> {
  if (!isUuid(listingId) || !isUuid(merchantId)) throw listingNotFound();
  const row = await listingQuery(db).where("l.id", "=", listingId).where("l.merchant_id", "=", merchantId).executeTakeFirst();
  if (!row) throw listingNotFound();
  return toListing(row);
}

async function lockMerchantListing(trx: Db, merchantId: string, listingId: string): Promise<Listing> {
  if (!isUuid(listingId) || !isUuid(merchantId)) throw listingNotFound();
  const locked = await trx
    .selectFrom("market_listings")
    .select("id")
    .where("id", "=", listingId)
    .where("merchant_id", "=", merchantId)
    .forUpdate()
    .executeTakeFirst();
  if (!locked) throw listingNotFound();
  return getMerchantListing(trx, merchantId, listingId);
}

export interface TradingMarket {
  marketId: string;
  operatorId: string;
  marketName: string;
  /** The market's categories ∩ the merchant's: what it may list here. */
  categories: string[];
  /** Active market, active membership, active organisation: it may list and sell here. */
  canTrade: boolean;
}

/** The markets a merchant belongs to, with the categories it may list in each (at most 100). */
export async function listMerchantTradingMarkets(db: Db, merchantId: string): Promise<TradingMarket[]> {
  if (!isUuid(merchantId)) return [];
  const rows = await membershipQuery(db).where("mm.merchant_id", "=", merchantId).orderBy("m.name").limit(LISTING_LIMITS.marketsMax).execute();
  return rows.map(toTradingMarket);
}

function membershipQuery(db: Db) {
  return db
    .selectFrom("market_merchants as mm")
    .innerJoin("markets as m", "m.id", "mm.market_id")
    .innerJoin("organizations as o", "o.id", "mm.merchant_id")
    .select([
      "mm.market_id",
      "mm.operator_id",
      "m.name as market_name",
      "m.categories as market_categories",
      "mm.categories as merchant_categories",
      "m.status as market_status",
      "mm.status as membership_status",
      "o.status as merchant_status",
    ]);
}
type MembershipRow = Awaited<ReturnType<ReturnType<typeof membershipQuery>["executeTakeFirstOrThrow"]>>;

function toTradingMarket(r: MembershipRow): TradingMarket {
  return {
    marketId: r.market_id,
    operatorId: r.operator_id,
    marketName: r.market_name,
    categories: r.market_categories.filter((c) => r.merchant_categories.includes(c)),
    canTrade: r.market_status === "active" && r.membership_status === "active" && r.merchant_status === "active",
  };
}

/**
 * The merchant's membership of a market it may list in now. No membership (or another market's
 * id) → not_found; a closed market, a suspended membership or organisation → invalid_state on
 * `marketId`; a category outside the market's or the merchant's → validation on `category`.
 */
async function requireTrading(db: Db, merchantId: string, marketId: string, category?: string): Promise<TradingMarket> {
  if (!isUuid(marketId) || !isUuid(merchantId)) throw marketNotFound();
  const row = await membershipQuery(db).where("mm.market_id", "=", marketId).where("mm.merchant_id", "=", merchantId).executeTakeFirst();
  if (!row) throw marketNotFound();
  const market = toTradingMarket(row);
  if (!market.canTrade) {
    throw new DomainError("invalid_state", "You cannot list in this market now: the market is closed or your stall is suspended", { marketId: "merchant_not_active" });
  }
  if (category !== undefined) {
    if (!row.market_categories.includes(category)) {
      throw new DomainError("validation", `Not a category of this market: ${category}`, { category: "unknown_category" });
    }
    if (!row.merchant_categories.includes(category)) {
      throw new DomainError("validation", `Your stall is not approved for ${category}`, { category: "category_not_allowed" });
    }
  }
  return market;
}

function listingAudit(l: Pick<Listing, "title" | "titleEn" | "category" | "spec" | "unit" | "priceFen" | "minOrderQty" | "imageUrl">) {
  return {
    title: l.title,
    title_en: l.titleEn,
    category: l.category,
    spec: l.spec,
    unit: l.unit,
    price_fen: l.priceFen,
    min_order_qty: l.minOrderQty,
    image_url: l.imageUrl,
  };
}

/** A merchant lists goods in one of its markets (on sale, visible, at once). */
export async function createListing(db: Db, actor: Actor, merchantId: string, marketId: string, raw: ListingInput): Promise<Listing> {
  const input = parseOrRefuse(listingFormSchema, raw, "Listing");
  return inTransaction(db, async (trx) => {
    const market = await requireTrading(trx, merchantId, marketId, input.category);
    const count = await trx
      .selectFrom("market_listings")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("market_id", "=", market.marketId)
      .where("merchant_id", "=", merchantId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= LISTING_LIMITS.listingsPerMerchantMarketMax) {
      throw new DomainError("validation", `At most ${LISTING_LIMITS.listingsPerMerchantMarketMax} listings per market`, { marketId: "too_many" });
    }
    const row = await trx
      .insertInto("market_listings")
      .values({
        market_id: market.marketId,
        operator_id: market.operatorId,
        merchant_id: merchantId,
        title: input.title,
        title_en: input.titleEn,
        category: input.category,
        spec: input.spec,
        unit: input.unit,
        price_fen: input.price,
        stock_qty: input.stockQty,
        min_order_qty: input.minOrderQty,
        image_url: input.imageUrl,
        // The statement's clock, not the transaction's: listings created together (an import, the
        // demo seed) keep their order on the newest-first pages.
        created_at: sql`clock_timestamp()`,
        updated_at: sql`clock_timestamp()`,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const listing = await getMerchantListing(trx, merchantId, row.id);
    await recordAudit(trx, actor, {
      action: "market_listing.created",
      entityType: "market_listing",
      entityId: listing.id,
      organizationId: merchantId,
      after: { market_id: listing.marketId, ...listingAudit(listing), stock_qty: listing.stockQty },
    });
    return listing;
  });
}

/** Change a listing's details (not its stock or status). The merchant must be trading in its market. */
export async function updateListing(db: Db, actor: Actor, merchantId: string, listingId: string, raw: ListingDetailsInput): Promise<Listing> {
  const input = parseOrRefuse(listingDetailsSchema, raw, "Listing");
  return inTransaction(db, async (trx) => {
    const before = await lockMerchantListing(trx, merchantId, listingId);
    await requireTrading(trx, merchantId, before.marketId, input.category);
    await trx
      .updateTable("market_listings")
      .set({
        title: input.title,
        title_en: input.titleEn,
        category: input.category,
        spec: input.spec,
        unit: input.unit,
        price_fen: input.price,
        min_order_qty: input.minOrderQty,
        image_url: input.imageUrl,
        updated_at: sql`now()`,
      })
      .where("id", "=", before.id)
      .where("merchant_id", "=", merchantId)
      .execute();
    const after = await getMerchantListing(trx, merchantId, before.id);
    await recordAudit(trx, actor, {
      action: "market_listing.updated",
      entityType: "market_listing",
      entityId: before.id,
      organizationId: merchantId,
      before: listingAudit(before),
      after: listingAudit(after),
    });
    return after;
  });
}

/**
 * Set the stock to a count the merchant gives (after a stock-take). Under the row's lock, so a
 * checkout taking stock at the same moment is either before (and overwritten, as the merchant
 * meant) or after (and takes from the new count). With `expectedStockQty` — the count the merchant
 * was looking at — a stock that moved meanwhile is refused instead (`concurrent_change`).
 */
export async function setListingStock(db: Db, actor: Actor, merchantId: string, listingId: string, raw: StockInput): Promise<Listing> {
  const input = parseOrRefuse(stockFormSchema, raw, "Stock");
  return inTransaction(db, async (trx) => {
    const before = await lockMerchantListing(trx, merchantId, listingId);
    if (input.expectedStockQty !== undefined && input.expectedStockQty !== before.stockQty) {
      throw new DomainError("conflict", `The stock changed to ${before.stockQty} meanwhile (orders took some): check and set it again`, {
        stockQty: "concurrent_change",
      });
    }
    if (input.stockQty === before.stockQty) return before;
    await trx
      .updateTable("market_listings")
      .set({ stock_qty: input.stockQty, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("merchant_id", "=", merchantId)
      .execute();
    await recordAudit(trx, actor, {
      action: "market_listing.stock_set",
      entityType: "market_listing",
      entityId: before.id,
      organizationId: merchantId,
      before: { stock_qty: before.stockQty },
      after: { stock_qty: input.stockQty },
    });
    return getMerchantListing(trx, merchantId, before.id);
  });
}

/**
 * Move the stock by a delta (goods received: +, damaged: −) in one guarded UPDATE: it applies only
 * if the result stays within 0…max, so concurrent checkouts and adjustments never drive it below 0.
 */
export async function adjustListingStock(db: Db, actor: Actor, merchantId: string, listingId: string, input: { deltaQty: number }): Promise<Listing> {
  const delta = input.deltaQty;
  if (!Number.isSafeInteger(delta) || delta === 0 || Math.abs(delta) > LISTING_LIMITS.maxStockQty) {
    throw new DomainError("validation", "deltaQty must be a non-zero whole number", { deltaQty: delta === 0 ? "required" : "whole_number" });
  }
  return inTransaction(db, async (trx) => {
    const before = await getMerchantListing(trx, merchantId, listingId);
    const moved = await trx
      .updateTable("market_listings")
      .set({ stock_qty: sql`stock_qty + ${delta}`, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("merchant_id", "=", merchantId)
      .where(sql<SqlBool>`stock_qty + ${delta} between 0 and ${LISTING_LIMITS.maxStockQty}`)
      .returning("stock_qty")
      .executeTakeFirst();
    if (!moved) {
      throw new DomainError("conflict", "That would take the stock below 0 (or above the maximum)", { deltaQty: "out_of_range" });
    }
    await recordAudit(trx, actor, {
      action: "market_listing.stock_adjusted",
      entityType: "market_listing",
      entityId: before.id,
      organizationId: merchantId,
      before: { stock_qty: moved.stock_qty - delta },
      after: { stock_qty: moved.stock_qty, delta_qty: delta },
    });
    return getMerchantListing(trx, merchantId, before.id);
  });
}

/**
 * Put a listing on sale or take it off. Setting the status it already has changes nothing (a
 * second click). Putting it on sale needs the merchant trading in the market and the category
 * still allowed; taking it off is always possible.
 */
export async function setListingStatus(db: Db, actor: Actor, merchantId: string, listingId: string, status: ListingStatus): Promise<Listing> {
  if (status !== "active" && status !== "inactive") throw new DomainError("validation", "status is active or inactive", { status: "status" });
  return inTransaction(db, async (trx) => {
    const before = await lockMerchantListing(trx, merchantId, listingId);
    if (before.status === status) return before;
    const event: ListingStatusEvent = status === "active" ? "activate" : "deactivate";
    const to = LISTING_STATUS_TRANSITIONS[before.status][event];
    if (!to) throw invalidTransition(before.status, event);
    if (event === "activate") await requireTrading(trx, merchantId, before.marketId, before.category);
    await trx
      .updateTable("market_listings")
      .set({ status: to, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("merchant_id", "=", merchantId)
      .execute();
    await recordAudit(trx, actor, {
      action: event === "activate" ? "market_listing.activated" : "market_listing.deactivated",
      entityType: "market_listing",
      entityId: before.id,
      organizationId: merchantId,
      before: { status: before.status },
      after: { status: to },
    });
    return getMerchantListing(trx, merchantId, before.id);
  });
}

// ---------------------------------------------------------------------------------------------
// Operator

/** Every listing of one of the operator's markets (any status), newest first; another operator's market → not_found. */
export async function listMarketListingsForOperator(db: Db, operatorId: string, marketId: string, filters: ListingFilters = {}): Promise<Page<Listing>> {
  const market = await getMarket(db, operatorId, marketId);
  const query = filtered(listingQuery(db), filters).where("l.market_id", "=", market.id).where("l.operator_id", "=", operatorId);
  return keysetPage(query, filters.after, filters.limit);
}

/** One listing of one of the operator's markets; without `marketId`, of any of its markets. */
export async function getListingForOperator(db: Db, operatorId: string, marketId: string | null, listingId: string): Promise<Listing> {
  if (!isUuid(listingId) || !isUuid(operatorId) || (marketId !== null && !isUuid(marketId))) throw listingNotFound();
  let query = listingQuery(db).where("l.id", "=", listingId).where("l.operator_id", "=", operatorId);
  if (marketId !== null) query = query.where("l.market_id", "=", marketId);
  const row = await query.executeTakeFirst();
  if (!row) throw listingNotFound();
  return toListing(row);
}

async function moderate(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  listingId: string,
  event: ListingModerationEvent,
  reason: string,
): Promise<Listing> {
  return inTransaction(db, async (trx) => {
    if (!isUuid(listingId) || !isUuid(marketId)) throw listingNotFound();
    const locked = await trx
      .selectFrom("market_listings")
      .select("id")
      .where("id", "=", listingId)
      .where("market_id", "=", marketId)
      .where("operator_id", "=", operatorId)
      .forUpdate()
      .executeTakeFirst();
    if (!locked) throw listingNotFound();
    const before = await getListingForOperator(trx, operatorId, marketId, listingId);
    const to = LISTING_MODERATION_TRANSITIONS[before.moderationStatus][event];
    if (!to) throw invalidTransition(before.moderationStatus, event);
    await trx
      .updateTable("market_listings")
      // A visible listing keeps no reason (the table's CHECK); the audit trail keeps every one.
      .set({ moderation_status: to, moderation_reason: to === "hidden" ? reason : "", updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("operator_id", "=", operatorId)
      .execute();
    await recordAudit(trx, actor, {
      action: event === "hide" ? "market_listing.hidden" : "market_listing.unhidden",
      entityType: "market_listing",
      entityId: before.id,
      organizationId: operatorId,
      before: { moderation_status: before.moderationStatus, moderation_reason: before.moderationReason },
      after: { moderation_status: to, reason },
    });
    return getListingForOperator(trx, operatorId, marketId, before.id);
  });
}

/** Hide a listing from buyers, with the reason the merchant will read. */
export async function hideListing(db: Db, actor: Actor, operatorId: string, marketId: string, listingId: string, input: { reason: string }): Promise<Listing> {
  const { reason } = parseOrRefuse(moderationReasonSchema, input, "Reason");
  return moderate(db, actor, operatorId, marketId, listingId, "hide", reason);
}

/** Show a hidden listing again; a note is optional (kept in the audit trail). */
export async function unhideListing(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  listingId: string,
  input: { reason?: string | null } = {},
): Promise<Listing> {
  const { reason } = parseOrRefuse(z.object({ reason: optionalText(LISTING_LIMITS.reasonLength) }), input, "Reason");
  return moderate(db, actor, operatorId, marketId, listingId, "unhide", reason);
}

// ---------------------------------------------------------------------------------------------
// Buyers

export interface OpenMarket {
  id: string;
  name: string;
  city: string;
  categories: string[];
  operatorName: string;
  /** Orderable listings now. */
  listingCount: number;
}

/**
 * The active markets a buyer may shop in: all of them (see the module note), by name, at most 100.
 */
export async function listOpenMarkets(db: Db): Promise<OpenMarket[]> {
  const rows = await db
    .selectFrom("markets as m")
    .innerJoin("organizations as op", "op.id", "m.operator_id")
    .select([
      "m.id",
      "m.name",
      "m.city",
      "m.categories",
      "op.name as operator_name",
      (eb) =>
        eb
          .selectFrom("market_listings as l")
          .innerJoin("market_merchants as mm", (join) => join.onRef("mm.market_id", "=", "l.market_id").onRef("mm.merchant_id", "=", "l.merchant_id"))
          .innerJoin("organizations as o", "o.id", "l.merchant_id")
          .select((c) => c.fn.countAll<number>().as("n"))
          .whereRef("l.market_id", "=", "m.id")
          .where("l.status", "=", "active")
          .where("l.moderation_status", "=", "visible")
          .where("mm.status", "=", "active")
          .where("o.status", "=", "active")
          .as("listing_count"),
    ])
    .where("m.status", "=", "active")
    .orderBy("m.name")
    .limit(LISTING_LIMITS.marketsMax)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    city: r.city,
    categories: r.categories,
    operatorName: r.operator_name,
    listingCount: Number(r.listing_count ?? 0),
  }));
}

export interface OpenMarketDetail extends Omit<OpenMarket, "listingCount"> {
  /** The merchants trading here now, for the search's merchant filter (by name). */
  merchants: { merchantId: string; name: string; nameEn: string | null; stallCode: string | null }[];
}

/** An active market as a buyer sees it; a closed or unknown market → not_found. */
export async function getOpenMarket(db: Db, marketId: string): Promise<OpenMarketDetail> {
  if (!isUuid(marketId)) throw marketNotFound();
  const market = await db
    .selectFrom("markets as m")
    .innerJoin("organizations as op", "op.id", "m.operator_id")
    .select(["m.id", "m.name", "m.city", "m.categories", "op.name as operator_name"])
    .where("m.id", "=", marketId)
    .where("m.status", "=", "active")
    .executeTakeFirst();
  if (!market) throw marketNotFound();
  const merchants = await db
    .selectFrom("market_merchants as mm")
    .innerJoin("organizations as o", "o.id", "mm.merchant_id")
    .leftJoin("market_stalls as s", "s.id", "mm.stall_id")
    .select(["mm.merchant_id", "o.name", "o.name_en", "s.code as stall_code"])
    .where("mm.market_id", "=", market.id)
    .where("mm.status", "=", "active")
    .where("o.status", "=", "active")
    .orderBy("o.name")
    .limit(LISTING_LIMITS.merchantsPerMarketMax)
    .execute();
  return {
    id: market.id,
    name: market.name,
    city: market.city,
    categories: market.categories,
    operatorName: market.operator_name,
    merchants: merchants.map((m) => ({ merchantId: m.merchant_id, name: m.name, nameEn: m.name_en, stallCode: m.stall_code })),
  };
}

export interface ListingSearch extends Omit<ListingFilters, "status" | "moderation"> {
  marketId: string;
}

/**
 * A buyer's search of one active market: orderable listings only, newest first, keyset pages of at
 * most 100. `q` words each match the listing's text or its merchant's name (Chinese or English);
 * prices are fen, both bounds inclusive. An unknown or closed market → not_found.
 */
export async function searchListings(db: Db, search: ListingSearch): Promise<Page<Listing>> {
  if (!isUuid(search.marketId)) throw marketNotFound();
  const query = filtered(orderableOnly(listingQuery(db)), { ...search, status: null, moderation: null });
  const market = await db.selectFrom("markets").select("id").where("id", "=", search.marketId).where("status", "=", "active").executeTakeFirst();
  if (!market) throw marketNotFound();
  return keysetPage(query.where("l.market_id", "=", market.id), search.after, search.limit);
}

/**
 * One listing as a buyer may see it: orderable, in that market (or in any market when `marketId`
 * is null, for the API's /listings/{id}). Anything else → not_found.
 */
export async function getListingForBuyer(db: Db, marketId: string | null, listingId: string): Promise<Listing> {
  if (!isUuid(listingId) || (marketId !== null && !isUuid(marketId))) throw listingNotFound();
  let query = orderableOnly(listingQuery(db)).where("l.id", "=", listingId);
  if (marketId !== null) query = query.where("l.market_id", "=", marketId);
  const row = await query.executeTakeFirst();
  if (!row) throw listingNotFound();
  return toListing(row);
}
