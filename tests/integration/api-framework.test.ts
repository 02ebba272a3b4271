import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestHash } from "../../app/api/idempotency.server";
import { createApiKey } from "../../app/domain/identity/api-keys.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { seedDemoData } from "../../app/seed/demo.server";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";

/**
 * The /api/v1 machinery, through the real Express + Remix stack: idempotency, the transport
 * refusals (415/400/413/405), body validation naming fields with no write, and the OpenAPI document.
 */
describe("API framework", () => {
  let t: TestDatabase;
  let server: TestServer;
  let core: ApiClient;
  let coreId: string;

  const newSku = (code: string) => ({
    code,
    name: `测试 ${code}`,
    unit: "台",
    pack_size: 1,
    moq: 1,
    base_price_fen: 199_900,
    tax_rate_bps: 1300,
    stock_on_hand: 10,
  });
  const skuCount = async (code?: string) => {
    let q = t.db.selectFrom("skus").select((eb) => eb.fn.countAll<number>().as("n")).where("core_enterprise_id", "=", coreId);
    if (code) q = q.where("code", "=", code);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: "demo1234" });
    coreId = (await t.db.selectFrom("organizations").select("id").where("kind", "=", "core_enterprise").executeTakeFirstOrThrow()).id;
    server = await startTestServer(t.db);
    core = await apiLogin(server.url, "core@demo.test", "demo1234");
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  describe("idempotency", () => {
    it("replays the stored response for the same key and body, executing once", async () => {
      const key = randomUUID();
      const first = await core.post<{ id: string }>("/api/v1/skus", newSku("IDEM-REPLAY-1"), { key });
      expect(first.status).toBe(201);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      // Same body with its keys in another order: the same request.
      const reordered = Object.fromEntries(Object.entries(newSku("IDEM-REPLAY-1")).reverse());
      const second = await core.post<{ id: string }>("/api/v1/skus", reordered, { key });
      expect(second.status).toBe(201);
      expect(second.headers.get("idempotent-replayed")).toBe("true");
      expect(second.body).toEqual(first.body);
      expect(await skuCount("IDEM-REPLAY-1")).toBe(1);
    });

    it("refuses the same key with another body (422 idempotency_conflict) and writes nothing", async () => {
      const key = randomUUID();
      expect((await core.post("/api/v1/skus", newSku("IDEM-CONFLICT-1"), { key })).status).toBe(201);
      const error = expectError(await core.post("/api/v1/skus", newSku("IDEM-CONFLICT-2"), { key }), 422, "idempotency_conflict");
      expect(error.fields["Idempotency-Key"]).toBeDefined();
      expect(await skuCount("IDEM-CONFLICT-2")).toBe(0);
    });

    it("scopes keys per organisation: another organisation's same key is its own request", async () => {
      const key = randomUUID();
      expect((await core.post("/api/v1/skus", newSku("IDEM-SCOPE-1"), { key })).status).toBe(201);
      const dealer = await apiLogin(server.url, "dealer@demo.test", "demo1234", (await orgId("杭州鑫达商贸有限公司")));
      // The dealer cannot create SKUs (404: the catalogue is not a dealer's), and is not answered from core's record.
      expectError(await dealer.post("/api/v1/skus", newSku("IDEM-SCOPE-1"), { key }), 404, "not_found");
    });

    it("lets concurrent first requests with one key execute once: the others get 409 or the replay", async () => {
      const key = randomUUID();
      const body = newSku("IDEM-RACE-1");
      const answers = await Promise.all(Array.from({ length: 6 }, () => core.post<{ id: string }>("/api/v1/skus", body, { key })));
      const ok = answers.filter((a) => a.status === 201);
      const busy = answers.filter((a) => a.status === 409);
      expect(ok.length + busy.length).toBe(answers.length);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      for (const a of ok) expect(a.body.id).toBe(ok[0].body.id);
      for (const a of busy) {
        expect(expectError(a, 409, "conflict").message).toMatch(/in progress/);
        expect(a.headers.get("retry-after")).toBe("1");
      }
      expect(await skuCount("IDEM-RACE-1")).toBe(1);
    });

    it("answers 409 while a request with the key is in progress, and takes over one that died", async () => {
      const key = randomUUID();
      const body = newSku("IDEM-INFLIGHT-1");
      await t.db
        .insertInto("idempotency_keys")
        .values({
          scope: coreId,
          key,
          request_hash: requestHash("POST", "/api/v1/skus", body),
          method: "POST",
          path: "/api/v1/skus",
          status: "in_progress",
          lock_token: randomUUID(),
          locked_at: sql<Date>`now()`,
          expires_at: sql<Date>`now() + interval '1 day'`,
        })
        .execute();
      expectError(await core.post("/api/v1/skus", body, { key }), 409, "conflict");
      expect(await skuCount("IDEM-INFLIGHT-1")).toBe(0);
      // The first request's process died a while ago: its claim is stale and the retry executes.
      await t.db.updateTable("idempotency_keys").set({ locked_at: sql<Date>`now() - interval '5 minutes'` }).where("key", "=", key).execute();
      const retried = await core.post("/api/v1/skus", body, { key });
      expect(retried.status).toBe(201);
      expect(await skuCount("IDEM-INFLIGHT-1")).toBe(1);
      const row = await t.db.selectFrom("idempotency_keys").select(["status", "response_status"]).where("key", "=", key).executeTakeFirstOrThrow();
      expect(row).toEqual({ status: "completed", response_status: 201 });
    });

    it("treats a record older than 24 h as absent", async () => {
      const key = randomUUID();
      expect((await core.post("/api/v1/skus", newSku("IDEM-EXPIRE-1"), { key })).status).toBe(201);
      await t.db.updateTable("idempotency_keys").set({ expires_at: sql<Date>`now() - interval '1 second'` }).where("key", "=", key).execute();
      // A new request under the old key executes (and is refused by the catalogue on its own terms).
      expectError(await core.post("/api/v1/skus", newSku("IDEM-EXPIRE-1"), { key }), 409, "conflict");
      expect((await core.post("/api/v1/skus", newSku("IDEM-EXPIRE-2"), { key })).status).toBe(201);
    });

    it("does not store errors: after a refusal the same key may be retried and executes", async () => {
      const key = randomUUID();
      const bad = { ...newSku("IDEM-ERR-1"), moq: 3, pack_size: 2 };
      expectError(await core.post("/api/v1/skus", bad, { key }), 422, "validation");
      expect(await t.db.selectFrom("idempotency_keys").select("key").where("key", "=", key).executeTakeFirst()).toBeUndefined();
      expect((await core.post("/api/v1/skus", newSku("IDEM-ERR-1"), { key })).status).toBe(201);
    });

    it("requires an Idempotency-Key on every POST, naming the header", async () => {
      const error = expectError(await core.post("/api/v1/skus", newSku("IDEM-NOKEY-1"), { key: null }), 400, "bad_request");
      expect(error.fields["Idempotency-Key"]).toBe("required");
      expectError(await core.post("/api/v1/skus", newSku("IDEM-NOKEY-1"), { key: "bad key with spaces" }), 400, "bad_request");
      expect(await skuCount("IDEM-NOKEY-1")).toBe(0);
    });
  });

  describe("input refusals", () => {
    it("answers malformed JSON with 400, a non-JSON body with 415 and a body over 1 MiB with 413", async () => {
      const headers = { "Idempotency-Key": randomUUID(), "Content-Type": "application/json" };
      expectError(await core.request("POST", "/api/v1/skus", { rawBody: '{"code": "X",', headers }), 400, "malformed_json");
      expectError(
        await core.request("POST", "/api/v1/skus", { rawBody: "code=X", headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" } }),
        415,
        "unsupported_media_type",
      );
      const huge = JSON.stringify({ ...newSku("IDEM-HUGE-1"), spec: "x".repeat(1024 * 1024 + 10) });
      expectError(await core.request("POST", "/api/v1/skus", { rawBody: huge, headers }), 413, "payload_too_large");
      expect(await skuCount("IDEM-HUGE-1")).toBe(0);
    });

    it("names every bad field by its path and writes nothing", async () => {
      const before = await skuCount();
      const error = expectError(
        await core.post("/api/v1/skus", { ...newSku("BAD-1"), pack_size: "six", base_price_fen: 12.5, price_fen: 3 }),
        422,
        "validation",
      );
      expect(Object.keys(error.fields).sort()).toEqual(["base_price_fen", "pack_size", "price_fen"]);
      // Rules only the model knows are named with the API's field names too.
      const rules = expectError(await core.post("/api/v1/skus", { ...newSku("BAD-2"), tax_rate_bps: 1234, moq: 3, pack_size: 2 }), 422, "validation");
      expect(rules.fields).toMatchObject({ tax_rate_bps: "tax_rate", moq: "moq_whole_packs" });
      const lines = expectError(
        await core.post("/api/v1/price-quotes", { dealer_id: randomUUID(), lines: [{ sku_code: "HT-BC-93", quantity: 2 }, { sku_code: "HT-BC-93", quantity: -1 }] }),
        422,
        "validation",
      );
      expect(lines.fields["lines.1.quantity"]).toBeDefined();
      expect(await skuCount()).toBe(before);
    });

    it("answers a bad query parameter with 422 naming it, and an unsupported method with 405", async () => {
      const limit = expectError(await core.get("/api/v1/skus?limit=0"), 422, "validation");
      expect(limit.fields.limit).toBeDefined();
      const cursor = expectError(await core.get("/api/v1/orders?after=not-a-cursor"), 422, "validation");
      expect(cursor.fields.after).toBeDefined();
      const patch = await core.request("PATCH", "/api/v1/skus", { body: {}, headers: { "Idempotency-Key": randomUUID() } });
      expectError(patch, 405, "method_not_allowed");
      expect(patch.headers.get("allow")).toBe("GET, POST");
      expectError(await core.get("/api/v1/orders/00000000-0000-0000-0000-000000000000/confirm"), 405, "method_not_allowed");
    });

    it("refuses a role the endpoint does not allow with 403", async () => {
      const { secret } = await createApiKey(t.db, SYSTEM_ACTOR, coreId, { name: "read only", roles: ["viewer"] });
      const viewer = new ApiClient(server.url, secret);
      expect((await viewer.get("/api/v1/skus?limit=1")).status).toBe(200);
      expectError(await viewer.post("/api/v1/skus", newSku("ROLE-1")), 403, "forbidden");
      expect(await skuCount("ROLE-1")).toBe(0);
    });
  });

  describe("OpenAPI document", () => {
    it("is OpenAPI 3.1 JSON listing every endpoint with its security and Idempotency-Key", async () => {
      const res = await new ApiClient(server.url).get<{
        openapi: string;
        paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string; required: boolean }[]; security: unknown[] }>>;
        components: { schemas: Record<string, unknown> };
      }>("/api/v1/openapi.json");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      const doc = res.body;
      expect(doc.openapi).toBe("3.1.0");
      for (const [p, method] of [
        ["/api/v1/auth/login", "post"],
        ["/api/v1/skus", "get"],
        ["/api/v1/skus", "post"],
        ["/api/v1/skus/{id}", "post"],
        ["/api/v1/price-quotes", "post"],
        ["/api/v1/dealers", "get"],
        ["/api/v1/dealers/{id}", "post"],
        ["/api/v1/orders", "post"],
        ["/api/v1/orders/{id}", "get"],
        ["/api/v1/orders/{id}/confirm", "post"],
        ["/api/v1/orders/{id}/pay", "post"],
        ["/api/v1/orders/{id}/returns", "post"],
        ["/api/v1/payments/callback", "post"],
      ] as const) {
        expect(doc.paths[p]?.[method], `${method} ${p}`).toBeDefined();
      }
      const create = doc.paths["/api/v1/orders"].post;
      expect(create.parameters?.find((x) => x.name === "Idempotency-Key")).toMatchObject({ in: "header", required: true });
      expect(create.security.length).toBeGreaterThan(0);
      expect(doc.paths["/api/v1/auth/login"].post.security).toEqual([]);
      expect(doc.paths["/api/v1/auth/login"].post.parameters?.find((x) => x.name === "Idempotency-Key")).toBeUndefined();
      expect(doc.components.schemas.Error).toBeDefined();
    });

    it("documents every api.v1 route file (a route without a spec fails here)", async () => {
      const doc = (await new ApiClient(server.url).get<{ paths: Record<string, unknown> }>("/api/v1/openapi.json")).body;
      const routes = readdirSync(path.join(ROOT, "app", "routes")).filter((f) => f.startsWith("api.v1."));
      const undocumented: string[] = [];
      for (const file of routes) {
        const name = file.replace(/\.(tsx?|jsx?)$/, "");
        if (name === "api.v1.$" || name === "api.v1.openapi[.json]") continue;
        const apiPath =
          "/" +
          name
            .replace(/\[(.*?)\]/g, "$1")
            .split(".")
            .map((seg) => (seg.startsWith("$") ? `{${seg.slice(1)}}` : seg))
            .join("/");
        if (!(apiPath in doc.paths)) undocumented.push(`${file} → ${apiPath}`);
      }
      expect(undocumented).toEqual([]);
    });
  });

  async function orgId(name: string): Promise<string> {
    return (await t.db.selectFrom("organizations").select("id").where("name", "=", name).executeTakeFirstOrThrow()).id;
  }
});
