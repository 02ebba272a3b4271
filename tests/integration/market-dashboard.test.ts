import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db";
import type { MarketOrderStatus } from "../../db/schema";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { isDomainError } from "../../app/domain/shared/errors";
import { ensureAccount, postPending, transfer, verifyLedger, voidPending, type AccountView } from "../../app/domain/ledger/ledger.server";
import { marketDashboard, marketFeesAccountCode, resolveDashboardRange, type DashboardRange } from "../../app/domain/market/dashboard.server";
import { createMarket } from "../../app/domain/market/venues.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";
import { divideHalfEvenFen } from "../../app/domain/shared/money";

/**
 * The market operator's dashboard, figure by figure, over orders built directly in the tables (a
 * small factory below, with real ledger holds), so it does not wait for the escrow model: GMV and
 * its definition, counts, escrow held from the ledger's unresolved holds only, fees, refunds,
 * disputes, the top lists' order and cut, zero days in the series, the range's edges at Shanghai
 * midnight, another operator's market, and refusals naming the field — in the model, the page and
 * the API.
 */

// ---------------------------------------------------------------------------------------------
// Factory: a market with merchants, a buyer with money, and orders in any state.

interface MarketWorld {
  operatorId: string;
  marketId: string;
}

interface Parties {
  buyerId: string;
  buyerWallet: AccountView;
  wallets: Map<string, AccountView>;
  listings: Map<string, string>;
}

let orderSeq = 0;

async function marketWithMerchants(db: Db, operatorId: string, name: string, merchantIds: string[]): Promise<MarketWorld> {
  const market = await createMarket(db, SYSTEM_ACTOR, operatorId, {
    name,
    city: "杭州",
    categories: "女装、男装、童装、配件、鞋帽、箱包",
    autoConfirmDays: "7",
    unpaidExpiryMinutes: "30",
  });
  for (const merchantId of merchantIds) {
    await db
      .insertInto("market_merchants")
      .values({ market_id: market.id, operator_id: operatorId, merchant_id: merchantId, categories: ["女装"] })
      .execute();
  }
  return { operatorId, marketId: market.id };
}

interface OrderSpec {
  merchantId: string;
  status: MarketOrderStatus;
  /** [category, unit price in fen, quantity] */
  lines: [string, number, number][];
  placedAt: string;
  paidAt?: string;
  settledAt?: string;
  closedAt?: string;
  /** What happened to the ledger hold (paid orders only). */
  hold?: "pending" | "posted" | "voided";
  /** Posted amount when less than the hold (a partial refund). */
  postedFen?: number;
  refundedFen?: number;
  settledFeeFen?: number;
  dispute?: { openedAt: string; ruledAt?: string; ruling?: "release" | "refund_full" | "refund_partial"; refundFen?: number };
}

