import { z } from "zod";
import { purgeExpiredApiRows, purgeExpiredAuthRows } from "../app/domain/identity";
import type { Step } from "./registry";

/**
 * Housekeeping: rows that only matter until they expire (sessions, API tokens, login failures,
 * idempotency records) are deleted on a schedule, so the tables every request reads stay the size
 * of the live set. Deleting an expired row is idempotent; two overlapping runs delete each row once.
 */

export const HOUSEKEEPING_QUEUE = "housekeeping";
export const PURGE_EXPIRED_JOB = "housekeeping.purge_expired";

/** Rows per table per statement: a short delete, so logins and API calls never wait on it long. */
export const PURGE_BATCH_ROWS = 1_000;
/** Batches one run takes at most (per table kind); the next run, an hour later, takes the rest. */
export const PURGE_MAX_BATCHES_PER_RUN = 20;

const purgePayload = z.object({}).strict();
export const parsePurgePayload = (data: unknown): Record<string, never> => purgePayload.parse(data ?? {}) as Record<string, never>;

export const purgeExpiredStep: Step<Record<string, never>> = async (deps) => {
  const now = deps.now?.() ?? new Date();
  const total = { sessions: 0, failures: 0, tokens: 0, idempotency: 0 };
  for (let i = 0; i < PURGE_MAX_BATCHES_PER_RUN; i++) {
    const auth = await purgeExpiredAuthRows(deps.db, { now, limit: PURGE_BATCH_ROWS });
    const api = await purgeExpiredApiRows(deps.db, { now, limit: PURGE_BATCH_ROWS });
    total.sessions += auth.sessions;
    total.failures += auth.failures;
    total.tokens += api.tokens;
    total.idempotency += api.idempotency;
    const full = Math.max(auth.sessions, auth.failures, api.tokens, api.idempotency) === PURGE_BATCH_ROWS;
    if (!full) break;
  }
  if (total.sessions + total.failures + total.tokens + total.idempotency > 0) {
    deps.logger.info(total, "expired sessions, tokens, login failures and idempotency records purged");
  }
};
