import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { recordAudit, type Actor, DomainError, decodeCursor, encodeCursor, isUuid, isBusinessDate, shanghaiDate } from "../shared";
import { clampPageSize, isUniqueViolation, normalizeSkuCode, parseCursor, skuCursor, parseWholeNumber, parseYuanToFen, searchFilter, SKU_LIMITS, type SkuPage } from "../catalog";
import { type Fen } from "../ledger";

/**
 * Prices a dealer pays.
 *
 * Resolution, for one SKU, one dealer, one quantity, on one business date (Asia/Shanghai):
 *   1. a dealer-specific override valid on the date                          → `dealer_override`
 *   2. the dealer's tier price list valid on the date: the item with the highest
 *      min_qty ≤ quantity; min_qty > 1                                       → `volume_break`
 *                                                       min_qty = 1          → `tier_price`
 *   3. otherwise the SKU's base price                                        → `base_price`
 *
 * Invariants:
 *  P1 validity is by business date, both ends inclusive, no end = open-ended;
 *  P2 at most one price list of a tier is valid on any date, and at most one override of a dealer
 *     and SKU: creating or moving one that would overlap is refused (under a lock on the tier or
 *     dealer link, so two at once cannot both pass); resolution still breaks ties deterministically
 *     (latest valid_from, then latest created) should one ever slip past;
 *  P3 every price is tax-inclusive integer fen; the quote carries the SKU's tax rate;
 *  P4 a quote costs a constant number of queries whatever the number of lines.
 */

export type PriceRule = "dealer_override" | "volume_break" | "tier_price" | "base_price";

export const PRICING_LIMITS = {
  maxQuoteLines: 500,
  maxPriceListsShown: 200,
  maxOverridesShown: 200,
  itemsPageSize: 50,
  nameLength: 100,
  noteLength: 200,
  maxTiers: 20,
} as const;

// ---------------------------------------------------------------------------------------------
// Business dates


/** Read a date column as text: a bare `date` would come back as a Date at some zone's midnight. */
const dateText = (column: string) => sql<string>`to_char(${sql.ref(column)}, 'YYYY-MM-DD')`;
const nullableDateText = (column: string) => sql<string | null>`to_char(${sql.ref(column)}, 'YYYY-MM-DD')`;

/** `[from, to]` (to null = open) contains `on`; all 'YYYY-MM-DD', which compare as strings. */
export function validOn(range: { validFrom: string; validTo: string | null }, on: string): boolean {
  return range.validFrom <= on && (range.validTo === null || range.validTo >= on);
}

export function rangesOverlap(
  a: { validFrom: string; validTo: string | null },
  b: { validFrom: string; validTo: string | null },
): boolean {
  return a.validFrom <= (b.validTo ?? "9999-12-31") && b.validFrom <= (a.validTo ?? "9999-12-31");
}

// ---------------------------------------------------------------------------------------------
// Resolution (pure)

export interface PriceBreak {
  minQty: number;
  priceFen: Fen;
}

export interface OverrideCandidate {
  id: string;
  priceFen: Fen;
  validFrom: string;
  validTo: string | null;
  note: string;
}

export interface PriceListCandidate {
  id: string;
  name: string;
  tierId: string;
  tierName: string;
  validFrom: string;
  validTo: string | null;
  /** This SKU's items in the list (any order). */
  items: PriceBreak[];
}

export interface PriceCandidates {
  basePriceFen: Fen;
  tierName: string | null;
  /** The override valid on the date, if any. */
  override: OverrideCandidate | null;
  /** The tier's price list valid on the date, if any. */
  priceList: PriceListCandidate | null;
}

export type PriceExplanation =
  | { rule: "dealer_override"; overrideId: string; validFrom: string; validTo: string | null; note: string }
  | {
      rule: "volume_break" | "tier_price";
      priceListId: string;
      priceListName: string;
      tierName: string;
      minQty: number;
      validFrom: string;
      validTo: string | null;
    }
  | {
      rule: "base_price";
      /** Why nothing beat the base price. */
      reason: "no_tier" | "no_price_list" | "not_in_price_list" | "below_first_break";
      tierName: string | null;
      priceListId: string | null;
      priceListName: string | null;
      /** below_first_break: the smallest quantity the list prices. */
      firstBreakQty: number | null;
    };

export interface ResolvedPrice {
  unitPriceFen: Fen;
  rule: PriceRule;
  explanation: PriceExplanation;
  /** One English sentence: for logs, the API and tests. Pages build theirs from `explanation`. */
  summary: string;
}

const open = (to: string | null) => to ?? "open";

/** The resolution rule itself, over candidates already filtered to the date. */
export function resolvePrice(candidates: PriceCandidates, quantity: number): ResolvedPrice {
  const { override, priceList } = candidates;
  if (override) {
    return {
      unitPriceFen: override.priceFen,
      rule: "dealer_override",
      explanation: { rule: "dealer_override", overrideId: override.id, validFrom: override.validFrom, validTo: override.validTo, note: override.note },
      summary: `dealer override valid ${override.validFrom} – ${open(override.validTo)}`,
    };
  }
  if (priceList) {
    let best: PriceBreak | null = null;
    for (const item of priceList.items) {
      if (item.minQty <= quantity && (best === null || item.minQty > best.minQty)) best = item;
    }
    if (best) {
      const rule = best.minQty > 1 ? "volume_break" : "tier_price";
      return {
        unitPriceFen: best.priceFen,
        rule,
        explanation: {
          rule,
          priceListId: priceList.id,
          priceListName: priceList.name,
          tierName: priceList.tierName,
          minQty: best.minQty,
          validFrom: priceList.validFrom,
          validTo: priceList.validTo,
        },
        summary:
          rule === "volume_break"
            ? `volume break from ${best.minQty} in price list "${priceList.name}" (${priceList.tierName})`
            : `tier price in price list "${priceList.name}" (${priceList.tierName})`,
      };
    }
    const firstBreakQty = priceList.items.length ? Math.min(...priceList.items.map((i) => i.minQty)) : null;
    const reason = firstBreakQty === null ? "not_in_price_list" : "below_first_break";
    return {
      unitPriceFen: candidates.basePriceFen,
      rule: "base_price",
      explanation: { rule: "base_price", reason, tierName: priceList.tierName, priceListId: priceList.id, priceListName: priceList.name, firstBreakQty },
      summary:
        reason === "not_in_price_list"
          ? `base price: the SKU is not in price list "${priceList.name}"`
          : `base price: quantity below the list's first break (${firstBreakQty})`,
    };
  }
  const reason = candidates.tierName === null ? "no_tier" : "no_price_list";
  return {
    unitPriceFen: candidates.basePriceFen,
    rule: "base_price",
    explanation: { rule: "base_price", reason, tierName: candidates.tierName, priceListId: null, priceListName: null, firstBreakQty: null },
    summary: reason === "no_tier" ? "base price: the dealer has no tier" : `base price: no price list of tier ${candidates.tierName} is valid on the date`,
  };
}

