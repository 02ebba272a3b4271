import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/db";

describe("the PostgreSQL pool", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 2 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("survives the server closing an idle connection, and the next query reconnects", async () => {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(t.db);
    const pid = rows[0].pid;
    // Another session terminates this idle backend, as a restart or an administrator would.
    const admin = await createTestDatabase({ poolMax: 1 });
    try {
      await sql`select pg_terminate_backend(${pid})`.execute(admin.db);
    } finally {
      await admin.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    const again = await sql<{ one: number }>`select 1 as one`.execute(t.db);
    expect(again.rows[0].one).toBe(1);
  });
});
