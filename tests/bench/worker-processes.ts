import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { cpuBetween, cpuSnapshot, type CpuSnapshot } from "./cpu";

/**
 * Worker processes for the benchmarks that drive workflows the way production does (`npm run
 * worker` = `node --import tsx jobs/worker.ts`), their Redis keys, and where the CPU went.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  failures: number;
  errors: string[];
}

/** A worker on `databaseUrl` and `redisUrl` under `prefix`; `onLog` sees every JSON log line. */
export function startWorker(options: { databaseUrl: string; redisUrl: string; prefix: string; index: number; onLog?: (entry: Record<string, unknown>) => void }): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: options.databaseUrl, REDIS_URL: options.redisUrl, REDIS_PREFIX: options.prefix, LOG_LEVEL: "info", SEED_DEMO: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const worker: WorkerProcess = { child, ready: Promise.resolve(), exited: Promise.resolve(null), failures: 0, errors: [] };
  worker.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  worker.ready = new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`worker ${options.index} exited with ${code} before it was ready: ${worker.errors.join(" | ")}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let entry: Record<string, unknown> & { msg?: string; level?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      options.onLog?.(entry);
      if (entry.msg === "worker ready") resolve();
      else if ((entry.level ?? 0) >= 40) {
        worker.failures += 1;
        if (worker.errors.length < 5) worker.errors.push(line.slice(0, 500));
      }
    });
    createInterface({ input: child.stderr! }).on("line", (line) => {
      if (worker.errors.length < 5) worker.errors.push(line.slice(0, 500));
    });
  });
  // A worker that dies before it is awaited must not become an unhandled rejection.
  worker.ready.catch(() => undefined);
  return worker;
}

export async function stopWorker(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill("SIGTERM");
  const timer = setTimeout(() => worker.child.kill("SIGKILL"), 40_000);
  await worker.exited;
  clearTimeout(timer);
}

export async function deleteRedisKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}

/** CPU by process group: the bench's database, the workers, Redis, the bench itself, the rest. */
export function snapshot(dbName: string, workerPids: readonly number[]): CpuSnapshot {
  return cpuSnapshot((pid, cmdline) =>
    workerPids.includes(pid)
      ? "workers"
      : pid === process.pid
        ? "bench"
        : cmdline.startsWith("postgres: ") || cmdline.includes("/postgres ")
          ? cmdline.includes(` ${dbName} `)
            ? "postgres"
            : "postgres (other work)"
          : cmdline.startsWith("redis-server")
            ? "redis"
            : "others",
  );
}

export function hasProc(): boolean {
  return existsSync("/proc/stat");
}

export { cpuBetween };
