/**
 * Benchmark: the dealer's shop page (/shop/:coreEnterpriseId, the page that calls
 * `listDealerCatalog`) over HTTP, as a logged-in dealer's browser gets it, at 10,000 and at
 * 1,000,000 SKUs.
 *
 * One web process per size (server.ts in server mode: its own scratch PostgreSQL database, a
 * private Redis for jobs; LOG_LEVEL=warn, NODE_ENV=production), started here as the operator starts
 * it. A dealer purchaser logs in through the real login form (CSRF token, session cookie), then
 * GETs one keyset page of 25 active SKUs, each priced for the dealer (tier list with volume breaks,
 * dealer overrides): the first page, and a deep page whose `after` cursor is the page's own (checked
 * against the page's "next" link) 90 % of the way through. 200 runs of each, after a warm-up, one
 * client back to back over one keep-alive agent, the sizes interleaved. Every answer must be a 200
 * holding the SKU code expected on it, so an error page is never timed as a result.
 *
 * The limit, measured in the same run and interleaved with the pages: a bare `node:http` server in
 * a process of its own answering a small HTML page, fetched by the same client, agent and
 * concurrency. Figures, one JSON line each (after a first line saying how the product was reached):
 *  - per size and page: p50/p95 and requests/s, each against the bare server's (`ratio` is p95 ÷
 *    the bare p95; `p50_ratio`; `req_per_s_ratio` is ours ÷ the bare server's);
 *  - p95(1M) / p95(10k), first and deep pages together: target ≤ 1.3 — the page cost must not grow
 *    with the catalogue.
 *
 * The scratch databases are created on the PostgreSQL server of DATABASE_URL (or
 * TEST_DATABASE_URL, or the local default) and dropped afterwards; nothing else is touched.
 * Run: `npm run bench -- catalog`, or `npx tsx tests/bench/catalog.ts` (BENCH_KEEP_DB=1 keeps the
 * filled databases and prints their names, for EXPLAIN).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { sql } from "kysely";
import { createDb, type Db } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { skuCursor } from "../../app/domain/catalog";
import { BUILD_FILE, ensureBuild } from "../support/build";
import { createUser, TEST_PASSWORD } from "../support/factories";
import { killAll, spawnWeb, startPrivateRedis, type SpawnedWeb } from "../support/processes";
import { BrowserSession, keepAliveAgent, type Answer } from "./http-clients";
import { adminUrl, urlFor, percentile } from "./databases";

const SMALL = 10_000;
const LARGE = 1_000_000;
const RUNS = 200;
const WARMUP = 30;
/** Rows of a shop page (the route's PAGE_SIZE): the checks below count them. */
const PAGE_SIZE = 25;
const FILL_BATCH = 100_000;
/** One browser, requests back to back: the figure is one page's latency, not the server's capacity. */
const CLIENTS = 1;
const TARGET_RATIO = 1.3;
const WEB_START_TIMEOUT_MS = 90_000;
const BARE_START_TIMEOUT_MS = 10_000;
const DEALER_EMAIL = "bench-catalog-dealer@example.test";

const round = (ms: number) => Math.round(ms * 1000) / 1000;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

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
  // A purchaser, as most shop visitors are: the page renders its add-to-cart form on every row.
  await createUser(db, { email: DEALER_EMAIL, memberships: [[dealer.id, "purchaser"]] });
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

const skuCode = (n: number) => `BENCH-${String(n).padStart(7, "0")}`;

/** One size: its database, its web process, the dealer's session on it, and the two pages. */
interface Bench {
  total: number;
  database: string;
  handle: ReturnType<typeof createDb>;
  world: World;
  web: SpawnedWeb;
  session: BrowserSession;
  firstPath: string;
  deepPath: string;
  /** A code each page must show: the first active SKU after its cursor. */
  firstExpects: string;
  deepExpects: string;
}

type Samples = { first: number[]; deep: number[] };