// ---------------------------------------------------------------------------------------------
// Loading candidates: a fixed number of queries for any number of SKUs.

/** The dealer link as pricing needs it (a `DealerLink` of dealers.server.ts is one). */
export interface LinkForPricing {
  id: string;
  coreEnterpriseId: string;
  dealerId: string;
  tierId: string | null;
  tierName: string | null;
  status: "active" | "suspended";
}

/** A SKU as pricing needs it (a `Sku` of catalog.server.ts is one). */
export interface SkuForPricing {
  id: string;
  coreEnterpriseId: string;
  basePriceFen: Fen;
  taxRateBps: number;
}

async function linkForPricing(db: Db, coreEnterpriseId: string, dealerId: string): Promise<LinkForPricing> {
  const row = isUuid(dealerId)
    ? await db
        .selectFrom("dealer_links as l")
        .leftJoin("dealer_tiers as t", "t.id", "l.tier_id")
        .select(["l.id", "l.core_enterprise_id", "l.dealer_id", "l.tier_id", "t.name as tier_name", "l.status"])
        .where("l.core_enterprise_id", "=", coreEnterpriseId)
        .where("l.dealer_id", "=", dealerId)
        .executeTakeFirst()
    : undefined;
  if (!row) throw new DomainError("not_found", "This dealer is not in the core enterprise's network", { dealerId: "not_in_network" });
  return {
    id: row.id,
    coreEnterpriseId: row.core_enterprise_id,
    dealerId: row.dealer_id,
    tierId: row.tier_id,
    tierName: row.tier_name,
    status: row.status,
  };
}

/**
 * The tier's list valid on the date (P2's tie-break), with its items for these SKUs: one query,
 * the list joined to its items (one row per item, or one row with no item).
 */
function tierListQuery(db: Db, link: LinkForPricing & { tierId: string }, skuIds: readonly string[], on: string) {
  return db
    .selectFrom((eb) =>
      eb
        .selectFrom("price_lists")
        .select(["id", "name", dateText("valid_from").as("valid_from"), nullableDateText("valid_to").as("valid_to")])
        .where("core_enterprise_id", "=", link.coreEnterpriseId)
        .where("tier_id", "=", link.tierId)
        .where(sql<boolean>`valid_from <= ${on}::date and (valid_to is null or valid_to >= ${on}::date)`)
        .orderBy("valid_from", "desc")
        .orderBy("created_at", "desc")
        .limit(1)
        .as("l"),
    )
    .leftJoin("price_list_items as i", (join) =>
      skuIds.length
        ? join.onRef("i.price_list_id", "=", "l.id").on("i.sku_id", "=", sql<string>`any(${[...skuIds]}::uuid[])`)
        : join.onRef("i.price_list_id", "=", "l.id").on(sql<boolean>`false`),
    )
    .select(["l.id", "l.name", "l.valid_from", "l.valid_to", "i.sku_id", "i.min_qty", "i.price_fen"]);
}

type TierListRow = Awaited<ReturnType<ReturnType<typeof tierListQuery>["execute"]>>[number];

function tierListFromRows(link: LinkForPricing, rows: readonly TierListRow[]): { list: Omit<PriceListCandidate, "items"> | null; items: Map<string, PriceBreak[]> } {
  const items = new Map<string, PriceBreak[]>();
  if (rows.length === 0 || !link.tierId || !link.tierName) return { list: null, items };
  for (const row of rows) {
    if (row.sku_id === null || row.min_qty === null || row.price_fen === null) continue;
    const breaks = items.get(row.sku_id) ?? [];
    breaks.push({ minQty: row.min_qty, priceFen: row.price_fen });
    items.set(row.sku_id, breaks);
  }
  for (const breaks of items.values()) breaks.sort((a, b) => a.minQty - b.minQty);
  const list = rows[0];
  return {
    list: { id: list.id, name: list.name, tierId: link.tierId, tierName: link.tierName, validFrom: list.valid_from, validTo: list.valid_to },
    items,
  };
}

/** Each link's overrides for these SKUs valid on the date: one query for all links. */
function overridesQuery(db: Db, linkIds: readonly string[], skuIds: readonly string[], on: string) {
  return db
    .selectFrom("dealer_price_overrides")
    .select(["id", "dealer_link_id", "sku_id", "price_fen", "note", dateText("valid_from").as("valid_from"), nullableDateText("valid_to").as("valid_to")])
    .where("dealer_link_id", "=", sql<string>`any(${[...linkIds]}::uuid[])`)
    .where("sku_id", "=", sql<string>`any(${[...skuIds]}::uuid[])`)
    .where(sql<boolean>`valid_from <= ${on}::date and (valid_to is null or valid_to >= ${on}::date)`)
    .orderBy("valid_from", "desc")
    .orderBy("created_at", "desc");
}

type OverrideCandidateRow = Awaited<ReturnType<ReturnType<typeof overridesQuery>["execute"]>>[number];

function overridesFromRows(rows: readonly OverrideCandidateRow[]): Map<string, OverrideCandidate> {
  const result = new Map<string, OverrideCandidate>();
  // The latest valid_from (then the latest created) first: the first row of a link and SKU wins.
  for (const row of rows) {
    const key = `${row.dealer_link_id}:${row.sku_id}`;
    if (!result.has(key)) {
      result.set(key, { id: row.id, priceFen: row.price_fen, validFrom: row.valid_from, validTo: row.valid_to, note: row.note });
    }
  }
  return result;
}

