import type { ActionFunctionArgs, AppLoadContext, LoaderFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { isPoolBusy, type Db } from "../../db";
import type { Logger } from "../logger.server";
import { authenticateApiKey, looksLikeApiKey, authenticateApiToken, type ApiPrincipal, assertMay } from "../domain/identity";
import type { Actor } from "../domain/shared";
import { isDomainError, readBodyLimited } from "../domain/shared";
import type { BodyOf, EndpointSpec, ParamsOf, QueryOf, ResponseOf } from "./endpoint";
import {
  boundWorkTransaction,
  claimIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY,
  IDEMPOTENCY_TAKEOVER_SECONDS,
  releaseIdempotencyKey,
  requestHash,
} from "./idempotency.server";
import { API_LIMITS } from "./schemas";

/**
 * The /api/v1 request pipeline. A route file is one call:
 *
 *   export const { loader, action } = apiRoute(
 *     implement(listSkus, async ({ principal, query, db }) => ({ data: [...], next_cursor: null })),
 *     implement(createSku, async ({ principal, body, db, actor }) => skuJson(await createSku(db, actor, ...))),
 *   );
 *
 * For every request, in this order (each step's refusal is JSON `{ error: { code, message, fields } }`):
 *  1. method → the handler declared for it, else 405 (with `Allow`);
 *  2. auth → principal from `Authorization: Bearer <token | rt_live_ key>`, else 401;
 *  3. organisation kind (404) and roles (403), from the endpoint spec;
 *  4. POST: `Idempotency-Key` header present and well-formed, else 400;
 *  5. path params (404), query (422), body: size (413), content type (415), JSON (400), schema (422);
 *  6. POST: claim the idempotency key — replay / 422 idempotency_conflict / 409 in progress;
 *  7. the handler: for POST inside ONE transaction that also stores the response (see
 *     idempotency.server.ts), so the change and its record commit together; for GET the plain db;
 *  8. errors: DomainError → its status; database errors caused by input → 4xx; anything else → 500
 *     with the request id (logged with the stack), never a stack trace to the caller.
 * `error.fields` always names a field as the client sent it and holds a code (`required`,
 * `unknown`, `too_small`, `invalid_state`, a model's own); the words are in `error.message`.
 */

export const API_AUTH_SCHEME = "Bearer";

/** An API refusal that is not a domain rule (transport, protocol). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
    /** More members of the `error` object (e.g. login's `choices`), documented per endpoint. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ApiContext<S extends EndpointSpec> {
  request: Request;
  context: AppLoadContext;
  /**
   * POST (transactional handlers): the transaction that will also store the idempotent response.
   * Pass it to model functions (they join it): never use `context.db` inside a handler — with
   * PGlite's single connection that would wait for this very transaction.
   */
  db: Db;
  params: ParamsOf<S>;
  query: QueryOf<S>;
  body: BodyOf<S>;
  principal: S["auth"] extends "none" ? ApiPrincipal | null : ApiPrincipal;
  /** Who acts, for audit: the principal's user (null for an API key) and organisation. */
  actor: Actor;
  logger: Logger;
}

export interface ImplementOptions {
  /**
   * Default true for POST: the handler runs inside a transaction that also stores the idempotent
   * response. Set false ONLY when the handler calls something that must not run in a transaction
   * (an outbound HTTP call, a model that opens its own): the response is then stored after the
   * handler returns, so a crash in between can let a retry after `staleAfterMs` execute again.
   * A function decides per request from the parsed body (e.g. a wallet payment in the transaction,
   * an e-Pay one, which calls the gateway, outside it).
   */
  transaction?: boolean | ((body: unknown) => boolean);
  /**
   * A model's field names → the API's (e.g. `{ basePrice: "base_price_fen" }`). Unmapped names are
   * turned into snake_case segment by segment (`lines.0.skuId` → `lines.0.sku_id`). A function
   * decides per name (e.g. from what the body sent: `lines.1.sku` → `lines.1.sku_code`), falling
   * back to snake_case when it returns undefined.
   */
  fieldNames?: Record<string, string> | FieldNamer;
}

