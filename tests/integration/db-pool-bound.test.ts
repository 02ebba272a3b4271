import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, DB_LIMITS, isPoolBusy, type DbHandle } from "../../db";
import { createApiKey } from "../../app/domain/identity/api-keys.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";

/**
 * A query waits a bounded time for a connection of the pool (DB_LIMITS.connectionWaitMs in server
 * mode), not in an unbounded queue; past it the API answers 503 `busy` with Retry-After, so an ERP
 * retries instead of piling up behind every other request. Here the pool has one connection, held
 * by an open transaction, and a wait of 200 ms.
 */

describe("the database pool's wait is bounded", () => {
  let t: TestDatabase;
  let small: DbHandle;
  let server: TestServer;
  let secret: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    small = createDb({ databaseUrl: t.url, poolMax: 1, connectionWaitMs: 200 });
    const org = await createOrg(small.db, { kind: "core_enterprise" });
    ({ secret } = await createApiKey(small.db, SYSTEM_ACTOR, org.id, { name: "ERP" }));
    server = await startTestServer(small.db, { dbMode: "server" });
  });

  afterAll(async () => {
    await server?.close();
    await small?.close();
    await t?.close();
  });

  /** Runs `work` while the pool's only connection is held by an open transaction. */
  async function whileHeld<T>(work: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holder = small.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      holding();
      await released;
    });
    await held;
    try {
      return await work();
    } finally {
      release();
      await holder;
    }
  }

  it("has a stated bound in server mode", () => {
    expect(DB_LIMITS.connectionWaitMs).toBeGreaterThan(0);
    expect(DB_LIMITS.connectionWaitMs).toBeLessThan(10_000);
  });

  it("refuses a query that found no free connection within the wait, with an error the app recognises", async () => {
    const error = await whileHeld(() => small.db.selectFrom("organizations").select("id").execute().then(() => null, (e: unknown) => e));
    expect(error).toBeInstanceOf(Error);
    expect(isPoolBusy(error)).toBe(true);
    // The pool is usable again once the connection is back.
    expect((await small.db.selectFrom("organizations").select("id").execute()).length).toBe(1);
  });

  it("answers an API request 503 busy with Retry-After while no connection is free, and serves it once one is", async () => {
    const ask = () => fetch(`${server.url}/api/v1/skus`, { headers: { authorization: `Bearer ${secret}` } });
    const busy = await whileHeld(ask);
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
    const body = (await busy.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("busy");
    expect(body.error.message).toMatch(/retry/);
    expect((await ask()).status).toBe(200);
  });
});