export type CandidatesFor = (link: LinkForPricing, sku: { id: string; basePriceFen: Fen }) => PriceCandidates & { breaks: PriceBreak[] };

/**
 * The queries that price several dealers' SKUs at once (orders placed together), one per tier
 * involved and one for all the overrides, whatever the number of dealers and lines (P4), for
 * `loadCandidatesForLinks`; `candidatesFromRows` makes the prices of what they returned.
 */
export function candidateQueries(db: Db, wanted: readonly { link: LinkForPricing; skus: readonly { id: string }[] }[], on: string) {
  const skuIdsByTier = new Map<string, { link: LinkForPricing & { tierId: string }; skuIds: Set<string> }>();
  const allSkuIds = new Set<string>();
  for (const { link, skus } of wanted) {
    for (const sku of skus) allSkuIds.add(sku.id);
    if (!link.tierId || !link.tierName) continue;
    const key = `${link.coreEnterpriseId}:${link.tierId}`;
    const entry = skuIdsByTier.get(key) ?? { link: { ...link, tierId: link.tierId }, skuIds: new Set<string>() };
    for (const sku of skus) entry.skuIds.add(sku.id);
    skuIdsByTier.set(key, entry);
  }
  const linkIds = [...new Set(wanted.map((w) => w.link.id))];
  return {
    tiers: [...skuIdsByTier].map(([key, { link, skuIds }]) => ({ key, link, query: tierListQuery(db, link, [...skuIds], on) })),
    overrides: allSkuIds.size && linkIds.length ? overridesQuery(db, linkIds, [...allSkuIds], on) : null,
  };
}

export type CandidateQueries = ReturnType<typeof candidateQueries>;

/** The prices of what `candidateQueries` returned: the rows of each tier's query (in order), and of the overrides. */
export function candidatesFromRows(queries: CandidateQueries, tierRows: readonly (readonly unknown[])[], overrideRows: readonly unknown[]): CandidatesFor {
  const tiers = new Map(queries.tiers.map(({ key, link }, k) => [key, tierListFromRows(link, tierRows[k] as TierListRow[])]));
  const overrides = overridesFromRows(overrideRows as OverrideCandidateRow[]);
  return (link, sku) => {
    const tier = link.tierId ? tiers.get(`${link.coreEnterpriseId}:${link.tierId}`) : undefined;
    const breaks = tier?.items.get(sku.id) ?? [];
    return {
      basePriceFen: sku.basePriceFen,
      tierName: link.tierName,
      override: overrides.get(`${link.id}:${sku.id}`) ?? null,
      priceList: tier?.list ? { ...tier.list, items: breaks } : null,
      breaks,
    };
  };
}

/**
 * Price candidates for several dealers' SKUs at once (orders placed together): one query per tier
 * involved and one for all the overrides, whatever the number of dealers and lines (P4). At once:
 * on their own connections outside a transaction; inside one (or on PGlite) the driver sends them
 * one after the other on its single connection.
 */
export async function loadCandidatesForLinks(
  db: Db,
  wanted: readonly { link: LinkForPricing; skus: readonly { id: string }[] }[],
  on: string,
): Promise<CandidatesFor> {
  const queries = candidateQueries(db, wanted, on);
  const [tierRows, overrideRows] = await Promise.all([
    Promise.all(queries.tiers.map(({ query }) => query.execute())),
    queries.overrides ? queries.overrides.execute() : Promise.resolve([]),
  ]);
  return candidatesFromRows(queries, tierRows, overrideRows);
}

async function loadCandidates(db: Db, link: LinkForPricing, skus: readonly { id: string; basePriceFen: Fen }[], on: string) {
  const candidatesFor = await loadCandidatesForLinks(db, [{ link, skus }], on);
  return (sku: { id: string; basePriceFen: Fen }) => candidatesFor(link, sku);
}

// ---------------------------------------------------------------------------------------------
// Quotes

export interface QuoteRequest {
  coreEnterpriseId: string;
  dealerId: string;
  lines: readonly { skuId: string; quantity: number }[];
  /** The instant the price is for; its Asia/Shanghai date decides validity. */
  on: Date;
}

export interface PriceQuote {
  skuId: string;
  quantity: number;
  unitPriceFen: Fen;
  rule: PriceRule;
  explanation: PriceExplanation;
  summary: string;
  taxRateBps: number;
  basePriceFen: Fen;
}

/**
 * Unit prices for a dealer's lines, each with the rule that won and why. Four queries whatever
 * the number of lines (P4). A SKU of another core enterprise, or unknown, is refused naming the
 * line (`lines.<n>.skuId`); so is a dealer outside the network.
 *
 * `known`: the link and SKUs the caller has just read in the same transaction (an order being
 * placed), used instead of reading them again; two queries then.
 */
