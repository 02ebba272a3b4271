import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { jsonInstant, type JsonRow } from "../../../db/read-together";
import type { SkuStatus } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, decodeCursor, encodeCursor, invalidCursor, isUuid } from "../shared";
import { type Fen } from "../ledger";

/**
 * The catalogue of a core enterprise: products (a family: name, category) and their SKUs (what is
 * ordered, priced and stocked).
 *
 * Invariants (the table's CHECKs refuse any row that breaks them; the functions here refuse first,
 * with a message naming the field):
 *  C1 a SKU code is upper-case ASCII, unique per core enterprise (codes are case-insensitive:
 *     `kfr-35` and `KFR-35` are one SKU);
 *  C2 quantities are whole units; orders come in whole packs, so the MOQ is a whole number of packs
 *     (moq ≥ pack size and moq % pack size = 0);
 *  C3 prices are integer fen, tax-inclusive (含税单价); the tax rate is one of the VAT rates;
 *  C4 0 ≤ stock_reserved ≤ stock_on_hand, always — a reservation is one conditional UPDATE, so two
 *     orders confirmed at once can never both take the last unit;
 *  C5 everything is read and written scoped by the core enterprise: another tenant's id is not found.
 */

export const SKU_LIMITS = {
  codeLength: 64,
  nameLength: 200,
  specLength: 200,
  unitLength: 10,
  categoryLength: 50,
  maxPackSize: 100_000,
  maxQuantity: 10_000_000,
  maxStock: 1_000_000_000,
  /** ¥100,000,000 a unit: far above any appliance, far below 2^53 when multiplied by a quantity. */
  maxUnitPriceFen: 10_000_000_000,
  pageSizeDefault: 25,
  pageSizeMax: 100,
  /** getSkusByCodes: one quick order or CSV is at most this many distinct codes. */
  maxCodesPerLookup: 1_000,
} as const;

/** VAT rates in force (13 %, 9 %, 6 %, 0 %, and the small-taxpayer 5 %, 3 %, 1 %), in bps. */
export const VAT_RATES_BPS = [1300, 900, 600, 500, 300, 100, 0] as const;

export const SKU_FIELDS = [
  "code",
  "name",
  "spec",
  "unit",
  "packSize",
  "moq",
  "basePrice",
  "taxRate",
  "stockOnHand",
  "status",
  "productCode",
  "productName",
  "category",
] as const;
export type SkuField = (typeof SKU_FIELDS)[number];

/**
 * What went wrong with a field, as a stable code. Pages translate `catalog.problem.<code>`; the API
 * and the CSV report carry the English sentence from `SKU_PROBLEM_TEXT` too.
 */
export type SkuProblemCode =
  | "required"
  | "too_long"
  | "code_format"
  | "whole_number"
  | "out_of_range"
  | "money_format"
  | "tax_rate"
  | "moq_whole_packs"
  | "status"
  | "below_reserved"
  | "duplicate_code"
  | "product_conflict"
  | "already_in_use";

export const SKU_PROBLEM_TEXT: Record<SkuProblemCode, string> = {
  required: "is required",
  too_long: "is too long",
  code_format: `use letters, digits and . _ / - only (at most ${SKU_LIMITS.codeLength}, starting with a letter or digit)`,
  whole_number: "must be a whole number",
  out_of_range: "is out of the allowed range",
  money_format: "must be an amount in yuan with at most 2 decimals, greater than 0",
  tax_rate: `must be a VAT rate in percent: ${VAT_RATES_BPS.map((b) => b / 100).join(", ")}`,
  moq_whole_packs: "the minimum order must be a whole number of packs (at least one pack)",
  status: "must be active or inactive (上架/下架)",
  below_reserved: "cannot go below the stock already reserved for orders",
  duplicate_code: "appears more than once",
  product_conflict: "the same product code has another name or category on another line",
  already_in_use: "is already used by another SKU",
};

export interface SkuProblem {
  field: SkuField;
  code: SkuProblemCode;
  /** English, naming the field: for the API, logs and the CSV report. */
  message: string;
}

export function skuProblem(field: SkuField, code: SkuProblemCode): SkuProblem {
  return { field, code, message: `${field} ${SKU_PROBLEM_TEXT[code]}` };
}

function isProblemCode(value: string): value is SkuProblemCode {
  return Object.prototype.hasOwnProperty.call(SKU_PROBLEM_TEXT, value);
}

/** Turn zod issues (whose messages are problem codes) into one problem per field, first wins. */
export function problemsFromZod(error: z.ZodError): SkuProblem[] {
  const seen = new Set<string>();
  const problems: SkuProblem[] = [];
  for (const issue of error.issues) {
    const field = issue.path[0];
    if (typeof field !== "string" || !(SKU_FIELDS as readonly string[]).includes(field) || seen.has(field)) continue;
    seen.add(field);
    problems.push(skuProblem(field as SkuField, isProblemCode(issue.message) ? issue.message : "required"));
  }
  return problems;
}

/**
 * Field values are problem codes (stable, translatable: pages show `catalog.problem.<code>`); the
 * message is the English sentence naming every field.
 */
