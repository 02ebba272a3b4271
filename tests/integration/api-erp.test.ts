import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allEndpoints } from "../../app/api/contracts";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { createSku } from "../../app/domain/catalog/catalog.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { seedDemoData } from "../../app/seed/demo.server";
import { findAccountByCode } from "../../app/domain/ledger/ledger.server";
import { onAccountPosition } from "../../app/domain/orders/position.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

type Page<T> = { data: T[]; next_cursor: string | null };
type Supplier = { id: string; name: string; tier: string | null; payment_terms_days: number; credit_limit_fen: number; credit_available_fen: number };
type SupplierSku = {
  id: string;
  code: string;
  name: string;
  spec: string;
  unit: string;
  pack_size: number;
  moq: number;
  unit_price_fen: number;
  price_rule: string;
  stock_available: number;
  in_stock: boolean;
};
type CreditLine = {
  supplier: { id: string; name: string };
  limit_fen: number;
  used_fen: number;
  held_fen: number;
  available_fen: number;
  overdue_fen: number;
  overdue_orders: number;
};
type Balances = { wallet: { balance_fen: number; held_fen: number; available_fen: number }; credit_lines: CreditLine[] };

/**
 * What an ERP integrating over /api/v1 needs and what it must be able to rely on, with the demo
 * world: a dealer lists its suppliers and what it can order at its own price; a buyer lists the
 * markets it can shop in; a payer reads its balances; every error names the field as it was sent,
 * with a code; an action in the wrong state is 409 `invalid_state`; cursors are opaque and checked
 * on every list; `X-Request-Id` comes once.
 */
