/**
 * Benchmark: standard on-account dealer orders placed the way an ERP places them — `POST
 * /api/v1/orders` over HTTP, bearer API key, a fresh Idempotency-Key per order — against the web
 * process in server mode (PostgreSQL, Redis), started here as the operator starts it (server.ts,
 * LOG_LEVEL=warn so request lines do not take CPU the figure measures), with one worker draining
 * the outbox as in production.
 *
 * One order = a dealer places a standard order of 3 lines on account: price resolution for the
 * dealer, MOQ/pack checks, the credit check and the hold of the total on its credit line (a ledger
 * transfer, guarded by the line's rule), submission with the supplier's notice in the outbox, the
 * idempotent response stored with it, and the order answered as JSON. Clients place orders back to
 * back for a fixed time at 1, 8 and 32 concurrent clients; each client works for its own dealers
 * (an API key per dealer organisation), all dealers buy from one supplier's 60 SKUs.
 *
 * Figures, one JSON line each:
 *  - "via":"http", "webs":1 — the headline: one web process;
 *  - "via":"http", "webs":2 — two web processes, no balancer: clients split between them;
 *  - "via":"page" — the quick-order form (/orders/quick) as a browser without JS sends it: a
 *    logged-in dealer session, its CSRF token, form-encoded POST, then the redirect to the order
 *    followed (the page the person sees); a replenishment order on account;
 *  - "via":"model" (BENCH_MODEL=1 only) — `createOrder` called in this process, no HTTP: the same
 *    locked path as the API and the pages (each order in a transaction of its own, issue 13).
 * BENCH_FIGURES picks some, e.g. `BENCH_FIGURES=http1,page` (default http1,http2,page).
 * After the runs: the ledger is verified, and every order's hold is checked against its total and
 * every dealer's credit line against its orders.
 *
 * In the same run, on a scratch database of the same server, pgbench's TPC-B-like TPS at the same
 * client counts, taken in turns with ours (BENCH_ROUNDS slices each, 5 unless set): the ratio
 * orders/s ÷ pgbench TPS is the figure (targets: ratio ≥ 0.3 and p99 ≤ 50 ms at 8 clients).
 * Run: `npm run bench -- orders` (BENCH_SECONDS to change the 10 s per measurement, BENCH_CLIENTS
 * the client counts, e.g. `BENCH_CLIENTS=8,64`; BENCH_CPU_PROF_DIR for a CPU profile of the web).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type http from "node:http";
import { sql } from "kysely";
import pg from "pg";
import { createDb, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { createApiKey } from "../../app/domain/identity/api-keys.server";
import type { Actor } from "../../app/domain/shared/audit.server";
import { createSku } from "../../app/domain/catalog/catalog.server";
import { createDealerLink } from "../../app/domain/dealers/dealers.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { BUILD_FILE, ensureBuild } from "../support/build";
import { createUser, TEST_PASSWORD } from "../support/factories";
import { killAll, spawnWeb, spawnWorker, startPrivateRedis, type SpawnedProcess, type SpawnedWeb } from "../support/processes";
import { BrowserSession, keepAliveAgent, postApiOrder } from "./http-clients";
import { processCpuMs } from "./cpu";
import { pgbenchInit, pgbenchTps } from "./pgbench";
import { adminUrl, urlFor, percentile } from "./databases";

const CLIENT_COUNTS = (process.env.BENCH_CLIENTS ?? "1,8,32").split(",").map(Number);
if (!CLIENT_COUNTS.every((n) => Number.isInteger(n) && n >= 1 && n <= 256)) {
  throw new Error("BENCH_CLIENTS must be whole numbers from 1 to 256, separated by commas, e.g. 1,8,32");
}
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Each measurement is taken in this many slices, alternating with pgbench's (a whole number of seconds each). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
if (!Number.isInteger(SECONDS / ROUNDS) || SECONDS / ROUNDS < 1) {
  throw new Error("BENCH_SECONDS must be a whole multiple of BENCH_ROUNDS (pgbench runs for whole seconds), e.g. BENCH_SECONDS=10 BENCH_ROUNDS=5");
}
const DEALERS = 64;
const SKUS = 60;

const actor = (organizationId: string): Actor => ({ userId: null, organizationId, ip: null, requestId: null });

interface World {
  coreId: string;
  dealerIds: string[];
  skuCodes: string[];
}

async function setUp(db: Db): Promise<World> {
  const core = await db.insertInto("organizations").values({ kind: "core_enterprise", name: "基准 华通电器" }).returning("id").executeTakeFirstOrThrow();
  const tier = await db.insertInto("dealer_tiers").values({ core_enterprise_id: core.id, name: "金牌", rank: 1 }).returning("id").executeTakeFirstOrThrow();
  const skuCodes: string[] = [];
  for (let i = 0; i < SKUS; i++) {
    const code = `BO-${String(i).padStart(4, "0")}`;
    await createSku(db, actor(core.id), core.id, {
      code,
      name: `基准商品 ${i}`,
      spec: "标准",
      unit: "台",
      packSize: 1,
      moq: 1,
      basePriceFen: 10_000 + i * 100,
      taxRateBps: 1300,
      stockOnHand: 5_000_000,
      productCode: `BP-${i}`,
      productName: `基准商品 ${i}`,
    });
    skuCodes.push(code);
  }
  const list = await db
    .insertInto("price_lists")
    .values({ core_enterprise_id: core.id, tier_id: tier.id, name: "金牌价", valid_from: "2020-01-01", valid_to: null })
    .returning("id")
    .executeTakeFirstOrThrow();
  const skus = await db.selectFrom("skus").select(["id", "base_price_fen"]).where("core_enterprise_id", "=", core.id).execute();
  for (const sku of skus) {
    await db.insertInto("price_list_items").values({ price_list_id: list.id, core_enterprise_id: core.id, sku_id: sku.id, min_qty: 1, price_fen: sku.base_price_fen - 500 }).execute();
    await db.insertInto("price_list_items").values({ price_list_id: list.id, core_enterprise_id: core.id, sku_id: sku.id, min_qty: 10, price_fen: sku.base_price_fen - 900 }).execute();
  }
  const dealerIds: string[] = [];
  for (let i = 0; i < DEALERS; i++) {
    const dealer = await db.insertInto("organizations").values({ kind: "dealer", name: `基准经销商 ${i}` }).returning("id").executeTakeFirstOrThrow();
    await createDealerLink(db, actor(core.id), {
      coreEnterpriseId: core.id,
      dealerId: dealer.id,
      tierId: tier.id,
      region: "浙江省杭州市",
      paymentTermsDays: 30,
      creditLimitFen: 10_000_000_000,
    });
    dealerIds.push(dealer.id);
  }
  return { coreId: core.id, dealerIds, skuCodes };
}

/** The 3 lines of order number `n`: a spread of SKUs and quantities, some past the volume break. */
function orderLines(world: World, n: number): { skuCode: string; quantity: number }[] {
  const codes = world.skuCodes;
  return [0, 1, 2].map((k) => ({ skuCode: codes[(n * 7 + k * 13) % codes.length], quantity: 1 + ((n + k) % 12) }));
}

