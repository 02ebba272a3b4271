import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents } from "../../app/domain/shared/audit.server";
import { DomainError } from "../../app/domain/shared/errors";
import { cancelPaidMarketOrder, receiveMarketOrder, shipMarketOrder } from "../../app/domain/market/escrow/fulfilment.server";
import { settleReceivedOrders } from "../../app/domain/market/escrow/settlement.server";
import { openDispute, ruleDispute } from "../../app/domain/market/escrow/disputes.server";
import { getMarketOrder } from "../../app/domain/market/escrow/queries.server";
import { ensureAccount, transfer } from "../../app/domain/ledger/ledger.server";
import { countUnreadNotifications, deliverNotification, listNotifications } from "../../app/domain/notifications/notifications.server";
import { receiveOrder, shipOrder } from "../../app/domain/orders/fulfilment.server";
import { payFromWallet } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { decideReturn, receiveReturnedGoods, refundReturn, requestReturn } from "../../app/domain/orders/returns.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createSeason, releaseSeason } from "../../app/domain/orders/seasons.server";
import type { Db } from "../../db";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";
import { actorOf, makeLink, makeSku, newOrg, runOrderNotices } from "./catalog.fixtures";
import { createTradeWorld, paidOrder, type TradeWorld } from "./market-orders.fixtures";
import { actorFor } from "./market-trade.fixtures";

/**
 * Notices where one party waits on the other, and the inbox that shows them: each notice is made
 * once for the right organisation however often its step runs, links to its subject, counts as
 * unread until opened or marked read, and is nobody else's business (another organisation's
 * notice is a 404). Also the activity feed without its machinery, and the dispute page's timer
 * and ruling confirmation, through the real Express + Remix stack without JavaScript.
 */

async function requestsFor(db: Db, topic: string, subjectId: string) {
  return db
    .selectFrom("notification_requests")
    .select(["organization_id", "topic", "params", "dedupe_key"])
    .where("topic", "=", topic as never)
    .where(sql<boolean>`params->>'orderId' = ${subjectId}`)
    .execute();
}

/** Run the deliver step of every request not yet delivered (as the notifications workflow would). */
async function deliverAll(db: Db): Promise<void> {
  const pending = await db.selectFrom("notification_requests").select("id").where("status", "=", "pending").execute();
  for (const r of pending) await deliverNotification(db, r.id);
}

async function refusalCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

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

