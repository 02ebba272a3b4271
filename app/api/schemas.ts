import { z, type ZodTypeAny } from "zod";

/**
 * Building blocks shared by every /api/v1 contract: pages, errors, ids, money. Field names are
 * snake_case; money is integer fen in `*_fen` fields; timestamps are ISO 8601 UTC strings.
 */

export const API_LIMITS = {
  /** Request bodies above this are refused with 413 before being read further. */
  bodyBytesMax: 1024 * 1024,
  queryChars: 4096,
  pageSizeMax: 100,
  cursorChars: 500,
  idempotencyKeyChars: 255,
} as const;

/** `?limit=&after=`: every list takes these. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(API_LIMITS.pageSizeMax).optional().describe(`Page size, 1–${API_LIMITS.pageSizeMax}`),
  after: z.string().min(1).max(API_LIMITS.cursorChars).optional().describe("`next_cursor` of the previous page"),
};

/** A page of items: pass `next_cursor` as `after` for the next one; null on the last page. */
export function pageOf<T extends ZodTypeAny>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

export const errorBody = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe(
          "validation, not_found, unauthenticated, forbidden, conflict, invalid_state, insufficient_funds, idempotency_conflict, " +
            "rate_limited, bad_request, malformed_json, payload_too_large, unsupported_media_type, method_not_allowed, internal",
        ),
      message: z.string(),
      fields: z.record(z.string()).describe("Field path (e.g. `lines.0.quantity`) → what is wrong with it"),
      choices: z
        .array(z.object({ id: z.string(), name: z.string(), kind: z.string() }))
        .optional()
        .describe("Login only: the organisations to choose from"),
    }),
  })
  .describe("Every error, whatever the status");

/** An id in a path: any string up to 64 characters (a malformed id finds nothing: 404). */
export const idParam = z.string().min(1).max(64);

export const fen = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const isoTimestamp = z.string().describe("ISO 8601, UTC");
export const businessDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/).describe("YYYY-MM-DD, Asia/Shanghai");

export const uuid = z.string().uuid();