async function placeOrderInProcess(db: Db, world: World, dealerId: string, n: number): Promise<void> {
  const order = await createOrder(db, actor(dealerId), { dealerId, coreEnterpriseId: world.coreId, kind: "standard", lines: orderLines(world, n), paymentMethod: "on_account" }, new Date());
  if (order.status !== "submitted") throw new Error(`order ${order.number} is ${order.status}, not submitted`);
}

/** CPU time of the whole machine (all cores, ms) from /proc/stat, or null where there is none. */
function machineCpuMs(): { busy: number; all: number } | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const ticksPerMs = 0.1; // USER_HZ is 100 on Linux.
    const idle = fields[3] + fields[4];
    const all = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (all - idle) / ticksPerMs, all: all / ticksPerMs };
  } catch {
    return null;
  }
}

/** Total CPU (ms) of the given processes so far; null when /proc cannot tell. */
function processesCpuMs(pids: readonly (number | undefined)[]): number | null {
  let total = 0;
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms === null) return null;
    total += ms;
  }
  return total;
}

interface Slice {
  latencies: number[];
  elapsedS: number;
  /** This (client) process. */
  benchCpuMs: number;
  /** The web processes serving the figure (none for the in-process figure). */
  webCpuMs: number | null;
  machine: { busy: number; all: number } | null;
  /** The worker process(es) draining the outbox. */
  workerCpuMs: number | null;
  /** PostgreSQL backends connected to the product's database (the web's and the worker's pools). */
  postgresCpuMs: number | null;
  /** PostgreSQL transactions committed in the product's database during the slice. */
  commits: number;
}

