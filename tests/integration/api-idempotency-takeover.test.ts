import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db, type DbHandle } from "../../db";
import {
  boundWorkTransaction,
  claimIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY,
  IDEMPOTENCY_TAKEOVER_SECONDS,
  requestHash,
} from "../../app/api/idempotency.server";
import { createApiKey } from "../../app/domain/identity/api-keys.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { ROOT } from "../support/build";
import { createEmbeddedTestDatabase, createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, expectError, type ApiAnswer } from "./api.fixtures";

/**
 * A web process killed mid-request leaves an `in_progress` claim whose work never committed. An
 * ERP retrying with the same Idempotency-Key must get a clean 409 saying when to come back, then —
 * once the claim is older than the takeover time — exactly one execution, then the replay. Real
 * PostgreSQL and the real HTTP stack; the dead request is simulated by claiming the key as it did
 * (claimIdempotencyKey) and never completing.
 */

const SKUS = "/api/v1/skus";

const newSku = (code: string) => ({
  code,
  name: `测试 ${code}`,
  unit: "台",
  pack_size: 1,
  moq: 1,
  base_price_fen: 199_900,
  tax_rate_bps: 1300,
  stock_on_hand: 10,
});

interface World {
  db: Db;
  server: TestServer;
  erp: ApiClient;
  orgId: string;
}

async function openWorld(handle: DbHandle): Promise<World> {
  const org = await createOrg(handle.db, { kind: "core_enterprise" });
  const { secret } = await createApiKey(handle.db, SYSTEM_ACTOR, org.id, { name: "ERP" });
  const server = await startTestServer(handle.db, { dbMode: handle.mode });
  return { db: handle.db, server, erp: new ApiClient(server.url, secret), orgId: org.id };
}

const skuCount = async (w: World, code: string) =>
  Number(
    (
      await w.db
        .selectFrom("skus")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("core_enterprise_id", "=", w.orgId)
        .where("code", "=", code)
        .executeTakeFirstOrThrow()
    ).n,
  );

/** The request that died: it claimed the key exactly as the handler does, then its process was killed. */
async function claimAsDeadRequest(w: World, key: string, body: unknown) {
  const claim = await claimIdempotencyKey(w.db, {
    scope: w.orgId,
    key,
    requestHash: requestHash("POST", SKUS, body),
    method: "POST",
    path: SKUS,
  });
  expect(claim.kind).toBe("execute");
  return { scope: w.orgId, key, lockToken: (claim as { lockToken: string }).lockToken };
}

/** Simulates elapsed time: makes the claim look `ageMs` old instead of sleeping that long. */
async function ageClaim(w: World, key: string, ageMs: number): Promise<void> {
  await w.db
    .updateTable("idempotency_keys")
    .set({ locked_at: sql<Date>`now() - make_interval(secs => ${ageMs / 1000})` })
    .where("scope", "=", w.orgId)
    .where("key", "=", key)
    .execute();
}

function expectInProgress(res: ApiAnswer<unknown>): number {
  const error = expectError(res, 409, "conflict");
  expect(error.fields).toEqual({ "Idempotency-Key": "in_progress" });
  const retryAfter = res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
  const seconds = Number(retryAfter);
  expect(seconds).toBeLessThanOrEqual(IDEMPOTENCY_TAKEOVER_SECONDS);
  expect(error.message).toContain(`retry in ${seconds} s`);
  return seconds;
}

