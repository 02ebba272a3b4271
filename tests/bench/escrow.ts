/**
 * Benchmark: escrow settlement of received market orders through the real job path, against
 * PostgreSQL and Redis, with 1 and 2 worker processes.
 *
 * Per worker count, on a fresh scratch database:
 *  - setup (timed, not measured): a market built through the model functions (operator, market, fee
 *    schedules for 女装 2.5 % min ¥5 and 男装 2 %, 20 merchants applied and approved onto stalls),
 *    listings, 5,000 funded buyers, and 50,000 shipped orders (1–3 lines of one merchant, commission
 *    fixed from the schedules with commissionFen) whose goods totals are real ledger holds made with
 *    applyBatch (pending transfers buyer wallet → merchant wallet). verifyLedger must be clean.
 *  - pgbench TPC-B-like TPS (scale 10, its own scratch database) at clients = the worker count.
 *  - the workers (`node --import tsx jobs/worker.ts`, i.e. `npm run worker`) are started with a
 *    Redis prefix of their own and awaited until each logs "worker ready", plus a moment for the
 *    schedulers' first (empty) sweeps. Start-up is excluded from the figure: it is paid once per
 *    deployment, not per order.
 *  - the receipt, in bulk, through the receipt path itself: in one transaction every order is made
 *    due and autoConfirmShippedOrders marks it `received` through markReceived (timeline, audit,
 *    and today one outbox row per order: `market:<orderId>:settle`, job `market.settle`, queue
 *    `market`, payload {orderId}); a change to what a receipt enqueues is measured as it is. The
 *    orders stay `shipped` (auto-confirm days ahead) until then, so neither the workers' scheduled
 *    sweeps nor anything else can touch them before the clock starts; the clock starts when this
 *    transaction has committed.
 *  - measured: relay → BullMQ → settle step until no order is left `received` (polled every
 *    100 ms), with the CPU time each party used meanwhile (postgres, workers, redis, and everything
 *    else on the machine, from /proc). The rest of the queue (jobs whose order a sweep already
 *    settled) is then drained and reported separately, the workers stopped with SIGTERM, and the
 *    prefix's Redis keys deleted.
 *  - checks: verifyLedger clean, Σ settled_fee_fen = the market fee account's balance, each
 *    merchant wallet's balance = Σ its settled_net_fen with nothing pending, every order settled
 *    once, no failed job; a failed check sets exit code 1.
 *  - pgbench again, workers stopped. Ratio = settlements/s ÷ the mean of the two pgbench runs
 *    (the machine is shared: its load moves during a run); target ≥ 2.
 *
 * Run: `npm run bench -- escrow` (BENCH_SECONDS for each pgbench run, default 10;
 * BENCH_ESCROW_ORDERS and BENCH_ESCROW_WORKERS="1,2" to change the size and worker counts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { parseInt8, type Database, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import type { Actor } from "../../app/domain/shared/audit.server";
import { MARKET_ORDER_QUEUE } from "../../app/domain/market/escrow/model.server";
import { autoConfirmShippedOrders } from "../../app/domain/market/escrow/fulfilment.server";
import { ACCOUNT_KIND_RULES, applyBatch, ensureAccount, verifyLedger, type BatchOperation } from "../../app/domain/ledger/ledger.server";
import { addFeeSchedule, commissionFen, feeInForce, type FeeSchedule } from "../../app/domain/market/fees.server";
import { approveMerchantApplication, createMarket, createStall, submitMerchantApplication } from "../../app/domain/market/venues.server";
import { createOrganization } from "../../app/domain/identity/organizations.server";
import { randomUscc } from "../integration/market-trade.fixtures";
import { deleteRedisKeys, snapshot, startWorker, stopWorker, type WorkerProcess } from "./worker-processes";
import { pgbenchInit, pgbenchTps } from "./pgbench";
import { adminUrl, urlFor } from "./databases";
import { addDays, shanghaiDate } from "../../app/domain/shared/dates";
import { cpuBetween } from "./cpu";

const ORDERS = Number(process.env.BENCH_ESCROW_ORDERS ?? 50_000);
const WORKER_COUNTS = (process.env.BENCH_ESCROW_WORKERS ?? "1,2").split(",").map((n) => Number(n.trim()));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BUYERS = 5_000;
const MERCHANTS = 20;
const LISTINGS_PER_MERCHANT = 6;
const SETUP_CHUNK = 2_500;
const RECEIPT_CHUNK = 5_000;
const POLL_MS = 100;
/** The leftover jobs (each finding nothing to settle) are waited for at most this long. */
const DRAIN_CAP_MS = 300_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const actor = (organizationId: string | null): Actor => ({ userId: null, organizationId, ip: null, requestId: null });
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A small deterministic generator: the same world every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Setup

