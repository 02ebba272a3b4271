import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

/** pgbench from PATH or the Debian location of PostgreSQL 15. */
export function pgbenchPath(): string {
  for (const candidate of ["/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench", "/usr/lib/postgresql/17/bin/pgbench"]) {
    if (existsSync(candidate)) return candidate;
  }
  return "pgbench";
}

export function connectionArgs(url: string): { args: string[]; database: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const args = ["-h", u.hostname || "127.0.0.1", "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres")];
  const env = { ...process.env, ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}) };
  return { args, database: u.pathname.slice(1), env };
}

/** Initialise TPC-B-like tables at `scale` in the (scratch) database of `url`. */
export async function pgbenchInit(url: string, scale: number): Promise<void> {
  const { args, database, env } = connectionArgs(url);
  await run(pgbenchPath(), [...args, "-i", "-q", "-s", String(scale), database], { env, maxBuffer: 16 * 1024 * 1024 });
}

/** TPC-B-like TPS with `clients` connections for `seconds`. */
export async function pgbenchTps(url: string, clients: number, seconds: number): Promise<number> {
  const { args, database, env } = connectionArgs(url);
  const { stdout } = await run(
    pgbenchPath(),
    [...args, "-b", "tpcb-like", "-c", String(clients), "-j", String(Math.min(clients, 2)), "-T", String(seconds), "-n", database],
    { env, maxBuffer: 16 * 1024 * 1024 },
  );
  const match = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(stdout);
  if (!match) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
  return Number(match[1]);
}
