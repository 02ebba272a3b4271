import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import type { MarketMerchantStatus, MerchantApplicationStatus, StallStatus } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, isDomainError, normalizeUscc, usccProblem, isUuid } from "../shared";
import { isUniqueViolation, parseWholeNumber, parseYuanToFen } from "../catalog";
import { type Fen } from "../ledger";
import { createOrganization } from "../identity";

/**
 * Commodity-trading markets, first slice: a market operator's markets (venues), their zones and
 * stalls, the merchants trading there and the applications that bring them in.
 *
 * Tenancy: every function of the operator's side takes the acting operator's id and answers
 * `not_found` for a market, zone, stall, merchant or application of another operator (the
 * composite foreign keys of migration 0008 make a cross-tenant row impossible underneath). A
 * merchant reads only its own memberships (`listMarketsForMerchant`).
 *
 * State machines, as data (one table per entity, used by the model and the pages):
 *  - stall:       vacant —assign→ occupied —release→ vacant; vacant —close→ closed —reopen→ vacant
 *  - merchant:    active —suspend→ suspended —reactivate→ active (a reason for both)
 *  - application: submitted —approve (with a vacant stall)→ approved | —reject (with a reason)→ rejected
 * Every state change writes an audit event in its own transaction.
 */

export const MARKET_LIMITS = {
  nameLength: 100,
  cityLength: 50,
  categoryLength: 20,
  categoriesMax: 30,
  zoneNameLength: 50,
  zonesMax: 100,
  stallsMax: 5_000,
  maxAutoConfirmDays: 30,
  minUnpaidExpiryMinutes: 5,
  /** One week. */
  maxUnpaidExpiryMinutes: 10_080,
  /** 100,000 m². */
  maxAreaDm2: 10_000_000,
  /** ¥1,000,000,000 a month is a typo, not a rent. */
  maxMonthlyRentFen: 100_000_000_000,
  reasonLength: 200,
  stallWishLength: 200,
  companyLength: 200,
  personLength: 50,
  phoneLength: 30,
  marketsPerOperatorMax: 100,
  pageSizeMax: 200,
} as const;

// ---------------------------------------------------------------------------------------------
// State machines

export type StallEvent = "assign" | "release" | "close" | "reopen";
export const STALL_TRANSITIONS: Record<StallStatus, Partial<Record<StallEvent, StallStatus>>> = {
  vacant: { assign: "occupied", close: "closed" },
  occupied: { release: "vacant" },
  closed: { reopen: "vacant" },
};
/** What an operator may do to a stall by hand: assignment and release go through merchants. */
export const MANUAL_STALL_EVENTS: readonly StallEvent[] = ["close", "reopen"];

export type MarketMerchantEvent = "suspend" | "reactivate";
export const MARKET_MERCHANT_TRANSITIONS: Record<MarketMerchantStatus, Partial<Record<MarketMerchantEvent, MarketMerchantStatus>>> = {
  active: { suspend: "suspended" },
  suspended: { reactivate: "active" },
};

export type MerchantApplicationEvent = "approve" | "reject";
export const MERCHANT_APPLICATION_TRANSITIONS: Record<
  MerchantApplicationStatus,
  Partial<Record<MerchantApplicationEvent, MerchantApplicationStatus>>
> = {
  submitted: { approve: "approved", reject: "rejected" },
  approved: {},
  rejected: {},
};

export function stallEvents(status: StallStatus): StallEvent[] {
  return Object.keys(STALL_TRANSITIONS[status]) as StallEvent[];
}
export function marketMerchantEvents(status: MarketMerchantStatus): MarketMerchantEvent[] {
  return Object.keys(MARKET_MERCHANT_TRANSITIONS[status]) as MarketMerchantEvent[];
}
export function applicationEvents(status: MerchantApplicationStatus): MerchantApplicationEvent[] {
  return Object.keys(MERCHANT_APPLICATION_TRANSITIONS[status]) as MerchantApplicationEvent[];
}

function invalidTransition(entity: string, from: string, event: string): DomainError {
  return new DomainError("invalid_state", `A ${from} ${entity} cannot ${event}`, { status: "invalid_transition" });
}

// ---------------------------------------------------------------------------------------------
// Shapes

export interface Market {
  id: string;
  operatorId: string;
  name: string;
  city: string;
  categories: string[];
  autoConfirmDays: number;
  unpaidExpiryMinutes: number;
  status: "active" | "closed";
  createdAt: Date;
  updatedAt: Date;
}

export interface MarketZone {
  id: string;
  marketId: string;
  name: string;
}

export interface MarketStall {
  id: string;
  marketId: string;
  zoneId: string | null;
  zoneName: string | null;
  code: string;
  areaDm2: number;
  monthlyRentFen: Fen;
  status: StallStatus;
  /** The merchant in it, when occupied. */
  merchantName: string | null;
}

export interface MarketMerchant {
  id: string;
  marketId: string;
  merchantId: string;
  merchantName: string;
  merchantUscc: string | null;
  stallId: string | null;
  stallCode: string | null;
  categories: string[];
  status: MarketMerchantStatus;
  statusReason: string;
  createdAt: Date;
}

export interface MerchantApplication {
  id: string;
  marketId: string;
  uscc: string;
  companyName: string;
  legalRepresentative: string;
  contactName: string;
  contactPhone: string;
  stallWish: string;
  categories: string[];
  status: MerchantApplicationStatus;
  decisionReason: string;
  assignedStallId: string | null;
  assignedStallCode: string | null;
  merchantId: string | null;
  decidedAt: Date | null;
  createdAt: Date;
}