/** How one client places order number `n`; `client` picks its dealers and its web process. */
type Place = (client: number, n: number) => Promise<void>;

/** Committed transactions of one database so far (pg_stat_database, updated as backends report). */
async function commitsOf(admin: pg.Client, database: string): Promise<number> {
  const result = await admin.query<{ n: string }>("select xact_commit::text as n from pg_stat_database where datname = $1", [database]);
  return Number(result.rows[0]?.n ?? 0);
}

interface Probe {
  webPids: (number | undefined)[];
  workerPids: (number | undefined)[];
  admin: pg.Client;
  database: string;
}

/** PostgreSQL backends connected to `database` now (same machine: their CPU is in /proc). */
async function backendPids(admin: pg.Client, database: string): Promise<number[]> {
  const result = await admin.query<{ pid: number }>("select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [database]);
  return result.rows.map((row) => row.pid);
}

/** Clients placing orders back to back for `seconds`: the raw figures of one slice of a measurement. */
async function measureSlice(
  place: Place,
  clients: number,
  seconds: number,
  counter: { n: number },
  probe: Probe,
): Promise<Slice> {
  const latencies: number[] = [];
  const commitsBefore = await commitsOf(probe.admin, probe.database);
  const backends = await backendPids(probe.admin, probe.database);
  const backendsBefore = new Map(backends.map((pid) => [pid, processCpuMs(pid)]));
  const workerBefore = processesCpuMs(probe.workerPids);
  const deadline = performance.now() + seconds * 1000;
  const cpuBefore = process.cpuUsage();
  const webBefore = processesCpuMs(probe.webPids);
  const machineBefore = machineCpuMs();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await place(client, counter.n++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const webAfter = processesCpuMs(probe.webPids);
  const workerAfter = processesCpuMs(probe.workerPids);
  const machineAfter = machineCpuMs();
  // Backends that were already there: a pool's connections live across slices once warmed up.
  let postgresCpuMs = 0;
  // A backend the pool closed during the slice (idle timeout) is gone from /proc: its share is lost,
  // so this is a floor.
  for (const [pid, before] of backendsBefore) {
    const after = processCpuMs(pid);
    if (before !== null && after !== null) postgresCpuMs += after - before;
  }
  // pg_stat_database lags by up to the stats flush interval (1 s in PostgreSQL 15): wait it out.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const commitsAfter = await commitsOf(probe.admin, probe.database);
  return {
    latencies,
    elapsedS,
    benchCpuMs: (cpu.user + cpu.system) / 1000,
    webCpuMs: probe.webPids.length === 0 ? 0 : webBefore !== null && webAfter !== null ? webAfter - webBefore : null,
    machine: machineBefore && machineAfter ? { busy: machineAfter.busy - machineBefore.busy, all: machineAfter.all - machineBefore.all } : null,
    workerCpuMs: workerBefore !== null && workerAfter !== null ? workerAfter - workerBefore : null,
    postgresCpuMs: backends.length ? postgresCpuMs : null,
    commits: commitsAfter - commitsBefore,
  };
}

/** The slices of one measurement as one: rates over their total time, percentiles over all their orders. */
function summarise(slices: readonly Slice[]) {
  const latencies = slices.flatMap((slice) => slice.latencies);
  const elapsedS = slices.reduce((sum, slice) => sum + slice.elapsedS, 0);
  const benchMs = slices.reduce((sum, slice) => sum + slice.benchCpuMs, 0);
  const webMs = slices.every((slice) => slice.webCpuMs !== null) ? slices.reduce((sum, slice) => sum + slice.webCpuMs!, 0) : null;
  const machine = slices.every((slice) => slice.machine)
    ? slices.reduce((sum, slice) => ({ busy: sum.busy + slice.machine!.busy, all: sum.all + slice.machine!.all }), { busy: 0, all: 0 })
    : null;
  const commits = slices.reduce((sum, slice) => sum + slice.commits, 0);
  const sumOf = (pick: (slice: Slice) => number | null) => (slices.every((slice) => pick(slice) !== null) ? slices.reduce((sum, slice) => sum + pick(slice)!, 0) : null);
  const workerMs = sumOf((slice) => slice.workerCpuMs);
  const postgresMs = sumOf((slice) => slice.postgresCpuMs);
  // Where the time goes: the web processes' CPU per order, this (client) process's, the rest of
  // the machine's (PostgreSQL, the worker, Redis, the kernel), and how busy the machine was.
  return {
    perSecond: latencies.length / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    count: latencies.length,
    benchCpuMsPerOrder: benchMs / latencies.length,
    webCpuMsPerOrder: webMs === null ? null : webMs / latencies.length,
    workerCpuMsPerOrder: workerMs === null ? null : workerMs / latencies.length,
    postgresCpuMsPerOrder: postgresMs === null ? null : postgresMs / latencies.length,
    otherCpuMsPerOrder:
      machine && webMs !== null && workerMs !== null && postgresMs !== null ? Math.max(0, machine.busy - benchMs - webMs - workerMs - postgresMs) / latencies.length : null,
    machineBusyShare: machine && machine.all > 0 ? machine.busy / machine.all : null,
    commitsPerOrder: commits / latencies.length,
  };
}

/** Every order has one hold of its total, and each dealer's used credit is the sum of its orders. */
async function checkHolds(db: Db, world: World): Promise<string[]> {
  const problems: string[] = [];
  const orders = await db
    .selectFrom("orders as o")
    .leftJoin("ledger_transfers as h", (join) => join.on("h.reference", "=", sql<string>`'order:' || o.id::text`).on("h.phase", "=", "pending"))
    .select(["o.number", "o.total_fen", "o.dealer_link_id", (eb) => eb.fn.count<number>("h.id").as("holds"), (eb) => eb.fn.sum<number>("h.amount_fen").as("held_fen")])
    .where("o.core_enterprise_id", "=", world.coreId)
    .groupBy(["o.id", "o.number", "o.total_fen", "o.dealer_link_id"])
    .execute();
  const usedByLink = new Map<string, number>();
  for (const order of orders) {
    if (Number(order.holds) !== 1 || Number(order.held_fen) !== order.total_fen) problems.push(`${order.number}: ${order.holds} holds of ${order.held_fen} fen for ${order.total_fen}`);
    usedByLink.set(order.dealer_link_id, (usedByLink.get(order.dealer_link_id) ?? 0) + order.total_fen);
  }
  for (const [linkId, used] of usedByLink) {
    const summary = await creditSummary(db, linkId);
    if (summary.usedFen !== used) problems.push(`link ${linkId}: ${summary.usedFen} fen used, orders total ${used}`);
  }
  return problems;
}

const FIGURES = (process.env.BENCH_FIGURES ?? `http1,http2,page${process.env.BENCH_MODEL === "1" ? ",model" : ""}`).split(",");
if (!FIGURES.every((f) => ["http1", "http2", "page", "model"].includes(f))) {
  throw new Error("BENCH_FIGURES must name some of http1, http2, page, model, separated by commas");
}
const TARGET_RATIO = 0.3;
const fmt = (ms: number | null) => (ms === null ? "?" : ms.toFixed(2));
const TARGET_P99_MS = 50;
const WEB_START_TIMEOUT_MS = 90_000;

interface Figure {
  via: "http" | "page" | "model";
  webs: number;
  webPids: (number | undefined)[];
}

/** An ERP per dealer organisation: one API key each, for the purchaser's role only. */
async function apiKeys(db: Db, world: World): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const dealerId of world.dealerIds) {
    const { secret } = await createApiKey(db, actor(dealerId), dealerId, { name: "基准 ERP", roles: ["purchaser"] });
    keys.set(dealerId, secret);
  }
  return keys;
}

