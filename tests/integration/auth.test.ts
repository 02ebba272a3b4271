import { createCookie } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type DbHandle } from "../../db";
import { hashToken, login, MAX_FAILURES_PER_EMAIL } from "../../app/domain/identity/auth.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, csrfToken, startTestServer, TEST_SESSION_SECRET, textOf, type TestServer } from "../support/web";

const INVALID_ZH = "邮箱或密码不正确";

describe("authentication", () => {
  let t: TestDatabase;
  let server: TestServer;
  let orgName: string;
  let orgId: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    const org = await createOrg(t.db, { kind: "core_enterprise" });
    orgName = org.name;
    orgId = org.id;
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function newMember(email?: string) {
    return createUser(t.db, { email, memberships: [[orgId, "owner"]] });
  }

  async function sessionRows(userId: string) {
    return t.db.selectFrom("sessions").selectAll().where("user_id", "=", userId).execute();
  }

  it("logs in with the right password, sets a signed HttpOnly SameSite=Lax cookie, and shows the dashboard", async () => {
    const user = await newMember();
    const client = new Client(server.url);
    const res = await client.login(user.email, TEST_PASSWORD);
    expect(res.status).toBe(302);
    expect(res.location).toBe("/");

    const sessionCookie = res.setCookies.find((c) => c.startsWith("rt_session="));
    expect(sessionCookie).toBeDefined();
    expect(sessionCookie).toMatch(/;\s*HttpOnly/i);
    expect(sessionCookie).toMatch(/;\s*SameSite=Lax/i);
    expect(sessionCookie).toMatch(/;\s*Path=\//i);
    expect(sessionCookie).toMatch(/;\s*Max-Age=43200/i);
    expect(sessionCookie).not.toMatch(/;\s*Secure/i);

    // The row stores sha256(token), never the token the cookie carries.
    const token: unknown = await createCookie("rt_session", { secrets: [TEST_SESSION_SECRET] }).parse(
      `rt_session=${client.cookies.get("rt_session")}`,
    );
    expect(typeof token).toBe("string");
    const rows = await sessionRows(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toBe(hashToken(token as string));
    expect(rows[0].token_hash).not.toBe(token);
    expect(rows[0].organization_id).toBe(orgId);
    expect(rows[0].expires_at.getTime() - Date.now()).toBeGreaterThan(11.9 * 3600_000);

    const dashboard = await client.get("/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain(orgName);

    const audit = await t.db.selectFrom("audit_events").selectAll().where("actor_user_id", "=", user.id).execute();
    expect(audit.map((a) => a.action)).toContain("user.login");
  });

  it("marks the session cookie Secure when COOKIE_SECURE is on", async () => {
    const user = await newMember();
    const secure = await startTestServer(t.db, { cookieSecure: true });
    try {
      const client = new Client(secure.url);
      const res = await client.login(user.email, TEST_PASSWORD);
      expect(res.status).toBe(302);
      expect(res.setCookies.find((c) => c.startsWith("rt_session="))).toMatch(/;\s*Secure/i);
    } finally {
      await secure.close();
    }
  });

  it("answers a wrong password and an unknown email with the identical message and status", async () => {
    const user = await newMember();
    const wrongPassword = await new Client(server.url).login(user.email, "not the password");
    const unknownEmail = await new Client(server.url).login("nobody-here@example.test", "not the password");

    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(textOf(wrongPassword.body, "form-error")).toBe(INVALID_ZH);
    expect(textOf(unknownEmail.body, "form-error")).toBe(INVALID_ZH);
    // Nothing else on the page differs either, apart from the email typed back into the field.
    expect(wrongPassword.body.includes("field-error")).toBe(false);
    expect(unknownEmail.body.includes("field-error")).toBe(false);
    expect(await sessionRows(user.id)).toHaveLength(0);

    const failures = await t.db
      .selectFrom("audit_events")
      .select(["action", "entity_id"])
      .where("action", "=", "user.login_failed")
      .execute();
    expect(failures.some((f) => f.entity_id === user.id)).toBe(true);
    expect(failures.some((f) => f.entity_id === null)).toBe(true);
  });

  it("shows field errors next to the fields and keeps the email typed", async () => {
    const client = new Client(server.url);
    const csrf = await client.csrfFrom("/login");
    const res = await client.post("/login", { csrf, email: "not-an-email", password: "" });
    expect(res.status).toBe(422);
    expect(res.body).toContain('id="email-error"');
    expect(res.body).toContain('id="password-error"');
    expect(res.body).toContain('value="not-an-email"');
  });

  it("refuses the sixth attempt within 15 minutes, even with the right password, across processes, per email", async () => {
    const victim = await newMember();
    const bystander = await newMember();

    // Five failures recorded by "another web process": its own connection pool, same database.
    const other: DbHandle = createDb({ databaseUrl: t.url, poolMax: 2 });
    try {
      for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++) {
        const result = await login(other.db, { email: victim.email, password: `wrong-${i}`, ip: `198.51.100.${i}`, now: new Date() });
        expect(result).toEqual({ ok: false, reason: "invalid" });
      }
    } finally {
      await other.close();
    }

    const client = new Client(server.url);
    const refused = await client.login(victim.email.toUpperCase(), TEST_PASSWORD);
    expect(refused.status).toBe(429);
    expect(textOf(refused.body, "form-error")).toMatch(/^尝试次数过多，请 \d+ 分钟后再试$/);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await sessionRows(victim.id)).toHaveLength(0);

    // The same refusal from the model, directly: state is in the database, not in a process.
    const again = await login(t.db, { email: victim.email, password: TEST_PASSWORD, ip: "203.0.113.9", now: new Date() });
    expect(again).toMatchObject({ ok: false, reason: "throttled" });

    // Another email is not affected.
    const fine = await new Client(server.url).login(bystander.email, TEST_PASSWORD);
    expect(fine.status).toBe(302);
  });

  it("shows the throttle message in English when English is chosen", async () => {
    const victim = await newMember();
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++) {
      await login(t.db, { email: victim.email, password: "nope", ip: null, now: new Date() });
    }
    const client = new Client(server.url);
    client.cookies.set("lang", Buffer.from(JSON.stringify("en")).toString("base64"));
    const refused = await client.login(victim.email, TEST_PASSWORD);
    expect(refused.status).toBe(429);
    expect(textOf(refused.body, "form-error")).toMatch(/^Too many attempts, try again in \d+ minutes$/);
  });

  it("logs out by deleting the session row, so the old cookie no longer works", async () => {
    const user = await newMember();
    const client = new Client(server.url);
    await client.login(user.email, TEST_PASSWORD);
    const oldCookie = client.cookies.get("rt_session")!;
    expect(await sessionRows(user.id)).toHaveLength(1);

    const csrf = await client.csrfFrom("/");
    const res = await client.post("/logout", { csrf });
    expect(res.status).toBe(302);
    expect(res.location).toBe("/login");
    expect(client.cookies.has("rt_session")).toBe(false);
    expect(await sessionRows(user.id)).toHaveLength(0);

    const replay = new Client(server.url);
    replay.cookies.set("rt_session", oldCookie);
    const page = await replay.get("/");
    expect(page.status).toBe(302);
    expect(page.location).toBe("/login");

    const actions = (await t.db.selectFrom("audit_events").select("action").where("actor_user_id", "=", user.id).execute()).map(
      (a) => a.action,
    );
    expect(actions).toContain("user.logout");
  });

  describe("CSRF", () => {
    it("refuses a logout without the token, or with a wrong one, and changes nothing", async () => {
      const user = await newMember();
      const client = new Client(server.url);
      await client.login(user.email, TEST_PASSWORD);

      const without = await client.post("/logout", {});
      expect(without.status).toBe(403);
      const wrong = await client.post("/logout", { csrf: "x".repeat(43) });
      expect(wrong.status).toBe(403);
      expect(await sessionRows(user.id)).toHaveLength(1);
      expect((await client.get("/")).status).toBe(200);
    });

    it("refuses a language change with the anonymous token once signed in (only the session's token counts)", async () => {
      const user = await newMember();
      const client = new Client(server.url);
      const anonymousToken = await client.csrfFrom("/login");
      await client.post("/login", { csrf: anonymousToken, email: user.email, password: TEST_PASSWORD });
      const res = await client.post("/set-language", { csrf: anonymousToken, lang: "en", redirectTo: "/" });
      expect(res.status).toBe(403);
      const row = await t.db.selectFrom("users").select("locale").where("id", "=", user.id).executeTakeFirstOrThrow();
      expect(row.locale).toBe("zh-CN");
    });

    it("refuses a login POST without the double-submit cookie and records nothing", async () => {
      const user = await newMember();
      const page = await new Client(server.url).get("/login");
      const token = csrfToken(page.body)!;
      // Right token in the form, but no signed cookie to match it: what a forged form looks like.
      const res = await new Client(server.url).post("/login", { csrf: token, email: user.email, password: TEST_PASSWORD });
      expect(res.status).toBe(403);
      expect(await sessionRows(user.id)).toHaveLength(0);
    });

    it("refuses a cross-site POST by its Origin before any action runs", async () => {
      const user = await newMember();
      const client = new Client(server.url);
      await client.login(user.email, TEST_PASSWORD);
      const csrf = await client.csrfFrom("/");
      const res = await client.post("/logout", { csrf }, { Origin: "https://evil.example" });
      expect(res.status).toBe(403);
      expect(await sessionRows(user.id)).toHaveLength(1);
    });
  });

  it("switches language with a POST that works without JavaScript, and remembers it on the account", async () => {
    const user = await newMember();
    const client = new Client(server.url);
    await client.login(user.email, TEST_PASSWORD);
    const csrf = await client.csrfFrom("/");
    const res = await client.post("/set-language", { csrf, lang: "en", redirectTo: "/" });
    expect(res.status).toBe(302);
    expect(res.location).toBe("/");
    const page = await client.get("/");
    expect(page.body).toContain("Balances");
    expect(page.body).toContain('lang="en"');
    const row = await t.db.selectFrom("users").select("locale").where("id", "=", user.id).executeTakeFirstOrThrow();
    expect(row.locale).toBe("en");
  });

  it("sends an anonymous visitor to the login page, keeping where they were going", async () => {
    const res = await new Client(server.url).get("/accounts/00000000-0000-0000-0000-000000000000");
    expect(res.status).toBe(302);
    expect(res.location).toBe("/login?redirectTo=%2Faccounts%2F00000000-0000-0000-0000-000000000000");
  });

  it("reports health as JSON with the database and queue status", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.json()).toMatchObject({ status: "ok", db: { ok: true, mode: "server" }, queue: { ok: true } });

    const down = await startTestServer(t.db, { jobs: { mode: "bullmq", health: async () => ({ ok: false, detail: "redis down" }) } });
    try {
      const unhealthy = await fetch(`${down.url}/healthz`, { headers: { "x-request-id": "probe-1" } });
      expect(unhealthy.status).toBe(503);
      expect(unhealthy.headers.get("x-request-id")).toBe("probe-1");
      expect(await unhealthy.json()).toMatchObject({ status: "unavailable", queue: { ok: false, mode: "bullmq", detail: "redis down" } });
    } finally {
      await down.close();
    }
  });
});
