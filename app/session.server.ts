import { createCookie, type Cookie } from "@remix-run/node";
import type { AppLoadContext } from "@remix-run/node";
import type { Db } from "../db";
import { isMessageKey, type MessageKey } from "./i18n";
import { hashToken, newToken, SESSION_TTL_MS, tokensEqual } from "./domain/identity";

/**
 * Sessions live in the `sessions` table; the cookie carries only a random token, signed with the
 * session secret. The row stores sha256(token), so a database leak gives no usable cookie, and
 * deleting the row ends the session everywhere (log out, revoke) — several web processes share it.
 */

const ANON_CSRF_TTL_S = 12 * 60 * 60;
const FLASH_TTL_S = 60;

export const SESSION_COOKIE = "rt_session";
export const ANON_CSRF_COOKIE = "rt_csrf";
export const FLASH_COOKIE = "rt_flash";
/** The hidden form field every mutating form carries. */
export const CSRF_FIELD = "csrf";

interface CookieSet {
  session: Cookie;
  anonCsrf: Cookie;
  flash: Cookie;
}

// createCookie is cheap, but one set per secret keeps the options in one place.
const cookieSets = new Map<string, CookieSet>();

export function cookies(context: Pick<AppLoadContext, "config">): CookieSet {
  const { sessionSecret, cookieSecure } = context.config;
  const cacheKey = `${cookieSecure ? 1 : 0}:${sessionSecret}`;
  let set = cookieSets.get(cacheKey);
  if (!set) {
    const base = { path: "/", sameSite: "lax" as const, httpOnly: true, secure: cookieSecure, secrets: [sessionSecret] };
    set = {
      session: createCookie(SESSION_COOKIE, { ...base, maxAge: SESSION_TTL_MS / 1000 }),
      anonCsrf: createCookie(ANON_CSRF_COOKIE, { ...base, maxAge: ANON_CSRF_TTL_S }),
      flash: createCookie(FLASH_COOKIE, { ...base, maxAge: FLASH_TTL_S }),
    };
    cookieSets.set(cacheKey, set);
  }
  return set;
}

export interface SessionUser {
  id: string;
  email: string;
  displayName: string;
  locale: string;
}

export interface CurrentSession {
  tokenHash: string;
  organizationId: string;
  csrfToken: string;
  expiresAt: Date;
  user: SessionUser;
}

async function loadSession(db: Db, token: string): Promise<CurrentSession | null> {
  const row = await db
    .selectFrom("sessions as s")
    .innerJoin("users as u", "u.id", "s.user_id")
    .select([
      "s.token_hash",
      "s.organization_id",
      "s.csrf_token",
      "s.expires_at",
      "u.id as user_id",
      "u.email",
      "u.display_name",
      "u.locale",
    ])
    .where("s.token_hash", "=", hashToken(token))
    .where("s.expires_at", ">", new Date())
    .where("u.status", "=", "active")
    .executeTakeFirst();
  if (!row) return null;
  return {
    tokenHash: row.token_hash,
    organizationId: row.organization_id,
    csrfToken: row.csrf_token,
    expiresAt: row.expires_at,
    user: { id: row.user_id, email: row.email, displayName: row.display_name, locale: row.locale },
  };
}

// The root loader and the route loader of one request share one load context: look the session
// up once per request, not once per loader. Actions that change the session always redirect, so a
// stale memo never outlives the request that made it.
const memo = new WeakMap<object, Promise<CurrentSession | null>>();

export function getSession(request: Request, context: AppLoadContext): Promise<CurrentSession | null> {
  let pending = memo.get(context);
  if (!pending) {
    pending = (async () => {
      const token: unknown = await cookies(context).session.parse(request.headers.get("Cookie"));
      if (typeof token !== "string" || token.length < 32 || token.length > 128) return null;
      return loadSession(context.db, token);
    })();
    memo.set(context, pending);
  }
  return pending;
}

export async function commitSessionCookie(context: AppLoadContext, token: string): Promise<string> {
  return cookies(context).session.serialize(token);
}

