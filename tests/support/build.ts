import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BUILD_FILE = path.join(ROOT, "build", "index.js");
const SOURCE_DIRS = ["app", "db", "jobs", "workflows"];
const LOCK_DIR = path.join(ROOT, ".cache", "build.lock");
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MS = 180_000;

function newestSourceMtime(): number {
  let newest = statSync(path.join(ROOT, "remix.config.js")).mtimeMs;
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) walk(path.join(ROOT, dir));
  return newest;
}

function isFresh(): boolean {
  return (
    existsSync(BUILD_FILE) &&
    existsSync(path.join(ROOT, "public", "build")) &&
    statSync(BUILD_FILE).mtimeMs >= newestSourceMtime()
  );
}

async function withLock<T>(work: () => T | Promise<T>): Promise<T> {
  mkdirSync(path.dirname(LOCK_DIR), { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A builder that died leaves its lock: take it over once it is clearly stale.
      try {
        if (Date.now() - statSync(LOCK_DIR).mtimeMs > LOCK_STALE_MS) rmSync(LOCK_DIR, { recursive: true, force: true });
      } catch {
        // gone already
      }
      if (Date.now() - started > LOCK_WAIT_MS) throw new Error(`waited too long for ${LOCK_DIR}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function buildNow(): void {
  if (isFresh()) return;
  try {
    // The build `npm run build` makes (production), whatever NODE_ENV the tests run under: a
    // development build renders with jsxDEV and fails under a web process started in production.
    execFileSync(path.join(ROOT, "node_modules", ".bin", "remix"), ["build"], {
      cwd: ROOT,
      stdio: "pipe",
      timeout: 120_000,
      env: { ...process.env, NODE_ENV: "production" },
    });
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`remix build failed: ${e.message}\n${e.stdout?.toString() ?? ""}\n${e.stderr?.toString() ?? ""}`);
  }
}

/**
 * `remix build` when build/ is missing or older than any source file; one test file at a time
 * (a lock folder), since test files run in parallel processes and share build/.
 */
export async function ensureBuild(): Promise<void> {
  if (isFresh()) return;
  await withLock(buildNow);
}

async function importBuild(): Promise<ServerBuild> {
  const version = statSync(BUILD_FILE).mtimeMs;
  return (await import(/* @vite-ignore */ `${pathToFileURL(BUILD_FILE).href}?v=${version}`)) as ServerBuild;
}

/** The built server bundle, as the real server loads it. */
export async function loadBuild(): Promise<ServerBuild> {
  return withLock(async () => {
    buildNow();
    return importBuild();
  });
}

/**
 * The server bundle together with a private copy of public/ (the browser assets it refers to).
 * `remix build` empties public/build, so a rebuild by another test file (sources edited during a
 * run) would otherwise pull the scripts from under a browser test that is still running.
 */
export async function loadBuildSnapshot(): Promise<{ build: ServerBuild; publicDir: string; dispose(): void }> {
  return withLock(async () => {
    buildNow();
    const publicDir = mkdtempSync(path.join(os.tmpdir(), "rongtong-public-"));
    cpSync(path.join(ROOT, "public"), publicDir, { recursive: true });
    const build = await importBuild();
    return { build, publicDir, dispose: () => rmSync(publicDir, { recursive: true, force: true }) };
  });
}