/** The whole story of a dead request and the ERP's retries; the same on both engines. */
async function deadRequestThenRetries(w: World, code: string): Promise<void> {
  const key = randomUUID();
  const body = newSku(code);
  const dead = await claimAsDeadRequest(w, key, body);

  // Just after the crash nobody can tell it from a live duplicate: 409, retry in a second.
  expect(expectInProgress(await w.erp.post(SKUS, body, { key }))).toBe(1);
  // Simulated: a few seconds on, still unfinished: probably dead; come back when it can be taken over.
  await ageClaim(w, key, 3_000);
  expect(expectInProgress(await w.erp.post(SKUS, body, { key }))).toBeGreaterThan(IDEMPOTENCY_TAKEOVER_SECONDS - 5);
  // Another body under this key is a different request, whatever state the key is in.
  expectError(await w.erp.post(SKUS, newSku(`${code}-OTHER`), { key }), 422, "idempotency_conflict");
  // Simulated: the claim is now 3 s short of the takeover time; Retry-After counts down to it.
  await ageClaim(w, key, IDEMPOTENCY.staleAfterMs - 3_000);
  expect(expectInProgress(await w.erp.post(SKUS, body, { key }))).toBeLessThanOrEqual(3);
  expect(await skuCount(w, code)).toBe(0);

  // Simulated: the takeover time has passed since the dead request claimed the key.
  await ageClaim(w, key, IDEMPOTENCY.staleAfterMs + 1_000);
  const executed = await w.erp.post<{ id: string; code: string }>(SKUS, body, { key });
  expect(executed.status, JSON.stringify(executed.body)).toBe(201);
  expect(executed.headers.get("idempotent-replayed")).toBeNull();
  expect(executed.body.code).toBe(code);
  expect(await skuCount(w, code)).toBe(1);

  const replayed = await w.erp.post<{ id: string }>(SKUS, body, { key });
  expect(replayed.status).toBe(201);
  expect(replayed.headers.get("idempotent-replayed")).toBe("true");
  expect(replayed.body).toEqual(executed.body);
  expect(await skuCount(w, code)).toBe(1);
  expectError(await w.erp.post(SKUS, newSku(`${code}-OTHER`), { key }), 422, "idempotency_conflict");

  // I1 from the dead holder's side: had it come back to life, its fenced completion matches no row.
  const stillAlive = await w.db.transaction().execute((trx) => completeIdempotencyKey(trx, dead, { status: 201, body: { ghost: true } }));
  expect(stillAlive).toBe(false);
  const row = await w.db.selectFrom("idempotency_keys").select(["status", "response_status"]).where("scope", "=", w.orgId).where("key", "=", key).executeTakeFirstOrThrow();
  expect(row).toEqual({ status: "completed", response_status: 201 });
}

