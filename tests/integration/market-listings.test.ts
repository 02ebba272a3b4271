import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql, type DbHandle } from "../../db";
import { addToCart, checkoutCart, checkoutLines, clearCartLines, getCart, listCarts, removeCartItem, updateCartItem } from "../../app/domain/market/cart.server";
import {
  adjustListingStock,
  createListing,
  decodeCursor,
  getListingForBuyer,
  getListingForOperator,
  getMerchantListing,
  hideListing,
  listMarketListingsForOperator,
  listMerchantListings,
  listMerchantTradingMarkets,
  listOpenMarkets,
  searchListings,
  searchTerms,
  setListingStatus,
  setListingStock,
  unhideListing,
  updateListing,
  type Listing,
  type Page,
} from "../../app/domain/market/listings.server";
import { transitionMarketMerchant } from "../../app/domain/market/venues.server";
import { ENGINES } from "./catalog.fixtures";
import { actorOf, addMerchant, auditActions, listFor, listingInput, makeMarket, newOrg } from "./market-listings.fixtures";

async function allPages(fetchPage: (after: string | null) => Promise<Page<Listing>>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const page = await fetchPage(after);
    pages += 1;
    ids.push(...page.items.map((l) => l.id));
    after = page.nextCursor;
    if (pages > 100) throw new Error("pagination does not end");
  } while (after);
  return { ids, pages };
}

