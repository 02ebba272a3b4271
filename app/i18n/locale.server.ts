import { createCookie } from "@remix-run/node";
import { DEFAULT_LOCALE, isLocale, localeFromAcceptLanguage, type Locale } from "./index";

const ONE_YEAR_S = 365 * 24 * 60 * 60;

/**
 * The language preference. Not signed: it is a display choice, and whatever it holds is checked
 * against the supported list before use.
 */
export function langCookie(secure: boolean) {
  return createCookie("lang", { path: "/", sameSite: "lax", httpOnly: true, secure, maxAge: ONE_YEAR_S });
}

/** `lang` cookie, else the user's saved locale, else Accept-Language, else zh-CN. */
export async function resolveLocale(request: Request, userLocale: string | null | undefined): Promise<Locale> {
  const fromCookie: unknown = await langCookie(false).parse(request.headers.get("Cookie"));
  if (isLocale(fromCookie)) return fromCookie;
  if (isLocale(userLocale)) return userLocale;
  return localeFromAcceptLanguage(request.headers.get("Accept-Language")) ?? DEFAULT_LOCALE;
}
