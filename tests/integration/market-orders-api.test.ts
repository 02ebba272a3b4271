import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { feeOnReleaseFen } from "../../app/domain/market/escrow/model.server";
import { getMarketOrder } from "../../app/domain/market/escrow/queries.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";
import { createTradeWorld, paidOrder, type TradeWorld } from "./market-orders.fixtures";
import { fund, stockOf, walletOf } from "./market-trade.fixtures";
import { waitFor } from "./outbox.fixtures";
import { startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

type Party = { id: string; name: string };
type OrderItem = { id: string; order_no: string; status: string; goods_total_fen: number; fee_fen: number | null; merchant: Party; buyer: Party; checkout_id: string };
type Checkout = { id: string; status: string; total_fen: number; expires_at: string; payment_id: string | null; orders: OrderItem[] };
type Statement = { id: string; party: string; body: string; evidence: { filename: string } | null };
type Dispute = {
  id: string;
  order_id: string;
  status: string;
  ruling: string | null;
  refund_fen: number;
  statements: Statement[];
  order: { status: string; goods_total_fen: number; fee_fen: number | null; refunded_fen: number; settled_net_fen: number; settled_fee_fen: number | null };
};
type Order = OrderItem & {
  role: string;
  actions: string[];
  held: boolean;
  carrier: string;
  tracking_no: string;
  settled_net_fen: number;
  settled_fee_fen: number | null;
  lines: { listing_id: string; quantity: number; commission_rate_bps: number | null }[];
  timeline: { event: string; actor: string }[];
  dispute: Omit<Dispute, "order"> | null;
};
type Page<T> = { data: T[]; next_cursor: string | null };

/**
 * The market-trade endpoints over HTTP: a multi-merchant checkout (idempotent on its key, 422 on
 * the key with another body), payment by wallet and e-Pay, ship / receive / cancel / dispute,
 * statements and the operator's ruling; field names in errors, tenancy 404s, roles 403, and the
 * OpenAPI document listing them.
 */
describe("API: market orders, checkouts and disputes", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let world: TradeWorld;
  let buyer: ApiClient;
  let merchant: ApiClient;
  let otherMerchant: ApiClient;
  let operator: ApiClient;
  let strangerBuyer: ApiClient;
  let strangerOperator: ApiClient;
  let buyerViewer: ApiClient;
  let dealer: ApiClient;

  beforeAll(async () => {
    t = await createTestDatabase();
    world = await createTradeWorld(t.db, { buyerFundedFen: 0 });
    server = await startPaymentsServer(t.db);
    buyer = await apiLogin(server.url, world.buyer.user.email, world.buyer.user.password);
    merchant = await apiLogin(server.url, world.w.merchants[0].user.email, world.w.merchants[0].user.password);
    otherMerchant = await apiLogin(server.url, world.w.merchants[1].user.email, world.w.merchants[1].user.password);
    operator = await apiLogin(server.url, world.w.operatorUser.email, world.w.operatorUser.password);
    strangerBuyer = await apiLogin(server.url, world.stranger.buyer.user.email, world.stranger.buyer.user.password);
    strangerOperator = await apiLogin(server.url, world.stranger.world.operatorUser.email, world.stranger.world.operatorUser.password);
    buyerViewer = await apiLogin(server.url, world.buyerViewer.email, world.buyerViewer.password);
    dealer = await apiLogin(server.url, world.stranger.dealerUser.email, world.stranger.dealerUser.password);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  function ok<T>(res: { status: number; body: unknown }, status = 200): T {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body as T;
  }

  describe("placing a checkout", () => {
    it("splits a two-merchant body into one order per merchant, and replays the same key", async () => {
      const key = randomUUID();
      const body = {
        market_id: world.w.marketId,
        lines: [
          { listing_id: world.dress.id, quantity: 2 },
          { listing_id: world.shirt.id, quantity: 3 },
        ],
      };
      const stock = await stockOf(t.db, world.dress.id);
      const first = await buyer.post<Checkout>("/api/v1/market-orders", body, { key });
      const checkout = ok<Checkout>(first, 201);
      expect(checkout).toMatchObject({ status: "placed", total_fen: 20_000 + 26_400, payment_id: null });
      expect(checkout.orders).toHaveLength(2);
      expect(checkout.orders.map((o) => o.merchant.id).sort()).toEqual([world.w.merchants[0].id, world.w.merchants[1].id].sort());
      // The commission is not the buyer's business.
      for (const o of checkout.orders) expect(o.fee_fen).toBeNull();
      expect(await stockOf(t.db, world.dress.id)).toBe(stock - 2);

      const again = await buyer.post<Checkout>("/api/v1/market-orders", body, { key });
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body.id).toBe(checkout.id);
      expect(await stockOf(t.db, world.dress.id)).toBe(stock - 2);

      const other = await buyer.post("/api/v1/market-orders", { ...body, lines: [{ listing_id: world.dress.id, quantity: 1 }] }, { key });
      expect(expectError(other, 422, "idempotency_conflict").fields).toHaveProperty("Idempotency-Key");
      expect(await stockOf(t.db, world.dress.id)).toBe(stock - 2);
      // The key is the checkout's own too: found again even if the API's record were gone.
      expect((await t.db.deleteFrom("idempotency_keys").where("key", "=", key).executeTakeFirst()).numDeletedRows).toBe(1n);
      const later = await buyer.post<Checkout>("/api/v1/market-orders", body, { key });
      expect(later.body.id).toBe(checkout.id);
    });

    it("names each bad field the API's way and writes nothing", async () => {
      const stock = await stockOf(t.db, world.dress.id);
      const place = (body: unknown) => buyer.post("/api/v1/market-orders", body);
      expect(expectError(await place({ lines: [{ listing_id: world.dress.id, quantity: 1 }] }), 422, "validation").fields).toHaveProperty("market_id");
      expect(expectError(await place({ market_id: world.w.marketId, lines: [{ listing_id: world.dress.id, quantity: 0 }] }), 422).fields).toHaveProperty(["lines.0.quantity"]);
      expect(expectError(await place({ market_id: world.w.marketId, lines: [{ listing_id: "nope", quantity: 1 }] }), 422).fields).toHaveProperty(["lines.0.listing_id"]);
      const short = expectError(await place({ market_id: world.w.marketId, lines: [{ listing_id: world.dress.id, quantity: 999_999 }] }), 409, "invalid_state");
      expect(short.fields["lines.0.quantity"]).toBe("invalid_state");
      expect(short.message).toMatch(/only \d+ in stock/);
      expect(short.message).toContain("lines.0.quantity");
      expect(expectError(await place({ market_id: world.w.marketId, lines: [], extra: 1 }), 422).fields).toHaveProperty("extra");
      expect(expectError(await place({ market_id: world.stranger.world.marketId, lines: [{ listing_id: world.dress.id, quantity: 1 }] }), 422).fields).toHaveProperty(["lines.0.listing_id"]);
      expect(expectError(await buyer.post("/api/v1/market-orders", { market_id: world.w.marketId, lines: [] }, { key: null }), 400).fields).toHaveProperty("Idempotency-Key");
      expect(await stockOf(t.db, world.dress.id)).toBe(stock);
    });

    it("is for buyers: another kind of organisation gets 404, a viewer 403", async () => {
      const body = { market_id: world.w.marketId, lines: [{ listing_id: world.dress.id, quantity: 1 }] };
      expectError(await merchant.post("/api/v1/market-orders", body), 404);
      expectError(await dealer.post("/api/v1/market-orders", body), 404);
      expectError(await buyerViewer.post("/api/v1/market-orders", body), 403, "forbidden");
      expectError(await new ApiClient(server.url).post("/api/v1/market-orders", body), 401);
    });
  });

  describe("paying", () => {
    it("commits a wallet payment with its stored answer: superseded mid-payment, it rolls back, and nothing is paid twice", async () => {
      const placed = ok<Checkout>(await buyer.post("/api/v1/market-orders", { market_id: world.w.marketId, lines: [{ listing_id: world.shirt.id, quantity: 1 }] }), 201);
      await fund(t.db, world.buyer.id, placed.total_fen);
      const before = await walletOf(t.db, world.buyer.id);
      const key = randomUUID();
      let answer: Promise<Awaited<ReturnType<ApiClient["post"]>>> | undefined;
      // The buyer's wallet held by another transaction: the payment waits inside its own.
      await t.db.transaction().execute(async (trx) => {
        await sql`select id from ledger_accounts where organization_id = ${world.buyer.id} and kind = 'wallet' for update`.execute(trx);
        answer = buyer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "wallet" }, { key });
        await waitFor("the payment to wait on the wallet", async () => {
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_locks where not granted`.execute(t.db);
          return rows[0].n > 0;
        });
        // Meanwhile a retry takes the key over (as after the takeover time): the first holder's
        // stored answer can no longer be written.
        await t.db.updateTable("idempotency_keys").set({ lock_token: randomUUID() }).where("key", "=", key).execute();
      });
      const superseded = expectError(await answer!, 409, "conflict");
      expect(superseded.fields).toEqual({ "Idempotency-Key": "superseded" });
      // Rolled back with its answer: nothing paid, nothing held.
      expect(ok<Checkout>(await buyer.get(`/api/v1/market-checkouts/${placed.id}`)).status).toBe("placed");
      expect(await walletOf(t.db, world.buyer.id)).toEqual(before);
      const paid = ok<{ checkout: Checkout }>(await buyer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "wallet" }));
      expect(paid.checkout.status).toBe("paid");
      const holds = await t.db.selectFrom("ledger_transfers").select("id").where("kind", "=", "escrow_hold").where("reference", "in", paid.checkout.orders.map((o) => `market_order:${o.id}`)).execute();
      expect(holds).toHaveLength(paid.checkout.orders.length);
    });

    it("refuses a wallet that does not cover it naming `wallet`, then pays; e-Pay answers a pay_url", async () => {
      const placed = ok<Checkout>(await buyer.post("/api/v1/market-orders", { market_id: world.w.marketId, lines: [{ listing_id: world.shirt.id, quantity: 2 }] }), 201);
      const short = expectError(await buyer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "wallet" }), 422, "insufficient_funds");
      expect(short.fields).toHaveProperty("wallet");
      expect(ok<Checkout>(await buyer.get(`/api/v1/market-checkouts/${placed.id}`)).status).toBe("placed");
      expect(expectError(await buyer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "cash" }), 422).fields).toHaveProperty("method");
      expectError(await buyerViewer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "wallet" }), 403);
      expectError(await strangerBuyer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "wallet" }), 404);
      expectError(await strangerBuyer.get(`/api/v1/market-checkouts/${placed.id}`), 404);

      await fund(t.db, world.buyer.id, placed.total_fen);
      const paid = ok<{ checkout: Checkout; pay_url: string | null }>(await buyer.post(`/api/v1/market-checkouts/${placed.id}/pay`, { method: "wallet" }));
      expect(paid.pay_url).toBeNull();
      expect(paid.checkout.status).toBe("paid");
      expect(paid.checkout.orders.map((o) => o.status)).toEqual(["paid"]);
      expect((await walletOf(t.db, world.buyer.id)).availableFen).toBe(0);

      const second = ok<Checkout>(await buyer.post("/api/v1/market-orders", { market_id: world.w.marketId, lines: [{ listing_id: world.dress.id, quantity: 1 }] }), 201);
      const epay = ok<{ checkout: Checkout; pay_url: string | null }>(await buyer.post(`/api/v1/market-checkouts/${second.id}/pay`, { method: "epay" }));
      expect(epay.pay_url).toMatch(/\/sandbox\/epay\/pay\//);
      expect(epay.checkout.payment_id).toBeTruthy();
      // Not wanted after all: the checkout is cancelled, its stock released.
      const cancelled = ok<Checkout>(await buyer.post(`/api/v1/market-checkouts/${second.id}/cancel`, {}));
      expect(cancelled.status).toBe("cancelled");
      expect(cancelled.orders[0].status).toBe("cancelled");
      expectError(await buyer.post(`/api/v1/market-checkouts/${second.id}/pay`, { method: "wallet" }), 409, "invalid_state");
    });
  });

  describe("fulfilment", () => {
    it("lists and reads orders for each side; ships (tracking_no named when bad), receives, settles", async () => {
      const orderId = await paidOrder(t.db, world, world.dress.id, 4);
      const mine = ok<Order>(await buyer.get(`/api/v1/market-orders/${orderId}`));
      expect(mine).toMatchObject({ role: "buyer", status: "paid", held: true, fee_fen: null, actions: ["dispute"] });
      expect(mine.lines[0].commission_rate_bps).toBeNull();
      const theirs = ok<Order>(await merchant.get(`/api/v1/market-orders/${orderId}`));
      expect(theirs).toMatchObject({ role: "merchant", fee_fen: 1_000, actions: ["ship", "cancel"] });
      expect(theirs.lines[0].commission_rate_bps).toBe(250);
      expect(ok<Order>(await operator.get(`/api/v1/market-orders/${orderId}`)).role).toBe("operator");
      for (const stranger of [otherMerchant, strangerBuyer, strangerOperator]) expectError(await stranger.get(`/api/v1/market-orders/${orderId}`), 404, "not_found");
      expectError(await dealer.get(`/api/v1/market-orders/${orderId}`), 404);
      expectError(await buyer.get("/api/v1/market-orders/not-an-id"), 404);

      const list = ok<Page<OrderItem>>(await merchant.get("/api/v1/market-orders?status=paid&limit=2"));
      expect(list.data.length).toBeGreaterThan(0);
      for (const o of list.data) expect(o.status).toBe("paid");
      expect(list.data.every((o) => o.fee_fen !== null)).toBe(true);
      const operatorList = ok<Page<OrderItem>>(await operator.get(`/api/v1/market-orders?market_id=${world.w.marketId}&limit=1`));
      expect(operatorList.data).toHaveLength(1);
      expect(operatorList.next_cursor).toBeTruthy();
      const next = ok<Page<OrderItem>>(await operator.get(`/api/v1/market-orders?market_id=${world.w.marketId}&limit=1&after=${encodeURIComponent(operatorList.next_cursor!)}`));
      expect(next.data[0].id).not.toBe(operatorList.data[0].id);
      expect(expectError(await buyer.get("/api/v1/market-orders?after=junk"), 422).fields).toHaveProperty("after");
      expect(expectError(await buyer.get("/api/v1/market-orders?status=lost"), 422).fields).toHaveProperty("status");
      expect(ok<Page<OrderItem>>(await strangerOperator.get(`/api/v1/market-orders?market_id=${world.w.marketId}`)).data).toEqual([]);

      const bad = expectError(await merchant.post(`/api/v1/market-orders/${orderId}/ship`, { carrier: "顺丰", tracking_no: "SF 1!" }), 422, "validation");
      expect(bad.fields).toHaveProperty("tracking_no");
      expect(expectError(await merchant.post(`/api/v1/market-orders/${orderId}/ship`, { tracking_no: "SF1" }), 422).fields).toHaveProperty("carrier");
      expect((await getMarketOrder(t.db, world.buyer.id, orderId)).status).toBe("paid");
      expectError(await buyer.post(`/api/v1/market-orders/${orderId}/ship`, { carrier: "顺丰", tracking_no: "SF1" }), 404);
      expectError(await otherMerchant.post(`/api/v1/market-orders/${orderId}/ship`, { carrier: "顺丰", tracking_no: "SF1" }), 404);
      const shipped = ok<Order>(await merchant.post(`/api/v1/market-orders/${orderId}/ship`, { carrier: "顺丰速运", tracking_no: "SF-20250101" }));
      expect(shipped).toMatchObject({ status: "shipped", carrier: "顺丰速运", tracking_no: "SF-20250101" });
      expect(expectError(await merchant.post(`/api/v1/market-orders/${orderId}/ship`, { carrier: "x", tracking_no: "y" }), 409, "invalid_state").fields).toEqual({ status: "invalid_state" });

      const received = ok<Order>(await buyer.post(`/api/v1/market-orders/${orderId}/receive`, {}));
      expect(received.status).toBe("received");
      await runStep(STEPS, { db: t.db, logger: quiet }, "market.settle", { orderId });
      const settled = ok<Order>(await merchant.get(`/api/v1/market-orders/${orderId}`));
      expect(settled).toMatchObject({ status: "settled", settled_fee_fen: 1_000, settled_net_fen: 39_000, held: false });
      expect(settled.timeline.map((e) => e.event)).toEqual(["place", "pay", "ship", "receive", "settle"]);
      expect(settled.timeline.map((e) => e.actor)).toEqual(["buyer", "buyer", "merchant", "buyer", "system"]);
    });

    it("lets the merchant cancel a paid order with a reason", async () => {
      const orderId = await paidOrder(t.db, world, world.dress.id, 1);
      expect(expectError(await merchant.post(`/api/v1/market-orders/${orderId}/cancel`, { reason: "" }), 422).fields).toHaveProperty("reason");
      expectError(await buyer.post(`/api/v1/market-orders/${orderId}/cancel`, { reason: "不要了" }), 404);
      const cancelled = ok<Order>(await merchant.post(`/api/v1/market-orders/${orderId}/cancel`, { reason: "缺货" }));
      expect(cancelled).toMatchObject({ status: "cancelled", refunded_fen: 10_000 });
    });
  });

  describe("disputes", () => {
    it("opens a dispute, takes statements from both sides, and the operator rules a partial refund", async () => {
      const orderId = await paidOrder(t.db, world, world.dress.id, 2, { ship: true });
      expect(expectError(await buyer.post(`/api/v1/market-orders/${orderId}/dispute`, { statement: "  " }), 422).fields).toHaveProperty("statement");
      expectError(await merchant.post(`/api/v1/market-orders/${orderId}/dispute`, { statement: "x" }), 404);
      const disputed = ok<Order>(await buyer.post(`/api/v1/market-orders/${orderId}/dispute`, { statement: "少发了一件" }));
      expect(disputed.status).toBe("disputed");
      const disputeId = disputed.dispute!.id;
      expect(disputed.dispute!.statements).toEqual([expect.objectContaining({ party: "buyer", body: "少发了一件", evidence: null })]);

      expect(expectError(await merchant.post(`/api/v1/market-disputes/${disputeId}/statements`, { body: "" }), 422).fields).toHaveProperty("body");
      const answered = ok<Dispute>(await merchant.post(`/api/v1/market-disputes/${disputeId}/statements`, { body: "按单发货，有称重记录" }), 201);
      expect(answered.statements.map((s) => s.party)).toEqual(["buyer", "merchant"]);
      expect(answered.order.fee_fen).toBe(500);
      expect(ok<Dispute>(await buyer.get(`/api/v1/market-disputes/${disputeId}`)).order.fee_fen).toBeNull();
      for (const stranger of [otherMerchant, strangerBuyer, strangerOperator]) {
        expectError(await stranger.get(`/api/v1/market-disputes/${disputeId}`), 404);
        expectError(await stranger.post(`/api/v1/market-disputes/${disputeId}/statements`, { body: "x" }), 404);
      }
      expectError(await strangerOperator.post(`/api/v1/market-disputes/${disputeId}/ruling`, { ruling: "release", reason: "x" }), 404);
      expectError(await buyer.post(`/api/v1/market-disputes/${disputeId}/ruling`, { ruling: "release", reason: "x" }), 404);

      const rule = (body: unknown) => operator.post(`/api/v1/market-disputes/${disputeId}/ruling`, body);
      expect(expectError(await rule({ ruling: "refund_partial", refund_fen: 0, reason: "各担一半" }), 422).fields).toHaveProperty("refund_fen");
      expect(expectError(await rule({ ruling: "refund_partial", refund_fen: 20_000, reason: "各担一半" }), 422).fields).toHaveProperty("refund_fen");
      expect(expectError(await rule({ ruling: "refund_partial", refund_fen: 12.5, reason: "各担一半" }), 422).fields).toHaveProperty("refund_fen");
      expect(expectError(await rule({ ruling: "split", reason: "x" }), 422).fields).toHaveProperty("ruling");
      expect(expectError(await rule({ ruling: "release", reason: "" }), 422).fields).toHaveProperty("reason");
      expect((await getMarketOrder(t.db, world.buyer.id, orderId)).status).toBe("disputed");

      const ruled = ok<Dispute>(await rule({ ruling: "refund_partial", refund_fen: 5_000, reason: "少发一件，退一件的货款" }));
      const fee = feeOnReleaseFen({ goods_total_fen: 20_000, fee_fen: 500 }, 15_000);
      expect(ruled).toMatchObject({ status: "ruled", ruling: "refund_partial", refund_fen: 5_000 });
      expect(ruled.order).toMatchObject({ status: "settled", refunded_fen: 5_000, settled_fee_fen: fee, settled_net_fen: 15_000 - fee });
      expect(ruled.order.refunded_fen + ruled.order.settled_net_fen + ruled.order.settled_fee_fen!).toBe(ruled.order.goods_total_fen);
      expect(expectError(await rule({ ruling: "release", reason: "again" }), 409, "invalid_state").fields).toEqual({ status: "invalid_state" });
      expectError(await merchant.post(`/api/v1/market-disputes/${disputeId}/statements`, { body: "late" }), 409);
      expect(await verifyLedger(t.db)).toEqual([]);
    });
  });

  it("lists every market-trade endpoint in the OpenAPI document", async () => {
    const doc = ok<{ paths: Record<string, Record<string, { operationId: string }>> }>(await new ApiClient(server.url).get("/api/v1/openapi.json"));
    const expected: [string, string, string][] = [
      ["/api/v1/market-orders", "get", "listMarketOrders"],
      ["/api/v1/market-orders", "post", "createMarketOrders"],
      ["/api/v1/market-orders/{id}", "get", "getMarketOrder"],
      ["/api/v1/market-orders/{id}/ship", "post", "shipMarketOrder"],
      ["/api/v1/market-orders/{id}/receive", "post", "receiveMarketOrder"],
      ["/api/v1/market-orders/{id}/cancel", "post", "cancelMarketOrder"],
      ["/api/v1/market-orders/{id}/dispute", "post", "disputeMarketOrder"],
      ["/api/v1/market-checkouts/{id}", "get", "getMarketCheckout"],
      ["/api/v1/market-checkouts/{id}/pay", "post", "payMarketCheckout"],
      ["/api/v1/market-checkouts/{id}/cancel", "post", "cancelMarketCheckout"],
      ["/api/v1/market-disputes/{id}", "get", "getMarketDispute"],
      ["/api/v1/market-disputes/{id}/statements", "post", "addMarketDisputeStatement"],
      ["/api/v1/market-disputes/{id}/ruling", "post", "ruleMarketDispute"],
    ];
    for (const [path, method, operationId] of expected) expect(doc.paths[path]?.[method]?.operationId, `${method} ${path}`).toBe(operationId);
  });
});
