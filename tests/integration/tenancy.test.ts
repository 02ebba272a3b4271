import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, createWallet, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";

/**
 * Org A and org B are strangers. Alice belongs to A only; Carol belongs to A and C. Every way of
 * naming B's things from A's session must answer 404 and show none of B's data.
 */
describe("tenancy", () => {
  let t: TestDatabase;
  let server: TestServer;
  const world = {} as {
    a: { id: string; name: string; walletId: string; walletName: string };
    b: { id: string; name: string; walletId: string; walletName: string };
    c: { id: string; name: string; walletId: string; walletName: string };
    alice: { email: string };
    carol: { email: string };
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    for (const [key, kind] of [
      ["a", "core_enterprise"],
      ["b", "dealer"],
      ["c", "buyer"],
    ] as const) {
      const org = await createOrg(t.db, { kind });
      const wallet = await createWallet(t.db, org.id);
      world[key] = { id: org.id, name: org.name, walletId: wallet.id, walletName: `钱包 · ${org.name}` };
    }
    world.alice = await createUser(t.db, { memberships: [[world.a.id, "owner"]] });
    world.carol = await createUser(t.db, { memberships: [[world.a.id, "finance"], [world.c.id, "purchaser"]] });
    await createUser(t.db, { memberships: [[world.b.id, "owner"]] });
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function signedIn(email: string): Promise<Client> {
    const client = new Client(server.url);
    const res = await client.login(email, TEST_PASSWORD);
    expect(res.status).toBe(302);
    return client;
  }

  it("shows the user's own account detail", async () => {
    const alice = await signedIn(world.alice.email);
    const page = await alice.get(`/accounts/${world.a.walletId}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(world.a.walletName);
  });

  it("answers 404 for another organisation's account id, showing none of it", async () => {
    const alice = await signedIn(world.alice.email);
    const page = await alice.get(`/accounts/${world.b.walletId}`);
    expect(page.status).toBe(404);
    expect(page.body).not.toContain(world.b.walletName);
    expect(page.body).not.toContain(world.b.name);
    expect(page.body).toContain("不属于您当前的机构");
  });

  it("answers 404 for ids that name nothing: a random UUID and a non-UUID", async () => {
    const alice = await signedIn(world.alice.email);
    expect((await alice.get("/accounts/6f1c1e7e-8c1b-4e8e-9d55-3f0f6b0a9c11")).status).toBe(404);
    expect((await alice.get("/accounts/not-an-id")).status).toBe(404);
    expect((await alice.get("/accounts/1%27%20or%201=1")).status).toBe(404);
  });

  it("never lists another organisation's accounts on the dashboard", async () => {
    const alice = await signedIn(world.alice.email);
    const page = await alice.get("/");
    expect(page.status).toBe(200);
    expect(page.body).toContain(world.a.walletName);
    expect(page.body).not.toContain(world.b.walletName);
    expect(page.body).not.toContain(world.c.walletName);
    expect(page.body).not.toContain(world.b.name);
  });

  it("answers 404 to a switch into an organisation the user is not in, and leaves the session alone", async () => {
    const alice = await signedIn(world.alice.email);
    const csrf = await alice.csrfFrom("/");
    const intoB = await alice.post("/switch-org", { csrf, orgId: world.b.id });
    expect(intoB.status).toBe(404);
    const intoNowhere = await alice.post("/switch-org", { csrf, orgId: "0d6f2f6e-3b1f-4b5e-9a55-9e7d8e0c1a22" });
    expect(intoNowhere.status).toBe(404);
    const garbage = await alice.post("/switch-org", { csrf, orgId: "drop table" });
    expect(garbage.status).toBe(404);

    const sessions = await t.db.selectFrom("sessions").select("organization_id").execute();
    expect(sessions.every((s) => s.organization_id !== world.b.id)).toBe(true);
    const dashboard = await alice.get("/");
    expect(dashboard.body).toContain(world.a.walletName);
  });

  it("offers no org switcher to a user of one organisation", async () => {
    const alice = await signedIn(world.alice.email);
    const page = await alice.get("/");
    expect(page.body).not.toContain('name="orgId"');
  });

  it("switches a member of two organisations, and the scope follows the switch", async () => {
    const carol = await signedIn(world.carol.email);
    const first = await carol.get("/");
    expect(first.body).toContain('name="orgId"');
    expect(first.body).toContain(world.a.walletName);

    const csrf = await carol.csrfFrom("/");
    const res = await carol.post("/switch-org", { csrf, orgId: world.c.id });
    expect(res.status).toBe(302);
    expect(res.location).toBe("/");

    const after = await carol.get("/");
    expect(after.body).toContain(`已切换到 ${world.c.name}`);
    expect(after.body).toContain(world.c.walletName);
    expect(after.body).not.toContain(world.a.walletName);
    // A's account, visible a moment ago, is now another organisation's: 404.
    expect((await carol.get(`/accounts/${world.a.walletId}`)).status).toBe(404);
    expect((await carol.get(`/accounts/${world.c.walletId}`)).status).toBe(200);

    const audit = await t.db
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "session.organization_switched")
      .where("organization_id", "=", world.c.id)
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0].before).toEqual({ organization_id: world.a.id });
    expect(audit[0].after).toEqual({ organization_id: world.c.id });
  });
});