interface Listing {
  id: string;
  merchantIndex: number;
  title: string;
  category: string;
  spec: string;
  unit: string;
  priceFen: number;
}

export interface World {
  operatorId: string;
  marketId: string;
  merchantIds: string[];
  merchantWalletIds: string[];
  feeAccountId: string;
}

async function buildMarket(db: Db, now: Date): Promise<{ world: World; listings: Listing[]; schedules: Map<string, FeeSchedule> }> {
  const suffix = randomBytes(3).toString("hex");
  const operator = await createOrganization(db, actor(null), { kind: "market_operator", name: `基准 四季青市场 ${suffix}` });
  const op = actor(operator.id);
  const market = await createMarket(db, op, operator.id, { name: `基准 服装城 ${suffix}`, city: "杭州", categories: "女装、男装", autoConfirmDays: "7", unpaidExpiryMinutes: "30" });
  const since = addDays(shanghaiDate(now), -30);
  const sinceAt = new Date(`${since}T00:00:00+08:00`);
  await addFeeSchedule(db, op, operator.id, market.id, { category: "女装", commissionRate: "2.5", minFee: "5", effectiveFrom: since }, sinceAt);
  await addFeeSchedule(db, op, operator.id, market.id, { category: "男装", commissionRate: "2", minFee: "0", effectiveFrom: since }, sinceAt);
  const schedules = new Map<string, FeeSchedule>();
  for (const category of ["女装", "男装"]) {
    const schedule = await feeInForce(db, market.id, category, now);
    if (!schedule) throw new Error(`no fee schedule in force for ${category}`);
    schedules.set(category, schedule);
  }

  const merchantIds: string[] = [];
  for (let i = 0; i < MERCHANTS; i++) {
    const stall = await createStall(db, op, operator.id, market.id, { code: `B-${String(i + 1).padStart(3, "0")}`, zoneId: "", area: "12", monthlyRent: "5000" });
    const application = await submitMerchantApplication(db, op, operator.id, market.id, {
      uscc: randomUscc(),
      companyName: `基准服饰 ${i + 1} ${suffix}`,
      legalRepresentative: "李建国",
      contactName: "李老板",
      contactPhone: "13905710001",
      stallWish: "",
      categories: "女装、男装",
    });
    const { merchant } = await approveMerchantApplication(db, op, operator.id, market.id, application.id, { stallId: stall.id });
    merchantIds.push(merchant.merchantId);
  }
  const merchantWalletIds: string[] = [];
  for (const id of merchantIds) merchantWalletIds.push((await ensureAccount(db, { kind: "wallet", organizationId: id })).id);
  const feeAccount = await ensureAccount(db, { kind: "market_fees", organizationId: operator.id, code: `market_fees:${market.id}` });

  const rand = lcg(7);
  const listingRows = [];
  for (let m = 0; m < MERCHANTS; m++) {
    for (let k = 0; k < LISTINGS_PER_MERCHANT; k++) {
      const category = k % 3 === 2 ? "男装" : "女装";
      listingRows.push({
        market_id: market.id,
        operator_id: operator.id,
        merchant_id: merchantIds[m],
        title: `${category === "女装" ? "连衣裙" : "衬衫"} ${m + 1}-${k + 1}`,
        category,
        spec: "S/M/L",
        unit: "件",
        price_fen: 2_000 + Math.floor(rand() * 480) * 100,
        stock_qty: 10_000_000,
        min_order_qty: 1,
      });
    }
  }
  const inserted = await db
    .insertInto("market_listings")
    .values(listingRows)
    .returning(["id", "merchant_id", "title", "category", "spec", "unit", "price_fen"])
    .execute();
  const listings = inserted.map((l) => ({
    id: l.id,
    merchantIndex: merchantIds.indexOf(l.merchant_id),
    title: l.title,
    category: l.category,
    spec: l.spec,
    unit: l.unit,
    priceFen: l.price_fen,
  }));
  return {
    world: { operatorId: operator.id, marketId: market.id, merchantIds, merchantWalletIds, feeAccountId: feeAccount.id },
    listings,
    schedules,
  };
}