export async function quotePrices(
  db: Db,
  request: QuoteRequest,
  known?: { link: LinkForPricing; skus: readonly SkuForPricing[] },
): Promise<PriceQuote[]> {
  const { lines } = request;
  if (lines.length === 0) return [];
  if (lines.length > PRICING_LIMITS.maxQuoteLines) {
    throw new DomainError("validation", `At most ${PRICING_LIMITS.maxQuoteLines} lines per quote`, { lines: "too_many" });
  }
  const bad: Record<string, string> = {};
  lines.forEach((line, i) => {
    if (!Number.isSafeInteger(line.quantity) || line.quantity < 1 || line.quantity > SKU_LIMITS.maxQuantity) {
      bad[`lines.${i}.quantity`] = "whole_number";
    }
    if (!isUuid(line.skuId)) bad[`lines.${i}.skuId`] = "unknown_sku";
  });
  if (Object.keys(bad).length) throw new DomainError("validation", "Some quote lines are not valid", bad);
  const on = shanghaiDate(request.on);
  if (known && (known.link.coreEnterpriseId !== request.coreEnterpriseId || known.link.dealerId !== request.dealerId)) {
    throw new Error("quotePrices: the known link is not the one between this core enterprise and dealer");
  }
  const link = known?.link ?? (await linkForPricing(db, request.coreEnterpriseId, request.dealerId));
  const ids = [...new Set(lines.map((l) => l.skuId.toLowerCase()))];
  const skus: readonly SkuForPricing[] =
    known?.skus.filter((s) => s.coreEnterpriseId === request.coreEnterpriseId) ??
    (
      await db
        .selectFrom("skus")
        .select(["id", "core_enterprise_id", "base_price_fen", "tax_rate_bps"])
        .where("core_enterprise_id", "=", request.coreEnterpriseId)
        .where("id", "in", ids)
        .execute()
    ).map((s) => ({ id: s.id, coreEnterpriseId: s.core_enterprise_id, basePriceFen: s.base_price_fen, taxRateBps: s.tax_rate_bps }));
  const byId = new Map(skus.map((s) => [s.id, { id: s.id, basePriceFen: s.basePriceFen, taxRateBps: s.taxRateBps }]));
  lines.forEach((line, i) => {
    if (!byId.has(line.skuId.toLowerCase())) bad[`lines.${i}.skuId`] = "unknown_sku";
  });
  if (Object.keys(bad).length) throw new DomainError("validation", "Some quote lines name a SKU that is not in this catalogue", bad);
  const candidatesFor = await loadCandidates(db, link, [...byId.values()], on);
  return lines.map((line) => {
    const sku = byId.get(line.skuId.toLowerCase())!;
    const resolved = resolvePrice(candidatesFor(sku), line.quantity);
    return {
      skuId: sku.id,
      quantity: line.quantity,
      unitPriceFen: resolved.unitPriceFen,
      rule: resolved.rule,
      explanation: resolved.explanation,
      summary: resolved.summary,
      taxRateBps: sku.taxRateBps,
      basePriceFen: sku.basePriceFen,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The dealer's catalogue: active SKUs in code order (keyset), each at this dealer's price.

export interface DealerCatalogItem {
  skuId: string;
  code: string;
  name: string;
  spec: string;
  unit: string;
  packSize: number;
  moq: number;
  productName: string;
  category: string | null;
  taxRateBps: number;
  stockAvailable: number;
  basePriceFen: Fen;
  /** The price at the minimum order quantity, and why. */
  price: ResolvedPrice;
  /** Volume breaks of the dealer's tier list for this SKU (empty under an override). */
  breaks: PriceBreak[];
}

export interface DealerCatalogOptions {
  coreEnterpriseId: string;
  dealerId: string;
  on: Date;
  search?: string | null;
  after?: string | null;
  limit?: number;
}

/**
 * One page of the catalogue as the dealer sees it. Cost: the link, one index range scan of the
 * page on (core enterprise, code) WHERE active, and the price lookups for that page only — so a
 * page costs the same at 10,000 SKUs as at 1,000,000, first page or deep.
 */
export async function listDealerCatalog(db: Db, options: DealerCatalogOptions): Promise<SkuPage<DealerCatalogItem>> {
  const limit = clampPageSize(options.limit);
  const after = parseCursor(options.after);
  const on = shanghaiDate(options.on);
  const link = await linkForPricing(db, options.coreEnterpriseId, options.dealerId);
  let query = db
    .selectFrom("skus as s")
    .innerJoin("products as p", "p.id", "s.product_id")
    .select([
      "s.id",
      "s.code",
      "s.name",
      "s.spec",
      "s.unit",
      "s.pack_size",
      "s.moq",
      "s.base_price_fen",
      "s.tax_rate_bps",
      "s.stock_on_hand",
      "s.stock_reserved",
      "p.name as product_name",
      "p.category",
    ])
    .where("s.core_enterprise_id", "=", options.coreEnterpriseId)
    .where("s.status", "=", "active");
  if (after) query = query.where("s.code", ">", after);
  const filter = searchFilter(options.search);
  if (filter) query = query.where(filter);
  const rows = await query.orderBy("s.code").limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const candidatesFor = await loadCandidates(
    db,
    link,
    page.map((r) => ({ id: r.id, basePriceFen: r.base_price_fen })),
    on,
  );
  const items = page.map((r): DealerCatalogItem => {
    const candidates = candidatesFor({ id: r.id, basePriceFen: r.base_price_fen });
    const price = resolvePrice(candidates, r.moq);
    return {
      skuId: r.id,
      code: r.code,
      name: r.name,
      spec: r.spec,
      unit: r.unit,
      packSize: r.pack_size,
      moq: r.moq,
      productName: r.product_name,
      category: r.category,
      taxRateBps: r.tax_rate_bps,
      stockAvailable: r.stock_on_hand - r.stock_reserved,
      basePriceFen: r.base_price_fen,
      price,
      breaks: price.rule === "dealer_override" ? [] : candidates.breaks,
    };
  });
  return { items, nextCursor: rows.length > limit ? skuCursor(page[page.length - 1].code) : null };
}

// ---------------------------------------------------------------------------------------------
// Forms and API bodies. Messages are problem codes (pages show `catalog.problem.<code>`).

const text = (max: number) =>
  z.string({ required_error: "required", invalid_type_error: "required" }).trim().min(1, "required").max(max, "too_long");
const businessDate = z
  .string({ required_error: "required", invalid_type_error: "required" })
  .trim()
  .min(1, "required")
  .refine(isBusinessDate, "date_format");
const optionalBusinessDate = z.preprocess(
  (v) => (typeof v === "string" && v.trim() === "" ? null : v),
  z.string().trim().refine(isBusinessDate, "date_format").nullable().optional(),
);
const yuan = z
  .string({ required_error: "required", invalid_type_error: "required" })
  .trim()
  .min(1, "required")
  .transform((raw, ctx) => {
    const fen = parseYuanToFen(raw);
    if (fen === null || fen < 1 || fen > SKU_LIMITS.maxUnitPriceFen) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "money_format" });
      return z.NEVER;
    }
    return fen;
  });
const wholeNumber = (min: number, max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .trim()
    .min(1, "required")
    .transform((raw, ctx) => {
      const n = parseWholeNumber(raw);
      if (n === null) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "whole_number" });
        return z.NEVER;
      }
      if (n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "out_of_range" });
        return z.NEVER;
      }
      return n;
    });
const validity = <T extends { validFrom: string; validTo?: string | null }>(v: T, ctx: z.RefinementCtx) => {
  if (v.validTo && v.validTo < v.validFrom) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["validTo"], message: "date_order" });
};

