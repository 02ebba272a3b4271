import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { DomainError } from "../../app/domain/shared/errors";
import { ensureAccount, transfer } from "../../app/domain/ledger/ledger.server";
import { cancelOrder } from "../../app/domain/orders/cancel.server";
import { dealerTradeHistory } from "../../app/domain/orders/history.server";
import { payFromWallet, payOnAccount, repayOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { proposeLimit } from "../../app/domain/financing/scorecard.server";
import { scoreDealer } from "../../app/domain/financing/scorecard";
import { Scorecard } from "../../app/components/financing-scorecard";
import { LocaleProvider } from "../../app/i18n/react";
import { addDays, shanghaiDate } from "../../app/domain/shared/dates";
import { ENGINES, actorOf, makeLink, makeSku, newOrg, newUser } from "./catalog.fixtures";

/**
 * The scorecard's features read from a dealer's trade history with one core enterprise, and the
 * limit it proposes. Orders are stamped with the real clock and repayments land in the ledger
 * now (the ledger is append-only), so the history is placed in time around the real today: on-
 * account charges take a `now` that sets their due date (30 days' terms), and the order's or
 * link's created_at is moved with SQL where the story needs it. Reading the same history as of a
 * later day (the `today` argument) shows orders falling due and the volume window moving.
 */

const DAY_MS = 24 * 3600 * 1000;
const TODAY = shanghaiDate(new Date());
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);
/** Noon, Shanghai time, on the business day `days` days before today. */
const noonDaysAgo = (days: number) => `${addDays(TODAY, -days)}T12:00:00+08:00`;

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
}

/** A supplier selling fridges at ¥3,000 (300,000 fen), and its orders for a dealer. */
async function supplier(db: Db) {
  const core = await newOrg(db, "core_enterprise");
  const fridge = await makeSku(db, core, { basePriceFen: 300_000, stockOnHand: 1_000 });
  const asCore = actorOf(core, await newUser(db));
  /** Link a dealer (a new one unless given), 30 days' terms, ¥200,000 credit. */
  async function link(dealerId?: string) {
    const l = await makeLink(db, core, { creditLimitFen: 20_000_000, dealerId });
    return { linkId: l.id, id: l.dealerId, actor: actorOf(l.dealerId, await newUser(db)) };
  }
  async function confirmed(d: { id: string; actor: Actor }, units: number) {
    const order = await createOrder(db, d.actor, { dealerId: d.id, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: fridge.id, quantity: units }] }, new Date());
    await confirmOrder(db, asCore, order.id, new Date());
    return order;
  }
  /** Put on account `paidDaysAgo` days ago: due 30 days after that. */
  async function onAccount(d: { id: string; actor: Actor }, units: number, paidDaysAgo: number) {
    const order = await confirmed(d, units);
    return payOnAccount(db, d.actor, order.id, daysAgo(paidDaysAgo));
  }
  async function walletPaid(d: { id: string; actor: Actor }, units: number) {
    const order = await confirmed(d, units);
    return payFromWallet(db, d.actor, order.id, new Date());
  }
  return { core, asCore, link, confirmed, onAccount, walletPaid };
}