export interface PlannedOrder {
  id: string;
  checkoutId: string;
  buyerIndex: number;
  merchantIndex: number;
  lines: { listing: Listing; quantity: number; amountFen: number; schedule: FeeSchedule }[];
  goodsTotalFen: number;
  feeFen: number;
}

function planOrders(listings: Listing[], schedules: Map<string, FeeSchedule>): PlannedOrder[] {
  const rand = lcg(42);
  const byMerchant = Array.from({ length: MERCHANTS }, (_, m) => listings.filter((l) => l.merchantIndex === m));
  const orders: PlannedOrder[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const merchantIndex = Math.floor(rand() * MERCHANTS);
    const own = byMerchant[merchantIndex];
    const lineCount = 1 + Math.floor(rand() * 3);
    const start = Math.floor(rand() * own.length);
    const lines = Array.from({ length: lineCount }, (_, k) => {
      const listing = own[(start + k) % own.length];
      const quantity = 1 + Math.floor(rand() * 5);
      return { listing, quantity, amountFen: listing.priceFen * quantity, schedule: schedules.get(listing.category)! };
    });
    const goodsTotalFen = lines.reduce((sum, l) => sum + l.amountFen, 0);
    // As placeCheckout fixes it: commission per category (each with its minimum), summed, capped.
    const perCategory = new Map<string, number>();
    for (const l of lines) perCategory.set(l.listing.category, (perCategory.get(l.listing.category) ?? 0) + l.amountFen);
    let feeFen = 0;
    for (const [category, amount] of perCategory) feeFen += commissionFen(amount, schedules.get(category)!);
    orders.push({
      id: randomUUID(),
      checkoutId: randomUUID(),
      buyerIndex: i % BUYERS,
      merchantIndex,
      lines,
      goodsTotalFen,
      feeFen: Math.min(feeFen, goodsTotalFen),
    });
  }
  return orders;
}

async function createBuyers(db: Db): Promise<{ buyerIds: string[]; walletIds: string[] }> {
  const buyerIds: string[] = [];
  const walletIds: string[] = [];
  const rule = ACCOUNT_KIND_RULES.wallet;
  for (const part of chunks(Array.from({ length: BUYERS }, (_, i) => i), 1_000)) {
    const orgs = await db
      .insertInto("organizations")
      .values(part.map((i) => ({ kind: "buyer" as const, name: `基准采购商 ${i + 1}` })))
      .returning("id")
      .execute();
    // Empty wallets: zero totals are consistent with no transfers; the top-ups below go through the ledger.
    const wallets = await db
      .insertInto("ledger_accounts")
      .values(orgs.map((o) => ({ code: `wallet:${o.id}`, organization_id: o.id, kind: "wallet" as const, normal_side: rule.normalSide, overdraft_rule: rule.overdraftRule })))
      .returning("id")
      .execute();
    buyerIds.push(...orgs.map((o) => o.id));
    walletIds.push(...wallets.map((w) => w.id));
  }
  return { buyerIds, walletIds };
}

/**
 * Fund the buyers and place, pay and ship every order in bulk with real ledger state: top-ups from
 * the bank's equity and the holds through applyBatch, the checkouts, orders and lines with
 * multi-row INSERTs (one transaction per chunk, so the holds and their orders land together).
 */
