import { DomainError } from "./errors";
import { isUuid } from "./ids";

/**
 * The one cursor codec of every keyset list (pages and /api/v1 alike). A cursor is the sort key of
 * the last row of a page, as base64url JSON: opaque to callers, who only hand back `next_cursor`.
 * Each list declares the kinds of its key parts, and a cursor that does not decode to exactly
 * those — garbage, another list's shape, a forged value — is a `validation` error naming `after`
 * (`invalid_cursor`), so no query ever runs on it.
 *
 * Timestamps: pass PostgreSQL's text with microseconds when rows may share a millisecond (see
 * market-venues-api.server.ts); a `Date`'s ISO string is accepted too.
 */

export type CursorPartKind = "text" | "uuid" | "timestamp" | "date" | "int";

type PartValue<K extends CursorPartKind> = K extends "int" ? number : string;
export type CursorParts<K extends readonly CursorPartKind[]> = { [I in keyof K]: K[I] extends CursorPartKind ? PartValue<K[I]> : never };

export const CURSOR_LIMITS = {
  /** Longest text part (names, codes): longer sort keys are not ours. */
  textChars: 200,
  /** Longest cursor read at all; the API also refuses longer `after` values in its schema. */
  cursorChars: 1000,
} as const;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

const CHECKS: Record<CursorPartKind, (value: unknown) => boolean> = {
  text: (v) => typeof v === "string" && v.length <= CURSOR_LIMITS.textChars,
  uuid: (v) => isUuid(v),
  timestamp: (v) => typeof v === "string" && TIMESTAMP.test(v) && !Number.isNaN(Date.parse(v)),
  date: (v) => typeof v === "string" && isDate(v),
  int: (v) => typeof v === "number" && Number.isSafeInteger(v),
};

/** `field` is the parameter as the client sent it: `after` on the API, a page's own name elsewhere. */
export function invalidCursor(field = "after"): DomainError {
  return new DomainError("validation", `${field} must be the next_cursor of a previous page of this list`, { [field]: "invalid_cursor" });
}

/** The cursor after a row whose sort key is `parts` (Dates become ISO strings). */
export function encodeCursor(parts: readonly (string | number | Date)[]): string {
  const values = parts.map((p) => (p instanceof Date ? p.toISOString() : p));
  return Buffer.from(JSON.stringify(values), "utf8").toString("base64url");
}

/**
 * The sort key in `after`, checked against the list's part kinds; null when there is no cursor
 * (first page). Anything else is refused with `invalid_cursor` on `after`.
 */
export function decodeCursor<const K extends readonly CursorPartKind[]>(
  after: string | null | undefined,
  kinds: K,
  field = "after",
): CursorParts<K> | null {
  if (after === undefined || after === null || after === "") return null;
  if (after.length > CURSOR_LIMITS.cursorChars || !/^[A-Za-z0-9_-]+$/.test(after)) throw invalidCursor(field);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(after, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor(field);
  }
  if (!Array.isArray(value) || value.length !== kinds.length || !value.every((v, i) => CHECKS[kinds[i]](v))) throw invalidCursor(field);
  return value as CursorParts<K>;
}

/**
 * One page of a short list already read whole and in its order (a dealer's suppliers, the open
 * markets: at most 100 by the model's cap): the cursor is the last row's id, and one that is not
 * in the list is refused like any other forged cursor.
 */
export function pageOfList<T>(items: readonly T[], idOf: (item: T) => string, options: { after?: string | null; limit: number }): { items: T[]; nextCursor: string | null } {
  const after = decodeCursor(options.after, ["uuid"]);
  let start = 0;
  if (after) {
    const at = items.findIndex((item) => idOf(item) === after[0].toLowerCase());
    if (at < 0) throw invalidCursor();
    start = at + 1;
  }
  const page = items.slice(start, start + options.limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: start + options.limit < items.length && last ? encodeCursor([idOf(last)]) : null };
}
