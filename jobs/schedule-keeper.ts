import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../app/logger.server";
import type { Schedule } from "../workflows/schedules";
import { jobOptionsFor } from "./queues";

/**
 * BullMQ job schedulers live only in Redis: a Redis restarted empty forgets them, and nothing would
 * put them back until a worker restarts (issue 12). Every worker therefore keeps them asserted:
 * on start, whenever its Redis connection becomes ready again, and every SCHEDULE_REASSERT_INTERVAL_MS.
 * Upserting the same scheduler id is idempotent, so any number of workers keep one schedule each.
 *
 * A scheduler found missing means its slots were lost with Redis (the sweep missed its run), so
 * the keeper also adds one immediate run of that sweep. Its job id names the schedule and the slot
 * (`<id>:<slot>:catchup`), so several workers noticing the same loss in the same slot add one job;
 * the sweeps are idempotent, so a second run across a slot boundary is harmless.
 */

/** How often each worker re-asserts the schedulers even without a reconnect (an emptied Redis that
 * never dropped the connection, e.g. FLUSHALL, is noticed within this time). */
export const SCHEDULE_REASSERT_INTERVAL_MS = 60_000;

export interface ScheduleKeeperOptions {
  schedules: readonly Schedule[];
  /** Queues by name; a schedule whose queue is absent is skipped with a warning. */
  queues: ReadonlyMap<string, Queue>;
  /** The connection the queues use: its 'ready' after a reconnect triggers a re-assertion. */
  connection: Redis;
  logger: Logger;
  intervalMs?: number;
  now?: () => Date;
}

export interface ScheduleKeeper {
  /** Assert every scheduler now; resolves with the ids that were missing (and got a catch-up run). */
  reassert(): Promise<string[]>;
  /** No more passes; resolves once a pass under way has finished (before the queues close). */
  stop(): Promise<void>;
}

/** The catch-up job id of a schedule in the slot containing `now`. */
export function catchUpJobId(schedule: Schedule, now: Date): string {
  return `${schedule.id}:${Math.floor(now.getTime() / schedule.every_ms)}:catchup`;
}

export function startScheduleKeeper(opts: ScheduleKeeperOptions): ScheduleKeeper {
  const intervalMs = opts.intervalMs ?? SCHEDULE_REASSERT_INTERVAL_MS;
  const now = opts.now ?? (() => new Date());
  let stopped = false;
  // One pass at a time: a reconnect during a timer pass waits for it rather than racing it.
  let running: Promise<string[]> | null = null;

  async function assertOnce(): Promise<string[]> {
    const missing: string[] = [];
    for (const schedule of opts.schedules) {
      const queue = opts.queues.get(schedule.queue);
      if (!queue) {
        opts.logger.warn({ schedule: schedule.id, queue: schedule.queue }, "schedule's queue is not open here");
        continue;
      }
      const existing = await queue.getJobScheduler(schedule.id);
      await queue.upsertJobScheduler(schedule.id, { every: schedule.every_ms }, { name: schedule.jobName, data: {} });
      if (!existing) {
        missing.push(schedule.id);
        await queue.add(schedule.jobName, {}, jobOptionsFor(catchUpJobId(schedule, now())));
      }
    }
    if (missing.length > 0) opts.logger.info({ schedules: missing }, "job schedulers (re)registered; one catch-up run each");
    return missing;
  }

  function reassert(): Promise<string[]> {
    if (stopped) return Promise.resolve([]);
    if (running) return running.then(reassert, reassert);
    running = assertOnce().finally(() => {
      running = null;
    });
    return running;
  }

  const background = () => {
    reassert().catch((error: Error) => opts.logger.warn({ err: error }, "could not re-assert job schedulers; will retry"));
  };
  // 'ready' fires on every (re)connect; the first one may come before or after start, both fine.
  opts.connection.on("ready", background);
  const timer = setInterval(background, intervalMs);
  timer.unref();

  return {
    reassert,
    async stop() {
      stopped = true;
      clearInterval(timer);
      opts.connection.off("ready", background);
      await running?.catch(() => undefined);
    },
  };
}
