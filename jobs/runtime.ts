import { FlowProducer, Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import type { Db } from "../db";
import type { Logger } from "../app/logger.server";
import type { RetryPolicy } from "../app/domain/outbox";
import { PermanentStepError, queueNamesOf, runStep, STEPS, type StepDeps, type StepRegistry } from "../workflows/registry";
import { createInProcessRunner } from "./in-process-runner";
import { within } from "../app/domain/shared";
import { RUNTIME_LIMITS, workerConcurrencyFor } from "./queues";
import { startRelayLoop, type JobPublisher, type RelayLoop } from "./relay";
import { createCompletionRecorder, startRedeliveryLoop, type CompletionRecorder } from "./redelivery";
import type { PassLoop } from "./pass-loop";
import { startScheduleKeeper, type ScheduleKeeper } from "./schedule-keeper";
import { enqueue, markExhausted } from "../app/domain/outbox";
import { SCHEDULES, type Schedule } from "../workflows/schedules";

/**
 * How a process runs jobs, chosen from its role and whether Redis is configured:
 *
 * | role   | REDIS_URL | does                                                                 |
 * |--------|-----------|----------------------------------------------------------------------|
 * | web    | unset     | embedded: in-process runner polls the outbox and runs the steps      |
 * | web    | set       | nothing (workers do the work); health() pings Redis for /healthz     |
 * | worker | set       | relay (outbox → BullMQ) + one BullMQ Worker per queue                 |
 * | worker | unset     | refused: a worker without Redis has nothing to consume               |
 *
 * Several worker processes may run at once: the relay takes disjoint rows (SKIP LOCKED), BullMQ
 * hands each job to one worker at a time, and steps are idempotent for the rare second run.
 */

export interface JobRuntime {
  mode: "in-process" | "bullmq";
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): Promise<{ ok: boolean; detail: string }>;
  /**
   * Embedded mode: run what is already due (the demo seed's notices, the schedules' first slots)
   * before the start-up banner is printed, so their log lines come before it, not over it. Bounded
   * (STARTUP_SETTLE_MAX_PASSES); whatever is left runs as usual. Absent where workers run jobs.
   */
  settle?(): Promise<void>;
}

/** Passes of up to RUNTIME_LIMITS.inProcessRowsPerTick rows each that `settle` runs at most. */
const STARTUP_SETTLE_MAX_PASSES = 40;

export interface JobRuntimeOptions {
  db: Db;
  redisUrl?: string;
  /** BullMQ key prefix (REDIS_PREFIX); tests pass testRedisPrefix(). */
  prefix: string;
  role: "web" | "worker";
  logger: Logger;
  pollIntervalMs?: number;
  /** Defaults to the real registry; tests pass their own steps. */
  steps?: StepRegistry;
  /** In-process mode only (BullMQ jobs carry their retry options from jobs/queues.ts). */
  retry?: RetryPolicy;
  /** Concurrent jobs per queue in this worker process. */
  concurrency?: number;
  /** Worker role: how often the schedulers are re-asserted (default SCHEDULE_REASSERT_INTERVAL_MS). */
  scheduleReassertIntervalMs?: number;
  /** Worker role: how long a published job may go unfinished before the sweep looks it up (RUNTIME_LIMITS.redeliveryLeaseMs). */
  redeliveryLeaseMs?: number;
}

/** Resolve within `ms` either way, so a health check never hangs on a dead Redis. */
async function pingWithin(client: Redis, ms: number): Promise<{ ok: boolean; detail: string }> {
  // Not connected (connecting, reconnecting, closed): no need to wait for a ping to say so.
  if (client.status !== "ready") return { ok: false, detail: `redis unreachable: connection ${client.status}` };
  try {
    const pong = await within(client.ping(), ms, "redis");
    return { ok: pong === "PONG", detail: `redis ${pong}` };
  } catch (error) {
    return { ok: false, detail: `redis unreachable: ${(error as Error).message}` };
  }
}