function validationError(problems: SkuProblem[]): DomainError {
  const fields: Record<string, string> = {};
  for (const p of problems) fields[p.field] = p.code;
  return new DomainError("validation", problems.map((p) => p.message).join("; "), fields);
}

// ---------------------------------------------------------------------------------------------
// Input: the typed shape every writer produces, and two schemas that produce it.

export interface SkuInput {
  code: string;
  name: string;
  spec: string;
  unit: string;
  packSize: number;
  moq: number;
  basePriceFen: Fen;
  taxRateBps: number;
  /** Omitted: a new SKU starts at 0, an existing one keeps its stock. */
  stockOnHand?: number;
  /** Omitted: a new SKU is active, an existing one keeps its status. */
  status?: SkuStatus;
  /** Omitted: the SKU is its own product (product code = SKU code). */
  productCode?: string;
  /** Omitted: the SKU's name for a new product, else the product keeps its name. */
  productName?: string;
  /** Omitted: unchanged (new product: none); null clears it. */
  category?: string | null;
}

const CODE_PATTERN = /^[A-Z0-9][A-Z0-9._/-]{0,63}$/;

/** Codes are compared upper-case, after trimming and folding full-width characters (Excel, IMEs). */
export function normalizeSkuCode(raw: string): string {
  return raw.normalize("NFKC").trim().toUpperCase();
}

export function isValidSkuCode(code: string): boolean {
  return CODE_PATTERN.test(code);
}

const codeSchema = z
  .string({ required_error: "required", invalid_type_error: "required" })
  .transform(normalizeSkuCode)
  .pipe(z.string().min(1, "required").regex(CODE_PATTERN, "code_format"));

const requiredText = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .trim()
    .min(1, "required")
    .max(max, "too_long");
const optionalText = (max: number) =>
  z
    .string({ invalid_type_error: "required" })
    .trim()
    .max(max, "too_long")
    .optional()
    .transform((v) => v ?? "");

const int = (min: number, max: number) =>
  z.number({ required_error: "required", invalid_type_error: "whole_number" }).int("whole_number").min(min, "out_of_range").max(max, "out_of_range");

function refineMoq(value: { packSize: number; moq: number }, ctx: z.RefinementCtx) {
  if (value.moq < value.packSize || value.moq % value.packSize !== 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["moq"], message: "moq_whole_packs" });
  }
}

/** The typed input (API bodies, seeds, tests): integers in fen and bps. */
export const skuInputSchema = z
  .object({
    code: codeSchema,
    name: requiredText(SKU_LIMITS.nameLength),
    spec: optionalText(SKU_LIMITS.specLength),
    unit: requiredText(SKU_LIMITS.unitLength),
    packSize: int(1, SKU_LIMITS.maxPackSize),
    moq: int(1, SKU_LIMITS.maxQuantity),
    basePriceFen: int(1, SKU_LIMITS.maxUnitPriceFen),
    taxRateBps: z
      .number({ required_error: "required", invalid_type_error: "tax_rate" })
      .refine((v) => (VAT_RATES_BPS as readonly number[]).includes(v), "tax_rate"),
    stockOnHand: int(0, SKU_LIMITS.maxStock).optional(),
    status: z.enum(["active", "inactive"], { errorMap: () => ({ message: "status" }) }).optional(),
    productCode: codeSchema.optional(),
    productName: requiredText(SKU_LIMITS.nameLength).optional(),
    category: z.string().trim().max(SKU_LIMITS.categoryLength, "too_long").nullable().optional(),
  })
  .superRefine(refineMoq);

// --- human entry: what a person types in a form or a spreadsheet cell --------------------------

/** Blank cells and fields count as absent. */
const blankToUndefined = (v: unknown) => (typeof v === "string" && v.normalize("NFKC").trim() === "" ? undefined : v);