async function placeOrders(db: Db, world: World, orders: PlannedOrder[], buyers: { buyerIds: string[]; walletIds: string[] }, now: Date): Promise<void> {
  const equity = await ensureAccount(db, { kind: "bank_equity", organizationId: null, code: "bank_equity" });
  const needed = new Array<number>(BUYERS).fill(0);
  for (const o of orders) needed[o.buyerIndex] += o.goodsTotalFen;
  for (const part of chunks(Array.from({ length: BUYERS }, (_, i) => i), SETUP_CHUNK)) {
    await applyBatch(
      db,
      part.map((i): BatchOperation => ({
        op: "transfer",
        idempotencyKey: `bench-topup:${buyers.buyerIds[i]}`,
        kind: "topup",
        reference: `bench:${buyers.buyerIds[i]}`,
        debitAccountId: equity.id,
        creditAccountId: buyers.walletIds[i],
        // A little more than the orders need, as a real wallet would have.
        amountFen: needed[i] + 100_000,
      })),
    );
  }

  const datePart = shanghaiDate(now).replace(/-/g, "");
  const dayMs = 86_400_000;
  for (const [c, part] of chunks(orders, SETUP_CHUNK).entries()) {
    await db.transaction().execute(async (trx) => {
      const holds = await applyBatch(
        trx,
        part.map((o): BatchOperation => ({
          op: "transfer",
          idempotencyKey: `market_order:${o.id}:hold`,
          kind: "escrow_hold",
          reference: `market_order:${o.id}`,
          debitAccountId: buyers.walletIds[o.buyerIndex],
          creditAccountId: world.merchantWalletIds[o.merchantIndex],
          amountFen: o.goodsTotalFen,
          pending: true,
        })),
      );
      const at = (o: number, i: number) => new Date(now.getTime() - o + (c * SETUP_CHUNK + i));
      for (const sub of chunks(part.map((o, i) => ({ o, i })), 1_000)) {
        await trx
          .insertInto("market_checkouts")
          .values(
            sub.map(({ o, i }) => ({
              id: o.checkoutId,
              market_id: world.marketId,
              operator_id: world.operatorId,
              buyer_id: buyers.buyerIds[o.buyerIndex],
              total_fen: o.goodsTotalFen,
              status: "paid" as const,
              idempotency_key: `bench-checkout:${o.id}`,
              expires_at: at(3 * dayMs - 30 * 60_000, i),
              created_at: at(3 * dayMs, i),
              updated_at: at(3 * dayMs, i),
            })),
          )
          .execute();
        await trx
          .insertInto("market_orders")
          .values(
            sub.map(({ o, i }) => ({
              id: o.id,
              order_no: `MO${datePart}${String(c * SETUP_CHUNK + i + 1).padStart(6, "0")}`,
              market_id: world.marketId,
              operator_id: world.operatorId,
              checkout_id: o.checkoutId,
              buyer_id: buyers.buyerIds[o.buyerIndex],
              merchant_id: world.merchantIds[o.merchantIndex],
              status: "shipped" as const,
              goods_total_fen: o.goodsTotalFen,
              fee_fen: o.feeFen,
              hold_transfer_id: holds[i].id,
              carrier: "顺丰",
              tracking_no: `SF${String(c * SETUP_CHUNK + i + 1).padStart(10, "0")}`,
              placed_at: at(3 * dayMs, i),
              paid_at: at(3 * dayMs - 60_000, i),
              shipped_at: at(2 * dayMs, i),
              // Far enough out that the auto-confirm sweep leaves them to the receipt below.
              auto_confirm_at: new Date(now.getTime() + 5 * dayMs),
              updated_at: at(2 * dayMs, i),
            })),
          )
          .execute();
        await trx
          .insertInto("market_order_lines")
          .values(
            sub.flatMap(({ o }) =>
              o.lines.map((l, k) => ({
                order_id: o.id,
                listing_id: l.listing.id,
                line_no: k + 1,
                title: l.listing.title,
                category: l.listing.category,
                spec: l.listing.spec,
                unit: l.listing.unit,
                unit_price_fen: l.listing.priceFen,
                quantity: l.quantity,
                amount_fen: l.amountFen,
                fee_schedule_id: l.schedule.id,
                commission_rate_bps: l.schedule.commissionRateBps,
                min_fee_fen: l.schedule.minFeeFen,
              })),
            ),
          )
          .execute();
      }
    });
  }
  await sql`select setval('market_order_no_seq', ${orders.length})`.execute(db);
}