describe("API for an ERP: catalogues to order from, balances, errors it can act on", () => {
  let t: TestDatabase;
  let server: TestServer;
  let core: ApiClient;
  let dealer: ApiClient;
  let dealer2: ApiClient;
  let dealer3: ApiClient;
  let strangerCore: ApiClient;
  let operator: ApiClient;
  let merchant: ApiClient;
  let buyer: ApiClient;
  const ids = {} as { core: string; dealer: string; dealer2: string; dealer3: string; stranger: string; buyer: string; market: string };

  const orgOf = async (email: string) =>
    (await t.db.selectFrom("memberships as m").innerJoin("users as u", "u.id", "m.user_id").select("m.organization_id").where("u.email", "=", email).executeTakeFirstOrThrow()).organization_id;
  const org = async (name: string) => (await t.db.selectFrom("organizations").select("id").where("name", "=", name).executeTakeFirstOrThrow()).id;

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: "demo1234" });
    ids.core = await org("华通电器");
    ids.dealer = await org("杭州鑫达商贸有限公司");
    ids.dealer2 = await org("宁波鑫达电器销售有限公司");
    ids.dealer3 = await org("绍兴万家福电器有限公司");
    const stranger = await createOrg(t.db, { kind: "core_enterprise" });
    ids.stranger = stranger.id;
    await createSku(t.db, SYSTEM_ACTOR, stranger.id, { code: "ZZ-1", name: "别家的货", spec: "", unit: "件", packSize: 1, moq: 1, basePriceFen: 100, taxRateBps: 1300, stockOnHand: 5 });
    ids.market = (await t.db.selectFrom("markets").select("id").executeTakeFirstOrThrow()).id;
    server = await startTestServer(t.db);
    core = await apiLogin(server.url, "core@demo.test", "demo1234");
    dealer = await apiLogin(server.url, "dealer@demo.test", "demo1234", ids.dealer);
    dealer2 = await apiLogin(server.url, "dealer@demo.test", "demo1234", ids.dealer2);
    const dealer3Owner = await createUser(t.db, { memberships: [[ids.dealer3, "owner"]] });
    dealer3 = await apiLogin(server.url, dealer3Owner.email, TEST_PASSWORD);
    const strangerOwner = await createUser(t.db, { memberships: [[stranger.id, "owner"]] });
    strangerCore = await apiLogin(server.url, strangerOwner.email, TEST_PASSWORD);
    operator = await apiLogin(server.url, "operator@demo.test", "demo1234");
    merchant = await apiLogin(server.url, "seller@demo.test", "demo1234");
    buyer = await apiLogin(server.url, "buyer@demo.test", "demo1234");
    ids.buyer = await orgOf("buyer@demo.test");
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  function ok<T>(res: { status: number; body: unknown }): T {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as T;
  }

  async function walk<T>(client: ApiClient, path: string, limit: number): Promise<T[]> {
    const items: T[] = [];
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const page: Page<T> = ok(await client.get<Page<T>>(`${path}${sep}limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}`));
      expect(page.data.length).toBeLessThanOrEqual(limit);
      items.push(...page.data);
      after = page.next_cursor;
      if (!after) return items;
    }
    throw new Error("the pages never ended");
  }

  describe("a dealer lists what it can order", () => {
    it("lists its suppliers with tier, payment terms and credit limit; other kinds do not have the endpoint", async () => {
      const suppliers = ok<Page<Supplier>>(await dealer.get("/api/v1/suppliers")).data;
      const huatong = suppliers.find((s) => s.id === ids.core);
      expect(huatong).toBeDefined();
      const link = await t.db.selectFrom("dealer_links").selectAll().where("core_enterprise_id", "=", ids.core).where("dealer_id", "=", ids.dealer).executeTakeFirstOrThrow();
      const credit = await creditSummary(t.db, link.id);
      expect(huatong).toMatchObject({ name: "华通电器", payment_terms_days: link.payment_terms_days, credit_limit_fen: credit.limitFen, credit_available_fen: credit.availableFen });
      expect(suppliers.map((s) => s.id)).not.toContain(ids.stranger);
      expectError(await core.get("/api/v1/suppliers"), 404, "not_found");
      expectError(await buyer.get("/api/v1/suppliers"), 404, "not_found");
    });

    it("lists a supplier's SKUs on sale with code, spec, unit, pack, MOQ, its own price (as a quote prices it) and availability, in pages", async () => {
      const skus = await walk<SupplierSku>(dealer, `/api/v1/suppliers/${ids.core}/skus`, 3);
      const active = await t.db.selectFrom("skus").select(["code", "stock_on_hand", "stock_reserved", "moq"]).where("core_enterprise_id", "=", ids.core).where("status", "=", "active").orderBy("code").execute();
      expect(skus.map((s) => s.code)).toEqual(active.map((s) => s.code));
      for (const sku of skus) {
        const row = active.find((r) => r.code === sku.code)!;
        expect(sku.stock_available).toBe(row.stock_on_hand - row.stock_reserved);
        expect(sku.in_stock).toBe(row.stock_on_hand - row.stock_reserved >= row.moq);
        expect(sku.pack_size).toBeGreaterThan(0);
        expect(typeof sku.unit).toBe("string");
      }
      // The price is the one order placement would charge: the quote endpoint prices through the same module.
      const quote = await dealer.post<{ data: { sku_code: string; unit_price_fen: number; rule: string }[] }>("/api/v1/price-quotes", {
        core_enterprise_id: ids.core,
        lines: skus.map((s) => ({ sku_code: s.code, quantity: s.moq })),
      });
      expect(quote.status, JSON.stringify(quote.body)).toBe(200);
      expect(skus.map((s) => [s.code, s.unit_price_fen, s.price_rule])).toEqual(quote.body.data.map((q) => [q.sku_code, q.unit_price_fen, q.rule]));
    });

    it("searches by code prefix", async () => {
      const all = ok<Page<SupplierSku>>(await dealer.get(`/api/v1/suppliers/${ids.core}/skus`)).data;
      const prefix = all[0].code.slice(0, 4);
      const found = ok<Page<SupplierSku>>(await dealer.get(`/api/v1/suppliers/${ids.core}/skus?search=${encodeURIComponent(prefix)}`)).data;
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((s) => s.code.startsWith(prefix) || s.name.includes(prefix))).toBe(true);
    });

    it("each dealer sees its own prices; a supplier it is not linked to, or any other id, is 404", async () => {
      for (const client of [dealer, dealer3]) {
        const skus = ok<Page<SupplierSku>>(await client.get(`/api/v1/suppliers/${ids.core}/skus?limit=5`)).data;
        const quote = await client.post<{ data: { unit_price_fen: number }[] }>("/api/v1/price-quotes", { core_enterprise_id: ids.core, lines: skus.map((s) => ({ sku_code: s.code, quantity: s.moq })) });
        expect(skus.map((s) => s.unit_price_fen)).toEqual(quote.body.data.map((q) => q.unit_price_fen));
      }
      expectError(await dealer.get(`/api/v1/suppliers/${ids.stranger}/skus`), 404, "not_found");
      expectError(await dealer.get(`/api/v1/suppliers/${ids.dealer2}/skus`), 404, "not_found");
      expectError(await dealer.get("/api/v1/suppliers/00000000-0000-4000-8000-000000000000/skus"), 404, "not_found");
      expectError(await dealer.get("/api/v1/suppliers/not-an-id/skus"), 404, "not_found");
      // The supplier itself, or a stranger core enterprise, has no such endpoint.
      expectError(await core.get(`/api/v1/suppliers/${ids.core}/skus`), 404, "not_found");
      expectError(await strangerCore.get(`/api/v1/suppliers/${ids.stranger}/skus`), 404, "not_found");
    });
  });

  describe("a buyer lists the markets it can shop in", () => {
    it("lists active markets with their operator and orderable listings; a dealer does not have the endpoint", async () => {
      const markets = ok<Page<{ id: string; name: string; operator_name: string; listing_count: number }>>(await buyer.get("/api/v1/open-markets")).data;
      const market = markets.find((m) => m.id === ids.market);
      expect(market).toBeDefined();
      expect(market!.listing_count).toBeGreaterThan(0);
      expect(market!.operator_name).toBeTruthy();
      expectError(await dealer.get("/api/v1/open-markets"), 404, "not_found");
      // The operator's own list stays where it was.
      expectError(await buyer.get("/api/v1/markets"), 404, "not_found");
    });
  });

  describe("a payer reads its own balances", () => {
    it("a dealer: its wallet and each credit line with limit, used, held and overdue, as the ledger holds them", async () => {
      const balances = ok<Balances>(await dealer.get("/api/v1/balances"));
      const wallet = await findAccountByCode(t.db, `wallet:${ids.dealer}`);
      expect(balances.wallet).toEqual({ balance_fen: wallet?.balanceFen ?? 0, held_fen: wallet?.pendingFen ?? 0, available_fen: wallet?.availableFen ?? 0 });
      const line = balances.credit_lines.find((l) => l.supplier.id === ids.core)!;
      expect(line.supplier.name).toBe("华通电器");
      const link = await t.db.selectFrom("dealer_links").select("id").where("core_enterprise_id", "=", ids.core).where("dealer_id", "=", ids.dealer).executeTakeFirstOrThrow();
      const summary = await creditSummary(t.db, link.id);
      expect(line.limit_fen).toBe(summary.limitFen);
      expect(line.used_fen + line.held_fen).toBe(summary.usedFen);
      expect(line.available_fen).toBe(summary.availableFen);
      expect(line.limit_fen - line.used_fen - line.held_fen).toBe(line.available_fen);
      // The demo has an on-account order 40 days old on 30-day terms.
      const position = await onAccountPosition(t.db, { coreEnterpriseId: ids.core, dealerId: ids.dealer, today: shanghaiDate(new Date()) });
      expect(line.overdue_fen).toBe(position.overdueFen);
      expect(line.overdue_fen).toBeGreaterThan(0);
      expect(line.overdue_orders).toBe(position.overdueCount);
    });

    it("a buyer: its wallet, no credit lines", async () => {
      const balances = ok<Balances>(await buyer.get("/api/v1/balances"));
      const wallet = await findAccountByCode(t.db, `wallet:${ids.buyer}`);
      expect(balances.wallet.balance_fen).toBe(wallet?.balanceFen ?? 0);
      expect(balances.credit_lines).toEqual([]);
    });

    it("each organisation reads only its own: another dealer of the same supplier sees its own line, not this one's", async () => {
      const mine = ok<Balances>(await dealer.get("/api/v1/balances"));
      const theirs = ok<Balances>(await dealer3.get("/api/v1/balances"));
      const link3 = await t.db.selectFrom("dealer_links").select("id").where("core_enterprise_id", "=", ids.core).where("dealer_id", "=", ids.dealer3).executeTakeFirstOrThrow();
      const summary3 = await creditSummary(t.db, link3.id);
      expect(theirs.credit_lines).toHaveLength(1);
      expect(theirs.credit_lines[0].limit_fen).toBe(summary3.limitFen);
      expect(theirs.credit_lines[0].overdue_fen).toBe(0);
      expect(mine.credit_lines[0].overdue_fen).toBeGreaterThan(0);
      const wallet3 = await findAccountByCode(t.db, `wallet:${ids.dealer3}`);
      expect(theirs.wallet.balance_fen).toBe(wallet3?.balanceFen ?? 0);
      // The same user acting for its other dealer reads that dealer's figures, not the first's.
      const other = ok<Balances>(await dealer2.get("/api/v1/balances"));
      const link2 = await t.db.selectFrom("dealer_links").select("id").where("core_enterprise_id", "=", ids.core).where("dealer_id", "=", ids.dealer2).executeTakeFirstOrThrow();
      expect(other.credit_lines.map((l) => [l.supplier.id, l.limit_fen])).toEqual([[ids.core, (await creditSummary(t.db, link2.id)).limitFen]]);
      const position2 = await onAccountPosition(t.db, { coreEnterpriseId: ids.core, dealerId: ids.dealer2, today: shanghaiDate(new Date()) });
      expect(other.credit_lines[0].overdue_fen).toBe(position2.overdueFen);
    });
  });

  describe("errors an ERP can act on", () => {
    it("names each field as the client sent it, with a stable code; the words are in the message", async () => {
      const unknownSku = expectError(
        await dealer.post("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-XQB80-M21", quantity: 20 }, { sku_code: "NO-SUCH-SKU", quantity: 1 }] }),
        422,
        "validation",
      );
      expect(unknownSku.fields).toEqual({ "lines.1.sku_code": "unknown" });
      const pack = expectError(await dealer.post("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-DF-3001", quantity: 7 }] }), 422);
      expect(pack.fields).toEqual({ "lines.0.quantity": "not_whole_packs" });
      expect(pack.message).toContain("pack size");
      expect(unknownSku.message).toContain("NO-SUCH-SKU");

      const byId = expectError(
        await dealer.post("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_id: "00000000-0000-4000-8000-000000000000", quantity: 1 }] }),
        422,
      );
      expect(byId.fields).toEqual({ "lines.0.sku_id": "unknown" });

      const shape = expectError(await dealer.post("/api/v1/orders", { lines: [{ sku_code: "X", quantity: 0 }], colour: "red" }), 422, "validation");
      expect(shape.fields).toEqual({ core_enterprise_id: "required", "lines.0.quantity": "too_small", colour: "unknown" });
      expect(shape.message).toContain("lines.0.quantity");

      const type = expectError(await core.post("/api/v1/skus", { code: "A-1", name: "x", unit: "件", pack_size: "2", moq: 1, base_price_fen: 1, tax_rate_bps: 1300 }), 422);
      expect(type.fields).toEqual({ pack_size: "invalid_type" });

      const enumValue = expectError(await dealer.get("/api/v1/orders?status=nonsense"), 422);
      expect(enumValue.fields).toEqual({ status: "invalid_value" });
    });

    it("a model's own field codes come through as codes under the API's names (markets)", async () => {
      const market = expectError(await operator.post("/api/v1/markets", { name: "", city: "杭州", categories: ["女装"], auto_confirm_days: 99, unpaid_expiry_minutes: 30 }), 422, "validation");
      for (const value of Object.values(market.fields)) expect(value).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(Object.keys(market.fields)).toEqual(expect.arrayContaining(["name", "auto_confirm_days"]));
      expect(market.message.length).toBeGreaterThan(20);
    });

    it("every field value in every refusal above is a code, never a sentence", async () => {
      const refusals = [
        await dealer.post("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-XQB80-M21", quantity: 1 }] }),
        await core.post(`/api/v1/skus`, { code: "bad code!", name: "x", unit: "件", pack_size: 1, moq: 3, base_price_fen: -1, tax_rate_bps: 1 }),
        await dealer.post("/api/v1/price-quotes", { core_enterprise_id: ids.core, lines: [{ sku_code: "NOPE", quantity: 1 }] }),
        await merchant.post(`/api/v1/markets/${ids.market}/listings`, { title: "" }),
      ];
      for (const res of refusals) {
        const error = expectError(res, res.status);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(Object.keys(error.fields).length, JSON.stringify(error)).toBeGreaterThan(0);
        for (const [name, value] of Object.entries(error.fields)) {
          expect(name).not.toMatch(/[A-Z]/);
          expect(value, `${name} in ${JSON.stringify(error)}`).toMatch(/^[a-z][a-z0-9_]*$/);
        }
      }
    });
  });

  describe("an action in the wrong state is 409 invalid_state, before fields that only matter in the right state", () => {
    async function orderIn(status: "submitted" | "completed", dealerId = ids.dealer): Promise<string> {
      const row = await t.db.selectFrom("orders").select("id").where("status", "=", status).where("dealer_id", "=", dealerId).where("kind", "!=", "return").executeTakeFirst();
      if (!row) throw new Error(`the demo has no order ${status}`);
      return row.id;
    }

    it("dealer orders: ship, confirm, receive, cancel, pay", async () => {
      const submitted = await orderIn("submitted");
      const completed = await orderIn("completed");
      const ship = expectError(await core.post(`/api/v1/orders/${submitted}/ship`, { carrier: "顺丰", tracking_number: "SF1" }), 409, "invalid_state");
      expect(ship.fields).toEqual({ status: "invalid_state" });
      expect(ship.message).toContain("submitted");
      expectError(await core.post(`/api/v1/orders/${completed}/confirm`, {}), 409, "invalid_state");
      expectError(await dealer.post(`/api/v1/orders/${submitted}/receive`, {}), 409, "invalid_state");
      expectError(await dealer.post(`/api/v1/orders/${completed}/cancel`, { reason: "不要了" }), 409, "invalid_state");
      expectError(await dealer.post(`/api/v1/orders/${completed}/pay`, { method: "wallet" }), 409, "invalid_state");
      expectError(await dealer.post(`/api/v1/orders/${submitted}/pay`, { method: "wallet" }), 409, "invalid_state");
      expectError(await core.post(`/api/v1/orders/${completed}/reject`, { reason: "no" }), 409, "invalid_state");
      // Fields that only matter in the right state are not looked at first.
      expectError(await core.post(`/api/v1/orders/${completed}/confirm`, { lines: [{ line_id: "no-such-line", quantity: 1, reason: "少" }] }), 409, "invalid_state");
      expectError(await core.post(`/api/v1/orders/${completed}/ship`, { carrier: "顺丰", tracking_number: "SF2", lines: [{ line_id: "no-such-line", quantity: 5 }] }), 409, "invalid_state");
      expectError(await dealer.post(`/api/v1/orders/${submitted}/returns`, { lines: [{ line_id: "no-such-line", quantity: 5 }], reason: "坏了" }), 409, "invalid_state");
      expectError(await dealer.post(`/api/v1/orders/${submitted}/approve`, { decision: "approve" }), 409, "invalid_state");
      // Nothing moved.
      expect((await t.db.selectFrom("orders").select("status").where("id", "=", submitted).executeTakeFirstOrThrow()).status).toBe("submitted");
    });

    it("market orders and checkouts: ship, receive, cancel, pay", async () => {
      const seller = await orgOf("seller@demo.test");
      const inStatus = async (status: "settled" | "placed") =>
        await t.db.selectFrom("market_orders").select(["id", "checkout_id", "merchant_id"]).where("status", "=", status).where("buyer_id", "=", ids.buyer).orderBy(sql`merchant_id = ${seller}`, "desc").executeTakeFirstOrThrow();
      const settled = await inStatus("settled");
      expect(settled.merchant_id).toBe(seller);
      const placed = await inStatus("placed");
      const ship = expectError(await merchant.post(`/api/v1/market-orders/${settled.id}/ship`, { carrier: "顺丰", tracking_no: "SF-1" }), 409, "invalid_state");
      for (const value of Object.values(ship.fields)) expect(value).toBe("invalid_state");
      if (placed.merchant_id === seller) expectError(await merchant.post(`/api/v1/market-orders/${placed.id}/ship`, { carrier: "顺丰", tracking_no: "SF-2" }), 409, "invalid_state");
      expectError(await buyer.post(`/api/v1/market-orders/${placed.id}/receive`, {}), 409, "invalid_state");
      expectError(await merchant.post(`/api/v1/market-orders/${settled.id}/cancel`, { reason: "缺货" }), 409, "invalid_state");
      expectError(await buyer.post(`/api/v1/market-checkouts/${settled.checkout_id}/cancel`, {}), 409, "invalid_state");
      expectError(await buyer.post(`/api/v1/market-orders/${placed.id}/dispute`, { statement: "货不对" }), 409, "invalid_state");
      // A checkout the buyer gave up can be neither paid nor cancelled again.
      expect((await buyer.post(`/api/v1/market-checkouts/${placed.checkout_id}/cancel`, {})).status).toBe(200);
      expectError(await buyer.post(`/api/v1/market-checkouts/${placed.checkout_id}/pay`, { method: "wallet" }), 409, "invalid_state");
      expectError(await buyer.post(`/api/v1/market-checkouts/${placed.checkout_id}/cancel`, {}), 409, "invalid_state");
      expectError(await buyer.post(`/api/v1/market-orders/${placed.id}/receive`, {}), 409, "invalid_state");
    });
  });

  describe("X-Request-Id", () => {
    it("comes once on a page, an API answer and an API error, and echoes a caller's id", async () => {
      const page = await fetch(`${server.url}/login`);
      const api = await dealer.get("/api/v1/me");
      const error = await dealer.get("/api/v1/orders/00000000-0000-4000-8000-000000000000");
      const unknown = await dealer.get("/api/v1/no-such-thing");
      expect(error.status).toBe(404);
      for (const headers of [page.headers, api.headers, error.headers, unknown.headers]) {
        const id = headers.get("x-request-id");
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
        expect(id).not.toContain(",");
      }
      const echoed = await dealer.get("/api/v1/me", { "X-Request-Id": "erp-42" });
      expect(echoed.headers.get("x-request-id")).toBe("erp-42");
    });
  });

  describe("cursors", () => {
    /** Every list endpoint, with a caller that may read it and its path filled in. */
    function lists(): Record<string, [ApiClient, string]> {
      return {
        "/api/v1/suppliers": [dealer, "/api/v1/suppliers"],
        "/api/v1/suppliers/{id}/skus": [dealer, `/api/v1/suppliers/${ids.core}/skus`],
        "/api/v1/open-markets": [buyer, "/api/v1/open-markets"],
        "/api/v1/skus": [core, "/api/v1/skus"],
        "/api/v1/dealers": [core, "/api/v1/dealers"],
        "/api/v1/orders": [dealer, "/api/v1/orders"],
        "/api/v1/campaigns": [core, "/api/v1/campaigns"],
        "/api/v1/markets": [operator, "/api/v1/markets"],
        "/api/v1/markets/{id}/stalls": [operator, `/api/v1/markets/${ids.market}/stalls`],
        "/api/v1/markets/{id}/merchants": [operator, `/api/v1/markets/${ids.market}/merchants`],
        "/api/v1/markets/{id}/applications": [operator, `/api/v1/markets/${ids.market}/applications`],
        "/api/v1/markets/{id}/fee-schedules": [operator, `/api/v1/markets/${ids.market}/fee-schedules`],
        "/api/v1/markets/{marketId}/listings": [buyer, `/api/v1/markets/${ids.market}/listings`],
        "/api/v1/market-orders": [buyer, "/api/v1/market-orders"],
        "/api/v1/markets/{marketId}/announcements": [operator, `/api/v1/markets/${ids.market}/announcements`],
        "/api/v1/financing/loans": [dealer, "/api/v1/financing/loans"],
        "/api/v1/settlement/payouts": [core, "/api/v1/settlement/payouts"],
      };
    }

    it("the table above covers every list the OpenAPI document has", () => {
      const paged = allEndpoints()
        .filter((e) => e.method === "GET" && e.query && "after" in e.query.shape)
        .map((e) => e.path)
        .sort();
      expect(Object.keys(lists()).sort()).toEqual(paged);
    });

    it("every list refuses a garbage, forged or foreign cursor with 422 naming `after`, and walks its own", async () => {
      const forged = [
        "garbage",
        "not-a-cursor!",
        Buffer.from("HT-XQB80-M21").toString("base64url"),
        Buffer.from('["x","y","z","w"]').toString("base64url"),
        Buffer.from("[1]").toString("base64url"),
        "%00%01",
      ];
      for (const [path, [client, url]] of Object.entries(lists())) {
        for (const bad of forged) {
          const res = await client.get(`${url}?after=${bad.startsWith("%") ? bad : encodeURIComponent(bad)}`);
          const error = expectError(res, 422, "validation");
          expect(error.fields, `${path} after=${bad}`).toEqual({ after: "invalid_cursor" });
        }
        // Its own cursor works.
        const first = ok<Page<unknown>>(await client.get(`${url}?limit=1`));
        if (first.next_cursor) ok(await client.get(`${url}?limit=1&after=${encodeURIComponent(first.next_cursor)}`));
      }
    });

    it("a SKU code is no longer a cursor: the catalogue's cursor is opaque like the others", async () => {
      const first = ok<Page<{ code: string }>>(await core.get("/api/v1/skus?limit=1"));
      expect(first.next_cursor).not.toBe(first.data[0].code);
      expectError(await core.get(`/api/v1/skus?after=${encodeURIComponent(first.data[0].code)}`), 422);
      const second = ok<Page<{ code: string }>>(await core.get(`/api/v1/skus?limit=1&after=${encodeURIComponent(first.next_cursor!)}`));
      expect(second.data[0].code > first.data[0].code).toBe(true);
    });
  });

  describe("the OpenAPI document", () => {
    type Doc = {
      paths: Record<string, Record<string, { parameters?: { name: string; description?: string }[]; responses: Record<string, unknown> }>>;
      components: { schemas: { Error: { properties: { error: { properties: { fields: { description: string } } } } } }; responses: Record<string, { description: string }> };
    };

    it("lists the new endpoints, the field codes, 409 invalid_state and the cursor parameter", async () => {
      const doc = ok<Doc>(await new ApiClient(server.url).get("/api/v1/openapi.json"));
      for (const path of ["/api/v1/suppliers", "/api/v1/suppliers/{id}/skus", "/api/v1/open-markets", "/api/v1/balances"]) expect(doc.paths[path]?.get, path).toBeDefined();
      const skuProps = JSON.stringify(doc.paths["/api/v1/suppliers/{id}/skus"].get.responses["200"]);
      for (const field of ["code", "spec", "unit", "pack_size", "moq", "unit_price_fen", "stock_available", "in_stock"]) expect(skuProps).toContain(`"${field}"`);
      const balances = JSON.stringify(doc.paths["/api/v1/balances"].get.responses["200"]);
      for (const field of ["limit_fen", "used_fen", "held_fen", "overdue_fen", "available_fen"]) expect(balances).toContain(`"${field}"`);
      const fields = doc.components.schemas.Error.properties.error.properties.fields.description;
      for (const code of ["required", "unknown", "too_small", "invalid_state", "invalid_cursor"]) expect(fields).toContain(`\`${code}\``);
      expect(doc.components.responses.Error409.description).toContain("invalid_state");
      for (const action of ["/api/v1/orders/{id}/ship", "/api/v1/orders/{id}/confirm", "/api/v1/market-orders/{id}/receive", "/api/v1/market-checkouts/{id}/pay"]) {
        expect(doc.paths[action].post.responses["409"], action).toEqual({ $ref: "#/components/responses/Error409" });
      }
      const after = doc.paths["/api/v1/suppliers/{id}/skus"].get.parameters?.find((p) => p.name === "after");
      expect(after?.description).toContain("invalid_cursor");
    });
  });
});