function httpPlace(world: World, keys: Map<string, string>, webs: SpawnedWeb[], agents: http.Agent[], clients: number): Place {
  const turns = new Array<number>(clients).fill(0);
  return async (client, n) => {
    // Each client orders for its own slice of dealers: the figure is the order path, not one
    // dealer's credit line being fought over. Clients alternate between the web processes.
    const mine = world.dealerIds.filter((_, i) => i % clients === client);
    const dealerId = mine[turns[client]++ % mine.length];
    const web = client % webs.length;
    const answer = await postApiOrder(agents[web], webs[web].url, keys.get(dealerId)!, {
      core_enterprise_id: world.coreId,
      kind: "standard",
      lines: orderLines(world, n).map((l) => ({ sku_code: l.skuCode, quantity: l.quantity })),
      payment_method: "on_account",
    });
    if (answer.status !== 201 || !answer.body.includes('"status":"submitted"')) {
      throw new Error(`POST /api/v1/orders answered ${answer.status}: ${answer.body.slice(0, 500)}`);
    }
  };
}

/** Dealer users for the page figure: one purchaser per client, each the first of its dealer. */
async function pageUsers(db: Db, world: World, count: number, suffix: string): Promise<string[]> {
  const emails: string[] = [];
  for (let i = 0; i < count; i++) {
    const user = await createUser(db, { email: `bench-${suffix}-dealer-${i}@example.test`, memberships: [[world.dealerIds[i], "purchaser"]] });
    emails.push(user.email);
  }
  return emails;
}