const marketNotFound = () => new DomainError("not_found", "Market not found");

// ---------------------------------------------------------------------------------------------
// Input: one zod schema per form, over the strings a browser sends; messages are problem codes
// (the pages translate `catalog.problem.<code>`). The same schemas check the model's input.

// Names and prose are stored as typed (trimmed): NFKC would rewrite a Chinese "，" as "," and "㎡"
// as "m2". Codes, phone numbers and categories (keys that are compared) are NFKC-normalised below.
const text = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform((v) => v.trim())
    .pipe(z.string().min(1, "required").max(max, "too_long"));

const optionalText = (max: number) =>
  z
    .string({ invalid_type_error: "required" })
    .optional()
    .transform((v) => (v ?? "").trim())
    .pipe(z.string().max(max, "too_long"));

/** Categories as typed: separated by commas, 、, semicolons, spaces or new lines; duplicates dropped. */
export function splitCategories(raw: string): string[] {
  return [...new Set(raw.normalize("NFKC").split(/[\n,;、，；\s]+/).map((c) => c.trim()).filter(Boolean))];
}

const categoriesSchema = z
  .union([z.string(), z.array(z.string())], { required_error: "required", invalid_type_error: "required" })
  .transform((v) => (Array.isArray(v) ? splitCategories(v.join(",")) : splitCategories(v)))
  .pipe(
    z
      .array(z.string().max(MARKET_LIMITS.categoryLength, "too_long"))
      .min(1, "required")
      .max(MARKET_LIMITS.categoriesMax, "too_many"),
  );

/**
 * The problem codes of a whole-number field once its text is read: `undefined` (nothing typed) is
 * `required`, `null` (not a whole number) is `whole_number`, outside [min, max] is `out_of_range`.
 */
export function checkWholeNumber(n: number | null | undefined, min: number, max: number, ctx: z.RefinementCtx): number {
  const problem = n === undefined ? "required" : n === null ? "whole_number" : n < min || n > max ? "out_of_range" : null;
  if (problem !== null || n === undefined || n === null) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem ?? "whole_number" });
    return z.NEVER;
  }
  return n;
}

const wholeNumberText = (min: number, max: number) =>
  z
    .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "whole_number" })
    .transform((raw, ctx) =>
      checkWholeNumber(
        typeof raw === "number" ? (Number.isSafeInteger(raw) && raw >= 0 ? raw : null) : raw.trim() === "" ? undefined : parseWholeNumber(raw),
        min,
        max,
        ctx,
      ),
    );

/** Yuan as typed → fen (0 allowed), or fen as a number. */
const moneyText = (maxFen: number) =>
  z
    .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "money_format" })
    .transform((raw, ctx) => {
      const fen = typeof raw === "number" ? (Number.isSafeInteger(raw) && raw >= 0 ? raw : null) : raw.trim() === "" ? undefined : parseYuanToFen(raw);
      if (fen === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "required" });
        return z.NEVER;
      }
      if (fen === null || fen > maxFen) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: fen === null ? "money_format" : "out_of_range" });
        return z.NEVER;
      }
      return fen;
    });

/** m² as typed ("12", "12.5") → dm², or dm² as a number. */
export function parseSquareMetresToDm2(raw: string): number | null {
  const match = /^(\d{1,6})(?:\.(\d{1,2}))?$/.exec(raw.normalize("NFKC").trim().replace(/\s*(m²|m2|㎡|平方米)$/i, ""));
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

export function dm2ToSquareMetresText(dm2: number): string {
  const rest = dm2 % 100;
  return rest === 0 ? String(dm2 / 100) : `${(dm2 - rest) / 100}.${String(rest).padStart(2, "0")}`.replace(/0$/, "");
}

const areaText = z
  .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "area_format" })
  .transform((raw, ctx) => {
    const dm2 = typeof raw === "number" ? (Number.isSafeInteger(raw) ? raw : null) : raw.trim() === "" ? undefined : parseSquareMetresToDm2(raw);
    if (dm2 === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "required" });
      return z.NEVER;
    }
    if (dm2 === null || dm2 < 1 || dm2 > MARKET_LIMITS.maxAreaDm2) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: dm2 === null ? "area_format" : "out_of_range" });
      return z.NEVER;
    }
    return dm2;
  });

export const marketFormSchema = z.object({
  name: text(MARKET_LIMITS.nameLength),
  city: text(MARKET_LIMITS.cityLength),
  categories: categoriesSchema,
  autoConfirmDays: wholeNumberText(1, MARKET_LIMITS.maxAutoConfirmDays),
  unpaidExpiryMinutes: wholeNumberText(MARKET_LIMITS.minUnpaidExpiryMinutes, MARKET_LIMITS.maxUnpaidExpiryMinutes),
});
export type MarketInput = z.input<typeof marketFormSchema>;
export const MARKET_FORM_FIELDS = ["name", "city", "categories", "autoConfirmDays", "unpaidExpiryMinutes"] as const;

export const zoneFormSchema = z.object({ name: text(MARKET_LIMITS.zoneNameLength) });

export function normalizeStallCode(raw: string): string {
  return raw.normalize("NFKC").trim().toUpperCase();
}

