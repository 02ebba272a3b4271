import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { DomainError } from "../../app/domain/shared/errors";
import { ensureAccount, transfer, verifyLedger } from "../../app/domain/ledger/ledger.server";
import { cancelOrder } from "../../app/domain/orders/cancel.server";
import { addToCart, approveOrder, submitOrder } from "../../app/domain/orders/cart.server";
import { autoReceiveDueOrders, receiveOrder, shipOrder } from "../../app/domain/orders/fulfilment.server";
import { applyCapturedOrderPayment, payFromWallet, payOnAccount, repayOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder, listOrders } from "../../app/domain/orders/queries.server";
import { decideReturn, receiveReturnedGoods, refundReturn, requestReturn } from "../../app/domain/orders/returns.server";
import { confirmOrder, rejectOrder } from "../../app/domain/orders/review.server";
import { createSeason, releaseSeason } from "../../app/domain/orders/seasons.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { ENGINES, actorOf, makeLink, makeSku, newOrg, newUser, runOrderNotices } from "./catalog.fixtures";
import { logger } from "../../app/logger.server";
import { PermanentStepError, runStep, STEPS } from "../../workflows/registry";
import { applyRateBps } from "../../app/domain/shared/money";

async function fundWallet(db: Db, organizationId: string, amountFen: number) {
  const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: null });
  const wallet = await ensureAccount(db, { kind: "wallet", organizationId });
  await transfer(db, {
    idempotencyKey: `fund:${organizationId}:${amountFen}:${Math.random()}`,
    kind: "topup",
    reference: `test:${organizationId}`,
    debitAccountId: clearing.id,
    creditAccountId: wallet.id,
    amountFen,
  });
  return wallet;
}

async function walletBalance(db: Db, organizationId: string) {
  return (await ensureAccount(db, { kind: "wallet", organizationId })).balanceFen;
}

