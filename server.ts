/**
 * The web process. `npm start` builds and runs this file.
 *
 * Embedded mode (no DATABASE_URL): PGlite under DATA_DIR (./.data), jobs in-process, demo data
 * seeded on first start. Server mode (DATABASE_URL, REDIS_URL): PostgreSQL and BullMQ, stateless,
 * any number of copies behind a load balancer. A custom server rather than remix-serve, because it
 * must boot the database and job runtime, and close them on SIGTERM so the process exits.
 */
import { existsSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import { createDb, type DbHandle } from "./db";
import { migrateToLatest } from "./db/migrate";
import { readConfig } from "./app/config.server";
import { logger } from "./app/logger.server";
import { seedDemoData } from "./app/seed/demo.server";
import { createApp, resolveSessionSecret, SessionSecretError } from "./app/server/app.server";
import { createJobRuntime, type JobRuntime } from "./jobs/runtime";

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function loadBuild(): Promise<ServerBuild> {
  const buildPath = path.resolve("build/index.js");
  if (!existsSync(buildPath)) {
    throw new Error("build/index.js is missing: run `npm run build` first (`npm start` does it for you)");
  }
  return (await import(pathToFileURL(buildPath).href)) as ServerBuild;
}

async function printBanner(lines: string[]): Promise<void> {
  // A human-facing banner on stdout besides the JSON logs: this is what a laptop user reads. pino
  // writes asynchronously: flush what is logged so far, or its last lines land under the banner.
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  process.stdout.write(`\n${lines.join("\n")}\n\n`);
}

async function main(): Promise<void> {
  const config = readConfig();
  let dbHandle: DbHandle | undefined;
  let jobs: JobRuntime | undefined;
  let server: Server | undefined;
  let stopping = false;

  const shutdown = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    try {
      if (server) {
        const closing = new Promise<void>((resolve) => server?.close(() => resolve()));
        server.closeIdleConnections();
        await closing;
      }
      await jobs?.stop();
      await dbHandle?.close();
      logger.info("stopped");
    } catch (error) {
      logger.error({ err: error }, "error while shutting down");
      code = 1;
    }
    clearTimeout(force);
    process.exit(code);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  try {
    dbHandle = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    const { db, mode } = dbHandle;
    const sessionSecret = resolveSessionSecret(
      { sessionSecret: config.sessionSecret, dataDir: config.dataDir, dbMode: mode, nodeEnv: process.env.NODE_ENV },
      logger,
    );
    logger.info({ mode, location: dbHandle.location }, "opening database");
    const applied = await migrateToLatest(db);
    if (applied.length > 0) logger.info({ applied }, "migrations applied");

    let seed: Awaited<ReturnType<typeof seedDemoData>> | null = null;
    if (config.seedDemo) {
      seed = await seedDemoData(db, { password: config.demoPassword, epayMerchantId: config.epayMerchantId });
      if (seed.seeded) logger.info("demo data seeded");
    }

    jobs = createJobRuntime({ db, redisUrl: config.redisUrl, prefix: config.redisPrefix, role: "web", logger });
    await jobs.start();

    const build = await loadBuild();
    const app = createApp({ build, db, dbMode: mode, config: { ...config, sessionSecret }, logger, jobs });
    const listening = app.listen(config.port);
    server = listening;
    await new Promise<void>((resolve, reject) => {
      listening.once("listening", resolve);
      listening.once("error", reject);
    });

    const url = `http://localhost:${config.port}`;
    logger.info({ url, mode, jobs: jobs.mode, location: dbHandle.location }, "listening");
    // The banner is what a person reads: print it after everything start-up logs (the jobs already
    // due, run here at once), so it ends the output instead of scrolling away under it.
    await jobs.settle?.().catch((error: unknown) => logger.warn({ err: error }, "jobs due at start-up did not all run; they will be retried"));
    const banner = [
      `融通 Rongtong is running at ${url}`,
      `  mode:     ${mode === "embedded" ? "embedded (PGlite, jobs in-process)" : `server (PostgreSQL, ${jobs.mode === "bullmq" ? "BullMQ" : "jobs in-process"})`}`,
      `  data:     ${dbHandle.location}`,
    ];
    if (seed) {
      banner.push(seed.seeded ? "  demo data: seeded just now" : "  demo data: already present (kept from an earlier start)");
      banner.push(`  demo logins (password: ${config.demoPassword}):`);
      for (const login of seed.logins) banner.push(`    ${login.email.padEnd(22)} ${login.description}`);
    }
    banner.push("  stop with Ctrl+C");
    await printBanner(banner);
  } catch (error) {
    if (error instanceof SessionSecretError) {
      logger.fatal(error.message);
      process.stderr.write(`\n${error.message}\n\n`);
    } else {
      logger.fatal({ err: error }, "could not start");
    }
    await shutdown("startup-failure", 1);
  }
}

void main();
