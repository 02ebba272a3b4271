import { en, zhCN, type Catalogue, type MessageKey } from "./messages";
import { SHANGHAI_OFFSET_MS } from "../domain/shared";

export type { MessageKey } from "./messages";

export const LOCALES = ["zh-CN", "en"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "zh-CN";

const CATALOGUES: Record<Locale, Catalogue> = { "zh-CN": zhCN, en };

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/** The `{name}` placeholders of a message, read from the zh-CN source text at compile time. */
type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
export type MessageParams<K extends MessageKey> = Record<Placeholders<(typeof zhCN)[K]>, string | number>;
/** A message without placeholders takes no params; one with placeholders must get all of them. */
export type TArgs<K extends MessageKey> = [Placeholders<(typeof zhCN)[K]>] extends [never] ? [] : [MessageParams<K>];

export type Translate = <K extends MessageKey>(key: K, ...params: TArgs<K>) => string;

function interpolate(text: string, params: Record<string, string | number> | undefined): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

export function translate<K extends MessageKey>(locale: Locale, key: K, ...params: TArgs<K>): string {
  const catalogue = CATALOGUES[locale] ?? CATALOGUES[DEFAULT_LOCALE];
  return interpolate(catalogue[key], params[0] as Record<string, string | number> | undefined);
}

/** For a key and params that arrive at run time (a flash message read back from its cookie). */
export function translateWithParams(locale: Locale, key: MessageKey, params?: Record<string, string | number>): string {
  const catalogue = CATALOGUES[locale] ?? CATALOGUES[DEFAULT_LOCALE];
  return interpolate(catalogue[key], params);
}

export function createTranslator(locale: Locale): Translate {
  return (key, ...params) => translate(locale, key, ...params);
}

export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(zhCN, key);
}

/**
 * For keys built at run time (an audit action, an account kind from the database): the message
 * when one exists, else the raw value, so an unknown value still shows something truthful.
 */
export function translateDynamic(locale: Locale, key: string, fallback: string): string {
  return isMessageKey(key) ? CATALOGUES[locale][key] : fallback;
}

/**
 * Integer fen → "¥1,234.56" (negative: "-¥1,234.56"). Only integer arithmetic: the yuan part is
 * (fen - fen % 100) / 100, exact for every safe integer, so no float ever rounds a display.
 */
export function formatFen(fen: number, _locale: Locale = DEFAULT_LOCALE): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`formatFen expects integer fen, got ${fen}`);
  const negative = fen < 0;
  const abs = Math.abs(fen);
  const cents = abs % 100;
  const yuan = (abs - cents) / 100;
  const grouped = String(yuan).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${grouped}.${String(cents).padStart(2, "0")}`;
}

/*
 * Dates, times and percentages: one format per locale, everywhere (pages, CSV, print).
 *   zh-CN  business date 2027-01-06      timestamp 2026-12-07 20:02
 *   en     business date 6 Jan 2027      timestamp 7 Dec 2026, 20:02
 *   both   percentage 3%, 2.5%, 12.34%   (at most two decimals, trailing zeros dropped)
 * Timestamps are stored in UTC and shown in Asia/Shanghai, the platform's business time zone
 * (UTC+8 all year since 1991, so plain arithmetic: no Intl, whose output differs between the
 * server's ICU and the browser's and would make hydration disagree). Pure: components use them.
 */
const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;
const BUSINESS_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

interface CalendarParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

function shanghaiParts(value: Date | string): CalendarParts | null {
  const date = typeof value === "string" ? new Date(value) : value;
  const ms = date.getTime();
  if (Number.isNaN(ms)) return null;
  const local = new Date(ms + SHANGHAI_OFFSET_MS);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
  };
}

const pad2 = (n: number) => String(n).padStart(2, "0");

function dayText(parts: Pick<CalendarParts, "year" | "month" | "day">, locale: Locale): string {
  return locale === "en"
    ? `${parts.day} ${MONTHS_EN[parts.month - 1]} ${parts.year}`
    : `${parts.year}-${pad2(parts.month)}-${pad2(parts.day)}`;
}

/**
 * A business date: a 'YYYY-MM-DD' string (taken as the calendar day it names, no time zone
 * involved) or an instant (its Asia/Shanghai calendar day). Anything else is shown as given.
 */
export function formatDate(value: Date | string, locale: Locale): string {
  if (typeof value === "string") {
    const m = BUSINESS_DATE.exec(value);
    if (m) return dayText({ year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) }, locale);
  }
  const parts = shanghaiParts(value);
  return parts ? dayText(parts, locale) : String(value);
}

/** An instant in Asia/Shanghai, to the minute: "2026-12-07 20:02" / "7 Dec 2026, 20:02". */
export function formatDateTime(value: Date | string, locale: Locale): string {
  const parts = shanghaiParts(value);
  if (!parts) return String(value);
  const time = `${pad2(parts.hour)}:${pad2(parts.minute)}`;
  return locale === "en" ? `${dayText(parts, locale)}, ${time}` : `${dayText(parts, locale)} ${time}`;
}

/** Basis points as a percentage: 300 → "3%", 250 → "2.5%", 1234 → "12.34%". Integer arithmetic. */
export function formatPercentBps(bps: number, _locale: Locale = DEFAULT_LOCALE): string {
  if (!Number.isSafeInteger(bps)) throw new RangeError(`formatPercentBps expects integer bps, got ${bps}`);
  const abs = Math.abs(bps);
  const fraction = String(abs % 100).padStart(2, "0").replace(/0+$/, "");
  const whole = (abs - (abs % 100)) / 100;
  return `${bps < 0 ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}%`;
}

/** An annual rate held in parts per million (43,500 → "4.35%", 65,250 → "6.525%"): exact, no float. */
export function formatRatePpm(ppm: number, _locale: Locale = DEFAULT_LOCALE): string {
  if (!Number.isSafeInteger(ppm)) throw new RangeError(`formatRatePpm expects integer ppm, got ${ppm}`);
  const abs = Math.abs(ppm);
  const fraction = String(abs % 10_000).padStart(4, "0").replace(/0+$/, "");
  const whole = (abs - (abs % 10_000)) / 10_000;
  return `${ppm < 0 ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}%`;
}

export function formatInteger(value: number, locale: Locale): string {
  return new Intl.NumberFormat(locale === "en" ? "en-GB" : "zh-CN", { maximumFractionDigits: 0 }).format(value);
}

/** Best match from an Accept-Language header among the supported locales. */
export function localeFromAcceptLanguage(header: string | null): Locale | null {
  if (!header) return null;
  const ranked = header
    .split(",")
    .map((part, index) => {
      const [tag, ...rest] = part.trim().split(";");
      const q = rest.map((p) => p.trim()).find((p) => p.startsWith("q="));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag: tag.toLowerCase(), weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((entry) => entry.tag && entry.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  for (const { tag } of ranked) {
    if (tag === "zh" || tag.startsWith("zh-")) return "zh-CN";
    if (tag === "en" || tag.startsWith("en-")) return "en";
  }
  return null;
}
