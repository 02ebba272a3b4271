import { ZodDefault, ZodOptional, type ZodTypeAny } from "zod";
import { zodToJsonSchema } from "zod-to-json-schema";
import { allEndpoints } from "./contracts";
import { pathParams, type EndpointSpec } from "./endpoint";
import { IDEMPOTENCY, IDEMPOTENCY_TAKEOVER_SECONDS } from "./idempotency.server";
import { errorBody } from "./schemas";
import type { OrganizationKind } from "../../db/schema";
import { ACTIONS } from "../domain/identity";

/**
 * The OpenAPI 3.1 document of /api/v1, generated from the same endpoint specs and zod schemas the
 * handlers parse with (contracts/), so it says what the code accepts.
 */

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: ZodTypeAny): JsonSchema {
  // Inline everything ($refStrategy none): a fragment must stand alone inside the document.
  const out = zodToJsonSchema(schema, { $refStrategy: "none", target: "jsonSchema7", errorMessages: false }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** A parameter's own schema: optionality is `required: false` on the parameter, not a schema union. */
function unwrapOptional(schema: ZodTypeAny): ZodTypeAny {
  let inner = schema;
  for (let depth = 0; depth < 5; depth++) {
    if (inner instanceof ZodOptional) inner = inner.unwrap() as ZodTypeAny;
    else if (inner instanceof ZodDefault) inner = inner.removeDefault() as ZodTypeAny;
    else break;
  }
  return inner;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad request: missing Idempotency-Key, malformed JSON, query string too long",
  401: "Missing, unknown, expired or revoked credentials",
  403: "The credentials lack a role this needs",
  404: "No such resource for this organisation (another organisation's ids are not found either)",
  405: "Method not allowed",
  409:
    "`invalid_state`: the resource is not in a state that allows this action now (e.g. shipping an order not yet confirmed); " +
    "checked before any field that only matters in the right state. `conflict`: the data changed at the same time (retry), " +
    "or, with `fields[\"Idempotency-Key\"]`: `in_progress` — a request with this key is still running or its process died; " +
    `retry with the same key and body after \`Retry-After\` seconds (at most ${IDEMPOTENCY_TAKEOVER_SECONDS}): you get its response, ` +
    `or, once the key is taken over (${IDEMPOTENCY_TAKEOVER_SECONDS} s after the first request started), your retry executes, once; ` +
    `\`timed_out\` — the work ran over ${IDEMPOTENCY.workBudgetMs / 1000} s (or one database statement over ` +
    `${IDEMPOTENCY.workStatementTimeoutMs / 1000} s) and was rolled back, retry; ` +
    "`superseded` — a retry took this key over, this request wrote nothing",
  413: "Body over 1 MiB",
  415: "Body is not application/json",
  422:
    "`validation`: `fields` names each field as you sent it (`lines.1.sku_code`, `after`) with a stable code " +
    "(`required`, `unknown`, `too_small`, `invalid_cursor`, …; see the Error schema), `message` says it in words; " +
    "or `idempotency_conflict`: the Idempotency-Key was used with another body",
  429: "Too many attempts",
  503: "`busy`: no database connection came free in time (the service is saturated); retry after `Retry-After` seconds — with the same Idempotency-Key for a POST, which is safe: nothing was written",
};

function errorStatuses(spec: EndpointSpec): number[] {
  const statuses = new Set<number>(spec.errors ?? []);
  if (spec.auth === "required") statuses.add(401);
  if (spec.action) statuses.add(403);
  if (spec.params || spec.orgKinds) statuses.add(404);
  if (spec.query || spec.body) statuses.add(422);
  if (spec.method === "POST") {
    statuses.add(400);
    statuses.add(413);
    statuses.add(415);
    if ((spec.idempotency ?? "required") === "required") {
      statuses.add(409);
      statuses.add(422);
    }
  }
  return [...statuses].sort((a, b) => a - b);
}

function describe(spec: EndpointSpec): string {
  const notes: string[] = [];
  if (spec.description) notes.push(spec.description);
  if (spec.orgKinds) notes.push(`Organisations: ${spec.orgKinds.join(", ")} (others get 404).`);
  if (spec.action) {
    const byKind = Object.entries(ACTIONS[spec.action]).filter(([kind, roles]) => roles && roles.length > 0 && (!spec.orgKinds || spec.orgKinds.includes(kind as OrganizationKind)));
    notes.push(`Roles: ${byKind.map(([kind, roles]) => (byKind.length > 1 ? `${kind}: any of ${roles!.join(", ")}` : `any of ${roles!.join(", ")}`)).join("; ")}.`);
  }
  return notes.join("\n\n");
}

function operation(spec: EndpointSpec): JsonSchema {
  const parameters: JsonSchema[] = [];
  for (const name of pathParams(spec.path)) {
    const shape = spec.params?.shape as Record<string, ZodTypeAny> | undefined;
    parameters.push({ name, in: "path", required: true, schema: shape?.[name] ? schemaOf(shape[name]) : { type: "string" } });
  }
  for (const [name, schema] of Object.entries((spec.query?.shape ?? {}) as Record<string, ZodTypeAny>)) {
    parameters.push({
      name,
      in: "query",
      required: !schema.isOptional(),
      ...(schema.description ? { description: schema.description } : {}),
      schema: schemaOf(unwrapOptional(schema)),
    });
  }
  const idempotent = spec.method === "POST" && (spec.idempotency ?? "required") === "required";
  if (idempotent) {
    parameters.push({
      name: "Idempotency-Key",
      in: "header",
      required: true,
      description:
        "1–255 visible ASCII characters, e.g. a UUID, scoped to your organisation and kept 24 h. Same key and body → the first " +
        "response again (header `Idempotent-Replayed: true`); same key, other body → 422 `idempotency_conflict`; while the first " +
        "is still running → 409 `conflict` (`fields[\"Idempotency-Key\"] = \"in_progress\"`) with `Retry-After`: 1 while it is young, then the " +
        `seconds until the key can be taken over. A request whose process died is taken over ${IDEMPOTENCY_TAKEOVER_SECONDS} s after it started: ` +
        "a retry with the same key and body then executes, once, so a retry loop that keeps the key and honours `Retry-After` " +
        "gets exactly one execution. Errors are not stored: nothing was written, the key may be retried.",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    });
  }
  const responses: JsonSchema = {
    [String(spec.successStatus ?? 200)]: {
      description: "Success",
      content: { "application/json": { schema: schemaOf(spec.response) } },
    },
  };
  for (const status of errorStatuses(spec)) responses[String(status)] = { $ref: `#/components/responses/Error${status}` };
  responses["500"] = { $ref: "#/components/responses/Error500" };
  responses["503"] = { $ref: "#/components/responses/Error503" };
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(describe(spec) ? { description: describe(spec) } : {}),
    tags: [...spec.tags],
    security: spec.auth === "required" ? [{ bearerToken: [] }, { apiKey: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(spec.body) } } } } : {}),
    responses,
  };
}

