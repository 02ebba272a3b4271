import { DomainError } from "./errors";
import { isBusinessDate } from "./dates";
import { addDays, shanghaiDate } from "./dates";

/**
 * A range of Asia/Shanghai business dates as a reader asks for it (a statement, a dashboard): both
 * ends included, 'YYYY-MM-DD'. Each use states its own limits; the checks and the refusals are these.
 */
export interface BusinessDateRange {
  from: string;
  to: string;
}

export interface DateRangeLimits {
  /** `from` when not sent: this many days ending at `to`. */
  defaultRangeDays: number;
  /** The longest range read at all, so the queries stay bounded. */
  maxRangeDays: number;
}

/** Days in the range, both ends counted. */
export function daysInRange(from: string, to: string): number {
  const ms = Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`);
  return Math.round(ms / 86_400_000) + 1;
}

function rangeRefusal(fields: Record<string, string>): DomainError {
  const text = Object.entries(fields)
    .map(([field, code]) => `${field} ${code}`)
    .join(", ");
  return new DomainError("validation", `The date range is not valid: ${text}`, fields);
}

/**
 * A complete range checked; its length in days. Refusals name the field: `from`/`to` required or
 * date_format, `to` date_order (before `from`), `to` range_too_long.
 */
export function checkDateRange(range: BusinessDateRange, limits: Pick<DateRangeLimits, "maxRangeDays">): number {
  const fields: Record<string, string> = {};
  if (typeof range.from !== "string" || !range.from) fields.from = "required";
  else if (!isBusinessDate(range.from)) fields.from = "date_format";
  if (typeof range.to !== "string" || !range.to) fields.to = "required";
  else if (!isBusinessDate(range.to)) fields.to = "date_format";
  if (Object.keys(fields).length) throw rangeRefusal(fields);
  if (range.to < range.from) throw rangeRefusal({ to: "date_order" });
  const days = daysInRange(range.from, range.to);
  if (days > limits.maxRangeDays) throw rangeRefusal({ to: "range_too_long" });
  return days;
}

/**
 * The range as sent (query string, API), with what is missing filled in: `to` is today in
 * Shanghai, `from` the default span ending at `to`. Refused as `checkDateRange` says.
 */
export function resolveDateRange(raw: { from?: string | null; to?: string | null }, now: Date, limits: DateRangeLimits): BusinessDateRange {
  const fromText = raw.from?.trim() ?? "";
  const toText = raw.to?.trim() ?? "";
  const fields: Record<string, string> = {};
  if (fromText && !isBusinessDate(fromText)) fields.from = "date_format";
  if (toText && !isBusinessDate(toText)) fields.to = "date_format";
  if (Object.keys(fields).length) throw rangeRefusal(fields);
  const to = toText || shanghaiDate(now);
  const from = fromText || addDays(to, -(limits.defaultRangeDays - 1));
  checkDateRange({ from, to }, limits);
  return { from, to };
}
