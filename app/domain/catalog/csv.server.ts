import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { sql } from "kysely";
import { inTransaction, type Db } from "../../../db";
import type { SkuStatus } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, spreadsheetSafe } from "../shared";
import {
  bpsToPercentText,
  fenToYuanText,
  parseSkuEntry,
  SKU_PROBLEM_TEXT,
  type SkuField,
  type SkuInput,
  type SkuProblemCode,
} from "./catalog.server";

/**
 * SKU import and export as CSV.
 *
 * Import is all-or-nothing: every row is validated first (format, then against the stored SKUs),
 * EVERY bad row is reported by line and field, and only when there is none are all rows written,
 * upserted by SKU code, in one transaction. Limits: 2 MiB and 5,000 data rows per file.
 *
 * Files: UTF-8, with or without a BOM (Excel's "CSV UTF-8" writes one); a GBK file is refused with
 * a message saying how to save it as UTF-8. Headers may be English (`code`, `base_price` …) or
 * Chinese (`SKU编码`, `基础价(元)` …), matched after folding full-width characters and spaces; the
 * columns may come in any order; optional columns may be left out (a left-out stock or status keeps
 * what the SKU has). Prices are yuan with at most 2 decimals, tax rates percent.
 *
 * Export writes every column, in the chosen header language, with a BOM; cells a spreadsheet
 * would run as a formula (=, +, -, @) are prefixed with ' and the import strips that again, so an
 * export imports back unchanged.
 */

export const CSV_LIMITS = {
  maxBytes: 2 * 1024 * 1024,
  maxRows: 5_000,
  /** Past this many errors the report says "and more": the file needs fixing either way. */
  maxErrorsReported: 1_000,
  maxExportRows: 100_000,
  exportBatch: 1_000,
  writeBatch: 500,
} as const;

export interface CsvColumn {
  field: SkuField;
  en: string;
  zh: string;
  required: boolean;
  /** Other spellings accepted on import (folded like the header). */
  aliases: readonly string[];
}

export const CSV_COLUMNS: readonly CsvColumn[] = [
  { field: "code", en: "code", zh: "SKU编码", required: true, aliases: ["sku_code", "sku", "编码", "商品sku编码"] },
  { field: "name", en: "name", zh: "SKU名称", required: true, aliases: ["sku_name", "名称"] },
  { field: "productCode", en: "product_code", zh: "商品编码", required: false, aliases: ["产品编码"] },
  { field: "productName", en: "product_name", zh: "商品名称", required: false, aliases: ["产品名称"] },
  { field: "category", en: "category", zh: "类目", required: false, aliases: ["分类", "品类"] },
  { field: "spec", en: "spec", zh: "规格", required: false, aliases: ["specification", "规格型号"] },
  { field: "unit", en: "unit", zh: "单位", required: true, aliases: ["计量单位"] },
  { field: "packSize", en: "pack_size", zh: "包装数量", required: false, aliases: ["箱规", "每箱数量"] },
  { field: "moq", en: "moq", zh: "起订量", required: false, aliases: ["min_order_qty", "最小起订量"] },
  { field: "basePrice", en: "base_price", zh: "基础价(元)", required: true, aliases: ["base_price_yuan", "price", "基础价", "单价(元)", "含税单价(元)"] },
  { field: "taxRate", en: "tax_rate", zh: "税率(%)", required: true, aliases: ["tax_rate_percent", "税率"] },
  { field: "stockOnHand", en: "stock_on_hand", zh: "库存", required: false, aliases: ["stock", "库存数量"] },
  { field: "status", en: "status", zh: "状态", required: false, aliases: ["上下架"] },
];

export type CsvProblemCode =
  | SkuProblemCode
  | "file_too_large"
  | "not_utf8"
  | "empty_file"
  | "too_many_rows"
  | "csv_syntax"
  | "unknown_column"
  | "duplicate_column"
  | "missing_column"
  | "extra_cells";

const CSV_PROBLEM_TEXT: Record<Exclude<CsvProblemCode, SkuProblemCode>, string> = {
  file_too_large: `the file is larger than ${CSV_LIMITS.maxBytes / 1024 / 1024} MiB`,
  not_utf8: "the file is not UTF-8 text: in Excel use Save As → \"CSV UTF-8 (Comma delimited)\"",
  empty_file: "the file has no header row",
  too_many_rows: `the file has more than ${CSV_LIMITS.maxRows} data rows: split it`,
  csv_syntax: "the CSV is malformed",
  unknown_column: "this column is not one the import knows",
  duplicate_column: "this column appears twice",
  missing_column: "this required column is missing",
  extra_cells: "the row has more cells than the header",
};

