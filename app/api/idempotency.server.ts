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
   * Takeover time: an `in_progress` row whose claim is older than this belongs to a request that
   * died (its transaction rolled back with it) and may be taken over by a retry. Short enough for an
   * ERP's retry loop (a handful of retries with backoff over 15–30 s reaches it); no shorter than
   * workBudgetMs + workStatementTimeoutMs, so a live request has completed or given up before its
   * claim can be taken over. If one were overtaken anyway, I1 still holds: its fenced `complete`
   * matches no row. The API docs (OpenAPI, docs/decisions/006-api.md) state this number; a test
   * checks the latter.
   */
  staleAfterMs: 15_000,
  /**
   * Server mode: a request's work must reach its `complete` within this, counted from just before
   * its claim; past it the handler rolls back instead (409, key released).
   */
  workBudgetMs: 10_000,
  /**
   * Server mode: `statement_timeout` of the work transaction, so no statement (a lock wait, the
   * final `complete`) runs on past the takeover time: a `complete` started within the budget ends
   * before the claim can be taken over, and once it has updated the row a takeover waits on that
   * row's lock and then finds it completed. Embedded mode needs no bound and gets none: PGlite runs
   * one transaction at a time and queues every other query behind it, so no claimer can read the row
   * while the work is open (and PGlite ignores `statement_timeout` anyway).
   */
  workStatementTimeoutMs: 5_000,
  keyPattern: /^[\x21-\x7e]{1,255}$/,
} as const;

if (IDEMPOTENCY.workBudgetMs + IDEMPOTENCY.workStatementTimeoutMs > IDEMPOTENCY.staleAfterMs) {
  throw new Error("IDEMPOTENCY: a live request could be overtaken; keep workBudgetMs + workStatementTimeoutMs ≤ staleAfterMs");
}

/** The takeover time in whole seconds, as the API docs and messages state it. */
export const IDEMPOTENCY_TAKEOVER_SECONDS = Math.ceil(IDEMPOTENCY.staleAfterMs / 1000);

/** Requests finish in milliseconds; a claim younger than this is told to retry in 1 s. */
const YOUNG_CLAIM_SECONDS = 2;

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
  /** `retryAfterSeconds`: 1 while the claim is young, then until it may be taken over. */
  | { kind: "in_progress"; retryAfterSeconds: number };

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
        sql<number>`ceil(extract(epoch from locked_at + make_interval(secs => ${IDEMPOTENCY.staleAfterMs / 1000}) - now()))::int`.as(
          "takeover_in_s",
        ),
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
    if (!row.stale) {
      // A claim this young is most likely a live duplicate about to finish: a retry in a second gets
      // its response. An older one is probably dead: retry when it can be taken over.
      const young = row.takeover_in_s > IDEMPOTENCY_TAKEOVER_SECONDS - YOUNG_CLAIM_SECONDS;
      return { kind: "in_progress", retryAfterSeconds: young ? 1 : Math.max(1, row.takeover_in_s) };
    }
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
  // Heavy contention: the key changed hands under us; a second later it has settled.
  return { kind: "in_progress", retryAfterSeconds: 1 };
}

/**
 * Server mode, first statement of the work transaction: no statement in it may run longer than
 * workStatementTimeoutMs (PostgreSQL cancels it, 57014, and the transaction rolls back). `set_config(…, true)` is
 * `SET LOCAL` with a parameter: it ends with the transaction, the pooled connection keeps its default.
 */
export async function boundWorkTransaction(trx: Db): Promise<void> {
  if (!trx.isTransaction) throw new Error("boundWorkTransaction: call it inside the work's transaction (SET LOCAL outside one is a no-op)");
  await sql`select set_config('statement_timeout', ${String(IDEMPOTENCY.workStatementTimeoutMs)}, true)`.execute(trx);
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