/** A timed GET that only counts when it is the page: a 200 holding the SKU the page must list. */
async function timedGet(session: BrowserSession, path: string, expects: string): Promise<number> {
  const t = performance.now();
  const answer = await session.get(path);
  const ms = performance.now() - t;
  if (answer.status !== 200 || !answer.body.includes(expects)) {
    throw new Error(`GET ${session.baseUrl}${path} answered ${answer.status} without ${expects}: ${answer.body.slice(0, 500)}`);
  }
  return ms;
}

/** The href of the page's rel="next" link (HTML-escaped in the markup). */
function nextHref(answer: Answer): string | null {
  const tag = /<a\b[^>]*\brel="next"[^>]*>/.exec(answer.body)?.[0];
  const href = tag ? /\bhref="([^"]+)"/.exec(tag)?.[1] : undefined;
  return href ? href.replace(/&amp;/g, "&") : null;
}

/**
 * Before timing: the deep cursor is the one the page itself builds (its "next" link from the
 * first page is `after=` the last code shown, in the same codec), and the deep page is priced by
 * the rules the fill put there.
 */
async function check(b: Bench): Promise<void> {
  const first = await b.session.get(b.firstPath);
  if (first.status !== 200 || !first.body.includes(b.firstExpects)) throw new Error(`the first shop page of ${b.total} answered ${first.status}: ${first.body.slice(0, 500)}`);
  const next = nextHref(first);
  // SKUs 1..26 less the inactive 20th: the 25th shown is BENCH-0000026.
  const lastShown = skuCode(26);
  if (!next || new URL(next, b.web.url).searchParams.get("after") !== skuCursor(lastShown)) {
    throw new Error(`the first shop page of ${b.total} links "next" to ${next ?? "nothing"}, not after ${lastShown} in the page's cursor codec`);
  }
  const following = await b.session.get(next);
  if (following.status !== 200 || !following.body.includes(skuCode(27))) throw new Error(`the page's own next link of ${b.total} answered ${following.status}`);
  const deep = await b.session.get(b.deepPath);
  if (deep.status !== 200 || !deep.body.includes(b.deepExpects)) throw new Error(`the deep shop page of ${b.total} answered ${deep.status}: ${deep.body.slice(0, 500)}`);
  const rows = deep.body.split('class="sc-rule ').length - 1;
  if (rows !== PAGE_SIZE) throw new Error(`the deep shop page of ${b.total} shows ${rows} priced rows, not ${PAGE_SIZE}`);
  // Each row tags the rule that priced it (RuleTag: class="sc-rule <rule>"). The deep page is
  // priced at each SKU's MOQ, where breaks from 50 never apply: only require the others.
  for (const rule of ["tier_price", "dealer_override"]) {
    if (!deep.body.includes(`class="sc-rule ${rule}"`)) throw new Error(`the deep shop page of ${b.total} shows no ${rule} price: the fill is wrong`);
  }
}

/** The bare server's page: about the size of a small HTML document, no database, no framework. */
const BARE_SERVER_SOURCE = `
const http = require("node:http");
const page = "<!DOCTYPE html><html lang=\\"zh-CN\\"><head><meta charset=\\"utf-8\\"><title>bare</title></head><body><h1>bare</h1><p>" + "x".repeat(512) + "</p></body></html>";
http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(page) });
  res.end(page);
}).listen(0, "127.0.0.1", function () { process.stdout.write("port " + this.address().port + "\\n"); });
`;

/** The limit: a bare node:http server in a process of its own, as the web is in one of its own. */
async function startBareServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["-e", BARE_SERVER_SOURCE], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the bare server did not listen within ${BARE_START_TIMEOUT_MS} ms`)), BARE_START_TIMEOUT_MS);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /port (\d+)\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the bare server exited (${code}) before listening`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * Both catalogues and the bare server, measured interleaved (bare, small first, large first, small
 * deep, large deep, …): whatever else the machine is doing during the run weighs on all alike, so
 * the ratios compare the page at two sizes and against the limit, not two moments.
 */
