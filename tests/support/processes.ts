import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { ensureBuild, ROOT } from "./build";

/**
 * The product as the operator runs it, for server-mode and fault tests: `server.ts` and
 * `jobs/worker.ts` as real child processes, and private `redis-server`s a test may kill, restart
 * empty or start late without touching the machine's shared Redis. Everything started here is
 * registered, so one `killAll()` in afterAll leaves nothing behind when a test fails half-way.
 */

const REDIS_SERVER_BIN = "/usr/bin/redis-server";
const REDIS_START_TIMEOUT_MS = 10_000;
const REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** Each stream keeps its newest bytes only: a chatty child must not grow the test's memory. */
const OUTPUT_LIMIT_BYTES = 512 * 1024;
const HTTP_ATTEMPT_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 100;
const KILL_WAIT_MS = 5_000;
/** Log lines quoted in a failure message: enough to see why, short enough to read. */
const FAILURE_TAIL_BYTES = 8 * 1024;

export const TEST_PROCESS_SESSION_SECRET = "test-process-session-secret-0123456789abcdef";

type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

const liveChildren = new Set<SpawnedProcess>();
/** Each private Redis with a synchronous last-resort kill, for the exit hook below. */
const liveRedis = new Map<PrivateRedis, () => void>();

/**
 * A test file that forgets killAll, or is cut off before afterAll, must not leave servers running.
 * Only synchronous work is possible here (kill, rmSync). vitest ends its worker processes with
 * SIGTERM, which skips "exit": clean up, then let the signal take its default course.
 */
function killEverythingNow(): void {
  for (const spawned of liveChildren) spawned.kill("SIGKILL");
  for (const killNow of liveRedis.values()) killNow();
}
process.once("exit", killEverythingNow);
process.once("SIGTERM", () => {
  killEverythingNow();
  process.kill(process.pid, "SIGTERM");
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A TCP port nobody listens on right now (the OS picks it); never the shared 6379. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("could not get a free port"))));
    });
  });
}

/** Output kept from one stream: the newest OUTPUT_LIMIT_BYTES, with a count of what was dropped. */
class BoundedText {
  private text = "";
  private dropped = 0;

  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > OUTPUT_LIMIT_BYTES) {
      const cut = this.text.length - OUTPUT_LIMIT_BYTES;
      this.text = this.text.slice(cut);
      this.dropped += cut;
    }
  }

  /** Characters seen so far, including dropped ones: a mark to search from. */
  get total(): number {
    return this.dropped + this.text.length;
  }

  since(mark: number): string {
    return this.text.slice(Math.max(0, mark - this.dropped));
  }

  toString(): string {
    return this.text;
  }
}

// ---------------------------------------------------------------------------------------------
// Private Redis

export interface PrivateRedis {
  url: string;
  port: number;
  readonly isRunning: boolean;
  /** Stop it (SIGTERM, SIGKILL if it lingers) and remove its folder. Safe to call twice. */
  stop(): Promise<void>;
  /** A crash and a fresh start: SIGKILL, then a new server on the same port with no keys. */
  restartEmpty(): Promise<void>;
  flushAll(): Promise<void>;
  /** What redis-server printed (its log goes to stdout), for failure messages. */
  output(): string;
}

/**
 * One inline Redis command over a bare socket; resolves with the reply once `complete` says it is
 * whole (by default: its first line).
 */
