import { sql } from "kysely";
import type { Db } from "../../../db";
import type { OrganizationKind, Role } from "../../../db/schema";
import { recordAudit, type Actor } from "../shared";
import { hashToken, login, newToken } from "./auth.server";
import { listMembershipsForUser, type OrganizationMembership } from "./organizations.server";

/**
 * Bearer tokens for `/api/v1`, issued by `POST /api/v1/auth/login` to a person for ONE
 * organisation. Like web sessions: 32 random bytes, only sha256(token) stored, a fixed lifetime
 * (no sliding renewal: an integration logs in again), and the roles are read from the user's
 * memberships on every request, so removing a member cuts their tokens off at once.
 *
 * Login itself is auth.server's `login`: the same scrypt check, the same DB throttle
 * (login_failures per email and per IP) and the same audit events. `login` also opens a web
 * session row; that row is deleted in the transaction that issues the API token, so the password
 * yields exactly one credential.
 */

export const API_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

/** Who is calling the API, resolved from a bearer token or an API key. */
export interface ApiPrincipal {
  via: "token" | "api_key";
  /** The person behind a token; null for an API key (a machine acting for the organisation). */
  userId: string | null;
  apiKeyId: string | null;
  organization: { id: string; name: string; kind: OrganizationKind; status: "active" | "suspended" };
  roles: Role[];
}

export interface ApiLoginInput {
  email: string;
  password: string;
  /** The organisation to act for; needed when the user belongs to several. */
  organisation?: string | null;
  ip: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** The request's time: throttling and the token's expiry count from it. */
  now: Date;
}

export interface OrganisationChoice {
  id: string;
  name: string;
  kind: OrganizationKind;
}

export type ApiLoginResult =
  | { ok: true; token: string; expiresAt: Date; organization: OrganisationChoice }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterMinutes: number }
  | { ok: false; reason: "no_organization" }
  /** Several memberships and none (or one not theirs) named: the caller must choose. */
  | { ok: false; reason: "organisation_required" | "unknown_organisation"; choices: OrganisationChoice[] };

const choiceOf = (m: OrganizationMembership): OrganisationChoice => ({ id: m.organizationId, name: m.name, kind: m.kind });

export async function loginForApi(db: Db, input: ApiLoginInput): Promise<ApiLoginResult> {
  const result = await login(db, {
    email: input.email,
    password: input.password,
    ip: input.ip,
    userAgent: input.userAgent,
    requestId: input.requestId,
    now: input.now,
  });
  if (!result.ok) return result;
  const sessionHash = hashToken(result.token);
  // Only a proven password reaches this point, so listing the user's own organisations leaks nothing.
  const memberships = await listMembershipsForUser(db, result.userId);
  let chosen: OrganizationMembership | undefined;
  let refusal: ApiLoginResult | null = null;
  if (input.organisation) {
    chosen = memberships.find((m) => m.organizationId === input.organisation?.toLowerCase());
    if (!chosen) refusal = { ok: false, reason: "unknown_organisation", choices: memberships.map(choiceOf) };
  } else if (memberships.length === 1) {
    chosen = memberships[0];
  } else {
    refusal = { ok: false, reason: "organisation_required", choices: memberships.map(choiceOf) };
  }

  const token = newToken();
  const expiresAt = new Date(input.now.getTime() + API_TOKEN_TTL_MS);
  await db.transaction().execute(async (trx) => {
    // The web session `login` opened is not wanted by an API client: drop it, whatever happens next.
    await trx.deleteFrom("sessions").where("token_hash", "=", sessionHash).execute();
    if (!chosen) return;
    await trx
      .insertInto("api_tokens")
      .values({
        token_hash: hashToken(token),
        user_id: result.userId,
        organization_id: chosen.organizationId,
        ip: input.ip,
        user_agent: input.userAgent?.slice(0, 500) ?? null,
        expires_at: expiresAt,
      })
      .execute();
    const actor: Actor = { userId: result.userId, organizationId: chosen.organizationId, ip: input.ip, requestId: input.requestId ?? null };
    await recordAudit(trx, actor, {
      action: "api_token.issued",
      entityType: "user",
      entityId: result.userId,
      after: { expires_at: expiresAt.toISOString() },
    });
  });
  if (refusal || !chosen) return refusal ?? { ok: false, reason: "no_organization" };
  return { ok: true, token, expiresAt, organization: choiceOf(chosen) };
}

/** Tokens are 32 random bytes in base64url: 43 characters. Anything else is not worth a query. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The principal behind a bearer token, or null (unknown, expired, user disabled, no longer a member). */
export async function authenticateApiToken(db: Db, token: string, now: Date): Promise<ApiPrincipal | null> {
  if (!TOKEN_SHAPE.test(token)) return null;
  const row = await db
    .selectFrom("api_tokens as t")
    .innerJoin("users as u", "u.id", "t.user_id")
    .innerJoin("organizations as o", "o.id", "t.organization_id")
    .select(["t.user_id", "t.organization_id", "o.name", "o.kind", "o.status"])
    .where("t.token_hash", "=", hashToken(token))
    .where("t.expires_at", ">", now)
    .where("u.status", "=", "active")
    .executeTakeFirst();
  if (!row) return null;
  const roles = await db
    .selectFrom("memberships")
    .select("role")
    .where("user_id", "=", row.user_id)
    .where("organization_id", "=", row.organization_id)
    .execute();
  if (roles.length === 0) return null;
  return {
    via: "token",
    userId: row.user_id,
    apiKeyId: null,
    organization: { id: row.organization_id, name: row.name, kind: row.kind, status: row.status },
    roles: roles.map((r) => r.role),
  };
}

/**
 * Deletes at most `limit` expired API tokens and at most `limit` expired idempotency records, as of
 * `now`; the housekeeping schedule (workflows/housekeeping.ts) calls it in batches. An idempotency
 * record past its expiry replays nothing (the key may be reused), so deleting it changes no answer.
 */
export async function purgeExpiredApiRows(db: Db, opts: { now: Date; limit: number }): Promise<{ tokens: number; idempotency: number }> {
  const tokens = await db
    .deleteFrom("api_tokens")
    .where("token_hash", "in", (eb) => eb.selectFrom("api_tokens").select("token_hash").where("expires_at", "<", opts.now).limit(opts.limit))
    .executeTakeFirst();
  const idempotency = await db
    .deleteFrom("idempotency_keys")
    .where(
      sql<boolean>`(scope, key) in (select scope, key from idempotency_keys where expires_at < ${opts.now} limit ${opts.limit})`,
    )
    .executeTakeFirst();
  return { tokens: Number(tokens.numDeletedRows), idempotency: Number(idempotency.numDeletedRows) };
}
