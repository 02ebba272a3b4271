import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemoData } from "../../app/seed/demo.server";
import { createApiKey, revokeApiKey } from "../../app/domain/identity/api-keys.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";

const PASSWORD = "demo1234";

describe("API authentication", () => {
  let t: TestDatabase;
  let server: TestServer;
  let coreId: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: PASSWORD });
    coreId = (await t.db.selectFrom("organizations").select("id").where("kind", "=", "core_enterprise").executeTakeFirstOrThrow()).id;
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("logs in with email and password and acts as the user's only organisation", async () => {
    const anon = new ApiClient(server.url);
    const res = await anon.request<{ token: string; token_type: string; expires_at: string; organisation: { id: string; name: string; kind: string } }>(
      "POST",
      "/api/v1/auth/login",
      { body: { email: "core@demo.test", password: PASSWORD } },
    );
    expect(res.status).toBe(200);
    expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.body.token_type).toBe("Bearer");
    expect(res.body.organisation).toEqual({ id: coreId, name: "华通电器", kind: "core_enterprise" });
    const ttl = Date.parse(res.body.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(11 * 3600_000);
    expect(ttl).toBeLessThanOrEqual(12 * 3600_000);
    // Stored hashed, and no web session left behind by the password check.
    const stored = await t.db.selectFrom("api_tokens").select("token_hash").execute();
    expect(stored.some((r) => r.token_hash === res.body.token)).toBe(false);
    const me = await new ApiClient(server.url, res.body.token).get<{ via: string; organisation: { id: string }; roles: string[] }>("/api/v1/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ via: "token", organisation: { id: coreId }, roles: ["owner"] });
  });

  it("refuses a wrong password with 401 and the same message as an unknown email", async () => {
    const anon = new ApiClient(server.url);
    const wrong = expectError(await anon.request("POST", "/api/v1/auth/login", { body: { email: "core@demo.test", password: "nope" } }), 401, "unauthenticated");
    const unknown = expectError(await anon.request("POST", "/api/v1/auth/login", { body: { email: "nobody@demo.test", password: "nope" } }), 401, "unauthenticated");
    expect(wrong.message).toBe(unknown.message);
  });

  it("throttles repeated failures like the web login (429 with Retry-After), before checking the password", async () => {
    const org = await createOrg(t.db, { kind: "dealer" });
    const user = await createUser(t.db, { memberships: [[org.id, "owner"]] });
    const anon = new ApiClient(server.url);
    for (let i = 0; i < 5; i++) {
      expectError(await anon.request("POST", "/api/v1/auth/login", { body: { email: user.email, password: `wrong-${i}` } }), 401);
    }
    const throttled = await anon.request("POST", "/api/v1/auth/login", { body: { email: user.email, password: user.password } });
    expectError(throttled, 429, "rate_limited");
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await t.db.selectFrom("api_tokens").select("token_hash").where("user_id", "=", user.id).execute()).toEqual([]);
  });

  it("asks a user of several organisations to choose one, listing them", async () => {
    const anon = new ApiClient(server.url);
    const error = expectError(await anon.request("POST", "/api/v1/auth/login", { body: { email: "dealer@demo.test", password: PASSWORD } }), 422, "validation");
    expect(error.fields.organisation).toBe("required");
    expect(error.choices?.map((c) => c.name).sort()).toEqual(["宁波鑫达电器销售有限公司", "杭州鑫达商贸有限公司"]);
    const chosen = error.choices!.find((c) => c.name === "宁波鑫达电器销售有限公司")!;
    const client = await apiLogin(server.url, "dealer@demo.test", PASSWORD, chosen.id);
    const me = await client.get<{ organisation: { id: string }; roles: string[] }>("/api/v1/me");
    expect(me.body.organisation.id).toBe(chosen.id);
    expect(me.body.roles).toEqual(["purchaser"]);
    const other = expectError(
      await anon.request("POST", "/api/v1/auth/login", { body: { email: "dealer@demo.test", password: PASSWORD, organisation: coreId } }),
      422,
      "validation",
    );
    expect(other.fields.organisation).toBe("not_a_member");
  });

  it("answers 401 without credentials and with a made-up token", async () => {
    const anon = new ApiClient(server.url);
    expectError(await anon.get("/api/v1/me"), 401, "unauthenticated");
    expectError(await new ApiClient(server.url, "x".repeat(43)).get("/api/v1/me"), 401, "unauthenticated");
    expectError(await anon.get("/api/v1/me", { Authorization: "Basic abc" }), 401, "unauthenticated");
  });

  it("accepts an organisation's API key until it is revoked", async () => {
    const { key, secret } = await createApiKey(t.db, SYSTEM_ACTOR, coreId, { name: "ERP", roles: ["sales"] });
    expect(secret).toMatch(/^rt_live_[a-z0-9]{10}_[A-Za-z0-9_-]{43}$/);
    const client = new ApiClient(server.url, secret);
    const me = await client.get<{ via: string; user_id: string | null; api_key_id: string; roles: string[] }>("/api/v1/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ via: "api_key", user_id: null, api_key_id: key.id, roles: ["sales"] });
    // A key with the right prefix but another secret is not that key.
    expectError(await new ApiClient(server.url, `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`).get("/api/v1/me"), 401);
    await revokeApiKey(t.db, SYSTEM_ACTOR, coreId, key.id);
    expectError(await client.get("/api/v1/me"), 401, "unauthenticated");
  });

  it("answers unknown /api/v1 paths with a JSON 404", async () => {
    expectError(await new ApiClient(server.url).get("/api/v1/nothing/here"), 404, "not_found");
  });
});
