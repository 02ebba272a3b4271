import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { payOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createPriceList, createTier, setPriceListItem } from "../../app/domain/pricing/pricing.server";
import { actorOf, countingDb, ENGINES, makeLink, makeSku, newOrg, newUser, runOrderNotices } from "./catalog.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/**
 * The order path's cost is round trips, not JavaScript (the orders benchmark spends most of its
 * time waiting on PostgreSQL), so the number of statements each step sends is a budget: a change
 * that adds one fails here and has to say why. BEGIN and COMMIT go around the plugin and are not
 * counted; each step is one transaction.
 */
const BUDGET = {
  // 7, not the 3 of the one-statement placement (016, 017), which pages and the API never reached:
  // the link, the SKUs, the tier prices, the dealer's overrides, the approval threshold, the order
  // with its lines, timeline and audit rows, the supplier's notice job (issue 13: one path).
  createOrder: 7,
  confirmOrder: 8,
  // +2 since the one-open-payment rule: the purpose's lock, then the read of an e-Pay attempt in
  // flight (a second statement, so its snapshot is taken after the lock), keep a dealer from
  // putting on account an order it may already have paid by e-Pay.
  payOnAccount: 8,
} as const;

for (const [engine, open] of ENGINES) {
  describe(`statements per standard on-account order on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    /** What the benchmark places: a tiered dealer with credit, three SKUs with volume breaks. */
    async function world() {
      const { db } = handle;
      const core = await newOrg(db, "core_enterprise");
      const asCore = actorOf(core, await newUser(db));
      const skus = [
        await makeSku(db, core, { basePriceFen: 10_000, stockOnHand: 1_000 }),
        await makeSku(db, core, { basePriceFen: 20_000, stockOnHand: 1_000 }),
        await makeSku(db, core, { basePriceFen: 30_000, stockOnHand: 1_000 }),
      ];
      const gold = await createTier(db, asCore, core, { name: "金牌", rank: 1 });
      const list = await createPriceList(db, asCore, core, { tierId: gold.id, name: "金牌价", validFrom: "2020-01-01", validTo: null }, shanghaiDate(new Date()));
      for (const sku of skus) {
        await setPriceListItem(db, asCore, core, list.id, { skuCode: sku.code, minQty: 1, priceFen: sku.basePriceFen - 500 });
        await setPriceListItem(db, asCore, core, list.id, { skuCode: sku.code, minQty: 10, priceFen: sku.basePriceFen - 900 });
      }
      const link = await makeLink(db, core, { tierId: gold.id, creditLimitFen: 100_000_000 });
      const asDealer = actorOf(link.dealerId, await newUser(db));
      return { core, skus, link, asCore, asDealer };
    }

    it("places, confirms and charges a 3-line order within its statement budget", async () => {
      const w = await world();
      const lines = w.skus.map((sku, i) => ({ skuCode: sku.code, quantity: 2 + i * 5 }));
      const counts: Record<keyof typeof BUDGET, number> = { createOrder: 0, confirmOrder: 0, payOnAccount: 0 };

      let counted = countingDb(handle.db);
      const order = await createOrder(counted.db, w.asDealer, { dealerId: w.link.dealerId, coreEnterpriseId: w.core, kind: "standard", lines }, new Date());
      counts.createOrder = counted.count();
      expect(order.status).toBe("submitted");

      counted = countingDb(handle.db);
      expect((await confirmOrder(counted.db, w.asCore, order.id, new Date())).status).toBe("confirmed");
      counts.confirmOrder = counted.count();

      counted = countingDb(handle.db);
      const paid = await payOnAccount(counted.db, w.asDealer, order.id, new Date());
      counts.payOnAccount = counted.count();
      expect(paid).toMatchObject({ status: "paid", payment_method: "on_account" });

      console.log(`statements per order on ${engine}: ${JSON.stringify(counts)} (total ${counts.createOrder + counts.confirmOrder + counts.payOnAccount})`);
      // The work is all there: the timeline, the audit, a notice (and its outbox row) to each
      // party once the orders workflow has run its notice jobs, and books that balance.
      expect(await runOrderNotices(handle.db, [order.id])).toBe(2);
      expect((await getOrder(handle.db, w.link.dealerId, order.id)).events.map((e) => e.event)).toEqual(["create", "submit", "confirm", "pay_on_account"]);
      const audit = await handle.db.selectFrom("audit_events").select("action").where("entity_id", "=", order.id).orderBy("id").execute();
      expect(audit.map((a) => a.action)).toEqual(["order.created", "order.submit", "order.confirm", "order.pay_on_account"]);
      const notices = await handle.db
        .selectFrom("notification_requests as r")
        .innerJoin("outbox as x", (join) => join.on(sql<boolean>`x.job_id = 'notifications:' || r.id::text || ':deliver'`))
        .select(["r.topic", "r.organization_id"])
        .where("r.dedupe_key", "like", `%:${order.id}:%`)
        .orderBy("r.created_at")
        .orderBy("r.topic", "desc")
        .execute();
      expect(notices).toEqual([
        { topic: "order.submitted", organization_id: w.core },
        { topic: "order.confirmed", organization_id: w.link.dealerId },
      ]);
      expect(await verifyLedger(handle.db)).toEqual([]);
      expect(counts.createOrder).toBeLessThanOrEqual(BUDGET.createOrder);
      expect(counts.confirmOrder).toBeLessThanOrEqual(BUDGET.confirmOrder);
      expect(counts.payOnAccount).toBeLessThanOrEqual(BUDGET.payOnAccount);
    });
  });
}