export interface ApiHandler {
  readonly spec: EndpointSpec;
  run(args: LoaderFunctionArgs | ActionFunctionArgs): Promise<Response>;
}

/** Bind an endpoint spec to the function that does its work. */
export function implement<const S extends EndpointSpec>(
  spec: S,
  handler: (ctx: ApiContext<S>) => Promise<ResponseOf<S>>,
  options: ImplementOptions = {},
): ApiHandler {
  return { spec, run: (args) => runEndpoint(spec, handler, options, args) };
}

/** A route module's `loader` and `action`, dispatching by method; anything else is 405. */
export function apiRoute(...handlers: ApiHandler[]): {
  loader: (args: LoaderFunctionArgs) => Promise<Response>;
  action: (args: ActionFunctionArgs) => Promise<Response>;
} {
  const byMethod = new Map(handlers.map((h) => [h.spec.method, h]));
  if (byMethod.size !== handlers.length) throw new Error("apiRoute: one handler per method");
  const allow = [...byMethod.keys()].join(", ");
  const dispatch = (args: LoaderFunctionArgs | ActionFunctionArgs) => {
    const method = args.request.method === "HEAD" ? "GET" : args.request.method;
    const handler = byMethod.get(method as EndpointSpec["method"]);
    if (!handler) {
      return Promise.resolve(
        errorResponse(new ApiError(405, "method_not_allowed", `Use ${allow} on this path`, {}, { Allow: allow })),
      );
    }
    return handler.run(args);
  };
  return { loader: dispatch, action: dispatch };
}

// ---------------------------------------------------------------------------------------------
// Responses

const BASE_HEADERS = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" } as const;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...BASE_HEADERS, ...headers },
  });
}

/** No `X-Request-Id` here: the server sets it on every response, once (app.server.ts). */
export function errorResponse(error: ApiError): Response {
  // The last guard of the field rule: whatever built this error, a value is a code.
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(error.fields)) fields[name] = CODE_SHAPE.test(value) ? value : codeOfSentence(error.code, value);
  return json(error.status, { error: { code: error.code, message: error.message, fields, ...error.extra } }, error.headers);
}

function snake(segment: string): string {
  return segment.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A model's field name → the API's; returns undefined to fall back to the static map and snake_case. */
export type FieldNamer = (name: string, body: unknown) => string | undefined;

/** Model field names → API field names (see ImplementOptions.fieldNames). */
export function apiFieldName(name: string, map: Record<string, string> = {}): string {
  if (map[name]) return map[name];
  return name
    .split(".")
    .map((segment) => map[segment] ?? snake(segment))
    .join(".");
}

// ---------------------------------------------------------------------------------------------
// Field errors: `error.fields` maps the field as the client sent it (`lines.1.sku_code`) to a
// stable code a program can branch on; the words for a person are in `error.message`.

const CODE_SHAPE = /^[a-z][a-z0-9_]{0,63}$/;

/** The code of a zod issue (its message goes to the error's message). */
function zodIssueCode(issue: z.ZodIssue): string {
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      return issue.received === "undefined" || (issue.received === "null" && issue.expected !== "null") ? "required" : "invalid_type";
    case z.ZodIssueCode.too_small:
      return "too_small";
    case z.ZodIssueCode.too_big:
      return "too_big";
    case z.ZodIssueCode.invalid_string:
    case z.ZodIssueCode.invalid_date:
      return "invalid_format";
    case z.ZodIssueCode.invalid_enum_value:
    case z.ZodIssueCode.invalid_literal:
    case z.ZodIssueCode.invalid_union_discriminator:
      return "invalid_value";
    case z.ZodIssueCode.not_multiple_of:
    case z.ZodIssueCode.not_finite:
      return "invalid";
    case z.ZodIssueCode.custom: {
      const code = (issue.params as { code?: unknown } | undefined)?.code;
      return typeof code === "string" && CODE_SHAPE.test(code) ? code : "invalid";
    }
    default:
      return "invalid";
  }
}

