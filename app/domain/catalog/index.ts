/**
 * The catalog context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { SKU_LIMITS, StockShortError, clampPageSize, countSkus, createSku, fenToYuanText, getSku, getSkusByCodes, getSkusByIds, isUniqueViolation, listSkus, lockSkusForStock, normalizeSkuCode, orderQuantityProblem, parseCursor, parsePercentToBps, parseSkuEntry, parseWholeNumber, parseYuanToFen, releaseStock, reserveStock, reserveStocks, returnStock, searchFilter, shipStock, skuCursor, skuToEntry, skusByCodesQuery, skusByIdsQuery, skusFromRows, taxRateOptions, updateSku } from "./catalog.server";
export type { Sku, SkuInput, SkuPage } from "./catalog.server";
export { CSV_COLUMNS, CSV_LIMITS, exportSkusCsv, importSkusCsv } from "./csv.server";
export type { CsvRowError } from "./csv.server";
