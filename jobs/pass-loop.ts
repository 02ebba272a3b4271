import type { Logger } from "../app/logger.server";

/**
 * A background loop of passes over PostgreSQL (the relay, the redelivery sweep): the next pass at
 * once while a pass says there is more, every `intervalMs` when idle, and with capped exponential
 * backoff while passes fail (database or Redis down). One pass at a time per loop; several loops in
 * several processes are kept apart by the passes themselves (SKIP LOCKED).
 */

export interface PassLoopOptions {
  /** Names the loop in its log lines. */
  name: string;
  intervalMs: number;
  logger: Logger;
  /** One pass; `again`: more is due now, so do not wait the interval. */
  pass(): Promise<{ again: boolean }>;
}

export interface PassLoop {
  /** Finish the pass in flight, then stop; no pass starts after this is called. */
  stop(): Promise<void>;
  /** When a pass last completed without error (null before the first). */
  lastSuccessAt(): Date | null;
}

/** A failing loop waits at most this long before trying again. */
const ERROR_BACKOFF_CAP_MS = 30_000;

export function startPassLoop(options: PassLoopOptions): PassLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | null = null;
  let consecutiveFailures = 0;
  let lastSuccess: Date | null = null;

  const run = async (): Promise<void> => {
    let delayMs = options.intervalMs;
    try {
      const { again } = await options.pass();
      consecutiveFailures = 0;
      lastSuccess = new Date();
      if (again) delayMs = 0;
    } catch (error) {
      consecutiveFailures += 1;
      delayMs = Math.min(ERROR_BACKOFF_CAP_MS, Math.max(options.intervalMs, 250) * 2 ** Math.min(consecutiveFailures, 10));
      options.logger.error({ err: error, consecutiveFailures, retryInMs: delayMs }, `${options.name}: pass failed`);
    }
    if (!stopped) timer = setTimeout(schedule, delayMs);
  };

  const schedule = (): void => {
    inFlight = run().finally(() => {
      inFlight = null;
    });
  };

  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
    lastSuccessAt: () => lastSuccess,
  };
}