function redisCommand(
  port: number,
  command: string,
  timeoutMs = REDIS_COMMAND_TIMEOUT_MS,
  complete: (reply: string) => boolean = (reply) => reply.includes("\r\n"),
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on port ${port}: no answer to ${command} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (!complete(reply)) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** The pid of whatever redis-server answers on `port`: tells ours from a stranger on the same port. */
async function redisPid(port: number): Promise<number | null> {
  const info = await redisCommand(port, "INFO server", 500, (reply) => /\r\nprocess_id:\d+\r\n/.test(reply)).catch(() => "");
  const match = /\r\nprocess_id:(\d+)\r\n/.exec(info);
  return match ? Number(match[1]) : null;
}

/**
 * A `redis-server` of the test's own: nothing saved to disk, its own folder, on `port` (a free one
 * by default). Resolves once it answers PING. To have Redis down first and up later, take a port
 * with `freePort()`, point the processes at `redis://127.0.0.1:<port>`, and call this later.
 */
export async function startPrivateRedis(options: { port?: number } = {}): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort());
  if (port === 6379) throw new Error("startPrivateRedis: 6379 is the machine's shared Redis; use a port of the test's own");
  let child: ChildProcess | null = null;
  let exited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  let dir: string | null = null;
  const out = new BoundedText();

  const launch = async () => {
    // Something already answering here would answer our PINGs too, and the test would use it.
    if ((await redisCommand(port, "PING", 500).catch(() => null)) !== null) {
      throw new Error(`startPrivateRedis: port ${port} is already in use`);
    }
    dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-redis-"));
    const proc = spawn(
      REDIS_SERVER_BIN,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", ""],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = proc;
    proc.stdout?.on("data", (chunk: Buffer) => out.append(chunk.toString()));
    proc.stderr?.on("data", (chunk: Buffer) => out.append(chunk.toString()));
    exited = new Promise<ExitStatus>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
    let gone: ExitStatus | null = null;
    void exited.then((status) => (gone = status));
    const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
    for (;;) {
      if (gone) throw new Error(`redis-server on port ${port} exited (${JSON.stringify(gone)}) before answering PING:\n${out.toString()}`);
      const pong = await redisCommand(port, "PING", 500).catch(() => null);
      if (pong?.startsWith("+PONG") && (await redisPid(port)) === proc.pid) return;
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not answer PING within ${REDIS_START_TIMEOUT_MS} ms:\n${out.toString()}`);
      }
      await sleep(50);
    }
  };

  const halt = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const lingering = setTimeout(() => proc.kill("SIGKILL"), KILL_WAIT_MS);
      await exited;
      clearTimeout(lingering);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  };

  const killNow = () => {
    child?.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get isRunning() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async stop() {
      liveRedis.delete(redis);
      await halt("SIGTERM");
    },
    async restartEmpty() {
      await halt("SIGKILL");
      liveRedis.set(redis, killNow);
      await launch();
    },
    async flushAll() {
      const reply = await redisCommand(port, "FLUSHALL");
      if (!reply.startsWith("+OK")) throw new Error(`redis on port ${port}: FLUSHALL answered ${reply}`);
    },
    output: () => out.toString(),
  };
  liveRedis.set(redis, killNow);
  try {
    await launch();
  } catch (error) {
    await redis.stop();
    throw error;
  }
  return redis;
}

// ---------------------------------------------------------------------------------------------
// Web and worker processes

export interface SpawnedProcess {
  /** "web" or "worker", with the pid: names the process in failure messages. */
  name: string;
  child: ChildProcess;
  readonly isRunning: boolean;
  stdout(): string;
  stderr(): string;
  /** Length of stdout + stderr so far: pass it to waitForLog to match only lines logged after it. */
  mark(): number;
  /** Resolves with the matched text once stdout or stderr matches; fails on timeout or exit. */
  waitForLog(pattern: RegExp, timeoutMs: number, since?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<ExitStatus>;
  /** The last lines of both streams, to put in an assertion's message. */
  describe(): string;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export interface SpawnedWeb extends SpawnedProcess {
  port: number;
  url: string;
  /** One request with a timeout; rejects when nothing answers (not listening, hung). */
  request(urlPath: string, init?: RequestInit): Promise<HttpAnswer>;
  /** Poll `urlPath` until `accept` says yes; fails on timeout (with the last answer) or exit. */
  waitForHttp(urlPath: string, accept: (answer: HttpAnswer) => boolean, timeoutMs: number): Promise<HttpAnswer>;
}

type ChildEnv = Record<string, string | undefined>;

function spawnScript(label: string, script: string, env: ChildEnv): SpawnedProcess {
  // Plain node with tsx's loader: signals reach the process itself, not a wrapper around it.
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: ROOT,
    // Only what the product reads: the test process's own settings (LOG_LEVEL=silent) stay out.
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = new BoundedText();
  const err = new BoundedText();
  const all = new BoundedText();
  child.stdout?.on("data", (chunk: Buffer) => {
    out.append(chunk.toString());
    all.append(chunk.toString());
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err.append(chunk.toString());
    all.append(chunk.toString());
  });
  let status: ExitStatus | null = null;
  const exited = new Promise<ExitStatus>((resolve) =>
    child.once("exit", (code, signal) => {
      status = { code, signal };
      resolve(status);
    }),
  );
  const name = `${label} (pid ${child.pid ?? "?"})`;
  const describe = () => {
    const tail = all.toString().slice(-FAILURE_TAIL_BYTES);
    return `--- ${name}${status ? `, exited ${JSON.stringify(status)}` : ""}: last output ---\n${tail}\n--- end of ${name} ---`;
  };

  const spawned: SpawnedProcess = {
    name,
    child,
    get isRunning() {
      return status === null;
    },
    stdout: () => out.toString(),
    stderr: () => err.toString(),
    mark: () => all.total,
    async waitForLog(pattern, timeoutMs, since = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(all.since(since));
        if (match) return match[0];
        if (status) throw new Error(`${name} exited before logging ${pattern}\n${describe()}`);
        if (Date.now() > deadline) throw new Error(`${name} did not log ${pattern} within ${timeoutMs} ms\n${describe()}`);
        await sleep(POLL_INTERVAL_MS);
      }
    },
    kill(signal = "SIGTERM") {
      if (status === null) child.kill(signal);
    },
    exited,
    describe,
  };
  liveChildren.add(spawned);
  void exited.then(() => liveChildren.delete(spawned));
  return spawned;
}

/**
 * `server.ts` on a port of its own (after `remix build` if the build is stale). Server mode when
 * `env` has DATABASE_URL and REDIS_URL. Defaults: SESSION_SECRET, PUBLIC_URL at its own port.
 * `options.port` restarts a killed web where its clients (and e-Pay callbacks) expect it.
 */
export async function spawnWeb(env: ChildEnv, options: { port?: number } = {}): Promise<SpawnedWeb> {
  await ensureBuild();
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const base = spawnScript("web", "server.ts", {
    SESSION_SECRET: TEST_PROCESS_SESSION_SECRET,
    PUBLIC_URL: url,
    ...env,
    PORT: String(port),
  });

  const request = async (urlPath: string, init: RequestInit = {}): Promise<HttpAnswer> => {
    const res = await fetch(new URL(urlPath, url), { redirect: "manual", signal: AbortSignal.timeout(HTTP_ATTEMPT_TIMEOUT_MS), ...init });
    return { status: res.status, headers: res.headers, body: await res.text() };
  };

  const web: SpawnedWeb = Object.assign(base, {
    port,
    url,
    request,
    async waitForHttp(urlPath: string, accept: (answer: HttpAnswer) => boolean, timeoutMs: number): Promise<HttpAnswer> {
      const deadline = Date.now() + timeoutMs;
      let last = "nothing yet";
      for (;;) {
        if (!base.isRunning) throw new Error(`${base.name} exited while waiting for GET ${urlPath}\n${base.describe()}`);
        try {
          const answer = await request(urlPath);
          if (accept(answer)) return answer;
          last = `${answer.status} ${answer.body.slice(0, 500)}`;
        } catch (error) {
          last = (error as Error).message;
        }
        if (Date.now() > deadline) {
          throw new Error(`GET ${urlPath} on ${base.name} not as expected within ${timeoutMs} ms; last: ${last}\n${base.describe()}`);
        }
        await sleep(POLL_INTERVAL_MS);
      }
    },
  });
  return web;
}

/** `npm run worker` (jobs/worker.ts): relay and BullMQ workers, configured from `env`. */
export function spawnWorker(env: ChildEnv): SpawnedProcess {
  return spawnScript("worker", "jobs/worker.ts", env);
}

/**
 * For afterAll: SIGKILL every child still running and stop every private Redis, so a failed test
 * leaves no process or folder behind. Waits (bounded) until they are gone.
 */
export async function killAll(): Promise<void> {
  const children = [...liveChildren];
  for (const spawned of children) spawned.kill("SIGKILL");
  await Promise.all(children.map((spawned) => Promise.race([spawned.exited, sleep(KILL_WAIT_MS)])));
  await Promise.all([...liveRedis.keys()].map((redis) => redis.stop()));
}
