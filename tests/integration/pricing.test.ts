import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { updateSku } from "../../app/domain/catalog/catalog.server";
import { DomainError } from "../../app/domain/shared/errors";
import {
  createOverride,
  createPriceList,
  createTier,
  deleteOverride,
  deletePriceList,
  getPriceList,
  listDealerCatalog,
  listOverrides,
  listPriceListItems,
  listPriceLists,
  listTiers,
  quotePrices,
  removePriceListItem,
  setPriceListItem,
  updatePriceList,
  updateTier,
  type PriceRule,
} from "../../app/domain/pricing/pricing.server";
import { actorOf, countingDb, ENGINES, makeLink, makeSku, newOrg, skuInput } from "./catalog.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/** Noon in Shanghai on a business date: the instant a quote "on that day" is for. */
const at = (date: string) => new Date(`${date}T12:00:00+08:00`);

for (const [engine, open] of ENGINES) {
  describe(`price lists and quotes on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    /**
     * One core enterprise, a gold tier with
     *   list A, 2026-01-01 – 2026-06-30: AC tier 2,400 ; ≥10 2,300 ; ≥50 2,200 ; fridge 1,500
     *   list B, 2026-07-01 – open      : AC tier 2,350 ; ≥20 2,250
     * a gold dealer with an override AC 2,000 on 2026-03-01 – 2026-03-31, a tierless dealer,
     * and a SKU in no list.
     */
    async function world() {
      const core = await newOrg(handle.db, "core_enterprise");
      const actor = actorOf(core);
      const ac = await makeSku(handle.db, core, { code: "AC-1", basePriceFen: 250_000 });
      const fridge = await makeSku(handle.db, core, { code: "FR-1", basePriceFen: 160_000, taxRateBps: 900 });
      const kettle = await makeSku(handle.db, core, { code: "KT-1", basePriceFen: 8_900, packSize: 6, moq: 12, unit: "件" });
      const gold = await createTier(handle.db, actor, core, { name: "金牌", rank: 1 });
      const listA = await createPriceList(handle.db, actor, core, { tierId: gold.id, name: "上半年", validFrom: "2026-01-01", validTo: "2026-06-30" }, shanghaiDate(new Date()));
      const listB = await createPriceList(handle.db, actor, core, { tierId: gold.id, name: "下半年", validFrom: "2026-07-01", validTo: null }, shanghaiDate(new Date()));
      for (const [list, code, minQty, priceFen] of [
        [listA, "AC-1", 1, 240_000],
        [listA, "ac-1", 10, 230_000],
        [listA, "AC-1", 50, 220_000],
        [listA, "FR-1", 1, 150_000],
        [listB, "AC-1", 1, 235_000],
        [listB, "AC-1", 20, 225_000],
      ] as const) {
        await setPriceListItem(handle.db, actor, core, list.id, { skuCode: code, minQty, priceFen });
      }
      const goldLink = await makeLink(handle.db, core, { tierId: gold.id });
      const plainLink = await makeLink(handle.db, core, { tierId: null });
      const override = await createOverride(handle.db, actor, core, {
        linkId: goldLink.id,
        skuCode: "AC-1",
        priceFen: 200_000,
        validFrom: "2026-03-01",
        validTo: "2026-03-31",
        note: "三月促销",
      }, shanghaiDate(new Date()));
      return { core, actor, ac, fridge, kettle, gold, listA, listB, goldLink, plainLink, override };
    }

    it("resolves every rule by date and quantity (table)", async () => {
      const w = await world();
      const table: { dealer: "gold" | "plain"; sku: "ac" | "fridge" | "kettle"; qty: number; on: string; price: number; rule: PriceRule; why?: string }[] = [
        { dealer: "gold", sku: "ac", qty: 1, on: "2025-12-31", price: 250_000, rule: "base_price", why: "no_price_list" },
        { dealer: "gold", sku: "ac", qty: 1, on: "2026-01-01", price: 240_000, rule: "tier_price" },
        { dealer: "gold", sku: "ac", qty: 9, on: "2026-02-10", price: 240_000, rule: "tier_price" },
        { dealer: "gold", sku: "ac", qty: 10, on: "2026-02-10", price: 230_000, rule: "volume_break" },
        { dealer: "gold", sku: "ac", qty: 50, on: "2026-02-28", price: 220_000, rule: "volume_break" },
        { dealer: "gold", sku: "ac", qty: 50, on: "2026-03-01", price: 200_000, rule: "dealer_override" },
        { dealer: "gold", sku: "ac", qty: 1, on: "2026-03-31", price: 200_000, rule: "dealer_override" },
        { dealer: "gold", sku: "ac", qty: 1, on: "2026-04-01", price: 240_000, rule: "tier_price" },
        { dealer: "gold", sku: "ac", qty: 100, on: "2026-06-30", price: 220_000, rule: "volume_break" },
        { dealer: "gold", sku: "ac", qty: 19, on: "2026-07-01", price: 235_000, rule: "tier_price" },
        { dealer: "gold", sku: "ac", qty: 20, on: "2026-07-01", price: 225_000, rule: "volume_break" },
        { dealer: "gold", sku: "ac", qty: 20, on: "2031-01-01", price: 225_000, rule: "volume_break" },
        { dealer: "gold", sku: "fridge", qty: 5, on: "2026-05-01", price: 150_000, rule: "tier_price" },
        { dealer: "gold", sku: "fridge", qty: 5, on: "2026-08-01", price: 160_000, rule: "base_price", why: "not_in_price_list" },
        { dealer: "gold", sku: "kettle", qty: 12, on: "2026-05-01", price: 8_900, rule: "base_price", why: "not_in_price_list" },
        { dealer: "plain", sku: "ac", qty: 50, on: "2026-03-15", price: 250_000, rule: "base_price", why: "no_tier" },
      ];
      for (const row of table) {
        const link = row.dealer === "gold" ? w.goldLink : w.plainLink;
        const sku = w[row.sku];
        const [quote] = await quotePrices(handle.db, {
          coreEnterpriseId: w.core,
          dealerId: link.dealerId,
          lines: [{ skuId: sku.id, quantity: row.qty }],
          on: at(row.on),
        });
        const label = `${row.dealer} ${row.sku} ×${row.qty} on ${row.on}`;
        expect(quote.unitPriceFen, label).toBe(row.price);
        expect(quote.rule, label).toBe(row.rule);
        expect(quote.taxRateBps, label).toBe(sku.taxRateBps);
        if (row.why) expect(quote.explanation, label).toMatchObject({ reason: row.why });
      }
    });

    it("explains which list or override won", async () => {
      const w = await world();
      const quotes = await quotePrices(handle.db, {
        coreEnterpriseId: w.core,
        dealerId: w.goldLink.dealerId,
        lines: [
          { skuId: w.ac.id, quantity: 12 },
          { skuId: w.ac.id, quantity: 1 },
        ],
        on: at("2026-02-01"),
      });
      expect(quotes[0].explanation).toEqual({
        rule: "volume_break",
        priceListId: w.listA.id,
        priceListName: "上半年",
        tierName: "金牌",
        minQty: 10,
        validFrom: "2026-01-01",
        validTo: "2026-06-30",
      });
      expect(quotes[1]).toMatchObject({ rule: "tier_price", unitPriceFen: 240_000 });
      const [march] = await quotePrices(handle.db, {
        coreEnterpriseId: w.core,
        dealerId: w.goldLink.dealerId,
        lines: [{ skuId: w.ac.id, quantity: 1 }],
        on: at("2026-03-10"),
      });
      expect(march.explanation).toEqual({ rule: "dealer_override", overrideId: w.override.id, validFrom: "2026-03-01", validTo: "2026-03-31", note: "三月促销" });
    });

    it("quotes any number of lines in the same number of queries", async () => {
      const w = await world();
      const skus = [w.ac, w.fridge, w.kettle];
      const queriesFor = async (n: number) => {
        const { db, count } = countingDb(handle.db);
        const lines = Array.from({ length: n }, (_, i) => ({ skuId: skus[i % 3].id, quantity: 12 * (i + 1) }));
        const quotes = await quotePrices(db, { coreEnterpriseId: w.core, dealerId: w.goldLink.dealerId, lines, on: at("2026-05-05") });
        expect(quotes).toHaveLength(n);
        return count();
      };
      const one = await queriesFor(1);
      expect(one).toBeLessThanOrEqual(5);
      expect(await queriesFor(60)).toBe(one);
    });

    it("refuses lines naming another catalogue's SKU or a dealer outside the network", async () => {
      const w = await world();
      const stranger = await newOrg(handle.db, "core_enterprise");
      const foreign = await makeSku(handle.db, stranger, { code: "AC-1" });
      const error = await quotePrices(handle.db, {
        coreEnterpriseId: w.core,
        dealerId: w.goldLink.dealerId,
        lines: [
          { skuId: w.ac.id, quantity: 1 },
          { skuId: foreign.id, quantity: 1 },
          { skuId: w.ac.id, quantity: 0 },
        ],
        on: at("2026-05-05"),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).fields).toEqual({ "lines.2.quantity": "whole_number" });
      await expect(
        quotePrices(handle.db, { coreEnterpriseId: w.core, dealerId: w.goldLink.dealerId, lines: [{ skuId: foreign.id, quantity: 1 }], on: at("2026-05-05") }),
      ).rejects.toMatchObject({ code: "validation", fields: { "lines.0.skuId": "unknown_sku" } });
      const outsider = await newOrg(handle.db, "dealer");
      await expect(
        quotePrices(handle.db, { coreEnterpriseId: w.core, dealerId: outsider, lines: [{ skuId: w.ac.id, quantity: 1 }], on: at("2026-05-05") }),
      ).rejects.toMatchObject({ code: "not_found" });
      // The same dealer asking about another core enterprise's prices: not in that network.
      await expect(
        quotePrices(handle.db, { coreEnterpriseId: stranger, dealerId: w.goldLink.dealerId, lines: [{ skuId: foreign.id, quantity: 1 }], on: at("2026-05-05") }),
      ).rejects.toMatchObject({ code: "not_found" });
    });

    it("refuses a price list that overlaps another of the same tier, even two at once", async () => {
      const w = await world();
      await expect(
        createPriceList(handle.db, w.actor, w.core, { tierId: w.gold.id, name: "重叠", validFrom: "2026-06-30", validTo: "2026-07-15" }, shanghaiDate(new Date())),
      ).rejects.toMatchObject({ code: "conflict", fields: { validFrom: "overlaps" } });
      await expect(
        updatePriceList(handle.db, w.actor, w.core, w.listA.id, { name: "上半年", validFrom: "2026-01-01", validTo: "2026-07-01" }, shanghaiDate(new Date())),
      ).rejects.toMatchObject({ code: "conflict" });
      await expect(
        createPriceList(handle.db, w.actor, w.core, { tierId: w.gold.id, name: "倒序", validFrom: "2027-02-01", validTo: "2027-01-01" }, shanghaiDate(new Date())),
      ).rejects.toMatchObject({ code: "validation", fields: { validTo: "date_order" } });
      // Shorten B, then two lists for the freed period race: exactly one wins.
      await updatePriceList(handle.db, w.actor, w.core, w.listB.id, { name: "下半年", validFrom: "2026-07-01", validTo: "2026-12-31" }, shanghaiDate(new Date()));
      const silver = await createTier(handle.db, w.actor, w.core, { name: "银牌", rank: 2 });
      const racing = await Promise.all(
        ["2027 甲", "2027 乙", "2027 丙"].map((name) =>
          createPriceList(handle.db, w.actor, w.core, { tierId: w.gold.id, name, validFrom: "2027-01-01", validTo: null }, shanghaiDate(new Date())).then(
            () => "created",
            (e: unknown) => (e instanceof DomainError ? e.code : Promise.reject(e)),
          ),
        ),
      );
      expect(racing.sort()).toEqual(["conflict", "conflict", "created"]);
      // Another tier's lists never clash with gold's.
      await expect(
        createPriceList(handle.db, w.actor, w.core, { tierId: silver.id, name: "银牌全年", validFrom: "2026-01-01", validTo: null }, shanghaiDate(new Date())),
      ).resolves.toMatchObject({ tierName: "银牌", state: "current" });
    });

    it("refuses an override overlapping another for the same dealer and SKU", async () => {
      const w = await world();
      await expect(
        createOverride(handle.db, w.actor, w.core, { linkId: w.goldLink.id, skuCode: "AC-1", priceFen: 1, validFrom: "2026-03-31", validTo: null, note: "" }, shanghaiDate(new Date())),
      ).rejects.toMatchObject({ code: "conflict", fields: { validFrom: "overlaps" } });
      await expect(
        createOverride(handle.db, w.actor, w.core, { linkId: w.goldLink.id, skuCode: "AC-1", priceFen: 190_000, validFrom: "2026-04-01", validTo: null, note: "" }, shanghaiDate(new Date())),
      ).resolves.toMatchObject({ priceFen: 190_000, validTo: null });
      await expect(
        createOverride(handle.db, w.actor, w.core, { linkId: w.goldLink.id, skuCode: "NOPE", priceFen: 1, validFrom: "2026-04-01", validTo: null, note: "" }, shanghaiDate(new Date())),
      ).rejects.toMatchObject({ code: "validation", fields: { skuCode: "unknown_sku" } });
      const all = await listOverrides(handle.db, w.core, { today: "2026-03-15" });
      expect(all.map((o) => [o.validFrom, o.state])).toEqual([
        ["2026-04-01", "upcoming"],
        ["2026-03-01", "current"],
      ]);
      await deleteOverride(handle.db, w.actor, w.core, w.override.id);
      const [quote] = await quotePrices(handle.db, {
        coreEnterpriseId: w.core,
        dealerId: w.goldLink.dealerId,
        lines: [{ skuId: w.ac.id, quantity: 1 }],
        on: at("2026-03-15"),
      });
      expect(quote.rule).toBe("tier_price");
    });

    it("manages tiers and list items, each change audited", async () => {
      const w = await world();
      await expect(createTier(handle.db, w.actor, w.core, { name: "金牌", rank: 5 })).rejects.toMatchObject({ code: "conflict", fields: { name: "already_in_use" } });
      await updateTier(handle.db, w.actor, w.core, w.gold.id, { name: "金牌经销商", rank: 1 });
      expect(await listTiers(handle.db, w.core)).toEqual([{ id: w.gold.id, name: "金牌经销商", rank: 1, dealerCount: 1, priceListCount: 2 }]);
      await setPriceListItem(handle.db, w.actor, w.core, w.listA.id, { skuCode: "AC-1", minQty: 10, priceFen: 229_000 });
      await removePriceListItem(handle.db, w.actor, w.core, w.listA.id, { skuId: w.ac.id, minQty: 50 });
      const items = await listPriceListItems(handle.db, w.core, w.listA.id);
      expect(items.items.map((i) => [i.skuCode, i.minQty, i.priceFen])).toEqual([
        ["AC-1", 1, 240_000],
        ["AC-1", 10, 229_000],
        ["FR-1", 1, 150_000],
      ]);
      const paged = await listPriceListItems(handle.db, w.core, w.listA.id, { limit: 2 });
      // Opaque (the shared codec): the key inside is no business of the caller's, and a hand-made one is refused.
      expect(paged.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect((await listPriceListItems(handle.db, w.core, w.listA.id, { after: paged.nextCursor })).items.map((i) => i.skuCode)).toEqual(["FR-1"]);
      await expect(listPriceListItems(handle.db, w.core, w.listA.id, { after: "AC-1~10" })).rejects.toMatchObject({ code: "validation", fields: { after: "invalid_cursor" } });
      await expect(
        setPriceListItem(handle.db, w.actor, w.core, w.listA.id, { skuCode: "AC-1", minQty: 0, priceFen: 1 }),
      ).rejects.toMatchObject({ code: "validation", fields: { minQty: "whole_number" } });
      const actions = await handle.db
        .selectFrom("audit_events")
        .select("action")
        .where("organization_id", "=", w.core)
        .where("action", "like", "price_list_item.%")
        .execute();
      expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(["price_list_item.created", "price_list_item.updated", "price_list_item.deleted"]));
      const lists = await listPriceLists(handle.db, w.core, { today: "2026-05-01" });
      expect(lists.map((l) => [l.name, l.state, l.itemCount])).toEqual([
        ["下半年", "upcoming", 2],
        ["上半年", "current", 3],
      ]);
      await deletePriceList(handle.db, w.actor, w.core, w.listB.id);
      await expect(getPriceList(handle.db, w.core, w.listB.id, shanghaiDate(new Date()))).rejects.toMatchObject({ code: "not_found" });
    });

    it("shows a dealer the active catalogue at its own prices, in code order, page by page", async () => {
      const w = await world();
      await updateSku(handle.db, w.actor, w.core, w.fridge.id, skuInput({ code: "FR-1", status: "inactive" }));
      const first = await listDealerCatalog(handle.db, { coreEnterpriseId: w.core, dealerId: w.goldLink.dealerId, on: at("2026-02-01"), limit: 1 });
      expect(first.items.map((i) => [i.code, i.price.unitPriceFen, i.price.rule])).toEqual([["AC-1", 240_000, "tier_price"]]);
      expect(first.items[0].breaks).toEqual([
        { minQty: 1, priceFen: 240_000 },
        { minQty: 10, priceFen: 230_000 },
        { minQty: 50, priceFen: 220_000 },
      ]);
      const second = await listDealerCatalog(handle.db, { coreEnterpriseId: w.core, dealerId: w.goldLink.dealerId, on: at("2026-02-01"), limit: 1, after: first.nextCursor });
      // The inactive fridge is skipped; the kettle is priced at its MOQ (12).
      expect(second.items.map((i) => [i.code, i.moq, i.price.unitPriceFen, i.price.rule])).toEqual([["KT-1", 12, 8_900, "base_price"]]);
      expect(second.nextCursor).toBeNull();
      const march = await listDealerCatalog(handle.db, { coreEnterpriseId: w.core, dealerId: w.goldLink.dealerId, on: at("2026-03-05") });
      expect(march.items[0]).toMatchObject({ code: "AC-1", breaks: [], price: { rule: "dealer_override", unitPriceFen: 200_000 } });
      const plain = await listDealerCatalog(handle.db, { coreEnterpriseId: w.core, dealerId: w.plainLink.dealerId, on: at("2026-03-05"), search: "ac" });
      expect(plain.items.map((i) => [i.code, i.price.rule])).toEqual([["AC-1", "base_price"]]);
    });

    it("answers not found for another tenant's tier, list, item and override", async () => {
      const w = await world();
      const intruder = await newOrg(handle.db, "core_enterprise");
      const actor = actorOf(intruder);
      await expect(getPriceList(handle.db, intruder, w.listA.id, shanghaiDate(new Date()))).rejects.toMatchObject({ code: "not_found" });
      await expect(listPriceListItems(handle.db, intruder, w.listA.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(updatePriceList(handle.db, actor, intruder, w.listA.id, { name: "x", validFrom: "2026-01-01", validTo: null }, shanghaiDate(new Date()))).rejects.toMatchObject({ code: "not_found" });
      await expect(deletePriceList(handle.db, actor, intruder, w.listA.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(setPriceListItem(handle.db, actor, intruder, w.listA.id, { skuCode: "AC-1", minQty: 1, priceFen: 1 })).rejects.toMatchObject({ code: "not_found" });
      await expect(removePriceListItem(handle.db, actor, intruder, w.listA.id, { skuId: w.ac.id, minQty: 1 })).rejects.toMatchObject({ code: "not_found" });
      await expect(updateTier(handle.db, actor, intruder, w.gold.id, { name: "x", rank: 1 })).rejects.toMatchObject({ code: "not_found" });
      await expect(deleteOverride(handle.db, actor, intruder, w.override.id)).rejects.toMatchObject({ code: "not_found" });
      // Using another tenant's tier or link id in one's own writes is refused too.
      await expect(createPriceList(handle.db, actor, intruder, { tierId: w.gold.id, name: "x", validFrom: "2026-01-01", validTo: null }, shanghaiDate(new Date()))).rejects.toMatchObject({
        code: "validation",
        fields: { tierId: "unknown_tier" },
      });
      await expect(
        createOverride(handle.db, actor, intruder, { linkId: w.goldLink.id, skuCode: "AC-1", priceFen: 1, validFrom: "2026-01-01", validTo: null, note: "" }, shanghaiDate(new Date())),
      ).rejects.toMatchObject({ code: "validation", fields: { linkId: "not_in_network" } });
      expect(await listOverrides(handle.db, intruder, { today: shanghaiDate(new Date()) })).toEqual([]);
      expect(await listPriceLists(handle.db, intruder, { today: shanghaiDate(new Date()) })).toEqual([]);
      // And the database refuses a cross-tenant item even if code forgot to check.
      const mine = await makeSku(handle.db, intruder, { code: "MINE-1" });
      await expect(
        handle.db.insertInto("price_list_items").values({ price_list_id: w.listA.id, core_enterprise_id: w.core, sku_id: mine.id, min_qty: 1, price_fen: 1 }).execute(),
      ).rejects.toThrow(/price_list_items_sku/);
    });
  });
}
