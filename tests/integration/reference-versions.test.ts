import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import { updateSku, type Sku } from "../../app/domain/catalog/catalog.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { transitionDealerLink } from "../../app/domain/dealers/dealers.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { createOverride, createPriceList, createTier, removePriceListItem, setPriceListItem } from "../../app/domain/pricing/pricing.server";
import { actorOf, countingDb, ENGINES, makeLink, makeSku, newOrg, newUser, refusal, runOrderNotices, skuInput } from "./catalog.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/**
 * Decision 017: what order placement reads is kept between placements under the versions of the
 * organisations it belongs to, and the statement that writes an order planned on kept data asserts
 * those versions. These tests hold the triggers to every change placement reads, and the orders to
 * what a fresh read would have decided.
 */

async function versionOf(db: Db, organizationId: string): Promise<number> {
  const row = await db.selectFrom("reference_versions").select("version").where("organization_id", "=", organizationId).executeTakeFirst();
  return row ? Number(row.version) : 0;
}

for (const [engine, open] of ENGINES) {
  describe(`reference versions on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("raises an organisation's version with every change placement reads, and leaves it when only stock moves", async () => {
      const { db } = handle;
      const core = await newOrg(db, "core_enterprise");
      const asCore = actorOf(core, await newUser(db));
      /** Runs `change` and says whose versions it raised. */
      const raised = async (change: () => Promise<unknown>, ...organizations: string[]) => {
        const before = await Promise.all(organizations.map((id) => versionOf(db, id)));
        await change();
        const after = await Promise.all(organizations.map((id) => versionOf(db, id)));
        return organizations.map((_, i) => after[i] > before[i]);
      };
      let sku: Sku | undefined;
      expect(await raised(async () => (sku = await makeSku(db, core, { basePriceFen: 10_000, stockOnHand: 50 })), core)).toEqual([true]);
      expect(await raised(() => sql`update skus set stock_reserved = stock_reserved + 1, updated_at = now() where id = ${sku!.id}`.execute(db), core)).toEqual([false]);
      expect(await raised(() => updateSku(db, asCore, core, sku!.id, { ...skuInput({ code: sku!.code }), basePriceFen: 11_000 }), core)).toEqual([true]);
      const tier = { id: "" };
      expect(await raised(async () => Object.assign(tier, await createTier(db, asCore, core, { name: "金牌", rank: 1 })), core)).toEqual([true]);
      const list = { id: "" };
      expect(
        await raised(async () => Object.assign(list, await createPriceList(db, asCore, core, { tierId: tier.id, name: "金牌价", validFrom: "2020-01-01", validTo: null }, shanghaiDate(new Date()))), core),
      ).toEqual([true]);
      expect(await raised(() => setPriceListItem(db, asCore, core, list.id, { skuCode: sku!.code, minQty: 1, priceFen: 9_000 }), core)).toEqual([true]);
      expect(await raised(() => removePriceListItem(db, asCore, core, list.id, { skuId: sku!.id, minQty: 1 }), core)).toEqual([true]);
      const dealer = await newOrg(db, "dealer");
      const link = { id: "" };
      expect(await raised(async () => Object.assign(link, await makeLink(db, core, { dealerId: dealer, tierId: tier.id })), core, dealer)).toEqual([true, true]);
      expect(
        await raised(() => createOverride(db, asCore, core, { linkId: link.id, skuCode: sku!.code, priceFen: 8_000, validFrom: "2020-01-01", validTo: null, note: "" }, shanghaiDate(new Date())), core),
      ).toEqual([true]);
      expect(await raised(() => transitionDealerLink(db, asCore, core, link.id, "suspend"), core, dealer)).toEqual([true, true]);
      expect(await raised(() => updateOrderSettings(db, actorOf(dealer), dealer, { approvalThresholdFen: 100_000 }), dealer, core)).toEqual([true, false]);
      expect(await raised(() => sql`update organizations set name = ${"改名经销商"} where id = ${dealer}`.execute(db), dealer, core)).toEqual([true, false]);
      // Another organisation's changes leave this one's version alone.
      const other = await newOrg(db, "core_enterprise");
      expect(await raised(() => makeSku(db, other), core, other)).toEqual([false, true]);
    });
  });

  describe(`orders planned on kept reads on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    /** A supplier with a tiered price list for its kettle, and a dealer on that tier with a credit line. */
    async function world(db: Db, creditLimitFen = 10_000_000) {
      const core = await newOrg(db, "core_enterprise");
      const asCore = actorOf(core, await newUser(db));
      const kettle = await makeSku(db, core, { basePriceFen: 10_000, packSize: 6, moq: 12, unit: "件", stockOnHand: 10_000 });
      const gold = await createTier(db, asCore, core, { name: "金牌", rank: 1 });
      const list = await createPriceList(db, asCore, core, { tierId: gold.id, name: "金牌价", validFrom: "2020-01-01", validTo: null }, shanghaiDate(new Date()));
      await setPriceListItem(db, asCore, core, list.id, { skuCode: kettle.code, minQty: 1, priceFen: 9_000 });
      const link = await makeLink(db, core, { tierId: gold.id, creditLimitFen });
      const asDealer = actorOf(link.dealerId, await newUser(db));
      const order = (on: Db, quantity = 12) =>
        createOrder(on, asDealer, {
          dealerId: link.dealerId,
          coreEnterpriseId: core,
          kind: "standard",
          lines: [{ skuCode: kettle.code, quantity }],
          paymentMethod: "on_account",
        }, new Date());
      return { core, asCore, kettle, gold, list, link, asDealer, order };
    }

    it("places a repeat order with one statement, priced and held as a fresh read would", async () => {
      const w = await world(handle.db);
      const counted = countingDb(handle.db);
      const first = await w.order(counted.db);
      const afterFirst = counted.count();
      const second = await w.order(counted.db);
      expect(afterFirst).toBeGreaterThan(1);
      expect(counted.count() - afterFirst).toBe(1);
      expect([first.status, second.status]).toEqual(["submitted", "submitted"]);
      expect([first.total_fen, second.total_fen]).toEqual([108_000, 108_000]);
      expect(second.number > first.number).toBe(true);
      expect((await creditSummary(handle.db, w.link.id)).usedFen).toBe(216_000);
      expect(await verifyLedger(handle.db)).toEqual([]);
    });

    it("refuses on a fresh read what the kept reads would have let through", async () => {
      const { db } = handle;
      const w = await world(db);
      await w.order(db);
      const ordersBefore = await db.selectFrom("orders").select((eb) => eb.fn.countAll<number>().as("n")).where("dealer_id", "=", w.link.dealerId).executeTakeFirstOrThrow();

      await updateSku(db, w.asCore, w.core, w.kettle.id, { ...skuInput({ code: w.kettle.code }), packSize: 6, moq: 12, basePriceFen: 10_000, status: "inactive" });
      expect((await refusal(w.order(db))).fields).toMatchObject({ "lines.0.sku": expect.stringContaining("not on sale") });

      await updateSku(db, w.asCore, w.core, w.kettle.id, { ...skuInput({ code: w.kettle.code }), packSize: 6, moq: 24, basePriceFen: 10_000, status: "active" });
      expect((await refusal(w.order(db))).fields).toMatchObject({ "lines.0.quantity": expect.stringContaining("minimum order of 24") });

      await transitionDealerLink(db, w.asCore, w.core, w.link.id, "suspend");
      expect((await refusal(w.order(db, 24))).fields).toMatchObject({ core_enterprise_id: "no active dealer relationship" });

      const ordersAfter = await db.selectFrom("orders").select((eb) => eb.fn.countAll<number>().as("n")).where("dealer_id", "=", w.link.dealerId).executeTakeFirstOrThrow();
      expect(Number(ordersAfter.n)).toBe(Number(ordersBefore.n));
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("follows the dealer's approval threshold and name as they are when the order is placed", async () => {
      const { db } = handle;
      const w = await world(db);
      await w.order(db);
      await updateOrderSettings(db, actorOf(w.link.dealerId), w.link.dealerId, { approvalThresholdFen: 50_000 });
      expect((await w.order(db)).status).toBe("pending_approval");
      await updateOrderSettings(db, actorOf(w.link.dealerId), w.link.dealerId, { approvalThresholdFen: null });
      await w.order(db);
      await sql`update organizations set name = ${"新名字经销商"} where id = ${w.link.dealerId}`.execute(db);
      const renamed = await w.order(db);
      await runOrderNotices(db, [renamed.id]);
      const notice = await db
        .selectFrom("notification_requests")
        .select("params")
        .where("dedupe_key", "=", `order.submitted:${renamed.id}:submitted`)
        .executeTakeFirstOrThrow();
      expect(notice.params).toMatchObject({ orderId: renamed.id, counterparty: "新名字经销商" });
    });

    it("keeps each supplier's SKUs, prices and dealers to itself when they use the same codes", async () => {
      const { db } = handle;
      const [a, b] = [await newOrg(db, "core_enterprise"), await newOrg(db, "core_enterprise")];
      const code = `SAME-${a.slice(0, 6).toUpperCase()}`;
      await makeSku(db, a, { code, basePriceFen: 1_000, stockOnHand: 1_000 });
      await makeSku(db, b, { code, basePriceFen: 2_000, stockOnHand: 1_000 });
      const dealer = await newOrg(db, "dealer");
      await makeLink(db, a, { dealerId: dealer, creditLimitFen: 10_000_000 });
      await makeLink(db, b, { dealerId: dealer, creditLimitFen: 10_000_000 });
      const loner = await makeLink(db, a, { creditLimitFen: 10_000_000 });
      const asDealer = actorOf(dealer, await newUser(db));
      const to = (core: string, as = asDealer, dealerId = dealer) =>
        createOrder(db, as, { dealerId, coreEnterpriseId: core, kind: "standard", lines: [{ skuCode: code, quantity: 3 }], paymentMethod: "on_account" }, new Date());
      // Twice each: the second of each is planned on what the first kept.
      for (let round = 0; round < 2; round++) {
        const [toA, toB] = await Promise.all([to(a), to(b)]);
        expect([toA.core_enterprise_id, toA.total_fen, toB.core_enterprise_id, toB.total_fen]).toEqual([a, 3_000, b, 6_000]);
        expect((await getOrder(db, b, toB.id)).lines[0].unit_price_fen).toBe(2_000);
      }
      // A dealer of supplier A only orders from A, however much of B's was kept.
      const asLoner = actorOf(loner.dealerId, await newUser(db));
      expect((await to(a, asLoner, loner.dealerId)).total_fen).toBe(3_000);
      expect((await refusal(to(b, asLoner, loner.dealerId))).fields).toMatchObject({ core_enterprise_id: "no active dealer relationship" });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("decides the credit line on the ledger when the kept balance no longer holds", async () => {
      const { db } = handle;
      const w = await world(db, 250_000);
      await w.order(db); // 108,000 held; the line as kept has 142,000 left.
      // Drawn elsewhere (another process's placement: its own kept reads): 108,000 more.
      await w.order(countingDb(db).db);
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(216_000);
      const refused = await refusal(w.order(db));
      expect(refused.fields).toHaveProperty("payment_method");
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(216_000);
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}
