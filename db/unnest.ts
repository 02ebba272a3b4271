import { sql, type RawBuilder } from "kysely";

/** Column types an array parameter is cast to. JSON and instants travel as text and are cast per row. */
export type ArrayColumnType = "uuid" | "text" | "integer" | "bigint" | "boolean" | "timestamptz" | "jsonb";

export type ArrayColumns<Row> = readonly (readonly [column: keyof Row & string, type: ArrayColumnType])[];

function arrayOf(rows: readonly Record<string, unknown>[], column: string, type: ArrayColumnType): unknown[] {
  return rows.map((row) => {
    const value = row[column];
    if (value === undefined || value === null) return null;
    if (type === "timestamptz" && value instanceof Date) return value.toISOString();
    if (type === "jsonb" && typeof value !== "string") return JSON.stringify(value);
    return value;
  });
}

/**
 * Many rows as one array parameter per column, for `insert into t (…) <this>`:
 * `select … from unnest($1::uuid[], $2::text[], …) with ordinality as v (…) order by v.ord`.
 * Whatever the number of rows, the statement has the same text and as many parameters as columns,
 * so it costs the same to build, send, parse and plan; rows keep the order given.
 */
export function selectFromArrays<Row extends object>(rows: readonly Row[], columns: ArrayColumns<Row>, where?: RawBuilder<boolean>): RawBuilder<unknown> {
  const records = rows as readonly Record<string, unknown>[];
  const arrays = columns.map(([column, type]) => {
    const cast = type === "jsonb" || type === "timestamptz" ? "text" : type;
    return sql`${arrayOf(records, column, type)}::${sql.raw(cast)}[]`;
  });
  const selected = columns.map(([column, type]) =>
    type === "jsonb" || type === "timestamptz" ? sql`${sql.ref(`v.${column}`)}::${sql.raw(type)}` : sql.ref(`v.${column}`),
  );
  const names = columns.map(([column]) => sql.id(column));
  const filter = where ? sql` where ${where}` : sql``;
  return sql`select ${sql.join(selected)} from unnest(${sql.join(arrays)}) with ordinality as v (${sql.join(names)}, ord)${filter} order by v.ord`;
}

/**
 * `insert into <table> (<columns>) select … from unnest(…)`: see selectFromArrays. `where` (over the
 * rows as `v`, each column as its array's type: JSON and instants as text) writes only some of them.
 */
export function insertFromArrays<Row extends object>(table: string, rows: readonly Row[], columns: ArrayColumns<Row>, where?: RawBuilder<boolean>): RawBuilder<unknown> {
  return sql`insert into ${sql.table(table)} (${sql.join(columns.map(([column]) => sql.id(column)))}) ${selectFromArrays(rows, columns, where)}`;
}