export interface CsvRowError {
  /** 1-based line in the file where the row starts (the header is line 1); 0 for the whole file. */
  line: number;
  field: SkuField | null;
  /** The column as written in the file's header (or the expected name when missing). */
  column: string | null;
  code: CsvProblemCode;
  message: string;
  /** The offending cell, cut to 100 characters. */
  value: string | null;
}

export type CsvImportResult =
  | { ok: true; created: number; updated: number; rows: number }
  | { ok: false; errors: CsvRowError[]; rows: number; moreErrors: boolean };

function fileError(code: Exclude<CsvProblemCode, SkuProblemCode>, detail?: string): CsvImportResult {
  return {
    ok: false,
    rows: 0,
    moreErrors: false,
    errors: [{ line: 0, field: null, column: null, code, message: detail ? `${CSV_PROBLEM_TEXT[code]} (${detail})` : CSV_PROBLEM_TEXT[code], value: null }],
  };
}

/** Header text → comparable key: full-width folded, spaces and case dropped. */
function foldHeader(raw: string): string {
  return raw.normalize("NFKC").replace(/^\ufeff/, "").replace(/\s+/g, "").toLowerCase();
}

const HEADER_INDEX = new Map<string, CsvColumn>();
for (const column of CSV_COLUMNS) {
  for (const name of [column.en, column.zh, ...column.aliases]) HEADER_INDEX.set(foldHeader(name), column);
}

/** Spreadsheet formula guard: `'=SUM(…)` in a file means the text `=SUM(…)`. */
function unescapeCell(cell: string): string {
  return /^'[=+\-@]/.test(cell) ? cell.slice(1) : cell;
}

const escapeCell = spreadsheetSafe;

const clip = (value: string | undefined) => (value === undefined ? null : value.length > 100 ? `${value.slice(0, 100)}…` : value);

/** A row that passed the format checks. A left-out optional column is `undefined` in `input`. */
interface ParsedRow {
  line: number;
  input: SkuInput;
}

/**
 * Validate and, when every row is good, write. Returns the report either way; throws only for
 * programming errors (a DomainError from a concurrent change is turned into a report line).
 */
