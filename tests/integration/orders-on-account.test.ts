import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { updateDealerLink } from "../../app/domain/dealers/dealers.server";
import { createPriceList, createTier, setPriceListItem } from "../../app/domain/pricing/pricing.server";
import { DomainError } from "../../app/domain/shared/errors";
import { findAccountByCode, transfer, verifyLedger } from "../../app/domain/ledger/ledger.server";
import { cancelOrder } from "../../app/domain/orders/cancel.server";
import { addToCart, approveOrder, submitOrder } from "../../app/domain/orders/cart.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder, rejectOrder } from "../../app/domain/orders/review.server";
import { createSeason } from "../../app/domain/orders/seasons.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { actorOf, ENGINES, makeLink, makeSku, newOrg, newUser, refusal, runOrderNotices } from "./catalog.fixtures";
import { createTestDatabase } from "../support/db";
import { shanghaiDate } from "../../app/domain/shared/dates";

/** A supplier with two SKUs and a dealer with a credit line, ready to order. */
async function world(db: Db, creditLimitFen = 1_000_000) {
  const core = await newOrg(db, "core_enterprise");
  const link = await makeLink(db, core, { creditLimitFen });
  const fridge = await makeSku(db, core, { basePriceFen: 300_000, stockOnHand: 1_000 });
  const kettle = await makeSku(db, core, { basePriceFen: 10_000, packSize: 6, moq: 12, unit: "件", stockOnHand: 100_000 });
  const dealerUser = await newUser(db);
  return {
    core,
    dealer: link.dealerId,
    link,
    fridge,
    kettle,
    asDealer: actorOf(link.dealerId, dealerUser),
    asCore: actorOf(core, await newUser(db)),
  };
}

type World = Awaited<ReturnType<typeof world>>;

const kettles = (w: World, quantity = 12) => ({
  dealerId: w.dealer,
  coreEnterpriseId: w.core,
  kind: "standard" as const,
  lines: [{ skuId: w.kettle.id, quantity }],
  paymentMethod: "on_account" as const,
});

