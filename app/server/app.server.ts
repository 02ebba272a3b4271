import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createRequestHandler } from "@remix-run/express";
import type { AppLoadContext, ServerBuild } from "@remix-run/node";
import express, { type NextFunction, type Request, type Response } from "express";
import { pingDb, type Db, type DbMode } from "../../db";
import type { JobsHandle, ResolvedConfig } from "../context";
import { requestLogLevel, type Logger } from "../logger.server";
import { outboxCounts } from "../domain/outbox";
import { within } from "../domain/shared";

/**
 * The Express app around Remix, separate from server.ts so tests can run the real stack (static
 * files, request ids, /healthz, the Origin check, Remix) on a port of their own.
 */

export interface AppDeps {
  build: ServerBuild;
  db: Db;
  dbMode: DbMode;
  config: ResolvedConfig;
  logger: Logger;
  jobs: JobsHandle;
  /** Folder holding `build/` (Remix assets) and the favicon; defaults to ./public. */
  publicDir?: string;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const HEALTH_TIMEOUT_MS = 2_000;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

declare module "express-serve-static-core" {
  interface Request {
    requestId?: string;
    log?: Logger;
  }
}

export function createApp(deps: AppDeps): express.Express {
  const { build, db, dbMode, config, logger, jobs } = deps;
  const publicDir = path.resolve(deps.publicDir ?? "public");
  const app = express();
  app.disable("x-powered-by");
  // Behind a load balancer, req.ip should be the client's: trust one proxy hop when configured.
  if (process.env.TRUST_PROXY) app.set("trust proxy", process.env.TRUST_PROXY === "true" ? true : process.env.TRUST_PROXY);

  // Request id in (from a proxy) or made here, echoed back, and on every log line of the request.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.requestId = requestId;
    req.log = logger.child({ reqId: requestId });
    res.setHeader("x-request-id", requestId);
    // This middleware owns the header: the Remix adapter copies a response's headers with
    // `res.append`, so a route that also set it would send it twice (`id, id`). Keep one value.
    const append = res.append.bind(res);
    res.append = (field: string, value?: string[] | string) => (field.toLowerCase() === "x-request-id" ? res : append(field, value));
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const durationMs = Number((process.hrtime.bigint() - started) / 1_000_000n);
      const line = { method: req.method, url: req.originalUrl, status: res.statusCode, durationMs };
      // Static assets are noise at info level; in embedded mode so are pages (logger.server.ts requestLogLevel).
      if (req.path.startsWith("/build/") || req.path === "/favicon.ico") req.log?.debug(line, "request");
      else req.log?.[requestLogLevel(dbMode, res.statusCode)](line, "request");
    });
    next();
  });

  // Fingerprinted Remix assets never change under a name: cache them for a year.
  app.use("/build", express.static(path.join(publicDir, "build"), { immutable: true, maxAge: "1y", index: false }));
  app.use(express.static(publicDir, { maxAge: "1h", index: false }));

  app.get("/healthz", async (req: Request, res: Response) => {
    const dbHealth = await within(pingDb(db), HEALTH_TIMEOUT_MS, "database").then(
      () => ({ ok: true, mode: dbMode }),
      (error: unknown) => ({ ok: false, mode: dbMode, detail: (error as Error).message }),
    );
    const queue = await within(jobs.health(), HEALTH_TIMEOUT_MS, "queue").then(
      (h) => ({ ok: h.ok, mode: jobs.mode, detail: h.detail }),
      (error: unknown) => ({ ok: false, mode: jobs.mode, detail: (error as Error).message }),
    );
    // Details, not health: jobs given up on need a person, but the process itself is fine.
    const outbox = dbHealth.ok
      ? await within(outboxCounts(db), HEALTH_TIMEOUT_MS, "outbox").catch((error: unknown) => ({ detail: (error as Error).message }))
      : null;
    const ok = dbHealth.ok && queue.ok;
    if (!ok) req.log?.warn({ db: dbHealth, queue }, "health check failed");
    res.status(ok ? 200 : 503).set("Cache-Control", "no-store").json({ status: ok ? "ok" : "unavailable", db: dbHealth, queue, outbox });
  });

  // Defence in depth beside the per-form CSRF token: a browser always sends Origin on a
  // cross-site POST, so one naming another host is refused before any action runs. /api/ is
  // exempt: it is called by servers with API keys, not by browsers with cookies.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method) || req.path.startsWith("/api/")) return next();
    const origin = req.get("origin");
    const fetchSite = req.get("sec-fetch-site");
    let crossSite = fetchSite === "cross-site";
    if (origin !== undefined) {
      try {
        crossSite ||= origin === "null" || new URL(origin).host !== req.get("host");
      } catch {
        crossSite = true;
      }
    }
    if (crossSite) {
      req.log?.warn({ origin, fetchSite }, "cross-site request refused");
      res.status(403).type("text/plain").send("Cross-site request refused");
      return;
    }
    next();
  });

  app.all(
    "*",
    createRequestHandler({
      build,
      mode: process.env.NODE_ENV === "development" ? "development" : "production",
      getLoadContext: (req: Request): AppLoadContext => ({
        db,
        dbMode,
        config,
        logger: req.log ?? logger,
        requestId: req.requestId ?? randomUUID(),
        ip: req.ip ?? null,
        jobs,
      }),
    }),
  );

  return app;
}

export class SessionSecretError extends Error {}

/**
 * SESSION_SECRET when set. Otherwise, embedded mode makes one on first start and keeps it in
 * DATA_DIR (mode 0600), so sessions survive restarts on a laptop with nothing to configure. Server
 * mode has several processes that must agree on it: in production that needs SESSION_SECRET;
 * outside production a fixed, loudly announced development secret keeps local runs simple.
 */
export function resolveSessionSecret(
  input: { sessionSecret: string | undefined; dataDir: string; dbMode: DbMode; nodeEnv: string | undefined },
  logger: Pick<Logger, "warn" | "info">,
): string {
  if (input.sessionSecret) {
    if (input.sessionSecret.length < 32) logger.warn("SESSION_SECRET is shorter than 32 characters; use a long random value");
    return input.sessionSecret;
  }
  if (input.dbMode === "embedded") {
    mkdirSync(input.dataDir, { recursive: true });
    const file = path.join(input.dataDir, "session-secret");
    try {
      const existing = readFileSync(file, "utf8").trim();
      if (existing.length >= 32) return existing;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const secret = randomBytes(32).toString("base64url");
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600); // in case the file existed (empty) with looser permissions
    logger.info({ file }, "generated a session secret for the embedded database");
    return secret;
  }
  if (input.nodeEnv === "production") {
    throw new SessionSecretError(
      "SESSION_SECRET is not set. In server mode every web process must sign cookies with the same secret: " +
        "set SESSION_SECRET to a long random value (e.g. `openssl rand -base64 32`).",
    );
  }
  logger.warn("SESSION_SECRET is not set: using a fixed development secret (NODE_ENV is not production). Never do this in production.");
  return "rongtong-development-secret-do-not-use-in-production";
}