/** A field problem a model wrote as words (older models do): the closest code. */
function codeOfSentence(errorCode: string, problem: string): string {
  if (errorCode === "insufficient_funds" || errorCode === "conflict" || errorCode === "forbidden") return errorCode;
  if (errorCode === "not_found") return "unknown";
  const p = problem.trim().toLowerCase();
  if (/^unknown\b/.test(p) || /\bnot found\b/.test(p)) return "unknown";
  if (/^required\b|\bis required\b|^missing\b/.test(p)) return "required";
  return "invalid";
}

export interface FieldProblems {
  /** Field → code. */
  fields: Record<string, string>;
  /** `field: words` for a person, in field order. */
  details: string[];
}

/** One field error per path (the first), `a.0.b` style, as codes; the words go in `details`. */
export function zodProblems(error: z.ZodError, prefix = ""): FieldProblems {
  const fields: Record<string, string> = {};
  const details: string[] = [];
  for (const issue of error.issues) {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      // Name each unknown field itself: a typo (`price_fen`) must point at the typo.
      for (const key of issue.keys) {
        const name = path ? `${path}.${key}` : key;
        if (name in fields) continue;
        fields[name] = "unknown";
        details.push(`${name}: not a field of this body`);
      }
      continue;
    }
    const name = path || "body";
    if (name in fields) continue;
    fields[name] = zodIssueCode(issue);
    details.push(`${name}: ${issue.message}`);
  }
  return { fields, details };
}

function describe(details: readonly string[]): string {
  return details.slice(0, 10).join("; ");
}

/**
 * A domain refusal's fields as the API answers them: names as the client sent them, values as
 * codes. A state refusal's fields are `invalid_state` whatever the model put there (often the
 * current status): the status is in the message. Words that were in a value move to the message.
 */
export function apiFieldProblems(
  errorCode: string,
  raw: Record<string, string>,
  namer: FieldNamer | undefined,
  map: Record<string, string> | undefined,
  body: unknown = undefined,
  codes: Record<string, string> = {},
): FieldProblems {
  const fields: Record<string, string> = {};
  const details: string[] = [];
  for (const [modelName, problem] of Object.entries(raw)) {
    const name = namer?.(modelName, body) ?? apiFieldName(modelName, map);
    const given = codes[modelName];
    const code =
      errorCode === "invalid_state"
        ? "invalid_state"
        : given && CODE_SHAPE.test(given)
          ? given
          : CODE_SHAPE.test(problem)
            ? problem
            : codeOfSentence(errorCode, problem);
    fields[name] = code;
    if (code !== problem) details.push(`${name}: ${problem}`);
  }
  return { fields, details };
}

/** Postgres errors that only bad input can cause: answered 4xx, logged so the model can learn. */
const PG_INPUT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  "22P02": { status: 422, code: "validation", message: "A value has the wrong format" },
  "22003": { status: 422, code: "validation", message: "A number is out of range" },
  "22001": { status: 422, code: "validation", message: "A value is too long" },
  "23514": { status: 422, code: "validation", message: "A value breaks a rule of the data" },
  "23505": { status: 409, code: "conflict", message: "This would duplicate an existing record" },
  "40001": { status: 409, code: "conflict", message: "The data changed at the same time: retry the request" },
  "40P01": { status: 409, code: "conflict", message: "The data changed at the same time: retry the request" },
};

function toApiError(error: unknown, options: ImplementOptions, logger: Logger, requestId: string, body: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isDomainError(error)) {
    const namer = typeof options.fieldNames === "function" ? options.fieldNames : undefined;
    const map = typeof options.fieldNames === "function" ? undefined : options.fieldNames;
    const { fields, details } = apiFieldProblems(error.code, error.fields, namer, map, body, error.fieldCodes);
    // Words a model put in a field value (and not already in its message) stay readable.
    const missing = details.filter((d) => !error.message.includes(d.slice(d.indexOf(": ") + 2)));
    const message = missing.length ? `${error.message} (${describe(missing)})` : error.message;
    return new ApiError(error.status, error.code, message, fields, error.code === "rate_limited" ? { "Retry-After": "60" } : {});
  }
  if (isPoolBusy(error)) {
    logger.warn({ err: error }, "no database connection free within the pool's wait; client told to retry");
    return new ApiError(503, "busy", "The service is busy: retry this request in a moment (the same Idempotency-Key is safe)", {}, { "Retry-After": "1" });
  }
  const pgCode = (error as { code?: unknown } | null)?.code;
  if (typeof pgCode === "string" && PG_INPUT_ERRORS[pgCode]) {
    const known = PG_INPUT_ERRORS[pgCode];
    // A deadlock or serialization failure is a lock-order bug to find, not bad input.
    const contention = pgCode === "40001" || pgCode === "40P01";
    logger.warn({ err: error, pgCode }, contention ? "transaction lost to a concurrent one (lock order?); client told to retry" : "database refused API input the model did not check");
    return new ApiError(known.status, known.code, known.message, {}, contention ? { "Retry-After": "1" } : {});
  }
  logger.error({ err: error }, "API handler failed");
  return new ApiError(500, "internal", `Something went wrong on our side; quote request id ${requestId}`);
}

