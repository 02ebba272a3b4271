/**
 * Benchmark: the dealer catalogue page query at 10,000 and at 1,000,000 SKUs.
 *
 * The page is `listDealerCatalog` (the model function the /shop page calls): one keyset page of
 * active SKUs of a core enterprise with each SKU's price resolved for the dealer (tier list with
 * volume breaks, dealer overrides). Measured for the first page and for a deep page (a cursor 90 %
 * of the way through), 200 runs each, after a warm-up, at both sizes, interleaved, in one run on
 * one machine.
 * Target: p95(1M) / p95(10k) ≤ 1.3 — the page cost must not grow with the catalogue.
 *
 * Runs in two scratch databases (one per size) created on the PostgreSQL server of DATABASE_URL
 * (or TEST_DATABASE_URL, or the local default) and dropped afterwards; nothing else is touched.
 * Run: `npm run bench -- catalog`, or `npx tsx tests/bench/catalog.ts` (BENCH_KEEP_DB=1 keeps the
 * filled database and prints its name, for EXPLAIN).
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { sql } from "kysely";
import { createDb, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { listDealerCatalog } from "../../app/domain/pricing/pricing.server";
import { adminUrl, urlFor, percentile } from "./databases";

const SMALL = 10_000;
const LARGE = 1_000_000;
const RUNS = 200;
const WARMUP = 30;
const PAGE_SIZE = 25;
const FILL_BATCH = 100_000;

const round = (ms: number) => Math.round(ms * 1000) / 1000;

interface World {
  coreId: string;
  dealerId: string;
  tierId: string;
  listId: string;
  linkId: string;
}

async function setUp(db: Db): Promise<World> {
  const core = await db.insertInto("organizations").values({ kind: "core_enterprise", name: "基准测试 核心企业" }).returning("id").executeTakeFirstOrThrow();
  const dealer = await db.insertInto("organizations").values({ kind: "dealer", name: "基准测试 经销商" }).returning("id").executeTakeFirstOrThrow();
  const tier = await db.insertInto("dealer_tiers").values({ core_enterprise_id: core.id, name: "金牌", rank: 1 }).returning("id").executeTakeFirstOrThrow();
  const list = await db
    .insertInto("price_lists")
    .values({ core_enterprise_id: core.id, tier_id: tier.id, name: "全年", valid_from: "2000-01-01", valid_to: null })
    .returning("id")
    .executeTakeFirstOrThrow();
  const link = await db
    .insertInto("dealer_links")
    .values({ core_enterprise_id: core.id, dealer_id: dealer.id, tier_id: tier.id, region: "浙江省杭州市" })
    .returning("id")
    .executeTakeFirstOrThrow();
  return { coreId: core.id, dealerId: dealer.id, tierId: tier.id, listId: list.id, linkId: link.id };
}

/**
 * SKUs `from`..`to` (1-based) in set-based statements: a product per 10 SKUs, every 20th SKU
 * inactive, a tier price for every SKU, two volume breaks for every third, an override for every
 * tenth (codes ending in 5) — so every page meets the tier price and the override rules.
 */
async function fill(db: Db, w: World, from: number, to: number): Promise<void> {
  for (let start = from; start <= to; start += FILL_BATCH) {
    const end = Math.min(to, start + FILL_BATCH - 1);
    await sql`
      insert into products (core_enterprise_id, code, name, category)
      select ${w.coreId}::uuid, 'P-' || lpad(g::text, 7, '0'), '基准系列 ' || g, '类目 ' || (g % 20)
      from generate_series(${Math.ceil(start / 10)}::int, ${Math.ceil(end / 10)}::int) g
      on conflict do nothing`.execute(db);
    await sql`
      insert into skus (core_enterprise_id, product_id, code, name, spec, unit, pack_size, moq, base_price_fen, tax_rate_bps, stock_on_hand, status)
      select ${w.coreId}::uuid, p.id, 'BENCH-' || lpad(g::text, 7, '0'), '基准商品 ' || g, '规格 ' || (g % 97), '台',
             1 + (g % 3) * 5, (1 + (g % 3) * 5) * (1 + g % 2), 10000 + (g % 5000) * 100, 1300, g % 1000,
             case when g % 20 = 0 then 'inactive' else 'active' end
      from generate_series(${start}::int, ${end}::int) g
      join products p on p.core_enterprise_id = ${w.coreId}::uuid and p.code = 'P-' || lpad(ceil(g / 10.0)::int::text, 7, '0')`.execute(db);
    await sql`
      insert into price_list_items (price_list_id, core_enterprise_id, sku_id, min_qty, price_fen)
      select ${w.listId}::uuid, s.core_enterprise_id, s.id, b.min_qty, s.base_price_fen * b.pct / 100
      from skus s
      cross join lateral (values (1, 92), (50, 88), (200, 85)) b(min_qty, pct)
      where s.core_enterprise_id = ${w.coreId}::uuid
        and s.code between 'BENCH-' || lpad(${start}::int::text, 7, '0') and 'BENCH-' || lpad(${end}::int::text, 7, '0')
        and (b.min_qty = 1 or substr(s.code, 7)::int % 3 = 0)`.execute(db);
    await sql`
      insert into dealer_price_overrides (core_enterprise_id, dealer_link_id, sku_id, price_fen, valid_from, valid_to, note)
      select s.core_enterprise_id, ${w.linkId}::uuid, s.id, s.base_price_fen * 80 / 100, '2000-01-01', null, '基准'
      from skus s
      where s.core_enterprise_id = ${w.coreId}::uuid
        and s.code between 'BENCH-' || lpad(${start}::int::text, 7, '0') and 'BENCH-' || lpad(${end}::int::text, 7, '0')
        and substr(s.code, 7)::int % 10 = 5`.execute(db);
  }
  // As a live system would be after autovacuum: statistics fresh, visibility map set, and no
  // autovacuum of the just-written rows running in the middle of the measurement.
  await sql`vacuum analyze products, skus, price_list_items, dealer_price_overrides`.execute(db);
}

