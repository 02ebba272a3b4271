import { randomBytes, timingSafeEqual } from "node:crypto";
import { sql } from "kysely";
import type { Db } from "../../../db";
import { API_KEY_ROLES, type ApiKeyRole } from "../../../db/schema";
import type { ApiPrincipal } from "./api-tokens.server";
import { recordAudit, type Actor, DomainError, isUuid } from "../shared";
import { hashToken } from "./auth.server";

/**
 * Per-organisation API keys for ERP integrations: `rt_live_<prefix>_<secret>`.
 *
 *  K1 the key is shown once, at creation; only sha256(key) is stored, so a database leak yields no
 *     usable key;
 *  K2 the prefix (10 random [a-z0-9]) is unique and finds the row with one indexed lookup; the
 *     hash of the whole key is then compared in constant time;
 *  K3 a key acts for its organisation with the roles chosen when it was made (never `owner`), not
 *     as its creator: it keeps working when the creator leaves, and its actions are audited with
 *     no user (the request id ties them to the request log, which names the key);
 *  K4 revoking is immediate and final (401 from the next request on); a revoked key's name may be
 *     reused.
 */

export const API_KEY_LIMITS = {
  nameLength: 100,
  /** Live keys per organisation: enough for every system that integrates, few enough to review. */
  maxLiveKeys: 25,
  listMax: 100,
  /** last_used_at is written at most this often per key: a busy key must not write on every call. */
  lastUsedResolutionMs: 60_000,
} as const;

export const API_KEY_DEFAULT_ROLES: readonly ApiKeyRole[] = ["admin"];

const KEY_SHAPE = /^rt_live_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$/;
const PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function newPrefix(): string {
  // 36 is not a power of two: reject bytes ≥ 252 so every character is equally likely.
  let out = "";
  while (out.length < 10) {
    for (const byte of randomBytes(16)) {
      if (byte < 252 && out.length < 10) out += PREFIX_ALPHABET[byte % 36];
    }
  }
  return out;
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith("rt_live_");
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  roles: ApiKeyRole[];
  createdAt: Date;
  createdByName: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKeyInput {
  name: string;
  roles?: readonly string[];
}

/** Make a key; the returned `secret` is the only time the full key exists outside the caller. */
export async function createApiKey(
  db: Db,
  actor: Actor,
  organizationId: string,
  input: NewApiKeyInput,
): Promise<{ key: ApiKeyView; secret: string }> {
  const name = input.name.normalize("NFC").trim(); // stored as typed (a label, not a key)
  const fields: Record<string, string> = {};
  if (!name) fields.name = "required";
  else if (name.length > API_KEY_LIMITS.nameLength) fields.name = "too_long";
  const wanted = [...new Set(input.roles && input.roles.length ? input.roles : API_KEY_DEFAULT_ROLES)];
  const roles = wanted.filter((r): r is ApiKeyRole => (API_KEY_ROLES as readonly string[]).includes(r));
  if (roles.length !== wanted.length || roles.length === 0) fields.roles = "unknown_role";
  if (Object.keys(fields).length) {
    throw new DomainError("validation", `The API key is not valid: ${Object.entries(fields).map(([f, c]) => `${f} ${c}`).join(", ")}`, fields);
  }
  const prefix = newPrefix();
  const secret = `rt_live_${prefix}_${randomBytes(32).toString("base64url")}`;
  return db.transaction().execute(async (trx) => {
    // Serialise key creation per organisation so the live-key cap holds under concurrent clicks.
    await sql`select pg_advisory_xact_lock(hashtext(${`api_keys:${organizationId}`}))`.execute(trx);
    const live = await trx
      .selectFrom("api_keys")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("organization_id", "=", organizationId)
      .where("revoked_at", "is", null)
      .executeTakeFirstOrThrow();
    if (Number(live.n) >= API_KEY_LIMITS.maxLiveKeys) {
      throw new DomainError("conflict", `At most ${API_KEY_LIMITS.maxLiveKeys} live API keys: revoke one first`, { name: "too_many_keys" });
    }
    const taken = await trx
      .selectFrom("api_keys")
      .select("id")
      .where("organization_id", "=", organizationId)
      .where("revoked_at", "is", null)
      .where(sql<string>`lower(name)`, "=", name.toLowerCase())
      .executeTakeFirst();
    if (taken) throw new DomainError("conflict", `A live API key is already named ${name}`, { name: "already_in_use" });
    const row = await trx
      .insertInto("api_keys")
      .values({
        organization_id: organizationId,
        name,
        prefix,
        secret_hash: hashToken(secret),
        roles,
        created_by_user_id: actor.userId,
      })
      .returning(["id", "created_at"])
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, {
      action: "api_key.created",
      entityType: "api_key",
      entityId: row.id,
      organizationId,
      after: { name, prefix, roles },
    });
    const creator = actor.userId
      ? await trx.selectFrom("users").select("display_name").where("id", "=", actor.userId).executeTakeFirst()
      : undefined;
    return {
      key: {
        id: row.id,
        name,
        prefix,
        roles,
        createdAt: row.created_at,
        createdByName: creator?.display_name ?? null,
        lastUsedAt: null,
        revokedAt: null,
      },
      secret,
    };
  });
}