// ---------------------------------------------------------------------------------------------
// Authentication

/** The principal for this request: null when no credentials; an ApiError when they are wrong. */
export async function authenticate(request: Request, db: Db): Promise<ApiPrincipal | null> {
  const header = request.headers.get("authorization");
  if (!header) return null;
  const match = /^Bearer[ \t]+(\S{1,256})[ \t]*$/i.exec(header);
  const challenge = { "WWW-Authenticate": `Bearer realm="rongtong-api", error="invalid_token"` };
  if (!match) throw new ApiError(401, "unauthenticated", "Authorization must be `Bearer <token or API key>`", { Authorization: "malformed" }, challenge);
  const credential = match[1];
  const principal = looksLikeApiKey(credential) ? await authenticateApiKey(db, credential, new Date()) : await authenticateApiToken(db, credential, new Date());
  if (!principal) throw new ApiError(401, "unauthenticated", "The token or API key is unknown, expired or revoked", { Authorization: "invalid" }, challenge);
  return principal;
}

function authorise(spec: EndpointSpec, principal: ApiPrincipal | null): void {
  if (!principal) {
    if (spec.auth === "none") return;
    throw new ApiError(401, "unauthenticated", "Send `Authorization: Bearer <token or API key>`", { Authorization: "required" }, {
      "WWW-Authenticate": `Bearer realm="rongtong-api"`,
    });
  }
  // An endpoint that does not exist for this kind of organisation answers like another tenant's id.
  if (spec.orgKinds && !spec.orgKinds.includes(principal.organization.kind)) throw new ApiError(404, "not_found", "Not found");
  // Who may do it: the one table the pages also use (app/domain/identity/permissions.ts).
  if (spec.action) {
    try {
      assertMay(principal.roles, spec.action, principal.organization.kind);
    } catch (error) {
      if (isDomainError(error) && error.code === "not_found") throw new ApiError(404, "not_found", "Not found");
      if (isDomainError(error) && error.code === "forbidden") throw new ApiError(403, "forbidden", error.message, error.fields);
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Input

/**
 * 413 before the body is read to its end: the rest of the upload is still on the socket, so the
 * connection must not be reused for another request (`Connection: close`).
 */
function tooLarge(): ApiError {
  return new ApiError(413, "payload_too_large", `The body is over ${API_LIMITS.bodyBytesMax} bytes`, { body: "too_big" }, { Connection: "close" });
}

async function readBody(request: Request): Promise<{ text: string }> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > API_LIMITS.bodyBytesMax) throw tooLarge();
  const text = await readBodyLimited(request.body, API_LIMITS.bodyBytesMax);
  if (text === null) throw tooLarge();
  return { text };
}

/** The raw JSON of the body: `{}` when empty; 415 when not JSON; 400 when malformed. */
async function readJson(request: Request): Promise<unknown> {
  const { text } = await readBody(request);
  if (text.trim() === "") return {};
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new ApiError(415, "unsupported_media_type", "Send the body as application/json", { "Content-Type": "invalid_value" });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, "malformed_json", `The body is not valid JSON: ${(error as Error).message.slice(0, 200)}`, { body: "malformed" });
  }
}