async function placeOrder(db: Db, world: MarketWorld, parties: Parties, feeAccount: AccountView | null, spec: OrderSpec): Promise<{ id: string; goodsFen: number }> {
  orderSeq += 1;
  const orderNo = `MO-T-${Date.now()}-${orderSeq}`;
  const goodsFen = spec.lines.reduce((s, [, price, qty]) => s + price * qty, 0);
  const checkout = await db
    .insertInto("market_checkouts")
    .values({
      market_id: world.marketId,
      operator_id: world.operatorId,
      buyer_id: parties.buyerId,
      total_fen: goodsFen,
      status: spec.paidAt ? "paid" : spec.status === "expired" ? "expired" : "placed",
      idempotency_key: `checkout-${orderNo}`,
      expires_at: new Date(new Date(spec.placedAt).getTime() + 30 * 60_000),
    })
    .returning("id")
    .executeTakeFirstOrThrow();

  let holdId: string | null = null;
  const merchantWallet = parties.wallets.get(spec.merchantId);
  if (!merchantWallet) throw new Error("factory: merchant has no wallet");
  if (spec.hold) {
    const hold = await transfer(db, {
      idempotencyKey: `hold:${orderNo}`,
      kind: "market_escrow_hold",
      reference: `market_order:${orderNo}`,
      debitAccountId: parties.buyerWallet.id,
      creditAccountId: merchantWallet.id,
      amountFen: goodsFen,
      pending: true,
    });
    holdId = hold.transfer.id;
    if (spec.hold === "posted") await postPending(db, { idempotencyKey: `post:${orderNo}`, pendingId: holdId, amountFen: spec.postedFen });
    if (spec.hold === "voided") await voidPending(db, { idempotencyKey: `void:${orderNo}`, pendingId: holdId });
  }
  const settledFeeFen = spec.settledFeeFen ?? 0;
  if (settledFeeFen > 0) {
    if (!feeAccount) throw new Error("factory: no fee account");
    await transfer(db, {
      idempotencyKey: `fee:${orderNo}`,
      kind: "market_commission",
      reference: `market_order:${orderNo}`,
      debitAccountId: merchantWallet.id,
      creditAccountId: feeAccount.id,
      amountFen: settledFeeFen,
    });
  }
  const refundedFen = spec.refundedFen ?? 0;
  const final = spec.status === "settled" || spec.status === "refunded";
  const order = await db
    .insertInto("market_orders")
    .values({
      order_no: orderNo,
      market_id: world.marketId,
      operator_id: world.operatorId,
      checkout_id: checkout.id,
      buyer_id: parties.buyerId,
      merchant_id: spec.merchantId,
      status: spec.status,
      goods_total_fen: goodsFen,
      fee_fen: settledFeeFen,
      refunded_fen: refundedFen,
      settled_fee_fen: settledFeeFen,
      settled_net_fen: final ? goodsFen - refundedFen - settledFeeFen : 0,
      hold_transfer_id: holdId,
      placed_at: new Date(spec.placedAt),
      paid_at: spec.paidAt ? new Date(spec.paidAt) : null,
      settled_at: spec.settledAt ? new Date(spec.settledAt) : null,
      closed_at: spec.closedAt ? new Date(spec.closedAt) : null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  let lineNo = 0;
  for (const [category, unitPriceFen, quantity] of spec.lines) {
    lineNo += 1;
    await db
      .insertInto("market_order_lines")
      .values({
        order_id: order.id,
        listing_id: await listingFor(db, world, parties, spec.merchantId, category),
        line_no: lineNo,
        title: `${category} 货品`,
        category,
        spec: "",
        unit: "件",
        unit_price_fen: unitPriceFen,
        quantity,
        amount_fen: unitPriceFen * quantity,
        commission_rate_bps: 250,
        min_fee_fen: 0,
      })
      .execute();
  }
  if (spec.dispute) {
    const ruled = spec.dispute.ruledAt !== undefined;
    await db
      .insertInto("market_disputes")
      .values({
        order_id: order.id,
        market_id: world.marketId,
        operator_id: world.operatorId,
        buyer_id: parties.buyerId,
        merchant_id: spec.merchantId,
        opened_from_status: "shipped",
        status: ruled ? "ruled" : "open",
        ruling: ruled ? (spec.dispute.ruling ?? "release") : null,
        refund_fen: spec.dispute.refundFen ?? 0,
        ruling_reason: ruled ? "按证据裁决" : "",
        ruled_at: ruled ? new Date(spec.dispute.ruledAt!) : null,
        opened_at: new Date(spec.dispute.openedAt),
      })
      .execute();
  }
  return { id: order.id, goodsFen };
}

async function listingFor(db: Db, world: MarketWorld, parties: Parties, merchantId: string, category: string): Promise<string> {
  const key = `${world.marketId}:${merchantId}:${category}`;
  const known = parties.listings.get(key);
  if (known) return known;
  const row = await db
    .insertInto("market_listings")
    .values({
      market_id: world.marketId,
      operator_id: world.operatorId,
      merchant_id: merchantId,
      title: `${category} 货品`,
      category,
      unit: "件",
      price_fen: 1_000,
      stock_qty: 1_000,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  parties.listings.set(key, row.id);
  return row.id;
}

// ---------------------------------------------------------------------------------------------

const RANGE: DashboardRange = { from: "2025-03-01", to: "2025-03-07" };

describe("market dashboard", () => {
  let t: TestDatabase;
  const w = {} as {
    operatorId: string;
    market: MarketWorld;
    otherMarket: MarketWorld;
    strangerOperatorId: string;
    strangerMarket: MarketWorld;
    emptyMarket: MarketWorld;
    merchantA: string;
    merchantB: string;
    merchantC: string;
    ownerEmail: string;
    strangerEmail: string;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const db = t.db;
    const operator = await createOrg(db, { kind: "market_operator", name: "四季青市场管理有限公司" });
    const stranger = await createOrg(db, { kind: "market_operator", name: "陌生市场方" });
    const buyer = await createOrg(db, { kind: "buyer", name: "温州采购商" });
    const merchantA = await createOrg(db, { kind: "merchant", name: "A 李记服饰" });
    const merchantB = await createOrg(db, { kind: "merchant", name: "B 小蜜蜂童装" });
    const merchantC = await createOrg(db, { kind: "merchant", name: "C 步步高鞋包" });
    w.operatorId = operator.id;
    w.strangerOperatorId = stranger.id;
    w.merchantA = merchantA.id;
    w.merchantB = merchantB.id;
    w.merchantC = merchantC.id;
    const all = [merchantA.id, merchantB.id, merchantC.id];
    w.market = await marketWithMerchants(db, operator.id, "四季青服装批发市场", all);
    w.otherMarket = await marketWithMerchants(db, operator.id, "四季青二号馆", all);
    w.emptyMarket = await marketWithMerchants(db, operator.id, "空的市场", [merchantA.id]);
    w.strangerMarket = await marketWithMerchants(db, stranger.id, "别家的市场", all);

    // Money: the buyer's wallet is topped up through gateway clearing, as an e-Pay payment would.
    const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: null });
    const buyerWallet = await ensureAccount(db, { kind: "wallet", organizationId: buyer.id });
    await transfer(db, { idempotencyKey: `topup:${randomUUID()}`, kind: "topup", reference: "test", debitAccountId: clearing.id, creditAccountId: buyerWallet.id, amountFen: 100_000_000 });
    const wallets = new Map<string, AccountView>();
    for (const id of all) wallets.set(id, await ensureAccount(db, { kind: "wallet", organizationId: id }));
    const parties: Parties = { buyerId: buyer.id, buyerWallet, wallets, listings: new Map() };
    const feeAccount = await ensureAccount(db, { kind: "market_fees", organizationId: operator.id, code: marketFeesAccountCode(w.market.marketId) });
    const otherFeeAccount = await ensureAccount(db, { kind: "market_fees", organizationId: operator.id, code: marketFeesAccountCode(w.otherMarket.marketId) });
    const strangerFeeAccount = await ensureAccount(db, { kind: "market_fees", organizationId: stranger.id, code: marketFeesAccountCode(w.strangerMarket.marketId) });

    const m = w.market;
    const A = merchantA.id;
    const B = merchantB.id;
    const C = merchantC.id;
    // o1: paid at 00:00:00 Shanghai on the first day (in), settled in the range with a fee.
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: A, status: "settled", lines: [["女装", 10_000, 2]],
      placedAt: "2025-02-28T23:50:00+08:00", paidAt: "2025-03-01T00:00:00+08:00", settledAt: "2025-03-03T10:00:00+08:00",
      hold: "posted", settledFeeFen: 500,
    });
    // o2: paid one millisecond before the range (out of GMV), settled inside it (its fee counts).
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: A, status: "settled", lines: [["男装", 12_000, 1]],
      placedAt: "2025-02-28T23:00:00+08:00", paidAt: "2025-02-28T23:59:59.999+08:00", settledAt: "2025-03-02T08:00:00+08:00",
      hold: "posted", settledFeeFen: 300,
    });
    // o3: paid in the last second of the range, still held.
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: B, status: "paid", lines: [["童装", 5_000, 3], ["配件", 1_500, 2]],
      placedAt: "2025-03-07T23:50:00+08:00", paidAt: "2025-03-07T23:59:59+08:00", hold: "pending",
    });
    // o4: paid at midnight after the range (out), shipped and held (escrow counts it: escrow is now).
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: B, status: "shipped", lines: [["配件", 8_000, 1]],
      placedAt: "2025-03-07T23:59:00+08:00", paidAt: "2025-03-08T00:00:00+08:00", hold: "pending",
    });
    // o5: paid on the 3rd, disputed on the 4th, still open and held.
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: C, status: "disputed", lines: [["鞋帽", 30_000, 1], ["女装", 10_000, 1]],
      placedAt: "2025-03-03T11:00:00+08:00", paidAt: "2025-03-03T12:00:00+08:00", hold: "pending",
      dispute: { openedAt: "2025-03-04T09:00:00+08:00" },
    });
    // o6: paid on the 3rd, refunded in full by a ruling on the 5th (hold voided).
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: C, status: "refunded", lines: [["箱包", 6_000, 1]],
      placedAt: "2025-03-03T14:00:00+08:00", paidAt: "2025-03-03T15:00:00+08:00", closedAt: "2025-03-05T10:00:00+08:00",
      hold: "voided", refundedFen: 6_000,
      dispute: { openedAt: "2025-03-04T10:00:00+08:00", ruledAt: "2025-03-05T10:00:00+08:00", ruling: "refund_full", refundFen: 6_000 },
    });
    // o7: paid at 00:30 Shanghai on the 5th (the 4th in UTC), partly refunded on the 6th, settled.
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: A, status: "settled", lines: [["女装", 10_000, 1]],
      placedAt: "2025-03-04T16:00:00Z", paidAt: "2025-03-04T16:30:00Z", settledAt: "2025-03-06T11:00:00+08:00",
      hold: "posted", postedFen: 8_000, refundedFen: 2_000, settledFeeFen: 200,
      dispute: { openedAt: "2025-03-05T09:00:00+08:00", ruledAt: "2025-03-06T11:00:00+08:00", ruling: "refund_partial", refundFen: 2_000 },
    });
    // o8: placed in the range, never paid (expired): in no figure.
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: B, status: "expired", lines: [["童装", 9_999, 1]], placedAt: "2025-03-02T10:00:00+08:00",
    });
    // o9: paid on the 2nd, cancelled by the merchant the same day (hold voided: a refund).
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: A, status: "cancelled", lines: [["童装", 5_000, 1], ["男装", 3_000, 1]],
      placedAt: "2025-03-02T08:00:00+08:00", paidAt: "2025-03-02T09:00:00+08:00", closedAt: "2025-03-02T18:00:00+08:00", hold: "voided",
      // As escrow/fulfilment.server.ts records a merchant's cancellation: the whole order back to the buyer.
      refundedFen: 8_000,
    });
    // o10: paid and settled in February: only the fee account's balance shows it.
    await placeOrder(db, m, parties, feeAccount, {
      merchantId: B, status: "settled", lines: [["男装", 7_000, 1]],
      placedAt: "2025-02-10T10:00:00+08:00", paidAt: "2025-02-10T10:05:00+08:00", settledAt: "2025-02-15T10:00:00+08:00",
      hold: "posted", settledFeeFen: 700,
    });

    // The same operator's other market, and another operator's market: big, in range, none counted.
    for (const other of [
      { world: w.otherMarket, fee: otherFeeAccount },
      { world: w.strangerMarket, fee: strangerFeeAccount },
    ]) {
      await placeOrder(db, other.world, parties, other.fee, {
        merchantId: A, status: "disputed", lines: [["女装", 99_999, 3]],
        placedAt: "2025-03-02T10:00:00+08:00", paidAt: "2025-03-02T10:01:00+08:00", hold: "pending",
        dispute: { openedAt: "2025-03-03T10:00:00+08:00" },
      });
      await placeOrder(db, other.world, parties, other.fee, {
        merchantId: C, status: "settled", lines: [["箱包", 77_777, 1]],
        placedAt: "2025-03-04T10:00:00+08:00", paidAt: "2025-03-04T10:01:00+08:00", settledAt: "2025-03-05T10:00:00+08:00",
        hold: "posted", settledFeeFen: 1_111,
      });
    }

    const owner = await createUser(db, { memberships: [[operator.id, "owner"]] });
    const strangerOwner = await createUser(db, { memberships: [[stranger.id, "owner"]] });
    w.ownerEmail = owner.email;
    w.strangerEmail = strangerOwner.email;
    expect(await verifyLedger(db)).toEqual([]);
  });

  afterAll(async () => {
    await t?.close();
  });

  describe("figures", () => {
    it("counts GMV, orders and the average over the orders paid in the range, whatever they became", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.market.marketId, RANGE, new Date());
      // o1 20000 + o3 18000 + o5 40000 + o6 6000 + o7 10000 + o9 8000 (o2, o4 outside; o8 never paid).
      expect(d.gmvFen).toBe(102_000);
      expect(d.orderCount).toBe(6);
      expect(d.averageOrderFen).toBe(17_000);
      // Less what went back: o6 refunded in full, o7 2000 of 10000, o9 cancelled after payment.
      expect(d.gmvNetFen).toBe(86_000);
      expect(d.range).toEqual({ from: "2025-03-01", to: "2025-03-07", days: 7 });
      expect(d.marketName).toBe("四季青服装批发市场");
    });

    it("reads escrow held from the ledger: only holds no post or void resolved, this market's only", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.market.marketId, RANGE, new Date());
      // o3 18000 + o4 8000 (paid after the range: escrow is now) + o5 40000; posted and voided holds are not held.
      expect(d.escrowHeldFen).toBe(66_000);
      expect(d.escrowHoldCount).toBe(3);
      // Any range gives the same "now" figure.
      const other = await marketDashboard(t.db, w.operatorId, w.market.marketId, { from: "2024-01-01", to: "2024-01-01" }, new Date());
      expect(other.escrowHeldFen).toBe(66_000);
      expect(other.gmvFen).toBe(0);
    });

    it("takes fees from the orders settled in the range, and the fee account's balance as it stands", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.market.marketId, RANGE, new Date());
      // o1 500 + o2 300 (paid before, settled inside) + o7 200; o10's 700 was settled in February.
      expect(d.feesEarnedFen).toBe(1_000);
      expect(d.settledOrderCount).toBe(3);
      expect(d.feeAccountBalanceFen).toBe(1_700);
      const empty = await marketDashboard(t.db, w.operatorId, w.emptyMarket.marketId, RANGE, new Date());
      expect(empty.feeAccountBalanceFen).toBeNull();
    });

    it("counts disputes open now and opened in the range, and refunds by ruling or cancellation after payment", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.market.marketId, RANGE, new Date());
      expect(d.disputesOpenCount).toBe(1);
      expect(d.disputesOpenedCount).toBe(3);
      // o6 6000 (refund_full on the 5th) + o7 2000 (refund_partial on the 6th) + o9 8000 (cancelled on the 2nd).
      expect(d.refundsFen).toBe(16_000);
      expect(d.refundCount).toBe(3);
    });

    it("ranks merchants and categories by GMV, at most five, ties by name", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.market.marketId, RANGE, new Date());
      expect(d.topMerchants).toEqual([
        { merchantId: w.merchantC, name: "C 步步高鞋包", gmvFen: 46_000, orderCount: 2 },
        { merchantId: w.merchantA, name: "A 李记服饰", gmvFen: 38_000, orderCount: 3 },
        { merchantId: w.merchantB, name: "B 小蜜蜂童装", gmvFen: 18_000, orderCount: 1 },
      ]);
      // 男装 and 配件 tie at 3000: 男 (U+7537) sorts before 配 (U+914D), so 配件 is the sixth, cut.
      expect(d.topCategories).toEqual([
        { category: "女装", gmvFen: 40_000, orderCount: 3 },
        { category: "鞋帽", gmvFen: 30_000, orderCount: 1 },
        { category: "童装", gmvFen: 20_000, orderCount: 2 },
        { category: "箱包", gmvFen: 6_000, orderCount: 1 },
        { category: "男装", gmvFen: 3_000, orderCount: 1 },
      ]);
    });

    it("gives one point per Shanghai day, zeros included", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.market.marketId, RANGE, new Date());
      expect(d.series).toEqual([
        { day: "2025-03-01", gmvFen: 20_000, orderCount: 1 },
        { day: "2025-03-02", gmvFen: 8_000, orderCount: 1 },
        { day: "2025-03-03", gmvFen: 46_000, orderCount: 2 },
        { day: "2025-03-04", gmvFen: 0, orderCount: 0 },
        // o7 was paid at 16:30 UTC on the 4th: the 5th in Shanghai.
        { day: "2025-03-05", gmvFen: 10_000, orderCount: 1 },
        { day: "2025-03-06", gmvFen: 0, orderCount: 0 },
        { day: "2025-03-07", gmvFen: 18_000, orderCount: 1 },
      ]);
    });

    it("cuts days at Shanghai midnight on both edges", async () => {
      const first = await marketDashboard(t.db, w.operatorId, w.market.marketId, { from: "2025-03-01", to: "2025-03-01" }, new Date());
      expect([first.gmvFen, first.orderCount]).toEqual([20_000, 1]);
      const before = await marketDashboard(t.db, w.operatorId, w.market.marketId, { from: "2025-02-28", to: "2025-02-28" }, new Date());
      expect([before.gmvFen, before.orderCount]).toEqual([12_000, 1]);
      const last = await marketDashboard(t.db, w.operatorId, w.market.marketId, { from: "2025-03-07", to: "2025-03-07" }, new Date());
      expect([last.gmvFen, last.orderCount]).toEqual([18_000, 1]);
      const after = await marketDashboard(t.db, w.operatorId, w.market.marketId, { from: "2025-03-08", to: "2025-03-08" }, new Date());
      expect([after.gmvFen, after.orderCount, after.topCategories]).toEqual([8_000, 1, [{ category: "配件", gmvFen: 8_000, orderCount: 1 }]]);
    });

    it("shows an empty market as zeros, a full year of days", async () => {
      const d = await marketDashboard(t.db, w.operatorId, w.emptyMarket.marketId, { from: "2024-01-01", to: "2024-12-31" }, new Date());
      expect(d.range.days).toBe(366);
      expect(d.series).toHaveLength(366);
      expect(d.series.every((p) => p.gmvFen === 0 && p.orderCount === 0)).toBe(true);
      expect([d.gmvFen, d.orderCount, d.averageOrderFen, d.escrowHeldFen, d.feesEarnedFen, d.refundsFen, d.disputesOpenCount]).toEqual([0, 0, 0, 0, 0, 0, 0]);
      expect([d.topMerchants, d.topCategories]).toEqual([[], []]);
    });
  });

  describe("scope and refusals", () => {
    it("answers not_found for another operator's market and for ids that are not markets", async () => {
      for (const marketId of [w.strangerMarket.marketId, randomUUID(), "not-a-uuid"]) {
        const error = await marketDashboard(t.db, w.operatorId, marketId, RANGE, new Date()).catch((e: unknown) => e);
        expect(isDomainError(error) && error.code).toBe("not_found");
      }
    });

    it("refuses a bad range naming the field", async () => {
      const refusal = async (range: DashboardRange) => {
        const error = await marketDashboard(t.db, w.operatorId, w.market.marketId, range, new Date()).catch((e: unknown) => e);
        if (!isDomainError(error)) throw new Error(`expected a refusal, got ${String(error)}`);
        return [error.code, error.fields];
      };
      expect(await refusal({ from: "2025-02-30", to: "2025-03-01" })).toEqual(["validation", { from: "date_format" }]);
      expect(await refusal({ from: "2025-03-01", to: "3/7/2025" })).toEqual(["validation", { to: "date_format" }]);
      expect(await refusal({ from: "2025-03-07", to: "2025-03-01" })).toEqual(["validation", { to: "date_order" }]);
      expect(await refusal({ from: "2024-01-01", to: "2025-01-01" })).toEqual(["validation", { to: "range_too_long" }]);
      expect(await refusal({ from: "", to: "2025-01-01" })).toEqual(["validation", { from: "required" }]);
    });

    it("fills a missing range with the 30 days ending today (Shanghai)", () => {
      const now = new Date("2025-03-31T16:30:00Z"); // 00:30 on 1 April in Shanghai
      expect(resolveDashboardRange({}, now)).toEqual({ from: "2025-03-03", to: "2025-04-01" });
      expect(resolveDashboardRange({ to: "2025-03-07" }, now)).toEqual({ from: "2025-02-06", to: "2025-03-07" });
      expect(resolveDashboardRange({ from: "2025-03-01", to: "2025-03-07" }, now)).toEqual(RANGE);
      expect(() => resolveDashboardRange({ from: "yesterday" }, now)).toThrow(/from date_format/);
    });

    it("rounds the average half to even, in whole fen", () => {
      expect([divideHalfEvenFen(5, 2), divideHalfEvenFen(7, 2), divideHalfEvenFen(10, 4), divideHalfEvenFen(11, 4), divideHalfEvenFen(9, 4)]).toEqual([2, 4, 2, 3, 2]);
      expect(divideHalfEvenFen(Number.MAX_SAFE_INTEGER, 1)).toBe(Number.MAX_SAFE_INTEGER);
    });
  });

  describe("over HTTP", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(t.db);
    });
    afterAll(async () => {
      await server?.close();
    });

    async function signedIn(email: string): Promise<Client> {
      const client = new Client(server.url);
      expect((await client.login(email, TEST_PASSWORD)).status).toBe(302);
      return client;
    }

    it("renders the figures, the charts and the tables without JavaScript", async () => {
      const owner = await signedIn(w.ownerEmail);
      const page = await owner.get(`/markets/${w.market.marketId}/dashboard?from=2025-03-01&to=2025-03-07`);
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/data-testid="figure-gmv"[\s\S]*?¥1,020\.00/);
      expect(page.body).toContain("扣除退款后 ¥860.00");
      expect(page.body).toMatch(/data-testid="figure-escrow"[\s\S]*?¥660\.00/);
      expect(page.body).toMatch(/data-testid="figure-aov"[\s\S]*?¥170\.00/);
      expect(page.body).toContain("佣金账户余额 ¥17.00");
      // The chart: 7 bars with their figures in titles, and the same numbers in a table.
      expect(page.body).toMatch(/<svg[^>]*data-testid="daily-chart"/);
      expect(page.body.match(/class="md-bar"/g)).toHaveLength(7);
      expect(page.body).toContain("2025-03-04: ¥0.00, 0 笔");
      expect(page.body).toMatch(/data-testid="daily-table"[\s\S]*2025-03-05[\s\S]*?¥100\.00/);
      expect(page.body).toMatch(/data-testid="top-merchants-table"[\s\S]*C 步步高鞋包[\s\S]*A 李记服饰[\s\S]*B 小蜜蜂童装/);
      expect(page.body).not.toContain("配件</th>");
    });

    it("defaults to the last 30 days, and answers a bad range with 400 naming the field", async () => {
      const owner = await signedIn(w.ownerEmail);
      const plain = await owner.get(`/markets/${w.market.marketId}/dashboard`);
      expect(plain.status).toBe(200);
      expect(plain.body.match(/class="md-bar"/g)).toHaveLength(30);
      expect(plain.body).toContain('aria-current="true"');
      const bad = await owner.get(`/markets/${w.market.marketId}/dashboard?from=2025-03-09&to=2025-03-01`);
      expect(bad.status).toBe(400);
      expect(bad.body).toMatch(/id="range-to-error"[^>]*>结束日期不能早于开始日期/);
      expect(bad.body).toContain('value="2025-03-09"');
      expect(bad.body).not.toContain('data-testid="daily-chart"');
      const long = await owner.get(`/markets/${w.market.marketId}/dashboard?from=2020-01-01&to=2025-03-01`);
      expect(long.status).toBe(400);
      expect(long.body).toContain("统计区间最长 366 天");
      const garbage = await owner.get(`/markets/${w.market.marketId}/dashboard?from=%3Cscript%3E`);
      expect(garbage.status).toBe(400);
      expect(garbage.body).toMatch(/id="range-from-error"/);
    });

    it("is a 404 for another operator's market, and for other kinds of organisation", async () => {
      const stranger = await signedIn(w.strangerEmail);
      expect((await stranger.get(`/markets/${w.market.marketId}/dashboard`)).status).toBe(404);
      expect((await stranger.get(`/markets/${w.strangerMarket.marketId}/dashboard`)).status).toBe(200);
      const buyerOrg = await createOrg(t.db, { kind: "buyer" });
      const buyer = await createUser(t.db, { memberships: [[buyerOrg.id, "owner"]] });
      const buyerClient = await signedIn(buyer.email);
      expect((await buyerClient.get(`/markets/${w.market.marketId}/dashboard`)).status).toBe(404);
    });

    it("serves the same figures over the API, 422 naming the field, 404 for another operator", async () => {
      const api: ApiClient = await apiLogin(server.url, w.ownerEmail, TEST_PASSWORD);
      const res = await api.get<Record<string, unknown>>(`/api/v1/markets/${w.market.marketId}/dashboard?from=2025-03-01&to=2025-03-07`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        from: "2025-03-01",
        to: "2025-03-07",
        days: 7,
        gmv_fen: 102_000,
        gmv_net_fen: 86_000,
        order_count: 6,
        average_order_fen: 17_000,
        escrow_held_fen: 66_000,
        escrow_hold_count: 3,
        fees_earned_fen: 1_000,
        fee_account_balance_fen: 1_700,
        disputes_open_count: 1,
        disputes_opened_count: 3,
        refunds_fen: 16_000,
        refund_count: 3,
      });
      expect((res.body.top_merchants as { merchant_id: string }[]).map((m) => m.merchant_id)).toEqual([w.merchantC, w.merchantA, w.merchantB]);
      expect((res.body.series as unknown[]).length).toBe(7);
      const bad = await api.get(`/api/v1/markets/${w.market.marketId}/dashboard?from=2025-13-01`);
      expect(expectError(bad, 422, "validation").fields).toEqual({ from: "date_format" });
      expectError(await api.get(`/api/v1/markets/${w.strangerMarket.marketId}/dashboard`), 404, "not_found");
      expectError(await api.get(`/api/v1/markets/not-a-market/dashboard`), 404, "not_found");
    });
  });
});