describe("Idempotency-Key takeover after a web process died mid-request (PostgreSQL)", () => {
  let t: TestDatabase;
  let w: World;

  beforeAll(async () => {
    t = await createTestDatabase();
    w = await openWorld(t);
  });

  afterAll(async () => {
    await w?.server.close();
    await t?.close();
  });

  it("answers 409 with Retry-After until the takeover time, then executes once, then replays", async () => {
    await deadRequestThenRetries(w, "TAKEOVER-PG-1");
  });

  it("executes a truly concurrent duplicate once: the other gets 409 in_progress or the replay", async () => {
    for (let round = 0; round < 5; round++) {
      const key = randomUUID();
      const code = `RACE-${round}`;
      const body = newSku(code);
      const answers = await Promise.all([w.erp.post<{ id: string }>(SKUS, body, { key }), w.erp.post<{ id: string }>(SKUS, body, { key })]);
      const ok = answers.filter((a) => a.status === 201);
      expect(ok.length, JSON.stringify(answers.map((a) => [a.status, a.body]))).toBeGreaterThanOrEqual(1);
      for (const a of ok) expect(a.body.id).toBe(ok[0].body.id);
      for (const a of answers.filter((x) => x.status !== 201)) expectInProgress(a);
      expect(await skuCount(w, code)).toBe(1);
      const later = await w.erp.post<{ id: string }>(SKUS, body, { key });
      expect(later.headers.get("idempotent-replayed")).toBe("true");
      expect(later.body.id).toBe(ok[0].body.id);
    }
  });

  it("bounds the work transaction below the takeover time, for that transaction only", async () => {
    expect(IDEMPOTENCY.workBudgetMs + IDEMPOTENCY.workStatementTimeoutMs).toBeLessThanOrEqual(IDEMPOTENCY.staleAfterMs);
    // One connection, so the check after the transaction reads the very session it ran on.
    const single = createDb({ databaseUrl: t.url, poolMax: 1 }).db;
    try {
      const inside = await single.transaction().execute(async (trx) => {
        await boundWorkTransaction(trx);
        return (await sql<{ ms: string }>`select current_setting('statement_timeout') as ms`.execute(trx)).rows[0].ms;
      });
      expect(inside).toBe(`${IDEMPOTENCY.workStatementTimeoutMs / 1000}s`);
      const after = (await sql<{ ms: string }>`select current_setting('statement_timeout') as ms`.execute(single)).rows[0].ms;
      expect(after).toBe("0");
      await expect(boundWorkTransaction(single)).rejects.toThrow(/inside the work's transaction/);
    } finally {
      await single.destroy();
    }
  });

  it(
    "rolls back work stuck on a lock past its statement timeout and frees the key, so a retry executes once",
    async () => {
      const key = randomUUID();
      const body = newSku("STUCK-1");
      // Another session holds the SKU table: the request's insert waits on it until its statement timeout.
      const blocker = new pg.Client({ connectionString: t.url });
      await blocker.connect();
      try {
        await blocker.query("begin");
        await blocker.query("lock table skus in exclusive mode");
        const stuck = await w.erp.post(SKUS, body, { key });
        const error = expectError(stuck, 409, "conflict");
        expect(error.fields).toEqual({ "Idempotency-Key": "timed_out" });
        expect(stuck.headers.get("retry-after")).toBe("1");
        expect(await w.db.selectFrom("idempotency_keys").select("key").where("scope", "=", w.orgId).where("key", "=", key).executeTakeFirst()).toBeUndefined();
      } finally {
        await blocker.query("rollback").catch(() => undefined);
        await blocker.end();
      }
      expect(await skuCount(w, "STUCK-1")).toBe(0);
      expect((await w.erp.post(SKUS, body, { key })).status).toBe(201);
      expect(await skuCount(w, "STUCK-1")).toBe(1);
    },
    IDEMPOTENCY.workStatementTimeoutMs + 30_000,
  );

  it("states the takeover time in the OpenAPI document and in decision 006, from the constant", async () => {
    const doc = (await new ApiClient(w.server.url).get<{
      paths: Record<string, Record<string, { parameters?: { name: string; description?: string }[] }>>;
      components: { responses: Record<string, { description: string }> };
    }>("/api/v1/openapi.json")).body;
    const header = doc.paths[SKUS].post.parameters?.find((p) => p.name === "Idempotency-Key");
    expect(header?.description).toContain(`taken over ${IDEMPOTENCY_TAKEOVER_SECONDS} s after it started`);
    expect(header?.description).toContain("Retry-After");
    expect(doc.components.responses.Error409.description).toContain(`${IDEMPOTENCY_TAKEOVER_SECONDS} s after the first request started`);
    const decision = readFileSync(path.join(ROOT, "docs/decisions/006-api.md"), "utf8");
    expect(decision).toContain(`**Takeover time: ${IDEMPOTENCY_TAKEOVER_SECONDS} s**`);
    expect(decision).toContain(`**${IDEMPOTENCY.workBudgetMs / 1000} s budget**`);
    expect(decision).toContain(`**${IDEMPOTENCY.workStatementTimeoutMs / 1000} s**`);
  });
});

describe("Idempotency-Key takeover in embedded mode (PGlite)", () => {
  let handle: DbHandle;
  let w: World;

  beforeAll(async () => {
    handle = await createEmbeddedTestDatabase();
    w = await openWorld(handle);
  });

  afterAll(async () => {
    await w?.server.close();
    await handle?.close();
  });

  it("answers 409 with Retry-After until the takeover time, then executes once, then replays", async () => {
    await deadRequestThenRetries(w, "TAKEOVER-LITE-1");
  });

  it("cannot overtake a live request: a claimer's read queues behind the open work transaction", async () => {
    // Why embedded mode needs no work budget (IDEMPOTENCY.workStatementTimeoutMs).
    const key = randomUUID();
    const body = newSku("LIVE-LITE-1");
    const events: string[] = [];
    let finishWork!: () => void;
    const workMayFinish = new Promise<void>((resolve) => (finishWork = resolve));
    const claim = await claimAsDeadRequest(w, key, body);
    // Simulated: the claim is already past the takeover time while its work is still open.
    await ageClaim(w, key, IDEMPOTENCY.staleAfterMs + 1_000);
    const work = w.db.transaction().execute(async (trx) => {
      events.push("work open");
      await workMayFinish;
      expect(await completeIdempotencyKey(trx, claim, { status: 201, body: { done: true } })).toBe(true);
      events.push("work completed");
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const retry = claimIdempotencyKey(w.db, { scope: w.orgId, key, requestHash: requestHash("POST", SKUS, body), method: "POST", path: SKUS }).then((c) => {
      events.push(`retry: ${c.kind}`);
      return c;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    events.push("released");
    finishWork();
    await work;
    expect(await retry).toEqual({ kind: "replay", status: 201, body: { done: true } });
    expect(events).toEqual(["work open", "released", "work completed", "retry: replay"]);
  });
});