/** "1,200" and full-width "１２００" are 1200; anything else with a non-digit is not a whole number. */
export function parseWholeNumber(raw: string): number | null {
  const text = raw.normalize("NFKC").trim().replace(/,(?=\d{3}(?:\D|$))/g, "");
  if (!/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}

/**
 * Yuan as typed ("1299", "1,299.50", "¥1299.5") → integer fen, with string arithmetic only: no
 * float ever touches money. More than 2 decimals is refused rather than rounded.
 */
export function parseYuanToFen(raw: string): Fen | null {
  const text = raw.normalize("NFKC").trim().replace(/^[¥￥]\s*/, "").replace(/,(?=\d{3}(?:\D|$))/g, "");
  const match = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return null;
  const fen = Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
  return Number.isSafeInteger(fen) ? fen : null;
}

/** Integer fen → "1299.50" (the form and CSV notation; the display format is formatFen). */
export function fenToYuanText(fen: Fen): string {
  const cents = fen % 100;
  return `${(fen - cents) / 100}.${String(cents).padStart(2, "0")}`;
}

/** "13", "13%", "13.00" → 1300 bps; "9" → 900. */
export function parsePercentToBps(raw: string): number | null {
  const text = raw.normalize("NFKC").trim().replace(/\s*%$/, "");
  const match = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

export function bpsToPercentText(bps: number): string {
  return bps % 100 === 0 ? String(bps / 100) : (bps / 100).toFixed(2);
}

/** The tax-rate choices of a form: value as the entry schema reads it ("13"), label "13%". */
export function taxRateOptions(): { value: string; label: string }[] {
  return VAT_RATES_BPS.map((bps) => ({ value: bpsToPercentText(bps), label: `${bpsToPercentText(bps)}%` }));
}

const STATUS_WORDS: Record<string, SkuStatus> = {
  active: "active",
  inactive: "inactive",
  上架: "active",
  下架: "inactive",
  启用: "active",
  停用: "inactive",
};

const entryWhole = (min: number, max: number) =>
  z.string({ invalid_type_error: "whole_number" }).transform((raw, ctx) => {
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

/**
 * The human-entry schema for the SKU form and each CSV row: every value a string, price in yuan,
 * tax rate in percent. Produces the same `SkuInput` as `skuInputSchema`.
 */
export const skuEntrySchema = z
  .object({
    code: z.preprocess(blankToUndefined, codeSchema),
    name: z.preprocess(blankToUndefined, requiredText(SKU_LIMITS.nameLength)),
    spec: z.preprocess(blankToUndefined, optionalText(SKU_LIMITS.specLength)),
    unit: z.preprocess(blankToUndefined, requiredText(SKU_LIMITS.unitLength)),
    packSize: z.preprocess(blankToUndefined, entryWhole(1, SKU_LIMITS.maxPackSize).optional()),
    moq: z.preprocess(blankToUndefined, entryWhole(1, SKU_LIMITS.maxQuantity).optional()),
    basePrice: z.preprocess(
      blankToUndefined,
      z.string({ required_error: "required", invalid_type_error: "required" }).transform((raw, ctx) => {
        const fen = parseYuanToFen(raw);
        if (fen === null || fen < 1) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: "money_format" });
          return z.NEVER;
        }
        if (fen > SKU_LIMITS.maxUnitPriceFen) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: "out_of_range" });
          return z.NEVER;
        }
        return fen;
      }),
    ),
    taxRate: z.preprocess(
      blankToUndefined,
      z.string({ required_error: "required", invalid_type_error: "required" }).transform((raw, ctx) => {
        const bps = parsePercentToBps(raw);
        if (bps === null || !(VAT_RATES_BPS as readonly number[]).includes(bps)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: "tax_rate" });
          return z.NEVER;
        }
        return bps;
      }),
    ),
    stockOnHand: z.preprocess(blankToUndefined, entryWhole(0, SKU_LIMITS.maxStock).optional()),
    status: z.preprocess(
      blankToUndefined,
      z
        .string()
        .transform((raw, ctx) => {
          const status = STATUS_WORDS[raw.normalize("NFKC").trim().toLowerCase()];
          if (!status) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, message: "status" });
            return z.NEVER;
          }
          return status;
        })
        .optional(),
    ),
    productCode: z.preprocess(blankToUndefined, codeSchema.optional()),
    productName: z.preprocess(blankToUndefined, requiredText(SKU_LIMITS.nameLength).optional()),
    // A blank category clears it; a CSV without the column leaves it as it is.
    category: z.preprocess(
      (v) => (typeof v === "string" && v.normalize("NFKC").trim() === "" ? null : v),
      z.string().trim().max(SKU_LIMITS.categoryLength, "too_long").nullable().optional(),
    ),
  })
  .transform((v): SkuInput => {
    const packSize = v.packSize ?? 1;
    return {
      code: v.code,
      name: v.name,
      spec: v.spec,
      unit: v.unit,
      packSize,
      // No MOQ given: one pack.
      moq: v.moq ?? packSize,
      basePriceFen: v.basePrice,
      taxRateBps: v.taxRate,
      stockOnHand: v.stockOnHand,
      status: v.status,
      productCode: v.productCode,
      productName: v.productName,
      category: v.category,
    };
  })
  .superRefine(refineMoq);

export type SkuEntry = z.input<typeof skuEntrySchema>;

/** Parse the human entry; problems per field, or the typed input. */
export function parseSkuEntry(raw: Record<string, unknown>): { ok: true; input: SkuInput } | { ok: false; problems: SkuProblem[] } {
  const parsed = skuEntrySchema.safeParse(raw);
  if (parsed.success) return { ok: true, input: parsed.data };
  const problems = problemsFromZod(parsed.error);
  // zod skips the object's refinements once any field fails; the MOQ rule is checked here too, so
  // one submission reports every problem.
  if (!problems.some((p) => p.field === "moq" || p.field === "packSize")) {
    const packSize = typeof raw.packSize === "string" && raw.packSize.trim() ? parseWholeNumber(raw.packSize) : 1;
    const moq = typeof raw.moq === "string" && raw.moq.trim() ? parseWholeNumber(raw.moq) : packSize;
    if (packSize !== null && moq !== null && (moq < packSize || moq % packSize !== 0)) problems.push(skuProblem("moq", "moq_whole_packs"));
  }
  return { ok: false, problems };
}