async function stockOf(db: Db, skuId: string) {
  return db.selectFrom("skus").select(["stock_on_hand", "stock_reserved"]).where("id", "=", skuId).executeTakeFirstOrThrow();
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

/** A supplier with two SKUs and a dealer in its network, ready to order. */
async function world(db: Db, options: { creditLimitFen?: number; stock?: number } = {}) {
  const core = await newOrg(db, "core_enterprise");
  const link = await makeLink(db, core, { creditLimitFen: options.creditLimitFen ?? 1_000_000 });
  const dealer = link.dealerId;
  const fridge = await makeSku(db, core, { basePriceFen: 300_000, stockOnHand: options.stock ?? 50 });
  const kettle = await makeSku(db, core, { basePriceFen: 10_000, packSize: 6, moq: 12, unit: "件", stockOnHand: options.stock ?? 600 });
  const dealerUser = await newUser(db);
  const coreUser = await newUser(db);
  return {
    core,
    dealer,
    link,
    fridge,
    kettle,
    asDealer: actorOf(dealer, dealerUser),
    asCore: actorOf(core, coreUser),
  };
}

for (const [engine, open] of ENGINES) {
  describe(`dealer orders on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("walks a standard order from cart to completion, paid from the wallet", async () => {
      const { db } = handle;
      const w = await world(db);
      await fundWallet(db, w.dealer, 2_000_000);
      await addToCart(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, skuId: w.fridge.id, quantity: 2 }, new Date());
      const cart = await addToCart(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, skuId: w.kettle.id, quantity: 12 }, new Date());
      expect(cart).toMatchObject({ status: "draft", total_fen: 2 * 300_000 + 12 * 10_000 });
      // The supplier does not see a cart.
      expect((await listOrders(db, w.core)).items).toHaveLength(0);

      const submitted = await submitOrder(db, w.asDealer, cart.id, new Date());
      expect(submitted.status).toBe("submitted");
      const confirmed = await confirmOrder(db, w.asCore, cart.id, new Date());
      expect(confirmed.status).toBe("confirmed");
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 50, stock_reserved: 2 });

      const paid = await payFromWallet(db, w.asDealer, cart.id, new Date());
      expect(paid).toMatchObject({ status: "paid", payment_method: "wallet", paid_fen: 720_000 });
      expect(await walletBalance(db, w.dealer)).toBe(2_000_000 - 720_000);
      expect(await walletBalance(db, w.core)).toBe(720_000);

      const detail = await getOrder(db, w.core, cart.id);
      const [fridgeLine, kettleLine] = detail.lines;
      await shipOrder(db, w.asCore, cart.id, { carrier: "顺丰", trackingNumber: "SF100", lines: [{ lineId: fridgeLine.id, quantity: 1 }] }, new Date());
      expect((await getOrder(db, w.dealer, cart.id)).order.status).toBe("partially_shipped");
      const shipped = await shipOrder(db, w.asCore, cart.id, {
        carrier: "顺丰",
        trackingNumber: "SF101",
        lines: [
          { lineId: fridgeLine.id, quantity: 1 },
          { lineId: kettleLine.id, quantity: 12 },
        ],
      }, new Date());
      expect(shipped.status).toBe("shipped");
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 48, stock_reserved: 0 });

      const done = await receiveOrder(db, w.asDealer, cart.id, new Date());
      expect(done.status).toBe("completed");
      const timeline = (await getOrder(db, w.dealer, cart.id)).events.map((e) => e.event);
      expect(timeline).toEqual(["create", "submit", "confirm", "pay", "ship_part", "ship_all", "receive", "complete"]);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("places an order in one step while the dealer's cart for that supplier is open", async () => {
      const { db } = handle;
      const w = await world(db);
      const cart = await addToCart(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, skuId: w.fridge.id, quantity: 1 }, new Date());
      const placed = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.kettle.id, quantity: 12 }] }, new Date());
      expect(placed.status).toBe("submitted");
      const saved = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", submit: false, lines: [{ skuId: w.kettle.id, quantity: 12 }] }, new Date());
      expect(saved.status).toBe("draft");
      // The cart is still the one the dealer was filling.
      const again = await addToCart(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, skuId: w.fridge.id, quantity: 1 }, new Date());
      expect(again.id).toBe(cart.id);
      expect((await getOrder(db, w.dealer, cart.id)).lines[0].quantity_ordered).toBe(2);
    });

    it("confirms orders naming the same SKUs in opposite order at once without a deadlock", async () => {
      const { db } = handle;
      const w = await world(db, { stock: 100_000 });
      const pairs = [];
      for (let i = 0; i < 15; i++) {
        const ab = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }, { skuId: w.kettle.id, quantity: 12 }] }, new Date());
        const ba = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.kettle.id, quantity: 12 }, { skuId: w.fridge.id, quantity: 1 }] }, new Date());
        pairs.push(ab, ba);
      }
      const outcomes = await Promise.all(pairs.map((o) => codeOf(confirmOrder(db, w.asCore, o.id, new Date()))));
      expect(outcomes).toEqual(pairs.map(() => "ok"));
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 100_000, stock_reserved: 30 });
    });

    it("lets the supplier lower quantities with a reason and reserves only what it confirms", async () => {
      const { db } = handle;
      const w = await world(db);
      const order = await createOrder(db, w.asDealer, {
        dealerId: w.dealer,
        coreEnterpriseId: w.core,
        kind: "standard",
        lines: [{ skuCode: w.fridge.code, quantity: 5 }, { skuCode: w.kettle.code, quantity: 24 }],
      }, new Date());
      const lines = (await getOrder(db, w.core, order.id)).lines;
      expect(
        (await confirmOrder(db, w.asCore, order.id, new Date(), [{ lineId: lines[0].id, quantity: 3 }]).catch((e: DomainError) => e.fields)),
      ).toEqual({ "lines.0.reason": expect.stringContaining("say why") });
      const confirmed = await confirmOrder(db, w.asCore, order.id, new Date(), [
        { lineId: lines[0].id, quantity: 3, reason: "仓库只剩三台" },
        { lineId: lines[1].id, quantity: 0, reason: "停产" },
      ]);
      expect(confirmed.total_fen).toBe(900_000);
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 50, stock_reserved: 3 });
      expect(await stockOf(db, w.kettle.id)).toEqual({ stock_on_hand: 600, stock_reserved: 0 });

      const cancelled = await cancelOrder(db, w.asDealer, order.id, "改订其他型号", new Date());
      expect(cancelled.status).toBe("cancelled");
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 50, stock_reserved: 0 });
    });

    it("reports every bad quick-order line by line and writes nothing", async () => {
      const { db } = handle;
      const w = await world(db);
      const error = await createOrder(db, w.asDealer, {
        dealerId: w.dealer,
        coreEnterpriseId: w.core,
        kind: "replenishment",
        lines: [
          { skuCode: "NO-SUCH-SKU", quantity: 1 },
          { skuCode: w.kettle.code, quantity: 6 },
          { skuCode: w.kettle.code.toLowerCase(), quantity: 13 },
          { skuCode: w.fridge.code, quantity: 1 },
        ],
      }, new Date()).catch((e: DomainError) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).fields).toEqual({
        "lines.0.sku": expect.stringContaining("unknown SKU"),
        "lines.1.quantity": expect.stringContaining("minimum order of 12"),
        "lines.2.sku": expect.stringContaining("appears twice"),
      });
      expect((await listOrders(db, w.dealer)).items).toHaveLength(0);
    });

    it("never lets 50 concurrent on-account orders exceed the credit limit", async () => {
      const { db } = handle;
      const w = await world(db, { creditLimitFen: 1_000_000, stock: 10_000 });
      const orders = [];
      for (let i = 0; i < 50; i++) {
        const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.kettle.id, quantity: 12 }] }, new Date());
        await confirmOrder(db, w.asCore, o.id, new Date());
        orders.push(o);
      }
      // 12 × 100 yuan = 120,000 fen each: 8 fit in 1,000,000, the 9th does not.
      const outcomes = await Promise.all(orders.map((o) => codeOf(payOnAccount(db, w.asDealer, o.id, new Date()))));
      expect(outcomes.filter((o) => o === "ok")).toHaveLength(8);
      expect(outcomes.filter((o) => o === "insufficient_funds")).toHaveLength(42);
      expect(await creditSummary(db, w.link.id)).toEqual({ limitFen: 1_000_000, usedFen: 960_000, availableFen: 40_000 });
      const refused = await payOnAccount(db, w.asDealer, orders[outcomes.indexOf("insufficient_funds")].id, new Date()).catch((e: DomainError) => e);
      expect((refused as DomainError).message).toMatch(/exceeds the credit available \(40000 fen of 1000000 fen\)/);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("restores credit on repayment and on cancellation, and sets the due date from the terms", async () => {
      const { db } = handle;
      const w = await world(db, { creditLimitFen: 500_000 });
      await fundWallet(db, w.dealer, 1_000_000);
      const a = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.kettle.id, quantity: 12 }] }, new Date());
      await confirmOrder(db, w.asCore, a.id, new Date());
      const onAccount = await payOnAccount(db, w.asDealer, a.id, new Date("2026-11-26T10:00:00+08:00"));
      expect(onAccount).toMatchObject({ status: "paid", payment_method: "on_account", due_on: "2026-12-26" });
      expect((await creditSummary(db, w.link.id)).availableFen).toBe(380_000);
      expect(await repayOnAccount(db, w.asDealer, a.id)).toEqual({ repaidFen: 120_000 });
      expect((await creditSummary(db, w.link.id)).availableFen).toBe(500_000);
      expect(await walletBalance(db, w.core)).toBe(120_000);

      const b = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.kettle.id, quantity: 24 }] }, new Date());
      await confirmOrder(db, w.asCore, b.id, new Date());
      await payOnAccount(db, w.asDealer, b.id, new Date());
      expect((await creditSummary(db, w.link.id)).availableFen).toBe(260_000);
      await cancelOrder(db, w.asCore, b.id, "客户要求取消", new Date());
      expect((await creditSummary(db, w.link.id)).availableFen).toBe(500_000);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("refunds the wallet when a paid order is cancelled, once", async () => {
      const { db } = handle;
      const w = await world(db);
      await fundWallet(db, w.dealer, 400_000);
      const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }] }, new Date());
      await confirmOrder(db, w.asCore, o.id, new Date());
      await payFromWallet(db, w.asDealer, o.id, new Date());
      expect(await walletBalance(db, w.dealer)).toBe(100_000);
      const results = await Promise.all([1, 2, 3].map(() => codeOf(cancelOrder(db, w.asDealer, o.id, "重复下单", new Date()))));
      expect(results.filter((r) => r === "ok")).toHaveLength(1);
      expect(results.filter((r) => r === "invalid_state")).toHaveLength(2);
      expect(await walletBalance(db, w.dealer)).toBe(400_000);
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 50, stock_reserved: 0 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("sends orders above the dealer's threshold to its owner or admin first", async () => {
      const { db } = handle;
      const w = await world(db);
      await updateOrderSettings(db, w.asDealer, w.dealer, { approvalThresholdFen: 500_000 });
      const small = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }] }, new Date());
      expect(small.status).toBe("submitted");
      const big = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 2 }] }, new Date());
      expect(big.status).toBe("pending_approval");
      // Until approved it is the dealer's business: the supplier cannot see it, let alone confirm it.
      expect(await codeOf(confirmOrder(db, w.asCore, big.id, new Date()))).toBe("not_found");
      expect(await codeOf(approveOrder(db, w.asDealer, ["purchaser"], big.id, "approve", new Date()))).toBe("forbidden");
      // Four eyes: the member who submitted it cannot approve it, even as an admin; another admin can.
      const own = await approveOrder(db, w.asDealer, ["admin"], big.id, "approve", new Date()).catch((e: unknown) => e);
      expect(own).toMatchObject({ code: "forbidden", status: 403, fields: { approver: "not_the_submitter" } });
      expect((own as Error).message).toContain("another owner or admin");
      const otherAdmin = actorOf(w.dealer, await newUser(db));
      expect((await approveOrder(db, otherAdmin, ["admin"], big.id, "approve", new Date())).status).toBe("submitted");
      expect((await confirmOrder(db, w.asCore, big.id, new Date())).status).toBe("confirmed");
    });

    it("books a preorder with a deposit and collects the balance when the season is released", async () => {
      const { db } = handle;
      const w = await world(db, { stock: 0 });
      await fundWallet(db, w.dealer, 2_000_000);
      const season = await createSeason(db, w.asCore, w.core, { name: "2027 春季订货会", depositRateBps: 3000 });
      const booking = await createOrder(db, w.asDealer, {
        dealerId: w.dealer,
        coreEnterpriseId: w.core,
        kind: "preorder",
        seasonId: season.id,
        lines: [{ skuId: w.fridge.id, quantity: 3 }],
      }, new Date());
      const confirmed = await confirmOrder(db, w.asCore, booking.id, new Date());
      expect(confirmed).toMatchObject({ status: "confirmed", total_fen: 900_000, deposit_fen: 270_000 });
      expect((await payFromWallet(db, w.asDealer, booking.id, new Date())).status).toBe("deposit_paid");
      // No stock yet: the release reports the booking short and leaves it waiting.
      const first = await releaseSeason(db, w.asCore, w.core, season.id, new Date());
      expect(first.released).toEqual([]);
      expect(first.short[0].message).toMatch(/Not enough stock/);
      await db.updateTable("skus").set({ stock_on_hand: 10 }).where("id", "=", w.fridge.id).execute();
      const second = await releaseSeason(db, w.asCore, w.core, season.id, new Date());
      expect(second.released).toEqual([booking.number]);
      const balance = await payFromWallet(db, w.asDealer, booking.id, new Date());
      expect(balance).toMatchObject({ status: "paid", paid_fen: 900_000 });
      expect(await walletBalance(db, w.core)).toBe(900_000);
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 10, stock_reserved: 3 });
    });

    it("takes goods back on a return and refunds credit first, then the wallet", async () => {
      const { db } = handle;
      const w = await world(db, { creditLimitFen: 2_000_000 });
      await fundWallet(db, w.core, 1_000_000);
      const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 4 }] }, new Date());
      await confirmOrder(db, w.asCore, o.id, new Date());
      await payOnAccount(db, w.asDealer, o.id, new Date());
      const line = (await getOrder(db, w.core, o.id)).lines[0];
      await shipOrder(db, w.asCore, o.id, { carrier: "德邦", trackingNumber: "DB1", lines: [{ lineId: line.id, quantity: 4 }] }, new Date());
      await receiveOrder(db, w.asDealer, o.id, new Date());
      const rma = await requestReturn(db, w.asDealer, { originalOrderId: o.id, lines: [{ lineId: line.id, quantity: 2 }], reason: "外壳破损" }, new Date());
      expect(rma).toMatchObject({ kind: "return", status: "requested", total_fen: 600_000 });
      // The same goods cannot be claimed twice.
      expect(await codeOf(requestReturn(db, w.asDealer, { originalOrderId: o.id, lines: [{ lineId: line.id, quantity: 3 }], reason: "again" }, new Date()))).toBe("validation");
      await decideReturn(db, w.asCore, rma.id, "approve", new Date());
      await receiveReturnedGoods(db, w.asCore, rma.id);
      expect(await stockOf(db, w.fridge.id)).toEqual({ stock_on_hand: 48, stock_reserved: 0 });
      const done = await refundReturn(db, w.asCore, rma.id, new Date());
      expect(done.status).toBe("completed");
      expect(await creditSummary(db, w.link.id)).toMatchObject({ usedFen: 600_000 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("auto-receives shipped orders after the supplier's days, once", async () => {
      const { db } = handle;
      const w = await world(db);
      await fundWallet(db, w.dealer, 400_000);
      await updateOrderSettings(db, w.asCore, w.core, { autoReceiptDays: 3 });
      const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }] }, new Date());
      await confirmOrder(db, w.asCore, o.id, new Date());
      await payFromWallet(db, w.asDealer, o.id, new Date());
      const line = (await getOrder(db, w.core, o.id)).lines[0];
      await shipOrder(db, w.asCore, o.id, { carrier: "顺丰", trackingNumber: "SF9", lines: [{ lineId: line.id, quantity: 1 }] }, new Date());
      const shippedAt = (await getOrder(db, w.core, o.id)).order.shipped_at!;
      const day = 24 * 3600 * 1000;
      expect(await autoReceiveDueOrders(db, new Date(shippedAt.getTime() + 2 * day))).not.toContain(o.number);
      const [a, b] = await Promise.all([
        autoReceiveDueOrders(db, new Date(shippedAt.getTime() + 3 * day + 1000)),
        autoReceiveDueOrders(db, new Date(shippedAt.getTime() + 3 * day + 1000)),
      ]);
      expect([...a, ...b].filter((n) => n === o.number)).toHaveLength(1);
      const detail = await getOrder(db, w.dealer, o.id);
      expect(detail.order.status).toBe("completed");
      expect(detail.events.find((e) => e.event === "receive")?.note).toBe("auto-receipt");
    });

    it("applies a captured e-Pay payment to its order once, and keeps a late one in the wallet", async () => {
      const { db } = handle;
      const w = await world(db);
      await fundWallet(db, w.dealer, 300_000); // what capture puts in the wallet
      const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }] }, new Date());
      await confirmOrder(db, w.asCore, o.id, new Date());
      const payment = { id: "p1", reference: `order:${o.id}:payment`, amountFen: 300_000, payerOrganizationId: w.dealer };
      await db.transaction().execute((trx) => applyCapturedOrderPayment(trx, payment, new Date()));
      await db.transaction().execute((trx) => applyCapturedOrderPayment(trx, payment, new Date()));
      expect((await getOrder(db, w.dealer, o.id)).order).toMatchObject({ status: "paid", payment_method: "epay", paid_fen: 300_000 });
      expect(await walletBalance(db, w.core)).toBe(300_000);
      expect(await walletBalance(db, w.dealer)).toBe(0);
      const events = (await getOrder(db, w.dealer, o.id)).events.map((e) => e.event);
      expect(events.filter((e) => e === "pay")).toHaveLength(1);
      expect(events).toContain("payment_not_applied");
    });

    it("hides an order from every organisation but its two parties", async () => {
      const { db } = handle;
      const w = await world(db);
      const stranger = await newOrg(db, "dealer");
      const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }] }, new Date());
      expect(await codeOf(getOrder(db, stranger, o.id))).toBe("not_found");
      expect(await codeOf(confirmOrder(db, actorOf(stranger), o.id, new Date()))).toBe("not_found");
      expect(await codeOf(cancelOrder(db, actorOf(stranger), o.id, "x", new Date()))).toBe("not_found");
      expect(await codeOf(rejectOrder(db, SYSTEM_ACTOR, o.id, "x", new Date()))).toBe("forbidden");
      expect((await listOrders(db, stranger)).items).toHaveLength(0);
      expect(await codeOf(createOrder(db, actorOf(stranger), { dealerId: stranger, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 1 }] }, new Date()))).toBe("not_found");
    });

    it("tells the other party of each order event through a job that makes the notice from the order, once", async () => {
      const { db } = handle;
      const w = await world(db);
      const other = await world(db);
      const order = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 2 }] }, new Date());
      const requests = () =>
        db.selectFrom("notification_requests").select(["organization_id", "topic", "params"]).where("params", "@>", sql<never>`${JSON.stringify({ orderId: order.id })}::jsonb`).orderBy("created_at").execute();
      // Written with the order: the job, not yet the request.
      const jobs = await db.selectFrom("outbox").select(["queue", "job_id"]).where("job_name", "=", "orders.notice").where(sql<string>`payload->>'orderId'`, "=", order.id).execute();
      expect(jobs).toEqual([{ queue: "orders", job_id: `orders:${order.id}:order.submitted.submitted` }]);
      expect(await requests()).toEqual([]);
      // Run twice (at-least-once delivery): one request, to the supplier, from the dealer.
      expect(await runOrderNotices(db, [order.id])).toBe(1);
      expect(await runOrderNotices(db, [order.id])).toBe(1);
      const [dealerName, coreName] = await Promise.all(
        [w.dealer, w.core].map(async (id) => (await db.selectFrom("organizations").select("name").where("id", "=", id).executeTakeFirstOrThrow()).name),
      );
      expect(await requests()).toEqual([
        { organization_id: w.core, topic: "order.submitted", params: { orderId: order.id, number: order.number, counterparty: dealerName } },
      ]);
      // Confirmed and shipped: to the dealer, from the supplier; each shipment its own notice.
      await confirmOrder(db, w.asCore, order.id, new Date());
      await fundWallet(db, w.dealer, 1_000_000);
      await payFromWallet(db, w.asDealer, order.id, new Date());
      const line = (await getOrder(db, w.core, order.id)).lines[0];
      await shipOrder(db, w.asCore, order.id, { carrier: "顺丰", trackingNumber: "SF1", lines: [{ lineId: line.id, quantity: 1 }] }, new Date());
      await shipOrder(db, w.asCore, order.id, { carrier: "顺丰", trackingNumber: "SF2", lines: [{ lineId: line.id, quantity: 1 }] }, new Date());
      expect(await runOrderNotices(db, [order.id])).toBe(4);
      const told = await requests();
      expect(told.map((r) => [r.organization_id, r.topic, (r.params as { counterparty: string }).counterparty])).toEqual([
        [w.core, "order.submitted", dealerName],
        [w.dealer, "order.confirmed", coreName],
        [w.dealer, "order.shipped", coreName],
        [w.dealer, "order.shipped", coreName],
      ]);
      // Nobody else hears of it.
      expect(told.some((r) => r.organization_id === other.core || r.organization_id === other.dealer)).toBe(false);
      // A job whose data is not an order notice is given up, not retried.
      const quiet = logger.child({});
      quiet.level = "silent";
      await expect(runStep(STEPS, { db, logger: quiet }, "orders.notice", { orderId: order.id, topic: "order.paid" })).rejects.toBeInstanceOf(PermanentStepError);
    });

    it("refuses, in the database itself, an order whose supplier or dealer is not its link's", async () => {
      const { db } = handle;
      const w = await world(db);
      const other = await world(db);
      const row = (coreEnterpriseId: string, dealerId: string, number: string) =>
        db.insertInto("orders").values({ number, kind: "standard", status: "draft", core_enterprise_id: coreEnterpriseId, dealer_id: dealerId, dealer_link_id: w.link.id });
      const tag = w.link.id.slice(0, 8).toUpperCase();
      await expect(row(other.core, w.dealer, `SOX${tag}1`).execute()).rejects.toMatchObject({ code: "23503" });
      await expect(row(w.core, other.dealer, `SOX${tag}2`).execute()).rejects.toMatchObject({ code: "23503" });
      await expect(row(w.core, w.dealer, `SOX${tag}3`).execute()).resolves.toBeDefined();
    });
  });
}

describe("rates", () => {
  it("rounds half to even at the fen", () => {
    expect(applyRateBps(900_000, 3000)).toBe(270_000);
    expect(applyRateBps(5, 1000)).toBe(0); // 0.5 → 0 (even)
    expect(applyRateBps(15, 1000)).toBe(2); // 1.5 → 2 (even)
    expect(applyRateBps(25, 1000)).toBe(2); // 2.5 → 2
    expect(applyRateBps(26, 1000)).toBe(3);
  });
});