async function measure(small: Bench, large: Bench, bare: BrowserSession): Promise<{ small: Samples; large: Samples; bare: number[] }> {
  const bareExpects = "<h1>bare</h1>";
  for (let i = 0; i < WARMUP; i++) {
    await timedGet(bare, "/", bareExpects);
    for (const b of [small, large]) {
      await timedGet(b.session, b.firstPath, b.firstExpects);
      await timedGet(b.session, b.deepPath, b.deepExpects);
    }
  }
  const result = { small: { first: [] as number[], deep: [] as number[] }, large: { first: [] as number[], deep: [] as number[] }, bare: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    result.bare.push(await timedGet(bare, "/", bareExpects));
    // Alternate which size goes first, so neither always follows the other.
    const order: ["small" | "large", Bench][] = i % 2 ? [["small", small], ["large", large]] : [["large", large], ["small", small]];
    for (const [name, b] of order) result[name].first.push(await timedGet(b.session, b.firstPath, b.firstExpects));
    for (const [name, b] of order) result[name].deep.push(await timedGet(b.session, b.deepPath, b.deepExpects));
  }
  return result;
}

/** Requests per second of one client sending these back to back. */
const perSecond = (samples: number[]) => (samples.length * 1000) / samples.reduce((sum, ms) => sum + ms, 0);

/**
 * The build must be a production one: `remix build` compiles JSX for the NODE_ENV it runs under,
 * and a development build (jsxDEV calls) crashes every page of a web under NODE_ENV=production.
 */
async function requireProductionBuild(): Promise<void> {
  await ensureBuild();
  if (readFileSync(BUILD_FILE, "utf8").includes("jsxDEV")) {
    throw new Error(`${BUILD_FILE} is a development build: run \`npm run build\` (NODE_ENV=production) and start the bench again`);
  }
}

