import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, csrfToken, startTestServer, type TestServer } from "../support/web";
import { ApiClient, expectError } from "./api.fixtures";

/** The API keys settings page, driven like a browser without JavaScript. */
describe("API keys page", () => {
  let t: TestDatabase;
  let server: TestServer;
  const world = {} as { orgId: string; owner: string; viewer: string; otherOrgKeyId: string };

  beforeAll(async () => {
    t = await createTestDatabase();
    const org = await createOrg(t.db, { kind: "core_enterprise" });
    world.orgId = org.id;
    world.owner = (await createUser(t.db, { memberships: [[org.id, "owner"]] })).email;
    world.viewer = (await createUser(t.db, { memberships: [[org.id, "viewer"]] })).email;
    const other = await createOrg(t.db, { kind: "dealer" });
    const row = await t.db
      .insertInto("api_keys")
      .values({ organization_id: other.id, name: "theirs", prefix: "abcdefghij", secret_hash: "0".repeat(64), roles: ["admin"] })
      .returning("id")
      .executeTakeFirstOrThrow();
    world.otherOrgKeyId = row.id;
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function signedIn(email: string): Promise<Client> {
    const client = new Client(server.url);
    expect((await client.login(email, TEST_PASSWORD)).status).toBe(302);
    return client;
  }

  it("creates a key shown once, lists it by name and prefix, and revokes it", async () => {
    const owner = await signedIn(world.owner);
    const page = await owner.get("/settings/api-keys");
    expect(page.status).toBe(200);
    const csrf = csrfToken(page.body)!;
    const created = await owner.request("/settings/api-keys", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([
        ["csrf", csrf],
        ["intent", "create"],
        ["name", "金蝶 ERP"],
        ["roles", "sales"],
        ["roles", "viewer"],
      ]).toString(),
    });
    expect(created.status).toBe(200);
    const secret = /rt_live_[a-z0-9]{10}_[A-Za-z0-9_-]{43}/.exec(created.body)?.[0];
    expect(secret).toBeDefined();
    const prefix = secret!.split("_")[2];

    // Only the hash is stored; the list shows the prefix, never the secret.
    const stored = await t.db.selectFrom("api_keys").select(["secret_hash", "roles"]).where("prefix", "=", prefix).executeTakeFirstOrThrow();
    expect(stored.secret_hash).not.toContain(secret!.slice(20));
    expect([...stored.roles].sort()).toEqual(["sales", "viewer"]);
    const list = await owner.get("/settings/api-keys");
    expect(list.body).toContain("金蝶 ERP");
    expect(list.body).toContain(`rt_live_${prefix}_`);
    expect(list.body).not.toContain(secret!);

    const api = new ApiClient(server.url, secret!);
    expect((await api.get<{ roles: string[] }>("/api/v1/me")).body.roles.sort()).toEqual(["sales", "viewer"]);
    const afterUse = await owner.get("/settings/api-keys");
    expect(afterUse.body).not.toMatch(/从未使用|Never/);

    const keyId = (await t.db.selectFrom("api_keys").select("id").where("prefix", "=", prefix).executeTakeFirstOrThrow()).id;
    const revoked = await owner.post("/settings/api-keys", { csrf, intent: "revoke", keyId });
    expect(revoked.status).toBe(302);
    expectError(await api.get("/api/v1/me"), 401, "unauthenticated");
  });

  it("names the field when the name is missing, and creates nothing", async () => {
    const owner = await signedIn(world.owner);
    const csrf = await owner.csrfFrom("/settings/api-keys");
    const before = (await t.db.selectFrom("api_keys").select("id").execute()).length;
    const res = await owner.post("/settings/api-keys", { csrf, intent: "create", name: "  ", roles: "admin" });
    expect(res.status).toBe(422);
    expect(res.body).toContain('id="key-name-error"');
    expect((await t.db.selectFrom("api_keys").select("id").execute()).length).toBe(before);
  });

  it("is for owners and admins only, needs the CSRF token, and cannot revoke another organisation's key", async () => {
    const viewer = await signedIn(world.viewer);
    expect((await viewer.get("/settings/api-keys")).status).toBe(403);
    const owner = await signedIn(world.owner);
    expect((await owner.post("/settings/api-keys", { intent: "create", name: "x" })).status).toBe(403);
    const csrf = await owner.csrfFrom("/settings/api-keys");
    expect((await owner.post("/settings/api-keys", { csrf, intent: "revoke", keyId: world.otherOrgKeyId })).status).toBe(404);
    const theirs = await t.db.selectFrom("api_keys").select("revoked_at").where("id", "=", world.otherOrgKeyId).executeTakeFirstOrThrow();
    expect(theirs.revoked_at).toBeNull();
  });
});
