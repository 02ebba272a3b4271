import { stringify } from "csv-stringify/sync";

/**
 * CSV for spreadsheets: UTF-8 with a BOM (Excel then shows Chinese), Windows line ends, and a cell
 * a spreadsheet would run as a formula (starting = + - @) prefixed with an apostrophe.
 */
export function spreadsheetSafe(cell: string): string {
  return /^[=+\-@]/.test(cell) ? `'${cell}` : cell;
}

export function spreadsheetCsv(rows: readonly (readonly string[])[]): string {
  return `\ufeff${stringify(rows.map((row) => row.map(spreadsheetSafe)), { record_delimiter: "windows" })}`;
}
