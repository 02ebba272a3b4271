import { sql, type Expression } from "kysely";
import type { Db } from "./index";

/** A row as it comes back through JSON: instants and dates as ISO text, numbers as numbers. */
export type JsonRow = Record<string, unknown>;

/**
 * Several independent SELECTs in one statement, each as a JSON array column: one round trip
 * instead of one per query. A busy path that needs many small reads at once (orders placed
 * together) pays for each round trip on both sides (the driver, the socket, the server's protocol
 * handling), so it reads them together. Each query's rows keep the order its ORDER BY gives
 * (json_agg over a sorted subquery). Values come back as JSON: the caller decodes instants
 * (`jsonInstant`) and relies on bigint columns staying below 2^53, as every fen amount does.
 */
export async function readTogether<K extends string>(db: Db, queries: Readonly<Record<K, Expression<unknown>>>): Promise<Record<K, JsonRow[]>> {
  const names = Object.keys(queries) as K[];
  if (names.length === 0) return {} as Record<K, JsonRow[]>;
  const columns = names.map((name, i) => sql`coalesce((select json_agg(t) from (${queries[name]}) as t), '[]'::json) as ${sql.id(`r${i}`)}`);
  const { rows } = await sql<Record<string, JsonRow[] | string>>`select ${sql.join(columns)}`.execute(db);
  const row = rows[0];
  const result = {} as Record<K, JsonRow[]>;
  names.forEach((name, i) => {
    const value = row[`r${i}`];
    // PostgreSQL's driver parses json; PGlite's does too, but be explicit about text.
    result[name] = (typeof value === "string" ? JSON.parse(value) : value) as JsonRow[];
  });
  return result;
}

/** An instant read through JSON (`timestamptz` as ISO text) as a Date. */
export function jsonInstant(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value !== "string") throw new TypeError(`expected an instant, got ${typeof value}`);
  return new Date(value);
}