function checkedInput(input: SkuInput): SkuInput {
  const parsed = skuInputSchema.safeParse(input);
  if (!parsed.success) {
    // The typed schema names fields by their unit (basePriceFen); report them under the entry names.
    const rename: Record<string, SkuField> = { basePriceFen: "basePrice", taxRateBps: "taxRate" };
    const issues = parsed.error.issues.map((i) => ({ ...i, path: [rename[String(i.path[0])] ?? i.path[0], ...i.path.slice(1)] }));
    throw validationError(problemsFromZod(new z.ZodError(issues)));
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface Sku {
  id: string;
  coreEnterpriseId: string;
  productId: string;
  productCode: string;
  productName: string;
  category: string | null;
  code: string;
  name: string;
  spec: string;
  unit: string;
  packSize: number;
  moq: number;
  basePriceFen: Fen;
  taxRateBps: number;
  stockOnHand: number;
  stockReserved: number;
  /** on hand − reserved: what a new order can still get. */
  stockAvailable: number;
  status: SkuStatus;
  createdAt: Date;
  updatedAt: Date;
}

function skuQuery(db: Db) {
  return db
    .selectFrom("skus as s")
    .innerJoin("products as p", "p.id", "s.product_id")
    .select([
      "s.id",
      "s.core_enterprise_id",
      "s.product_id",
      "p.code as product_code",
      "p.name as product_name",
      "p.category",
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
      "s.status",
      "s.created_at",
      "s.updated_at",
    ]);
}

type SkuRow = Awaited<ReturnType<ReturnType<typeof skuQuery>["executeTakeFirstOrThrow"]>>;

function toSku(row: SkuRow): Sku {
  return {
    id: row.id,
    coreEnterpriseId: row.core_enterprise_id,
    productId: row.product_id,
    productCode: row.product_code,
    productName: row.product_name,
    category: row.category,
    code: row.code,
    name: row.name,
    spec: row.spec,
    unit: row.unit,
    packSize: row.pack_size,
    moq: row.moq,
    basePriceFen: row.base_price_fen,
    taxRateBps: row.tax_rate_bps,
    stockOnHand: row.stock_on_hand,
    stockReserved: row.stock_reserved,
    stockAvailable: row.stock_on_hand - row.stock_reserved,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const skuNotFound = () => new DomainError("not_found", "SKU not found");

/** One SKU of this core enterprise; another tenant's id is not found (C5). */
export async function getSku(db: Db, coreEnterpriseId: string, skuId: string): Promise<Sku> {
  if (!isUuid(skuId)) throw skuNotFound();
  const row = await skuQuery(db).where("s.id", "=", skuId).where("s.core_enterprise_id", "=", coreEnterpriseId).executeTakeFirst();
  if (!row) throw skuNotFound();
  return toSku(row);
}

/**
 * SKUs by code for a quick order or a CSV (codes normalised; unknown codes are simply absent from
 * the map, so the caller reports them per line). One query, at most `maxCodesPerLookup` codes.
 */
export async function getSkusByCodes(db: Db, coreEnterpriseId: string, codes: readonly string[]): Promise<Map<string, Sku>> {
  const query = skusByCodesQuery(db, coreEnterpriseId, codes);
  const result = new Map<string, Sku>();
  for (const sku of skusFromRows(query ? await query.execute() : [])) result.set(sku.code, sku);
  return result;
}

/** The query of `getSkusByCodes`; null when no code is valid. */
export function skusByCodesQuery(db: Db, coreEnterpriseId: string, codes: readonly string[]) {
  const wanted = [...new Set(codes.map(normalizeSkuCode).filter(isValidSkuCode))];
  if (wanted.length > SKU_LIMITS.maxCodesPerLookup) {
    throw new DomainError("validation", `At most ${SKU_LIMITS.maxCodesPerLookup} SKU codes at a time`, {
      codes: `at most ${SKU_LIMITS.maxCodesPerLookup}`,
    });
  }
  if (wanted.length === 0) return null;
  return skuQuery(db).where("s.core_enterprise_id", "=", coreEnterpriseId).where("s.code", "=", sql<string>`any(${wanted}::text[])`);
}

/** The rows of the SKU queries, as read directly or through JSON. */
export function skusFromRows(rows: readonly (SkuRow | JsonRow)[]): Sku[] {
  return rows.map((raw) => toSku({ ...(raw as SkuRow), created_at: jsonInstant(raw.created_at), updated_at: jsonInstant(raw.updated_at) }));
}

/** SKUs of one core enterprise by id (ids that are not UUIDs, or not its SKUs, are simply absent). */
export async function getSkusByIds(db: Db, coreEnterpriseId: string, ids: readonly string[]): Promise<Map<string, Sku>> {
  const query = skusByIdsQuery(db, coreEnterpriseId, ids);
  const result = new Map<string, Sku>();
  for (const sku of skusFromRows(query ? await query.execute() : [])) result.set(sku.id, sku);
  return result;
}

/** The query of `getSkusByIds`; null when no id is valid. */
export function skusByIdsQuery(db: Db, coreEnterpriseId: string, ids: readonly string[]) {
  const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (wanted.length > SKU_LIMITS.maxCodesPerLookup) {
    throw new DomainError("validation", `At most ${SKU_LIMITS.maxCodesPerLookup} SKUs at a time`, {
      ids: `at most ${SKU_LIMITS.maxCodesPerLookup}`,
    });
  }
  if (wanted.length === 0) return null;
  return skuQuery(db).where("s.core_enterprise_id", "=", coreEnterpriseId).where("s.id", "=", sql<string>`any(${wanted}::uuid[])`);
}

export interface SkuPage<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface ListSkusOptions {
  /** Matches a code prefix, or a part of the SKU or product name or spec. */
  search?: string | null;
  status?: SkuStatus | null;
  /** The last code of the previous page (keyset pagination). */
  after?: string | null;
  limit?: number;
}

export function clampPageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return SKU_LIMITS.pageSizeDefault;
  return Math.min(Math.max(Math.trunc(limit), 1), SKU_LIMITS.pageSizeMax);
}

/** The cursor after a SKU in code order (the shared codec, cursor.server.ts). */
export function skuCursor(code: string): string {
  return encodeCursor([code]);
}

/** A cursor from a URL: the SKU code it carries, else a 422 naming `after` (never a query on garbage). */
export function parseCursor(after: string | null | undefined): string | null {
  const parts = decodeCursor(after, ["text"]);
  if (!parts) return null;
  const code = normalizeSkuCode(parts[0]);
  if (!isValidSkuCode(code)) throw invalidCursor();
  return code;
}

const MAX_SEARCH_LENGTH = 100;

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The search filter shared by the core enterprise's list and the dealer's catalogue. A code prefix
 * can use the (core, code) index; a name fragment filters rows as the keyset walk meets them.
 */
export function searchFilter(search: string | null | undefined) {
  const text = search?.normalize("NFKC").trim().slice(0, MAX_SEARCH_LENGTH) ?? "";
  if (!text) return null;
  const codePrefix = `${escapeLike(text.toUpperCase())}%`;
  const fragment = `%${escapeLike(text)}%`;
  // Names are stored as typed; the search key is NFKC on both sides, so "12寸" finds "１２寸" and "m2" finds "㎡".
  return sql<boolean>`(s.code like ${codePrefix} or normalize(s.name, NFKC) ilike ${fragment} or normalize(s.spec, NFKC) ilike ${fragment} or normalize(p.name, NFKC) ilike ${fragment})`;
}

/** The core enterprise's own list: every SKU (any status), code order, keyset pages. */
export async function listSkus(db: Db, coreEnterpriseId: string, options: ListSkusOptions = {}): Promise<SkuPage<Sku>> {
  const limit = clampPageSize(options.limit);
  const after = parseCursor(options.after);
  let query = skuQuery(db).where("s.core_enterprise_id", "=", coreEnterpriseId);
  if (options.status) query = query.where("s.status", "=", options.status);
  if (after) query = query.where("s.code", ">", after);
  const filter = searchFilter(options.search);
  if (filter) query = query.where(filter);
  const rows = await query.orderBy("s.code").limit(limit + 1).execute();
  const items = rows.slice(0, limit).map(toSku);
  return { items, nextCursor: rows.length > limit ? skuCursor(items[items.length - 1].code) : null };
}

export async function countSkus(db: Db, coreEnterpriseId: string): Promise<{ total: number; active: number }> {
  const row = await db
    .selectFrom("skus")
    .select((eb) => [
      eb.fn.countAll<number>().as("total"),
      eb.fn.count<number>("id").filterWhere("status", "=", "active").as("active"),
    ])
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), active: Number(row.active) };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Get or create the product a SKU belongs to. A name or category given explicitly is written (it is
 * shared by every SKU of the product); one left out keeps what the product has.
 */
async function upsertProduct(
  db: Db,
  coreEnterpriseId: string,
  product: { code: string; name: string | undefined; category: string | null | undefined; nameForNewProduct: string },
): Promise<string> {
  const row = await db
    .insertInto("products")
    .values({
      core_enterprise_id: coreEnterpriseId,
      code: product.code,
      name: product.name ?? product.nameForNewProduct,
      category: product.category ?? null,
    })
    .onConflict((oc) =>
      oc.columns(["core_enterprise_id", "code"]).doUpdateSet((eb) => ({
        name: product.name === undefined ? eb.ref("products.name") : eb.ref("excluded.name"),
        category: product.category === undefined ? eb.ref("products.category") : eb.ref("excluded.category"),
        updated_at: sql`now()`,
      })),
    )
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

function auditView(sku: Sku) {
  return {
    code: sku.code,
    name: sku.name,
    spec: sku.spec,
    unit: sku.unit,
    pack_size: sku.packSize,
    moq: sku.moq,
    base_price_fen: sku.basePriceFen,
    tax_rate_bps: sku.taxRateBps,
    stock_on_hand: sku.stockOnHand,
    status: sku.status,
    product_code: sku.productCode,
  };
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string; message?: string };
  return e?.code === "23505" && (e.constraint === constraint || (e.message ?? "").includes(constraint));
}

function isCheckViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string; message?: string };
  return e?.code === "23514" && (e.constraint === constraint || (e.message ?? "").includes(constraint));
}