export const tierFormSchema = z.object({
  name: text(50),
  rank: z.preprocess((v) => (v === "" || v === undefined ? "0" : v), wholeNumber(0, 1000)),
});

export const priceListFormSchema = z
  .object({
    tierId: z.string({ required_error: "required" }).trim().min(1, "required"),
    name: text(PRICING_LIMITS.nameLength),
    validFrom: businessDate,
    validTo: optionalBusinessDate,
  })
  .superRefine(validity);

export const priceListItemFormSchema = z.object({
  skuCode: text(SKU_LIMITS.codeLength),
  minQty: z.preprocess((v) => (v === "" || v === undefined ? "1" : v), wholeNumber(1, SKU_LIMITS.maxQuantity)),
  price: yuan,
});

export const overrideFormSchema = z
  .object({
    linkId: z.string({ required_error: "required" }).trim().min(1, "required"),
    skuCode: text(SKU_LIMITS.codeLength),
    price: yuan,
    validFrom: businessDate,
    validTo: optionalBusinessDate,
    note: z.string().trim().max(PRICING_LIMITS.noteLength, "too_long").optional().transform((v) => v ?? ""),
  })
  .superRefine(validity);

export const previewFormSchema = z.object({
  dealerId: z.string({ required_error: "required" }).trim().min(1, "required"),
  skuCode: text(SKU_LIMITS.codeLength),
  quantity: wholeNumber(1, SKU_LIMITS.maxQuantity),
  on: businessDate,
});

// ---------------------------------------------------------------------------------------------
// Tiers

export interface Tier {
  id: string;
  name: string;
  rank: number;
  dealerCount: number;
  priceListCount: number;
}

const tierNotFound = () => new DomainError("not_found", "Tier not found");

export async function listTiers(db: Db, coreEnterpriseId: string): Promise<Tier[]> {
  const rows = await db
    .selectFrom("dealer_tiers as t")
    .select((eb) => [
      "t.id",
      "t.name",
      "t.rank",
      eb.selectFrom("dealer_links as l").select(eb.fn.countAll<number>().as("n")).whereRef("l.tier_id", "=", "t.id").as("dealer_count"),
      eb.selectFrom("price_lists as pl").select(eb.fn.countAll<number>().as("n")).whereRef("pl.tier_id", "=", "t.id").as("list_count"),
    ])
    .where("t.core_enterprise_id", "=", coreEnterpriseId)
    .orderBy("t.rank")
    .orderBy("t.name")
    .limit(PRICING_LIMITS.maxTiers)
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.name, rank: r.rank, dealerCount: Number(r.dealer_count ?? 0), priceListCount: Number(r.list_count ?? 0) }));
}

export async function getTier(db: Db, coreEnterpriseId: string, tierId: string): Promise<{ id: string; name: string; rank: number }> {
  if (!isUuid(tierId)) throw tierNotFound();
  const row = await db
    .selectFrom("dealer_tiers")
    .select(["id", "name", "rank"])
    .where("id", "=", tierId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .executeTakeFirst();
  if (!row) throw tierNotFound();
  return row;
}

export async function createTier(db: Db, actor: Actor, coreEnterpriseId: string, input: { name: string; rank: number }) {
  const parsed = tierFormSchema.safeParse({ name: input.name, rank: String(input.rank) });
  if (!parsed.success) throw new DomainError("validation", "Tier name is required (at most 50 characters)", { name: "required" });
  return inTransaction(db, async (trx) => {
    const count = await trx
      .selectFrom("dealer_tiers")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= PRICING_LIMITS.maxTiers) {
      throw new DomainError("validation", `At most ${PRICING_LIMITS.maxTiers} tiers`, { name: "too_many" });
    }
    try {
      const row = await trx
        .insertInto("dealer_tiers")
        .values({ core_enterprise_id: coreEnterpriseId, name: parsed.data.name, rank: parsed.data.rank })
        .returning(["id", "name", "rank"])
        .executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { organizationId: coreEnterpriseId, action: "dealer_tier.created", entityType: "dealer_tier", entityId: row.id, after: row });
      return row;
    } catch (error) {
      if (isUniqueViolation(error, "dealer_tiers_core_name")) {
        throw new DomainError("conflict", `A tier named ${parsed.data.name} exists`, { name: "already_in_use" });
      }
      throw error;
    }
  });
}

export async function updateTier(db: Db, actor: Actor, coreEnterpriseId: string, tierId: string, input: { name: string; rank: number }) {
  const parsed = tierFormSchema.safeParse({ name: input.name, rank: String(input.rank) });
  if (!parsed.success) throw new DomainError("validation", "Tier name is required (at most 50 characters)", { name: "required" });
  return inTransaction(db, async (trx) => {
    const before = await getTier(trx, coreEnterpriseId, tierId);
    try {
      await trx
        .updateTable("dealer_tiers")
        .set({ name: parsed.data.name, rank: parsed.data.rank })
        .where("id", "=", before.id)
        .where("core_enterprise_id", "=", coreEnterpriseId)
        .execute();
    } catch (error) {
      if (isUniqueViolation(error, "dealer_tiers_core_name")) {
        throw new DomainError("conflict", `A tier named ${parsed.data.name} exists`, { name: "already_in_use" });
      }
      throw error;
    }
    const after = { id: before.id, name: parsed.data.name, rank: parsed.data.rank };
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId, action: "dealer_tier.updated", entityType: "dealer_tier", entityId: before.id, before, after });
    return after;
  });
}

// ---------------------------------------------------------------------------------------------
// Price lists

export interface PriceList {
  id: string;
  tierId: string;
  tierName: string;
  name: string;
  validFrom: string;
  validTo: string | null;
  itemCount: number;
  /** Relative to `today` as passed to the listing. */
  state: "current" | "upcoming" | "expired";
}

const priceListNotFound = () => new DomainError("not_found", "Price list not found");

function priceListState(range: { validFrom: string; validTo: string | null }, today: string): PriceList["state"] {
  if (range.validFrom > today) return "upcoming";
  if (range.validTo !== null && range.validTo < today) return "expired";
  return "current";
}

