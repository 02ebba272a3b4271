import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../app/domain/identity/api-keys.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { createSku } from "../../app/domain/catalog/catalog.server";
import { seedDemoData } from "../../app/seed/demo.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createSeason } from "../../app/domain/orders/seasons.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";

type Page<T> = { data: T[]; next_cursor: string | null };
type Sku = { id: string; code: string; name: string; stock_on_hand: number; stock_reserved: number; base_price_fen: number; status: string };
type Link = { id: string; dealer: { id: string; name: string }; region: string; payment_terms_days: number; status: string; credit_limit_fen: number; credit_used_fen: number };
type OrderLine = { id: string; sku_code: string; quantity_ordered: number; quantity_confirmed: number | null; quantity_shipped: number; unit_price_fen: number; price_rule: string };
type Order = {
  id: string;
  number: string;
  kind: string;
  status: string;
  role: string;
  total_fen: number;
  paid_fen: number;
  payment_method: string | null;
  due_on: string | null;
  on_account_outstanding_fen: number;
  actions: string[];
  lines: OrderLine[];
  shipments: { tracking_number: string; lines: { line_id: string; quantity: number }[] }[];
  timeline: { event: string }[];
  original_order_id: string | null;
};

/**
 * The supply-chain endpoints over HTTP with the demo world: 华通电器 (core), 杭州鑫达 (its gold
 * dealer, dealer@demo.test as owner), 宁波鑫达 (another dealer, dealer@demo.test as purchaser), and a
 * stranger core enterprise with a SKU of its own.
 */