export async function createSku(db: Db, actor: Actor, coreEnterpriseId: string, raw: SkuInput): Promise<Sku> {
  const input = checkedInput(raw);
  return inTransaction(db, async (trx) => {
    const taken = await trx
      .selectFrom("skus")
      .select("id")
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .where("code", "=", input.code)
      .executeTakeFirst();
    if (taken) throw new DomainError("conflict", `SKU code ${input.code} is already in use`, { code: "already_in_use" });
    const productId = await upsertProduct(trx, coreEnterpriseId, {
      code: input.productCode ?? input.code,
      name: input.productName,
      category: input.category,
      nameForNewProduct: input.name,
    });
    let id: string;
    try {
      const row = await trx
        .insertInto("skus")
        .values({
          core_enterprise_id: coreEnterpriseId,
          product_id: productId,
          code: input.code,
          name: input.name,
          spec: input.spec,
          unit: input.unit,
          pack_size: input.packSize,
          moq: input.moq,
          base_price_fen: input.basePriceFen,
          tax_rate_bps: input.taxRateBps,
          stock_on_hand: input.stockOnHand ?? 0,
          status: input.status ?? "active",
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      id = row.id;
    } catch (error) {
      // Two creates of one code at once: the unique index decides; the loser hears why.
      if (isUniqueViolation(error, "skus_core_code")) {
        throw new DomainError("conflict", `SKU code ${input.code} is already in use`, { code: "already_in_use" });
      }
      throw error;
    }
    const sku = await getSku(trx, coreEnterpriseId, id);
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId, action: "sku.created", entityType: "sku", entityId: sku.id, after: auditView(sku) });
    return sku;
  });
}

