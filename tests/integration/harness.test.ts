import { afterAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { createEmbeddedTestDatabase, createTestDatabase } from "../support/db";

describe("test harness", () => {
  const handles: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const h of handles) await h.close();
  });

  it("gives each file a migrated PostgreSQL database that parses bigint to number", async () => {
    const t = await createTestDatabase();
    handles.push(t);
    const { rows } = await sql<{ n: number }>`select 9007199254740991::int8 as n`.execute(t.db);
    expect(rows[0].n).toBe(9007199254740991);
    await expect(sql`select 9007199254740993::int8 as n`.execute(t.db)).rejects.toThrow(/safe integer/);
    const tables = await t.db.introspection.getTables();
    expect(tables.map((x) => x.name)).toContain("ledger_transfers");
  });

  it("gives the same schema and parsing on embedded PGlite", async () => {
    const e = await createEmbeddedTestDatabase();
    handles.push(e);
    const { rows } = await sql<{ n: number }>`select count(*) as n from organizations`.execute(e.db);
    expect(rows[0].n).toBe(0);
    await expect(sql`select 9007199254740993::int8 as n`.execute(e.db)).rejects.toThrow(/safe integer/);
  });
});
