/**
 * Benchmark: standard on-account dealer orders through the model layer, against PostgreSQL.
 *
 * One order = a dealer places a standard order of 3 lines on account: price resolution for the
 * dealer, MOQ/pack checks, the credit check and the hold of the total on its credit line (a ledger
 * transfer, guarded by the line's rule), submission with the supplier's notice in the outbox.
 * Clients place orders back to back for a fixed time at 1, 8 and 32 concurrent clients, through
 * `createOrder` as the pages and the API call it (orders placed at the same moment share one read
 * and one write statement: group commit, decisions 015 and 016); each client works for its own
 * dealers, all dealers buy from one supplier's 60 SKUs. After the runs: the ledger is verified, and every order's hold is
 * checked against its total and every dealer's credit line against its orders.
 *
 * In the same run, on a scratch database of the same server, pgbench's TPC-B-like TPS at the same
 * client counts, taken in turns with ours (BENCH_ROUNDS slices each, 5 unless set): the ratio
 * orders/s ÷ pgbench TPS is the figure (target ≥ 0.5 at 8 clients).
 * Run: `npm run bench -- orders` (BENCH_SECONDS to change the 10 s per measurement, BENCH_CLIENTS
 * the client counts, e.g. `BENCH_CLIENTS=8,64`).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { sql } from "kysely";
import pg from "pg";
import { createDb, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import type { Actor } from "../../app/models/audit.server";
import { createSku } from "../../app/models/catalog.server";
import { createDealerLink } from "../../app/models/dealers.server";
import { createOrder } from "../../app/models/orders.server";
import { creditSummary } from "../../app/models/credit.server";
import { verifyLedger } from "../../app/models/ledger.server";
import { pgbenchInit, pgbenchTps } from "./pgbench";

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

function adminUrl(): string {
  return process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

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

async function placeOrder(db: Db, world: World, dealerId: string, n: number): Promise<void> {
  const codes = world.skuCodes;
  const lines = [0, 1, 2].map((k) => ({ skuCode: codes[(n * 7 + k * 13) % codes.length], quantity: 1 + ((n + k) % 12) }));
  const order = await createOrder(db, actor(dealerId), { dealerId, coreEnterpriseId: world.coreId, kind: "standard", lines, paymentMethod: "on_account" });
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

interface Slice {
  latencies: number[];
  elapsedS: number;
  nodeCpuMs: number;
  machine: { busy: number; all: number } | null;
}

/** Clients placing orders back to back for `seconds`: the raw figures of one slice of a measurement. */
async function measureSlice(db: Db, world: World, clients: number, seconds: number, counter: { n: number }): Promise<Slice> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineCpuMs();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      // Each client orders for its own slice of dealers: the figure is the order path, not one
      // dealer's credit line being fought over.
      const mine = world.dealerIds.filter((_, i) => i % clients === client);
      let k = 0;
      while (performance.now() < deadline) {
        const t = performance.now();
        await placeOrder(db, world, mine[k++ % mine.length], counter.n++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = machineCpuMs();
  return {
    latencies,
    elapsedS,
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
    machine: machineBefore && machineAfter ? { busy: machineAfter.busy - machineBefore.busy, all: machineAfter.all - machineBefore.all } : null,
  };
}

/** The slices of one measurement as one: rates over their total time, percentiles over all their orders. */
function summarise(slices: readonly Slice[]) {
  const latencies = slices.flatMap((slice) => slice.latencies);
  const elapsedS = slices.reduce((sum, slice) => sum + slice.elapsedS, 0);
  const nodeMs = slices.reduce((sum, slice) => sum + slice.nodeCpuMs, 0);
  const machine = slices.every((slice) => slice.machine)
    ? slices.reduce((sum, slice) => ({ busy: sum.busy + slice.machine!.busy, all: sum.all + slice.machine!.all }), { busy: 0, all: 0 })
    : null;
  // Where the time goes: this process's CPU per order, the rest of the machine's (PostgreSQL and
  // the kernel) per order, and how much of the machine's CPU was used at all.
  return {
    perSecond: latencies.length / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    count: latencies.length,
    nodeCpuMsPerOrder: nodeMs / latencies.length,
    otherCpuMsPerOrder: machine ? Math.max(0, machine.busy - nodeMs) / latencies.length : null,
    machineBusyShare: machine && machine.all > 0 ? machine.busy / machine.all : null,
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
  try {
    await migrateToLatest(handle.db);
    const world = await setUp(handle.db);
    await pgbenchInit(urlFor(base, pgbenchDb), 10);
    const counter = { n: 0 };
    // Warm up the pool, the plans and the JIT.
    await measureSlice(handle.db, world, 4, 2, counter);
    const results = [];
    for (const clients of CLIENT_COUNTS) {
      // Ours and pgbench take turns, a slice each, so that the machine's speed, which drifts on a
      // shared host, weighs on both alike.
      const slices: Slice[] = [];
      const tpsBySlice: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        slices.push(await measureSlice(handle.db, world, clients, SECONDS / ROUNDS, counter));
        tpsBySlice.push(await pgbenchTps(urlFor(base, pgbenchDb), clients, SECONDS / ROUNDS));
      }
      const ours = summarise(slices);
      const tps = tpsBySlice.reduce((sum, t) => sum + t, 0) / tpsBySlice.length;
      results.push({ clients, ours, tps });
      console.log(
        `${String(clients).padStart(2)} clients: ${ours.perSecond.toFixed(1)} orders/s (${ours.count} orders), p50 ${ours.p50.toFixed(1)} ms, ` +
          `p99 ${ours.p99.toFixed(1)} ms; pgbench TPC-B-like ${tps.toFixed(0)} TPS; ratio ${(ours.perSecond / tps).toFixed(3)}`,
      );
      console.log(
        `    CPU per order: ${ours.nodeCpuMsPerOrder.toFixed(3)} ms in this Node process` +
          (ours.otherCpuMsPerOrder === null ? "" : `, ${ours.otherCpuMsPerOrder.toFixed(3)} ms elsewhere (PostgreSQL, kernel)`) +
          (ours.machineBusyShare === null ? "" : `; the machine's cores ${(ours.machineBusyShare * 100).toFixed(0)}% busy`),
      );
    }
    const violations = await verifyLedger(handle.db);
    console.log(violations.length ? `ledger verification FAILED: ${JSON.stringify(violations)}` : "ledger verification: clean");
    const holdProblems = await checkHolds(handle.db, world);
    console.log(holdProblems.length ? `credit holds FAILED: ${holdProblems.slice(0, 5).join("; ")}` : "credit holds: one per order, equal to its total; every dealer's line uses exactly its orders");
    for (const { clients, ours, tps } of results) {
      console.log(
        JSON.stringify({
          bench: "orders",
          clients,
          per_s: Math.round(ours.perSecond * 10) / 10,
          p50_ms: Math.round(ours.p50 * 10) / 10,
          p99_ms: Math.round(ours.p99 * 10) / 10,
          pgbench_tps: Math.round(tps),
          ratio: Math.round((ours.perSecond / tps) * 1000) / 1000,
        }),
      );
    }
    if (violations.length || holdProblems.length) process.exitCode = 1;
  } finally {
    await handle.close();
    await admin.query(`drop database if exists ${appDb}`);
    await admin.query(`drop database if exists ${pgbenchDb}`);
    await admin.end();
  }
}