/**
 * Change a SKU. The code may change too (a new code must be free). Stock on hand may not go below
 * what is reserved: checked under the row lock, and by the table's CHECK behind it.
 */
export async function updateSku(db: Db, actor: Actor, coreEnterpriseId: string, skuId: string, raw: SkuInput): Promise<Sku> {
  const input = checkedInput(raw);
  return inTransaction(db, async (trx) => {
    if (!isUuid(skuId)) throw skuNotFound();
    const locked = await trx
      .selectFrom("skus")
      .select(["id", "stock_reserved"])
      .where("id", "=", skuId)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .forUpdate()
      .executeTakeFirst();
    if (!locked) throw skuNotFound();
    const before = await getSku(trx, coreEnterpriseId, skuId);
    if (input.stockOnHand !== undefined && input.stockOnHand < locked.stock_reserved) {
      throw validationError([
        {
          ...skuProblem("stockOnHand", "below_reserved"),
          message: `stockOnHand cannot go below the ${locked.stock_reserved} ${before.unit} reserved for orders`,
        },
      ]);
    }
    if (input.code !== before.code) {
      const taken = await trx
        .selectFrom("skus")
        .select("id")
        .where("core_enterprise_id", "=", coreEnterpriseId)
        .where("code", "=", input.code)
        .executeTakeFirst();
      if (taken) throw new DomainError("conflict", `SKU code ${input.code} is already in use`, { code: "already_in_use" });
    }
    const productId = await upsertProduct(trx, coreEnterpriseId, {
      code: input.productCode ?? before.productCode,
      name: input.productName,
      category: input.category,
      nameForNewProduct: input.name,
    });
    try {
      await trx
        .updateTable("skus")
        .set({
          product_id: productId,
          code: input.code,
          name: input.name,
          spec: input.spec,
          unit: input.unit,
          pack_size: input.packSize,
          moq: input.moq,
          base_price_fen: input.basePriceFen,
          tax_rate_bps: input.taxRateBps,
          ...(input.stockOnHand !== undefined ? { stock_on_hand: input.stockOnHand } : {}),
          ...(input.status !== undefined ? { status: input.status } : {}),
          updated_at: sql`now()`,
        })
        .where("id", "=", skuId)
        .where("core_enterprise_id", "=", coreEnterpriseId)
        .execute();
    } catch (error) {
      if (isUniqueViolation(error, "skus_core_code")) {
        throw new DomainError("conflict", `SKU code ${input.code} is already in use`, { code: "already_in_use" });
      }
      throw error;
    }
    const after = await getSku(trx, coreEnterpriseId, skuId);
    await recordAudit(trx, actor, { organizationId: coreEnterpriseId,
      action: "sku.updated",
      entityType: "sku",
      entityId: skuId,
      before: auditView(before),
      after: auditView(after),
    });
    return after;
  });
}

/** The form's shape of an existing SKU: what `skuEntrySchema` reads back. */
export function skuToEntry(sku: Sku): Record<SkuField, string> {
  return {
    code: sku.code,
    name: sku.name,
    spec: sku.spec,
    unit: sku.unit,
    packSize: String(sku.packSize),
    moq: String(sku.moq),
    basePrice: fenToYuanText(sku.basePriceFen),
    taxRate: bpsToPercentText(sku.taxRateBps),
    stockOnHand: String(sku.stockOnHand),
    status: sku.status,
    productCode: sku.productCode,
    productName: sku.productName,
    category: sku.category ?? "",
  };
}