export function buildOpenApiDocument(options: { serverUrl?: string } = {}): JsonSchema {
  const endpoints = allEndpoints();
  const seen = new Set<string>();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of endpoints) {
    const id = `${spec.method} ${spec.path}`;
    if (seen.has(id)) throw new Error(`two endpoint specs for ${id}`);
    seen.add(id);
    if (seen.has(`op:${spec.operationId}`)) throw new Error(`operationId ${spec.operationId} is used twice`);
    seen.add(`op:${spec.operationId}`);
    paths[spec.path] ??= {};
    paths[spec.path][spec.method.toLowerCase()] = operation(spec);
  }
  const errorResponses: Record<string, JsonSchema> = {};
  for (const status of [...Object.keys(ERROR_DESCRIPTIONS).map(Number), 500]) {
    errorResponses[`Error${status}`] = {
      description: ERROR_DESCRIPTIONS[status] ?? "Unexpected error on our side (quote the X-Request-Id)",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Rongtong (融通) API",
      version: "1.0.0",
      description:
        "JSON over HTTPS for ERP integration. Authenticate with a bearer token from `POST /api/v1/auth/login` or an " +
        "organisation's API key (`rt_live_…`, made on the API keys settings page), both as `Authorization: Bearer …`. " +
        "Field names are snake_case; money is integer fen (`*_fen`); timestamps are ISO 8601 UTC. Lists are cursor pages: " +
        "`?limit=&after=` → `{ data, next_cursor }`. Every error is `{ \"error\": { \"code\", \"message\", \"fields\" } }`.",
    },
    servers: [{ url: options.serverUrl ?? "/" }],
    tags: [...new Set(endpoints.flatMap((e) => e.tags))].sort().map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: "http", scheme: "bearer", description: "Token from POST /api/v1/auth/login (12 h)" },
        apiKey: { type: "http", scheme: "bearer", bearerFormat: "rt_live_<prefix>_<secret>", description: "Organisation API key" },
      },
      schemas: { Error: schemaOf(errorBody) },
      responses: errorResponses,
    },
  };
}

let cached: { key: string; document: JsonSchema } | null = null;

/** Built once per process and server URL: the specs do not change while it runs. */
export function openApiDocument(serverUrl?: string): JsonSchema {
  const key = serverUrl ?? "";
  if (!cached || cached.key !== key) cached = { key, document: buildOpenApiDocument({ serverUrl }) };
  return cached.document;
}
