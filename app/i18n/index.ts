import { en, zhCN, type Catalogue, type MessageKey } from "./messages";

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

/** Timestamps are stored in UTC and shown in Asia/Shanghai, the platform's business time zone. */
export function formatDateTime(value: Date | string, locale: Locale): string {
  const date = typeof value === "string" ? new Date(value) : value;
  return new Intl.DateTimeFormat(locale === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).format(date);
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