function priceListQuery(db: Db, coreEnterpriseId: string) {
  return db
    .selectFrom("price_lists as pl")
    .innerJoin("dealer_tiers as t", "t.id", "pl.tier_id")
    .select((eb) => [
      "pl.id",
      "pl.tier_id",
      "t.name as tier_name",
      "pl.name",
      dateText("pl.valid_from").as("valid_from"),
      nullableDateText("pl.valid_to").as("valid_to"),
      eb.selectFrom("price_list_items as i").select(eb.fn.countAll<number>().as("n")).whereRef("i.price_list_id", "=", "pl.id").as("item_count"),
    ])
    .where("pl.core_enterprise_id", "=", coreEnterpriseId);
}

type PriceListRow = Awaited<ReturnType<ReturnType<typeof priceListQuery>["executeTakeFirstOrThrow"]>>;

function priceListFacts(row: PriceListRow): Omit<PriceList, "state"> {
  return {
    id: row.id,
    tierId: row.tier_id,
    tierName: row.tier_name,
    name: row.name,
    validFrom: row.valid_from,
    validTo: row.valid_to,
    itemCount: Number(row.item_count ?? 0),
  };
}

function toPriceList(row: PriceListRow, today: string): PriceList {
  const facts = priceListFacts(row);
  return { ...facts, state: priceListState(facts, today) };
}

export async function listPriceLists(db: Db, coreEnterpriseId: string, options: { today: string }): Promise<PriceList[]> {
  const { today } = options;
  const rows = await priceListQuery(db, coreEnterpriseId)
    .orderBy("t.rank")
    .orderBy("pl.valid_from", "desc")
    .limit(PRICING_LIMITS.maxPriceListsShown)
    .execute();
  return rows.map((r) => toPriceList(r, today));
}

/** One list; `today` (an Asia/Shanghai date) decides its state. */
export async function getPriceList(db: Db, coreEnterpriseId: string, priceListId: string, today: string): Promise<PriceList> {
  return toPriceList(await findPriceListRow(db, coreEnterpriseId, priceListId), today);
}

/** The list's stored facts, for writers that need no state (and so no date). */
async function findPriceList(db: Db, coreEnterpriseId: string, priceListId: string): Promise<Omit<PriceList, "state">> {
  return priceListFacts(await findPriceListRow(db, coreEnterpriseId, priceListId));
}

async function findPriceListRow(db: Db, coreEnterpriseId: string, priceListId: string): Promise<PriceListRow> {
  if (!isUuid(priceListId)) throw priceListNotFound();
  const row = await priceListQuery(db, coreEnterpriseId).where("pl.id", "=", priceListId).executeTakeFirst();
  if (!row) throw priceListNotFound();
  return row;
}

export interface PriceListItem {
  skuId: string;
  skuCode: string;
  skuName: string;
  spec: string;
  unit: string;
  basePriceFen: Fen;
  minQty: number;
  priceFen: Fen;
}

/** Items of a list in (SKU code, min qty) order; keyset cursor `CODE~minQty`. */
export async function listPriceListItems(
  db: Db,
  coreEnterpriseId: string,
  priceListId: string,
  options: { search?: string | null; after?: string | null; limit?: number } = {},
): Promise<SkuPage<PriceListItem>> {
  const list = await findPriceList(db, coreEnterpriseId, priceListId);
  const limit = Math.min(clampPageSize(options.limit ?? PRICING_LIMITS.itemsPageSize), PRICING_LIMITS.itemsPageSize);
  let query = db
    .selectFrom("price_list_items as i")
    .innerJoin("skus as s", "s.id", "i.sku_id")
    .innerJoin("products as p", "p.id", "s.product_id")
    .select(["i.sku_id", "s.code", "s.name", "s.spec", "s.unit", "s.base_price_fen", "i.min_qty", "i.price_fen"])
    .where("i.price_list_id", "=", list.id)
    .where("i.core_enterprise_id", "=", coreEnterpriseId);
  const after = decodeCursor(options.after, ["text", "int"]);
  if (after) query = query.where(sql<boolean>`(s.code, i.min_qty) > (${after[0]}, ${after[1]})`);
  const filter = searchFilter(options.search);
  if (filter) query = query.where(filter);
  const rows = await query.orderBy("s.code").orderBy("i.min_qty").limit(limit + 1).execute();
  const items = rows.slice(0, limit).map((r) => ({
    skuId: r.sku_id,
    skuCode: r.code,
    skuName: r.name,
    spec: r.spec,
    unit: r.unit,
    basePriceFen: r.base_price_fen,
    minQty: r.min_qty,
    priceFen: r.price_fen,
  }));
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.skuCode, last.minQty]) : null };
}

export interface PriceListInput {
  tierId: string;
  name: string;
  validFrom: string;
  validTo: string | null;
}

function checkValidity(input: { validFrom: string; validTo: string | null }): void {
  const fields: Record<string, string> = {};
  if (!isBusinessDate(input.validFrom)) fields.validFrom = "date_format";
  if (input.validTo !== null && !isBusinessDate(input.validTo)) fields.validTo = "date_format";
  if (!fields.validFrom && !fields.validTo && input.validTo !== null && input.validTo < input.validFrom) fields.validTo = "date_order";
  if (Object.keys(fields).length) {
    throw new DomainError("validation", "Validity dates must be YYYY-MM-DD, the end not before the start", fields);
  }
}

