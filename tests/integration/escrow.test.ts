import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { cancelCheckout, payCheckoutFromWallet, placeCheckout } from "../../app/domain/market/escrow/checkout.server";
import { cancelPaidMarketOrder, receiveMarketOrder, shipMarketOrder } from "../../app/domain/market/escrow/fulfilment.server";
import { settleReceivedOrders } from "../../app/domain/market/escrow/settlement.server";
import { addDisputeStatement, openDispute, ruleDispute } from "../../app/domain/market/escrow/disputes.server";
import { getDisputeEvidence, getMarketOrder, listDisputes, listMarketOrders } from "../../app/domain/market/escrow/queries.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { addFeeSchedule } from "../../app/domain/market/fees.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import {
  actorFor,
  createMarketWorld,
  feeBalanceOf,
  makeBuyer,
  makeListing,
  stockOf,
  walletOf,
  type MarketWorld,
} from "./market-trade.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

const quiet = logger.child({});
quiet.level = "silent";

let keySeq = 0;
const key = () => `checkout-${Date.now()}-${keySeq++}`;

describe("escrow trading in a market (PostgreSQL)", () => {
  let t: TestDatabase;
  let w: MarketWorld;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 30 });
    w = await createMarketWorld(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function paidOrder(options: { quantity?: number; priceFen?: number; world?: MarketWorld } = {}) {
    const world = options.world ?? w;
    const listing = await makeListing(t.db, world, 0, { priceFen: options.priceFen ?? 10_000, stock: 50 });
    const qty = options.quantity ?? 2;
    const buyer = await makeBuyer(t.db, listing.priceFen * qty);
    const placed = await placeCheckout(t.db, actorFor(buyer.id), { buyerId: buyer.id, marketId: world.marketId, lines: [{ listingId: listing.id, quantity: qty }], idempotencyKey: key() }, new Date());
    await payCheckoutFromWallet(t.db, actorFor(buyer.id), buyer.id, placed.checkout.id, new Date());
    return { listing, buyer, orderId: placed.orders[0].id, checkoutId: placed.checkout.id, totalFen: listing.priceFen * qty };
  }

  describe("placement", () => {
    it("splits a two-merchant checkout into one order per merchant, reserves stock and fixes each order's commission", async () => {
      const dress = await makeListing(t.db, w, 0, { priceFen: 10_000, stock: 20 });
      const shirt = await makeListing(t.db, w, 1, { priceFen: 8_800, stock: 20, category: "男装" });
      const buyer = await makeBuyer(t.db);
      const result = await placeCheckout(t.db, actorFor(buyer.id), {
        buyerId: buyer.id,
        marketId: w.marketId,
        lines: [
          { listingId: dress.id, quantity: 2 },
          { listingId: shirt.id, quantity: 3 },
        ],
        idempotencyKey: key(),
      }, new Date());
      expect(result.replayed).toBe(false);
      expect(result.checkout.totalFen).toBe(20_000 + 26_400);
      const byMerchant = new Map(result.orders.map((o) => [o.merchantId, o]));
      // 女装 2.5 % of ¥200 = ¥5 (= the minimum); 男装 2 % of ¥264 = ¥5.28.
      expect(byMerchant.get(w.merchants[0].id)).toMatchObject({ goodsTotalFen: 20_000, feeFen: 500 });
      expect(byMerchant.get(w.merchants[1].id)).toMatchObject({ goodsTotalFen: 26_400, feeFen: 528 });
      expect(await stockOf(t.db, dress.id)).toBe(18);
      expect(await stockOf(t.db, shirt.id)).toBe(17);
      for (const o of result.orders) expect(o.orderNo).toMatch(/^MO\d{8}\d{6}$/);
      const detail = await getMarketOrder(t.db, buyer.id, byMerchant.get(w.merchants[0].id)!.id);
      expect(detail.status).toBe("placed");
      expect(detail.lines).toEqual([expect.objectContaining({ quantity: 2, unitPriceFen: 10_000, amountFen: 20_000, commissionRateBps: 250, minFeeFen: 500 })]);
      expect(detail.events.map((e) => e.event)).toEqual(["place"]);
    });

    it("returns the same checkout for the same key, and refuses the key with other lines", async () => {
      const listing = await makeListing(t.db, w, 0, { stock: 10 });
      const buyer = await makeBuyer(t.db);
      const k = key();
      const input = { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 1 }], idempotencyKey: k };
      const first = await placeCheckout(t.db, actorFor(buyer.id), input, new Date());
      const again = await placeCheckout(t.db, actorFor(buyer.id), input, new Date());
      expect(again.replayed).toBe(true);
      expect(again.checkout.id).toBe(first.checkout.id);
      expect(await stockOf(t.db, listing.id)).toBe(9);
      await expect(placeCheckout(t.db, actorFor(buyer.id), { ...input, lines: [{ listingId: listing.id, quantity: 2 }] }, new Date())).rejects.toMatchObject({ code: "idempotency_conflict" });
    });

    it("refuses bad lines naming the line and field, and writes nothing", async () => {
      const listing = await makeListing(t.db, w, 0, { stock: 5, minOrder: 3 });
      const buyer = await makeBuyer(t.db);
      const before = await t.db.selectFrom("market_checkouts").select(t.db.fn.countAll<number>().as("n")).where("buyer_id", "=", buyer.id).executeTakeFirstOrThrow();
      const place = (lines: { listingId: string; quantity: number }[]) =>
        placeCheckout(t.db, actorFor(buyer.id), { buyerId: buyer.id, marketId: w.marketId, lines, idempotencyKey: key() }, new Date());
      await expect(place([{ listingId: listing.id, quantity: 2 }])).rejects.toMatchObject({ code: "validation", fields: { "lines[0].quantity": expect.stringContaining("minimum") } });
      await expect(place([{ listingId: listing.id, quantity: 6 }])).rejects.toMatchObject({ code: "invalid_state", fields: { "lines[0].quantity": "only 5 in stock" } });
      await expect(place([{ listingId: listing.id, quantity: 0 }])).rejects.toMatchObject({ code: "validation", fields: { "lines[0].quantity": expect.any(String) } });
      await expect(place([{ listingId: "not-a-uuid", quantity: 1 }])).rejects.toMatchObject({ code: "validation", fields: { "lines[0].listingId": expect.any(String) } });
      await expect(place([])).rejects.toMatchObject({ code: "validation", fields: { lines: expect.any(String) } });
      await t.db.updateTable("market_listings").set({ moderation_status: "hidden", moderation_reason: "假冒商标" }).where("id", "=", listing.id).execute();
      await expect(place([{ listingId: listing.id, quantity: 3 }])).rejects.toMatchObject({ code: "validation", fields: { "lines[0].listingId": "not on sale" } });
      await t.db.updateTable("market_listings").set({ moderation_status: "visible", moderation_reason: "" }).where("id", "=", listing.id).execute();
      expect(await stockOf(t.db, listing.id)).toBe(5);
      const after = await t.db.selectFrom("market_checkouts").select(t.db.fn.countAll<number>().as("n")).where("buyer_id", "=", buyer.id).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
    });

    it("never oversells: 100 concurrent buyers on a listing with stock 10 give exactly 10 orders", async () => {
      const listing = await makeListing(t.db, w, 0, { stock: 10, priceFen: 5_000 });
      const buyers = await Promise.all(Array.from({ length: 100 }, () => makeBuyer(t.db)));
      const results = await Promise.allSettled(
        buyers.map((b) => placeCheckout(t.db, actorFor(b.id), { buyerId: b.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 1 }], idempotencyKey: key() }, new Date())),
      );
      const placed = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(placed).toHaveLength(10);
      expect(refused).toHaveLength(90);
      for (const r of refused) expect(r.reason).toMatchObject({ code: "invalid_state", fields: { "lines[0].quantity": "only 0 in stock" } });
      expect(await stockOf(t.db, listing.id)).toBe(0);
      const orders = await t.db.selectFrom("market_order_lines").select("order_id").where("listing_id", "=", listing.id).execute();
      expect(orders).toHaveLength(10);
    });
  });

  describe("payment, fulfilment and settlement", () => {
    it("holds the money at payment, ships, receives, and settles: merchant paid less the commission, fee to the market", async () => {
      const { buyer, orderId, totalFen } = await paidOrder({ quantity: 3, priceFen: 10_000 });
      const merchant = w.merchants[0];
      expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: totalFen, availableFen: 0, incomingFen: 0 });
      const merchantBefore = await walletOf(t.db, merchant.id);
      const feesBefore = await feeBalanceOf(t.db, w.marketId);

      await expect(receiveMarketOrder(t.db, actorFor(buyer.id), buyer.id, orderId, new Date())).rejects.toMatchObject({ code: "invalid_state" });
      await expect(shipMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { carrier: "顺丰", trackingNo: "bad number!" }, new Date())).rejects.toMatchObject({ code: "validation", fields: { trackingNo: expect.any(String) } });
      await shipMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { carrier: "顺丰速运", trackingNo: "SF1234567890" }, new Date());
      await expect(shipMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { carrier: "顺丰速运", trackingNo: "SF1234567890" }, new Date())).rejects.toMatchObject({ code: "invalid_state" });
      const paidNotices = await t.db.selectFrom("notification_requests").select(["organization_id", "topic"]).where("dedupe_key", "=", `market_order.paid:${orderId}`).execute();
      expect(paidNotices).toEqual([{ organization_id: merchant.id, topic: "market_order.paid" }]);
      await receiveMarketOrder(t.db, actorFor(buyer.id), buyer.id, orderId, new Date());
      // The receipt asks for a sweep of its market, shared with the other receipts of the same moment.
      const outbox = await t.db.selectFrom("outbox").select(["job_id", "job_name", "payload"]).where("job_id", "like", `market:${w.marketId}-%:settle`).execute();
      expect(outbox).toMatchObject([{ job_name: "market.settle", payload: {} }]);

      // The settlement step, run twice as at-least-once delivery may.
      await runStep(STEPS, { db: t.db, logger: quiet }, "market.settle", { orderId });
      await runStep(STEPS, { db: t.db, logger: quiet }, "market.settle", { orderId });
      const detail = await getMarketOrder(t.db, buyer.id, orderId);
      // 2.5 % of ¥300 = ¥7.50.
      expect(detail).toMatchObject({ status: "settled", feeFen: 750, settledFeeFen: 750, settledNetFen: totalFen - 750, refundedFen: 0 });
      expect(detail.events.map((e) => e.event)).toEqual(["place", "pay", "ship", "receive", "settle"]);
      expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: 0, availableFen: 0, incomingFen: 0 });
      expect((await walletOf(t.db, merchant.id)).balanceFen - merchantBefore.balanceFen).toBe(totalFen - 750);
      expect((await feeBalanceOf(t.db, w.marketId)) - feesBefore).toBe(750);
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("gives a receipt its own settle job when its moment's shared sweep has already been taken out", async () => {
      const at = new Date();
      const first = await paidOrder();
      const second = await paidOrder();
      for (const { orderId } of [first, second]) await shipMarketOrder(t.db, actorFor(w.merchants[0].id), w.merchants[0].id, orderId, { carrier: "顺丰速运", trackingNo: "SF1" }, new Date());
      await receiveMarketOrder(t.db, actorFor(first.buyer.id), first.buyer.id, first.orderId, at);
      // The relay publishes the shared row (its sweep may run before the next receipt commits)…
      await t.db.updateTable("outbox").set({ published_at: new Date() }).where("job_id", "like", `market:${w.marketId}-%:settle`).where("published_at", "is", null).execute();
      // …so a receipt of the same moment cannot rely on it.
      await receiveMarketOrder(t.db, actorFor(second.buyer.id), second.buyer.id, second.orderId, at);
      const own = await t.db.selectFrom("outbox").select("payload").where("job_id", "=", `market:${second.orderId}:settle`).execute();
      expect(own).toEqual([{ payload: { orderId: second.orderId } }]);
    });

    it("keeps the commission fixed at placement when the schedule changes before settlement", async () => {
      // A market of its own: the raise below must not reach the other tests' orders.
      const own = await createMarketWorld(t.db);
      const { buyer, orderId, totalFen } = await paidOrder({ quantity: 4, priceFen: 10_000, world: own });
      const op = actorFor(own.operatorId, own.operatorUser.id);
      await addFeeSchedule(t.db, op, own.operatorId, own.marketId, { category: "女装", commissionRate: "10", minFee: "0", effectiveFrom: shanghaiDate(new Date()) }, new Date());
      const merchant = own.merchants[0];
      await shipMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { carrier: "中通", trackingNo: "ZT100" }, new Date());
      await receiveMarketOrder(t.db, actorFor(buyer.id), buyer.id, orderId, new Date());
      await settleReceivedOrders(t.db, { orderIds: [orderId], now: new Date() });
      const detail = await getMarketOrder(t.db, merchant.id, orderId);
      expect(detail.settledFeeFen).toBe(1_000); // 2.5 % of ¥400, not 10 %
      expect(detail.settledNetFen).toBe(totalFen - 1_000);
    });

    it("lets the merchant cancel a paid order it cannot fulfil: hold voided, units back on sale", async () => {
      const { buyer, orderId, listing, totalFen } = await paidOrder({ quantity: 2 });
      const stock = await stockOf(t.db, listing.id);
      const merchant = w.merchants[0];
      await expect(cancelPaidMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { reason: "" }, new Date())).rejects.toMatchObject({ code: "validation", fields: { reason: expect.any(String) } });
      await cancelPaidMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { reason: "缺货" }, new Date());
      expect(await stockOf(t.db, listing.id)).toBe(stock + 2);
      expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: totalFen, availableFen: totalFen, incomingFen: 0 });
      expect((await getMarketOrder(t.db, buyer.id, orderId)).status).toBe("cancelled");
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("refuses a wallet payment it cannot cover, writing nothing", async () => {
      const listing = await makeListing(t.db, w, 0, { priceFen: 10_000 });
      const buyer = await makeBuyer(t.db, 9_999);
      const placed = await placeCheckout(t.db, actorFor(buyer.id), { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 1 }], idempotencyKey: key() }, new Date());
      await expect(payCheckoutFromWallet(t.db, actorFor(buyer.id), buyer.id, placed.checkout.id, new Date())).rejects.toMatchObject({ code: "insufficient_funds", fields: { wallet: expect.any(String) } });
      expect((await getMarketOrder(t.db, buyer.id, placed.orders[0].id)).status).toBe("placed");
      expect(await walletOf(t.db, buyer.id)).toEqual({ balanceFen: 9_999, availableFen: 9_999, incomingFen: 0 });
    });
  });

  describe("timers (scheduled steps with a fake clock)", () => {
    it("expires an unpaid checkout after the market's limit and gives the stock back; a cancelled one likewise", async () => {
      const listing = await makeListing(t.db, w, 1, { stock: 8 });
      const buyer = await makeBuyer(t.db);
      const placedAt = new Date("2026-11-20T02:00:00Z");
      const placed = await placeCheckout(t.db, actorFor(buyer.id), { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 3 }], idempotencyKey: key() }, placedAt);
      expect(await stockOf(t.db, listing.id)).toBe(5);
      const step = (now: Date) => runStep(STEPS, { db: t.db, logger: quiet, now: () => now }, "market.expire_checkouts", {});
      await step(new Date(placedAt.getTime() + 29 * 60_000));
      expect((await getMarketOrder(t.db, buyer.id, placed.orders[0].id)).status).toBe("placed");
      await step(new Date(placedAt.getTime() + 30 * 60_000));
      const detail = await getMarketOrder(t.db, buyer.id, placed.orders[0].id);
      expect(detail.status).toBe("expired");
      expect(detail.events.map((e) => e.event)).toEqual(["place", "expire"]);
      expect(await stockOf(t.db, listing.id)).toBe(8);
      await step(new Date(placedAt.getTime() + 60 * 60_000));
      expect(await stockOf(t.db, listing.id)).toBe(8);
      await expect(payCheckoutFromWallet(t.db, actorFor(buyer.id), buyer.id, placed.checkout.id, new Date())).rejects.toMatchObject({ code: "invalid_state" });

      const second = await placeCheckout(t.db, actorFor(buyer.id), { buyerId: buyer.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 2 }], idempotencyKey: key() }, new Date());
      await cancelCheckout(t.db, actorFor(buyer.id), buyer.id, second.checkout.id, new Date());
      expect(await stockOf(t.db, listing.id)).toBe(8);
      expect((await getMarketOrder(t.db, buyer.id, second.orders[0].id)).status).toBe("cancelled");
    });

    it("auto-confirms a shipped order after the market's days, then settles it", async () => {
      const { buyer, orderId } = await paidOrder();
      const merchant = w.merchants[0];
      const shippedAt = new Date();
      await shipMarketOrder(t.db, actorFor(merchant.id), merchant.id, orderId, { carrier: "韵达", trackingNo: "YD42" }, shippedAt);
      const step = (now: Date) => runStep(STEPS, { db: t.db, logger: quiet, now: () => now }, "market.auto_confirm", {});
      await step(new Date(shippedAt.getTime() + 7 * 86_400_000 - 1_000));
      expect((await getMarketOrder(t.db, buyer.id, orderId)).status).toBe("shipped");
      await step(new Date(shippedAt.getTime() + 7 * 86_400_000));
      expect((await getMarketOrder(t.db, buyer.id, orderId)).status).toBe("received");
      await runStep(STEPS, { db: t.db, logger: quiet }, "market.settle", { orderId });
      const detail = await getMarketOrder(t.db, buyer.id, orderId);
      expect(detail.status).toBe("settled");
      expect(detail.events.map((e) => e.event)).toEqual(["place", "pay", "ship", "auto_confirm", "settle"]);
    });
  });

  describe("disputes", () => {
    async function disputed() {
      const order = await paidOrder({ quantity: 3, priceFen: 3_333 });
      const merchant = w.merchants[0];
      const shippedAt = new Date();
      await shipMarketOrder(t.db, actorFor(merchant.id), merchant.id, order.orderId, { carrier: "顺丰", trackingNo: "SF1" }, shippedAt);
      const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
      const { disputeId } = await openDispute(t.db, actorFor(order.buyer.id), order.buyer.id, order.orderId, {
        statement: "收到的货有破损",
        evidence: { filename: "破损.png", contentType: "image/png", bytes: png },
      }, new Date());
      return { ...order, merchant, disputeId, shippedAt };
    }

    it("freezes the auto-confirm timer and the hold, collects both sides' statements, and keeps evidence to the parties", async () => {
      const d = await disputed();
      await runStep(STEPS, { db: t.db, logger: quiet, now: () => new Date(d.shippedAt.getTime() + 30 * 86_400_000) }, "market.auto_confirm", {});
      const detail = await getMarketOrder(t.db, d.buyer.id, d.orderId);
      expect(detail.status).toBe("disputed");
      expect(detail.held).toBe(true);
      expect(await walletOf(t.db, d.buyer.id)).toMatchObject({ availableFen: 0 });
      await addDisputeStatement(t.db, actorFor(d.merchant.id), d.merchant.id, d.disputeId, { body: "发货前已检查，附出库照片" }, new Date());
      await expect(addDisputeStatement(t.db, actorFor(w.merchants[1].id), w.merchants[1].id, d.disputeId, { body: "路过" }, new Date())).rejects.toMatchObject({ code: "not_found" });
      await expect(
        addDisputeStatement(t.db, actorFor(d.buyer.id), d.buyer.id, d.disputeId, { body: "再补充", evidence: { filename: "x.exe", contentType: "image/png", bytes: new Uint8Array([0x4d, 0x5a, 0, 0]) } }, new Date()),
      ).rejects.toMatchObject({ code: "validation", fields: { evidence: expect.any(String) } });
      const view = (await getMarketOrder(t.db, w.operatorId, d.orderId)).dispute!;
      expect(view.statements.map((s) => s.party)).toEqual(["buyer", "merchant"]);
      const evidenceId = view.statements[0].id;
      expect((await getDisputeEvidence(t.db, w.operatorId, evidenceId)).contentType).toBe("image/png");
      await expect(getDisputeEvidence(t.db, w.merchants[1].id, evidenceId)).rejects.toMatchObject({ code: "not_found" });
      const notices = await t.db.selectFrom("notification_requests").select("organization_id").where("topic", "=", "market_order.disputed").where("dedupe_key", "like", `market_order.disputed:${d.orderId}:%`).execute();
      expect(notices.map((n) => n.organization_id).sort()).toEqual([d.merchant.id, w.operatorId].sort());
      const open = await listDisputes(t.db, w.operatorId, w.marketId, { status: "open" });
      expect(open.map((x) => x.id)).toContain(d.disputeId);
    });

    it("rules a partial refund whose refund, merchant net and commission sum exactly to the goods total", async () => {
      const d = await disputed();
      const op = actorFor(w.operatorId, w.operatorUser.id);
      const total = d.totalFen; // 9,999 fen, commission fixed at placement: max(2.5 % → 250, ¥5 min) = 500
      await expect(ruleDispute(t.db, op, w.operatorId, d.disputeId, { ruling: "refund_partial", refundFen: total, reason: "全额应走 refund_full" }, new Date())).rejects.toMatchObject({
        code: "validation",
        fields: { refundFen: expect.any(String) },
      });
      await expect(ruleDispute(t.db, op, w.operatorId, d.disputeId, { ruling: "refund_partial", refundFen: 3_333, reason: "" }, new Date())).rejects.toMatchObject({ code: "validation", fields: { reason: expect.any(String) } });
      const merchantBefore = await walletOf(t.db, d.merchant.id);
      const feesBefore = await feeBalanceOf(t.db, w.marketId);
      await ruleDispute(t.db, op, w.operatorId, d.disputeId, { ruling: "refund_partial", refundFen: 3_333, reason: "一件破损，退一件的钱" }, new Date());
      const detail = await getMarketOrder(t.db, d.buyer.id, d.orderId);
      expect(detail.status).toBe("settled");
      expect(detail.refundedFen).toBe(3_333);
      expect(detail.refundedFen + detail.settledNetFen + detail.settledFeeFen).toBe(total);
      // The commission on the released ¥66.66: 500 × 6666 / 9999 = 333.33… → 333.
      expect(detail.settledFeeFen).toBe(333);
      expect((await walletOf(t.db, d.merchant.id)).balanceFen - merchantBefore.balanceFen).toBe(detail.settledNetFen);
      expect((await feeBalanceOf(t.db, w.marketId)) - feesBefore).toBe(333);
      expect(await walletOf(t.db, d.buyer.id)).toEqual({ balanceFen: 3_333, availableFen: 3_333, incomingFen: 0 });
      expect(detail.dispute).toMatchObject({ status: "ruled", ruling: "refund_partial", refundFen: 3_333 });
      await expect(ruleDispute(t.db, op, w.operatorId, d.disputeId, { ruling: "release", reason: "再裁一次" }, new Date())).rejects.toMatchObject({ code: "invalid_state" });
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("rules a full refund (hold voided, units back) and a release (merchant paid)", async () => {
      const op = actorFor(w.operatorId, w.operatorUser.id);
      const a = await disputed();
      const stock = await stockOf(t.db, a.listing.id);
      await ruleDispute(t.db, op, w.operatorId, a.disputeId, { ruling: "refund_full", reason: "货不对板" }, new Date());
      expect(await getMarketOrder(t.db, a.buyer.id, a.orderId)).toMatchObject({ status: "refunded", refundedFen: a.totalFen, settledNetFen: 0, settledFeeFen: 0 });
      expect(await stockOf(t.db, a.listing.id)).toBe(stock + 3);
      expect(await walletOf(t.db, a.buyer.id)).toEqual({ balanceFen: a.totalFen, availableFen: a.totalFen, incomingFen: 0 });

      const b = await disputed();
      await ruleDispute(t.db, op, w.operatorId, b.disputeId, { ruling: "release", reason: "买家证据不足" }, new Date());
      const detail = await getMarketOrder(t.db, b.buyer.id, b.orderId);
      expect(detail).toMatchObject({ status: "settled", refundedFen: 0, settledFeeFen: 500, settledNetFen: b.totalFen - 500 });
      expect(await verifyLedger(t.db)).toEqual([]);
    });
  });

  describe("tenancy", () => {
    it("answers not_found to anyone who is not a party of the order", async () => {
      const { buyer, orderId, checkoutId } = await paidOrder();
      const stranger = await makeBuyer(t.db);
      const otherWorld = await createMarketWorld(t.db);
      await expect(getMarketOrder(t.db, stranger.id, orderId)).rejects.toMatchObject({ code: "not_found" });
      await expect(getMarketOrder(t.db, otherWorld.operatorId, orderId)).rejects.toMatchObject({ code: "not_found" });
      await expect(getMarketOrder(t.db, w.merchants[1].id, orderId)).rejects.toMatchObject({ code: "not_found" });
      await expect(shipMarketOrder(t.db, actorFor(w.merchants[1].id), w.merchants[1].id, orderId, { carrier: "顺丰", trackingNo: "SF9" }, new Date())).rejects.toMatchObject({ code: "not_found" });
      await expect(openDispute(t.db, actorFor(stranger.id), stranger.id, orderId, { statement: "我也要" }, new Date())).rejects.toMatchObject({ code: "not_found" });
      await expect(payCheckoutFromWallet(t.db, actorFor(stranger.id), stranger.id, checkoutId, new Date())).rejects.toMatchObject({ code: "not_found" });
      await expect(listDisputes(t.db, otherWorld.operatorId, w.marketId)).rejects.toMatchObject({ code: "not_found" });
      const mine = await listMarketOrders(t.db, { organizationId: buyer.id, kind: "buyer" });
      expect(mine.items.map((o) => o.id)).toEqual([orderId]);
      expect((await listMarketOrders(t.db, { organizationId: stranger.id, kind: "buyer" })).items).toEqual([]);
      expect((await listMarketOrders(t.db, { organizationId: otherWorld.operatorId, kind: "market_operator" })).items).toEqual([]);
    });
  });
});