interface Bench {
  db: Db;
  world: World;
  total: number;
  deepCode: string;
}

type Samples = { first: number[]; deep: number[] };

function pageOf(b: Bench, after: string | null, on: Date) {
  return listDealerCatalog(b.db, { coreEnterpriseId: b.world.coreId, dealerId: b.world.dealerId, on, after, limit: PAGE_SIZE });
}

async function check(b: Bench, on: Date): Promise<void> {
  const page = await pageOf(b, b.deepCode, on);
  if (page.items.length !== PAGE_SIZE || page.items.some((item) => item.code <= b.deepCode)) {
    throw new Error(`deep page of ${b.total} is wrong: ${page.items.length} items`);
  }
  const rules = new Set(page.items.map((i) => i.price.rule));
  for (const rule of ["tier_price", "volume_break", "dealer_override"] as const) {
    // The deep page is priced at each SKU's MOQ: breaks from 50 never apply there, so only
    // require what the fill guarantees on a page of 25.
    if (rule !== "volume_break" && !rules.has(rule)) throw new Error(`the deep page resolved no ${rule}: the fill is wrong`);
  }
}

/**
 * Both catalogues, measured interleaved (small first, large first, small deep, large deep, …):
 * whatever else the machine is doing during the run weighs on both sizes alike, so the ratio
 * compares the query at two sizes, not two moments.
 */
async function measure(small: Bench, large: Bench): Promise<{ small: Samples; large: Samples }> {
  const on = new Date();
  await check(small, on);
  await check(large, on);
  for (let i = 0; i < WARMUP; i++) {
    for (const b of [small, large]) {
      await pageOf(b, null, on);
      await pageOf(b, b.deepCode, on);
    }
  }
  const result = { small: { first: [] as number[], deep: [] as number[] }, large: { first: [] as number[], deep: [] as number[] } };
  for (let i = 0; i < RUNS; i++) {
    // Alternate which size goes first, so neither always follows the other.
    const order: ["small" | "large", Bench][] = i % 2 ? [["small", small], ["large", large]] : [["large", large], ["small", small]];
    for (const [name, b] of order) {
      let t = performance.now();
      await pageOf(b, null, on);
      result[name].first.push(performance.now() - t);
      t = performance.now();
      await pageOf(b, b.deepCode, on);
      result[name].deep.push(performance.now() - t);
    }
  }
  return result;
}

async function scratchDatabase(admin: pg.Client, base: string, label: string) {
  const name = `rt_bench_catalog_${label}_${randomBytes(4).toString("hex")}`;
  await admin.query(`create database ${name}`);
  // Two connections at most: the figure is the query path of one request, not pool contention.
  const handle = createDb({ databaseUrl: urlFor(base, name), poolMax: 2 });
  await migrateToLatest(handle.db);
  return { name, handle };
}

export async function run(): Promise<void> {
  const base = adminUrl();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const scratch: Awaited<ReturnType<typeof scratchDatabase>>[] = [];
  try {
    // One database per size on the same server (same buffers, same settings): the 10k catalogue
    // has its own 10k-row indexes, the 1M catalogue its own 1M-row ones.
    const benches: Bench[] = [];
    for (const [label, total] of [["small", SMALL], ["large", LARGE]] as const) {
      const s = await scratchDatabase(admin, base, label);
      scratch.push(s);
      const world = await setUp(s.handle.db);
      const t = performance.now();
      await fill(s.handle.db, world, 1, total);
      console.log(`filled ${total.toLocaleString("en")} SKUs in ${Math.round(performance.now() - t)} ms`);
      benches.push({ db: s.handle.db, world, total, deepCode: `BENCH-${String(Math.floor(total * 0.9)).padStart(7, "0")}` });
    }
    const [small, large] = benches;
    const samples = await measure(small, large);

    const p95 = (s: Samples) => percentile([...s.first, ...s.deep], 95);
    const p95Small = p95(samples.small);
    const p95Large = p95(samples.large);
    const ratio = p95Large / p95Small;
    const line = (label: string, s: Samples) =>
      console.log(
        `${label}: first page p50 ${round(percentile(s.first, 50))} ms p95 ${round(percentile(s.first, 95))} ms; ` +
          `deep page p50 ${round(percentile(s.deep, 50))} ms p95 ${round(percentile(s.deep, 95))} ms`,
      );
    line(`${SMALL.toLocaleString("en")} SKUs`, samples.small);
    line(`${LARGE.toLocaleString("en")} SKUs`, samples.large);
    console.log(`p95 (first + deep page, ${RUNS} runs each): ${round(p95Small)} ms → ${round(p95Large)} ms; ratio ${ratio.toFixed(3)} (target ≤ 1.3)`);
    console.log(
      JSON.stringify({
        bench: "catalog",
        skus_small: SMALL,
        skus_large: LARGE,
        p95_small_ms: round(p95Small),
        p95_large_ms: round(p95Large),
        ratio: Math.round(ratio * 1000) / 1000,
      }),
    );
  } finally {
    for (const s of scratch) {
      await s.handle.close();
      // BENCH_KEEP_DB=1 keeps the filled databases for EXPLAIN-ing; drop them by hand afterwards.
      if (process.env.BENCH_KEEP_DB === "1") console.log(`kept database ${s.name}`);
      else await admin.query(`drop database if exists ${s.name} with (force)`);
    }
    await admin.end();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
