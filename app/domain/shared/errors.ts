/**
 * One typed error for every domain refusal: the page renders `message` next to `field`, the API
 * renders `{ error: { code, message, fields } }` with `status`. Anything else that escapes is a bug.
 */
export type DomainErrorCode =
  | "validation"
  | "not_found"
  | "unauthenticated"
  | "forbidden"
  | "rate_limited"
  | "conflict"
  | "invalid_state"
  | "insufficient_funds"
  | "idempotency_conflict";

const STATUS: Record<DomainErrorCode, number> = {
  validation: 422,
  not_found: 404,
  unauthenticated: 401,
  forbidden: 403,
  rate_limited: 429,
  conflict: 409,
  invalid_state: 409,
  insufficient_funds: 422,
  idempotency_conflict: 422,
};

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly fields: Record<string, string>;
  readonly status: number;

  /**
   * Per field, a stable snake_case code when `fields` holds words for a page (the API answers the
   * code, the words go in its message). Fields whose value is already a code need no entry.
   */
  readonly fieldCodes: Record<string, string>;

  constructor(code: DomainErrorCode, message: string, fields: Record<string, string> = {}, fieldCodes: Record<string, string> = {}) {
    super(message);
    this.name = "DomainError";
    this.code = code;
    this.fields = fields;
    this.fieldCodes = fieldCodes;
    this.status = STATUS[code];
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, fields: this.fields } };
  }
}

export const notFound = (what = "resource") => new DomainError("not_found", `${what} not found`);

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
