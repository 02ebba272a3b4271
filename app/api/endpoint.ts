import type { z, ZodTypeAny } from "zod";
import type { OrganizationKind } from "../../db/schema";
import type { ActionName } from "../domain/identity";

/**
 * An /api/v1 endpoint as data: method, path, who may call it, and the zod schemas of its path
 * parameters, query, body and 2xx response. The same object drives the request handling
 * (handler.server.ts: parse, authorise, idempotency, errors) and the OpenAPI document
 * (openapi.server.ts), so the document cannot drift from what the code accepts.
 *
 * Shared by the server and the OpenAPI generator only; nothing here touches the database.
 */

export type ApiMethod = "GET" | "POST";

export interface EndpointSpec {
  method: ApiMethod;
  /** OpenAPI path template under /api/v1, e.g. `/api/v1/orders/{id}`; `{name}` = Remix `$name`. */
  path: `/api/v1/${string}`;
  /** Unique, camelCase: the OpenAPI operationId. */
  operationId: string;
  summary: string;
  description?: string;
  /** OpenAPI tags (groups in the rendered document). */
  tags: readonly string[];
  /** `required`: a bearer token or API key, else 401. `none`: public (principal may still be set). */
  auth: "required" | "none";
  /** Only these kinds of organisation see this endpoint; any other gets 404, like another tenant's id. */
  orgKinds?: readonly OrganizationKind[];
  /**
   * The action in the permission table (app/domain/identity/permissions.ts) this endpoint performs: a
   * kind of organisation the action is not for gets 404, a member without one of its roles 403.
   * Every state-changing endpoint names one (the role matrix test checks it).
   */
  action?: ActionName;
  /** Path parameters; a value the schema refuses is a 404 (the path names nothing). */
  params?: z.AnyZodObject;
  /** Query string (first value of each name); refused → 422 naming the parameter. */
  query?: z.AnyZodObject;
  /** JSON body; refused → 422 naming each field by its path (`lines.0.quantity`). */
  body?: ZodTypeAny;
  /** The 2xx body. Checked against what the handler returns outside production. */
  response: ZodTypeAny;
  /** Default 200. */
  successStatus?: 200 | 201;
  /** POST default `required` (400 without an `Idempotency-Key` header); `none` for e.g. login. */
  idempotency?: "required" | "none";
  /** Extra error statuses worth listing in the document (401/403/404/422/… are added by default). */
  errors?: readonly number[];
}

const PARAM = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/** The `{name}`s of a path template, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(PARAM)].map((m) => m[1]);
}

/**
 * Declare an endpoint. Checks at load time that the path's `{params}` and the params schema agree,
 * so a typo fails the first test that imports the module rather than a caller in production.
 */
export function defineEndpoint<const S extends EndpointSpec>(spec: S): S {
  const inPath = pathParams(spec.path).sort();
  const inSchema = Object.keys(spec.params?.shape ?? {}).sort();
  if (inPath.join(",") !== inSchema.join(",")) {
    throw new Error(`endpoint ${spec.operationId}: path params {${inPath.join(",")}} differ from the params schema {${inSchema.join(",")}}`);
  }
  if (spec.method === "GET" && spec.body) throw new Error(`endpoint ${spec.operationId}: a GET has no body`);
  return spec;
}

/** What a handler receives as path params, query and body: the schemas' outputs. */
export type ParamsOf<S extends EndpointSpec> = S["params"] extends z.AnyZodObject ? z.output<S["params"]> : Record<string, never>;
export type QueryOf<S extends EndpointSpec> = S["query"] extends z.AnyZodObject ? z.output<S["query"]> : Record<string, never>;
export type BodyOf<S extends EndpointSpec> = S["body"] extends ZodTypeAny ? z.output<S["body"]> : undefined;
/** What a handler returns: the response schema's input (plain JSON values). */
export type ResponseOf<S extends EndpointSpec> = z.input<S["response"]>;