export async function setUp(db: Db, now: Date): Promise<{ world: World; orders: PlannedOrder[] }> {
  const { world, listings, schedules } = await buildMarket(db, now);
  const orders = planOrders(listings, schedules);
  const buyers = await createBuyers(db);
  await placeOrders(db, world, orders, buyers, now);
  // The units the orders took (E2).
  await sql`
    update market_listings l set stock_qty = l.stock_qty - q.quantity
      from (select listing_id, sum(quantity)::int as quantity from market_order_lines group by listing_id) q
     where l.id = q.listing_id`.execute(db);
  await sql`vacuum analyze`.execute(db);
  return { world, orders };
}

/**
 * The receipt, in bulk, through the real code path: every shipped order is made due for
 * auto-confirmation and autoConfirmShippedOrders (the auto-confirm step's model function, which
 * goes through the same markReceived as a buyer's receipt: status, timeline, audit rows and one
 * settle outbox row per order) runs over them, all in one transaction, so the workers see every
 * receipt at once when it commits. Whatever the receipt path enqueues, the bench measures.
 */
export async function receiveAll(db: Db): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`update market_orders set auto_confirm_at = now() - interval '1 second' where status = 'shipped'`.execute(trx);
    const now = new Date();
    let received = 0;
    for (;;) {
      const batch = await autoConfirmShippedOrders(trx, now, RECEIPT_CHUNK);
      received += batch.length;
      if (batch.length < RECEIPT_CHUNK) return received;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Workers





// ---------------------------------------------------------------------------------------------
// Where the CPU went (Linux /proc; empty elsewhere): per process group, in ms of CPU time


function describeCpu(cpu: ReturnType<typeof cpuBetween>, count: number, unit: string): string {
  if (!existsSync("/proc/stat")) return "no /proc: CPU split not available";
  if (cpu.totalMs === 0) return "too short to split";
  const order = ["postgres", "workers", "redis", "bench", "postgres (other work)", "others"];
  const parts = order.filter((g) => cpu.groups.has(g)).map((g) => `${g} ${(cpu.groups.get(g)! / 1000).toFixed(1)} s`);
  const per = ((cpu.groups.get("postgres") ?? 0) + (cpu.groups.get("workers") ?? 0) + (cpu.groups.get("redis") ?? 0)) / count;
  return `${parts.join(", ")}; machine ${Math.round((100 * cpu.busyMs) / cpu.totalMs)} % busy; postgres + workers + redis ${(per * 1000).toFixed(0)} µs CPU per ${unit}`;
}

// ---------------------------------------------------------------------------------------------
// One measurement

interface RunResult {
  workers: number;
  setupMs: number;
  elapsedMs: number;
  perSecond: number;
  drainMs: number | null;
  batches: number;
  jobsCompleted: number;
  jobsFailed: number;
  settledByWorker: number[];
  checksOk: boolean;
  /** pgbench TPC-B-like TPS at clients = workers: the mean of the runs before and after. */
  tps: number;
}

async function count(db: Db, status: "received" | "settled" | "shipped"): Promise<number> {
  const row = await db.selectFrom("market_orders").select((eb) => eb.fn.countAll<number>().as("n")).where("status", "=", status).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function check(db: Db, world: World, orders: number): Promise<boolean> {
  let ok = true;
  const fail = (message: string) => {
    ok = false;
    console.log(`  CHECK FAILED: ${message}`);
  };
  const violations = await verifyLedger(db);
  if (violations.length > 0) fail(`ledger verification: ${JSON.stringify(violations.slice(0, 5))}`);
  const settled = await count(db, "settled");
  if (settled !== orders) fail(`${settled} of ${orders} orders settled`);
  const fee = await db
    .selectFrom("market_orders")
    .select(sql<number>`coalesce(sum(settled_fee_fen), 0)::bigint`.as("fee"))
    .where("market_id", "=", world.marketId)
    .executeTakeFirstOrThrow();
  const feeAccount = await db.selectFrom("ledger_accounts").selectAll().where("id", "=", world.feeAccountId).executeTakeFirstOrThrow();
  const feeBalance = feeAccount.credits_posted_fen - feeAccount.debits_posted_fen;
  if (Number(fee.fee) !== feeBalance || feeAccount.credits_pending_fen !== 0) fail(`Σ settled_fee_fen ${fee.fee} ≠ fee account balance ${feeBalance}`);
  const perMerchant = await db
    .selectFrom("market_orders")
    .select(["merchant_id", sql<number>`sum(settled_net_fen)::bigint`.as("net")])
    .groupBy("merchant_id")
    .execute();
  const netBy = new Map(perMerchant.map((r) => [r.merchant_id, Number(r.net)]));
  let merchantsOk = 0;
  let netTotal = 0;
  for (const [i, merchantId] of world.merchantIds.entries()) {
    const w = await db.selectFrom("ledger_accounts").selectAll().where("id", "=", world.merchantWalletIds[i]).executeTakeFirstOrThrow();
    const balance = w.credits_posted_fen - w.debits_posted_fen;
    const net = netBy.get(merchantId) ?? 0;
    netTotal += net;
    if (balance !== net || w.credits_pending_fen !== 0 || w.debits_pending_fen !== 0) {
      fail(`merchant ${i + 1} wallet ${balance} fen (pending in ${w.credits_pending_fen}) ≠ Σ settled_net_fen ${net}`);
    } else merchantsOk += 1;
  }
  const twice = await sql<{ n: number }>`
    select count(*)::int as n from (select order_id from market_order_events where event = 'settle' group by order_id having count(*) > 1) d`.execute(db);
  if (Number(twice.rows[0].n) > 0) fail(`${twice.rows[0].n} orders have two settle events`);
  console.log(
    `  checks: ledger ${violations.length === 0 ? "clean" : `${violations.length} violations`}; ${settled}/${orders} settled; ` +
      `fees Σ ${fee.fee} fen = account ${feeBalance} fen; ${merchantsOk}/${world.merchantIds.length} merchant wallets = Σ net (${netTotal} fen)`,
  );
  return ok;
}

/**
 * The bench's own connections (setup, polling, checks): createDb's pool with the same int8 parser,
 * plus an error listener, so an idle connection terminated from outside (a shared server) costs a
 * reconnect instead of the run. The workers under test use createDb itself.
 */
function benchDb(url: string): { db: Db; close: () => Promise<void> } {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    types: { getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === 20 ? parseInt8 : pg.types.getTypeParser(oid, format as "text"))) as typeof pg.types.getTypeParser },
  });
  pool.on("error", (error) => console.log(`  (bench connection lost: ${error.message})`));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, close: () => db.destroy() };
}