describe("notices and activity", () => {
  let t: TestDatabase;
  let db: Db;
  let server: TestServer;
  let world: TradeWorld;

  beforeAll(async () => {
    t = await createTestDatabase();
    db = t.db;
    world = await createTradeWorld(db);
    server = await startTestServer(db);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function signedIn(user: { email: string; password: string }): Promise<Client> {
    const client = new Client(server.url);
    expect((await client.login(user.email, user.password)).status, "login").toBe(302);
    return client;
  }

  const merchant = () => world.w.merchants[0];

  describe("the buyer of a market order", () => {
    it("hears once when the merchant ships it, and once when escrow settles it", async () => {
      const orderId = await paidOrder(db, world, world.dress.id, 1);
      const m = merchant();
      const ship = () => shipMarketOrder(db, actorFor(m.id, m.user.id), m.id, orderId, { carrier: "顺丰速运", trackingNo: "SF1001" }, new Date());
      await ship();
      expect(await refusalCode(ship())).toBe("invalid_state");
      const shipped = await requestsFor(db, "market_order.shipped", orderId);
      expect(shipped).toHaveLength(1);
      expect(shipped[0]).toMatchObject({ organization_id: world.buyer.id, dedupe_key: `market_order.shipped:${orderId}` });
      expect(shipped[0].params).toMatchObject({ orderId, counterparty: expect.any(String) });

      await receiveMarketOrder(db, actorFor(world.buyer.id), world.buyer.id, orderId, new Date());
      // The settle step runs twice (a retried job): the second finds nothing to do and asks nothing.
      expect(await settleReceivedOrders(db, { orderIds: [orderId], now: new Date() })).toEqual([orderId]);
      expect(await settleReceivedOrders(db, { orderIds: [orderId], now: new Date() })).toEqual([]);
      const settled = await requestsFor(db, "market_order.settled", orderId);
      expect(settled.map((r) => r.organization_id)).toEqual([world.buyer.id]);
      // The merchant is not told of its own shipment.
      expect((await requestsFor(db, "market_order.shipped", orderId)).filter((r) => r.organization_id === m.id)).toEqual([]);
    });

    it("hears once when the merchant cancels a paid order and the money goes back", async () => {
      const orderId = await paidOrder(db, world, world.dress.id, 1);
      const m = merchant();
      const cancel = () => cancelPaidMarketOrder(db, actorFor(m.id, m.user.id), m.id, orderId, { reason: "缺货" }, new Date());
      await cancel();
      expect(await refusalCode(cancel())).toBe("invalid_state");
      const refunded = await requestsFor(db, "market_order.refunded", orderId);
      expect(refunded.map((r) => r.organization_id)).toEqual([world.buyer.id]);
    });
  });

  it("tells buyer and merchant of a dispute's ruling, once each, with the outcome", async () => {
    const orderId = await paidOrder(db, world, world.dress.id, 2, { ship: true });
    const { disputeId } = await openDispute(db, actorFor(world.buyer.id), world.buyer.id, orderId, { statement: "货不对板" }, new Date());
    const rule = () => ruleDispute(db, actorFor(world.w.operatorId, world.w.operatorUser.id), world.w.operatorId, disputeId, { ruling: "refund_partial", refundFen: 5_000, reason: "各担一半" }, new Date());
    await rule();
    expect(await refusalCode(rule())).toBe("invalid_state");
    const ruled = await requestsFor(db, "market_dispute.ruled", orderId);
    expect(ruled.map((r) => r.organization_id).sort()).toEqual([world.buyer.id, merchant().id].sort());
    for (const r of ruled) expect(r.params).toMatchObject({ orderId, disputeId, ruling: "refund_partial", refundDisplay: "¥50.00" });
  });

  describe("a dealer and its supplier", () => {
    async function supplyWorld() {
      const core = await newOrg(db, "core_enterprise");
      const link = await makeLink(db, core, { creditLimitFen: 0 });
      const dealer = link.dealerId;
      const fridge = await makeSku(db, core, { basePriceFen: 300_000, stockOnHand: 0 });
      const dealerUser = await createUser(db, { memberships: [[dealer, "owner"]] });
      const coreUser = await createUser(db, { memberships: [[core, "owner"]] });
      await fundWallet(db, dealer, 5_000_000);
      await fundWallet(db, core, 5_000_000);
      return { core, dealer, fridge, dealerUser, coreUser, asDealer: actorOf(dealer, dealerUser.id), asCore: actorOf(core, coreUser.id) };
    }

    it("tells the dealer once that a released season's balance is due, however often the notice step runs", async () => {
      const w = await supplyWorld();
      const season = await createSeason(db, w.asCore, w.core, { name: "2027 春季订货会", depositRateBps: 3000 });
      const booking = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "preorder", seasonId: season.id, lines: [{ skuId: w.fridge.id, quantity: 3 }] }, new Date());
      await confirmOrder(db, w.asCore, booking.id, new Date());
      await payFromWallet(db, w.asDealer, booking.id, new Date());
      await db.updateTable("skus").set({ stock_on_hand: 10 }).where("id", "=", w.fridge.id).execute();
      expect((await releaseSeason(db, w.asCore, w.core, season.id, new Date())).released).toEqual([booking.number]);

      await runOrderNotices(db, [booking.id]);
      await runOrderNotices(db, [booking.id]);
      const due = await requestsFor(db, "order.balance_due", booking.id);
      expect(due).toHaveLength(1);
      expect(due[0].organization_id).toBe(w.dealer);
      expect(due[0].params).toMatchObject({ orderId: booking.id, number: booking.number, seasonName: "2027 春季订货会", amountDisplay: "¥6,300.00" });
    });

    it("tells the supplier of a return request, the dealer of its approval and refund — once each", async () => {
      const w = await supplyWorld();
      await db.updateTable("skus").set({ stock_on_hand: 10 }).where("id", "=", w.fridge.id).execute();
      const o = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.fridge.id, quantity: 2 }] }, new Date());
      await confirmOrder(db, w.asCore, o.id, new Date());
      await payFromWallet(db, w.asDealer, o.id, new Date());
      const line = (await getOrder(db, w.core, o.id)).lines[0];
      await shipOrder(db, w.asCore, o.id, { carrier: "德邦", trackingNumber: "DB9", lines: [{ lineId: line.id, quantity: 2 }] }, new Date());
      await receiveOrder(db, w.asDealer, o.id, new Date());
      const rma = await requestReturn(db, w.asDealer, { originalOrderId: o.id, lines: [{ lineId: line.id, quantity: 1 }], reason: "外壳破损" }, new Date());
      await decideReturn(db, w.asCore, rma.id, "approve", new Date());
      await receiveReturnedGoods(db, w.asCore, rma.id);
      await refundReturn(db, w.asCore, rma.id, new Date());

      await runOrderNotices(db, [rma.id]);
      await runOrderNotices(db, [rma.id]);
      const requested = await requestsFor(db, "order.return_requested", rma.id);
      const approved = await requestsFor(db, "order.return_approved", rma.id);
      const refunded = await requestsFor(db, "order.return_refunded", rma.id);
      expect(requested.map((r) => r.organization_id)).toEqual([w.core]);
      expect(approved.map((r) => r.organization_id)).toEqual([w.dealer]);
      expect(refunded.map((r) => r.organization_id)).toEqual([w.dealer]);
      expect(refunded[0].params).toMatchObject({ orderId: rma.id, number: rma.number, amountDisplay: "¥3,000.00" });

      // Each notice opens its return for the party it was sent to.
      await deliverAll(db);
      for (const [user, organizationId] of [
        [w.dealerUser, w.dealer],
        [w.coreUser, w.core],
      ] as const) {
        const inbox = await listNotifications(db, { userId: user.id, organizationId, limit: 20 });
        const aboutReturn = inbox.filter((n) => n.topic.startsWith("order.return_"));
        expect(aboutReturn.length).toBeGreaterThan(0);
        const client = await signedIn(user);
        for (const n of aboutReturn) {
          expect(n.href).toBe(`/orders/${rma.id}`);
          expect((await client.get(n.href!)).status, `${n.topic} → ${n.href}`).toBe(200);
        }
      }
    });
  });

  it("links every notice of the buyer to a page it may open, counts the unread, and marks read one by one or all at once", async () => {
    await deliverAll(db);
    const buyerUser = world.buyer.user as { id?: string; email: string; password: string };
    const user = await db.selectFrom("users").select("id").where("email", "=", buyerUser.email).executeTakeFirstOrThrow();
    const scope = { userId: user.id, organizationId: world.buyer.id };
    const inbox = await listNotifications(db, { ...scope, limit: 100 });
    expect(new Set(inbox.map((n) => n.topic))).toEqual(new Set(["market_order.shipped", "market_order.settled", "market_order.refunded", "market_dispute.ruled"]));
    const unread = await countUnreadNotifications(db, scope);
    expect(unread).toBe(inbox.length);

    const buyer = await signedIn(buyerUser);
    const dashboard = await buyer.get("/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain(`data-testid="unread-badge">${unread}<`);
    expect(dashboard.body).toContain(`${unread} 条未读`);
    expect(dashboard.body).toContain("已为订单");
    for (const n of inbox) {
      expect(n.href).toBe(`/market/orders/${(n.params as { orderId: string }).orderId}`);
      expect((await buyer.get(n.href!)).status, n.href!).toBe(200);
      // A plain GET of the notice goes to its subject and leaves it unread.
      const viaGet = await buyer.get(`/notifications/${n.id}`);
      expect(viaGet.status).toBe(302);
      expect(viaGet.location).toBe(n.href);
    }
    expect(await countUnreadNotifications(db, scope)).toBe(unread);

    // Opening one (the inbox's form, no JavaScript) marks it read and goes to its subject.
    const csrf = await buyer.csrfFrom("/notifications");
    const first = inbox[0];
    const opened = await buyer.post(`/notifications/${first.id}`, { csrf, redirectTo: "/" });
    expect(opened.status).toBe(302);
    expect(opened.location).toBe(first.href);
    expect(await countUnreadNotifications(db, scope)).toBe(unread - 1);
    // Opening it again keeps it read and changes nothing else.
    expect((await buyer.post(`/notifications/${first.id}`, { csrf })).status).toBe(302);
    expect(await countUnreadNotifications(db, scope)).toBe(unread - 1);

    // Another organisation's notice (the merchant's) is not the buyer's to open or mark: 404.
    const m = merchant();
    const merchantNotice = (await listNotifications(db, { userId: m.user.id, organizationId: m.id, limit: 1 }))[0];
    expect(merchantNotice).toBeDefined();
    expect((await buyer.post(`/notifications/${merchantNotice.id}`, { csrf })).status).toBe(404);
    expect((await buyer.get(`/notifications/${merchantNotice.id}`)).status).toBe(404);
    expect((await buyer.post(`/notifications/not-an-id`, { csrf })).status).toBe(404);
    expect((await listNotifications(db, { userId: m.user.id, organizationId: m.id, limit: 1 }))[0].readAt).toBeNull();
    // Without the form's token nothing is marked.
    expect((await buyer.post(`/notifications/${inbox[1].id}`, { csrf: "forged" })).status).toBe(403);
    expect(await countUnreadNotifications(db, scope)).toBe(unread - 1);

    // "Mark all read" comes back to where it was asked, with every notice read.
    const all = await buyer.post("/notifications", { csrf, intent: "markAllRead", redirectTo: "/" });
    expect(all.status).toBe(302);
    expect(all.location).toBe("/");
    expect(await countUnreadNotifications(db, scope)).toBe(0);
    const after = await buyer.get("/notifications");
    expect(after.status).toBe(200);
    expect(after.body).not.toContain('data-testid="unread-badge"');
    expect(after.body).toContain("全部已读");
    // The merchant's notices are untouched by the buyer's "mark all".
    expect(await countUnreadNotifications(db, { userId: m.user.id, organizationId: m.id })).toBeGreaterThan(0);
  });

  it("shows the activity feed in words, without the notification machinery", async () => {
    const events = await listAuditEvents(db, world.w.operatorId, 100);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.action.startsWith("notification."))).toEqual([]);
    // The machinery is still in the audit trail: only the feed leaves it out.
    const trail = await db.selectFrom("audit_events").select("action").where("organization_id", "=", world.w.operatorId).where("action", "like", "notification.%").execute();
    expect(trail.length).toBeGreaterThan(0);

    const operator = await signedIn(world.w.operatorUser);
    const page = await operator.get("/");
    expect(page.status).toBe(200);
    const start = page.body.indexOf('id="activity-heading"');
    const feed = page.body.slice(start, page.body.indexOf("</section>", start));
    // The events the feed once showed as codes, now in words.
    expect(feed).toContain("商户入驻");
    expect(feed).toContain("批准入驻申请");
    expect(feed).toContain("裁决：部分退款");
    expect(feed).not.toMatch(/\b[a-z_]+\.[a-z_]+\b(?![^<]*>)/);
    expect(feed).not.toContain("通知已送达");
  });

  it("says on the order page that a dispute pauses auto-confirm and what the ruling does, and asks before a final ruling", async () => {
    const orderId = await paidOrder(db, world, world.dress.id, 1, { ship: true });
    expect((await getMarketOrder(db, world.buyer.id, orderId)).autoConfirmAt).not.toBeNull();
    const { disputeId } = await openDispute(db, actorFor(world.buyer.id), world.buyer.id, orderId, { statement: "颜色不对" }, new Date());
    const m = merchant();
    for (const user of [world.buyer.user, m.user, world.w.operatorUser]) {
      const client = await signedIn(user);
      const page = await client.get(`/market/orders/${orderId}`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('data-timer="paused"');
      expect(page.body).toContain("自动确认收货的计时已暂停");
      expect(page.body).toContain("计时不会恢复");
    }

    const operator = await signedIn(world.w.operatorUser);
    const rulingPath = `/markets/${world.w.marketId}/disputes/${disputeId}`;
    const form = await operator.get(rulingPath);
    expect(form.body).toContain('name="confirmFinal"');
    expect(form.body).toContain('data-timer="paused"');
    const csrf = await operator.csrfFrom(rulingPath);
    const unconfirmed = await operator.post(rulingPath, { csrf, intent: "rule", ruling: "release", refund: "", reason: "证据不足" });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.body).toContain('id="confirm-final-error"');
    expect(unconfirmed.body).toContain("请先勾选确认");
    // The rest of what was typed is kept.
    expect(unconfirmed.body).toContain("证据不足");
    expect((await getMarketOrder(db, world.buyer.id, orderId)).status).toBe("disputed");

    const confirmed = await operator.post(rulingPath, { csrf, intent: "rule", ruling: "release", refund: "", reason: "证据不足", confirmFinal: "on" });
    expect(confirmed.status).toBe(302);
    expect((await getMarketOrder(db, world.buyer.id, orderId)).status).toBe("settled");
    const buyer = await signedIn(world.buyer.user);
    const done = await buyer.get(`/market/orders/${orderId}`);
    expect(done.body).toContain('data-timer="ended_by_ruling"');
    expect(done.body).not.toContain('data-timer="paused"');
  });
});
