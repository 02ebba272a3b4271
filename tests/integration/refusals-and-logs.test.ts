import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { loggedIn } from "./payments.fixtures";

interface LogLine {
  level: number;
  msg: string;
  status?: number;
  url?: string;
}

const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/**
 * What a refusal says, and how an answer is logged: a form whose token failed (expired page,
 * another site) is told apart from a refused role, on the page and by a marker; a 404 is logged as
 * a 404 (info), not as an "unhandled error"; in embedded mode request lines are quiet (debug).
 */
describe("refusals and request logs", () => {
  let t: TestDatabase;
  const lines: LogLine[] = [];
  const servers: TestServer[] = [];
  let server: TestServer;
  let owner: { email: string; password: string };
  let purchaser: { email: string; password: string };

  function capturingLogger() {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(text) as LogLine);
        done();
      },
    });
    return pino({ level: "debug" }, sink);
  }

  beforeAll(async () => {
    t = await createTestDatabase();
    const dealer = await createOrg(t.db, { kind: "dealer", name: "杭州鑫达商贸" });
    owner = await createUser(t.db, { memberships: [[dealer.id, "owner"]] });
    purchaser = await createUser(t.db, { memberships: [[dealer.id, "purchaser"]] });
    server = await startTestServer(t.db, { logger: capturingLogger() });
    servers.push(server);
  });

  afterAll(async () => {
    for (const s of servers) await s.close();
    await t?.close();
  });

  it("says a failed form token is an expired or foreign form to reload, not a refused role", async () => {
    const client = await loggedIn(server.url, owner);
    const stale = await client.post("/settings/orders", { csrf: "a-token-from-an-older-session-aaaaaaaaaaaa", approval_threshold: "" });
    expect(stale.status).toBe(403);
    expect(stale.body).toContain('data-refusal="csrf"');
    expect(stale.body).toContain("表单已失效，操作未执行");
    expect(stale.body).toContain("请刷新页面后重新提交");
    expect(stale.body).toContain('href="/settings/orders"');
    expect(stale.body).not.toContain("此操作未获允许");

    const english = await loggedIn(server.url, owner);
    expect((await english.post("/set-language", { csrf: await english.csrfFrom("/"), lang: "en", redirectTo: "/" })).status).toBe(302);
    const staleEn = await english.post("/settings/orders", { csrf: "x".repeat(43), approval_threshold: "" });
    expect(staleEn.status).toBe(403);
    expect(staleEn.body).toContain("The form has expired; nothing was done");
  });

  it("says a refused role is a refused role, with its own marker", async () => {
    const client = await loggedIn(server.url, purchaser);
    const refused = await client.post("/settings/orders", { csrf: await client.csrfFrom("/orders"), approval_threshold: "" });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('data-refusal="forbidden"');
    expect(refused.body).not.toContain('data-refusal="csrf"');
    expect(refused.body).not.toContain("表单已失效");
  });

  it("logs a page that does not exist as a 404 at info, never as an unhandled error", async () => {
    const client = await loggedIn(server.url, owner);
    lines.length = 0;
    const missing = await client.get("/no-such-page/at-all");
    expect(missing.status).toBe(404);
    await new Promise((r) => setTimeout(r, 50));
    const about = lines.filter((l) => l.url?.includes("/no-such-page/at-all"));
    expect(about.some((l) => l.msg === "answered 404" && l.status === 404 && l.level === LEVEL.info)).toBe(true);
    expect(lines.filter((l) => l.level >= LEVEL.error)).toEqual([]);
    expect(lines.some((l) => l.msg === "unhandled error in request")).toBe(false);
  });

  it("logs request lines at debug in embedded mode and at info in server mode", async () => {
    const embedded = await startTestServer(t.db, { dbMode: "embedded", logger: capturingLogger() });
    servers.push(embedded);
    lines.length = 0;
    await fetch(`${embedded.url}/login`);
    await fetch(`${server.url}/login`);
    await new Promise((r) => setTimeout(r, 50));
    const requestLines = lines.filter((l) => l.msg === "request" && l.url === "/login");
    expect(requestLines.map((l) => l.level).sort()).toEqual([LEVEL.debug, LEVEL.info]);
  });
});
