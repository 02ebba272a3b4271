import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect, sql, type Transaction } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Database } from "./schema";

export type { Database } from "./schema";
export type Db = Kysely<Database>;
export type DbMode = "server" | "embedded";

export interface DbHandle {
  db: Db;
  mode: DbMode;
  /** Where the data lives: the DATABASE_URL without password, or the PGlite folder. */
  location: string;
  close(): Promise<void>;
}

export interface CreateDbOptions {
  /** PostgreSQL connection string; when absent the embedded PGlite database is used. */
  databaseUrl?: string;
  /** Folder for the embedded database (default ./.data). Ignored in server mode. */
  dataDir?: string;
  /** Use an in-memory PGlite (tests). */
  inMemory?: boolean;
  poolMax?: number;
  /** How long a query may wait for a free connection of the pool (server mode); DB_LIMITS by default. */
  connectionWaitMs?: number;
}

/**
 * Server mode's pool: at most `poolMax` connections per process (PostgreSQL does best with a few per
 * core, not one per request), and a query waits at most `connectionWaitMs` for one. pg's pool would
 * otherwise queue waiters without bound: under overload every request would wait behind all the
 * others, past the API's work budget (10 s) and its clients' patience. Past the wait the query fails
 * with a PoolBusyError, which the API answers 503 with Retry-After.
 */
export const DB_LIMITS = { poolMax: 20, connectionWaitMs: 5_000 } as const;

/** The error pg's pool gives a query that waited connectionWaitMs for a connection. */
export function isPoolBusy(error: unknown): boolean {
  return error instanceof Error && error.message === "timeout exceeded when trying to connect";
}

const PG_INT8_OID = 20;

/**
 * bigint columns hold fen; JS numbers are exact up to 2^53 (about 90 trillion yuan), so values are
 * parsed to number here, once, and anything larger is refused rather than silently rounded.
 */
export function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int8 value ${text} is outside the safe integer range`);
  }
  return value;
}

function parseInt8FromAny(value: unknown): number {
  return parseInt8(String(value));
}

/**
 * A connection that prepares the statements it runs again and again. PostgreSQL parses and plans
 * an unnamed statement on every run; for the short statements of a busy path that is most of their
 * server time. A statement text seen `PREPARE_AFTER_RUNS` times on a connection is sent as a named
 * (prepared) statement from then on: parsed once, and planned generically once PostgreSQL finds
 * that as good as planning each run. Each connection prepares at most `MAX_PREPARED_PER_CONNECTION`
 * statements (the server keeps their plans while the connection lives), and counts at most
 * `MAX_COUNTED_PER_CONNECTION` texts it has not prepared, so neither side grows without bound
 * however many distinct texts (IN lists of every length) the application sends.
 */
export const STATEMENT_CACHE = { PREPARE_AFTER_RUNS: 3, MAX_PREPARED_PER_CONNECTION: 200, MAX_COUNTED_PER_CONNECTION: 2_000 } as const;

export class PreparingClient extends pg.Client {
  readonly #prepared = new Map<string, string>();
  #runs = new Map<string, number>();

  #nameFor(text: string): string | undefined {
    const name = this.#prepared.get(text);
    if (name !== undefined || this.#prepared.size >= STATEMENT_CACHE.MAX_PREPARED_PER_CONNECTION) return name;
    const runs = (this.#runs.get(text) ?? 0) + 1;
    if (runs < STATEMENT_CACHE.PREPARE_AFTER_RUNS) {
      if (this.#runs.size >= STATEMENT_CACHE.MAX_COUNTED_PER_CONNECTION) this.#runs = new Map();
      this.#runs.set(text, runs);
      return undefined;
    }
    this.#runs.delete(text);
    const fresh = `rt_${this.#prepared.size + 1}`;
    this.#prepared.set(text, fresh);
    return fresh;
  }

  // pg's query() has many overloads; only the form Kysely uses (text, values) is prepared.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [config, values, callback] = args as [unknown, unknown, unknown];
    if (typeof config === "string" && Array.isArray(values) && callback === undefined) {
      const name = this.#nameFor(config);
      if (name) return super.query({ name, text: config, values });
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return (super.query as (...a: any[]) => any)(...args);
  }
}

export function createDb(options: CreateDbOptions = {}): DbHandle {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      Client: PreparingClient,
      connectionString: options.databaseUrl,
      max: options.poolMax ?? DB_LIMITS.poolMax,
      connectionTimeoutMillis: options.connectionWaitMs ?? DB_LIMITS.connectionWaitMs,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === PG_INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client whose connection the server closes (a restart, an admin's terminate) makes
    // the pool emit 'error'; unheard, that event would crash the process. The pool drops the
    // client itself and the next query opens a new connection, so saying so is all there is to do.
    pool.on("error", (error) => {
      process.stderr.write(`postgres: idle connection lost: ${error.message}\n`);
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    let location = options.databaseUrl;
    try {
      const url = new URL(options.databaseUrl);
      url.password = "";
      location = url.toString();
    } catch {
      location = "postgresql";
    }
    return { db, mode: "server", location, close: () => db.destroy() };
  }

  let dataDir: string | undefined;
  let releaseLock = () => {};
  if (!options.inMemory) {
    dataDir = path.resolve(options.dataDir ?? ".data");
    mkdirSync(dataDir, { recursive: true });
    releaseLock = lockDataDir(dataDir);
  }
  const pglite = new PGlite({
    dataDir: dataDir ? path.join(dataDir, "pg") : undefined,
    parsers: { [PG_INT8_OID]: parseInt8FromAny },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    mode: "embedded",
    location: dataDir ?? "memory",
    close: async () => {
      try {
        await db.destroy();
      } finally {
        releaseLock();
      }
    },
  };
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite is one process's database: a second process opening the same folder would corrupt it.
 * A lock file naming the owner's pid refuses the second opener; a dead owner's lock is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockPath = path.join(dataDir, "pglite.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(lockPath, "utf8").trim());
      if (owner && owner !== process.pid && processIsAlive(owner)) {
        throw new Error(
          `the embedded database in ${dataDir} is open in process ${owner} (PGlite allows one process at a time): ` +
            "stop that process first, or use PostgreSQL with DATABASE_URL",
        );
      }
      unlinkSync(lockPath);
    }
  }
  const release = () => {
    try {
      if (readFileSync(lockPath, "utf8").trim() === String(process.pid)) unlinkSync(lockPath);
    } catch {
      // already gone
    }
  };
  process.once("exit", release);
  return release;
}

/**
 * Run `work` in the caller's transaction when there is one, else in a new one: model functions
 * compose inside a route's or a step's transaction and still stand alone.
 */
export function inTransaction<T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  // A Kysely that says it is a transaction is a Transaction; the cast only tells the type system.
  return db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);
}

export async function pingDb(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

export { sql };