/** Quit politely, but never wait more than a couple of seconds for a Redis that is gone. */
async function closeRedis(client: Redis): Promise<void> {
  if (client.status === "end") return;
  try {
    await within(client.quit(), RUNTIME_LIMITS.redisConnectTimeoutMs, "redis quit");
  } catch {
    // Already closed, unreachable or slow: disconnect below is all there is to do.
  } finally {
    client.disconnect();
  }
}

/** Connection-level errors are reported once per outage by watchRedis, not per reconnect attempt. */
function isConnectionError(error: Error & { code?: string }): boolean {
  return ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(error.code ?? "") || /Connection is closed/.test(error.message);
}

/** ioredis logs every failed reconnect; say it once per outage instead. */
function watchRedis(client: Redis, logger: Logger, label: string): void {
  let down = false;
  client.on("error", (error: Error) => {
    if (!down) logger.warn({ err: error, connection: label }, "redis connection error");
    down = true;
  });
  client.on("ready", () => {
    if (down) logger.info({ connection: label }, "redis connection back");
    down = false;
  });
}

/**
 * Commands fail fast instead of queueing forever: the relay holds a PostgreSQL transaction while it
 * publishes, and a health check must answer quickly. Reconnects keep trying, capped at 2 s apart.
 */
function failFastRedisOptions(extra: RedisOptions = {}): RedisOptions {
  return {
    maxRetriesPerRequest: 1,
    connectTimeout: RUNTIME_LIMITS.redisConnectTimeoutMs,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
    ...extra,
  };
}

export function createJobRuntime(opts: JobRuntimeOptions): JobRuntime {
  if (!opts.prefix || opts.prefix.includes(":")) throw new Error("job runtime: prefix must be non-empty and without ':'");
  const logger = opts.logger.child({ component: "jobs", role: opts.role });
  if (opts.role === "web" && !opts.redisUrl) return inProcessRuntime(opts, logger);
  if (!opts.redisUrl) throw new Error("job runtime: the worker role needs REDIS_URL (embedded mode runs jobs in the web process)");
  if (opts.role === "web") return webHealthRuntime(opts.redisUrl, logger);
  return workerRuntime({ ...opts, redisUrl: opts.redisUrl }, logger);
}

function inProcessRuntime(opts: JobRuntimeOptions, logger: Logger): JobRuntime {
  const runner = createInProcessRunner({
    db: opts.db,
    logger,
    steps: opts.steps,
    pollIntervalMs: opts.pollIntervalMs,
    retry: opts.retry,
  });
  const timers: NodeJS.Timeout[] = [];
  const schedules = opts.steps ? [] : SCHEDULES;
  return {
    mode: "in-process",
    async start() {
      runner.start();
      // One process in embedded mode: a timer per schedule is the scheduler. Each slot enqueues
      // one outbox row (its job id names the slot), which the runner then runs like any job.
      for (const schedule of schedules) {
        const tick = () =>
          enqueueScheduledSlot(opts.db, schedule, new Date()).catch((error: Error) =>
            logger.warn({ err: error, schedule: schedule.id }, "could not enqueue a scheduled job"),
          );
        void tick();
        const timer = setInterval(tick, schedule.every_ms);
        timer.unref();
        timers.push(timer);
      }
      logger.info("in-process job runner started");
    },
    async stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
      await runner.stop();
      logger.info("in-process job runner stopped");
    },
    async health() {
      return runner.health();
    },
    async settle() {
      await runner.runUntilIdle({ maxPasses: STARTUP_SETTLE_MAX_PASSES });
    },
  };
}

function webHealthRuntime(redisUrl: string, logger: Logger): JobRuntime {
  // No offline queue: while disconnected a ping fails at once rather than waiting to reconnect.
  const redis = new Redis(redisUrl, failFastRedisOptions({ lazyConnect: true, enableOfflineQueue: false }));
  watchRedis(redis, logger, "health");
  return {
    mode: "bullmq",
    async start() {
      // A web process starts even when Redis is down; /healthz reports it until it is back.
      redis.connect().catch((error: Error) => logger.warn({ err: error }, "redis not reachable at start"));
    },
    async stop() {
      await closeRedis(redis);
    },
    health: () => pingWithin(redis, RUNTIME_LIMITS.healthTimeoutMs),
  };
}

