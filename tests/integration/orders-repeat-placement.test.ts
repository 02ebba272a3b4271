import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import { updateSku } from "../../app/domain/catalog/catalog.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { transitionDealerLink } from "../../app/domain/dealers/dealers.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { createPriceList, createTier, setPriceListItem } from "../../app/domain/pricing/pricing.server";
import { actorOf, ENGINES, makeLink, makeSku, newOrg, newUser, refusal, runOrderNotices, skuInput } from "./catalog.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/**
 * Repeat orders: each placement decides on what is true when it is placed (the SKU's status and
 * order rules, the dealer relationship, the approval threshold, the dealer's name, the credit line),
 * whatever an earlier placement saw. Once tests of decision 017's kept reads, which issue 13 removed;
 * the behaviour they held placement to stays.
 */

for (const [engine, open] of ENGINES) {
  describe(`repeat orders on ${engine}`, () => {
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

    it("places a repeat order priced and held as the first", async () => {
      const { db } = handle;
      const w = await world(db);
      const first = await w.order(db);
      const second = await w.order(db);
      expect([first.status, second.status]).toEqual(["submitted", "submitted"]);
      expect([first.total_fen, second.total_fen]).toEqual([108_000, 108_000]);
      expect(second.number > first.number).toBe(true);
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(216_000);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("refuses a repeat order once the SKU, its order rules or the relationship no longer allow it", async () => {
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
      // Twice each, at once: the second of each must not see the other supplier's SKUs or prices.
      for (let round = 0; round < 2; round++) {
        const [toA, toB] = await Promise.all([to(a), to(b)]);
        expect([toA.core_enterprise_id, toA.total_fen, toB.core_enterprise_id, toB.total_fen]).toEqual([a, 3_000, b, 6_000]);
        expect((await getOrder(db, b, toB.id)).lines[0].unit_price_fen).toBe(2_000);
      }
      // A dealer of supplier A only orders from A, however often B was ordered from.
      const asLoner = actorOf(loner.dealerId, await newUser(db));
      expect((await to(a, asLoner, loner.dealerId)).total_fen).toBe(3_000);
      expect((await refusal(to(b, asLoner, loner.dealerId))).fields).toMatchObject({ core_enterprise_id: "no active dealer relationship" });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("refuses on account once earlier orders have drawn the credit line", async () => {
      const { db } = handle;
      const w = await world(db, 250_000);
      await w.order(db); // 108,000 held: 142,000 left.
      await w.order(db); // 108,000 more: 34,000 left.
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(216_000);
      const refused = await refusal(w.order(db));
      expect(refused.fields).toHaveProperty("payment_method");
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(216_000);
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}