function pagePlace(world: World, sessions: { session: BrowserSession; csrf: string }[]): Place {
  return async (client, n) => {
    const { session, csrf } = sessions[client];
    const posted = await session.post("/orders/quick", {
      csrf,
      core_enterprise_id: world.coreId,
      kind: "replenishment",
      lines: orderLines(world, n).map((l) => `${l.skuCode},${l.quantity}`).join("\n"),
      payment_method: "on_account",
      note: "",
    });
    const location = typeof posted.headers.location === "string" ? posted.headers.location : "";
    if (posted.status !== 302 || !/^\/orders\/[0-9a-f-]{36}$/.test(location)) {
      throw new Error(`POST /orders/quick answered ${posted.status} (location ${location || "none"}): ${posted.body.slice(0, 500)}`);
    }
    // A browser without JS follows the redirect: the order page is part of what the person waits for.
    const shown = await session.get(location);
    if (shown.status !== 200) throw new Error(`GET ${location} after placing answered ${shown.status}`);
  };
}

/** Where the writes go: inserts + updates per order, per table, the busiest first. */
async function rowsWrittenPerOrder(db: Db, database: string, world: World): Promise<string> {
  const orders = await db.selectFrom("orders").select((eb) => eb.fn.countAll<string>().as("n")).where("core_enterprise_id", "=", world.coreId).executeTakeFirstOrThrow();
  // pg_stat_user_tables is per database: read it through a connection to the product's one.
  const reader = new pg.Client({ connectionString: urlFor(adminUrl(), database) });
  await reader.connect();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the stats flush, as above
    const { rows } = await reader.query<{ relname: string; ins: string; upd: string }>(
      "select relname, n_tup_ins::text as ins, (n_tup_upd + n_tup_del)::text as upd from pg_stat_user_tables where n_tup_ins + n_tup_upd + n_tup_del > 0 order by n_tup_ins + n_tup_upd + n_tup_del desc limit 14",
    );
    const n = Number(orders.n);
    return rows.map((row) => `${row.relname} +${(Number(row.ins) / n).toFixed(2)}/~${(Number(row.upd) / n).toFixed(2)}`).join(", ") + ` (of ${n} orders)`;
  } finally {
    await reader.end();
  }
}

/**
 * The NODE_ENV the current build/ can run under. `remix build` compiles JSX for the NODE_ENV it is
 * run with, and build/ is shared with test runs that rebuild it under NODE_ENV=test: a development
 * build (jsxDEV calls) crashes every page under NODE_ENV=production.
 */
async function buildNodeEnv(): Promise<"production" | "test"> {
  await ensureBuild();
  return readFileSync(BUILD_FILE, "utf8").includes("jsxDEV") ? "test" : "production";
}

async function waitHealthy(web: SpawnedWeb): Promise<void> {
  await web.waitForHttp("/healthz", (answer) => answer.status === 200, WEB_START_TIMEOUT_MS);
}

