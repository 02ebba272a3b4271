import type { ColumnType, Generated } from "kysely";
import type { CreatedAt, NullableTimestamp, Role, Timestamp } from "./foundation";

/**
 * The HTTP API's own state: bearer tokens from `POST /api/v1/auth/login`, per-organisation API
 * keys, and the idempotency records of POST requests. Secrets are never stored: tokens and keys
 * are kept as sha256 hex digests, like web sessions.
 */

/** A bearer token issued to a user for one organisation; expires, never renewed in place. */
export interface ApiTokensTable {
  /** sha256(token) hex: the token itself exists only in the login response. */
  token_hash: string;
  user_id: string;
  organization_id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

/** Roles an API key may carry: never `owner` (an owner is a person) nor the bank's roles. */
export const API_KEY_ROLES = ["admin", "purchaser", "sales", "finance", "viewer"] as const satisfies readonly Role[];
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/** `rt_live_<prefix>_<secret>`: found by its prefix, proved by the hash of the whole key. */
export interface ApiKeysTable {
  id: Generated<string>;
  organization_id: string;
  name: string;
  /** 10 lowercase letters/digits, unique: shown in lists so a person can tell keys apart. */
  prefix: string;
  /** sha256(full key) hex. */
  secret_hash: string;
  roles: ColumnType<ApiKeyRole[], ApiKeyRole[], ApiKeyRole[]>;
  created_by_user_id: string | null;
  created_at: CreatedAt;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  revoked_by_user_id: string | null;
}

export type IdempotencyStatus = "in_progress" | "completed";

/**
 * One row per (scope, Idempotency-Key). `in_progress` is committed before the work starts, so a
 * concurrent request with the same key sees it; the work's transaction turns it into `completed`
 * with the response, fenced by `lock_token`, so the work and its record commit together.
 */
export interface IdempotencyKeysTable {
  /** The acting organisation's id, or `public:<operation>` for unauthenticated endpoints. */
  scope: string;
  key: string;
  /** sha256 of method, path and canonical JSON body. */
  request_hash: string;
  method: string;
  path: string;
  status: IdempotencyStatus;
  /** Fences the row: only the request holding this token may complete or release it. */
  lock_token: string;
  locked_at: Timestamp;
  response_status: number | null;
  response_body: ColumnType<unknown, string | null | undefined, string | null>;
  created_at: CreatedAt;
  completed_at: NullableTimestamp;
  expires_at: Timestamp;
}

export interface ApiTables {
  api_tokens: ApiTokensTable;
  api_keys: ApiKeysTable;
  idempotency_keys: IdempotencyKeysTable;
}
