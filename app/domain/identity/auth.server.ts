import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { sql } from "kysely";
import type { Db } from "../../../db";
import { recordAudit, type Actor } from "../shared";
import type { Role } from "../../../db/schema";
import { listMembershipsForUser, type OrganizationMembership } from "./organizations.server";
import { burnPasswordCheck, verifyPassword } from "./passwords.server";

/**
 * Login throttling lives in the database (login_failures), not in memory, because several web
 * processes answer logins: five failures for one email within 15 minutes, or thirty from one IP,
 * and further attempts are refused before any password is checked.
 */
export const THROTTLE_WINDOW_MINUTES = 15;
export const MAX_FAILURES_PER_EMAIL = 5;
export const MAX_FAILURES_PER_IP = 30;

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SUPPORTED_LOCALES = ["zh-CN", "en"] as const;
export type UserLocale = (typeof SUPPORTED_LOCALES)[number];

/** 32 random bytes, base64url: session tokens and CSRF tokens. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** What the sessions table stores instead of the token itself. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function tokensEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface LoginInput {
  email: string;
  password: string;
  ip: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** The request's time: the throttle window, the failure's stamp and the session's expiry count from it. */
  now: Date;
}

export type LoginResult =
  | { ok: true; token: string; userId: string; organizationId: string; displayName: string; locale: string }
  // `invalid` is returned alike for an unknown email, a wrong password and a disabled account.
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterMinutes: number }
  | { ok: false; reason: "no_organization" };

function throttleWindowStart(now: Date): Date {
  return new Date(now.getTime() - THROTTLE_WINDOW_MINUTES * 60_000);
}

async function failureCounts(db: Db, email: string, ip: string | null, now: Date) {
  const since = throttleWindowStart(now);
  const byEmail = await db
    .selectFrom("login_failures")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("email_normalized", "=", email)
    .where("at", ">", since)
    .executeTakeFirstOrThrow();
  let ipCount = 0;
  if (ip) {
    const byIp = await db
      .selectFrom("login_failures")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("ip", "=", ip)
      .where("at", ">", since)
      .executeTakeFirstOrThrow();
    ipCount = Number(byIp.n);
  }
  return { email: Number(byEmail.n), ip: ipCount };
}

/**
 * Minutes until the attempt would be allowed again: when the oldest failure that still counts
 * toward the limit leaves the window. Measured against the caller's `now`, the same clock that
 * stamped `at` (login records failures with it).
 */
async function minutesUntilAllowed(db: Db, column: "email_normalized" | "ip", value: string, limit: number, now: Date): Promise<number> {
  const row = await db
    .selectFrom("login_failures")
    .select(
      sql<number>`ceil(extract(epoch from (at + make_interval(mins => ${THROTTLE_WINDOW_MINUTES}) - ${now}::timestamptz)) / 60)`.as("minutes"),
    )
    .where(column, "=", value)
    .where("at", ">", throttleWindowStart(now))
    .orderBy("at", "desc")
    .offset(limit - 1)
    .limit(1)
    .executeTakeFirst();
  return Math.min(THROTTLE_WINDOW_MINUTES, Math.max(1, Number(row?.minutes ?? 1)));
}

// Where a fresh login lands: the organisation where the user carries the most responsibility
// (an owner's own company before one where they only buy), active before suspended, then by name
// so the choice is stable. Switching is one click away.
const ROLE_WEIGHT: Record<Role, number> = {
  owner: 0,
  platform_admin: 1,
  admin: 2,
  credit_officer: 3,
  operations: 4,
  finance: 5,
  sales: 6,
  purchaser: 7,
  viewer: 8,
};

export function defaultOrganization(memberships: readonly OrganizationMembership[]): OrganizationMembership | undefined {
  const weight = (m: OrganizationMembership) => Math.min(...m.roles.map((r) => ROLE_WEIGHT[r] ?? 9));
  return [...memberships].sort(
    (a, b) =>
      Number(a.status !== "active") - Number(b.status !== "active") ||
      weight(a) - weight(b) ||
      a.name.localeCompare(b.name, "zh-CN") ||
      a.organizationId.localeCompare(b.organizationId),
  )[0];
}