// ---------------------------------------------------------------------------------------------
// Order quantities and stock (for the orders module). Each stock function is ONE conditional
// UPDATE: the WHERE clause is the guard, so concurrent orders serialise on the row and the loser
// sees zero rows, never a negative or oversold figure.

export interface StockLevels {
  skuId: string;
  stockOnHand: number;
  stockReserved: number;
  stockAvailable: number;
}

export interface StockMove {
  skuId: string;
  quantity: number;
}

/** Whether `quantity` can be ordered: at least the MOQ and whole packs. Null when fine. */
export function orderQuantityProblem(
  sku: Pick<Sku, "moq" | "packSize" | "unit">,
  quantity: number,
): { code: "whole_number" | "below_moq" | "not_whole_packs" | "out_of_range"; message: string } | null {
  if (!Number.isSafeInteger(quantity) || quantity < 1) return { code: "whole_number", message: "quantity must be a whole number of at least 1" };
  if (quantity > SKU_LIMITS.maxQuantity) return { code: "out_of_range", message: `quantity must be at most ${SKU_LIMITS.maxQuantity}` };
  if (quantity < sku.moq) return { code: "below_moq", message: `quantity is below the minimum order of ${sku.moq} ${sku.unit}` };
  if (quantity % sku.packSize !== 0) {
    return { code: "not_whole_packs", message: `quantity must be a multiple of the pack size ${sku.packSize} ${sku.unit}` };
  }
  return null;
}

function assertMove(move: StockMove): void {
  if (!isUuid(move.skuId)) throw skuNotFound();
  if (!Number.isSafeInteger(move.quantity) || move.quantity < 1 || move.quantity > SKU_LIMITS.maxQuantity) {
    throw new DomainError("validation", `quantity must be a whole number between 1 and ${SKU_LIMITS.maxQuantity}`, {
      quantity: "must be a positive whole number",
    });
  }
}

async function stockOf(db: Db, skuId: string): Promise<StockLevels & { code: string; unit: string }> {
  const row = await db
    .selectFrom("skus")
    .select(["id", "code", "unit", "stock_on_hand", "stock_reserved"])
    .where("id", "=", skuId)
    .executeTakeFirst();
  if (!row) throw skuNotFound();
  return {
    skuId: row.id,
    code: row.code,
    unit: row.unit,
    stockOnHand: row.stock_on_hand,
    stockReserved: row.stock_reserved,
    stockAvailable: row.stock_on_hand - row.stock_reserved,
  };
}

type StockRow = { id: string; stock_on_hand: number; stock_reserved: number };
const levels = (row: StockRow): StockLevels => ({
  skuId: row.id,
  stockOnHand: row.stock_on_hand,
  stockReserved: row.stock_reserved,
  stockAvailable: row.stock_on_hand - row.stock_reserved,
});

/**
 * Hold `quantity` for a confirmed order. Refused with `conflict` and a `quantity` field naming the
 * stock still available when it does not fit. Call inside the order's transaction.
 */
export async function reserveStock(trx: Db, move: StockMove): Promise<StockLevels> {
  assertMove(move);
  const row = await trx
    .updateTable("skus")
    .set((eb) => ({ stock_reserved: eb("stock_reserved", "+", move.quantity), updated_at: sql`now()` }))
    .where("id", "=", move.skuId)
    .where(sql<boolean>`stock_on_hand - stock_reserved >= ${move.quantity}`)
    .returning(["id", "stock_on_hand", "stock_reserved"])
    .executeTakeFirst();
  if (row) return levels(row);
  throw await shortage(trx, move);
}

/** A reservation refused for want of stock; `skuId` says which SKU, so a caller can name its line. */
export class StockShortError extends DomainError {
  readonly skuId: string;

  constructor(skuId: string, message: string, fields: Record<string, string>) {
    super("conflict", message, fields);
    this.skuId = skuId;
  }
}

async function shortage(trx: Db, move: StockMove): Promise<StockShortError> {
  const now = await stockOf(trx, move.skuId);
  return new StockShortError(now.skuId, `Not enough stock of ${now.code}: ${move.quantity} ${now.unit} wanted, ${now.stockAvailable} available`, {
    quantity: `only ${now.stockAvailable} ${now.unit} available`,
  });
}

/**
 * Reserve several SKUs (one move each) in ONE conditional UPDATE: every row carries reserveStock's
 * guard, so no SKU is oversold however many orders confirm at once. When a SKU is short, throws
 * reserveStock's refusal (a StockShortError) for the first short move in the order given; the
 * others may be reserved by then, exactly as with reserveStock called move by move, so the
 * caller's transaction must not commit after it.
 */