/** P2 for lists: lock the tier (serialising writers), then look for a list that overlaps. */
async function assertNoListOverlap(trx: Db, coreEnterpriseId: string, input: PriceListInput, exceptId: string | null): Promise<void> {
  await trx
    .selectFrom("dealer_tiers")
    .select("id")
    .where("id", "=", input.tierId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .forUpdate()
    .executeTakeFirst();
  let query = trx
    .selectFrom("price_lists")
    .select(["id", "name", dateText("valid_from").as("valid_from"), nullableDateText("valid_to").as("valid_to")])
    .where("tier_id", "=", input.tierId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .where(sql<boolean>`valid_from <= coalesce(${input.validTo}::date, 'infinity'::date)`)
    .where(sql<boolean>`${input.validFrom}::date <= coalesce(valid_to, 'infinity'::date)`);
  if (exceptId) query = query.where("id", "<>", exceptId);
  const clash = await query.executeTakeFirst();
  if (clash) {
    throw new DomainError(
      "conflict",
      `These dates overlap price list "${clash.name}" (${clash.valid_from} – ${clash.valid_to ?? "open"}) of the same tier: only one list per tier may be valid on a date`,
      { validFrom: "overlaps" },
    );
  }
}

export async function createPriceList(db: Db, actor: Actor, coreEnterpriseId: string, input: PriceListInput, today: string): Promise<PriceList> {
  checkValidity(input);
  const name = input.name.trim();
  if (!name || name.length > PRICING_LIMITS.nameLength) throw new DomainError("validation", "Price list name is required", { name: "required" });
  return inTransaction(db, async (trx) => {
    const tier = await getTier(trx, coreEnterpriseId, input.tierId).catch(() => {
      throw new DomainError("validation", "Choose one of your tiers", { tierId: "unknown_tier" });
    });
    await assertNoListOverlap(trx, coreEnterpriseId, { ...input, tierId: tier.id }, null);
    const row = await trx
      .insertInto("price_lists")
      .values({ core_enterprise_id: coreEnterpriseId, tier_id: tier.id, name, valid_from: input.validFrom, valid_to: input.validTo })
      .returning("id")
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "price_list.created",
      entityType: "price_list",
      entityId: row.id,
      after: { tier_id: tier.id, name, valid_from: input.validFrom, valid_to: input.validTo },
    });
    return getPriceList(trx, coreEnterpriseId, row.id, today);
  });
}

/** Rename or move the validity of a list (its tier stays). */
export async function updatePriceList(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  priceListId: string,
  input: { name: string; validFrom: string; validTo: string | null },
  today: string,
): Promise<PriceList> {
  checkValidity(input);
  const name = input.name.trim();
  if (!name || name.length > PRICING_LIMITS.nameLength) throw new DomainError("validation", "Price list name is required", { name: "required" });
  return inTransaction(db, async (trx) => {
    const before = await findPriceList(trx, coreEnterpriseId, priceListId);
    await assertNoListOverlap(trx, coreEnterpriseId, { ...input, name, tierId: before.tierId }, before.id);
    await trx
      .updateTable("price_lists")
      .set({ name, valid_from: input.validFrom, valid_to: input.validTo, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .execute();
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "price_list.updated",
      entityType: "price_list",
      entityId: before.id,
      before: { name: before.name, valid_from: before.validFrom, valid_to: before.validTo },
      after: { name, valid_from: input.validFrom, valid_to: input.validTo },
    });
    return getPriceList(trx, coreEnterpriseId, before.id, today);
  });
}

export async function deletePriceList(db: Db, actor: Actor, coreEnterpriseId: string, priceListId: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const before = await findPriceList(trx, coreEnterpriseId, priceListId);
    await trx.deleteFrom("price_lists").where("id", "=", before.id).where("core_enterprise_id", "=", coreEnterpriseId).execute();
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "price_list.deleted",
      entityType: "price_list",
      entityId: before.id,
      before: { tier_id: before.tierId, name: before.name, valid_from: before.validFrom, valid_to: before.validTo, item_count: before.itemCount },
    });
  });
}

async function skuIdForCode(db: Db, coreEnterpriseId: string, skuCode: string, field = "skuCode"): Promise<{ id: string; code: string }> {
  const code = normalizeSkuCode(skuCode);
  const row = await db
    .selectFrom("skus")
    .select(["id", "code"])
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .where("code", "=", code)
    .executeTakeFirst();
  if (!row) throw new DomainError("validation", `No SKU with code ${code} in your catalogue`, { [field]: "unknown_sku" });
  return row;
}

/** Set (insert or replace) the price of a SKU from `minQty` up in a list. */
export async function setPriceListItem(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  priceListId: string,
  input: { skuCode: string; minQty: number; priceFen: Fen },
): Promise<void> {
  const fields: Record<string, string> = {};
  if (!Number.isSafeInteger(input.minQty) || input.minQty < 1 || input.minQty > SKU_LIMITS.maxQuantity) fields.minQty = "whole_number";
  if (!Number.isSafeInteger(input.priceFen) || input.priceFen < 1 || input.priceFen > SKU_LIMITS.maxUnitPriceFen) fields.price = "money_format";
  if (Object.keys(fields).length) throw new DomainError("validation", "Minimum quantity and price must be positive", fields);
  await inTransaction(db, async (trx) => {
    const list = await findPriceList(trx, coreEnterpriseId, priceListId);
    const sku = await skuIdForCode(trx, coreEnterpriseId, input.skuCode);
    const before = await trx
      .selectFrom("price_list_items")
      .select("price_fen")
      .where("price_list_id", "=", list.id)
      .where("sku_id", "=", sku.id)
      .where("min_qty", "=", input.minQty)
      .executeTakeFirst();
    await trx
      .insertInto("price_list_items")
      .values({ price_list_id: list.id, core_enterprise_id: coreEnterpriseId, sku_id: sku.id, min_qty: input.minQty, price_fen: input.priceFen })
      .onConflict((oc) => oc.columns(["price_list_id", "sku_id", "min_qty"]).doUpdateSet({ price_fen: input.priceFen }))
      .execute();
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: before ? "price_list_item.updated" : "price_list_item.created",
      entityType: "price_list",
      entityId: list.id,
      before: before ? { sku_code: sku.code, min_qty: input.minQty, price_fen: before.price_fen } : undefined,
      after: { sku_code: sku.code, min_qty: input.minQty, price_fen: input.priceFen },
    });
  });
}

