import { DEFAULT_LOCALE, isLocale, translate, translateWithParams, type Locale, type MessageKey } from "./index";

interface MatchLike {
  id: string;
  data: unknown;
}

/** The page's locale as the root loader decided it, for `meta` functions (which get no hooks). */
export function localeFromMatches(matches: readonly MatchLike[]): Locale {
  const root = matches.find((m) => m.id === "root")?.data;
  const locale = root && typeof root === "object" && "locale" in root ? (root as { locale: unknown }).locale : undefined;
  return isLocale(locale) ? locale : DEFAULT_LOCALE;
}

/** "<page> · 融通 Rongtong" in the page's language. */
export function pageTitle(matches: readonly MatchLike[], key: MessageKey): { title: string }[] {
  const locale = localeFromMatches(matches);
  return [{ title: `${translateWithParams(locale, key)} · ${translate(locale, "app.fullName")}` }];
}