async function measureWorkers(base: string, pgbenchUrl: string, workers: number, suffix: string, redis: Redis): Promise<RunResult> {
  const dbName = `rt_bench_escrow_${suffix}_w${workers}`;
  const prefix = `rtbenchescrow${suffix}w${workers}`;
  const admin = new pg.Client({ connectionString: base });
  admin.on("error", (error) => console.log(`  (admin connection lost: ${error.message})`));
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const dbUrl = urlFor(base, dbName);
  const handle = benchDb(dbUrl);
  const procs: (WorkerProcess & { settled: number })[] = [];
  const queue = new Queue(MARKET_ORDER_QUEUE, { connection: redis, prefix });
  try {
    await migrateToLatest(handle.db);
    const db = handle.db;
    const setupStarted = performance.now();
    const now = new Date();
    const { world, orders } = await setUp(db, now);
    const setupMs = performance.now() - setupStarted;
    const before = await verifyLedger(db);
    const shipped = await count(db, "shipped");
    if (before.length > 0 || shipped !== orders.length) {
      throw new Error(`setup is not sound: ${shipped} shipped of ${orders.length}, ledger ${JSON.stringify(before.slice(0, 5))}`);
    }
    const held = orders.reduce((s, o) => s + o.goodsTotalFen, 0);
    console.log(`[${workers} worker${workers > 1 ? "s" : ""}] setup ${seconds(setupMs)}: ${orders.length} orders held (${(held / 100).toFixed(2)} yuan), ledger clean`);

    // pgbench just before and just after the settlement, on a machine in the same state: the mean is the limit.
    const tpsBefore = await pgbenchTps(pgbenchUrl, workers, SECONDS);

    for (let i = 0; i < workers; i++) {
      const proc: WorkerProcess & { settled: number } = Object.assign(
        startWorker({ databaseUrl: dbUrl, redisUrl: REDIS_URL, prefix, index: i + 1, onLog: (entry) => { if (entry.msg === "market orders settled") proc.settled += Number(entry.settled ?? 0); } }),
        { settled: 0 },
      );
      procs.push(proc);
    }
    const startAsked = performance.now();
    await Promise.all(procs.map((p) => p.ready));
    // The schedulers' first runs (empty sweeps) are over before the receipts land.
    await sleep(1_500);
    console.log(`  workers ready in ${seconds(performance.now() - startAsked)} (not measured)`);

    const receiptStarted = performance.now();
    const received = await receiveAll(db);
    const outboxRows = await db.selectFrom("outbox").select((eb) => eb.fn.countAll<number>().as("n")).where("queue", "=", MARKET_ORDER_QUEUE).executeTakeFirstOrThrow();
    console.log(`  ${received} orders received in one transaction (${seconds(performance.now() - receiptStarted)}, not measured): ${outboxRows.n} settle outbox rows`);
    const workerPids = procs.map((p) => p.child.pid ?? -1);
    const cpu0 = snapshot(dbName, workerPids);
    const t0 = performance.now();
    let left = orders.length;
    while (left > 0) {
      await sleep(POLL_MS);
      left = await count(db, "received");
      if (procs.some((p) => p.child.exitCode !== null)) throw new Error(`a worker exited: ${procs.flatMap((p) => p.errors).join(" | ")}`);
    }
    const elapsedMs = performance.now() - t0;
    const cpuSettling = cpuBetween(cpu0, snapshot(dbName, workerPids));
    const perSecond = orders.length / (elapsedMs / 1000);
    const atEnd = await queue.getJobCounts("completed");
    const unpublished = await db.selectFrom("outbox").select((eb) => eb.fn.countAll<number>().as("n")).where("published_at", "is", null).executeTakeFirstOrThrow();
    console.log(
      `  all ${orders.length} settled in ${seconds(elapsedMs)}: ${perSecond.toFixed(0)} settlements/s ` +
        `(by then ${atEnd.completed} jobs had run and ${unpublished.n} outbox rows were still unpublished)`,
    );

    console.log(`  CPU while settling: ${describeCpu(cpuSettling, orders.length, "order")}`);
    const cpu1 = snapshot(dbName, workerPids);
    // The rest of the queue: jobs whose order a sweep already settled, each finding nothing.
    let drainMs: number | null = null;
    for (;;) {
      const waiting = await db.selectFrom("outbox").select((eb) => eb.fn.countAll<number>().as("n")).where("published_at", "is", null).executeTakeFirstOrThrow();
      const counts = await queue.getJobCounts("waiting", "active", "prioritized");
      // Job schedulers always keep their next run delayed (ids "repeat:…"); retries of failed jobs count.
      const delayed = (await queue.getDelayed()).filter((j) => !String(j.id).startsWith("repeat:")).length;
      const pending = Number(waiting.n) + delayed + Object.values(counts).reduce((a, b) => a + b, 0);
      if (pending === 0) {
        drainMs = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > DRAIN_CAP_MS) break;
      await sleep(250);
    }
    const done = await queue.getJobCounts("completed", "failed");
    const cpuDraining = cpuBetween(cpu1, snapshot(dbName, workerPids));
    console.log(
      drainMs === null
        ? `  queue not drained after ${seconds(DRAIN_CAP_MS)}: ${done.completed} jobs completed`
        : `  queue drained (${done.completed} jobs, ${done.failed} failed) ${seconds(drainMs)} after the receipts: ` +
            `${(done.completed / (drainMs / 1000)).toFixed(0)} jobs/s, ${((drainMs - elapsedMs) / 1000).toFixed(1)} s after the last settlement`,
    );

    const drained = done.completed - atEnd.completed;
    if (drainMs !== null && drainMs - elapsedMs >= 1_000 && drained >= 100) {
      const jobs = drained;
      console.log(`  CPU while draining ${jobs} jobs that found nothing: ${describeCpu(cpuDraining, jobs, "job")}`);
    }
    await Promise.all(procs.map(stopWorker));
    const batchRows = await sql<{ n: number; orders: number }>`
      select count(*)::int as n, sum(k)::int as orders
        from (select count(*) as k from ledger_transfers where kind = 'escrow_release' group by created_at) b`.execute(db);
    const batches = Number(batchRows.rows[0].n);
    console.log(
      `  ${batches} settlement transactions, ${(orders.length / Math.max(batches, 1)).toFixed(0)} orders each on average, ` +
        `${(elapsedMs / Math.max(batches, 1)).toFixed(0)} ms of wall time per transaction; settled per worker: ${procs.map((p) => p.settled).join(", ")}`,
    );
    const failures = procs.reduce((n, p) => n + p.failures, 0);
    if (failures > 0) console.log(`  worker warnings/errors: ${failures}; first: ${procs.flatMap((p) => p.errors).slice(0, 3).join(" | ")}`);
    const checksOk = (await check(db, world, orders.length)) && done.failed === 0;
    const tpsAfter = await pgbenchTps(pgbenchUrl, workers, SECONDS);
    const tps = (tpsBefore + tpsAfter) / 2;
    console.log(`  pgbench TPC-B-like at ${workers} client${workers > 1 ? "s" : ""}: ${tpsBefore.toFixed(0)} TPS before, ${tpsAfter.toFixed(0)} after, mean ${tps.toFixed(0)}`);
    return {
      workers,
      setupMs,
      elapsedMs,
      perSecond,
      drainMs,
      batches,
      jobsCompleted: done.completed,
      jobsFailed: done.failed,
      settledByWorker: procs.map((p) => p.settled),
      checksOk,
      tps,
    };
  } finally {
    await Promise.all(procs.map(stopWorker));
    await queue.close();
    const deleted = await deleteRedisKeys(redis, prefix);
    console.log(`  cleaned up ${deleted} redis keys of prefix ${prefix}`);
    await handle.close();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

export async function run(): Promise<void> {
  const base = adminUrl();
  const suffix = randomBytes(4).toString("hex");
  const pgbenchDb = `rt_bench_pgbench_${suffix}`;
  const admin = new pg.Client({ connectionString: base });
  admin.on("error", (error) => console.log(`  (admin connection lost: ${error.message})`));
  await admin.connect();
  await admin.query(`create database ${pgbenchDb}`);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const results: RunResult[] = [];
  try {
    await pgbenchInit(urlFor(base, pgbenchDb), 10);
    console.log(`escrow settlement: ${ORDERS} received orders, ${BUYERS} buyers, ${MERCHANTS} merchants; workers ${WORKER_COUNTS.join(", ")}; pgbench ${SECONDS} s`);
    for (const workers of WORKER_COUNTS) {
      const result = await measureWorkers(base, urlFor(base, pgbenchDb), workers, suffix, redis);
      const tps = result.tps;
      results.push(result);
      const ratio = result.perSecond / tps;
      console.log(
        `  ${workers} worker${workers > 1 ? "s" : ""}: ${result.perSecond.toFixed(0)} settlements/s; pgbench TPC-B-like ${tps.toFixed(0)} TPS at ${workers} client${workers > 1 ? "s" : ""}; ` +
          `ratio ${ratio.toFixed(2)} (target ≥ 2: ${ratio >= 2 ? "met" : "NOT met"})`,
      );
      if (!result.checksOk) process.exitCode = 1;
    }
    for (const r of results) {
      console.log(
        JSON.stringify({
          bench: "escrow",
          workers: r.workers,
          per_s: Math.round(r.perSecond * 10) / 10,
          pgbench_tps: Math.round(r.tps),
          ratio: Math.round((r.perSecond / r.tps) * 1000) / 1000,
        }),
      );
    }
  } finally {
    await redis.quit();
    await admin.query(`drop database if exists ${pgbenchDb}`);
    await admin.end();
  }
}