export async function removePriceListItem(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  priceListId: string,
  input: { skuId: string; minQty: number },
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const list = await findPriceList(trx, coreEnterpriseId, priceListId);
    if (!isUuid(input.skuId) || !Number.isSafeInteger(input.minQty)) throw new DomainError("not_found", "Price list item not found");
    const removed = await trx
      .deleteFrom("price_list_items")
      .where("price_list_id", "=", list.id)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .where("sku_id", "=", input.skuId)
      .where("min_qty", "=", input.minQty)
      .returning(["price_fen"])
      .executeTakeFirst();
    if (!removed) throw new DomainError("not_found", "Price list item not found");
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "price_list_item.deleted",
      entityType: "price_list",
      entityId: list.id,
      before: { sku_id: input.skuId, min_qty: input.minQty, price_fen: removed.price_fen },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Dealer overrides

export interface PriceOverride {
  id: string;
  linkId: string;
  dealerId: string;
  dealerName: string;
  skuId: string;
  skuCode: string;
  skuName: string;
  unit: string;
  basePriceFen: Fen;
  priceFen: Fen;
  validFrom: string;
  validTo: string | null;
  note: string;
  state: "current" | "upcoming" | "expired";
}

function overrideQuery(db: Db, coreEnterpriseId: string) {
  return db
    .selectFrom("dealer_price_overrides as o")
    .innerJoin("dealer_links as l", "l.id", "o.dealer_link_id")
    .innerJoin("organizations as d", "d.id", "l.dealer_id")
    .innerJoin("skus as s", "s.id", "o.sku_id")
    .select([
      "o.id",
      "o.dealer_link_id",
      "l.dealer_id",
      "d.name as dealer_name",
      "o.sku_id",
      "s.code as sku_code",
      "s.name as sku_name",
      "s.unit",
      "s.base_price_fen",
      "o.price_fen",
      dateText("o.valid_from").as("valid_from"),
      nullableDateText("o.valid_to").as("valid_to"),
      "o.note",
    ])
    .where("o.core_enterprise_id", "=", coreEnterpriseId);
}

type OverrideRow = Awaited<ReturnType<ReturnType<typeof overrideQuery>["executeTakeFirstOrThrow"]>>;

function toOverride(r: OverrideRow, today: string): PriceOverride {
  return {
    id: r.id,
    linkId: r.dealer_link_id,
    dealerId: r.dealer_id,
    dealerName: r.dealer_name,
    skuId: r.sku_id,
    skuCode: r.sku_code,
    skuName: r.sku_name,
    unit: r.unit,
    basePriceFen: r.base_price_fen,
    priceFen: r.price_fen,
    validFrom: r.valid_from,
    validTo: r.valid_to,
    note: r.note,
    state: priceListState({ validFrom: r.valid_from, validTo: r.valid_to }, today),
  };
}

export async function listOverrides(db: Db, coreEnterpriseId: string, options: { linkId?: string; today: string }): Promise<PriceOverride[]> {
  const { today } = options;
  let query = overrideQuery(db, coreEnterpriseId);
  if (options.linkId) {
    if (!isUuid(options.linkId)) return [];
    query = query.where("o.dealer_link_id", "=", options.linkId);
  }
  const rows = await query.orderBy("d.name").orderBy("s.code").orderBy("o.valid_from", "desc").limit(PRICING_LIMITS.maxOverridesShown).execute();
  return rows.map((r) => toOverride(r, today));
}

export interface OverrideInput {
  linkId: string;
  skuCode: string;
  priceFen: Fen;
  validFrom: string;
  validTo: string | null;
  note: string;
}

export async function createOverride(db: Db, actor: Actor, coreEnterpriseId: string, input: OverrideInput, today: string): Promise<PriceOverride> {
  checkValidity(input);
  if (!Number.isSafeInteger(input.priceFen) || input.priceFen < 1 || input.priceFen > SKU_LIMITS.maxUnitPriceFen) {
    throw new DomainError("validation", "The price must be a positive amount", { price: "money_format" });
  }
  const note = input.note.trim();
  if (note.length > PRICING_LIMITS.noteLength) throw new DomainError("validation", "The note is too long", { note: "too_long" });
  return inTransaction(db, async (trx) => {
    // Locking the link serialises override writes for this dealer (P2).
    const link = isUuid(input.linkId)
      ? await trx
          .selectFrom("dealer_links")
          .select("id")
          .where("id", "=", input.linkId)
          .where("core_enterprise_id", "=", coreEnterpriseId)
          .forUpdate()
          .executeTakeFirst()
      : undefined;
    if (!link) throw new DomainError("validation", "Choose a dealer of your network", { linkId: "not_in_network" });
    const sku = await skuIdForCode(trx, coreEnterpriseId, input.skuCode);
    const clash = await trx
      .selectFrom("dealer_price_overrides")
      .select([dateText("valid_from").as("valid_from"), nullableDateText("valid_to").as("valid_to")])
      .where("dealer_link_id", "=", link.id)
      .where("sku_id", "=", sku.id)
      .where(sql<boolean>`valid_from <= coalesce(${input.validTo}::date, 'infinity'::date)`)
      .where(sql<boolean>`${input.validFrom}::date <= coalesce(valid_to, 'infinity'::date)`)
      .executeTakeFirst();
    if (clash) {
      throw new DomainError(
        "conflict",
        `This dealer already has an override for ${sku.code} valid ${clash.valid_from} – ${clash.valid_to ?? "open"}: end or delete it first`,
        { validFrom: "overlaps" },
      );
    }
    const row = await trx
      .insertInto("dealer_price_overrides")
      .values({
        core_enterprise_id: coreEnterpriseId,
        dealer_link_id: link.id,
        sku_id: sku.id,
        price_fen: input.priceFen,
        valid_from: input.validFrom,
        valid_to: input.validTo,
        note,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "price_override.created",
      entityType: "dealer_link",
      entityId: link.id,
      after: { override_id: row.id, sku_code: sku.code, price_fen: input.priceFen, valid_from: input.validFrom, valid_to: input.validTo, note },
    });
    const created = await overrideQuery(trx, coreEnterpriseId).where("o.id", "=", row.id).executeTakeFirstOrThrow();
    return toOverride(created, today);
  });
}

export async function deleteOverride(db: Db, actor: Actor, coreEnterpriseId: string, overrideId: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const row = isUuid(overrideId) ? await overrideQuery(trx, coreEnterpriseId).where("o.id", "=", overrideId).executeTakeFirst() : undefined;
    if (!row) throw new DomainError("not_found", "Price override not found");
    await trx.deleteFrom("dealer_price_overrides").where("id", "=", row.id).where("core_enterprise_id", "=", coreEnterpriseId).execute();
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "price_override.deleted",
      entityType: "dealer_link",
      entityId: row.dealer_link_id,
      before: { override_id: row.id, sku_code: row.sku_code, price_fen: row.price_fen, valid_from: row.valid_from, valid_to: row.valid_to, note: row.note },
    });
  });
}
