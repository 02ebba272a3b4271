import { describe, expect, it } from "vitest";
import { GroupCommit, type Settled } from "../../app/domain/shared/group-commit";

/** A runner that records each batch it is given and answers per request (odd numbers refused). */
function recorder(options: { failWhen?: (batch: number[]) => boolean; delayMs?: number } = {}) {
  const batches: number[][] = [];
  let running = 0;
  let mostAtOnce = 0;
  const run = async (batch: number[]): Promise<Settled<number>[]> => {
    batches.push([...batch]);
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    try {
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 5));
      if (options.failWhen?.(batch)) throw new Error(`batch ${batch.join(",")} rolled back`);
      return batch.map((n) => (n % 2 === 1 ? { ok: false, error: new Error(`odd ${n}`) } : { ok: true, value: n * 10 }));
    } finally {
      running--;
    }
  };
  return { run, batches, mostAtOnce: () => mostAtOnce };
}

describe("group commit", () => {
  it("puts requests made in the same turn into one run, and settles each on its own", async () => {
    const r = recorder();
    const queue = new GroupCommit(r.run, { maxBatch: 32, maxInFlight: 2, maxWaiting: 1_000 });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((n) => queue.submit(n)));
    expect(r.batches).toEqual([[0, 1, 2, 3, 4]]);
    expect(results.map((x) => (x.status === "fulfilled" ? x.value : (x.reason as Error).message))).toEqual([0, "odd 1", 20, "odd 3", 40]);
  });

  it("never runs more than maxBatch requests together", async () => {
    const r = recorder();
    const queue = new GroupCommit(r.run, { maxBatch: 3, maxInFlight: 1, maxWaiting: 1_000 });
    await Promise.allSettled(Array.from({ length: 8 }, (_, n) => queue.submit(n * 2)));
    expect(r.batches.map((b) => b.length)).toEqual([3, 3, 2]);
    expect(r.batches.flat()).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
  });

  it("queues what arrives during a run for the next run, and starts a second run only for half a batch or more", async () => {
    const r = recorder({ delayMs: 20 });
    const queue = new GroupCommit(r.run, { maxBatch: 8, maxInFlight: 2, maxWaiting: 1_000 });
    const first = queue.submit(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // A run is going on: three waiting (less than half of 8) wait for it to end.
    const few = [2, 4, 6].map((n) => queue.submit(n));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(r.batches).toEqual([[0]]);
    await Promise.all([first, ...few]);
    expect(r.batches).toEqual([[0], [2, 4, 6]]);
    expect(r.mostAtOnce()).toBe(1);

    // Four or more waiting while a run goes on: a second run starts beside it.
    const busy = queue.submit(100);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const many = [102, 104, 106, 108].map((n) => queue.submit(n));
    await Promise.all([busy, ...many]);
    expect(r.batches.slice(2)).toEqual([[100], [102, 104, 106, 108]]);
    expect(r.mostAtOnce()).toBe(2);
  });

  it("retries a failed run one request at a time, so the request that breaks it fails alone", async () => {
    // A run containing 6 rolls back (as a transaction would); 6 alone fails, the others go through.
    const r = recorder({ failWhen: (batch) => batch.includes(6) });
    const queue = new GroupCommit(r.run, { maxBatch: 32, maxInFlight: 1, maxWaiting: 1_000 });
    const results = await Promise.allSettled([2, 4, 6, 8].map((n) => queue.submit(n)));
    expect(r.batches).toEqual([[2, 4, 6, 8], [2], [4], [6], [8]]);
    expect(results.map((x) => (x.status === "fulfilled" ? x.value : (x.reason as Error).message))).toEqual([20, 40, "batch 6 rolled back", 80]);
  });

  it("refuses a request past maxWaiting at once (409, retry), and still serves those already waiting", async () => {
    const r = recorder({ delayMs: 20 });
    const queue = new GroupCommit(r.run, { maxBatch: 2, maxInFlight: 1, maxWaiting: 4 });
    const running = queue.submit(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const waiting = [2, 4, 6, 8].map((n) => queue.submit(n));
    await expect(queue.submit(10)).rejects.toMatchObject({ code: "conflict", status: 409 });
    expect(await Promise.all([running, ...waiting])).toEqual([0, 20, 40, 60, 80]);
    // Room again once the queue has drained.
    expect(await queue.submit(12)).toBe(120);
  });

  it("refuses nonsense options", () => {
    const r = recorder();
    expect(() => new GroupCommit(r.run, { maxBatch: 0, maxInFlight: 1, maxWaiting: 1_000 })).toThrow(/maxBatch/);
    expect(() => new GroupCommit(r.run, { maxBatch: 1, maxInFlight: 0.5, maxWaiting: 1_000 })).toThrow(/maxInFlight/);
    expect(() => new GroupCommit(r.run, { maxBatch: 8, maxInFlight: 1, maxWaiting: 4 })).toThrow(/maxWaiting/);
  });
});