export async function destroySessionCookie(context: AppLoadContext): Promise<string> {
  return cookies(context).session.serialize("", { maxAge: 0, expires: new Date(0) });
}

// ---------------------------------------------------------------------------------------------
// CSRF. Signed-in: the token stored in the session row. Anonymous (the login form, the language
// switch on /login): a signed double-submit cookie — a site that cannot read or forge our signed
// cookie cannot put the matching value in a form field.

export interface CsrfState {
  token: string;
  /** Set-Cookie to send when a fresh anonymous token was issued. */
  setCookie: string | null;
}

export async function csrfForRequest(request: Request, context: AppLoadContext): Promise<CsrfState> {
  const session = await getSession(request, context);
  if (session) return { token: session.csrfToken, setCookie: null };
  const existing: unknown = await cookies(context).anonCsrf.parse(request.headers.get("Cookie"));
  if (typeof existing === "string" && existing.length >= 32) return { token: existing, setCookie: null };
  const token = newToken();
  return { token, setCookie: await cookies(context).anonCsrf.serialize(token) };
}

/**
 * Every action calls this first with its parsed form. A missing or wrong token is a 403 before any
 * change is made. Signed in, only the session's token counts (an anonymous token is not enough).
 */
/**
 * A form whose token does not match: it was opened before the session changed (expired, logged out
 * and in, another organisation chosen), or it was sent from another site. 403 like a refused role,
 * but marked (`{ refused: "csrf" }`; the page renders `data-refusal="csrf"`) so it can say what
 * happened and how to go on — reload and send again — instead of "not allowed", and a test can
 * tell the two apart.
 */
export function csrfRefusal(): Response {
  return new Response(JSON.stringify({ refused: "csrf" }), {
    status: 403,
    statusText: "Forbidden",
    headers: { "Content-Type": "application/json; charset=utf-8" },
  });
}

export async function requireCsrf(request: Request, context: AppLoadContext, form: FormData): Promise<void> {
  const sent = form.get(CSRF_FIELD);
  const session = await getSession(request, context);
  let expected: string | null = null;
  if (session) {
    expected = session.csrfToken;
  } else {
    const cookieToken: unknown = await cookies(context).anonCsrf.parse(request.headers.get("Cookie"));
    expected = typeof cookieToken === "string" && cookieToken.length >= 32 ? cookieToken : null;
  }
  if (typeof sent !== "string" || !expected || !tokensEqual(sent, expected)) {
    context.logger.warn({ signedIn: Boolean(session) }, "csrf check failed");
    throw csrfRefusal();
  }
}

// ---------------------------------------------------------------------------------------------
// Flash: one message key (+ params) carried across a redirect in a short-lived signed cookie and
// translated when shown, so it appears in whatever language the next page renders in.

export interface Flash {
  key: MessageKey;
  params?: Record<string, string | number>;
}

export async function flashCookie(context: AppLoadContext, flash: Flash): Promise<string> {
  return cookies(context).flash.serialize(flash);
}

export async function readFlash(request: Request, context: AppLoadContext): Promise<{ flash: Flash | null; clear: string | null }> {
  const value: unknown = await cookies(context).flash.parse(request.headers.get("Cookie"));
  if (!value || typeof value !== "object") return { flash: null, clear: null };
  const clear = await cookies(context).flash.serialize("", { maxAge: 0, expires: new Date(0) });
  const { key, params } = value as { key?: unknown; params?: unknown };
  if (typeof key !== "string" || !isMessageKey(key)) return { flash: null, clear };
  const safeParams: Record<string, string | number> = {};
  if (params && typeof params === "object") {
    for (const [name, v] of Object.entries(params as Record<string, unknown>)) {
      if (typeof v === "string" || typeof v === "number") safeParams[name] = v;
    }
  }
  return { flash: { key, params: safeParams }, clear };
}

/** Only same-site paths: never `//evil.example` or `/\evil.example`, which browsers treat as hosts. */
export function safeRedirectPath(value: unknown, fallback = "/"): string {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return fallback;
  }
  if (value.length > 2000) return fallback;
  return value;
}

export function clientIp(context: AppLoadContext): string | null {
  return context.ip;
}
