import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect, sql } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import { mkdirSync } from "node:fs";
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

export function createDb(options: CreateDbOptions = {}): DbHandle {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolMax ?? 20,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === PG_INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
      },
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
  if (!options.inMemory) {
    dataDir = path.resolve(options.dataDir ?? ".data");
    mkdirSync(dataDir, { recursive: true });
  }
  const pglite = new PGlite({
    dataDir: dataDir ? path.join(dataDir, "pg") : undefined,
    parsers: { [PG_INT8_OID]: parseInt8FromAny },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return { db, mode: "embedded", location: dataDir ?? "memory", close: () => db.destroy() };
}

export async function pingDb(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

export { sql };