export const stallFormSchema = z.object({
  code: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform(normalizeStallCode)
    .pipe(z.string().min(1, "required").regex(/^[A-Z0-9][A-Z0-9-]{0,19}$/, "stall_code_format")),
  zoneId: z
    .string()
    .optional()
    .nullable()
    .transform((v) => (v ? v.trim() : null)),
  area: areaText,
  monthlyRent: moneyText(MARKET_LIMITS.maxMonthlyRentFen),
});
export type StallInput = z.input<typeof stallFormSchema>;
export const STALL_FORM_FIELDS = ["code", "zoneId", "area", "monthlyRent"] as const;

export const applicationFormSchema = z.object({
  uscc: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform(normalizeUscc)
    .superRefine((v, ctx) => {
      if (!v) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "required" });
      else {
        const problem = usccProblem(v);
        if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `uscc_${problem}` });
      }
    }),
  companyName: text(MARKET_LIMITS.companyLength),
  legalRepresentative: text(MARKET_LIMITS.personLength),
  contactName: text(MARKET_LIMITS.personLength),
  contactPhone: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform((v) => v.normalize("NFKC").trim())
    .pipe(z.string().min(1, "required").regex(/^\+?[0-9][0-9 -]{4,28}$/, "phone_format")),
  stallWish: optionalText(MARKET_LIMITS.stallWishLength),
  categories: categoriesSchema,
});
export type ApplicationInput = z.input<typeof applicationFormSchema>;
export const APPLICATION_FORM_FIELDS = ["uscc", "companyName", "legalRepresentative", "contactName", "contactPhone", "stallWish", "categories"] as const;

export const reasonSchema = z.object({ reason: text(MARKET_LIMITS.reasonLength) });

/** Parse or throw a `validation` DomainError naming every field that is wrong. */
export function parseOrRefuse<S extends z.ZodTypeAny>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data as z.output<S>;
  const fields: Record<string, string> = {};
  for (const issue of parsed.error.issues) {
    const field = issue.path[0];
    const key = typeof field === "string" ? field : "form";
    if (!fields[key]) fields[key] = issue.message;
  }
  throw new DomainError("validation", `${what} is not valid: ${Object.entries(fields).map(([f, c]) => `${f} ${c}`).join(", ")}`, fields);
}

function checkCategoriesWithin(market: Market, categories: readonly string[]): void {
  const unknown = categories.filter((c) => !market.categories.includes(c));
  if (unknown.length) {
    throw new DomainError("validation", `Not a category of this market: ${unknown.join(", ")}`, { categories: "unknown_category" });
  }
}

// ---------------------------------------------------------------------------------------------
// Markets

function marketQuery(db: Db) {
  return db
    .selectFrom("markets")
    .select(["id", "operator_id", "name", "city", "categories", "auto_confirm_days", "unpaid_expiry_minutes", "status", "created_at", "updated_at"]);
}
export type MarketRow = Awaited<ReturnType<ReturnType<typeof marketQuery>["executeTakeFirstOrThrow"]>>;