/** The organisation's keys, live first then revoked, newest first; never a secret or its hash. */
export async function listApiKeys(db: Db, organizationId: string): Promise<ApiKeyView[]> {
  const rows = await db
    .selectFrom("api_keys as k")
    .leftJoin("users as u", "u.id", "k.created_by_user_id")
    .select(["k.id", "k.name", "k.prefix", "k.roles", "k.created_at", "u.display_name", "k.last_used_at", "k.revoked_at"])
    .where("k.organization_id", "=", organizationId)
    .orderBy(sql`k.revoked_at is not null`)
    .orderBy("k.created_at", "desc")
    .limit(API_KEY_LIMITS.listMax)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    roles: r.roles,
    createdAt: r.created_at,
    createdByName: r.display_name,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

/** Revoke one of this organisation's keys; another organisation's id is not found. */
export async function revokeApiKey(db: Db, actor: Actor, organizationId: string, keyId: string): Promise<void> {
  if (!isUuid(keyId)) throw new DomainError("not_found", "API key not found");
  await db.transaction().execute(async (trx) => {
    const key = await trx
      .selectFrom("api_keys")
      .select(["id", "name", "prefix", "revoked_at"])
      .where("id", "=", keyId)
      .where("organization_id", "=", organizationId)
      .forUpdate()
      .executeTakeFirst();
    if (!key) throw new DomainError("not_found", "API key not found");
    if (key.revoked_at) return; // revoking twice changes nothing
    await trx
      .updateTable("api_keys")
      .set({ revoked_at: sql`now()`, revoked_by_user_id: actor.userId })
      .where("id", "=", key.id)
      .execute();
    await recordAudit(trx, actor, {
      action: "api_key.revoked",
      entityType: "api_key",
      entityId: key.id,
      organizationId,
      before: { name: key.name, prefix: key.prefix },
    });
  });
}

/** The principal behind a key, or null (malformed, unknown, revoked, or its organisation gone). */
export async function authenticateApiKey(db: Db, raw: string, now: Date): Promise<ApiPrincipal | null> {
  const match = KEY_SHAPE.exec(raw);
  if (!match) return null;
  const row = await db
    .selectFrom("api_keys as k")
    .innerJoin("organizations as o", "o.id", "k.organization_id")
    .select(["k.id", "k.secret_hash", "k.roles", "k.last_used_at", "k.organization_id", "o.name", "o.kind", "o.status"])
    .where("k.prefix", "=", match[1])
    .where("k.revoked_at", "is", null)
    .executeTakeFirst();
  if (!row) return null;
  const given = Buffer.from(hashToken(raw), "hex");
  const stored = Buffer.from(row.secret_hash, "hex");
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) return null;
  const staleBefore = new Date(now.getTime() - API_KEY_LIMITS.lastUsedResolutionMs);
  if (!row.last_used_at || row.last_used_at < staleBefore) {
    await db
      .updateTable("api_keys")
      .set({ last_used_at: now })
      .where("id", "=", row.id)
      .where((eb) =>
        eb.or([
          eb("last_used_at", "is", null),
          eb("last_used_at", "<", staleBefore),
        ]),
      )
      .execute();
  }
  return {
    via: "api_key",
    userId: null,
    apiKeyId: row.id,
    organization: { id: row.organization_id, name: row.name, kind: row.kind, status: row.status },
    roles: [...row.roles],
  };
}