/** The order's ledger movements, in order: kind, phase and amount. */
async function movements(db: Db, orderId: string) {
  return db
    .selectFrom("ledger_transfers")
    .select(["kind", "phase", "amount_fen"])
    .where("reference", "=", `order:${orderId}`)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

for (const [engine, open] of ENGINES) {
  describe(`orders put on account at submission, on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("holds the total as the order is submitted, charges the confirmed total and releases what was cut", async () => {
      const { db } = handle;
      const w = await world(db);
      const order = await createOrder(db, w.asDealer, kettles(w, 24), new Date());
      expect(order).toMatchObject({ status: "submitted", payment_method: "on_account", total_fen: 240_000, due_on: null });
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 1_000_000, usedFen: 240_000, availableFen: 760_000 });
      expect(await movements(db, order.id)).toEqual([{ kind: "on_account_hold", phase: "pending", amount_fen: 240_000 }]);

      // The supplier cuts the line to 12: 120,000 is charged, the other 120,000 comes back.
      const [line] = (await getOrder(db, w.core, order.id)).lines;
      const confirmed = await confirmOrder(db, w.asCore, order.id, new Date(), [{ lineId: line.id, quantity: 12, reason: "库存不足" }]);
      expect(confirmed).toMatchObject({ status: "paid", payment_method: "on_account", total_fen: 120_000 });
      expect(confirmed.due_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 1_000_000, usedFen: 120_000, availableFen: 880_000 });
      expect(await movements(db, order.id)).toEqual([
        { kind: "on_account_hold", phase: "pending", amount_fen: 240_000 },
        { kind: "on_account_charge", phase: "post_pending", amount_fen: 120_000 },
      ]);
      const timeline = (await getOrder(db, w.dealer, order.id)).events.map((e) => e.event);
      expect(timeline).toEqual(["create", "submit", "confirm", "pay_on_account"]);

      // Cancelled after confirmation: the charge is restored like any on-account order's.
      await cancelOrder(db, w.asDealer, order.id, "不要了", new Date());
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 1_000_000, usedFen: 0, availableFen: 1_000_000 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("releases the hold when the order is rejected, cancelled before confirmation, or declined by the dealer's approver", async () => {
      const { db } = handle;
      const w = await world(db);
      const rejected = await createOrder(db, w.asDealer, kettles(w), new Date());
      await rejectOrder(db, w.asCore, rejected.id, "停产", new Date());
      const cancelled = await createOrder(db, w.asDealer, kettles(w), new Date());
      await cancelOrder(db, w.asDealer, cancelled.id, "下错单", new Date());
      await updateOrderSettings(db, w.asDealer, w.dealer, { autoReceiptDays: 7, approvalThresholdFen: 100_000 });
      const declined = await createOrder(db, w.asDealer, kettles(w), new Date());
      expect(declined.status).toBe("pending_approval");
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(120_000);
      await approveOrder(db, w.asDealer, ["owner"], declined.id, "decline", new Date(), "超预算");
      for (const order of [rejected, cancelled, declined]) {
        expect(await movements(db, order.id)).toEqual([
          { kind: "on_account_hold", phase: "pending", amount_fen: 120_000 },
          { kind: "on_account_release", phase: "void_pending", amount_fen: 120_000 },
        ]);
      }
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 1_000_000, usedFen: 0, availableFen: 1_000_000 });
      const cancel = await db.selectFrom("order_events").select(["event", "data"]).where("order_id", "=", cancelled.id).orderBy("id", "desc").executeTakeFirstOrThrow();
      expect(cancel).toMatchObject({ event: "cancel", data: { credit_released_fen: 120_000 } });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("keeps the hold through the dealer's approval and charges it when the supplier confirms", async () => {
      const { db } = handle;
      const w = await world(db);
      await updateOrderSettings(db, w.asDealer, w.dealer, { autoReceiptDays: 7, approvalThresholdFen: 100_000 });
      const order = await createOrder(db, w.asDealer, kettles(w), new Date());
      await approveOrder(db, actorOf(w.dealer, await newUser(db)), ["admin"], order.id, "approve", new Date());
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(120_000);
      expect(await confirmOrder(db, w.asCore, order.id, new Date())).toMatchObject({ status: "paid", payment_method: "on_account" });
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(120_000);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("puts a cart on account as it is submitted, and leaves it untouched when the credit line cannot take it", async () => {
      const { db } = handle;
      const w = await world(db, 500_000);
      const cart = await addToCart(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, skuId: w.fridge.id, quantity: 2 }, new Date());
      const refused = await refusal(submitOrder(db, w.asDealer, cart.id, new Date(), { paymentMethod: "on_account" }));
      expect(refused.code).toBe("insufficient_funds");
      expect(refused.fields).toEqual({ payment_method: "exceeds the available credit" });
      expect(refused.message).toMatch(/600000 fen\) exceeds the credit available \(500000 fen of 500000 fen\)/);
      expect((await getOrder(db, w.dealer, cart.id)).order).toMatchObject({ status: "draft", payment_method: null, total_fen: 600_000 });
      expect(await movements(db, cart.id)).toEqual([]);
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(0);

      const kettleCart = await createOrder(db, w.asDealer, { ...kettles(w, 36), paymentMethod: null, submit: false }, new Date());
      const fits = await submitOrder(db, w.asDealer, kettleCart.id, new Date(), { paymentMethod: "on_account" });
      expect(fits).toMatchObject({ status: "submitted", payment_method: "on_account", total_fen: 360_000 });
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 500_000, usedFen: 360_000, availableFen: 140_000 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("refuses on account for a preorder, for an order left in the cart, and any other method, naming payment_method", async () => {
      const { db } = handle;
      const w = await world(db);
      const season = await createSeason(db, w.asCore, w.core, { name: "2027 春季订货会", depositRateBps: 3000 });
      for (const [input, pattern] of [
        [{ ...kettles(w), kind: "preorder" as const, seasonId: season.id }, /preorder's deposit/],
        [{ ...kettles(w), submit: false }, /when it is submitted/],
        [{ ...kettles(w), paymentMethod: "wallet" as unknown as "on_account" }, /on account at submission/],
      ] as const) {
        const refused = await refusal(createOrder(db, w.asDealer, input, new Date()));
        expect(refused.code).toBe("validation");
        expect(Object.keys(refused.fields ?? {})).toEqual(["payment_method"]);
        expect(refused.message).toMatch(pattern);
      }
      expect(await db.selectFrom("orders").select("id").where("dealer_id", "=", w.dealer).execute()).toEqual([]);
    });

    it("never lets 50 orders placed at once exceed the credit limit", async () => {
      const { db } = handle;
      const w = await world(db, 1_000_000);
      // 12 kettles = 120,000 fen each: 8 fit in 1,000,000, the 9th does not.
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => createOrder(db, w.asDealer, kettles(w), new Date())));
      const placed = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as DomainError] : []));
      expect(placed).toHaveLength(8);
      expect(refused).toHaveLength(42);
      for (const error of refused) {
        expect(error).toBeInstanceOf(DomainError);
        expect(error.code).toBe("insufficient_funds");
        expect(error.fields).toEqual({ payment_method: "exceeds the available credit" });
      }
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 1_000_000, usedFen: 960_000, availableFen: 40_000 });
      const orders = await db.selectFrom("orders").select(["id", "number"]).where("dealer_id", "=", w.dealer).execute();
      expect(orders).toHaveLength(8);
      expect(new Set(orders.map((o) => o.number)).size).toBe(8);
      // Each placement locks the credit line in its own transaction, so each was checked against
      // what the ones committed before it drew.
      const { rows } = await sql<{ txid: string }>`select distinct xmin::text as txid from orders where dealer_id = ${w.dealer}`.execute(db);
      expect(rows).toHaveLength(8);
      const holds = await db
        .selectFrom("ledger_transfers")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("kind", "=", "on_account_hold")
        .where("reference", "in", orders.map((o) => `order:${o.id}`))
        .executeTakeFirstOrThrow();
      expect(Number(holds.n)).toBe(8);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("places orders to two suppliers made at the same moment, each on its own supplier's SKUs and credit line", async () => {
      const { db } = handle;
      const [a, b] = [await world(db, 500_000), await world(db, 500_000)];
      const [toA, toB] = await Promise.all([
        createOrder(db, a.asDealer, { ...kettles(a), lines: [{ skuCode: a.kettle.code, quantity: 12 }] }, new Date()),
        createOrder(db, b.asDealer, { ...kettles(b), lines: [{ skuId: b.fridge.id, quantity: 1 }] }, new Date()),
      ]);
      expect([toA.status, toB.status]).toEqual(["submitted", "submitted"]);
      expect([toA.core_enterprise_id, toB.core_enterprise_id]).toEqual([a.core, b.core]);
      expect([toA.total_fen, toB.total_fen]).toEqual([120_000, 300_000]);
      expect((await creditSummary(db, a.link.id)).usedFen).toBe(120_000);
      expect((await creditSummary(db, b.link.id)).usedFen).toBe(300_000);
      // Each supplier sees its own order only.
      await expect(getOrder(db, a.core, toB.id)).rejects.toMatchObject({ code: "not_found" });
      expect((await getOrder(db, b.core, toB.id)).lines.map((l) => l.sku_id)).toEqual([b.fridge.id]);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("prices each order on the dealer's tier and price list as they are when it is placed, after earlier orders", async () => {
      const { db } = handle;
      const w = await world(db, 10_000_000);
      const silver = await createTier(db, w.asCore, w.core, { name: "银牌", rank: 2 });
      const gold = await createTier(db, w.asCore, w.core, { name: "金牌", rank: 1 });
      const silverList = await createPriceList(db, w.asCore, w.core, { tierId: silver.id, name: "银牌价", validFrom: "2020-01-01", validTo: null }, shanghaiDate(new Date()));
      const goldList = await createPriceList(db, w.asCore, w.core, { tierId: gold.id, name: "金牌价", validFrom: "2020-01-01", validTo: null }, shanghaiDate(new Date()));
      await setPriceListItem(db, w.asCore, w.core, silverList.id, { skuCode: w.kettle.code, minQty: 1, priceFen: 9_000 });
      await setPriceListItem(db, w.asCore, w.core, goldList.id, { skuCode: w.kettle.code, minQty: 1, priceFen: 8_000 });
      const terms = (tierId: string) => ({ tierId, region: "浙江省杭州市", paymentTermsDays: 30, creditLimitFen: 10_000_000 });
      const unitPrice = async () => {
        const order = await createOrder(db, w.asDealer, { ...kettles(w), lines: [{ skuCode: w.kettle.code, quantity: 12 }] }, new Date());
        return (await getOrder(db, w.dealer, order.id)).lines[0].unit_price_fen;
      };
      await updateDealerLink(db, w.asCore, w.core, w.link.id, terms(silver.id));
      // Twice, then after the dealer moves up a tier, then after the tier's price changes.
      expect([await unitPrice(), await unitPrice()]).toEqual([9_000, 9_000]);
      await updateDealerLink(db, w.asCore, w.core, w.link.id, terms(gold.id));
      expect(await unitPrice()).toBe(8_000);
      await setPriceListItem(db, w.asCore, w.core, goldList.id, { skuCode: w.kettle.code, minQty: 1, priceFen: 7_500 });
      expect(await unitPrice()).toBe(7_500);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("places orders made at the same moment, each with its own number, and refuses the bad ones alone", async () => {
      const { db } = handle;
      const w = await world(db);
      const stranger = await newOrg(db, "dealer");
      const requests = [
        createOrder(db, w.asDealer, kettles(w), new Date()),
        createOrder(db, w.asDealer, { ...kettles(w), lines: [{ skuCode: "NO-SUCH-SKU", quantity: 1 }] }, new Date()),
        createOrder(db, w.asDealer, { ...kettles(w, 24), paymentMethod: null }, new Date()),
        createOrder(db, actorOf(stranger), { ...kettles(w), dealerId: stranger }, new Date()),
        createOrder(db, w.asDealer, { ...kettles(w), lines: [{ skuId: w.kettle.id, quantity: 13 }] }, new Date()),
        createOrder(db, w.asDealer, { ...kettles(w, 36) }, new Date()),
      ];
      const outcomes = await Promise.allSettled(requests);
      const codes = outcomes.map((o) => (o.status === "fulfilled" ? o.value.status : `${(o.reason as DomainError).code} ${Object.keys((o.reason as DomainError).fields ?? {}).join(",")}`));
      expect(codes).toEqual(["submitted", "validation lines.0.sku", "submitted", "not_found core_enterprise_id", "validation lines.0.quantity", "submitted"]);
      const placed = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      expect(new Set(placed.map((o) => o.number)).size).toBe(3);
      expect(placed.map((o) => o.payment_method)).toEqual(["on_account", null, "on_account"]);
      expect((await creditSummary(db, w.link.id)).usedFen).toBe(120_000 + 360_000);
      // Each has its own lines, timeline and supplier notice.
      for (const order of placed) {
        const detail = await getOrder(db, w.core, order.id);
        expect(detail.events.map((e) => e.event)).toEqual(["create", "submit"]);
        expect(detail.lines.reduce((sum, l) => sum + l.amount_fen, 0)).toBe(order.total_fen);
      }
      expect(await runOrderNotices(db, placed.map((o) => o.id))).toBe(3);
      const notices = await db
        .selectFrom("notification_requests")
        .select("dedupe_key")
        .where("dedupe_key", "in", placed.map((o) => `order.submitted:${o.id}:submitted`))
        .execute();
      expect(notices).toHaveLength(3);
      const jobs = await db.selectFrom("outbox").select("job_id").where("job_name", "=", "notifications.deliver").execute();
      expect(jobs.length).toBeGreaterThanOrEqual(3);
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}

describe("an order placed while another transaction draws on its credit line (PostgreSQL)", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 20 });
  });
  afterAll(async () => {
    await handle?.close();
  });

  /**
   * Another transaction draws `drawFen` on the dealer's line and holds the line's lock while the
   * order is placed: the order's transaction waits for the lock. The draw commits; then the order is
   * decided on the line as it is.
   */
  async function placeWhileLineIsDrawn(db: Db, w: World, drawFen: number) {
    const credit = (await findAccountByCode(db, `trade_credit:${w.link.id}`))!;
    const receivable = (await findAccountByCode(db, `trade_receivable:${w.link.id}`))!;
    let placing: Promise<unknown> = Promise.resolve();
    let drawTxid = "";
    await db.transaction().execute(async (trx) => {
      await transfer(trx, {
        idempotencyKey: `draw:${w.link.id}:${drawFen}`,
        kind: "on_account_hold",
        reference: `test:${w.link.id}`,
        debitAccountId: credit.id,
        creditAccountId: receivable.id,
        amountFen: drawFen,
        pending: true,
      });
      drawTxid = (await sql<{ txid: string }>`select txid_current()::text as txid`.execute(trx)).rows[0].txid;
      placing = createOrder(db, w.asDealer, kettles(w), new Date()).then(
        (order) => ({ order }),
        (error: unknown) => ({ error }),
      );
      // Let go once the order's statement is waiting for the line's lock.
      for (let waited = 0; ; waited += 10) {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
        if (rows[0].n > 0) break;
        if (waited > 10_000) throw new Error("the order never waited for the credit line's lock");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    return { outcome: (await placing) as { order?: { id: string; status: string }; error?: unknown }, drawTxid };
  }

  it("refuses the order, naming payment_method, and writes nothing of it when the line can no longer take it", async () => {
    const { db } = handle;
    const w = await world(db, 150_000);
    const { outcome } = await placeWhileLineIsDrawn(db, w, 100_000);
    expect(outcome.error).toBeInstanceOf(DomainError);
    expect((outcome.error as DomainError).code).toBe("insufficient_funds");
    expect((outcome.error as DomainError).fields).toEqual({ payment_method: "exceeds the available credit" });
    expect(await db.selectFrom("orders").select("id").where("dealer_id", "=", w.dealer).execute()).toEqual([]);
    expect(await db.selectFrom("order_lines").innerJoin("orders", "orders.id", "order_lines.order_id").select("order_lines.id").where("orders.dealer_id", "=", w.dealer).execute()).toEqual([]);
    expect(await db.selectFrom("notification_requests").select("id").where("organization_id", "=", w.core).execute()).toEqual([]);
    expect(
      await db.selectFrom("outbox").select("id").where("job_name", "=", "orders.notice").where(sql<string>`payload->>'actorOrganizationId'`, "=", w.dealer).execute(),
    ).toEqual([]);
    expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 150_000, usedFen: 100_000, availableFen: 50_000 });
    expect(await verifyLedger(db)).toEqual([]);
  });

  it("places the order when the line can still take it", async () => {
    const { db } = handle;
    const w = await world(db, 150_000);
    const { outcome, drawTxid } = await placeWhileLineIsDrawn(db, w, 20_000);
    expect(outcome.order?.status).toBe("submitted");
    const { rows } = await sql<{ txid: string }>`select xmin::text as txid from orders where id = ${outcome.order!.id}`.execute(db);
    expect(rows[0].txid).not.toBe(drawTxid);
    expect(await movements(db, outcome.order!.id)).toEqual([{ kind: "on_account_hold", phase: "pending", amount_fen: 120_000 }]);
    expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 150_000, usedFen: 140_000, availableFen: 10_000 });
    expect(await verifyLedger(db)).toEqual([]);
  });
});