describe("API: catalogue, pricing, dealers and orders", () => {
  let t: TestDatabase;
  let server: TestServer;
  let core: ApiClient;
  let dealer: ApiClient;
  let dealer2: ApiClient;
  let stranger: ApiClient;
  /** Owner of 绍兴万家福, another dealer of the same supplier. */
  let dealer3: ApiClient;
  const ids = {} as { core: string; dealer: string; dealer2: string; stranger: string; strangerSku: string };

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: "demo1234" });
    const org = async (name: string) => (await t.db.selectFrom("organizations").select("id").where("name", "=", name).executeTakeFirstOrThrow()).id;
    ids.core = await org("华通电器");
    ids.dealer = await org("杭州鑫达商贸有限公司");
    ids.dealer2 = await org("宁波鑫达电器销售有限公司");
    const other = await createOrg(t.db, { kind: "core_enterprise" });
    ids.stranger = other.id;
    const owner = await createUser(t.db, { memberships: [[other.id, "owner"]] });
    ids.strangerSku = (
      await createSku(t.db, SYSTEM_ACTOR, other.id, { code: "ZZ-1", name: "别家的货", spec: "", unit: "件", packSize: 1, moq: 1, basePriceFen: 100, taxRateBps: 1300, stockOnHand: 5 })
    ).id;
    server = await startTestServer(t.db);
    core = await apiLogin(server.url, "core@demo.test", "demo1234");
    dealer = await apiLogin(server.url, "dealer@demo.test", "demo1234", ids.dealer);
    dealer2 = await apiLogin(server.url, "dealer@demo.test", "demo1234", ids.dealer2);
    stranger = await apiLogin(server.url, owner.email, TEST_PASSWORD);
    const dealer3Owner = await createUser(t.db, { memberships: [[await org("绍兴万家福电器有限公司"), "owner"]] });
    dealer3 = await apiLogin(server.url, dealer3Owner.email, TEST_PASSWORD);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function sku(code: string): Promise<Sku> {
    const page = await core.get<Page<Sku>>(`/api/v1/skus?search=${encodeURIComponent(code)}`);
    const found = page.body.data.find((s) => s.code === code);
    if (!found) throw new Error(`no SKU ${code}`);
    return found;
  }

  async function linkOf(dealerId: string): Promise<Link> {
    const page = await core.get<Page<Link>>("/api/v1/dealers?limit=100");
    return page.body.data.find((l) => l.dealer.id === dealerId)!;
  }

  describe("catalogue", () => {
    it("lists SKUs in code order, in cursor pages, and searches", async () => {
      const first = await core.get<Page<Sku>>("/api/v1/skus?limit=5");
      expect(first.status).toBe(200);
      expect(first.body.data).toHaveLength(5);
      expect(first.body.next_cursor).toBeTruthy();
      const second = await core.get<Page<Sku>>(`/api/v1/skus?limit=5&after=${encodeURIComponent(first.body.next_cursor!)}`);
      expect(second.body.data).toHaveLength(5);
      const codes = [...first.body.data, ...second.body.data].map((s) => s.code);
      expect(codes).toEqual([...codes].sort());
      expect(new Set(codes).size).toBe(10);
      const search = await core.get<Page<Sku>>(`/api/v1/skus?search=${encodeURIComponent("电饭煲")}`);
      expect(search.body.data.map((s) => s.code).sort()).toEqual(["HT-DF-3001", "HT-DF-4001"]);
    });

    it("creates a SKU, reads it, and updates only the fields sent", async () => {
      const created = await core.post<Sku & { pack_size: number; moq: number; spec: string }>("/api/v1/skus", {
        code: "ht-api-001",
        name: "API 测试机",
        spec: "初版",
        unit: "台",
        pack_size: 2,
        moq: 4,
        base_price_fen: 123_400,
        tax_rate_bps: 1300,
        stock_on_hand: 50,
        category: "空调",
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ code: "HT-API-001", pack_size: 2, moq: 4, base_price_fen: 123_400, stock_on_hand: 50, status: "active" });
      const got = await core.get<Sku>(`/api/v1/skus/${created.body.id}`);
      expect(got.body).toEqual(created.body);
      const updated = await core.post<Sku & { spec: string; moq: number }>(`/api/v1/skus/${created.body.id}`, { base_price_fen: 120_000, status: "inactive" });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ base_price_fen: 120_000, status: "inactive", spec: "初版", moq: 4, stock_on_hand: 50 });
      // Stock may not go below what confirmed orders hold: the model's rule, under the API's field name.
      const tooLow = expectError(await core.post(`/api/v1/skus/${created.body.id}`, { stock_on_hand: -1 }), 422, "validation");
      expect(tooLow.fields.stock_on_hand).toBeDefined();
      expectError(await core.post(`/api/v1/skus/${created.body.id}`, {}), 422, "validation");
    });
  });

  describe("price quotes", () => {
    it("prices lines for a dealer with the rule that won, by code or id, as the supplier and as the dealer", async () => {
      const ac = await sku("HT-KFR-35GW-A1");
      const asCore = await core.post<{ total_fen: number; data: { sku_code: string; unit_price_fen: number; amount_fen: number; rule: string; summary: string }[] }>(
        "/api/v1/price-quotes",
        { dealer_id: ids.dealer, lines: [{ sku_code: "HT-KFR-35GW-A1", quantity: 2 }, { sku_id: (await sku("HT-BC-93")).id, quantity: 2 }] },
      );
      expect(asCore.status).toBe(200);
      expect(asCore.body.data[0]).toMatchObject({ sku_code: ac.code, unit_price_fen: 229_900, amount_fen: 459_800, rule: "dealer_override" });
      expect(asCore.body.data[1].sku_code).toBe("HT-BC-93");
      expect(["tier_price", "volume_break"]).toContain(asCore.body.data[1].rule);
      expect(asCore.body.total_fen).toBe(asCore.body.data[0].amount_fen + asCore.body.data[1].amount_fen);
      const asDealer = await dealer.post<{ data: { unit_price_fen: number; rule: string }[] }>("/api/v1/price-quotes", {
        core_enterprise_id: ids.core,
        lines: [{ sku_code: "HT-KFR-35GW-A1", quantity: 2 }],
      });
      expect(asDealer.status).toBe(200);
      expect(asDealer.body.data[0]).toMatchObject({ unit_price_fen: 229_900, rule: "dealer_override" });
      const unknown = expectError(await core.post("/api/v1/price-quotes", { dealer_id: ids.dealer, lines: [{ sku_code: "NOPE-1", quantity: 1 }] }), 422);
      expect(unknown.fields["lines.0.sku_code"]).toBe("unknown_sku");
    });
  });

  describe("dealer network", () => {
    it("lists and reads dealers with their credit, and changes terms and status in one request", async () => {
      const list = await core.get<Page<Link>>("/api/v1/dealers");
      expect(list.status).toBe(200);
      expect(list.body.data.map((l) => l.dealer.name)).toEqual(expect.arrayContaining(["杭州鑫达商贸有限公司", "宁波鑫达电器销售有限公司"]));
      const link = await linkOf(ids.dealer2);
      expect(link).toMatchObject({ payment_terms_days: 45, credit_limit_fen: 20_000_000, status: "active" });
      const got = await core.get<Link>(`/api/v1/dealers/${link.id}`);
      expect(got.body).toEqual(link);

      const changed = await core.post<Link>(`/api/v1/dealers/${link.id}`, { credit_limit_fen: 25_000_000, payment_terms_days: 60, status: "suspended", reason: "年度复核" });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ credit_limit_fen: 25_000_000, payment_terms_days: 60, status: "suspended", region: link.region });
      // Suspended: the dealer can no longer order.
      expectError(await dealer2.post("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-BC-93", quantity: 2 }] }), 404, "not_found");
      const back = await core.post<Link>(`/api/v1/dealers/${link.id}`, { status: "active" });
      expect(back.body).toMatchObject({ status: "active", credit_limit_fen: 25_000_000 });

      const bad = expectError(await core.post(`/api/v1/dealers/${link.id}`, { credit_limit_fen: -5, payment_terms_days: 9999 }), 422, "validation");
      expect(Object.keys(bad.fields).sort()).toEqual(["credit_limit_fen", "payment_terms_days"]);
      expect((await core.get<Link>(`/api/v1/dealers/${link.id}`)).body.credit_limit_fen).toBe(25_000_000);
    });
  });

  describe("orders", () => {
    it("runs a standard order end to end: dealer creates, core confirms with an adjustment, dealer pays on account, core ships in two parts, dealer receives", async () => {
      const stockBefore = await sku("HT-BCD-218");
      const created = await dealer.post<Order>("/api/v1/orders", {
        core_enterprise_id: ids.core,
        kind: "standard",
        lines: [
          { sku_code: "HT-KFR-35GW-A1", quantity: 3 },
          { sku_id: stockBefore.id, quantity: 4 },
        ],
        note: "API 下单",
      });
      expect(created.status).toBe(201);
      const order = created.body;
      expect(order).toMatchObject({ kind: "standard", status: "submitted", role: "dealer" });
      expect(order.lines.map((l) => [l.sku_code, l.quantity_ordered])).toEqual([
        ["HT-KFR-35GW-A1", 3],
        ["HT-BCD-218", 4],
      ]);
      expect(order.lines[0]).toMatchObject({ unit_price_fen: 229_900, price_rule: "dealer_override" });
      expect(order.actions).toContain("cancel");

      // The supplier sees it and confirms, taking one fridge off with a reason.
      const listed = await core.get<Page<{ id: string; status: string }>>("/api/v1/orders?status=submitted&kind=standard");
      expect(listed.body.data.map((o) => o.id)).toContain(order.id);
      const fridge = order.lines[1];
      const confirmed = await core.post<Order>(`/api/v1/orders/${order.id}/confirm`, { lines: [{ line_id: fridge.id, quantity: 3, reason: "库存调配" }] });
      expect(confirmed.status).toBe(200);
      expect(confirmed.body).toMatchObject({ status: "confirmed", role: "core_enterprise" });
      expect(confirmed.body.lines[1].quantity_confirmed).toBe(3);
      const expectedTotal = 3 * order.lines[0].unit_price_fen + 3 * fridge.unit_price_fen;
      expect(confirmed.body.total_fen).toBe(expectedTotal);
      expect((await sku("HT-BCD-218")).stock_reserved).toBe(stockBefore.stock_reserved + 3);

      // The dealer pays on account: the credit line carries it, due after 30 days.
      const creditBefore = (await linkOf(ids.dealer)).credit_used_fen;
      const paid = await dealer.post<Order>(`/api/v1/orders/${order.id}/pay`, { method: "on_account" });
      expect(paid.status).toBe(200);
      expect(paid.body).toMatchObject({ status: "paid", payment_method: "on_account", on_account_outstanding_fen: expectedTotal });
      expect(paid.body.due_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect((await linkOf(ids.dealer)).credit_used_fen).toBe(creditBefore + expectedTotal);

      // Two shipments: the air conditioners first, then whatever is left.
      const part = await core.post<Order>(`/api/v1/orders/${order.id}/ship`, {
        carrier: "顺丰",
        tracking_number: "SF100",
        lines: [{ line_id: order.lines[0].id, quantity: 3 }],
      });
      expect(part.body.status).toBe("partially_shipped");
      const rest = await core.post<Order>(`/api/v1/orders/${order.id}/ship`, { carrier: "顺丰", tracking_number: "SF101" });
      expect(rest.body.status).toBe("shipped");
      expect(rest.body.shipments.map((s) => s.tracking_number)).toEqual(["SF100", "SF101"]);
      expect(rest.body.lines.map((l) => l.quantity_shipped)).toEqual([3, 3]);

      const received = await dealer.post<Order>(`/api/v1/orders/${order.id}/receive`, {});
      expect(received.status).toBe(200);
      expect(received.body.status).toBe("completed");
      expect(received.body.timeline.map((e) => e.event)).toEqual(
        expect.arrayContaining(["create", "submit", "confirm", "pay_on_account", "ship_part", "ship_all", "receive", "complete"]),
      );
      const got = await dealer.get<Order>(`/api/v1/orders/${order.id}`);
      expect(got.body.status).toBe("completed");

      // A return against the received order.
      const rma = await dealer.post<Order>(`/api/v1/orders/${order.id}/returns`, { lines: [{ line_id: order.lines[1].id, quantity: 1 }], reason: "外观破损" });
      expect(rma.status).toBe(201);
      expect(rma.body).toMatchObject({ kind: "return", status: "requested", original_order_id: order.id, total_fen: fridge.unit_price_fen });
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("pays from the wallet, rejects, and cancels with money and stock put back", async () => {
      const a = await dealer.post<Order>("/api/v1/orders", { core_enterprise_id: ids.core, kind: "replenishment", lines: [{ sku_code: "HT-SK-1715", quantity: 12 }] });
      expect(a.status).toBe(201);
      expect(a.body.kind).toBe("replenishment");
      await core.post(`/api/v1/orders/${a.body.id}/confirm`, {});
      const kettle = await sku("HT-SK-1715");
      const paid = await dealer.post<Order>(`/api/v1/orders/${a.body.id}/pay`, { method: "wallet" });
      expect(paid.body).toMatchObject({ status: "paid", payment_method: "wallet", paid_fen: paid.body.total_fen });
      const cancelled = await core.post<Order>(`/api/v1/orders/${a.body.id}/cancel`, { reason: "停产" });
      expect(cancelled.body).toMatchObject({ status: "cancelled", paid_fen: 0 });
      expect((await sku("HT-SK-1715")).stock_reserved).toBe(kettle.stock_reserved - 12);

      const b = await dealer.post<Order>("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-BC-93", quantity: 2 }] });
      const rejected = await core.post<Order>(`/api/v1/orders/${b.body.id}/reject`, { reason: "区域限制" });
      expect(rejected.body.status).toBe("rejected");
      // The state machine's refusal, not a 500.
      expectError(await core.post(`/api/v1/orders/${b.body.id}/confirm`, {}), 409, "invalid_state");
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("refuses bad lines naming each one and writes nothing", async () => {
      const count = async () => Number((await t.db.selectFrom("orders").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);
      const before = await count();
      const shape = expectError(
        await dealer.post("/api/v1/orders", {
          core_enterprise_id: ids.core,
          lines: [{ sku_code: "HT-BC-93", quantity: "2" }, { quantity: 1 }, { sku_code: "HT-BC-93", sku_id: randomUUID(), quantity: 1 }],
        }),
        422,
        "validation",
      );
      expect(Object.keys(shape.fields)).toEqual(expect.arrayContaining(["lines.0.quantity", "lines.1.sku_code", "lines.2.sku_code"]));
      const rules = expectError(
        await dealer.post("/api/v1/orders", {
          core_enterprise_id: ids.core,
          lines: [{ sku_code: "NOPE-404", quantity: 1 }, { sku_code: "HT-DF-3001", quantity: 7 }, { sku_code: "HT-BC-93", quantity: 2 }],
        }),
        422,
        "validation",
      );
      // Named as sent (`sku_code`), with codes; the message says what is wrong with each.
      expect(rules.fields).toEqual({ "lines.0.sku_code": "unknown", "lines.1.quantity": "not_whole_packs" });
      expect(rules.message).toContain("NOPE-404");
      expectError(await dealer.post("/api/v1/orders", { core_enterprise_id: ids.core, kind: "return", lines: [{ sku_code: "HT-BC-93", quantity: 2 }] }), 422);
      expect(await count()).toBe(before);
    });

    it("refuses paying on account beyond the credit limit, clearly, and charges nothing", async () => {
      const link = await linkOf(ids.dealer);
      await core.post(`/api/v1/dealers/${link.id}`, { credit_limit_fen: link.credit_used_fen + 1000 });
      const order = await dealer.post<Order>("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-FG-100W", quantity: 1 }] });
      await core.post(`/api/v1/orders/${order.body.id}/confirm`, {});
      const refusal = expectError(await dealer.post(`/api/v1/orders/${order.body.id}/pay`, { method: "on_account" }), 422);
      expect(refusal.message.length).toBeGreaterThan(0);
      expect((await linkOf(ids.dealer)).credit_used_fen).toBe(link.credit_used_fen);
      expect((await dealer.get<Order>(`/api/v1/orders/${order.body.id}`)).body.status).toBe("confirmed");
      await core.post(`/api/v1/dealers/${link.id}`, { credit_limit_fen: link.credit_limit_fen });
    });

    it("puts an order on account as it is created: held on the credit line, replayed by its Idempotency-Key, charged and paid when the supplier confirms", async () => {
      const before = (await linkOf(ids.dealer)).credit_used_fen;
      const body = { core_enterprise_id: ids.core, kind: "replenishment", lines: [{ sku_code: "HT-BCD-218", quantity: 2 }], payment_method: "on_account" };
      const key = randomUUID();
      const created = await dealer.post<Order>("/api/v1/orders", body, { key });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ kind: "replenishment", status: "submitted", payment_method: "on_account", due_on: null, paid_fen: 0 });
      expect((await linkOf(ids.dealer)).credit_used_fen).toBe(before + created.body.total_fen);

      // The same request again is the same answer, and the same single hold.
      const replay = await dealer.post<Order>("/api/v1/orders", body, { key });
      expect(replay.status).toBe(201);
      expect(replay.body.id).toBe(created.body.id);
      expect(replay.body.payment_method).toBe("on_account");
      expect((await linkOf(ids.dealer)).credit_used_fen).toBe(before + created.body.total_fen);

      // Another dealer of the same supplier, and another supplier, never see it.
      expectError(await dealer2.get(`/api/v1/orders/${created.body.id}`), 404, "not_found");
      expectError(await stranger.post(`/api/v1/orders/${created.body.id}/confirm`, {}), 404, "not_found");

      const confirmed = await core.post<Order>(`/api/v1/orders/${created.body.id}/confirm`, {});
      expect(confirmed.status).toBe(200);
      expect(confirmed.body).toMatchObject({ status: "paid", payment_method: "on_account", on_account_outstanding_fen: created.body.total_fen });
      expect(confirmed.body.due_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(confirmed.body.timeline.map((e) => e.event)).toEqual(expect.arrayContaining(["submit", "confirm", "pay_on_account"]));
      expect((await linkOf(ids.dealer)).credit_used_fen).toBe(before + created.body.total_fen);
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("refuses a payment_method it does not offer, a preorder or cart on account, and an order above the credit, naming payment_method and writing nothing", async () => {
      const count = async () => Number((await t.db.selectFrom("orders").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);
      const before = await count();
      const order = (extra: Record<string, unknown>) => dealer.post("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-BC-93", quantity: 2 }], ...extra });
      for (const value of ["wallet", "cash", "", 1, true]) {
        const refusal = expectError(await order({ payment_method: value }), 422, "validation");
        expect(Object.keys(refusal.fields), JSON.stringify(value)).toEqual(["payment_method"]);
      }
      const season =
        (await t.db.selectFrom("seasons").select("id").where("core_enterprise_id", "=", ids.core).where("status", "=", "open").executeTakeFirst()) ??
        (await createSeason(t.db, { ...SYSTEM_ACTOR, organizationId: ids.core }, ids.core, { name: "API 订货会", depositRateBps: 3000 }));
      const preorder = expectError(await order({ kind: "preorder", season_id: season.id, payment_method: "on_account" }), 422, "validation");
      expect(preorder.fields.payment_method).toBeDefined();
      const cart = expectError(await order({ submit: false, payment_method: "on_account" }), 422, "validation");
      expect(cart.fields.payment_method).toBeDefined();

      const link = await linkOf(ids.dealer);
      await core.post(`/api/v1/dealers/${link.id}`, { credit_limit_fen: link.credit_used_fen + 1000 });
      try {
        const over = expectError(await order({ payment_method: "on_account" }), 422, "insufficient_funds");
        expect(over.fields).toEqual({ payment_method: "insufficient_funds" });
        expect(over.message).toContain("exceeds the available credit");
        expect((await linkOf(ids.dealer)).credit_used_fen).toBe(link.credit_used_fen);
      } finally {
        await core.post(`/api/v1/dealers/${link.id}`, { credit_limit_fen: link.credit_limit_fen });
      }
      // Null is paying after confirmation, as when it is left out.
      const later = await dealer.post<Order>("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-BC-93", quantity: 2 }], payment_method: null });
      expect(later.status).toBe(201);
      expect(later.body).toMatchObject({ status: "submitted", payment_method: null });
      expect(await count()).toBe(before + 1);
    });

    it("documents payment_method on order creation in the OpenAPI document", async () => {
      type Schema = { $ref?: string; properties?: Record<string, Schema>; enum?: unknown[]; anyOf?: Schema[]; description?: string };
      const doc = (await new ApiClient(server.url).get<{ paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: Schema }> } }>>; components: { schemas: Record<string, Schema> } }>("/api/v1/openapi.json")).body;
      const resolve = (schema: Schema): Schema => (schema.$ref ? resolve(doc.components.schemas[schema.$ref.split("/").pop()!]) : schema);
      const body = resolve(doc.paths["/api/v1/orders"].post.requestBody.content["application/json"].schema);
      const field = resolve(body.properties!.payment_method);
      const values = [...(field.enum ?? []), ...(field.anyOf ?? []).flatMap((s) => resolve(s).enum ?? [])];
      expect(values).toContain("on_account");
      expect(JSON.stringify(field)).toContain("credit line");
    });
  });

  describe("tenancy: another organisation's ids are 404, never the data", () => {
    let orderId: string;
    let lineId: string;
    let linkId: string;

    beforeAll(async () => {
      const order = await dealer.post<Order>("/api/v1/orders", { core_enterprise_id: ids.core, lines: [{ sku_code: "HT-BC-93", quantity: 2 }] });
      orderId = order.body.id;
      lineId = order.body.lines[0].id;
      linkId = (await linkOf(ids.dealer)).id;
    });

    it("hides SKUs of another catalogue", async () => {
      expectError(await core.get(`/api/v1/skus/${ids.strangerSku}`), 404, "not_found");
      expectError(await core.post(`/api/v1/skus/${ids.strangerSku}`, { name: "改名" }), 404, "not_found");
      expectError(await core.get("/api/v1/skus/not-a-uuid"), 404, "not_found");
      // The catalogue endpoints do not exist for a dealer.
      expectError(await dealer.get("/api/v1/skus"), 404, "not_found");
      expectError(await dealer.get(`/api/v1/skus/${ids.strangerSku}`), 404, "not_found");
      const strangerSku = await t.db.selectFrom("skus").select("name").where("id", "=", ids.strangerSku).executeTakeFirstOrThrow();
      expect(strangerSku.name).toBe("别家的货");
    });

    it("hides another core enterprise's dealer links and dealers", async () => {
      expectError(await stranger.get(`/api/v1/dealers/${linkId}`), 404, "not_found");
      expectError(await stranger.post(`/api/v1/dealers/${linkId}`, { credit_limit_fen: 1 }), 404, "not_found");
      expect((await stranger.get<Page<Link>>("/api/v1/dealers")).body.data).toEqual([]);
      expectError(await stranger.post("/api/v1/price-quotes", { dealer_id: ids.dealer, lines: [{ sku_code: "ZZ-1", quantity: 1 }] }), 404, "not_found");
      // A dealer cannot price from a supplier it is not linked to, nor learn its codes.
      expectError(await dealer.post("/api/v1/price-quotes", { core_enterprise_id: ids.stranger, lines: [{ sku_code: "ZZ-1", quantity: 1 }] }), 404, "not_found");
      expectError(await dealer.post("/api/v1/price-quotes", { core_enterprise_id: ids.stranger, lines: [{ sku_code: "NOPE", quantity: 1 }] }), 404, "not_found");
    });

    it("hides orders from anyone but their dealer and supplier, for every action", async () => {
      for (const outsider of [stranger, dealer2, dealer3]) {
        expectError(await outsider.get(`/api/v1/orders/${orderId}`), 404, "not_found");
        expect((await outsider.get<Page<{ id: string }>>("/api/v1/orders?limit=100")).body.data.map((o) => o.id)).not.toContain(orderId);
      }
      expectError(await stranger.post(`/api/v1/orders/${orderId}/confirm`, {}), 404, "not_found");
      expectError(await stranger.post(`/api/v1/orders/${orderId}/reject`, { reason: "x" }), 404, "not_found");
      expectError(await stranger.post(`/api/v1/orders/${orderId}/ship`, { carrier: "x", tracking_number: "y", lines: [{ line_id: lineId, quantity: 1 }] }), 404, "not_found");
      expectError(await stranger.post(`/api/v1/orders/${orderId}/cancel`, { reason: "x" }), 404, "not_found");
      expectError(await dealer2.post(`/api/v1/orders/${orderId}/cancel`, { reason: "x" }), 404, "not_found");
      expectError(await dealer2.post(`/api/v1/orders/${orderId}/receive`, {}), 404, "not_found");
      expectError(await dealer2.post(`/api/v1/orders/${orderId}/pay`, { method: "wallet" }), 404, "not_found");
      expectError(await dealer2.post(`/api/v1/orders/${orderId}/returns`, { lines: [{ line_id: lineId, quantity: 1 }], reason: "x" }), 404, "not_found");
      expectError(await dealer3.post(`/api/v1/orders/${orderId}/approve`, { decision: "approve" }), 404, "not_found");
      expectError(await dealer3.post(`/api/v1/orders/${orderId}/cancel`, { reason: "x" }), 404, "not_found");
      // A role the endpoint needs is checked before any id is looked at: 403 tells nothing about the order.
      expectError(await dealer2.post(`/api/v1/orders/${orderId}/approve`, { decision: "approve" }), 403, "forbidden");
      // Ordering from a supplier one is not linked to.
      expectError(await dealer.post("/api/v1/orders", { core_enterprise_id: ids.stranger, lines: [{ sku_code: "ZZ-1", quantity: 1 }] }), 404, "not_found");
      const order = await dealer.get<Order>(`/api/v1/orders/${orderId}`);
      expect(order.body.status).toBe("submitted");
    });

    it("lets an API key act only for its own organisation", async () => {
      const { secret } = await createApiKey(t.db, SYSTEM_ACTOR, ids.stranger, { name: "stranger ERP" });
      const key = new ApiClient(server.url, secret);
      expectError(await key.get(`/api/v1/orders/${orderId}`), 404, "not_found");
      expectError(await key.get(`/api/v1/dealers/${linkId}`), 404, "not_found");
      expect((await key.get<Page<Sku>>("/api/v1/skus")).body.data.map((s) => s.code)).toEqual(["ZZ-1"]);
    });
  });
});