export async function login(db: Db, input: LoginInput): Promise<LoginResult> {
  const email = normalizeEmail(input.email);
  const ip = input.ip ?? null;
  const actor: Actor = { userId: null, organizationId: null, ip, requestId: input.requestId ?? null };

  // Refuse before checking the password, so a locked-out attacker learns nothing more from it.
  // Concurrent attempts may each pass this check before any records a failure; the overshoot is
  // bounded by the number of parallel requests, which the per-IP limit caps as well.
  const counts = await failureCounts(db, email, ip, input.now);
  if (counts.email >= MAX_FAILURES_PER_EMAIL || (ip && counts.ip >= MAX_FAILURES_PER_IP)) {
    const retryAfterMinutes =
      counts.email >= MAX_FAILURES_PER_EMAIL
        ? await minutesUntilAllowed(db, "email_normalized", email, MAX_FAILURES_PER_EMAIL, input.now)
        : await minutesUntilAllowed(db, "ip", ip as string, MAX_FAILURES_PER_IP, input.now);
    return { ok: false, reason: "throttled", retryAfterMinutes };
  }

  const user = await db
    .selectFrom("users")
    .select(["id", "email", "display_name", "password_hash", "status", "locale"])
    .where(sql<string>`lower(email)`, "=", email)
    .executeTakeFirst();

  let passwordOk = false;
  if (user) {
    passwordOk = await verifyPassword(input.password, user.password_hash);
  } else {
    // Same scrypt cost for an unknown email: response time must not tell which part was wrong.
    await burnPasswordCheck(input.password);
  }

  if (!user || !passwordOk || user.status !== "active") {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto("login_failures").values({ email_normalized: email, ip, at: input.now }).execute();
      await recordAudit(trx, user ? { ...actor, userId: user.id } : actor, {
        action: "user.login_failed",
        entityType: "user",
        entityId: user?.id ?? null,
        organizationId: null,
        after: { email: email.slice(0, 254) },
      });
    });
    return { ok: false, reason: "invalid" };
  }

  const active = defaultOrganization(await listMembershipsForUser(db, user.id));
  if (!active) return { ok: false, reason: "no_organization" };

  const token = newToken();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("sessions")
      .values({
        token_hash: hashToken(token),
        user_id: user.id,
        organization_id: active.organizationId,
        csrf_token: newToken(),
        ip,
        user_agent: input.userAgent?.slice(0, 500) ?? null,
        expires_at: new Date(input.now.getTime() + SESSION_TTL_MS),
      })
      .execute();
    await trx.updateTable("users").set({ last_login_at: input.now }).where("id", "=", user.id).execute();
    // A successful login clears the email's failures: the owner is back, the count starts over.
    await trx.deleteFrom("login_failures").where("email_normalized", "=", email).execute();
    await recordAudit(trx, { ...actor, userId: user.id, organizationId: active.organizationId }, {
      action: "user.login",
      entityType: "user",
      entityId: user.id,
    });
  });
  return {
    ok: true,
    token,
    userId: user.id,
    organizationId: active.organizationId,
    displayName: user.display_name,
    locale: user.locale,
  };
}

/** Deletes the session row, so the cookie is worthless everywhere, not just in this browser. */
export async function logout(db: Db, actor: Actor, tokenHash: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const removed = await trx.deleteFrom("sessions").where("token_hash", "=", tokenHash).returning("user_id").executeTakeFirst();
    if (removed) {
      await recordAudit(trx, actor, { action: "user.logout", entityType: "user", entityId: removed.user_id });
    }
  });
}

/**
 * Moves the session to another organisation. The caller has already proved membership through
 * requireOrgContext; the `where user_id` here makes sure one user's session is the one moved.
 */
export async function switchSessionOrganization(
  db: Db,
  actor: Actor,
  input: { tokenHash: string; userId: string; fromOrganizationId: string; toOrganizationId: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable("sessions")
      .set({ organization_id: input.toOrganizationId })
      .where("token_hash", "=", input.tokenHash)
      .where("user_id", "=", input.userId)
      .returning("token_hash")
      .executeTakeFirst();
    if (!updated) return;
    await recordAudit(trx, { ...actor, organizationId: input.toOrganizationId }, {
      action: "session.organization_switched",
      entityType: "user",
      entityId: input.userId,
      before: { organization_id: input.fromOrganizationId },
      after: { organization_id: input.toOrganizationId },
    });
  });
}

export async function setUserLocale(db: Db, actor: Actor, userId: string, locale: UserLocale): Promise<void> {
  if (!SUPPORTED_LOCALES.includes(locale)) return;
  await db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom("users").select("locale").where("id", "=", userId).executeTakeFirst();
    if (!before || before.locale === locale) return;
    await trx.updateTable("users").set({ locale }).where("id", "=", userId).execute();
    await recordAudit(trx, actor, {
      action: "user.locale_changed",
      entityType: "user",
      entityId: userId,
      before: { locale: before.locale },
      after: { locale },
    });
  });
}

/** Display names for the activity list; only ids the caller already got from its own org's events. */
export async function displayNames(db: Db, userIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds)].slice(0, 200);
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom("users").select(["id", "display_name"]).where("id", "in", ids).execute();
  return new Map(rows.map((r) => [r.id, r.display_name]));
}

/**
 * Login failures are kept this long after they happen: well past the throttle window (they stop
 * counting after THROTTLE_WINDOW_MINUTES), so an operator can still read a recent attack.
 */
export const LOGIN_FAILURE_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes at most `limit` expired sessions and at most `limit` login failures past their retention,
 * as of `now`; the housekeeping schedule (workflows/housekeeping.ts) calls it in batches, so one run
 * never holds a long delete over a table every request reads.
 */
export async function purgeExpiredAuthRows(db: Db, opts: { now: Date; limit: number }): Promise<{ sessions: number; failures: number }> {
  const sessions = await db
    .deleteFrom("sessions")
    .where("token_hash", "in", (eb) =>
      eb.selectFrom("sessions").select("token_hash").where("expires_at", "<", opts.now).limit(opts.limit),
    )
    .executeTakeFirst();
  const failuresBefore = new Date(opts.now.getTime() - LOGIN_FAILURE_RETENTION_MS);
  const failures = await db
    .deleteFrom("login_failures")
    .where("id", "in", (eb) => eb.selectFrom("login_failures").select("id").where("at", "<", failuresBefore).limit(opts.limit))
    .executeTakeFirst();
  return { sessions: Number(sessions.numDeletedRows), failures: Number(failures.numDeletedRows) };
}