export async function run(): Promise<void> {
  const base = adminUrl();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const suffix = randomBytes(4).toString("hex");
  const scratch: { name: string; handle: ReturnType<typeof createDb> }[] = [];
  const agent = keepAliveAgent(CLIENTS);
  let bareChild: ChildProcess | null = null;
  const benches: Bench[] = [];
  try {
    await requireProductionBuild();
    const redis = await startPrivateRedis();
    // One database and one web per size, on the same PostgreSQL server (same buffers, same
    // settings): the 10k catalogue has its own 10k-row indexes, the 1M catalogue its own 1M-row ones.
    for (const [label, total] of [["small", SMALL], ["large", LARGE]] as const) {
      const name = `rt_bench_catalog_${label}_${suffix}`;
      await admin.query(`create database ${name}`);
      // Two connections at most for the fill: its statements are set-based and run one at a time.
      const handle = createDb({ databaseUrl: urlFor(base, name), poolMax: 2 });
      scratch.push({ name, handle });
      await migrateToLatest(handle.db);
      const world = await setUp(handle.db);
      const web = await spawnWeb({
        DATABASE_URL: urlFor(base, name),
        REDIS_URL: redis.url,
        REDIS_PREFIX: `rt-bench-catalog-${label}-${suffix}`,
        LOG_LEVEL: "warn",
        NODE_ENV: "production",
      });
      const deepAfter = Math.floor(total * 0.9);
      benches.push({
        total,
        database: name,
        handle,
        world,
        web,
        session: new BrowserSession(web.url, agent),
        firstPath: `/shop/${world.coreId}`,
        deepPath: `/shop/${world.coreId}?${new URLSearchParams({ after: skuCursor(skuCode(deepAfter)) }).toString()}`,
        firstExpects: skuCode(1),
        // Every 20th SKU is inactive; 90 % of a size in this fill is a multiple of 20, so the next one is active.
        deepExpects: skuCode(deepAfter + 1),
      });
    }
    const [small, large] = benches;
    const modes: string[] = [];
    for (const b of benches) {
      const health = await b.web.waitForHttp("/healthz", (answer) => answer.status === 200, WEB_START_TIMEOUT_MS);
      const reported = JSON.parse(health.body) as { db?: { mode?: string }; queue?: { mode?: string } };
      modes.push(`db ${reported.db?.mode ?? "?"}, queue ${reported.queue?.mode ?? "?"}`);
      await b.session.login(DEALER_EMAIL, TEST_PASSWORD);
    }
    const bare = await startBareServer();
    bareChild = bare.child;
    const bareSession = new BrowserSession(bare.url, agent);
    console.log(
      `catalog bench reaches the product over HTTP: GET ${small.web.url}${small.firstPath} (${SMALL.toLocaleString("en")} SKUs, PostgreSQL ${small.database}; ${modes[0]}) ` +
        `and GET ${large.web.url}${large.firstPath} (${LARGE.toLocaleString("en")} SKUs, PostgreSQL ${large.database}; ${modes[1]}), first page and ?after=<the page's cursor at 90 %>; ` +
        `server mode, one web process per database (server.ts, LOG_LEVEL=warn, NODE_ENV=production), private Redis ${redis.url}; ` +
        `session: ${DEALER_EMAIL} (purchaser) logged in through POST /login with its CSRF token, session cookie kept; ` +
        `${CLIENTS} client back to back over one keep-alive agent; limit: bare node:http at ${bare.url}/ with the same client`,
    );

    for (const b of benches) {
      const t = performance.now();
      await fill(b.handle.db, b.world, 1, b.total);
      console.log(`filled ${b.total.toLocaleString("en")} SKUs in ${Math.round(performance.now() - t)} ms`);
    }
    await check(small);
    await check(large);
    const samples = await measure(small, large, bareSession);

    const bareFigure = { p50: percentile(samples.bare, 50), p95: percentile(samples.bare, 95), perSecond: perSecond(samples.bare) };
    console.log(
      `bare node:http: p50 ${round(bareFigure.p50)} ms p95 ${round(bareFigure.p95)} ms, ${bareFigure.perSecond.toFixed(0)} requests/s (${CLIENTS} client)`,
    );
    const lines: Record<string, unknown>[] = [];
    for (const [total, s] of [[SMALL, samples.small], [LARGE, samples.large]] as const) {
      for (const page of ["first", "deep"] as const) {
        const ms = s[page];
        const p50 = percentile(ms, 50);
        const p95 = percentile(ms, 95);
        const rate = perSecond(ms);
        console.log(
          `${total.toLocaleString("en")} SKUs, ${page} page: p50 ${round(p50)} ms p95 ${round(p95)} ms, ${rate.toFixed(1)} requests/s; ` +
            `×${(p50 / bareFigure.p50).toFixed(1)} / ×${(p95 / bareFigure.p95).toFixed(1)} the bare server's p50 / p95, ${((rate / bareFigure.perSecond) * 100).toFixed(1)} % of its requests/s`,
        );
        lines.push({
          bench: "catalog",
          via: "http",
          skus: total,
          page,
          clients: CLIENTS,
          runs: ms.length,
          p50_ms: round(p50),
          p95_ms: round(p95),
          req_per_s: Math.round(rate * 10) / 10,
          bare_p50_ms: round(bareFigure.p50),
          bare_p95_ms: round(bareFigure.p95),
          bare_req_per_s: Math.round(bareFigure.perSecond * 10) / 10,
          p50_ratio: round3(p50 / bareFigure.p50),
          ratio: round3(p95 / bareFigure.p95),
          req_per_s_ratio: round3(rate / bareFigure.perSecond),
        });
      }
    }
    const p95 = (s: Samples) => percentile([...s.first, ...s.deep], 95);
    const p95Small = p95(samples.small);
    const p95Large = p95(samples.large);
    const ratio = p95Large / p95Small;
    console.log(`p95 (first + deep page, ${RUNS} runs each): ${round(p95Small)} ms → ${round(p95Large)} ms; ratio ${ratio.toFixed(3)} (target ≤ ${TARGET_RATIO})`);
    lines.push({
      bench: "catalog",
      via: "http",
      skus_small: SMALL,
      skus_large: LARGE,
      page: "first+deep",
      p95_small_ms: round(p95Small),
      p95_large_ms: round(p95Large),
      ratio: round3(ratio),
      target_ratio: TARGET_RATIO,
    });
    for (const line of lines) console.log(JSON.stringify(line));
  } catch (error) {
    // What the webs logged says why a page failed: the bench's error alone does not.
    for (const b of benches) console.error(b.web.describe());
    throw error;
  } finally {
    agent.destroy();
    bareChild?.kill("SIGTERM");
    // The webs and the private Redis; the databases go after, once no web holds a connection.
    await killAll();
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
