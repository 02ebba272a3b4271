/**
 * Group commit: callers ask one at a time, the work is done many at a time. Requests that arrive
 * while a batch is running wait for the next one, so under load each transaction carries the
 * requests that queued behind the last (and costs its fixed number of statements once for all of
 * them), while a request arriving alone starts at once (no timer, no added latency).
 *
 * The runner settles each request on its own. When the runner itself fails (the transaction was
 * rolled back: nothing of the batch was written), a batch of several is retried one request at a
 * time, so a request that breaks the batch fails alone and the others go through.
 */

import { DomainError } from "./errors";

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Most requests one run carries. */
  maxBatch: number;
  /** Runs going on at once (each its own transaction and connection). */
  maxInFlight: number;
  /**
   * Requests that may wait for a run at once. Past it a request is refused at once (409, retry)
   * instead of queueing without bound in this process's memory while the database falls behind.
   */
  maxWaiting: number;
}

interface Waiting<Req, Res> {
  request: Req;
  resolve: (value: Res) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<Req, Res> {
  private readonly waiting: Waiting<Req, Res>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (batch: Req[]) => Promise<Settled<Res>[]>,
    private readonly options: GroupCommitOptions,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new Error("group commit: maxBatch must be a whole number ≥ 1");
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new Error("group commit: maxInFlight must be a whole number ≥ 1");
    if (!Number.isInteger(options.maxWaiting) || options.maxWaiting < options.maxBatch) throw new Error("group commit: maxWaiting must be a whole number ≥ maxBatch");
  }

  submit(request: Req): Promise<Res> {
    if (this.waiting.length >= this.options.maxWaiting) {
      return Promise.reject(new DomainError("conflict", "Too many requests are waiting to be written at this moment: retry in a second"));
    }
    return new Promise<Res>((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Start runs on the next turn of the event loop rather than now: requests made in the same turn
   * (a Promise.all, a burst of callbacks) then share the first run instead of each starting one.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      // A run alongside another only when at least half a batch waits: each run costs its fixed
      // statements, so a few requests are better served by the next run than by one of their own.
      if (this.inFlight > 0 && this.waiting.length < Math.ceil(this.options.maxBatch / 2)) return;
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.runBatch(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async runBatch(batch: Waiting<Req, Res>[]): Promise<void> {
    let outcomes: Settled<Res>[];
    try {
      outcomes = await this.run(batch.map((w) => w.request));
      if (outcomes.length !== batch.length) throw new Error(`group commit: ${outcomes.length} outcomes for ${batch.length} requests`);
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      for (const waiting of batch) await this.runBatch([waiting]);
      return;
    }
    outcomes.forEach((outcome, i) => (outcome.ok ? batch[i].resolve(outcome.value) : batch[i].reject(outcome.error)));
  }
}
