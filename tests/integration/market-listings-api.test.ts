import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getMerchantListing } from "../../app/domain/market/listings.server";
import { seedMarketListingsDemo } from "../../app/seed/market-listings.server";
import { seedMarketDemo } from "../../app/seed/market.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";
import { addMerchant, listFor, makeMarket } from "./market-listings.fixtures";

type Listing = {
  id: string;
  market: { id: string; name: string };
  merchant: { id: string; name: string; stall_code: string | null };
  title: string;
  title_en: string;
  price_fen: number;
  stock_qty: number;
  min_order_qty: number;
  status: string;
  moderation_status: string;
  moderation_reason: string;
  orderable: boolean;
};
type Page = { data: Listing[]; next_cursor: string | null };

/**
 * The listings endpoints over HTTP on the demo market (李记 and 依美 with their goods): each kind of
 * caller sees its own view, writes are idempotent and all-or-nothing, bad input is a 422 naming the
 * API's field, and other tenants' ids are 404.
 */
describe("API: market listings", () => {
  let t: TestDatabase;
  let server: TestServer;
  let buyer: ApiClient;
  let merchant: ApiClient;
  let operator: ApiClient;
  let strangerOperator: ApiClient;
  let strangerMerchant: ApiClient;
  let dealer: ApiClient;
  const w = {} as { marketId: string; merchantId: string; strangerMarketId: string; strangerListingId: string };

  beforeAll(async () => {
    t = await createTestDatabase();
    const op = await createOrg(t.db, { kind: "market_operator", name: "四季青市场管理有限公司" });
    const base = "92330104MA2KBR5E3";
    const seller = await t.db
      .insertInto("organizations")
      .values({ kind: "merchant", name: "杭州李记服饰商行", uscc: base + usccCheckCharacter(base) })
      .returning("id")
      .executeTakeFirstOrThrow();
    const buyerOrg = await createOrg(t.db, { kind: "buyer" });
    const users = {
      operator: await createUser(t.db, { memberships: [[op.id, "owner"]] }),
      merchant: await createUser(t.db, { memberships: [[seller.id, "owner"]] }),
      buyer: await createUser(t.db, { memberships: [[buyerOrg.id, "purchaser"]] }),
    };
    w.marketId = await t.db.transaction().execute(async (trx) => {
      const { marketId } = await seedMarketDemo(trx, { operatorId: op.id, merchantId: seller.id });
      await seedMarketListingsDemo(trx, { operatorId: op.id, marketId, merchantId: seller.id });
      return marketId;
    });
    w.merchantId = seller.id;
    const stranger = await makeMarket(t.db, "女装");
    const strangerSeller = await addMerchant(t.db, stranger);
    w.strangerMarketId = stranger.marketId;
    w.strangerListingId = (await listFor(t.db, stranger, strangerSeller.merchantId)).id;
    const strangerOpUser = await createUser(t.db, { memberships: [[stranger.operatorId, "owner"]] });
    const strangerSellerUser = await createUser(t.db, { memberships: [[strangerSeller.merchantId, "owner"]] });
    const dealerUser = await createUser(t.db, { memberships: [[(await createOrg(t.db, { kind: "dealer" })).id, "owner"]] });

    server = await startTestServer(t.db);
    buyer = await apiLogin(server.url, users.buyer.email, TEST_PASSWORD);
    merchant = await apiLogin(server.url, users.merchant.email, TEST_PASSWORD);
    operator = await apiLogin(server.url, users.operator.email, TEST_PASSWORD);
    strangerOperator = await apiLogin(server.url, strangerOpUser.email, TEST_PASSWORD);
    strangerMerchant = await apiLogin(server.url, strangerSellerUser.email, TEST_PASSWORD);
    dealer = await apiLogin(server.url, dealerUser.email, TEST_PASSWORD);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const listingsOf = (marketId: string, query = "") => `/api/v1/markets/${marketId}/listings${query ? `?${query}` : ""}`;

  async function idOf(title: string): Promise<string> {
    return (await t.db.selectFrom("market_listings").select("id").where("title", "=", title).executeTakeFirstOrThrow()).id;
  }

  it("lets a buyer search a market by Chinese or English words and walk every page by cursor", async () => {
    const dresses = await buyer.get<Page>(listingsOf(w.marketId, `q=${encodeURIComponent("连衣裙")}`));
    expect(dresses.status).toBe(200);
    expect(dresses.body.data.map((l) => l.title)).toEqual(expect.arrayContaining(["雪纺碎花连衣裙", "孕妇连衣裙"]));
    expect(dresses.body.data.every((l) => l.orderable && l.moderation_status === "visible")).toBe(true);
    const english = await buyer.get<Page>(listingsOf(w.marketId, "q=silk+scarf"));
    expect(english.body.data.map((l) => l.title_en)).toEqual(["Silk Square Scarf"]);
    expect(english.body.data[0]).toMatchObject({ price_fen: 3_550, merchant: { name: "杭州李记服饰商行", stall_code: "A-101" } });
    const cheapMenswear = await buyer.get<Page>(listingsOf(w.marketId, `category=${encodeURIComponent("男装")}&max_price_fen=5000`));
    expect(cheapMenswear.body.data.map((l) => l.title).sort()).toEqual(["工装短裤", "纯棉POLO衫"].sort());

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: Page } = await buyer.get<Page>(listingsOf(w.marketId, `limit=10${after ? `&after=${after}` : ""}`));
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((l) => l.id));
      after = res.body.next_cursor;
      pages += 1;
    } while (after && pages < 20);
    expect(new Set(seen).size).toBe(seen.length);
    // 25 + 10 orderable in the demo: the hidden and the off-sale ones are not there.
    expect(seen).toHaveLength(35);
    expect(seen).not.toContain(await idOf("大牌同款链条包"));
    expect(seen).not.toContain(await idOf("加绒加厚打底裤"));
  });

  it("refuses bad queries with a 422 naming the parameter, and unknown markets with a 404", async () => {
    expect(expectError(await buyer.get(listingsOf(w.marketId, "min_price_fen=abc")), 422, "validation").fields).toHaveProperty("min_price_fen");
    expect(expectError(await buyer.get(listingsOf(w.marketId, "min_price_fen=900&max_price_fen=100")), 422, "validation").fields).toEqual({ max_price_fen: "price_range" });
    expect(expectError(await buyer.get(listingsOf(w.marketId, "after=not-a-cursor!")), 422).fields).toEqual({ after: "invalid_cursor" });
    expect(expectError(await buyer.get(listingsOf(w.marketId, `q=${"a".repeat(101)}`)), 422).fields).toHaveProperty("q");
    expect(expectError(await buyer.get(listingsOf(w.marketId, "limit=1000")), 422).fields).toHaveProperty("limit");
    expectError(await buyer.get(listingsOf(randomUUID())), 404, "not_found");
    expectError(await buyer.get(listingsOf("nope")), 404, "not_found");
    // A dealer has no market listings at all.
    expectError(await dealer.get(listingsOf(w.marketId)), 404, "not_found");
  });

  it("shows a merchant its own listings with moderation, and the operator all of its market's; others 404", async () => {
    const mine = await merchant.get<Page>(listingsOf(w.marketId, "moderation=hidden"));
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((l) => [l.title, l.moderation_reason])).toEqual([["大牌同款链条包", "标题暗示仿冒品牌，请修改标题后联系市场方恢复"]]);
    const off = await merchant.get<Page>(listingsOf(w.marketId, "status=inactive"));
    expect(off.body.data.map((l) => l.title)).toEqual(["加绒加厚打底裤"]);
    expectError(await merchant.get(listingsOf(w.strangerMarketId)), 404);

    const all = await operator.get<Page>(listingsOf(w.marketId, "limit=100"));
    expect(all.body.data).toHaveLength(37);
    expect(new Set(all.body.data.map((l) => l.merchant.name))).toEqual(new Set(["杭州李记服饰商行", "杭州依美服饰有限公司"]));
    expectError(await strangerOperator.get(listingsOf(w.marketId)), 404);

    const hidden = await idOf("大牌同款链条包");
    expect((await merchant.get<Listing>(`/api/v1/listings/${hidden}`)).body.moderation_status).toBe("hidden");
    expect((await operator.get<Listing>(`/api/v1/listings/${hidden}`)).body.title).toBe("大牌同款链条包");
    expectError(await buyer.get(`/api/v1/listings/${hidden}`), 404);
    expectError(await strangerMerchant.get(`/api/v1/listings/${hidden}`), 404);
    expectError(await strangerOperator.get(`/api/v1/listings/${hidden}`), 404);
    expectError(await merchant.get(`/api/v1/listings/${w.strangerListingId}`), 404);
  });

  it("lets a merchant create a listing: idempotent, 422 naming the API's field, nothing written on refusal", async () => {
    const body = { title: "新款针织连衣裙", title_en: "New Knit Dress", category: "女装", spec: "均码", unit: "件", price_fen: 12_900, stock_qty: 80, min_order_qty: 3 };
    const key = randomUUID();
    const created = await merchant.post<Listing>(listingsOf(w.marketId), body, { key });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: "新款针织连衣裙", price_fen: 12_900, stock_qty: 80, status: "active", orderable: true });
    const replay = await merchant.post<Listing>(listingsOf(w.marketId), body, { key });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.id).toBe(created.body.id);
    expectError(await merchant.post(listingsOf(w.marketId), { ...body, price_fen: 1 }, { key }), 422, "idempotency_conflict");
    expectError(await merchant.post(listingsOf(w.marketId), body, { key: null }), 400);

    const count = async () => Number((await t.db.selectFrom("market_listings").select((eb) => eb.fn.countAll<number>().as("n")).where("merchant_id", "=", w.merchantId).executeTakeFirstOrThrow()).n);
    const before = await count();
    expect(expectError(await merchant.post(listingsOf(w.marketId), { ...body, price_fen: 0, min_order_qty: 0 }), 422, "validation").fields).toEqual({
      price_fen: "money_format",
      min_order_qty: "out_of_range",
    });
    expect(expectError(await merchant.post(listingsOf(w.marketId), { ...body, category: "男装" }), 422).fields).toEqual({ category: "category_not_allowed" });
    expect(expectError(await merchant.post(listingsOf(w.marketId), { ...body, image_url: "javascript:x" }), 422).fields).toEqual({ image_url: "url_format" });
    expect(expectError(await merchant.post(listingsOf(w.marketId), { ...body, price: 100 }), 422).fields).toEqual({ price: "unknown" });
    expect(expectError(await merchant.post(listingsOf(w.marketId), { ...body, price_fen: "12.50" }), 422).fields).toHaveProperty("price_fen");
    expectError(await merchant.post(listingsOf(w.strangerMarketId), body), 404);
    expectError(await buyer.post(listingsOf(w.marketId), body), 404);
    expect(await count()).toBe(before);
  });

  it("updates a listing partially in one transaction: a stale stock refuses the whole change", async () => {
    const id = await idOf("灯芯绒直筒裤");
    const path = `/api/v1/listings/${id}`;
    const current = await getMerchantListing(t.db, w.merchantId, id);
    const stale = await merchant.post(path, { price_fen: 7_100, stock_qty: 10, expected_stock_qty: current.stockQty + 1 });
    expect(expectError(stale, 409, "conflict").fields).toEqual({ stock_qty: "concurrent_change" });
    expect(await getMerchantListing(t.db, w.merchantId, id)).toMatchObject({ priceFen: current.priceFen, stockQty: current.stockQty });

    const ok = await merchant.post<Listing>(path, { price_fen: 7_100, stock_qty: 10, expected_stock_qty: current.stockQty });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ price_fen: 7_100, stock_qty: 10, title: "灯芯绒直筒裤" });
    expect((await merchant.post<Listing>(path, { stock_delta_qty: -4 })).body.stock_qty).toBe(6);
    expect(expectError(await merchant.post(path, { stock_delta_qty: -7 }), 409).fields).toEqual({ stock_delta_qty: "out_of_range" });
    expect(expectError(await merchant.post(path, { stock_qty: 1, stock_delta_qty: 1 }), 422).fields).toHaveProperty("stock_delta_qty");
    expectError(await merchant.post(path, {}), 422);

    expect((await merchant.post<Listing>(path, { status: "inactive" })).body).toMatchObject({ status: "inactive", orderable: false });
    expectError(await buyer.get(path), 404);
    expect((await merchant.post<Listing>(path, { status: "active" })).body.orderable).toBe(true);
    expect((await buyer.get<Listing>(path)).body.title).toBe("灯芯绒直筒裤");

    expectError(await strangerMerchant.post(path, { price_fen: 1 }), 404);
    expectError(await operator.post(path, { price_fen: 1 }), 404);
    expect((await getMerchantListing(t.db, w.merchantId, id)).priceFen).toBe(7_100);
  });

  it("lets the market's operator hide with a reason and unhide; another operator gets 404", async () => {
    const id = await idOf("帆布托特包");
    expect(expectError(await operator.post(`/api/v1/listings/${id}/hide`, { reason: "  " }), 422, "validation").fields).toEqual({ reason: "required" });
    expectError(await strangerOperator.post(`/api/v1/listings/${id}/hide`, { reason: "x" }), 404);
    expectError(await merchant.post(`/api/v1/listings/${id}/hide`, { reason: "x" }), 404);
    const hidden = await operator.post<Listing>(`/api/v1/listings/${id}/hide`, { reason: "疑似侵权" });
    expect(hidden.body).toMatchObject({ moderation_status: "hidden", moderation_reason: "疑似侵权", orderable: false });
    expectError(await operator.post(`/api/v1/listings/${id}/hide`, { reason: "again" }), 409, "invalid_state");
    const search = await buyer.get<Page>(listingsOf(w.marketId, `q=${encodeURIComponent("托特包")}`));
    expect(search.body.data).toEqual([]);
    const shown = await operator.post<Listing>(`/api/v1/listings/${id}/unhide`, {});
    expect(shown.body).toMatchObject({ moderation_status: "visible", moderation_reason: "" });
    expect((await buyer.get<Page>(listingsOf(w.marketId, `q=${encodeURIComponent("托特包")}`))).body.data).toHaveLength(1);
  });
});
