import { createHash, randomUUID } from "node:crypto";
import { sql } from "kysely";
import type { Db } from "../../db";

/**
 * Idempotency records for POST /api/v1 requests.
 *
 * Protocol (see docs/decisions/006-api.md):
 *  1. `claim` inserts an `in_progress` row in its own statement, committed at once, so a
 *     concurrent request with the same key sees it (PGlite has one connection: no transaction is
 *     held while waiting on anything);
 *  2. the work runs in a transaction that ends with `complete` — the response is written into the
 *     row in the SAME transaction as the business change, fenced by the claim's `lock_token`, so
 *     either both commit or neither does;
 *  3. when the work fails, `release` deletes the row (nothing was written, so retrying the same key
 *     is safe and will execute).
 *
 * I1 per (scope, key) at most one execution commits: a second claimer of a live `in_progress` row
 *    gets `in_progress` (→ 409); one that takes over a stale row gets a new lock token, and the
 *    first holder's `complete` then matches no row and its transaction rolls back;
 * I2 same key and same request hash → the stored status and body, never a second execution;
 * I3 same key and another hash → `mismatch` (→ 422 idempotency_conflict);
 * I4 rows live 24 h; an expired row is treated as absent.
 */

export const IDEMPOTENCY = {
  ttlMs: 24 * 60 * 60 * 1000,
  /**
   * An `in_progress` row older than this belongs to a request that died (its transaction rolled
   * back with it) and may be taken over. Above any request's running time (statement timeouts,
   * model limits), so a live request is never overtaken in practice; and if it were, I1 still holds.
   */
  staleAfterMs: 60_000,
  keyPattern: /^[\x21-\x7e]{1,255}$/,
} as const;

export interface IdempotencyRequest {
  scope: string;
  key: string;
  requestHash: string;
  method: string;
  path: string;
}

export type Claim =
  | { kind: "execute"; lockToken: string }
  | { kind: "replay"; status: number; body: unknown }
  | { kind: "mismatch" }
  | { kind: "in_progress" };

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** sha256 over method, path (with query) and the canonical JSON body. */
export function requestHash(method: string, pathWithQuery: string, body: unknown): string {
  return createHash("sha256").update(`${method.toUpperCase()}\n${pathWithQuery}\n${canonicalJson(body ?? null)}`).digest("hex");
}

export async function claimIdempotencyKey(db: Db, request: IdempotencyRequest): Promise<Claim> {
  // Three rounds cover every race: a row deleted (expired or released) or taken over between our
  // insert and our read sends us round again; more rounds than that means heavy contention → 409.
  for (let round = 0; round < 3; round++) {
    const lockToken = randomUUID();
    const inserted = await db
      .insertInto("idempotency_keys")
      .values({
        scope: request.scope,
        key: request.key,
        request_hash: request.requestHash,
        method: request.method,
        path: request.path.slice(0, 2000),
        status: "in_progress",
        lock_token: lockToken,
        locked_at: sql<Date>`now()`,
        expires_at: sql<Date>`now() + make_interval(secs => ${IDEMPOTENCY.ttlMs / 1000})`,
      })
      .onConflict((oc) => oc.columns(["scope", "key"]).doNothing())
      .returning("key")
      .executeTakeFirst();
    if (inserted) return { kind: "execute", lockToken };

    const row = await db
      .selectFrom("idempotency_keys")
      .select([
        "request_hash",
        "status",
        "lock_token",
        "response_status",
        "response_body",
        sql<boolean>`expires_at <= now()`.as("expired"),
        sql<boolean>`locked_at < now() - make_interval(secs => ${IDEMPOTENCY.staleAfterMs / 1000})`.as("stale"),
      ])
      .where("scope", "=", request.scope)
      .where("key", "=", request.key)
      .executeTakeFirst();
    if (!row) continue;
    if (row.expired) {
      await db
        .deleteFrom("idempotency_keys")
        .where("scope", "=", request.scope)
        .where("key", "=", request.key)
        .where("lock_token", "=", row.lock_token)
        .execute();
      continue;
    }
    if (row.request_hash !== request.requestHash) return { kind: "mismatch" };
    if (row.status === "completed" && row.response_status !== null) {
      return { kind: "replay", status: row.response_status, body: row.response_body };
    }
    if (!row.stale) return { kind: "in_progress" };
    const taken = await db
      .updateTable("idempotency_keys")
      .set({ lock_token: lockToken, locked_at: sql<Date>`now()` })
      .where("scope", "=", request.scope)
      .where("key", "=", request.key)
      .where("lock_token", "=", row.lock_token)
      .where("status", "=", "in_progress")
      .returning("key")
      .executeTakeFirst();
    if (taken) return { kind: "execute", lockToken };
  }
  return { kind: "in_progress" };
}

/**
 * Store the response; call inside the work's transaction. False when the claim was lost (taken
 * over as stale): the caller must then roll its work back.
 */
export async function completeIdempotencyKey(
  trx: Db,
  claim: { scope: string; key: string; lockToken: string },
  response: { status: number; body: unknown },
): Promise<boolean> {
  const result = await trx
    .updateTable("idempotency_keys")
    .set({
      status: "completed",
      response_status: response.status,
      response_body: JSON.stringify(response.body),
      completed_at: sql<Date>`now()`,
    })
    .where("scope", "=", claim.scope)
    .where("key", "=", claim.key)
    .where("lock_token", "=", claim.lockToken)
    .where("status", "=", "in_progress")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The work failed and wrote nothing: free the key so the same request may be retried. */
export async function releaseIdempotencyKey(db: Db, claim: { scope: string; key: string; lockToken: string }): Promise<void> {
  await db
    .deleteFrom("idempotency_keys")
    .where("scope", "=", claim.scope)
    .where("key", "=", claim.key)
    .where("lock_token", "=", claim.lockToken)
    .where("status", "=", "in_progress")
    .execute();
}