export async function run(): Promise<void> {
  const base = adminUrl();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const suffix = randomBytes(4).toString("hex");
  const appDb = `rt_bench_orders_${suffix}`;
  const pgbenchDb = `rt_bench_pgbench_${suffix}`;
  await admin.query(`create database ${appDb}`);
  await admin.query(`create database ${pgbenchDb}`);
  const handle = createDb({ databaseUrl: urlFor(base, appDb), poolMax: Math.max(...CLIENT_COUNTS) + 2 });
  const started: SpawnedProcess[] = [];
  try {
    await migrateToLatest(handle.db);
    const world = await setUp(handle.db);
    const keys = await apiKeys(handle.db, world);
    const pageClients = Math.min(Math.max(...CLIENT_COUNTS), DEALERS);
    const emails = FIGURES.includes("page") ? await pageUsers(handle.db, world, pageClients, suffix) : [];
    await pgbenchInit(urlFor(base, pgbenchDb), 10);

    const redis = await startPrivateRedis();
    const nodeEnv = await buildNodeEnv();
    const env = { DATABASE_URL: urlFor(base, appDb), REDIS_URL: redis.url, REDIS_PREFIX: `rt-bench-${suffix}`, LOG_LEVEL: "warn", NODE_ENV: nodeEnv };
    // BENCH_CPU_PROF_DIR: the first web process writes a V8 CPU profile there when it stops (open in
    // Chrome DevTools or speedscope) — where its milliseconds per order go.
    const profileDir = process.env.BENCH_CPU_PROF_DIR;
    const web = await spawnWeb(
      profileDir ? { ...env, BENCH_CPU_PROF_DIR: profileDir, NODE_OPTIONS: `--import ${new URL("./cpu-profile-preload.mjs", import.meta.url).pathname}` } : env,
    );
    started.push(web);
    const worker = spawnWorker(env);
    started.push(worker);
    await waitHealthy(web);
    console.log(
      `orders bench reaches the product over HTTP: server mode (PostgreSQL ${appDb}, Redis ${redis.url} prefix ${env.REDIS_PREFIX}), ` +
        `one web process at ${web.url} (server.ts, LOG_LEVEL=warn, NODE_ENV=${nodeEnv}), one worker draining the outbox; ` +
        `POST ${web.url}/api/v1/orders with Authorization: Bearer <API key per dealer, role purchaser> and a fresh Idempotency-Key per order` +
        (FIGURES.includes("page") ? `; page figure: ${web.url}/orders/quick with a dealer session cookie + CSRF token, form-encoded` : ""),
    );
    if (nodeEnv !== "production") {
      console.log(
        "note: build/ is a development build (remix build run with NODE_ENV≠production, e.g. by a test run): the web runs with " +
          `NODE_ENV=${nodeEnv} and React renders in development mode, which costs the page figure CPU a production build would not`,
      );
    }
    const probeBase = { admin, database: appDb, workerPids: [worker.child.pid] };
    const counter = { n: 0 };
    const results: { figure: Figure; clients: number; ours: ReturnType<typeof summarise>; tps: number }[] = [];

    const measure = async (figure: Figure, makePlace: (clients: number) => Place) => {
      // Warm up the pools, the plans and the JIT of every web process in the figure.
      await measureSlice(makePlace(4), 4, 2, counter, { ...probeBase, webPids: figure.webPids });
      for (const clients of CLIENT_COUNTS) {
        const place = makePlace(clients);
        // Ours and pgbench take turns, a slice each, so that the machine's speed, which drifts on a
        // shared host, weighs on both alike.
        const slices: Slice[] = [];
        const tpsBySlice: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          slices.push(await measureSlice(place, clients, SECONDS / ROUNDS, counter, { ...probeBase, webPids: figure.webPids }));
          tpsBySlice.push(await pgbenchTps(urlFor(base, pgbenchDb), clients, SECONDS / ROUNDS));
        }
        const ours = summarise(slices);
        const tps = tpsBySlice.reduce((sum, t) => sum + t, 0) / tpsBySlice.length;
        results.push({ figure, clients, ours, tps });
        console.log(
          `${figure.via}${figure.via === "http" ? ` (${figure.webs} web${figure.webs > 1 ? "s" : ""})` : ""} ${String(clients).padStart(2)} clients: ` +
            `${ours.perSecond.toFixed(1)} orders/s (${ours.count} orders), p50 ${ours.p50.toFixed(1)} ms, p99 ${ours.p99.toFixed(1)} ms; ` +
            `pgbench TPC-B-like ${tps.toFixed(0)} TPS; ratio ${(ours.perSecond / tps).toFixed(3)}`,
        );
        console.log(
          `    per order: CPU ${ours.webCpuMsPerOrder === null ? "?" : ours.webCpuMsPerOrder.toFixed(2)} ms in the web process(es), ` +
            `${fmt(ours.postgresCpuMsPerOrder)} ms in PostgreSQL backends of the product's database, ${fmt(ours.workerCpuMsPerOrder)} ms in the worker, ` +
            `${ours.benchCpuMsPerOrder.toFixed(2)} ms in the bench's clients, ${fmt(ours.otherCpuMsPerOrder)} ms elsewhere (Redis, kernel, other work on the machine)` +
            `; ${ours.commitsPerOrder.toFixed(2)} PostgreSQL commits` +
            (ours.machineBusyShare === null ? "" : `; the machine's cores ${(ours.machineBusyShare * 100).toFixed(0)}% busy`),
        );
      }
    };

    if (FIGURES.includes("http1")) {
      const agents = [keepAliveAgent(Math.max(...CLIENT_COUNTS))];
      await measure({ via: "http", webs: 1, webPids: [web.child.pid] }, (clients) => httpPlace(world, keys, [web], agents, clients));
      agents.forEach((agent) => agent.destroy());
    }
    if (FIGURES.includes("http2")) {
      const second = await spawnWeb(env);
      started.push(second);
      await waitHealthy(second);
      console.log(`second web process at ${second.url}: clients split between ${web.url} and ${second.url}, no balancer`);
      const agents = [keepAliveAgent(Math.max(...CLIENT_COUNTS)), keepAliveAgent(Math.max(...CLIENT_COUNTS))];
      await measure({ via: "http", webs: 2, webPids: [web.child.pid, second.child.pid] }, (clients) =>
        httpPlace(world, keys, [web, second], agents, clients),
      );
      agents.forEach((agent) => agent.destroy());
      second.kill("SIGTERM");
      await second.exited;
    }
    if (FIGURES.includes("page")) {
      const agent = keepAliveAgent(Math.max(...CLIENT_COUNTS));
      const sessions: { session: BrowserSession; csrf: string }[] = [];
      for (const email of emails) {
        const session = new BrowserSession(web.url, agent);
        await session.login(email, TEST_PASSWORD);
        sessions.push({ session, csrf: await session.csrfFrom("/orders/quick") });
      }
      await measure({ via: "page", webs: 1, webPids: [web.child.pid] }, () => pagePlace(world, sessions));
      agent.destroy();
    }
    if (FIGURES.includes("model")) {
      await measure({ via: "model", webs: 0, webPids: [] }, (clients) => {
        const turns = new Array<number>(clients).fill(0);
        return (client, n) => {
          const mine = world.dealerIds.filter((_, i) => i % clients === client);
          return placeOrderInProcess(handle.db, world, mine[turns[client]++ % mine.length], n);
        };
      });
    }

    const violations = await verifyLedger(handle.db);
    console.log(violations.length ? `ledger verification FAILED: ${JSON.stringify(violations)}` : "ledger verification: clean");
    const holdProblems = await checkHolds(handle.db, world);
    console.log(holdProblems.length ? `credit holds FAILED: ${holdProblems.slice(0, 5).join("; ")}` : "credit holds: one per order, equal to its total; every dealer's line uses exactly its orders");
    const pending = await handle.db.selectFrom("outbox").select((eb) => eb.fn.countAll<string>().as("n")).where("completed_at", "is", null).executeTakeFirst().catch(() => null);
    if (pending) console.log(`outbox rows not yet completed by the worker at the end: ${pending.n}`);
    console.log(`rows written per order over the whole run (pg_stat_user_tables, warm-ups and the worker's notices included): ${await rowsWrittenPerOrder(handle.db, appDb, world)}`);
    for (const { figure, clients, ours, tps } of results) {
      console.log(
        JSON.stringify({
          bench: "orders",
          via: figure.via,
          ...(figure.via === "http" ? { webs: figure.webs } : {}),
          clients,
          orders_per_s: Math.round(ours.perSecond * 10) / 10,
          p50_ms: Math.round(ours.p50 * 10) / 10,
          p99_ms: Math.round(ours.p99 * 10) / 10,
          pgbench_tps: Math.round(tps),
          ratio: Math.round((ours.perSecond / tps) * 1000) / 1000,
          target_ratio: TARGET_RATIO,
          target_p99_ms: TARGET_P99_MS,
        }),
      );
    }
    if (violations.length || holdProblems.length) process.exitCode = 1;
  } catch (error) {
    // What the product logged says why a request failed: the bench's error alone does not.
    for (const child of started) console.error(child.describe());
    throw error;
  } finally {
    for (const child of started) child.kill("SIGTERM");
    await Promise.all(started.map((child) => Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 10_000))])));
    await killAll();
    await handle.close();
    await admin.query(`drop database if exists ${appDb} with (force)`);
    await admin.query(`drop database if exists ${pgbenchDb}`);
    await admin.end();
  }
}
