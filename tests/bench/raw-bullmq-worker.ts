/**
 * The limit for `npm run bench -- recovery`: a BullMQ Worker as the product's worker process builds
 * one (one Worker per queue at the product's concurrency for that queue, a connection with
 * maxRetriesPerRequest null), whose processor does nothing. Started by tests/bench/recovery.ts with
 * REDIS_URL, REDIS_PREFIX and QUEUE; prints "raw worker ready" once connected, exits on SIGTERM.
 */
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { workerConcurrencyFor } from "../../jobs/queues";

const redisUrl = process.env.REDIS_URL;
const prefix = process.env.REDIS_PREFIX;
const queueName = process.env.QUEUE;
if (!redisUrl || !prefix || !queueName) {
  process.stderr.write("raw-bullmq-worker needs REDIS_URL, REDIS_PREFIX and QUEUE\n");
  process.exit(2);
}

const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const worker = new Worker(queueName, async () => {}, { connection, prefix, concurrency: workerConcurrencyFor(queueName) });
worker.on("error", (error) => process.stderr.write(`raw worker error: ${error.message}\n`));
await worker.waitUntilReady();
process.stdout.write("raw worker ready\n");

process.once("SIGTERM", () => {
  void worker
    .close()
    .then(() => connection.quit())
    .finally(() => process.exit(0));
});