export function toMarket(r: MarketRow): Market {
  return {
    id: r.id,
    operatorId: r.operator_id,
    name: r.name,
    city: r.city,
    categories: r.categories,
    autoConfirmDays: r.auto_confirm_days,
    unpaidExpiryMinutes: r.unpaid_expiry_minutes,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function marketAudit(m: Market) {
  return { name: m.name, city: m.city, categories: m.categories, auto_confirm_days: m.autoConfirmDays, unpaid_expiry_minutes: m.unpaidExpiryMinutes };
}

/** One of this operator's markets; another operator's (or no) id → not_found. */
export async function getMarket(db: Db, operatorId: string, marketId: string): Promise<Market> {
  if (!isUuid(marketId)) throw marketNotFound();
  const row = await marketQuery(db).where("id", "=", marketId).where("operator_id", "=", operatorId).executeTakeFirst();
  if (!row) throw marketNotFound();
  return toMarket(row);
}

async function lockMarket(trx: Db, operatorId: string, marketId: string): Promise<Market> {
  if (!isUuid(marketId)) throw marketNotFound();
  const row = await marketQuery(trx).where("id", "=", marketId).where("operator_id", "=", operatorId).forUpdate().executeTakeFirst();
  if (!row) throw marketNotFound();
  return toMarket(row);
}

/** The operator's markets by name (at most 100). */
export async function listMarkets(db: Db, operatorId: string): Promise<Market[]> {
  const rows = await marketQuery(db).where("operator_id", "=", operatorId).orderBy("name").limit(MARKET_LIMITS.marketsPerOperatorMax).execute();
  return rows.map(toMarket);
}

export async function createMarket(db: Db, actor: Actor, operatorId: string, raw: MarketInput): Promise<Market> {
  const input = parseOrRefuse(marketFormSchema, raw, "Market");
  return inTransaction(db, async (trx) => {
    const operator = await trx.selectFrom("organizations").select("kind").where("id", "=", operatorId).executeTakeFirst();
    if (operator?.kind !== "market_operator") {
      throw new DomainError("forbidden", "Only a market operator runs markets");
    }
    const count = await trx
      .selectFrom("markets")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("operator_id", "=", operatorId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= MARKET_LIMITS.marketsPerOperatorMax) throw new DomainError("validation", "Too many markets", { name: "too_many" });
    let id: string;
    try {
      const row = await trx
        .insertInto("markets")
        .values({
          operator_id: operatorId,
          name: input.name,
          city: input.city,
          categories: input.categories,
          auto_confirm_days: input.autoConfirmDays,
          unpaid_expiry_minutes: input.unpaidExpiryMinutes,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      id = row.id;
    } catch (error) {
      if (isUniqueViolation(error, "markets_operator_name")) {
        throw new DomainError("conflict", `You already run a market named ${input.name}`, { name: "already_in_use" });
      }
      throw error;
    }
    const market = await getMarket(trx, operatorId, id);
    await recordAudit(trx, actor, { action: "market.created", entityType: "market", entityId: id, organizationId: operatorId, after: marketAudit(market) });
    return market;
  });
}

/**
 * Change name, city, categories and the escrow timers. A category still used by a merchant or a
 * fee schedule cannot be removed (`categories: category_in_use`).
 */
export async function updateMarket(db: Db, actor: Actor, operatorId: string, marketId: string, raw: MarketInput): Promise<Market> {
  const input = parseOrRefuse(marketFormSchema, raw, "Market");
  return inTransaction(db, async (trx) => {
    const before = await lockMarket(trx, operatorId, marketId);
    const removed = before.categories.filter((c) => !input.categories.includes(c));
    if (removed.length) {
      const usedByMerchant = await trx
        .selectFrom("market_merchants")
        .select("id")
        .where("market_id", "=", before.id)
        .where(sql<boolean>`categories && ${sql.val(removed)}::text[]`)
        .executeTakeFirst();
      const usedByFee = await trx.selectFrom("fee_schedules").select("id").where("market_id", "=", before.id).where("category", "in", removed).executeTakeFirst();
      if (usedByMerchant || usedByFee) {
        throw new DomainError("conflict", `A merchant or fee schedule still uses: ${removed.join(", ")}`, { categories: "category_in_use" });
      }
    }
    try {
      await trx
        .updateTable("markets")
        .set({
          name: input.name,
          city: input.city,
          categories: input.categories,
          auto_confirm_days: input.autoConfirmDays,
          unpaid_expiry_minutes: input.unpaidExpiryMinutes,
          updated_at: sql`now()`,
        })
        .where("id", "=", before.id)
        .where("operator_id", "=", operatorId)
        .execute();
    } catch (error) {
      if (isUniqueViolation(error, "markets_operator_name")) {
        throw new DomainError("conflict", `You already run a market named ${input.name}`, { name: "already_in_use" });
      }
      throw error;
    }
    const after = await getMarket(trx, operatorId, before.id);
    await recordAudit(trx, actor, {
      action: "market.updated",
      entityType: "market",
      entityId: before.id,
      organizationId: operatorId,
      before: marketAudit(before),
      after: marketAudit(after),
    });
    return after;
  });
}

// ---------------------------------------------------------------------------------------------
// Zones and stalls

export async function listZones(db: Db, operatorId: string, marketId: string): Promise<MarketZone[]> {
  const market = await getMarket(db, operatorId, marketId);
  const rows = await db
    .selectFrom("market_zones")
    .select(["id", "market_id", "name"])
    .where("market_id", "=", market.id)
    .orderBy("name")
    .limit(MARKET_LIMITS.zonesMax)
    .execute();
  return rows.map((r) => ({ id: r.id, marketId: r.market_id, name: r.name }));
}

export async function createZone(db: Db, actor: Actor, operatorId: string, marketId: string, raw: { name: string }): Promise<MarketZone> {
  const input = parseOrRefuse(zoneFormSchema, raw, "Zone");
  return inTransaction(db, async (trx) => {
    const market = await lockMarket(trx, operatorId, marketId);
    const count = await trx.selectFrom("market_zones").select((eb) => eb.fn.countAll<number>().as("n")).where("market_id", "=", market.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MARKET_LIMITS.zonesMax) throw new DomainError("validation", "Too many zones", { name: "too_many" });
    try {
      const row = await trx
        .insertInto("market_zones")
        .values({ market_id: market.id, operator_id: operatorId, name: input.name })
        .returning(["id", "market_id", "name"])
        .executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { action: "market_zone.created", entityType: "market_zone", entityId: row.id, organizationId: operatorId, after: { market_id: market.id, name: row.name } });
      return { id: row.id, marketId: row.market_id, name: row.name };
    } catch (error) {
      if (isUniqueViolation(error, "market_zones_market_name")) throw new DomainError("conflict", "This zone exists", { name: "already_in_use" });
      throw error;
    }
  });
}

function stallQuery(db: Db) {
  return db
    .selectFrom("market_stalls as s")
    .leftJoin("market_zones as z", "z.id", "s.zone_id")
    .leftJoin("market_merchants as mm", "mm.stall_id", "s.id")
    .leftJoin("organizations as o", "o.id", "mm.merchant_id")
    .select(["s.id", "s.market_id", "s.zone_id", "z.name as zone_name", "s.code", "s.area_dm2", "s.monthly_rent_fen", "s.status", "o.name as merchant_name"]);
}
type StallRow = Awaited<ReturnType<ReturnType<typeof stallQuery>["executeTakeFirstOrThrow"]>>;

function toStall(r: StallRow): MarketStall {
  return {
    id: r.id,
    marketId: r.market_id,
    zoneId: r.zone_id,
    zoneName: r.zone_name,
    code: r.code,
    areaDm2: r.area_dm2,
    monthlyRentFen: r.monthly_rent_fen,
    status: r.status,
    merchantName: r.merchant_name,
  };
}

const stallNotFound = () => new DomainError("not_found", "Stall not found");

/** The stalls of one of the operator's markets, by code (at most `stallsMax`). */
export async function listStalls(db: Db, operatorId: string, marketId: string, options: { status?: StallStatus | null } = {}): Promise<MarketStall[]> {
  const market = await getMarket(db, operatorId, marketId);
  let query = stallQuery(db).where("s.market_id", "=", market.id).where("s.operator_id", "=", operatorId);
  if (options.status) query = query.where("s.status", "=", options.status);
  const rows = await query.orderBy("s.code").limit(MARKET_LIMITS.stallsMax).execute();
  return rows.map(toStall);
}

/** How many stalls one of the operator's markets has, and how many are let: for a page that shows one page of them. */
export async function countStalls(db: Db, operatorId: string, marketId: string): Promise<{ total: number; occupied: number }> {
  const market = await getMarket(db, operatorId, marketId);
  const row = await db
    .selectFrom("market_stalls")
    .select((eb) => [eb.fn.countAll<string | number>().as("total"), eb.fn.countAll<string | number>().filterWhere("status", "=", "occupied").as("occupied")])
    .where("market_id", "=", market.id)
    .where("operator_id", "=", operatorId)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), occupied: Number(row.occupied) };
}

export async function getStall(db: Db, operatorId: string, marketId: string, stallId: string): Promise<MarketStall> {
  if (!isUuid(stallId) || !isUuid(marketId)) throw stallNotFound();
  const row = await stallQuery(db).where("s.id", "=", stallId).where("s.market_id", "=", marketId).where("s.operator_id", "=", operatorId).executeTakeFirst();
  if (!row) throw stallNotFound();
  return toStall(row);
}

async function lockStall(trx: Db, operatorId: string, marketId: string, stallId: string): Promise<MarketStall> {
  if (!isUuid(stallId) || !isUuid(marketId)) throw stallNotFound();
  const locked = await trx
    .selectFrom("market_stalls")
    .select("id")
    .where("id", "=", stallId)
    .where("market_id", "=", marketId)
    .where("operator_id", "=", operatorId)
    .forUpdate()
    .executeTakeFirst();
  if (!locked) throw stallNotFound();
  return getStall(trx, operatorId, marketId, stallId);
}

async function assertZone(db: Db, marketId: string, zoneId: string | null): Promise<void> {
  if (zoneId === null) return;
  const zone = isUuid(zoneId) ? await db.selectFrom("market_zones").select("id").where("id", "=", zoneId).where("market_id", "=", marketId).executeTakeFirst() : undefined;
  if (!zone) throw new DomainError("validation", "Choose one of this market's zones", { zoneId: "unknown_zone" });
}

function stallAudit(s: MarketStall) {
  return { code: s.code, zone_id: s.zoneId, area_dm2: s.areaDm2, monthly_rent_fen: s.monthlyRentFen, status: s.status };
}

export async function createStall(db: Db, actor: Actor, operatorId: string, marketId: string, raw: StallInput): Promise<MarketStall> {
  const input = parseOrRefuse(stallFormSchema, raw, "Stall");
  return inTransaction(db, async (trx) => {
    const market = await lockMarket(trx, operatorId, marketId);
    await assertZone(trx, market.id, input.zoneId);
    const count = await trx.selectFrom("market_stalls").select((eb) => eb.fn.countAll<number>().as("n")).where("market_id", "=", market.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MARKET_LIMITS.stallsMax) throw new DomainError("validation", "Too many stalls", { code: "too_many" });
    let id: string;
    try {
      const row = await trx
        .insertInto("market_stalls")
        .values({
          market_id: market.id,
          operator_id: operatorId,
          zone_id: input.zoneId,
          code: input.code,
          area_dm2: input.area,
          monthly_rent_fen: input.monthlyRent,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      id = row.id;
    } catch (error) {
      if (isUniqueViolation(error, "market_stalls_market_code")) throw new DomainError("conflict", `Stall ${input.code} exists`, { code: "already_in_use" });
      throw error;
    }
    const stall = await getStall(trx, operatorId, market.id, id);
    await recordAudit(trx, actor, { action: "market_stall.created", entityType: "market_stall", entityId: id, organizationId: operatorId, after: stallAudit(stall) });
    return stall;
  });
}

/** Change zone, area and rent (the code is the stall's name and stays). */
export async function updateStall(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  stallId: string,
  raw: Omit<StallInput, "code">,
): Promise<MarketStall> {
  const input = parseOrRefuse(stallFormSchema.omit({ code: true }), raw, "Stall");
  return inTransaction(db, async (trx) => {
    const before = await lockStall(trx, operatorId, marketId, stallId);
    await assertZone(trx, before.marketId, input.zoneId);
    await trx
      .updateTable("market_stalls")
      .set({ zone_id: input.zoneId, area_dm2: input.area, monthly_rent_fen: input.monthlyRent, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("operator_id", "=", operatorId)
      .execute();
    const after = await getStall(trx, operatorId, before.marketId, before.id);
    await recordAudit(trx, actor, {
      action: "market_stall.updated",
      entityType: "market_stall",
      entityId: before.id,
      organizationId: operatorId,
      before: stallAudit(before),
      after: stallAudit(after),
    });
    return after;
  });
}

async function moveStall(trx: Db, actor: Actor, operatorId: string, stall: MarketStall, event: StallEvent): Promise<MarketStall> {
  const to = STALL_TRANSITIONS[stall.status][event];
  if (!to) throw invalidTransition("stall", stall.status, event);
  await trx.updateTable("market_stalls").set({ status: to, updated_at: sql`now()` }).where("id", "=", stall.id).where("operator_id", "=", operatorId).execute();
  await recordAudit(trx, actor, {
    action: `market_stall.${event}`,
    entityType: "market_stall",
    entityId: stall.id,
    organizationId: operatorId,
    before: { status: stall.status },
    after: { status: to },
  });
  return { ...stall, status: to };
}

/** Close or reopen a stall by hand; assignment and release happen with merchants. */
export async function transitionStall(db: Db, actor: Actor, operatorId: string, marketId: string, stallId: string, event: StallEvent): Promise<MarketStall> {
  if (!MANUAL_STALL_EVENTS.includes(event)) {
    throw new DomainError("validation", "A stall is assigned or released through its merchant", { event: "not_manual" });
  }
  return inTransaction(db, async (trx) => moveStall(trx, actor, operatorId, await lockStall(trx, operatorId, marketId, stallId), event));
}

// ---------------------------------------------------------------------------------------------
// Merchants

export function merchantQuery(db: Db) {
  return db
    .selectFrom("market_merchants as mm")
    .innerJoin("organizations as o", "o.id", "mm.merchant_id")
    .leftJoin("market_stalls as s", "s.id", "mm.stall_id")
    .select([
      "mm.id",
      "mm.market_id",
      "mm.merchant_id",
      "o.name as merchant_name",
      "o.uscc as merchant_uscc",
      "mm.stall_id",
      "s.code as stall_code",
      "mm.categories",
      "mm.status",
      "mm.status_reason",
      "mm.created_at",
    ]);
}
type MerchantRow = Awaited<ReturnType<ReturnType<typeof merchantQuery>["executeTakeFirstOrThrow"]>>;

export function toMerchant(r: MerchantRow): MarketMerchant {
  return {
    id: r.id,
    marketId: r.market_id,
    merchantId: r.merchant_id,
    merchantName: r.merchant_name,
    merchantUscc: r.merchant_uscc,
    stallId: r.stall_id,
    stallCode: r.stall_code,
    categories: r.categories,
    status: r.status,
    statusReason: r.status_reason,
    createdAt: r.created_at,
  };
}

const merchantNotFound = () => new DomainError("not_found", "Merchant not found in this market");

export async function listMarketMerchants(db: Db, operatorId: string, marketId: string): Promise<MarketMerchant[]> {
  const market = await getMarket(db, operatorId, marketId);
  const rows = await merchantQuery(db)
    .where("mm.market_id", "=", market.id)
    .where("mm.operator_id", "=", operatorId)
    .orderBy("o.name")
    .limit(MARKET_LIMITS.stallsMax)
    .execute();
  return rows.map(toMerchant);
}

export async function getMarketMerchant(db: Db, operatorId: string, marketId: string, marketMerchantId: string): Promise<MarketMerchant> {
  if (!isUuid(marketMerchantId) || !isUuid(marketId)) throw merchantNotFound();
  const row = await merchantQuery(db)
    .where("mm.id", "=", marketMerchantId)
    .where("mm.market_id", "=", marketId)
    .where("mm.operator_id", "=", operatorId)
    .executeTakeFirst();
  if (!row) throw merchantNotFound();
  return toMerchant(row);
}

/** Suspend or reactivate a merchant of the market, with a reason, by the transition table. */
export async function transitionMarketMerchant(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  marketMerchantId: string,
  event: MarketMerchantEvent,
  reason: string,
): Promise<MarketMerchant> {
  const { reason: why } = parseOrRefuse(reasonSchema, { reason }, "Reason");
  return inTransaction(db, async (trx) => {
    if (!isUuid(marketMerchantId) || !isUuid(marketId)) throw merchantNotFound();
    const locked = await trx
      .selectFrom("market_merchants")
      .select("id")
      .where("id", "=", marketMerchantId)
      .where("market_id", "=", marketId)
      .where("operator_id", "=", operatorId)
      .forUpdate()
      .executeTakeFirst();
    if (!locked) throw merchantNotFound();
    const before = await getMarketMerchant(trx, operatorId, marketId, marketMerchantId);
    const to = MARKET_MERCHANT_TRANSITIONS[before.status][event];
    if (!to) throw invalidTransition("merchant", before.status, event);
    await trx
      .updateTable("market_merchants")
      .set({ status: to, status_reason: why, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("operator_id", "=", operatorId)
      .execute();
    await recordAudit(trx, actor, {
      action: event === "suspend" ? "market_merchant.suspended" : "market_merchant.reactivated",
      entityType: "market_merchant",
      entityId: before.id,
      organizationId: operatorId,
      before: { status: before.status },
      after: { status: to, reason: why },
    });
    return { ...before, status: to, statusReason: why };
  });
}

/**
 * For listings and orders (later slices): the merchant's membership of a market it may trade in,
 * or null when not a member, suspended, or the market is closed.
 */
export async function findActiveMarketMerchant(db: Db, marketId: string, merchantId: string): Promise<MarketMerchant | null> {
  if (!isUuid(marketId) || !isUuid(merchantId)) return null;
  const row = await merchantQuery(db)
    .innerJoin("markets as m", "m.id", "mm.market_id")
    .where("mm.market_id", "=", marketId)
    .where("mm.merchant_id", "=", merchantId)
    .where("mm.status", "=", "active")
    .where("m.status", "=", "active")
    .where("o.status", "=", "active")
    .executeTakeFirst();
  return row ? toMerchant(row) : null;
}

export interface MerchantMarketMembership extends MarketMerchant {
  marketName: string;
  city: string;
}

/** The merchant's side: the markets it trades in (its own memberships only; at most 100). */
export async function listMarketsForMerchant(db: Db, merchantId: string): Promise<MerchantMarketMembership[]> {
  if (!isUuid(merchantId)) return [];
  const rows = await merchantQuery(db)
    .innerJoin("markets as m", "m.id", "mm.market_id")
    .select(["m.name as market_name", "m.city"])
    .where("mm.merchant_id", "=", merchantId)
    .orderBy("m.name")
    .limit(100)
    .execute();
  return rows.map((r) => ({ ...toMerchant(r), marketName: r.market_name, city: r.city }));
}

// ---------------------------------------------------------------------------------------------
// Applications

export function applicationQuery(db: Db) {
  return db
    .selectFrom("merchant_applications as a")
    .leftJoin("market_stalls as s", "s.id", "a.assigned_stall_id")
    .select([
      "a.id",
      "a.market_id",
      "a.uscc",
      "a.company_name",
      "a.legal_representative",
      "a.contact_name",
      "a.contact_phone",
      "a.stall_wish",
      "a.categories",
      "a.status",
      "a.decision_reason",
      "a.assigned_stall_id",
      "s.code as stall_code",
      "a.merchant_id",
      "a.decided_at",
      "a.created_at",
    ]);
}
export type ApplicationRow = Awaited<ReturnType<ReturnType<typeof applicationQuery>["executeTakeFirstOrThrow"]>>;

export function toApplication(r: ApplicationRow): MerchantApplication {
  return {
    id: r.id,
    marketId: r.market_id,
    uscc: r.uscc,
    companyName: r.company_name,
    legalRepresentative: r.legal_representative,
    contactName: r.contact_name,
    contactPhone: r.contact_phone,
    stallWish: r.stall_wish,
    categories: r.categories,
    status: r.status,
    decisionReason: r.decision_reason,
    assignedStallId: r.assigned_stall_id,
    assignedStallCode: r.stall_code,
    merchantId: r.merchant_id,
    decidedAt: r.decided_at,
    createdAt: r.created_at,
  };
}

const applicationNotFound = () => new DomainError("not_found", "Application not found");

export async function getMerchantApplication(db: Db, operatorId: string, marketId: string, applicationId: string): Promise<MerchantApplication> {
  if (!isUuid(applicationId) || !isUuid(marketId)) throw applicationNotFound();
  const row = await applicationQuery(db)
    .where("a.id", "=", applicationId)
    .where("a.market_id", "=", marketId)
    .where("a.operator_id", "=", operatorId)
    .executeTakeFirst();
  if (!row) throw applicationNotFound();
  return toApplication(row);
}

/** Applications to one market, pending first, newest first within a status (at most 200). */
export async function listMerchantApplications(
  db: Db,
  operatorId: string,
  marketId: string,
  options: { status?: MerchantApplicationStatus | null } = {},
): Promise<MerchantApplication[]> {
  const market = await getMarket(db, operatorId, marketId);
  let query = applicationQuery(db).where("a.market_id", "=", market.id).where("a.operator_id", "=", operatorId);
  if (options.status) query = query.where("a.status", "=", options.status);
  const rows = await query
    .orderBy(sql`a.status = 'submitted'`, "desc")
    .orderBy("a.created_at", "desc")
    .orderBy("a.id")
    .limit(MARKET_LIMITS.pageSizeMax)
    .execute();
  return rows.map(toApplication);
}

/**
 * Record an application to a market. Who may call it: the market's operator (entering a paper
 * application from the page); `submittedBy` is the acting user. The USCC's check character is
 * validated; the categories must be the market's; one open application per company per market.
 */
export async function submitMerchantApplication(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  raw: ApplicationInput,
): Promise<MerchantApplication> {
  const input = parseOrRefuse(applicationFormSchema, raw, "Application");
  return inTransaction(db, async (trx) => {
    const market = await getMarket(trx, operatorId, marketId);
    checkCategoriesWithin(market, input.categories);
    const member = await trx
      .selectFrom("market_merchants as mm")
      .innerJoin("organizations as o", "o.id", "mm.merchant_id")
      .select("mm.id")
      .where("mm.market_id", "=", market.id)
      .where("o.uscc", "=", input.uscc)
      .executeTakeFirst();
    if (member) throw new DomainError("conflict", "This company already trades in this market", { uscc: "already_merchant" });
    let id: string;
    try {
      const row = await trx
        .insertInto("merchant_applications")
        .values({
          market_id: market.id,
          operator_id: operatorId,
          uscc: input.uscc,
          company_name: input.companyName,
          legal_representative: input.legalRepresentative,
          contact_name: input.contactName,
          contact_phone: input.contactPhone,
          stall_wish: input.stallWish,
          categories: input.categories,
          submitted_by: actor.userId,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      id = row.id;
    } catch (error) {
      if (isUniqueViolation(error, "merchant_applications_open")) {
        throw new DomainError("conflict", "This company already has an open application to this market", { uscc: "application_open" });
      }
      throw error;
    }
    await recordAudit(trx, actor, {
      action: "merchant_application.submitted",
      entityType: "merchant_application",
      entityId: id,
      organizationId: operatorId,
      after: { market_id: market.id, uscc: input.uscc, company_name: input.companyName, categories: input.categories, stall_wish: input.stallWish },
    });
    return getMerchantApplication(trx, operatorId, market.id, id);
  });
}

async function lockApplication(trx: Db, operatorId: string, marketId: string, applicationId: string): Promise<MerchantApplication> {
  if (!isUuid(applicationId) || !isUuid(marketId)) throw applicationNotFound();
  const locked = await trx
    .selectFrom("merchant_applications")
    .select("id")
    .where("id", "=", applicationId)
    .where("market_id", "=", marketId)
    .where("operator_id", "=", operatorId)
    .forUpdate()
    .executeTakeFirst();
  if (!locked) throw applicationNotFound();
  return getMerchantApplication(trx, operatorId, marketId, applicationId);
}

/**
 * Approve with a vacant stall of the same market: in one transaction, link the merchant
 * organisation with this USCC (it must be a `merchant`) or create one, put it in the market with
 * the application's categories, occupy the stall, and close the application. Inviting the
 * merchant's first user is not part of this slice.
 */
export async function approveMerchantApplication(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  applicationId: string,
  input: { stallId: string },
): Promise<{ application: MerchantApplication; merchant: MarketMerchant; createdOrganization: boolean }> {
  return inTransaction(db, async (trx) => {
    const application = await lockApplication(trx, operatorId, marketId, applicationId);
    if (!MERCHANT_APPLICATION_TRANSITIONS[application.status].approve) throw invalidTransition("application", application.status, "approve");
    if (!input.stallId) throw new DomainError("validation", "Choose a stall", { stallId: "required" });
    let stall: MarketStall;
    try {
      stall = await lockStall(trx, operatorId, application.marketId, input.stallId);
    } catch (error) {
      // Another market's (or operator's) stall is a wrong choice in this form, named as such.
      if (isDomainError(error) && error.code === "not_found") {
        throw new DomainError("validation", "Choose a stall of this market", { stallId: "unknown_stall" });
      }
      throw error;
    }
    if (!STALL_TRANSITIONS[stall.status].assign) {
      throw new DomainError("conflict", `Stall ${stall.code} is ${stall.status}`, { stallId: "stall_not_vacant" });
    }
    const existing = await trx.selectFrom("organizations").select(["id", "kind"]).where("uscc", "=", application.uscc).executeTakeFirst();
    if (existing && existing.kind !== "merchant") {
      throw new DomainError("conflict", "The organisation with this USCC is not a merchant", { uscc: "not_merchant" });
    }
    const merchantId =
      existing?.id ?? (await createOrganization(trx, actor, { kind: "merchant", name: application.companyName, uscc: application.uscc })).id;
    let marketMerchantId: string;
    try {
      const row = await trx
        .insertInto("market_merchants")
        .values({
          market_id: application.marketId,
          operator_id: operatorId,
          merchant_id: merchantId,
          stall_id: stall.id,
          categories: application.categories,
          application_id: application.id,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      marketMerchantId = row.id;
    } catch (error) {
      if (isUniqueViolation(error, "market_merchants_market_merchant")) {
        throw new DomainError("conflict", "This company already trades in this market", { uscc: "already_merchant" });
      }
      throw error;
    }
    await moveStall(trx, actor, operatorId, stall, "assign");
    await trx
      .updateTable("merchant_applications")
      .set({ status: "approved", assigned_stall_id: stall.id, merchant_id: merchantId, decided_by: actor.userId, decided_at: sql`now()`, updated_at: sql`now()` })
      .where("id", "=", application.id)
      .where("operator_id", "=", operatorId)
      .execute();
    await recordAudit(trx, actor, {
      action: "merchant_application.approved",
      entityType: "merchant_application",
      entityId: application.id,
      organizationId: operatorId,
      before: { status: application.status },
      after: { status: "approved", stall_id: stall.id, stall_code: stall.code, merchant_id: merchantId, organization_created: !existing },
    });
    await recordAudit(trx, actor, {
      action: "market_merchant.created",
      entityType: "market_merchant",
      entityId: marketMerchantId,
      organizationId: operatorId,
      after: { market_id: application.marketId, merchant_id: merchantId, stall_id: stall.id, categories: application.categories },
    });
    return {
      application: await getMerchantApplication(trx, operatorId, application.marketId, application.id),
      merchant: await getMarketMerchant(trx, operatorId, application.marketId, marketMerchantId),
      createdOrganization: !existing,
    };
  });
}

export async function rejectMerchantApplication(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  applicationId: string,
  reason: string,
): Promise<MerchantApplication> {
  const { reason: why } = parseOrRefuse(reasonSchema, { reason }, "Reason");
  return inTransaction(db, async (trx) => {
    const application = await lockApplication(trx, operatorId, marketId, applicationId);
    if (!MERCHANT_APPLICATION_TRANSITIONS[application.status].reject) throw invalidTransition("application", application.status, "reject");
    await trx
      .updateTable("merchant_applications")
      .set({ status: "rejected", decision_reason: why, decided_by: actor.userId, decided_at: sql`now()`, updated_at: sql`now()` })
      .where("id", "=", application.id)
      .where("operator_id", "=", operatorId)
      .execute();
    await recordAudit(trx, actor, {
      action: "merchant_application.rejected",
      entityType: "merchant_application",
      entityId: application.id,
      organizationId: operatorId,
      before: { status: application.status },
      after: { status: "rejected", reason: why },
    });
    return getMerchantApplication(trx, operatorId, application.marketId, application.id);
  });
}