function queryObject(url: URL): Record<string, string> {
  if (url.search.length > API_LIMITS.queryChars) {
    throw new ApiError(400, "bad_request", `The query string is over ${API_LIMITS.queryChars} characters`, { query: "too_big" });
  }
  const out: Record<string, string> = {};
  for (const [name, value] of url.searchParams) if (!(name in out)) out[name] = value;
  return out;
}

function parseWith<T extends z.ZodTypeAny>(schema: T | undefined, raw: unknown, onError: (problems: FieldProblems) => ApiError): z.output<T> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(raw);
  if (!result.success) throw onError(zodProblems(result.error));
  return result.data as z.output<T>;
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/**
 * Outside production, a response that breaks its own schema is a bug worth failing loudly for
 * (the OpenAPI document would be lying); in production it is logged and sent anyway.
 */
function checkResponse(spec: EndpointSpec, body: unknown, logger: Logger): void {
  const result = spec.response.safeParse(body);
  if (result.success) return;
  logger.error({ operation: spec.operationId, issues: result.error.issues.slice(0, 10) }, "API response does not match its schema");
  if (process.env.NODE_ENV !== "production") {
    throw new Error(`response of ${spec.operationId} does not match its schema: ${describe(zodProblems(result.error).details)}`);
  }
}

async function runEndpoint<S extends EndpointSpec>(
  spec: S,
  handler: (ctx: ApiContext<S>) => Promise<ResponseOf<S>>,
  options: ImplementOptions,
  args: LoaderFunctionArgs | ActionFunctionArgs,
): Promise<Response> {
  const { request, context } = args;
  const requestId = context.requestId;
  let logger = context.logger.child({ api: spec.operationId });
  const db = context.db;
  let claim: { scope: string; key: string; lockToken: string } | null = null;
  /** The body as sent, to name a model's fields as the client did. */
  let sentBody: unknown;
  try {
    const principal = await authenticate(request, db).catch((error: unknown) => {
      // A public endpoint ignores stale credentials rather than refusing the anonymous call.
      if (spec.auth === "none" && error instanceof ApiError) return null;
      throw error;
    });
    authorise(spec, principal);
    if (principal) logger = logger.child({ org: principal.organization.id, via: principal.via, apiKeyId: principal.apiKeyId ?? undefined });

    const idempotent = spec.method === "POST" && (spec.idempotency ?? "required") === "required";
    const idempotencyKey = request.headers.get("idempotency-key");
    if (idempotent) {
      if (!idempotencyKey) {
        throw new ApiError(400, "bad_request", "Every POST needs an Idempotency-Key header (e.g. a UUID)", { "Idempotency-Key": "required" });
      }
      if (!IDEMPOTENCY.keyPattern.test(idempotencyKey)) {
        throw new ApiError(400, "bad_request", "Idempotency-Key must be 1–255 visible ASCII characters", { "Idempotency-Key": "malformed" });
      }
    }

    const url = new URL(request.url);
    const params = parseWith(spec.params, args.params, () => new ApiError(404, "not_found", "Not found"));
    const query = parseWith(spec.query, queryObject(url), (p) => new ApiError(422, "validation", `Bad query: ${describe(p.details)}`, p.fields));
    const rawBody = spec.method === "POST" ? await readJson(request) : undefined;
    sentBody = rawBody;
    const body = parseWith(spec.body, rawBody, (p) => new ApiError(422, "validation", `Bad body: ${describe(p.details)}`, p.fields));

    const actor: Actor = {
      userId: principal?.userId ?? null,
      organizationId: principal?.organization.id ?? null,
      ip: context.ip,
      requestId,
    };
    const status = spec.successStatus ?? 200;
    const ctx = (trx: Db): ApiContext<S> =>
      ({
        request,
        context,
        db: trx,
        params: params ?? {},
        query: query ?? {},
        body,
        principal,
        actor,
        logger,
      }) as ApiContext<S>;

    if (!idempotent || !idempotencyKey) {
      const result = await handler(ctx(db));
      checkResponse(spec, result, logger);
      return json(status, result);
    }

    const scope = principal ? principal.organization.id : `public:${spec.operationId}`;
    const path = url.pathname + url.search;
    // Read before the claim: the work's age as measured here is never less than its claim's age.
    const claimedAtMs = Date.now();
    const outcome = await claimIdempotencyKey(db, {
      scope,
      key: idempotencyKey,
      requestHash: requestHash(spec.method, path, rawBody),
      method: spec.method,
      path,
    });
    if (outcome.kind === "replay") {
      return json(outcome.status, outcome.body, { "Idempotent-Replayed": "true" });
    }
    if (outcome.kind === "mismatch") {
      throw new ApiError(422, "idempotency_conflict", "This Idempotency-Key was used with another request: use a new key for a new request", {
        "Idempotency-Key": "reused",
      });
    }
    if (outcome.kind === "in_progress") {
      const seconds = outcome.retryAfterSeconds;
      throw new ApiError(
        409,
        "conflict",
        `A request with this Idempotency-Key is in progress: retry in ${seconds} s with the same key and body. ` +
          `If it finished you get its response; if it died, its key is taken over ${IDEMPOTENCY_TAKEOVER_SECONDS} s after it ` +
          "started and your retry executes, once",
        { "Idempotency-Key": "in_progress" },
        { "Retry-After": String(seconds) },
      );
    }
    claim = { scope, key: idempotencyKey, lockToken: outcome.lockToken };
    const held = claim;

    let result: ResponseOf<S>;
    const transactional = typeof options.transaction === "function" ? options.transaction(body) : options.transaction !== false;
    if (!transactional) {
      result = await handler(ctx(db));
      checkResponse(spec, result, logger);
      if (!(await completeIdempotencyKey(db, held, { status, body: result }))) logger.warn("idempotency claim lost after the work committed");
    } else {
      // Server mode: a live request is never superseded — it completes before its claim can be
      // taken over, or rolls back by itself (IDEMPOTENCY.workBudgetMs; embedded mode cannot be overtaken).
      const bounded = context.dbMode === "server";
      result = await db
        .transaction()
        .execute(async (trx) => {
          if (bounded) await boundWorkTransaction(trx);
          const value = await handler(ctx(trx));
          checkResponse(spec, value, logger);
          if (bounded && Date.now() - claimedAtMs > IDEMPOTENCY.workBudgetMs) throw workTimedOut();
          if (!(await completeIdempotencyKey(trx, held, { status, body: value }))) {
            throw new ApiError(409, "conflict", "This request was superseded by a retry with the same Idempotency-Key", { "Idempotency-Key": "superseded" });
          }
          return value;
        })
        .catch((error: unknown) => {
          // 57014: a statement ran into IDEMPOTENCY.workStatementTimeoutMs.
          throw bounded && (error as { code?: unknown } | null)?.code === "57014" ? workTimedOut() : error;
        });
    }
    claim = null;
    return json(status, result);
  } catch (error) {
    const apiError = toApiError(error, options, logger, requestId, sentBody);
    if (claim) {
      // Nothing was written (the transaction rolled back): free the key for a retry.
      await releaseIdempotencyKey(db, claim).catch((e: unknown) => logger.error({ err: e }, "could not release an idempotency key"));
    }
    if (apiError.status >= 500) logger.error({ status: apiError.status }, "API request failed");
    return errorResponse(apiError);
  }
}

/** The work ran over its budget or statement timeout and was rolled back; the key is released for a retry. */
function workTimedOut(): ApiError {
  return new ApiError(
    409,
    "conflict",
    `The request ran over its time (${IDEMPOTENCY.workBudgetMs / 1000} s, or ${IDEMPOTENCY.workStatementTimeoutMs / 1000} s for one ` +
      "database statement) and was rolled back: nothing was written; retry with the same Idempotency-Key",
    { "Idempotency-Key": "timed_out" },
    { "Retry-After": "1" },
  );
}

/** For a catch-all route: any other /api/v1 path is a JSON 404, not the HTML page. */
export function apiNotFound(args: LoaderFunctionArgs | ActionFunctionArgs): Response {
  return errorResponse(new ApiError(404, "not_found", `No such endpoint: ${args.request.method} ${new URL(args.request.url).pathname}`));
}