export async function importSkusCsv(db: Db, actor: Actor, coreEnterpriseId: string, content: Uint8Array | string): Promise<CsvImportResult> {
  const bytes = typeof content === "string" ? Buffer.byteLength(content, "utf8") : content.byteLength;
  if (bytes > CSV_LIMITS.maxBytes) return fileError("file_too_large", `${bytes} bytes`);
  let text: string;
  if (typeof content === "string") {
    text = content;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(content);
    } catch {
      return fileError("not_utf8");
    }
  }

  type Info = { lines: number; empty_lines: number };
  let records: { record: string[]; info: Info }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      // One record past the limit is enough to know the file is too long.
      to: CSV_LIMITS.maxRows + 2,
    }) as unknown as { record: string[]; info: Info }[];
  } catch (error) {
    const e = error as { lines?: number; message?: string };
    return {
      ok: false,
      rows: 0,
      moreErrors: false,
      errors: [{ line: e.lines ?? 0, field: null, column: null, code: "csv_syntax", message: `${CSV_PROBLEM_TEXT.csv_syntax}: ${e.message ?? ""}`.trim(), value: null }],
    };
  }
  // Where each record starts: after the previous one ends and any blank lines skipped since.
  let previousEnd = 0;
  let previousEmpty = 0;
  const rows = records.map(({ record, info }) => {
    const start = previousEnd + 1 + (info.empty_lines - previousEmpty);
    previousEnd = info.lines;
    previousEmpty = info.empty_lines;
    return { line: start, cells: record };
  });
  const nonBlank = rows.filter((r) => r.cells.some((c) => c.trim() !== ""));
  if (nonBlank.length === 0) return fileError("empty_file");
  const [header, ...data] = nonBlank;
  if (data.length > CSV_LIMITS.maxRows) return fileError("too_many_rows");

  // Header
  const errors: CsvRowError[] = [];
  const columns: (CsvColumn | null)[] = [];
  const seen = new Map<SkuField, string>();
  header.cells.forEach((cell, i) => {
    const folded = foldHeader(cell);
    if (folded === "") {
      columns.push(null);
      return;
    }
    const column = HEADER_INDEX.get(folded);
    if (!column) {
      errors.push({ line: header.line, field: null, column: cell, code: "unknown_column", message: `column ${i + 1} "${cell}": ${CSV_PROBLEM_TEXT.unknown_column}`, value: clip(cell) });
      columns.push(null);
    } else if (seen.has(column.field)) {
      errors.push({ line: header.line, field: column.field, column: cell, code: "duplicate_column", message: `"${cell}": ${CSV_PROBLEM_TEXT.duplicate_column}`, value: clip(cell) });
      columns.push(null);
    } else {
      seen.set(column.field, cell);
      columns.push(column);
    }
  });
  for (const column of CSV_COLUMNS) {
    if (column.required && !seen.has(column.field)) {
      errors.push({
        line: header.line,
        field: column.field,
        column: `${column.en} / ${column.zh}`,
        code: "missing_column",
        message: `${column.en} (${column.zh}): ${CSV_PROBLEM_TEXT.missing_column}`,
        value: null,
      });
    }
  }
  if (errors.length) return { ok: false, errors, rows: data.length, moreErrors: false };

  // Rows: format
  const parsed: ParsedRow[] = [];
  const firstLineOfCode = new Map<string, number>();
  const productSeen = new Map<string, { line: number; name: string | undefined; category: string | null | undefined }>();
  const push = (e: CsvRowError) => {
    if (errors.length < CSV_LIMITS.maxErrorsReported + 1) errors.push(e);
  };
  for (const row of data) {
    const entry: Record<string, string> = {};
    let extra = false;
    row.cells.forEach((cell, i) => {
      const column = columns[i];
      if (column) entry[column.field] = unescapeCell(cell);
      else if (i >= columns.length && cell.trim() !== "") extra = true;
    });
    if (extra) {
      push({ line: row.line, field: null, column: null, code: "extra_cells", message: `line ${row.line}: ${CSV_PROBLEM_TEXT.extra_cells}`, value: null });
    }
    const result = parseSkuEntry(entry);
    if (!result.ok) {
      for (const problem of result.problems) {
        push({
          line: row.line,
          field: problem.field,
          column: seen.get(problem.field) ?? null,
          code: problem.code,
          message: `line ${row.line}, ${seen.get(problem.field) ?? problem.field}: ${SKU_PROBLEM_TEXT[problem.code]}`,
          value: clip(entry[problem.field]),
        });
      }
      continue;
    }
    const input = result.input;
    const earlier = firstLineOfCode.get(input.code);
    if (earlier !== undefined) {
      push({
        line: row.line,
        field: "code",
        column: seen.get("code") ?? null,
        code: "duplicate_code",
        message: `line ${row.line}: SKU code ${input.code} ${SKU_PROBLEM_TEXT.duplicate_code} (first on line ${earlier})`,
        value: input.code,
      });
      continue;
    }
    firstLineOfCode.set(input.code, row.line);
    if (input.productCode) {
      const other = productSeen.get(input.productCode);
      if (other) {
        const nameClash = input.productName !== undefined && other.name !== undefined && input.productName !== other.name;
        const categoryClash = input.category !== undefined && other.category !== undefined && input.category !== other.category;
        if (nameClash || categoryClash) {
          const field: SkuField = nameClash ? "productName" : "category";
          push({
            line: row.line,
            field,
            column: seen.get(field) ?? null,
            code: "product_conflict",
            message: `line ${row.line}: product ${input.productCode} ${SKU_PROBLEM_TEXT.product_conflict} (line ${other.line})`,
            value: clip(nameClash ? input.productName : (input.category ?? "")),
          });
          continue;
        }
        other.name ??= input.productName;
        if (other.category === undefined) other.category = input.category;
      } else {
        productSeen.set(input.productCode, { line: row.line, name: input.productName, category: input.category });
      }
    }
    parsed.push({ line: row.line, input });
  }
  if (errors.length) return report(errors, data.length);

  // Rows against what is stored, then the write: one transaction, rows locked, nothing written
  // unless every row passes.
  try {
    return await inTransaction(db, async (trx) => {
      const existing = await lockExisting(trx, coreEnterpriseId, parsed.map((r) => r.input.code));
      for (const row of parsed) {
        const stored = existing.get(row.input.code);
        if (stored && row.input.stockOnHand !== undefined && row.input.stockOnHand < stored.stock_reserved) {
          push({
            line: row.line,
            field: "stockOnHand",
            column: seen.get("stockOnHand") ?? null,
            code: "below_reserved",
            message: `line ${row.line}: stock ${row.input.stockOnHand} ${SKU_PROBLEM_TEXT.below_reserved} (${stored.stock_reserved} reserved)`,
            value: String(row.input.stockOnHand),
          });
        }
      }
      if (errors.length) return report(errors, data.length);
      const productIds = await upsertProducts(trx, coreEnterpriseId, parsed, existing);
      const created: string[] = [];
      const updated: string[] = [];
      for (let i = 0; i < parsed.length; i += CSV_LIMITS.writeBatch) {
        const batch = parsed.slice(i, i + CSV_LIMITS.writeBatch);
        await trx
          .insertInto("skus")
          .values(
            batch.map(({ input }) => {
              const stored = existing.get(input.code);
              (stored ? updated : created).push(input.code);
              return {
                core_enterprise_id: coreEnterpriseId,
                product_id: productIds.get(input.productCode ?? stored?.product_code ?? input.code)!,
                code: input.code,
                name: input.name,
                spec: input.spec,
                unit: input.unit,
                pack_size: input.packSize,
                moq: input.moq,
                base_price_fen: input.basePriceFen,
                tax_rate_bps: input.taxRateBps,
                stock_on_hand: input.stockOnHand ?? stored?.stock_on_hand ?? 0,
                status: input.status ?? stored?.status ?? "active",
              };
            }),
          )
          .onConflict((oc) =>
            oc.columns(["core_enterprise_id", "code"]).doUpdateSet((eb) => ({
              product_id: eb.ref("excluded.product_id"),
              name: eb.ref("excluded.name"),
              spec: eb.ref("excluded.spec"),
              unit: eb.ref("excluded.unit"),
              pack_size: eb.ref("excluded.pack_size"),
              moq: eb.ref("excluded.moq"),
              base_price_fen: eb.ref("excluded.base_price_fen"),
              tax_rate_bps: eb.ref("excluded.tax_rate_bps"),
              stock_on_hand: eb.ref("excluded.stock_on_hand"),
              status: eb.ref("excluded.status"),
              updated_at: sql`now()`,
            })),
          )
          .execute();
      }
      await recordAudit(trx, actor, {
        action: "sku.imported",
        entityType: "sku_import",
        organizationId: coreEnterpriseId,
        after: { rows: parsed.length, created, updated },
      });
      return { ok: true as const, created: created.length, updated: updated.length, rows: parsed.length };
    });
  } catch (error) {
    // A SKU created by someone else between the check and the write: the whole file is refused
    // (the transaction rolled back) and the user is told to try again.
    const e = error as { code?: string };
    if (e?.code === "23505" || e?.code === "23514" || e?.code === "40001" || e?.code === "40P01") {
      throw new DomainError("conflict", "The catalogue changed while the file was being imported; nothing was written — import it again", {
        file: "concurrent_change",
      });
    }
    throw error;
  }
}