function workerRuntime(opts: JobRuntimeOptions & { redisUrl: string }, logger: Logger): JobRuntime {
  const steps = opts.steps ?? STEPS;
  const queueNames = queueNamesOf(steps);
  const concurrencyOf = (queue: string) => opts.concurrency ?? workerConcurrencyFor(queue);
  for (const queue of queueNames) {
    const concurrency = concurrencyOf(queue);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > RUNTIME_LIMITS.workerConcurrencyMax) {
      throw new Error(`job runtime: concurrency must be in 1..${RUNTIME_LIMITS.workerConcurrencyMax}`);
    }
  }
  const deps: StepDeps = { db: opts.db, logger: logger.child({ component: "step" }), now: () => new Date() };

  let producer: Redis | null = null;
  let consumer: Redis | null = null;
  let queues: Queue[] = [];
  let flowProducer: FlowProducer | null = null;
  let workers: Worker[] = [];
  let relay: RelayLoop | null = null;
  let redelivery: PassLoop | null = null;
  let completions: CompletionRecorder | null = null;
  let keeper: ScheduleKeeper | null = null;
  let started = false;
  let stopping = false;

  async function processJob(job: Job<Record<string, unknown>, void, string>): Promise<void> {
    try {
      await runStep(steps, deps, job.name, job.data);
      // Scheduler-made jobs have no outbox row; recording them matches nothing, harmlessly.
      if (job.id) completions?.record(job.id);
    } catch (error) {
      // BullMQ retries anything but UnrecoverableError; a permanent failure should not be retried.
      if (error instanceof PermanentStepError) throw new UnrecoverableError(error.message);
      throw error;
    }
  }

  return {
    mode: "bullmq",
    async start() {
      if (started) return;
      started = true;
      // Named after the prefix so `CLIENT LIST` shows whose connections these are.
      producer = new Redis(opts.redisUrl, failFastRedisOptions({ connectionName: `${opts.prefix}:jobs-producer` }));
      watchRedis(producer, logger, "producer");
      // Workers block on Redis; ioredis must not give up on their commands (BullMQ requires null).
      // BullMQ duplicates this connection for each worker and closes the duplicates itself.
      consumer = new Redis(opts.redisUrl, {
        connectionName: `${opts.prefix}:jobs-consumer`,
        maxRetriesPerRequest: null,
        retryStrategy: (times: number) => Math.min(times * 200, 2_000),
      });
      watchRedis(consumer, logger, "consumer");

      completions = createCompletionRecorder({ db: opts.db, logger: logger.child({ component: "completions" }) });
      const publishers = new Map<string, JobPublisher>();
      for (const name of queueNames) {
        const queue = new Queue<Record<string, unknown>, void, string>(name, { connection: producer, prefix: opts.prefix });
        queue.on("error", (error: Error) => {
          if (!isConnectionError(error)) logger.warn({ err: error, queue: name }, "queue error");
        });
        queues.push(queue);
        publishers.set(name, queue);
      }
      for (const name of queueNames) {
        const worker = new Worker<Record<string, unknown>, void, string>(name, processJob, {
          connection: consumer,
          prefix: opts.prefix,
          concurrency: concurrencyOf(name),
        });
        worker.on("error", (error: Error) => {
          if (!isConnectionError(error)) logger.warn({ err: error, queue: name }, "worker error");
        });
        worker.on("failed", (job, error) => {
          const final = job ? job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError : true;
          logger[final ? "error" : "warn"]({ err: error, jobId: job?.id, queue: name, attemptsMade: job?.attemptsMade }, final ? "job failed; given up" : "job failed; will retry");
          // Given up: the outbox row ends as failed and is listed for a person. If this write is
          // lost, the redelivery sweep finds the job failed in BullMQ and writes it.
          if (final && job?.id) {
            markExhausted(opts.db, job.id, error, job.attemptsMade).catch((e: unknown) =>
              logger.warn({ err: e, jobId: job.id }, "could not record a failed job; the sweep will"),
            );
          }
        });
        workers.push(worker);
      }
      // Parent jobs with their children (the accrual run's batches): one MULTI per flow.
      flowProducer = new FlowProducer({ connection: producer, prefix: opts.prefix });
      flowProducer.on("error", (error: Error) => {
        if (!isConnectionError(error)) logger.warn({ err: error }, "flow producer error");
      });
      // Ready means connected: a worker started while Redis is down waits here (logging the outage).
      await Promise.all(queues.map((q) => q.waitUntilReady()));
      if (stopping) return;
      relay = startRelayLoop({ db: opts.db, publishers, flows: flowProducer, steps, logger: logger.child({ component: "relay" }), pollIntervalMs: opts.pollIntervalMs });
      redelivery = startRedeliveryLoop({
        db: opts.db,
        queues: new Map(queues.map((q) => [q.name, q])),
        flows: flowProducer,
        steps,
        redis: producer,
        logger: logger.child({ component: "redelivery" }),
        leaseMs: opts.redeliveryLeaseMs,
      });
      // Every worker keeps the schedulers asserted (start, reconnect, interval): the same scheduler
      // id upserted by each keeps one schedule, and one emptied Redis does not lose them for good.
      if (!opts.steps) {
        keeper = startScheduleKeeper({
          schedules: SCHEDULES,
          queues: new Map(queues.map((q) => [q.name, q])),
          connection: producer,
          logger: logger.child({ component: "schedules" }),
          intervalMs: opts.scheduleReassertIntervalMs,
        });
        // Redis lost again already: not a reason to fail the start; the keeper's next pass retries.
        await keeper.reassert().catch((error: Error) => logger.warn({ err: error }, "could not register job schedulers yet"));
      }
      logger.info({ queues: Object.fromEntries(queueNames.map((q) => [q, concurrencyOf(q)])) }, "job workers started");
    },
    async stop() {
      if (!started || stopping) return;
      stopping = true;
      // Order matters: stop taking new outbox rows, let running jobs finish, then drop connections.
      await keeper?.stop();
      keeper = null;
      await relay?.stop();
      await redelivery?.stop();
      // With Redis gone a graceful close never returns (it waits to hand back jobs it cannot reach):
      // force it. A job cut off is stalled in Redis, run again later, and steps are idempotent.
      const redisReady = consumer?.status === "ready";
      await Promise.all(workers.map((w) => w.close(!redisReady)));
      await completions?.stop();
      await Promise.all(queues.map((q) => q.close()));
      await flowProducer?.close();
      flowProducer = null;
      await Promise.all([producer, consumer].map((c) => (c ? closeRedis(c) : Promise.resolve())));
      relay = null;
      redelivery = null;
      completions = null;
      workers = [];
      queues = [];
      producer = null;
      consumer = null;
      logger.info("job workers stopped");
    },
    async health() {
      if (!producer) return { ok: false, detail: "job workers not started" };
      const redis = await pingWithin(producer, RUNTIME_LIMITS.healthTimeoutMs);
      const last = relay?.lastSuccessAt();
      return { ok: redis.ok, detail: `${redis.detail}; relay last pass ${last ? last.toISOString() : "pending"}` };
    },
  };
}

/** The outbox row for one slot of a schedule: the same slot enqueued twice is one row. */
export async function enqueueScheduledSlot(db: Db, schedule: Schedule, now: Date): Promise<void> {
  const slot = Math.floor(now.getTime() / schedule.every_ms);
  await db.transaction().execute((trx) =>
    enqueue(trx, { queue: schedule.queue, name: schedule.jobName, jobId: `${schedule.id}:${slot}:run`, payload: {} }),
  );
}
