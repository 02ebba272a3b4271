import { randomUUID } from "node:crypto";
import { expect } from "vitest";

/** A JSON client for /api/v1: bearer credentials, Idempotency-Key on every POST unless told not to. */
export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export type ErrorBody = { error: { code: string; message: string; fields: Record<string, string>; choices?: { id: string; name: string }[] } };

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    public credential: string | null = null,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, init: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { Accept: "application/json", ...init.headers };
    if (this.credential && !("Authorization" in headers)) headers.Authorization = `Bearer ${this.credential}`;
    let body: string | undefined = init.rawBody;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["Content-Type"] ??= "application/json";
    }
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: "manual" });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new Error(`${method} ${path} → ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`);
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get<T = Record<string, unknown>>(path: string, headers: Record<string, string> = {}) {
    return this.request<T>("GET", path, { headers });
  }

  /** POST with a fresh Idempotency-Key unless one is given (pass `null` to send none). */
  post<T = Record<string, unknown>>(path: string, body: unknown, options: { key?: string | null; headers?: Record<string, string> } = {}) {
    const key = options.key === undefined ? randomUUID() : options.key;
    return this.request<T>("POST", path, { body, headers: { ...(key ? { "Idempotency-Key": key } : {}), ...options.headers } });
  }
}

/** Log in over the API and return a client carrying the token. */
export async function apiLogin(baseUrl: string, email: string, password: string, organisation?: string): Promise<ApiClient> {
  const client = new ApiClient(baseUrl);
  const res = await client.request<{ token: string }>("POST", "/api/v1/auth/login", { body: { email, password, ...(organisation ? { organisation } : {}) } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  client.credential = res.body.token;
  return client;
}

export function expectError(res: ApiAnswer<unknown>, status: number, code?: string): ErrorBody["error"] {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  const body = res.body as ErrorBody;
  expect(body.error).toBeDefined();
  expect(typeof body.error.message).toBe("string");
  expect(typeof body.error.fields).toBe("object");
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}