function report(errors: CsvRowError[], rows: number): CsvImportResult {
  const moreErrors = errors.length > CSV_LIMITS.maxErrorsReported;
  return { ok: false, errors: errors.slice(0, CSV_LIMITS.maxErrorsReported), rows, moreErrors };
}

interface StoredSku {
  id: string;
  code: string;
  product_code: string;
  stock_on_hand: number;
  stock_reserved: number;
  status: SkuStatus;
}

async function lockExisting(trx: Db, coreEnterpriseId: string, codes: string[]): Promise<Map<string, StoredSku>> {
  const result = new Map<string, StoredSku>();
  for (let i = 0; i < codes.length; i += CSV_LIMITS.writeBatch * 2) {
    const rows = await trx
      .selectFrom("skus as s")
      .innerJoin("products as p", "p.id", "s.product_id")
      .select(["s.id", "s.code", "p.code as product_code", "s.stock_on_hand", "s.stock_reserved", "s.status"])
      .where("s.core_enterprise_id", "=", coreEnterpriseId)
      .where("s.code", "in", codes.slice(i, i + CSV_LIMITS.writeBatch * 2))
      .forUpdate("s")
      .execute();
    for (const row of rows) result.set(row.code, row);
  }
  return result;
}

/** Products named by the file (or implied: a new SKU without a product code is its own product). */
async function upsertProducts(trx: Db, coreEnterpriseId: string, rows: ParsedRow[], existing: Map<string, StoredSku>): Promise<Map<string, string>> {
  const wanted = new Map<string, { name: string | undefined; category: string | null | undefined; fallbackName: string }>();
  for (const { input } of rows) {
    const code = input.productCode ?? existing.get(input.code)?.product_code ?? input.code;
    const entry = wanted.get(code);
    if (!entry) wanted.set(code, { name: input.productName, category: input.category, fallbackName: input.name });
    else {
      entry.name ??= input.productName;
      if (entry.category === undefined) entry.category = input.category;
    }
  }
  const codes = [...wanted.keys()];
  const stored = new Map<string, { id: string; name: string; category: string | null }>();
  for (let i = 0; i < codes.length; i += CSV_LIMITS.writeBatch * 2) {
    const found = await trx
      .selectFrom("products")
      .select(["id", "code", "name", "category"])
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .where("code", "in", codes.slice(i, i + CSV_LIMITS.writeBatch * 2))
      .execute();
    for (const p of found) stored.set(p.code, p);
  }
  const values = codes.map((code) => {
    const w = wanted.get(code)!;
    const s = stored.get(code);
    return {
      core_enterprise_id: coreEnterpriseId,
      code,
      name: w.name ?? s?.name ?? w.fallbackName,
      category: w.category === undefined ? (s?.category ?? null) : w.category,
    };
  });
  const ids = new Map<string, string>();
  for (let i = 0; i < values.length; i += CSV_LIMITS.writeBatch) {
    const written = await trx
      .insertInto("products")
      .values(values.slice(i, i + CSV_LIMITS.writeBatch))
      .onConflict((oc) =>
        oc.columns(["core_enterprise_id", "code"]).doUpdateSet((eb) => ({
          name: eb.ref("excluded.name"),
          category: eb.ref("excluded.category"),
          updated_at: sql`now()`,
        })),
      )
      .returning(["id", "code"])
      .execute();
    for (const p of written) ids.set(p.code, p.id);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Export

export type CsvHeaderLanguage = "zh" | "en";

/**
 * Every SKU of the core enterprise in code order (keyset batches, at most `maxExportRows`),
 * UTF-8 with a BOM so Excel shows Chinese correctly. Import takes it back unchanged.
 */
export async function exportSkusCsv(db: Db, coreEnterpriseId: string, options: { headers: CsvHeaderLanguage }): Promise<string> {
  const zh = options.headers === "zh";
  const lines: string[][] = [CSV_COLUMNS.map((c) => (zh ? c.zh : c.en))];
  let after: string | null = null;
  let total = 0;
  for (;;) {
    let query = db
      .selectFrom("skus as s")
      .innerJoin("products as p", "p.id", "s.product_id")
      .select([
        "s.code",
        "s.name",
        "p.code as product_code",
        "p.name as product_name",
        "p.category",
        "s.spec",
        "s.unit",
        "s.pack_size",
        "s.moq",
        "s.base_price_fen",
        "s.tax_rate_bps",
        "s.stock_on_hand",
        "s.status",
      ])
      .where("s.core_enterprise_id", "=", coreEnterpriseId);
    if (after !== null) query = query.where("s.code", ">", after);
    const batch = await query.orderBy("s.code").limit(Math.min(CSV_LIMITS.exportBatch, CSV_LIMITS.maxExportRows - total)).execute();
    for (const r of batch) {
      const cells: Record<SkuField, string> = {
        code: r.code,
        name: r.name,
        productCode: r.product_code,
        productName: r.product_name,
        category: r.category ?? "",
        spec: r.spec,
        unit: r.unit,
        packSize: String(r.pack_size),
        moq: String(r.moq),
        basePrice: fenToYuanText(r.base_price_fen),
        taxRate: bpsToPercentText(r.tax_rate_bps),
        stockOnHand: String(r.stock_on_hand),
        status: zh ? (r.status === "active" ? "上架" : "下架") : r.status,
      };
      lines.push(CSV_COLUMNS.map((c) => escapeCell(cells[c.field])));
    }
    total += batch.length;
    if (batch.length < CSV_LIMITS.exportBatch || total >= CSV_LIMITS.maxExportRows) break;
    after = batch[batch.length - 1].code;
  }
  // CRLF: what Excel writes and expects.
  return `\ufeff${stringify(lines, { record_delimiter: "windows" })}`;
}
