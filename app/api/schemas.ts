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
  after: z
    .string()
    .min(1)
    .max(API_LIMITS.cursorChars)
    .optional()
    .describe("Opaque: the `next_cursor` of the previous page of the same list. Anything else is 422 with `fields.after` = `invalid_cursor`"),
};

/** A page of items: pass `next_cursor` as `after` for the next one; null on the last page. */
export function pageOf<T extends ZodTypeAny>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

/**
 * The values of `error.fields`: stable codes a program can branch on (the words for a person are in
 * `error.message`). Models add their own snake_case codes (`unknown_sku`, `uscc_check_character`, …).
 */
export const FIELD_CODES = {
  required: "missing, or null where a value is needed",
  unknown: "not a field of this body, or names nothing known",
  invalid_type: "the wrong JSON type",
  too_small: "below the minimum (number, length or count)",
  too_big: "above the maximum (number, length or count)",
  invalid_format: "a string in the wrong format",
  invalid_value: "not one of the allowed values",
  invalid_state: "the resource is not in a state that allows this (409)",
  invalid_cursor: "not the next_cursor of a previous page of this list",
  invalid: "breaks a rule the message states",
  malformed: "cannot be read",
  reused: "Idempotency-Key: used before with another request (422)",
  in_progress: "Idempotency-Key: its first request is still running, or died and is not yet taken over (409, Retry-After)",
  superseded: "Idempotency-Key: a retry took the key over while this request ran; it was rolled back (409)",
  timed_out: "Idempotency-Key: the request ran over its time and was rolled back; retry (409)",
} as const;

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
      fields: z
        .record(z.string())
        .describe(
          "The field as you sent it (a path: `lines.1.sku_code`, `after`, `Idempotency-Key`) → a stable code: " +
            Object.entries(FIELD_CODES)
              .map(([code, meaning]) => `\`${code}\` (${meaning})`)
              .join(", ") +
            "; models add their own snake_case codes (e.g. `unknown_sku`). The words for a person are in `message`.",
        ),
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
