import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getCart } from "../../app/domain/market/cart.server";
import { getMerchantListing, listMerchantListings, searchListings } from "../../app/domain/market/listings.server";
import { seedMarketListingsDemo } from "../../app/seed/market-listings.server";
import { seedMarketDemo } from "../../app/seed/market.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";
import { addMerchant, listFor, makeMarket } from "./market-listings.fixtures";

/**
 * The listings, search and cart pages through the real Express + Remix stack, as a browser without
 * JavaScript uses them, on the demo market (李记 and 依美 with their goods): forms that name the bad
 * field (4xx, nothing written), moderation with a reason, the buyer's search and cart, and another
 * tenant's ids answering 404.
 */
describe("market listing, search and cart pages", () => {
  let t: TestDatabase;
  let server: TestServer;
  const w = {} as {
    operatorId: string;
    marketId: string;
    merchantId: string;
    yimeiId: string;
    buyerId: string;
    operator: string;
    merchant: string;
    buyer: string;
    buyerViewer: string;
    otherBuyer: string;
    strangerOperator: string;
    strangerMerchant: string;
    strangerMarketId: string;
    strangerListingId: string;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const operator = await createOrg(t.db, { kind: "market_operator", name: "四季青市场管理有限公司" });
    const base = "92330104MA2KBR5E3";
    const merchant = await t.db
      .insertInto("organizations")
      .values({ kind: "merchant", name: "杭州李记服饰商行", name_en: "Li's Apparel", uscc: base + usccCheckCharacter(base) })
      .returning("id")
      .executeTakeFirstOrThrow();
    const buyer = await createOrg(t.db, { kind: "buyer", name: "温州优品百货有限公司" });
    w.operator = (await createUser(t.db, { memberships: [[operator.id, "owner"]] })).email;
    w.merchant = (await createUser(t.db, { memberships: [[merchant.id, "owner"]] })).email;
    w.buyer = (await createUser(t.db, { memberships: [[buyer.id, "purchaser"]] })).email;
    w.buyerViewer = (await createUser(t.db, { memberships: [[buyer.id, "viewer"]] })).email;
    const seeded = await t.db.transaction().execute(async (trx) => {
      const { marketId } = await seedMarketDemo(trx, { operatorId: operator.id, merchantId: merchant.id });
      const listings = await seedMarketListingsDemo(trx, { operatorId: operator.id, marketId, merchantId: merchant.id, buyerId: buyer.id });
      return { marketId, ...listings };
    });
    w.operatorId = operator.id;
    w.marketId = seeded.marketId;
    w.merchantId = merchant.id;
    w.yimeiId = seeded.secondMerchantId;
    w.buyerId = buyer.id;
    const otherBuyer = await createOrg(t.db, { kind: "buyer" });
    w.otherBuyer = (await createUser(t.db, { memberships: [[otherBuyer.id, "owner"]] })).email;

    // Another operator's market with its own merchant and listing.
    const stranger = await makeMarket(t.db, "女装");
    const strangerSeller = await addMerchant(t.db, stranger, { name: "别家商户" });
    w.strangerMarketId = stranger.marketId;
    w.strangerListingId = (await listFor(t.db, stranger, strangerSeller.merchantId, { title: "别家的裙子" })).id;
    w.strangerOperator = (await createUser(t.db, { memberships: [[stranger.operatorId, "owner"]] })).email;
    w.strangerMerchant = (await createUser(t.db, { memberships: [[strangerSeller.merchantId, "owner"]] })).email;
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function signedIn(email: string): Promise<Client> {
    const client = new Client(server.url);
    const res = await client.login(email, TEST_PASSWORD);
    expect(res.status).toBe(302);
    return client;
  }

  async function listingId(title: string): Promise<string> {
    const row = await t.db.selectFrom("market_listings").select("id").where("title", "=", title).executeTakeFirstOrThrow();
    return row.id;
  }

  describe("the merchant's pages", () => {
    it("lists its goods with status, stock and the operator's reason; other kinds of organisation get 404", async () => {
      const merchant = await signedIn(w.merchant);
      const page = await merchant.get("/merchant/listings");
      expect(page.status).toBe(200);
      // Newest first, 25 a page: the first goods listed are on the next page, found by search.
      expect(page.body).toContain("帆布托特包");
      expect(page.body).toContain('rel="next"');
      expect((await merchant.get(`/merchant/listings?q=${encodeURIComponent("雪纺")}`)).body).toContain("雪纺碎花连衣裙");
      expect(page.body).toContain("已屏蔽");
      expect(page.body).toContain("标题暗示仿冒品牌");
      expect(page.body).not.toContain("男士商务长袖衬衫");
      const hiddenOnly = await merchant.get("/merchant/listings?moderation=hidden");
      expect(hiddenOnly.body).toContain("大牌同款链条包");
      expect(hiddenOnly.body).not.toContain("雪纺碎花连衣裙");
      expect((await merchant.get("/merchant/listings?after=garbage!")).status).toBe(400);

      const buyer = await signedIn(w.buyer);
      expect((await buyer.get("/merchant/listings")).status).toBe(404);
      expect((await merchant.get("/market")).status).toBe(404);
      expect((await merchant.get("/market/cart")).status).toBe(404);
      expect((await merchant.get(`/markets/${w.marketId}/listings`)).status).toBe(404);
    });

    it("creates a listing: a bad price is a 422 naming the field with the input kept and nothing written", async () => {
      const merchant = await signedIn(w.merchant);
      const csrf = await merchant.csrfFrom("/merchant/listings/new");
      const before = (await listMerchantListings(t.db, w.merchantId, { limit: 100 })).items.length;
      const form = { csrf, marketId: w.marketId, title: "新款针织连衣裙", titleEn: "Knit Dress", category: "女装", spec: "均码", unit: "件", stockQty: "100", minOrderQty: "3", imageUrl: "" };
      const bad = await merchant.post("/merchant/listings/new", { ...form, price: "十二块" });
      expect(bad.status).toBe(422);
      expect(bad.body).toMatch(/id="price-error"/);
      expect(bad.body).toContain("请输入大于 0 的金额");
      expect(bad.body).toContain('value="新款针织连衣裙"');
      const wrongCategory = await merchant.post("/merchant/listings/new", { ...form, price: "12.50", category: "男装" });
      expect(wrongCategory.status).toBe(422);
      expect(wrongCategory.body).toContain("不在您的铺位获准经营的类目内");
      expect((await listMerchantListings(t.db, w.merchantId, { limit: 100 })).items.length).toBe(before);

      const ok = await merchant.post("/merchant/listings/new", { ...form, price: "12.50" });
      expect(ok.status).toBe(302);
      const created = (await listMerchantListings(t.db, w.merchantId, { q: "新款针织连衣裙" })).items[0];
      expect(created).toMatchObject({ priceFen: 1_250, stockQty: 100, minOrderQty: 3, titleEn: "Knit Dress" });
      expect(ok.location).toBe(`/merchant/listings/${created.id}`);
      const shown = await merchant.get(ok.location!);
      expect(shown.body).toContain("已上架：新款针织连衣裙");

      // Listing in another operator's market (not its own) is a 404, and nothing is written.
      const foreign = await merchant.post("/merchant/listings/new", { ...form, price: "12.50", marketId: w.strangerMarketId });
      expect(foreign.status).toBe(404);
    });

    it("edits details, sets stock against the count it saw, takes a listing off sale; another merchant's listing is a 404", async () => {
      const merchant = await signedIn(w.merchant);
      const id = await listingId("百褶半身裙");
      const here = `/merchant/listings/${id}`;
      const csrf = await merchant.csrfFrom(here);
      const badEdit = await merchant.post(here, { csrf, intent: "update", title: "百褶半身裙", category: "女装", unit: "条", price: "45", minOrderQty: "0", imageUrl: "ftp://x" });
      expect(badEdit.status).toBe(422);
      expect(badEdit.body).toMatch(/id="minOrderQty-error"/);
      expect(badEdit.body).toMatch(/id="imageUrl-error"/);
      expect((await getMerchantListing(t.db, w.merchantId, id)).minOrderQty).toBe(5);

      const stale = await merchant.post(here, { csrf, intent: "stock", stockQty: "10", expectedStockQty: "1" });
      expect(stale.status).toBe(409);
      expect(stale.body).toContain("库存已被订单占用而变化");
      const current = (await getMerchantListing(t.db, w.merchantId, id)).stockQty;
      expect((await merchant.post(here, { csrf, intent: "stock", stockQty: "333", expectedStockQty: String(current) })).status).toBe(302);
      expect((await getMerchantListing(t.db, w.merchantId, id)).stockQty).toBe(333);
      expect((await merchant.post(here, { csrf, intent: "status", status: "inactive" })).status).toBe(302);
      expect((await getMerchantListing(t.db, w.merchantId, id)).status).toBe("inactive");
      expect((await merchant.post(here, { csrf, intent: "status", status: "active" })).status).toBe(302);

      const stranger = await signedIn(w.strangerMerchant);
      expect((await stranger.get(here)).status).toBe(404);
      const scsrf = await stranger.csrfFrom("/merchant/listings");
      expect((await stranger.post(here, { csrf: scsrf, intent: "status", status: "inactive" })).status).toBe(404);
      expect((await stranger.post(here, { csrf: scsrf, intent: "update", title: "" })).status).toBe(404);
      expect((await getMerchantListing(t.db, w.merchantId, id)).status).toBe("active");
      expect((await merchant.get("/merchant/listings/not-a-uuid")).status).toBe(404);
    });
  });

  describe("the operator's moderation page", () => {
    it("hides a listing only with a reason, unhides it; another operator gets 404", async () => {
      const operator = await signedIn(w.operator);
      const page = `/markets/${w.marketId}/listings`;
      const list = await operator.get(page);
      expect(list.status).toBe(200);
      expect(list.body).toContain("男士商务长袖衬衫");
      expect(list.body).toContain("杭州依美服饰有限公司");
      const id = await listingId("草编遮阳帽");
      const csrf = await operator.csrfFrom(page);
      const noReason = await operator.post(page, { csrf, intent: "hide", listingId: id, reason: " " });
      expect(noReason.status).toBe(422);
      expect(noReason.body).toContain("此项为必填");
      expect((await getMerchantListing(t.db, w.merchantId, id)).moderationStatus).toBe("visible");

      const hidden = await operator.post(page, { csrf, intent: "hide", listingId: id, reason: "图片与实物不符", returnTo: `${page}?moderation=visible` });
      expect(hidden.status).toBe(302);
      expect(hidden.location).toBe(`${page}?moderation=visible`);
      expect(await getMerchantListing(t.db, w.merchantId, id)).toMatchObject({ moderationStatus: "hidden", moderationReason: "图片与实物不符" });
      const filtered = await operator.get(`${page}?moderation=hidden`);
      expect(filtered.body).toContain("草编遮阳帽");
      expect(filtered.body).toContain("图片与实物不符");
      const merchant = await signedIn(w.merchant);
      expect((await merchant.get(`/merchant/listings/${id}`)).body).toContain("原因：图片与实物不符");
      expect((await operator.post(page, { csrf, intent: "unhide", listingId: id })).status).toBe(302);
      expect((await getMerchantListing(t.db, w.merchantId, id)).moderationStatus).toBe("visible");

      const stranger = await signedIn(w.strangerOperator);
      expect((await stranger.get(page)).status).toBe(404);
      const scsrf = await stranger.csrfFrom(`/markets/${w.strangerMarketId}/listings`);
      // This operator's own market URL, another operator's listing id: still 404, nothing changes.
      expect((await stranger.post(`/markets/${w.strangerMarketId}/listings`, { csrf: scsrf, intent: "hide", listingId: id, reason: "x" })).status).toBe(404);
      expect((await stranger.post(`/markets/${w.strangerMarketId}/listings`, { csrf: scsrf, intent: "hide", listingId: id, reason: "" })).status).toBe(404);
      expect((await stranger.post(page, { csrf: scsrf, intent: "hide", listingId: id, reason: "x" })).status).toBe(404);
      expect((await getMerchantListing(t.db, w.merchantId, id)).moderationStatus).toBe("visible");
    });
  });

  describe("the buyer's pages", () => {
    it("searches in Chinese and English, filters by category, price and merchant, and pages on", async () => {
      const buyer = await signedIn(w.buyer);
      const chooser = await buyer.get("/market");
      expect(chooser.status).toBe(200);
      expect(chooser.body).toContain("四季青服装批发市场");
      const base = `/market/${w.marketId}`;
      const dresses = await buyer.get(`${base}?q=${encodeURIComponent("连衣裙")}`);
      expect(dresses.status).toBe(200);
      expect(dresses.body).toContain("雪纺碎花连衣裙");
      expect(dresses.body).not.toContain("男士商务长袖衬衫");
      const shirts = await buyer.get(`${base}?q=business+shirt`);
      expect(shirts.body).toContain("男士商务长袖衬衫");
      expect(shirts.body).not.toContain("雪纺碎花连衣裙");
      const byMerchant = await buyer.get(`${base}?q=${encodeURIComponent("依美")}&maxPrice=50`);
      expect(byMerchant.body).toContain("纯棉POLO衫");
      expect(byMerchant.body).toContain("工装短裤");
      expect(byMerchant.body).not.toContain("弹力牛仔裤");
      const accessories = await buyer.get(`${base}?category=${encodeURIComponent("服饰配件")}&merchant=${w.merchantId}`);
      expect(accessories.body).toContain("真丝方巾");
      expect(accessories.body).not.toContain("雪纺碎花连衣裙");
      // Hidden and off-sale goods never show.
      const all = await buyer.get(`${base}?q=${encodeURIComponent("链条包")}`);
      expect(all.body).not.toContain("大牌同款链条包");
      expect(all.body).toContain("没有找到符合条件的商品");

      const badPrice = await buyer.get(`${base}?minPrice=abc`);
      expect(badPrice.status).toBe(400);
      expect(badPrice.body).toMatch(/id="minPrice-error"/);
      const badRange = await buyer.get(`${base}?minPrice=100&maxPrice=10`);
      expect(badRange.status).toBe(400);
      expect(badRange.body).toContain("最低价不能高于最高价");

      // 35+ orderable listings at 24 a page: a next page, with nothing shown twice.
      const first = await buyer.get(base);
      const next = /<a[^>]*href="([^"]*after=[^"]+)"[^>]*>/.exec(first.body)?.[1]?.replace(/&amp;/g, "&");
      expect(next).toBeTruthy();
      const second = await buyer.get(next!);
      expect(second.status).toBe(200);
      const cards = (html: string) => [...html.matchAll(/href="\/market\/[^/]+\/listings\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
      const onFirst = new Set(cards(first.body));
      expect(onFirst.size).toBe(24);
      expect(cards(second.body).filter((id) => onFirst.has(id))).toEqual([]);
      const total = (await searchListings(t.db, { marketId: w.marketId, limit: 100 })).items.length;
      expect(onFirst.size + new Set(cards(second.body)).size).toBe(total);
    });

    it("shows a listing's page; hidden, other markets' and unknown listings are 404; other kinds 404", async () => {
      const buyer = await signedIn(w.buyer);
      const id = await listingId("真丝方巾");
      const detail = await buyer.get(`/market/${w.marketId}/listings/${id}`);
      expect(detail.status).toBe(200);
      expect(detail.body).toContain("90×90cm");
      expect(detail.body).toContain("¥35.50");
      expect((await buyer.get(`/market/${w.marketId}/listings/${await listingId("大牌同款链条包")}`)).status).toBe(404);
      expect((await buyer.get(`/market/${w.marketId}/listings/${w.strangerListingId}`)).status).toBe(404);
      expect((await buyer.get(`/market/${w.strangerMarketId}/listings/${id}`)).status).toBe(404);
      expect((await buyer.get(`/market/${w.marketId}/listings/zzz`)).status).toBe(404);
      expect((await buyer.get(`/market/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
      const operator = await signedIn(w.operator);
      expect((await operator.get(`/market/${w.marketId}`)).status).toBe(404);
    });

    it("adds to the cart by the minimum order, edits and removes lines; a viewer cannot", async () => {
      const buyer = await signedIn(w.buyer);
      const base = `/market/${w.marketId}`;
      const id = await listingId("羊绒围巾");
      const csrf = await buyer.csrfFrom(base);
      const tooFew = await buyer.post(`${base}?index`, { csrf, listingId: id, quantity: "2", returnTo: base });
      expect(tooFew.status).toBe(422);
      expect(tooFew.body).toContain("数量低于起订量");
      const notANumber = await buyer.post(`${base}?index`, { csrf, listingId: id, quantity: "many", returnTo: base });
      expect(notANumber.status).toBe(422);
      expect(notANumber.body).toContain("请输入整数");
      const added = await buyer.post(`${base}?index`, { csrf, listingId: id, quantity: "5", returnTo: `${base}?q=x` });
      expect(added.status).toBe(302);
      expect(added.location).toBe(`${base}?q=x`);
      // Another market's listing through this market's page is a 404.
      expect((await buyer.post(`${base}?index`, { csrf, listingId: w.strangerListingId, quantity: "5" })).status).toBe(404);

      const cartPage = await buyer.get("/market/cart");
      expect(cartPage.status).toBe(200);
      expect(cartPage.body).toContain("杭州李记服饰商行");
      expect(cartPage.body).toContain("杭州依美服饰有限公司");
      expect(cartPage.body).toContain("羊绒围巾");
      const cart = await getCart(t.db, w.buyerId, w.marketId);
      expect(cart.groups).toHaveLength(2);
      expect(cartPage.body).toContain(`data-testid="cart-total">¥${(cart.totalFen / 100).toLocaleString("en-US", { minimumFractionDigits: 2 })}`);

      const ccsrf = await buyer.csrfFrom("/market/cart");
      const below = await buyer.post("/market/cart?index", { csrf: ccsrf, intent: "update", listingId: id, quantity: "1" });
      expect(below.status).toBe(422);
      expect((await buyer.post("/market/cart?index", { csrf: ccsrf, intent: "update", listingId: id, quantity: "10" })).status).toBe(302);
      expect((await getCart(t.db, w.buyerId, w.marketId)).groups.flatMap((g) => g.lines).find((l) => l.listingId === id)?.quantity).toBe(10);
      expect((await buyer.post("/market/cart?index", { csrf: ccsrf, intent: "remove", listingId: id })).status).toBe(302);
      expect((await getCart(t.db, w.buyerId, w.marketId)).groups.flatMap((g) => g.lines).some((l) => l.listingId === id)).toBe(false);
      // A line that is not in this buyer's cart: 404.
      expect((await buyer.post("/market/cart?index", { csrf: ccsrf, intent: "update", listingId: w.strangerListingId, quantity: "5" })).status).toBe(404);

      const viewer = await signedIn(w.buyerViewer);
      const vcsrf = await viewer.csrfFrom("/market/cart");
      expect((await viewer.get("/market/cart")).body).not.toContain('action="/market/cart/checkout"');
      expect((await viewer.post(`${base}?index`, { csrf: vcsrf, listingId: id, quantity: "5" })).status).toBe(403);
      expect((await viewer.post("/market/cart/checkout", { csrf: vcsrf, marketId: w.marketId, idempotencyKey: "v-1" })).status).toBe(403);
    });

    it("checks out the cart into one order per merchant, clears it, and a double submit places nothing twice", async () => {
      const buyer = await signedIn(w.otherBuyer);
      const base = `/market/${w.marketId}`;
      const csrf = await buyer.csrfFrom(base);
      const dress = await listingId("雪纺碎花连衣裙");
      const polo = await listingId("纯棉POLO衫");
      expect((await buyer.post(`${base}?index`, { csrf, listingId: dress, quantity: "5" })).status).toBe(302);
      expect((await buyer.post(`${base}?index`, { csrf, listingId: polo, quantity: "10" })).status).toBe(302);
      const cartPage = await buyer.get("/market/cart");
      const key = /name="idempotencyKey" value="([^"]+)"/.exec(cartPage.body)?.[1];
      expect(key).toBeTruthy();
      const buyerId = (await t.db.selectFrom("memberships as m").innerJoin("users as u", "u.id", "m.user_id").select("m.organization_id").where("u.email", "=", w.otherBuyer).executeTakeFirstOrThrow())
        .organization_id;

      const stockBefore = (await getMerchantListing(t.db, w.merchantId, dress)).stockQty;
      const first = await buyer.post("/market/cart/checkout", { csrf, marketId: w.marketId, idempotencyKey: key! });
      // Placed: the buyer goes to the checkout's page to pay it; a double submit lands on the same one.
      expect(first.status).toBe(302);
      expect(first.location).toMatch(/^\/market\/checkouts\/[0-9a-f-]{36}$/);
      const again = await buyer.post("/market/cart/checkout", { csrf, marketId: w.marketId, idempotencyKey: key! });
      expect(again.status).toBe(302);
      expect(again.location).toBe(first.location);
      const orders = await t.db.selectFrom("market_orders").select(["merchant_id", "goods_total_fen"]).where("buyer_id", "=", buyerId).execute();
      expect(orders.map((o) => o.merchant_id).sort()).toEqual([w.merchantId, w.yimeiId].sort());
      expect((await getCart(t.db, buyerId, w.marketId)).lineCount).toBe(0);
      expect((await getMerchantListing(t.db, w.merchantId, dress)).stockQty).toBe(stockBefore - 5);

      const empty = await buyer.post("/market/cart/checkout", { csrf, marketId: w.marketId, idempotencyKey: "fresh-key" });
      expect(empty.status).toBe(302);
      expect(empty.location).toBe("/market/cart");
      expect((await buyer.post("/market/cart/checkout", { csrf, marketId: "nope", idempotencyKey: "k" })).status).toBe(404);
      expect((await buyer.post("/market/cart/checkout", { csrf, marketId: w.marketId, idempotencyKey: "" })).status).toBe(400);
    });
  });
});