for (const [engine, open] of ENGINES) {
  describe(`dealer scorecard from trade history on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("reads volume, on-time repayment, longest overdue and tenure from a hand-made history, and scores it", async () => {
      const { db } = handle;
      const s = await supplier(db);
      const d = await s.link();
      await fundWallet(db, d.id, 10_000_000);
      // Linked 430 days ago: 14 whole months (14 months are at most 428 days, 15 at least 454).
      await sql`update dealer_links set created_at = ${noonDaysAgo(430)}::timestamptz where id = ${d.linkId}`.execute(db);

      // On account, due 10 days ago, repaid today: 10 days late.
      const late = await s.onAccount(d, 1, 40);
      expect(late.due_on).toBe(addDays(TODAY, -10));
      await repayOnAccount(db, d.actor, late.id);
      // Due today, repaid today: on time.
      const onTime = await s.onAccount(d, 2, 30);
      expect(onTime.due_on).toBe(TODAY);
      await repayOnAccount(db, d.actor, onTime.id);
      // Due 20 days ago and still owed: 20 days overdue today.
      await s.onAccount(d, 3, 50);
      // Due in 25 days: not yet part of the repayment record.
      await s.onAccount(d, 4, 5);
      // Due in 10 days, repaid today: early, counted once it falls due.
      const early = await s.onAccount(d, 5, 20);
      await repayOnAccount(db, d.actor, early.id);
      // Paid from the wallet.
      await s.walletPaid(d, 10);
      // Placed 364 days ago: inside the 365-day window today, outside it ten days later.
      const edge = await s.walletPaid(d, 1);
      await sql`update orders set created_at = ${noonDaysAgo(364)}::timestamptz where id = ${edge.id}`.execute(db);
      // Placed 365 days ago: outside the window.
      const old = await s.walletPaid(d, 7);
      await sql`update orders set created_at = ${noonDaysAgo(365)}::timestamptz where id = ${old.id}`.execute(db);
      // Confirmed but never paid: no volume.
      await s.confirmed(d, 6);
      // On account 60 days ago (due 30 days ago), then cancelled: neither volume nor a late repayment.
      const cancelled = await s.onAccount(d, 8, 60);
      await cancelOrder(db, s.asCore, cancelled.id, "客户要求取消", new Date());

      // Volume: 1 + 2 + 3 + 4 + 5 + 10 + 1 = 26 fridges = 7,800,000 fen.
      // Fallen due: late, onTime, the owed one (3); on time: onTime (1). Longest: 20 days.
      expect(await dealerTradeHistory(db, { coreEnterpriseId: s.core, dealerId: d.id }, TODAY)).toEqual({
        orderVolume12mFen: 7_800_000,
        onAccountOrders: 3,
        onAccountRepaidOnTime: 1,
        longestOverdueDays: 20,
        tenureMonths: 14,
      });

      // 1 of 3 on time = 3,333 bps (rounded down).
      // Volume 7,800,000 → 20 points × 35% = 7.00; ratio 3,333 → 0 × 30% = 0; 20 days → 50 × 20% = 10.00;
      // 14 months → 60 × 15% = 9.00. Score 26.00. Limit 7,800,000 × 25% × 26% = 507,000 → 500,000.
      const proposal = await proposeLimit(db, { coreEnterpriseId: s.core, dealerId: d.id }, new Date());
      expect(proposal.asOf).toBe(TODAY);
      expect(proposal.features).toEqual({ orderVolume12mFen: 7_800_000, onTimeRepaymentRatioBps: 3_333, onAccountOrders: 3, longestOverdueDays: 20, tenureMonths: 14 });
      expect(proposal.result.rows.map((r) => [r.feature, r.value, r.points, r.weightBps, r.contribution])).toEqual([
        ["orderVolume12mFen", 7_800_000, 20, 3_500, 700],
        ["onTimeRepaymentRatioBps", 3_333, 0, 3_000, 0],
        ["longestOverdueDays", 20, 50, 2_000, 1_000],
        ["tenureMonths", 14, 60, 1_500, 900],
      ]);
      expect(proposal.result.scoreHundredths).toBe(2_600);
      expect(proposal.result.proposedLimitFen).toBe(500_000);

      // Ten days on: the early order has fallen due (repaid before it: on time), the owed one is
      // 30 days overdue, the 364-day-old order has left the window, the 4-fridge one is not due yet.
      // Volume 7,500,000; 2 of 4 on time = 5,000 bps → 0 points; 30 days → 50; 440 days → 14 months.
      const later = await proposeLimit(db, { coreEnterpriseId: s.core, dealerId: d.id }, new Date(Date.now() + 10 * DAY_MS));
      expect(later.asOf).toBe(addDays(TODAY, 10));
      expect(later.features).toEqual({ orderVolume12mFen: 7_500_000, onTimeRepaymentRatioBps: 5_000, onAccountOrders: 4, longestOverdueDays: 30, tenureMonths: 14 });
      // Score 26.00 again; 7,500,000 × 25% × 26% = 487,500 → 400,000.
      expect(later.result.scoreHundredths).toBe(2_600);
      expect(later.result.proposedLimitFen).toBe(400_000);
    });

    it("gives a dealer with no history zeros, a neutral repayment score and no limit", async () => {
      const { db } = handle;
      const s = await supplier(db);
      const d = await s.link();
      expect(await dealerTradeHistory(db, { coreEnterpriseId: s.core, dealerId: d.id }, TODAY)).toEqual({
        orderVolume12mFen: 0,
        onAccountOrders: 0,
        onAccountRepaidOnTime: 0,
        longestOverdueDays: 0,
        tenureMonths: 0,
      });
      // 0 → 0 points; no on-account history → shown as 5,000 bps, 50 × 30% = 15.00; never overdue →
      // 100 × 20% = 20.00; 0 months → 0. Score 35.00, but nothing bought: limit 0.
      const proposal = await proposeLimit(db, { coreEnterpriseId: s.core, dealerId: d.id }, new Date());
      expect(proposal.result.rows.map((r) => [r.feature, r.value, r.points, r.contribution])).toEqual([
        ["orderVolume12mFen", 0, 0, 0],
        ["onTimeRepaymentRatioBps", 5_000, 50, 1_500],
        ["longestOverdueDays", 0, 100, 2_000],
        ["tenureMonths", 0, 0, 0],
      ]);
      expect(proposal.result.scoreHundredths).toBe(3_500);
      expect(proposal.result.proposedLimitFen).toBe(0);
    });

    it("reads only the asked core enterprise's orders and link, for a dealer of two core enterprises", async () => {
      const { db } = handle;
      const s = await supplier(db);
      const other = await supplier(db);
      const d = await s.link();
      // The same dealer, linked to another supplier two years earlier, buys more there and is
      // long overdue: none of it belongs to its history with the first supplier.
      const there = await other.link(d.id);
      await sql`update dealer_links set created_at = ${noonDaysAgo(800)}::timestamptz where id = ${there.linkId}`.execute(db);
      await fundWallet(db, d.id, 10_000_000);
      await s.walletPaid(d, 2);
      await other.walletPaid(there, 20);
      await other.onAccount(there, 3, 150); // due 120 days ago, still owed

      expect(await dealerTradeHistory(db, { coreEnterpriseId: s.core, dealerId: d.id }, TODAY)).toEqual({
        orderVolume12mFen: 600_000,
        onAccountOrders: 0,
        onAccountRepaidOnTime: 0,
        longestOverdueDays: 0,
        tenureMonths: 0,
      });
      // 800 days: 26 whole months (26 months are at most 793 days, 27 at least 819).
      expect(await dealerTradeHistory(db, { coreEnterpriseId: other.core, dealerId: d.id }, TODAY)).toEqual({
        orderVolume12mFen: 6_900_000,
        onAccountOrders: 1,
        onAccountRepaidOnTime: 0,
        longestOverdueDays: 120,
        tenureMonths: 26,
      });
      // Over 90 days overdue with the other supplier: it proposes nothing there, whatever the score.
      expect((await proposeLimit(db, { coreEnterpriseId: other.core, dealerId: d.id }, new Date())).result.proposedLimitFen).toBe(0);
      // A dealer the supplier has no link with, and ids that are not ids: no history.
      const stranger = await other.link();
      await fundWallet(db, stranger.id, 300_000);
      await other.walletPaid(stranger, 1);
      for (const dealerId of [stranger.id, "not-a-uuid"]) {
        expect(await dealerTradeHistory(db, { coreEnterpriseId: s.core, dealerId }, TODAY)).toEqual({
          orderVolume12mFen: 0,
          onAccountOrders: 0,
          onAccountRepaidOnTime: 0,
          longestOverdueDays: 0,
          tenureMonths: 0,
        });
      }
    });

    it("refuses a today that is not a date", async () => {
      const { db } = handle;
      const s = await supplier(db);
      const d = await s.link();
      for (const today of ["", "2026-02-30", "2026-03-01'; --"]) {
        await expect(dealerTradeHistory(db, { coreEnterpriseId: s.core, dealerId: d.id }, today)).rejects.toBeInstanceOf(DomainError);
      }
    });
  });
}

describe("the scorecard as the officer sees it", () => {
  it("shows each feature's value, band, points, weight and contribution, the score and the proposed limit", () => {
    const features = { orderVolume12mFen: 7_800_000, onTimeRepaymentRatioBps: 3_333, onAccountOrders: 3, longestOverdueDays: 20, tenureMonths: 14 };
    const data = { asOf: "2026-12-07", features, result: scoreDealer(features) };
    const html = renderToStaticMarkup(createElement(LocaleProvider, { locale: "en", children: createElement(Scorecard, { data }) }));
    const text = html.replace(/<[^>]+>/g, "|").replace(/\|+/g, "|");
    expect(text).toContain("|Order volume, last 12 months|¥78,000.00|¥0.01 – ¥99,999.99|20|35%|7.00|");
    expect(text).toContain("|On-account orders repaid on time|33.33%|3 on-account orders fallen due|0% – 79.99%|0|30%|0.00|");
    expect(text).toContain("|Longest overdue|20 days|8 days – 30 days|50|20%|10.00|");
    expect(text).toContain("|Tenure with the core enterprise|14 months|12 months – 23 months|60|15%|9.00|");
    expect(text).toContain("|Score|26.00 / 100|");
    expect(text).toContain("|Proposed limit|");
    expect(html).toContain('data-fen="500000">¥5,000.00<');
    expect(html).not.toContain("scorecard-refused");

    // No on-account history: the neutral score is said, with no band; over 90 days overdue: refused.
    const none = { ...features, onAccountOrders: 0, onTimeRepaymentRatioBps: 0, longestOverdueDays: 91 };
    const zh = renderToStaticMarkup(createElement(LocaleProvider, { locale: "zh-CN", children: createElement(Scorecard, { data: { ...data, features: none, result: scoreDealer(none) } }) }));
    expect(zh).toContain("无赊销记录，按中性 50 分计");
    expect(zh).toContain("91 天 及以上");
    expect(zh).toContain("曾逾期超过 90 天：不建议授信");
  });
});