export async function reserveStocks(trx: Db, moves: readonly StockMove[]): Promise<StockLevels[]> {
  moves.forEach(assertMove);
  if (moves.length === 0) return [];
  const ids = moves.map((m) => m.skuId.toLowerCase());
  if (new Set(ids).size !== ids.length) throw new Error("reserveStocks: one move per SKU");
  const values = sql.join(moves.map((m, i) => sql`(${ids[i]}::uuid, ${m.quantity}::integer)`));
  // The rows are locked first, in id order, like every multi-row lock here: two orders of the same
  // SKUs in opposite order wait, never deadlock (the UPDATE's own join order is the planner's). In a
  // statement of its own: an UPDATE in the same statement as the lock reads the rows as of the
  // statement's snapshot, and where a row moved meanwhile it re-locks the newer version, queueing
  // behind transactions that wait for us: a deadlock the mixed-traffic test met every few seconds.
  await lockSkusForStock(trx, ids);
  const { rows } = await sql<StockRow>`
    update skus s
       set stock_reserved = s.stock_reserved + v.quantity, updated_at = now()
      from (values ${values}) as v (id, quantity)
     where s.id = v.id and s.stock_on_hand - s.stock_reserved >= v.quantity
    returning s.id, s.stock_on_hand, s.stock_reserved`.execute(trx);
  const reserved = new Map(rows.map((r) => [r.id, r]));
  const short = moves.find((_, i) => !reserved.has(ids[i]));
  if (short) throw await shortage(trx, short);
  return ids.map((id) => levels(reserved.get(id)!));
}

/**
 * Lock these SKUs' rows in id order. A transaction that moves the stock of several SKUs one move at
 * a time (ship, cancel, return, a season's release) takes their locks with this first: every
 * multi-SKU stock change then locks in the one order reserveStocks uses, so two of them wait for
 * each other instead of deadlocking (tests/integration/orders-mixed-traffic.test.ts).
 * `FOR NO KEY UPDATE`, the lock an UPDATE of stock takes anyway: it does not block the KEY SHARE
 * lock a placement's order_lines INSERT takes on the SKUs it names (a foreign key check), which
 * `FOR UPDATE` would, and did: the placement holding its credit line waited on a SKU locked by a
 * confirmation waiting on that credit line.
 */
export async function lockSkusForStock(trx: Db, skuIds: readonly string[]): Promise<void> {
  if (!trx.isTransaction) throw new Error("lockSkusForStock: a lock is only worth taking inside the transaction that moves the stock");
  const ids = [...new Set(skuIds.map((id) => id.toLowerCase()))];
  if (ids.length < 2) return;
  await sql`select id from skus where id in (${sql.join(ids.map((id) => sql`${id}::uuid`))}) order by id for no key update`.execute(trx);
}

/** Give back a reservation (order cancelled, line reduced). */
export async function releaseStock(trx: Db, move: StockMove): Promise<StockLevels> {
  assertMove(move);
  const row = await trx
    .updateTable("skus")
    .set((eb) => ({ stock_reserved: eb("stock_reserved", "-", move.quantity), updated_at: sql`now()` }))
    .where("id", "=", move.skuId)
    .where("stock_reserved", ">=", move.quantity)
    .returning(["id", "stock_on_hand", "stock_reserved"])
    .executeTakeFirst();
  if (row) return levels(row);
  const now = await stockOf(trx, move.skuId);
  throw new DomainError("invalid_state", `Cannot release ${move.quantity} ${now.unit} of ${now.code}: only ${now.stockReserved} reserved`, {
    quantity: `only ${now.stockReserved} reserved`,
  });
}

/** Goods leave the warehouse against a reservation: on hand and reserved both go down. */
export async function shipStock(trx: Db, move: StockMove): Promise<StockLevels> {
  assertMove(move);
  const row = await trx
    .updateTable("skus")
    .set((eb) => ({
      stock_on_hand: eb("stock_on_hand", "-", move.quantity),
      stock_reserved: eb("stock_reserved", "-", move.quantity),
      updated_at: sql`now()`,
    }))
    .where("id", "=", move.skuId)
    .where("stock_reserved", ">=", move.quantity)
    .returning(["id", "stock_on_hand", "stock_reserved"])
    .executeTakeFirst();
  if (row) return levels(row);
  const now = await stockOf(trx, move.skuId);
  throw new DomainError("invalid_state", `Cannot ship ${move.quantity} ${now.unit} of ${now.code}: only ${now.stockReserved} reserved`, {
    quantity: `only ${now.stockReserved} reserved`,
  });
}

/** Returned goods (RMA) are back on the shelf. */
export async function returnStock(trx: Db, move: StockMove): Promise<StockLevels> {
  assertMove(move);
  const row = await trx
    .updateTable("skus")
    .set((eb) => ({ stock_on_hand: eb("stock_on_hand", "+", move.quantity), updated_at: sql`now()` }))
    .where("id", "=", move.skuId)
    .where(sql<boolean>`stock_on_hand + ${move.quantity} <= ${SKU_LIMITS.maxStock}`)
    .returning(["id", "stock_on_hand", "stock_reserved"])
    .executeTakeFirst();
  if (row) return levels(row);
  await stockOf(trx, move.skuId);
  throw new DomainError("validation", `Stock on hand would exceed ${SKU_LIMITS.maxStock}`, { quantity: "too large" });
}

export { isCheckViolation, isUniqueViolation };
