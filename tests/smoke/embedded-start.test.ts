import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../db";
import { ensureBuild, ROOT } from "../support/build";
import { Client } from "../support/web";

/**
 * What a new user does: `npm start` with nothing configured. Boots server.ts as its own process
 * in embedded mode (PGlite in a temp DATA_DIR, jobs in-process), logs in through the HTML form,
 * stops it with SIGTERM, starts it again on the same folder and finds everything kept.
 */

const BOOT_TIMEOUT_MS = 90_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function boot(env: NodeJS.ProcessEnv): Running {
  const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["server.ts"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so cleanup after a failed assertion can end tsx *and* the node
    // process it starts (killing tsx alone would orphan the server and its PGlite lock).
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForHealthy(url: string, running: Running): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  let exitCode: number | null | undefined;
  void running.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`server exited with ${exitCode} before it was healthy:\n${running.output()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server not healthy within ${BOOT_TIMEOUT_MS} ms:\n${running.output()}`);
}

async function stop(running: Running): Promise<number | null> {
  running.child.kill("SIGTERM");
  return running.exited;
}

describe("npm start in embedded mode", () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let url: string;
  const started: Running[] = [];

  beforeAll(async () => {
    await ensureBuild();
    dataDir = mkdtempSync(path.join(os.tmpdir(), "rongtong-smoke-"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = { ...process.env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "info" };
    // Nothing configured: no database, no Redis, no secret. That is the point.
    for (const name of ["DATABASE_URL", "REDIS_URL", "SESSION_SECRET", "SEED_DEMO", "DEMO_PASSWORD", "NODE_ENV", "COOKIE_SECURE"]) {
      delete env[name];
    }
  });

  afterAll(async () => {
    for (const running of started) {
      if (running.child.exitCode === null && running.child.pid) {
        try {
          process.kill(-running.child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("boots, seeds, prints the logins, serves the dashboard, and exits 0 on SIGTERM; a second start keeps the data", async () => {
    // ---- first start: empty folder ----
    const first = boot(env);
    started.push(first);
    await waitForHealthy(url, first);

    const health = await (await fetch(`${url}/healthz`)).json();
    expect(health).toMatchObject({ status: "ok", db: { ok: true, mode: "embedded" }, queue: { ok: true, mode: "in-process" } });

    // Listening comes first; the banner follows once the jobs due at start-up have run.
    await expect.poll(() => first.output(), { timeout: 60_000 }).toContain("stop with Ctrl+C");
    const banner = first.output();
    expect(banner).toContain(`融通 Rongtong is running at http://localhost:`);
    expect(banner).toContain("embedded (PGlite, jobs in-process)");
    expect(banner).toContain(dataDir);
    expect(banner).toContain("demo data: seeded just now");
    expect(banner).toContain("demo logins (password: demo1234)");
    for (const email of ["bank@demo.test", "core@demo.test", "dealer@demo.test"]) expect(banner).toContain(email);
    // The banner ends the start-up output: nothing logged at start-up lands under it.
    expect(banner.trimEnd().endsWith("stop with Ctrl+C")).toBe(true);

    // The generated session secret is kept beside the data, readable by its owner only.
    expect(statSync(path.join(dataDir, "session-secret")).mode & 0o777).toBe(0o600);

    const client = new Client(url);
    const login = await client.login("core@demo.test", "demo1234");
    expect(login.status).toBe(302);
    const dashboard = await client.get("/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain("华通电器");
    expect(dashboard.headers.get("x-request-id")).toBeTruthy();

    // In embedded mode request lines are debug: at LOG_LEVEL=info the terminal keeps the banner.
    await new Promise((r) => setTimeout(r, 500));
    expect(first.output()).not.toMatch(/"msg":"request"/);

    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('"msg":"stopped"');

    // ---- second start: same folder, request lines asked for (LOG_LEVEL=debug) ----
    const second = boot({ ...env, LOG_LEVEL: "debug" });
    started.push(second);
    await waitForHealthy(url, second);
    await expect.poll(() => second.output(), { timeout: 60_000 }).toContain("stop with Ctrl+C");
    expect(second.output()).toContain("demo data: already present");
    expect(second.output()).not.toContain("demo data seeded");

    // The session from the first run is still valid: same secret, same sessions table.
    const again = await client.get("/");
    expect(again.status).toBe(200);
    expect(again.body).toContain("华通电器");

    const fresh = new Client(url);
    expect((await fresh.login("core@demo.test", "demo1234")).status).toBe(302);
    expect((await fresh.get("/")).body).toContain("华通电器");
    // A request log line per request, with its id, as JSON (written when the response finishes).
    await expect.poll(() => second.output(), { timeout: 5_000 }).toMatch(/"reqId":"[^"]+","method":"GET","url":"\/","status":200/);

    expect(await stop(second)).toBe(0);

    // Seeded exactly once: one bank, one 华通电器.
    const handle = createDb({ dataDir });
    try {
      const orgs = await handle.db.selectFrom("organizations").select(["kind", "name"]).execute();
      expect(orgs.filter((o) => o.kind === "bank")).toHaveLength(1);
      expect(orgs.filter((o) => o.name === "华通电器")).toHaveLength(1);
    } finally {
      await handle.close();
    }
  }, 240_000);
});
