import { readConfig } from "../app/config.server";
import { logger } from "../app/logger.server";
import { createDb } from "../db";
import { createJobRuntime } from "./runtime";

/**
 * `npm run worker`: relay + BullMQ workers for every queue, in server mode. Run as many as you like.
 *
 * SIGTERM/SIGINT: stop taking outbox rows, let running jobs finish (worker.close()), close queues
 * and Redis, close the database pool, exit 0. A second signal, or a shutdown that takes longer than
 * SHUTDOWN_TIMEOUT_MS, exits 1 at once; jobs cut off that way are retried (BullMQ stall detection,
 * idempotent steps).
 */

const SHUTDOWN_TIMEOUT_MS = 30_000;

async function main(): Promise<void> {
  const config = readConfig();
  const missing = [!config.databaseUrl && "DATABASE_URL", !config.redisUrl && "REDIS_URL"].filter(Boolean);
  if (missing.length > 0 || !config.databaseUrl || !config.redisUrl) {
    process.stderr.write(
      `npm run worker needs ${missing.join(" and ")}: the worker runs server-mode jobs on PostgreSQL and Redis.\n` +
        "  e.g. DATABASE_URL=postgres://user@host/db REDIS_URL=redis://127.0.0.1:6379 npm run worker\n" +
        "In embedded mode (no DATABASE_URL / REDIS_URL) the web process runs jobs itself; no worker is needed.\n",
    );
    process.exit(2);
  }

  const handle = createDb({ databaseUrl: config.databaseUrl });
  const runtime = createJobRuntime({
    db: handle.db,
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    role: "worker",
    redeliveryLeaseMs: config.outboxLeaseMs,
    logger,
  });

  let shuttingDown = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (shuttingDown) {
      logger.warn({ signal }, "second signal during shutdown: exiting now");
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, "worker shutting down");
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, "worker shutdown timed out");
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    try {
      await runtime.stop();
      await handle.close();
      logger.info("worker stopped");
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "worker shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", (signal) => void shutdown(signal));
  process.on("SIGINT", (signal) => void shutdown(signal));

  await runtime.start();
  logger.info({ database: handle.location, prefix: config.redisPrefix }, "worker ready");
}

main().catch((error: unknown) => {
  logger.error({ err: error }, "worker failed to start");
  process.exit(1);
});