describe.each(ENGINES)("market listings and carts (%s)", (_engine, open) => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await open();
  });
  afterAll(async () => {
    await handle?.close();
  });

  describe("a merchant's listings", () => {
    it("lists goods in its market with the price typed in yuan, audited, and edits them", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId, stallCode } = await addMerchant(db, market, { name: "杭州李记服饰商行", categories: "女装、童装" });
      const listing = await listFor(db, market, merchantId, { price: "¥1,299.5", stockQty: "1,000", minOrderQty: "" });
      expect(listing).toMatchObject({
        marketId: market.marketId,
        merchantName: "杭州李记服饰商行",
        stallCode,
        title: "雪纺连衣裙",
        priceFen: 129_950,
        stockQty: 1_000,
        minOrderQty: 1,
        status: "active",
        moderationStatus: "visible",
        orderable: true,
      });
      const edited = await updateListing(db, actorOf(merchantId), merchantId, listing.id, {
        ...listingInput({ title: "  真丝连衣裙 ", price: "99", category: "童装", imageUrl: "https://img.example.com/a.jpg" }),
      });
      expect(edited).toMatchObject({ title: "真丝连衣裙", priceFen: 9_900, category: "童装", imageUrl: "https://img.example.com/a.jpg", stockQty: 1_000 });
      expect(await auditActions(db, listing.id)).toEqual(["market_listing.created", "market_listing.updated"]);
      const audit = await db.selectFrom("audit_events").select(["organization_id", "before", "after"]).where("entity_id", "=", listing.id).orderBy("id", "desc").executeTakeFirstOrThrow();
      expect(audit.organization_id).toBe(merchantId);
      expect(audit.before).toMatchObject({ price_fen: 129_950, title: "雪纺连衣裙" });
      expect(audit.after).toMatchObject({ price_fen: 9_900, title: "真丝连衣裙" });
      expect((await listMerchantTradingMarkets(db, merchantId)).map((m) => [m.marketName, m.categories, m.canTrade])).toEqual([
        [market.marketName, ["女装", "童装"], true],
      ]);
    });

    it("refuses bad input naming every field, writing nothing", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      await expect(
        createListing(db, actorOf(merchantId), merchantId, market.marketId, {
          title: " ",
          titleEn: "x".repeat(151),
          category: "",
          spec: "",
          unit: "件件件件件件件件件件件",
          price: "12.345",
          stockQty: "-1",
          minOrderQty: "0",
          imageUrl: "javascript:alert(1)",
        }),
      ).rejects.toMatchObject({
        code: "validation",
        fields: {
          title: "required",
          titleEn: "too_long",
          category: "required",
          unit: "too_long",
          price: "money_format",
          stockQty: "whole_number",
          minOrderQty: "out_of_range",
          imageUrl: "url_format",
        },
      });
      await expect(createListing(db, actorOf(merchantId), merchantId, market.marketId, listingInput({ price: "0" }))).rejects.toMatchObject({ fields: { price: "money_format" } });
      await expect(createListing(db, actorOf(merchantId), merchantId, market.marketId, listingInput({ price: "1000000000.01" }))).rejects.toMatchObject({
        fields: { price: "out_of_range" },
      });
      await expect(createListing(db, actorOf(merchantId), merchantId, market.marketId, listingInput({ stockQty: "" }))).rejects.toMatchObject({ fields: { stockQty: "required" } });
      expect((await listMerchantListings(db, merchantId)).items).toHaveLength(0);
    });

    it("lists only in a category both of the market and of the merchant's stall", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market, { categories: "女装" });
      await expect(listFor(db, market, merchantId, { category: "鞋帽" })).rejects.toMatchObject({ code: "validation", fields: { category: "unknown_category" } });
      await expect(listFor(db, market, merchantId, { category: "男装" })).rejects.toMatchObject({ code: "validation", fields: { category: "category_not_allowed" } });
      const listing = await listFor(db, market, merchantId);
      await expect(updateListing(db, actorOf(merchantId), merchantId, listing.id, listingInput({ category: "男装" }))).rejects.toMatchObject({
        fields: { category: "category_not_allowed" },
      });
      expect((await getMerchantListing(db, merchantId, listing.id)).category).toBe("女装");
    });

    it("refuses a merchant not active in the market, and a market it is not in", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId, marketMerchantId } = await addMerchant(db, market);
      const listing = await listFor(db, market, merchantId);
      await transitionMarketMerchant(db, actorOf(market.operatorId), market.operatorId, market.marketId, marketMerchantId, "suspend", "拖欠租金");
      await expect(listFor(db, market, merchantId)).rejects.toMatchObject({ code: "invalid_state", fields: { marketId: "merchant_not_active" } });
      await expect(updateListing(db, actorOf(merchantId), merchantId, listing.id, listingInput({ title: "改名" }))).rejects.toMatchObject({
        fields: { marketId: "merchant_not_active" },
      });
      // Taking goods off sale and counting stock stay possible; putting them back on sale does not.
      expect((await setListingStatus(db, actorOf(merchantId), merchantId, listing.id, "inactive")).status).toBe("inactive");
      expect((await setListingStock(db, actorOf(merchantId), merchantId, listing.id, { stockQty: "3" })).stockQty).toBe(3);
      await expect(setListingStatus(db, actorOf(merchantId), merchantId, listing.id, "active")).rejects.toMatchObject({ fields: { marketId: "merchant_not_active" } });

      const elsewhere = await makeMarket(db);
      await expect(listFor(db, elsewhere, merchantId)).rejects.toMatchObject({ code: "not_found" });
      await expect(createListing(db, actorOf(merchantId), merchantId, "not-a-uuid", listingInput())).rejects.toMatchObject({ code: "not_found" });
    });

    it("puts a listing off and on sale by the table; a second click changes nothing", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      const listing = await listFor(db, market, merchantId);
      const off = await setListingStatus(db, actorOf(merchantId), merchantId, listing.id, "inactive");
      expect(off).toMatchObject({ status: "inactive", orderable: false });
      await setListingStatus(db, actorOf(merchantId), merchantId, listing.id, "inactive");
      expect((await setListingStatus(db, actorOf(merchantId), merchantId, listing.id, "active")).orderable).toBe(true);
      expect(await auditActions(db, listing.id)).toEqual(["market_listing.created", "market_listing.deactivated", "market_listing.activated"]);
    });

    it("sets stock under a lock, refuses a stale count, and moves it by a delta never below 0", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      const listing = await listFor(db, market, merchantId, { stockQty: "10" });
      expect((await setListingStock(db, actorOf(merchantId), merchantId, listing.id, { stockQty: "40", expectedStockQty: "10" })).stockQty).toBe(40);
      await expect(setListingStock(db, actorOf(merchantId), merchantId, listing.id, { stockQty: "50", expectedStockQty: "10" })).rejects.toMatchObject({
        code: "conflict",
        fields: { stockQty: "concurrent_change" },
      });
      await expect(setListingStock(db, actorOf(merchantId), merchantId, listing.id, { stockQty: "-5" })).rejects.toMatchObject({ fields: { stockQty: "whole_number" } });
      expect((await adjustListingStock(db, actorOf(merchantId), merchantId, listing.id, { deltaQty: -15 })).stockQty).toBe(25);
      await expect(adjustListingStock(db, actorOf(merchantId), merchantId, listing.id, { deltaQty: -26 })).rejects.toMatchObject({ fields: { deltaQty: "out_of_range" } });
      // Concurrent decrements: exactly as many succeed as the stock allows, never below 0.
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => adjustListingStock(db, actorOf(merchantId), merchantId, listing.id, { deltaQty: -4 })));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(6);
      expect((await getMerchantListing(db, merchantId, listing.id)).stockQty).toBe(1);
      expect(await auditActions(db, listing.id)).toEqual([
        "market_listing.created",
        "market_listing.stock_set",
        "market_listing.stock_adjusted",
        ...Array(6).fill("market_listing.stock_adjusted"),
      ]);
    });

    it("keeps another merchant's listing out of reach", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const a = await addMerchant(db, market);
      const b = await addMerchant(db, market);
      const listing = await listFor(db, market, a.merchantId);
      await expect(getMerchantListing(db, b.merchantId, listing.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(updateListing(db, actorOf(b.merchantId), b.merchantId, listing.id, listingInput({ title: "抢过来" }))).rejects.toMatchObject({ code: "not_found" });
      await expect(setListingStatus(db, actorOf(b.merchantId), b.merchantId, listing.id, "inactive")).rejects.toMatchObject({ code: "not_found" });
      await expect(setListingStock(db, actorOf(b.merchantId), b.merchantId, listing.id, { stockQty: "0" })).rejects.toMatchObject({ code: "not_found" });
      expect((await listMerchantListings(db, b.merchantId)).items).toHaveLength(0);
      expect((await getMerchantListing(db, a.merchantId, listing.id)).title).toBe("雪纺连衣裙");
    });
  });

  describe("moderation by the market's operator", () => {
    it("hides with a reason the merchant reads, unhides, audited; another operator gets not_found", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      const listing = await listFor(db, market, merchantId);
      const operator = actorOf(market.operatorId);
      await expect(hideListing(db, operator, market.operatorId, market.marketId, listing.id, { reason: "  " })).rejects.toMatchObject({
        code: "validation",
        fields: { reason: "required" },
      });
      const hidden = await hideListing(db, operator, market.operatorId, market.marketId, listing.id, { reason: "图片与实物不符" });
      expect(hidden).toMatchObject({ moderationStatus: "hidden", moderationReason: "图片与实物不符", orderable: false });
      expect(await getMerchantListing(db, merchantId, listing.id)).toMatchObject({ moderationStatus: "hidden", moderationReason: "图片与实物不符" });
      await expect(hideListing(db, operator, market.operatorId, market.marketId, listing.id, { reason: "再次" })).rejects.toMatchObject({ code: "invalid_state" });
      // The merchant editing it does not bring it back.
      await updateListing(db, actorOf(merchantId), merchantId, listing.id, listingInput({ title: "雪纺连衣裙 新款" }));
      expect((await getMerchantListing(db, merchantId, listing.id)).moderationStatus).toBe("hidden");
      expect((await listMarketListingsForOperator(db, market.operatorId, market.marketId, { moderation: "hidden" })).items.map((l) => l.id)).toEqual([listing.id]);

      const stranger = await makeMarket(db);
      await expect(hideListing(db, actorOf(stranger.operatorId), stranger.operatorId, market.marketId, listing.id, { reason: "x" })).rejects.toMatchObject({ code: "not_found" });
      await expect(hideListing(db, actorOf(stranger.operatorId), stranger.operatorId, stranger.marketId, listing.id, { reason: "x" })).rejects.toMatchObject({ code: "not_found" });
      await expect(unhideListing(db, actorOf(stranger.operatorId), stranger.operatorId, market.marketId, listing.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(listMarketListingsForOperator(db, stranger.operatorId, market.marketId)).rejects.toMatchObject({ code: "not_found" });
      await expect(getListingForOperator(db, stranger.operatorId, null, listing.id)).rejects.toMatchObject({ code: "not_found" });

      const shown = await unhideListing(db, operator, market.operatorId, market.marketId, listing.id);
      expect(shown).toMatchObject({ moderationStatus: "visible", moderationReason: "", orderable: true });
      expect(await auditActions(db, listing.id)).toEqual(["market_listing.created", "market_listing.hidden", "market_listing.updated", "market_listing.unhidden"]);
    });
  });

  describe("buyers' search", () => {
    it("finds listings by Chinese and English words, the merchant's name, category, price and merchant", async () => {
      const db = handle.db;
      const market = await makeMarket(db, "女装、男装、服饰配件");
      const li = await addMerchant(db, market, { name: "杭州李记服饰商行", categories: "女装、服饰配件" });
      const yimei = await addMerchant(db, market, { name: "杭州依美服饰有限公司", categories: "男装" });
      const dress = await listFor(db, market, li.merchantId, { title: "雪纺碎花连衣裙", titleEn: "Floral Chiffon Dress", spec: "S/M/L/XL 均码", price: "68" });
      const scarf = await listFor(db, market, li.merchantId, { title: "真丝方巾", titleEn: "Silk Square Scarf", category: "服饰配件", spec: "90×90cm", unit: "条", price: "35.5" });
      const shirt = await listFor(db, market, yimei.merchantId, { title: "男士商务长袖衬衫", titleEn: "Men's Business Shirt", category: "男装", spec: "39-44 码", price: "89" });
      const percent = await listFor(db, market, li.merchantId, { title: "100%纯棉T恤", titleEn: "100% cotton tee", price: "25" });
      const search = (extra: Partial<Parameters<typeof searchListings>[1]> = {}) =>
        searchListings(db, { marketId: market.marketId, ...extra }).then((p) => p.items.map((l) => l.id).sort());
      const sorted = (...ids: string[]) => ids.sort();

      expect(await search()).toEqual(sorted(dress.id, scarf.id, shirt.id, percent.id));
      expect(await search({ q: "连衣裙" })).toEqual([dress.id]);
      expect(await search({ q: "CHIFFON dress" })).toEqual([dress.id]);
      expect(await search({ q: "ｓｉｌｋ" })).toEqual([scarf.id]);
      expect(await search({ q: "真丝 scarf" })).toEqual([scarf.id]);
      expect(await search({ q: "真丝 shirt" })).toEqual([]);
      expect(await search({ q: "依美" })).toEqual([shirt.id]);
      expect(await search({ q: "李记　连衣裙" })).toEqual([dress.id]);
      expect(await search({ q: "均码" })).toEqual([dress.id]);
      // % and _ are letters to look for, not wildcards.
      expect(await search({ q: "100%" })).toEqual([percent.id]);
      expect(await search({ q: "%" })).toEqual([percent.id]);
      expect(await search({ q: "_" })).toEqual([]);
      expect(await search({ category: "服饰配件" })).toEqual([scarf.id]);
      expect(await search({ minPriceFen: 3_550, maxPriceFen: 6_800 })).toEqual(sorted(dress.id, scarf.id));
      expect(await search({ minPriceFen: 8_000 })).toEqual([shirt.id]);
      expect(await search({ merchantId: yimei.merchantId })).toEqual([shirt.id]);
      expect(await search({ merchantId: li.merchantId, q: "dress" })).toEqual([dress.id]);

      const found = await searchListings(db, { marketId: market.marketId, q: "衬衫" });
      expect(found.items[0]).toMatchObject({ merchantName: "杭州依美服饰有限公司", stallCode: yimei.stallCode, priceFen: 8_900, unit: "件" });

      await expect(searchListings(db, { marketId: market.marketId, q: "长".repeat(101) })).rejects.toMatchObject({ code: "validation", fields: { q: "too_long" } });
      await expect(searchListings(db, { marketId: market.marketId, q: "a b c d e f g h i" })).rejects.toMatchObject({ fields: { q: "too_many" } });
      await expect(searchListings(db, { marketId: market.marketId, minPriceFen: 500, maxPriceFen: 100 })).rejects.toMatchObject({ fields: { maxPrice: "price_range" } });
      await expect(searchListings(db, { marketId: market.marketId, after: "garbage!" })).rejects.toMatchObject({ fields: { after: "invalid_cursor" } });
      await expect(searchListings(db, { marketId: market.marketId, merchantId: "x" })).rejects.toMatchObject({ fields: { merchantId: "unknown" } });
      expect(searchTerms(" 连衣裙，  Dress 连衣裙 ")).toEqual(["连衣裙", "dress"]);
    });

    it("pages newest first by cursor without duplicates or gaps, even for listings created at the same instant", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      const created: string[] = [];
      for (let i = 0; i < 23; i++) created.push((await listFor(db, market, merchantId, { title: `款式 ${i}` })).id);
      // Five of them share one timestamp: the id decides their order.
      await sql`update market_listings set created_at = '2025-03-01T08:00:00.123456Z' where id in (${sql.join(created.slice(5, 10))})`.execute(db);

      const walk = await allPages((after) => searchListings(db, { marketId: market.marketId, after, limit: 4 }));
      expect(walk.pages).toBe(6);
      expect(new Set(walk.ids).size).toBe(23);
      expect([...walk.ids].sort()).toEqual([...created].sort());
      const single = await searchListings(db, { marketId: market.marketId, limit: 100 });
      expect(single.items.map((l) => l.id)).toEqual(walk.ids);
      expect(single.nextCursor).toBeNull();
      // Newest first: the last one created leads.
      expect(walk.ids[0]).toBe(created[22]);
      // Page sizes are capped.
      expect((await searchListings(db, { marketId: market.marketId, limit: 10_000 })).items).toHaveLength(23);
      const mine = await allPages((after) => listMerchantListings(db, merchantId, { after, limit: 5 }));
      expect(mine.ids).toEqual(walk.ids);
      const operator = await allPages((after) => listMarketListingsForOperator(db, market.operatorId, market.marketId, { after, limit: 7 }));
      expect(operator.ids).toEqual(walk.ids);
      const page = await searchListings(db, { marketId: market.marketId, limit: 4 });
      expect(decodeCursor(page.nextCursor)).toMatchObject({ id: page.items[3].id });
    });

    it("shows buyers only orderable listings: hidden, off sale, suspended merchants and closed markets drop out", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const a = await addMerchant(db, market);
      const b = await addMerchant(db, market);
      const visible = await listFor(db, market, a.merchantId, { title: "在售" });
      const hidden = await listFor(db, market, a.merchantId, { title: "被屏蔽" });
      const off = await listFor(db, market, a.merchantId, { title: "已下架" });
      const suspended = await listFor(db, market, b.merchantId, { title: "暂停商户的货" });
      await hideListing(db, actorOf(market.operatorId), market.operatorId, market.marketId, hidden.id, { reason: "违禁品" });
      await setListingStatus(db, actorOf(a.merchantId), a.merchantId, off.id, "inactive");
      await transitionMarketMerchant(db, actorOf(market.operatorId), market.operatorId, market.marketId, b.marketMerchantId, "suspend", "检查");

      expect((await searchListings(db, { marketId: market.marketId })).items.map((l) => l.id)).toEqual([visible.id]);
      expect((await getListingForBuyer(db, market.marketId, visible.id)).title).toBe("在售");
      for (const id of [hidden.id, off.id, suspended.id]) {
        await expect(getListingForBuyer(db, market.marketId, id)).rejects.toMatchObject({ code: "not_found" });
      }
      // In another market's URL, even a visible listing is not there.
      const other = await makeMarket(db);
      await expect(getListingForBuyer(db, other.marketId, visible.id)).rejects.toMatchObject({ code: "not_found" });
      // The operator still sees every one.
      expect((await listMarketListingsForOperator(db, market.operatorId, market.marketId)).items).toHaveLength(4);
      const open = await listOpenMarkets(db);
      expect(open.find((m) => m.id === market.marketId)?.listingCount).toBe(1);

      await db.updateTable("markets").set({ status: "closed" }).where("id", "=", market.marketId).execute();
      await expect(searchListings(db, { marketId: market.marketId })).rejects.toMatchObject({ code: "not_found" });
      expect((await listOpenMarkets(db)).map((m) => m.id)).not.toContain(market.marketId);
    });
  });

  describe("a buyer's cart", () => {
    it("adds, changes and removes lines, grouped by merchant with totals in fen, by the minimum-order rule", async () => {
      const db = handle.db;
      const market = await makeMarket(db, "女装、男装");
      const li = await addMerchant(db, market, { name: "A 李记", categories: "女装" });
      const yimei = await addMerchant(db, market, { name: "B 依美", categories: "男装" });
      const dress = await listFor(db, market, li.merchantId, { price: "68.50", minOrderQty: "5", stockQty: "100" });
      const skirt = await listFor(db, market, li.merchantId, { title: "半身裙", price: "45", minOrderQty: "1", stockQty: "10" });
      const shirt = await listFor(db, market, yimei.merchantId, { title: "衬衫", category: "男装", price: "89", minOrderQty: "12", unit: "打", stockQty: "30" });
      const buyer = await newOrg(db, "buyer");

      await expect(addToCart(db, buyer, { listingId: dress.id, quantity: "3" })).rejects.toMatchObject({ code: "validation", fields: { quantity: "below_min_order" } });
      await expect(addToCart(db, buyer, { listingId: dress.id, quantity: "1.5" })).rejects.toMatchObject({ fields: { quantity: "whole_number" } });
      await expect(addToCart(db, buyer, { listingId: skirt.id, quantity: "11" })).rejects.toMatchObject({ fields: { quantity: "insufficient_stock" } });
      expect(await addToCart(db, buyer, { listingId: dress.id, quantity: "5" })).toMatchObject({ quantity: 5, amountFen: 34_250, problem: null });
      // Adding the same listing again adds up.
      expect((await addToCart(db, buyer, { listingId: dress.id, quantity: 3 })).quantity).toBe(8);
      await addToCart(db, buyer, { listingId: skirt.id, quantity: "2" });
      await addToCart(db, buyer, { listingId: shirt.id, quantity: "12" });

      let cart = await getCart(db, buyer, market.marketId);
      expect(cart.groups.map((g) => [g.merchantName, g.lines.map((l) => l.listingId), g.subtotalFen])).toEqual([
        ["A 李记", [dress.id, skirt.id], 8 * 6_850 + 2 * 4_500],
        ["B 依美", [shirt.id], 12 * 8_900],
      ]);
      expect(cart.totalFen).toBe(8 * 6_850 + 2 * 4_500 + 12 * 8_900);
      expect(cart.groups[1]).toMatchObject({ stallCode: yimei.stallCode });

      await expect(updateCartItem(db, buyer, { listingId: shirt.id, quantity: "11" })).rejects.toMatchObject({ fields: { quantity: "below_min_order" } });
      expect((await updateCartItem(db, buyer, { listingId: shirt.id, quantity: "24" })).amountFen).toBe(24 * 8_900);
      expect(await removeCartItem(db, buyer, skirt.id)).toEqual({ removed: true });
      expect(await removeCartItem(db, buyer, skirt.id)).toEqual({ removed: false });
      await expect(updateCartItem(db, buyer, { listingId: skirt.id, quantity: "2" })).rejects.toMatchObject({ code: "not_found" });
      cart = await getCart(db, buyer, market.marketId);
      expect(cart.lineCount).toBe(2);
      expect(checkoutLines(cart)).toEqual([
        { listingId: dress.id, quantity: 8 },
        { listingId: shirt.id, quantity: 24 },
      ]);

      // Another buyer's cart is its own.
      const other = await newOrg(db, "buyer");
      expect((await getCart(db, other, market.marketId)).lineCount).toBe(0);
      expect(await removeCartItem(db, other, dress.id)).toEqual({ removed: false });
      await expect(updateCartItem(db, other, { listingId: dress.id, quantity: "5" })).rejects.toMatchObject({ code: "not_found" });
      expect((await getCart(db, buyer, market.marketId)).lineCount).toBe(2);
    });

    it("flags lines that can no longer be ordered as they are, keeps them out of the checkout, and clears checked-out lines", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      const a = await listFor(db, market, merchantId, { title: "A", stockQty: "50", minOrderQty: "1" });
      const b = await listFor(db, market, merchantId, { title: "B", stockQty: "50", minOrderQty: "1" });
      const c = await listFor(db, market, merchantId, { title: "C", stockQty: "50", minOrderQty: "1" });
      const d = await listFor(db, market, merchantId, { title: "D", stockQty: "50", minOrderQty: "1" });
      const buyer = await newOrg(db, "buyer");
      for (const l of [a, b, c, d]) await addToCart(db, buyer, { listingId: l.id, quantity: "10" });

      await hideListing(db, actorOf(market.operatorId), market.operatorId, market.marketId, a.id, { reason: "假冒" });
      await setListingStock(db, actorOf(merchantId), merchantId, b.id, { stockQty: "4" });
      await updateListing(db, actorOf(merchantId), merchantId, c.id, listingInput({ title: "C", minOrderQty: "20" }));
      const cart = await getCart(db, buyer, market.marketId);
      const problems = Object.fromEntries(cart.groups[0].lines.map((l) => [l.title, l.problem]));
      expect(problems).toEqual({ A: "not_orderable", B: "short_of_stock", C: "below_min_order", D: null });
      expect(cart.problemCount).toBe(3);
      expect(cart.totalFen).toBe(10 * 6_800);
      expect(checkoutLines(cart)).toEqual([{ listingId: d.id, quantity: 10 }]);
      await expect(updateCartItem(db, buyer, { listingId: a.id, quantity: "5" })).rejects.toMatchObject({ code: "invalid_state", fields: { quantity: "not_orderable" } });
      await expect(addToCart(db, buyer, { listingId: a.id, quantity: "5" })).rejects.toMatchObject({ code: "not_found" });

      expect(await clearCartLines(db, buyer, [d.id, "not-an-id"])).toBe(1);
      expect((await getCart(db, buyer, market.marketId)).lineCount).toBe(3);
      expect((await listCarts(db, buyer)).map((cartOf) => cartOf.marketId)).toEqual([market.marketId]);
    });

    it("checks out the orderable lines as one escrow order per merchant, clears them in the same transaction, and replays by key", async () => {
      const db = handle.db;
      const market = await makeMarket(db, "女装、男装");
      const li = await addMerchant(db, market, { name: "A 李记", categories: "女装" });
      const yimei = await addMerchant(db, market, { name: "B 依美", categories: "男装" });
      const dress = await listFor(db, market, li.merchantId, { price: "68", minOrderQty: "5", stockQty: "100" });
      const shirt = await listFor(db, market, yimei.merchantId, { title: "衬衫", category: "男装", price: "89", minOrderQty: "1", stockQty: "30" });
      const gone = await listFor(db, market, yimei.merchantId, { title: "下架了", category: "男装", minOrderQty: "1" });
      const buyer = await newOrg(db, "buyer");
      await addToCart(db, buyer, { listingId: dress.id, quantity: "10" });
      await addToCart(db, buyer, { listingId: shirt.id, quantity: "3" });
      await addToCart(db, buyer, { listingId: gone.id, quantity: "2" });
      await setListingStatus(db, actorOf(yimei.merchantId), yimei.merchantId, gone.id, "inactive");

      const first = await checkoutCart(db, actorOf(buyer), buyer, market.marketId, "cart-key-1", new Date());
      expect(first).toMatchObject({ replayed: false, lineCount: 2 });
      const orders = await db
        .selectFrom("market_orders")
        .select(["merchant_id", "goods_total_fen", "status"])
        .where("checkout_id", "=", first.checkoutId)
        .orderBy("goods_total_fen")
        .execute();
      expect(orders).toEqual([
        { merchant_id: yimei.merchantId, goods_total_fen: 3 * 8_900, status: "placed" },
        { merchant_id: li.merchantId, goods_total_fen: 10 * 6_800, status: "placed" },
      ]);
      expect((await getMerchantListing(db, li.merchantId, dress.id)).stockQty).toBe(90);
      // The flagged line stays; the checked-out ones are gone.
      expect((await getCart(db, buyer, market.marketId)).groups.flatMap((g) => g.lines.map((l) => l.listingId))).toEqual([gone.id]);
      // The same key again (a double submit): the same checkout, nothing placed twice.
      expect(await checkoutCart(db, actorOf(buyer), buyer, market.marketId, "cart-key-1", new Date())).toMatchObject({ checkoutId: first.checkoutId, replayed: true });
      expect((await getMerchantListing(db, li.merchantId, dress.id)).stockQty).toBe(90);
      await expect(checkoutCart(db, actorOf(buyer), buyer, market.marketId, "cart-key-2", new Date())).rejects.toMatchObject({ code: "invalid_state", fields: { cart: "nothing_to_checkout" } });
      await expect(checkoutCart(db, actorOf(buyer), buyer, market.marketId, "", new Date())).rejects.toMatchObject({ fields: { idempotencyKey: "required" } });
    });

    it("refuses a checkout whose stock went meanwhile, writing nothing and keeping the cart", async () => {
      const db = handle.db;
      const market = await makeMarket(db);
      const { merchantId } = await addMerchant(db, market);
      const listing = await listFor(db, market, merchantId, { minOrderQty: "1", stockQty: "10" });
      const a = await newOrg(db, "buyer");
      const b = await newOrg(db, "buyer");
      await addToCart(db, a, { listingId: listing.id, quantity: "8" });
      await addToCart(db, b, { listingId: listing.id, quantity: "8" });
      await checkoutCart(db, actorOf(a), a, market.marketId, "a-1", new Date());
      // b's cart was fine when b looked; now only 2 are left.
      expect((await getCart(db, b, market.marketId)).groups[0].lines[0].problem).toBe("short_of_stock");
      await expect(checkoutCart(db, actorOf(b), b, market.marketId, "b-1", new Date())).rejects.toMatchObject({ code: "invalid_state", fields: { cart: "nothing_to_checkout" } });
      expect((await getCart(db, b, market.marketId)).lineCount).toBe(1);
      expect(await db.selectFrom("market_checkouts").select("id").where("buyer_id", "=", b).execute()).toEqual([]);
    });

    it("keeps one cart per market", async () => {
      const db = handle.db;
      const m1 = await makeMarket(db);
      const m2 = await makeMarket(db);
      const s1 = await addMerchant(db, m1);
      const s2 = await addMerchant(db, m2);
      const l1 = await listFor(db, m1, s1.merchantId, { minOrderQty: "1" });
      const l2 = await listFor(db, m2, s2.merchantId, { minOrderQty: "1" });
      const buyer = await newOrg(db, "buyer");
      await addToCart(db, buyer, { listingId: l1.id, quantity: "1" });
      await addToCart(db, buyer, { listingId: l2.id, quantity: "2" });
      expect((await getCart(db, buyer, m1.marketId)).groups.flatMap((g) => g.lines.map((l) => l.listingId))).toEqual([l1.id]);
      expect((await getCart(db, buyer, m2.marketId)).groups.flatMap((g) => g.lines.map((l) => l.listingId))).toEqual([l2.id]);
      expect((await listCarts(db, buyer)).map((c) => c.marketId).sort()).toEqual([m1.marketId, m2.marketId].sort());
      await expect(getCart(db, buyer, "nope")).rejects.toMatchObject({ code: "not_found" });
    });
  });
});
