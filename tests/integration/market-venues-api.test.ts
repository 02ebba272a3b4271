import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { createMarket, createStall, submitMerchantApplication } from "../../app/domain/market/venues.server";
import { createOrganization } from "../../app/domain/identity/organizations.server";
import { USCC_MESSAGES } from "../../app/domain/shared/uscc";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError, type ApiAnswer } from "./api.fixtures";
import { corruptUscc, randomUscc, today } from "./recruitment.fixtures";

type Json = Record<string, unknown>;
type Page<T> = { data: T[]; next_cursor: string | null };
type MarketJson = {
  id: string;
  name: string;
  city: string;
  categories: string[];
  auto_confirm_days: number;
  unpaid_expiry_minutes: number;
  status: string;
  membership: { id: string; status: string; stall: { id: string; code: string } | null; categories: string[] } | null;
};
type ZoneJson = { id: string; market_id: string; name: string };
type StallJson = {
  id: string;
  code: string;
  zone: { id: string; name: string } | null;
  area_dm2: number;
  monthly_rent_fen: number;
  status: string;
  merchant_name: string | null;
  actions: string[];
};
type MerchantJson = {
  id: string;
  organization: { id: string; name: string; uscc: string | null };
  stall: { id: string; code: string } | null;
  categories: string[];
  status: string;
  status_reason: string;
  actions: string[];
};
type ApplicationJson = {
  id: string;
  status: string;
  uscc: string;
  company_name: string;
  categories: string[];
  decision_reason: string;
  assigned_stall: { id: string; code: string } | null;
  merchant_organization_id: string | null;
  actions: string[];
};
type FeeJson = { id: string; category: string; commission_rate_bps: number; min_fee_fen: number; effective_from: string; state: string };

/**
 * The market operator's venues API over HTTP: 杭州服装城运营 (the operator: an owner and a viewer)
 * runs markets, zones, stalls, merchants, applications and fee schedules; another operator's ids
 * are 404; a dealer and a buyer do not see these endpoints; a merchant reads the markets it trades
 * in. Bad input is 4xx naming the snake_case field, with nothing written.
 */
describe("market venues API", () => {
  let t: TestDatabase;
  let server: TestServer;
  let owner: ApiClient;
  let viewer: ApiClient;
  let stranger: ApiClient;
  let dealer: ApiClient;
  let buyer: ApiClient;
  let merchant: ApiClient;
  const ids = {} as {
    operator: string;
    strangerOperator: string;
    strangerMarket: string;
    strangerStall: string;
    strangerApplication: string;
    merchantOrg: string;
    merchantUscc: string;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const operator = await createOrg(t.db, { kind: "market_operator", name: "杭州服装城运营" });
    ids.operator = operator.id;
    const ownerUser = await createUser(t.db, { memberships: [[operator.id, "owner"]] });
    const viewerUser = await createUser(t.db, { memberships: [[operator.id, "viewer"]] });

    const other = await createOrg(t.db, { kind: "market_operator", name: "别家市场运营" });
    ids.strangerOperator = other.id;
    const otherOwner = await createUser(t.db, { memberships: [[other.id, "owner"]] });
    const actor = { ...SYSTEM_ACTOR, organizationId: other.id };
    const otherMarket = await createMarket(t.db, actor, other.id, { name: "别家市场", city: "温州", categories: "鞋", autoConfirmDays: 7, unpaidExpiryMinutes: 30 });
    ids.strangerMarket = otherMarket.id;
    ids.strangerStall = (await createStall(t.db, actor, other.id, otherMarket.id, { code: "Z-1", area: 1000, monthlyRent: 100 })).id;
    ids.strangerApplication = (
      await submitMerchantApplication(t.db, actor, other.id, otherMarket.id, {
        uscc: randomUscc(),
        companyName: "别家商户",
        legalRepresentative: "王五",
        contactName: "王五",
        contactPhone: "13900000000",
        categories: ["鞋"],
      })
    ).id;

    const dealerOrg = await createOrg(t.db, { kind: "dealer" });
    const dealerUser = await createUser(t.db, { memberships: [[dealerOrg.id, "owner"]] });
    const buyerOrg = await createOrg(t.db, { kind: "buyer" });
    const buyerUser = await createUser(t.db, { memberships: [[buyerOrg.id, "owner"]] });
    ids.merchantUscc = randomUscc();
    const merchantOrg = await createOrganization(t.db, SYSTEM_ACTOR, { kind: "merchant", name: "李记服饰商行", uscc: ids.merchantUscc });
    ids.merchantOrg = merchantOrg.id;
    const merchantUser = await createUser(t.db, { memberships: [[merchantOrg.id, "owner"]] });

    server = await startTestServer(t.db);
    owner = await apiLogin(server.url, ownerUser.email, TEST_PASSWORD);
    viewer = await apiLogin(server.url, viewerUser.email, TEST_PASSWORD);
    stranger = await apiLogin(server.url, otherOwner.email, TEST_PASSWORD);
    dealer = await apiLogin(server.url, dealerUser.email, TEST_PASSWORD);
    buyer = await apiLogin(server.url, buyerUser.email, TEST_PASSWORD);
    merchant = await apiLogin(server.url, merchantUser.email, TEST_PASSWORD);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function rows(table: "markets" | "market_zones" | "market_stalls" | "merchant_applications" | "fee_schedules" | "market_merchants"): Promise<number> {
    const r = await t.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  function created<T>(res: ApiAnswer<T>): T {
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  function ok<T>(res: ApiAnswer<T>): T {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }

  async function newMarket(overrides: Json = {}): Promise<MarketJson> {
    return created(await owner.post<MarketJson>("/api/v1/markets", { name: `市场-${randomUUID().slice(0, 8)}`, city: "杭州", categories: ["女装", "男装", "童装"], ...overrides }));
  }

  async function newStall(marketId: string, code: string, overrides: Json = {}): Promise<StallJson> {
    return created(await owner.post<StallJson>(`/api/v1/markets/${marketId}/stalls`, { code, area_dm2: 1250, monthly_rent_fen: 800_000, ...overrides }));
  }

  function applicationBody(overrides: Json = {}): Json {
    return {
      uscc: randomUscc(),
      company_name: "杭州优选服饰有限公司",
      legal_representative: "张三",
      contact_name: "张小姐",
      contact_phone: "13800000000",
      stall_wish: "A区靠近入口",
      categories: ["女装"],
      ...overrides,
    };
  }

  describe("markets", () => {
    it("creates a market with the page's default timers, reads it, lists it in cursor pages, and updates only what is sent", async () => {
      const market = await newMarket({ name: "四季青服装批发市场", categories: ["女装", "男装", "女装"] });
      expect(market).toMatchObject({ name: "四季青服装批发市场", city: "杭州", categories: ["女装", "男装"], auto_confirm_days: 7, unpaid_expiry_minutes: 30, status: "active", membership: null });
      expect(ok(await owner.get<MarketJson>(`/api/v1/markets/${market.id}`))).toEqual(market);
      expect(ok(await viewer.get<MarketJson>(`/api/v1/markets/${market.id}`))).toEqual(market);

      const second = await newMarket({ name: "九堡服装市场", auto_confirm_days: 10, unpaid_expiry_minutes: 60 });
      expect(second).toMatchObject({ auto_confirm_days: 10, unpaid_expiry_minutes: 60 });
      const names: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const page: Page<MarketJson> = ok(await owner.get<Page<MarketJson>>(`/api/v1/markets?limit=1${after ? `&after=${encodeURIComponent(after)}` : ""}`));
        expect(page.data.length).toBeLessThanOrEqual(1);
        names.push(...page.data.map((m) => m.name));
        after = page.next_cursor;
        if (!after) break;
      }
      expect(names).toEqual(expect.arrayContaining(["四季青服装批发市场", "九堡服装市场"]));
      expect(names).toEqual([...names].sort());
      expect(new Set(names).size).toBe(names.length);
      // Another operator's markets are not in the list.
      expect(names).not.toContain("别家市场");

      const updated = ok(await owner.post<MarketJson>(`/api/v1/markets/${market.id}`, { auto_confirm_days: 5, categories: ["女装", "男装", "服饰配件"] }));
      expect(updated).toMatchObject({ name: "四季青服装批发市场", city: "杭州", auto_confirm_days: 5, unpaid_expiry_minutes: 30, categories: ["女装", "男装", "服饰配件"] });
      // Updates are POST with partial semantics: PATCH is not a verb of this API.
      expectError(await owner.request("PATCH", `/api/v1/markets/${market.id}`, { body: { name: "x" }, headers: { "Idempotency-Key": randomUUID() } }), 405, "method_not_allowed");
    });

    it("keeps both of two partial updates sent at the same time", async () => {
      const market = await newMarket();
      for (let round = 0; round < 5; round++) {
        const city = `城市${round}`;
        const [a, b] = await Promise.all([
          owner.post<MarketJson>(`/api/v1/markets/${market.id}`, { city }),
          owner.post<MarketJson>(`/api/v1/markets/${market.id}`, { unpaid_expiry_minutes: 40 + round }),
        ]);
        expect([a.status, b.status]).toEqual([200, 200]);
        expect(ok(await owner.get<MarketJson>(`/api/v1/markets/${market.id}`))).toMatchObject({ city, unpaid_expiry_minutes: 40 + round });
      }
    });

    it("refuses bad market bodies naming each snake_case field, and writes nothing", async () => {
      const before = await rows("markets");
      const bad = expectError(
        await owner.post("/api/v1/markets", { name: " ", city: "杭州", categories: [], auto_confirm_days: 99, unpaid_expiry_minutes: 1 }),
        422,
        "validation",
      );
      // Codes in the fields, for a program; sentences in the message, for a person.
      expect(bad.fields).toMatchObject({
        name: "required",
        categories: "required",
        auto_confirm_days: "out_of_range",
        unpaid_expiry_minutes: "out_of_range",
      });
      expect(bad.message).toContain("auto_confirm_days: Out of the allowed range");
      expect(bad.message).not.toContain("autoConfirmDays");
      const zh = expectError(await owner.post("/api/v1/markets", { name: "x".repeat(101), city: "杭州", categories: ["女装"] }, { headers: { "Accept-Language": "zh-CN" } }), 422);
      expect(zh.fields.name).toMatch(/^[a-z_]+$/);
      expect(zh.message).toMatch(/[\u4e00-\u9fff]/);
      // Wrong types, unknown fields, huge strings: the shape check names them.
      const typed = expectError(
        await owner.post("/api/v1/markets", { name: 42, city: ["杭州"], categories: "女装", auto_confirm_days: "7", surprise: true }),
        422,
        "validation",
      );
      expect(Object.keys(typed.fields).sort()).toEqual(["auto_confirm_days", "categories", "city", "name", "surprise"]);
      expectError(await owner.post("/api/v1/markets", { name: "长".repeat(100_000), city: "杭州", categories: ["女装"] }), 422, "validation");
      expectError(await owner.post("/api/v1/markets", { name: "a", city: "b", categories: ["c"], auto_confirm_days: 1.5 }), 422, "validation");
      expectError(await owner.post("/api/v1/markets", { name: "a", city: "b", categories: Array.from({ length: 31 }, (_, i) => `类${i}`) }), 422, "validation");
      for (const junk of [null, [], "market", 7, true]) expectError(await owner.post("/api/v1/markets", junk), 422, "validation");
      expectError(await owner.request("POST", "/api/v1/markets", { rawBody: "{not json", headers: { "Content-Type": "application/json", "Idempotency-Key": randomUUID() } }), 400, "malformed_json");
      expectError(await owner.request("POST", "/api/v1/markets", { rawBody: "name=x", headers: { "Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": randomUUID() } }), 415);
      expectError(await owner.post("/api/v1/markets", { name: "x".repeat(1_100_000) }), 413, "payload_too_large");
      expectError(await owner.post("/api/v1/markets", { name: "无键", city: "杭州", categories: ["女装"] }, { key: null }), 400, "bad_request");
      expect(await rows("markets")).toBe(before);

      const market = await newMarket({ name: "重名市场" });
      const dup = expectError(await owner.post("/api/v1/markets", { name: "重名市场", city: "宁波", categories: ["女装"] }), 409, "conflict");
      expect(dup.fields.name).toBe("already_in_use");
      expect(dup.message).toContain("Already in use");
      expectError(await owner.post(`/api/v1/markets/${market.id}`, {}), 422, "validation");
      expectError(await owner.post(`/api/v1/markets/${market.id}`, { unpaid_expiry_minutes: 99_999 }), 422, "validation");
      expect(ok(await owner.get<MarketJson>(`/api/v1/markets/${market.id}`)).unpaid_expiry_minutes).toBe(30);
      expect(await rows("markets")).toBe(before + 1);
    });

    it("replays a POST with the same Idempotency-Key and body, and refuses the key with another body", async () => {
      const key = randomUUID();
      const body = { name: `幂等市场-${randomUUID().slice(0, 6)}`, city: "杭州", categories: ["女装"] };
      const first = await owner.post<MarketJson>("/api/v1/markets", body, { key });
      expect(first.status).toBe(201);
      const again = await owner.post<MarketJson>("/api/v1/markets", body, { key });
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body).toEqual(first.body);
      expectError(await owner.post("/api/v1/markets", { ...body, city: "宁波" }, { key }), 422, "idempotency_conflict");
      const named = await t.db.selectFrom("markets").select("id").where("name", "=", body.name).execute();
      expect(named).toHaveLength(1);

      // A state change replays too: the stall is closed once, the second answer is the first.
      const stall = await newStall(first.body.id, "I-1");
      const closeKey = randomUUID();
      const closed = ok(await owner.post<StallJson>(`/api/v1/markets/${first.body.id}/stalls/${stall.id}/close`, {}, { key: closeKey }));
      const closedAgain = await owner.post<StallJson>(`/api/v1/markets/${first.body.id}/stalls/${stall.id}/close`, {}, { key: closeKey });
      expect(closedAgain.headers.get("idempotent-replayed")).toBe("true");
      expect(closedAgain.body).toEqual(closed);
      const audits = await t.db.selectFrom("audit_events").select("action").where("entity_id", "=", stall.id).where("action", "=", "market_stall.close").execute();
      expect(audits).toHaveLength(1);
    });
  });

  describe("zones and stalls", () => {
    it("adds zones and stalls, lists stalls by code in pages and by status, updates a stall partially, and closes and reopens it", async () => {
      const market = await newMarket();
      const zone = created(await owner.post<ZoneJson>(`/api/v1/markets/${market.id}/zones`, { name: " A区 女装馆 " }));
      expect(zone).toMatchObject({ market_id: market.id, name: "A区 女装馆" });
      created(await owner.post<ZoneJson>(`/api/v1/markets/${market.id}/zones`, { name: "B区" }));
      const zones = ok(await owner.get<Page<ZoneJson>>(`/api/v1/markets/${market.id}/zones`));
      expect(zones).toEqual({ data: [expect.objectContaining({ name: "A区 女装馆" }), expect.objectContaining({ name: "B区" })], next_cursor: null });
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/zones`, { name: "B区" }), 409).fields.name).toBe("already_in_use");

      const a101 = await newStall(market.id, "a-101", { zone_id: zone.id });
      expect(a101).toMatchObject({ code: "A-101", zone: { id: zone.id, name: "A区 女装馆" }, area_dm2: 1250, monthly_rent_fen: 800_000, status: "vacant", merchant_name: null, actions: ["close"] });
      for (const code of ["A-102", "A-103", "B-201"]) await newStall(market.id, code);
      expect(ok(await owner.get<StallJson>(`/api/v1/markets/${market.id}/stalls/${a101.id}`))).toEqual(a101);

      const first = ok(await owner.get<Page<StallJson>>(`/api/v1/markets/${market.id}/stalls?limit=3`));
      expect(first.data.map((s) => s.code)).toEqual(["A-101", "A-102", "A-103"]);
      const rest = ok(await owner.get<Page<StallJson>>(`/api/v1/markets/${market.id}/stalls?limit=3&after=${encodeURIComponent(first.next_cursor!)}`));
      expect(rest).toMatchObject({ data: [expect.objectContaining({ code: "B-201" })], next_cursor: null });
      const inZone = ok(await owner.get<Page<StallJson>>(`/api/v1/markets/${market.id}/stalls?zone_id=${zone.id}`));
      expect(inZone.data.map((s) => s.code)).toEqual(["A-101"]);

      const changed = ok(await owner.post<StallJson>(`/api/v1/markets/${market.id}/stalls/${a101.id}`, { monthly_rent_fen: 900_000 }));
      expect(changed).toMatchObject({ code: "A-101", zone: { id: zone.id }, area_dm2: 1250, monthly_rent_fen: 900_000 });
      const unzoned = ok(await owner.post<StallJson>(`/api/v1/markets/${market.id}/stalls/${a101.id}`, { zone_id: null, area_dm2: 1500 }));
      expect(unzoned).toMatchObject({ zone: null, area_dm2: 1500, monthly_rent_fen: 900_000 });

      const closed = ok(await owner.post<StallJson>(`/api/v1/markets/${market.id}/stalls/${a101.id}/close`, {}));
      expect(closed).toMatchObject({ status: "closed", actions: ["reopen"] });
      expect(ok(await owner.get<Page<StallJson>>(`/api/v1/markets/${market.id}/stalls?status=closed`)).data.map((s) => s.code)).toEqual(["A-101"]);
      const twice = expectError(await owner.post(`/api/v1/markets/${market.id}/stalls/${a101.id}/close`, {}), 409, "invalid_state");
      expect(twice.fields.status).toBeDefined();
      expect(ok(await owner.post<StallJson>(`/api/v1/markets/${market.id}/stalls/${a101.id}/reopen`, {})).status).toBe("vacant");
    });

    it("refuses bad stalls naming the field, and writes nothing", async () => {
      const market = await newMarket();
      const otherZone = created(await owner.post<ZoneJson>(`/api/v1/markets/${(await newMarket()).id}/zones`, { name: "别的区" }));
      const before = await rows("market_stalls");
      const bad = expectError(await owner.post(`/api/v1/markets/${market.id}/stalls`, { code: "A 1!", area_dm2: 0, monthly_rent_fen: 200_000_000_000 }), 422, "validation");
      expect(bad.fields).toMatchObject({ code: "stall_code_format", area_dm2: "out_of_range", monthly_rent_fen: "out_of_range" });
      expect(bad.message).toContain("code: Letters, digits and - only, at most 20");
      const typed = expectError(await owner.post(`/api/v1/markets/${market.id}/stalls`, { code: "A-1", area_dm2: "12.5", monthly_rent_fen: -1 }), 422, "validation");
      expect(Object.keys(typed.fields).sort()).toEqual(["area_dm2", "monthly_rent_fen"]);
      expectError(await owner.post(`/api/v1/markets/${market.id}/stalls`, { code: "A-1", area_dm2: 1e300, monthly_rent_fen: 1 }), 422, "validation");
      const zone = expectError(await owner.post(`/api/v1/markets/${market.id}/stalls`, { code: "A-1", zone_id: otherZone.id, area_dm2: 100, monthly_rent_fen: 0 }), 422);
      expect(zone.fields.zone_id).toBe("unknown_zone");
      expect(zone.message).toContain("Choose one of this market's zones");
      expectError(await owner.post(`/api/v1/markets/${market.id}/stalls`, { code: "A-1", zone_id: "not-a-uuid", area_dm2: 100, monthly_rent_fen: 0 }), 422);
      expect(await rows("market_stalls")).toBe(before);

      const stall = await newStall(market.id, "A-1");
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/stalls`, { code: "a-1", area_dm2: 100, monthly_rent_fen: 0 }), 409).fields.code).toBe("already_in_use");
      expectError(await owner.post(`/api/v1/markets/${market.id}/stalls/${stall.id}`, { code: "B-1" }), 422, "validation");
      expectError(await owner.post(`/api/v1/markets/${market.id}/stalls/${stall.id}`, { area_dm2: -5 }), 422, "validation");
      expectError(await owner.post(`/api/v1/markets/${market.id}/stalls/${stall.id}/reopen`, {}), 409, "invalid_state");
      expectError(await owner.post(`/api/v1/markets/${market.id}/stalls/${stall.id}/close`, { reason: "x" }), 422, "validation");
      expect(ok(await owner.get<StallJson>(`/api/v1/markets/${market.id}/stalls/${stall.id}`))).toMatchObject({ area_dm2: 1250, status: "vacant" });
    });
  });

  describe("merchant applications and merchants", () => {
    it("records an application, approves it with a stall: the stall is occupied and the merchant appears; suspends and reactivates it", async () => {
      const market = await newMarket({ name: "申请测试市场" });
      const a101 = await newStall(market.id, "A-101");
      const a102 = await newStall(market.id, "A-102");
      const body = applicationBody({ uscc: ids.merchantUscc.toLowerCase(), company_name: "李记服饰商行", categories: ["女装", "童装"] });
      const application = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, body));
      expect(application).toMatchObject({ status: "submitted", uscc: ids.merchantUscc, categories: ["女装", "童装"], assigned_stall: null, actions: ["approve", "reject"] });
      expect(ok(await owner.get<ApplicationJson>(`/api/v1/markets/${market.id}/applications/${application.id}`))).toEqual(application);
      const waiting = ok(await owner.get<Page<ApplicationJson>>(`/api/v1/markets/${market.id}/applications?status=submitted`));
      expect(waiting.data.map((a) => a.id)).toEqual([application.id]);
      // One waiting application per company.
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications`, body), 409, "conflict").fields.uscc).toBeDefined();

      const approved = ok(
        await owner.post<ApplicationJson & { merchant: MerchantJson; organization_created: boolean }>(
          `/api/v1/markets/${market.id}/applications/${application.id}/approve`,
          { stall_id: a101.id },
        ),
      );
      expect(approved).toMatchObject({
        status: "approved",
        assigned_stall: { id: a101.id, code: "A-101" },
        merchant_organization_id: ids.merchantOrg,
        actions: [],
        organization_created: false,
        merchant: { organization: { id: ids.merchantOrg, name: "李记服饰商行" }, stall: { id: a101.id, code: "A-101" }, status: "active", categories: ["女装", "童装"] },
      });
      expect(ok(await owner.get<StallJson>(`/api/v1/markets/${market.id}/stalls/${a101.id}`))).toMatchObject({ status: "occupied", merchant_name: "李记服饰商行", actions: [] });
      const merchants = ok(await owner.get<Page<MerchantJson>>(`/api/v1/markets/${market.id}/merchants`));
      expect(merchants.data).toEqual([approved.merchant]);
      expect(ok(await owner.get<MerchantJson>(`/api/v1/markets/${market.id}/merchants/${approved.merchant.id}`))).toEqual(approved.merchant);
      expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${application.id}/approve`, { stall_id: a102.id }), 409, "invalid_state");
      expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${application.id}/reject`, { reason: "迟了" }), 409, "invalid_state");

      // The merchant now sees this market, with its own membership; not the operator's other markets.
      const mine = ok(await merchant.get<Page<MarketJson>>("/api/v1/markets"));
      expect(mine.data).toEqual([expect.objectContaining({ id: market.id, name: "申请测试市场", membership: expect.objectContaining({ id: approved.merchant.id, status: "active", stall: { id: a101.id, code: "A-101" } }) })]);
      expect(ok(await merchant.get<MarketJson>(`/api/v1/markets/${market.id}`)).membership?.status).toBe("active");
      expectError(await merchant.get(`/api/v1/markets/${ids.strangerMarket}`), 404, "not_found");
      expectError(await merchant.get(`/api/v1/markets/${market.id}/stalls`), 404, "not_found");
      expectError(await merchant.post("/api/v1/markets", { name: "商户开市场", city: "杭州", categories: ["女装"] }), 404, "not_found");

      const suspended = ok(await owner.post<MerchantJson>(`/api/v1/markets/${market.id}/merchants/${approved.merchant.id}/suspend`, { reason: "拖欠租金" }));
      expect(suspended).toMatchObject({ status: "suspended", status_reason: "拖欠租金", actions: ["reactivate"] });
      expect(ok(await owner.get<Page<MerchantJson>>(`/api/v1/markets/${market.id}/merchants?status=active`)).data).toEqual([]);
      expect(ok(await merchant.get<MarketJson>(`/api/v1/markets/${market.id}`)).membership?.status).toBe("suspended");
      expectError(await owner.post(`/api/v1/markets/${market.id}/merchants/${approved.merchant.id}/suspend`, { reason: "再次" }), 409, "invalid_state");
      const noReason = expectError(await owner.post(`/api/v1/markets/${market.id}/merchants/${approved.merchant.id}/reactivate`, { reason: "  " }), 422, "validation");
      expect(noReason.fields.reason).toBe("required");
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/merchants/${approved.merchant.id}/reactivate`, {}), 422).fields.reason).toBeDefined();
      const back = ok(await owner.post<MerchantJson>(`/api/v1/markets/${market.id}/merchants/${approved.merchant.id}/reactivate`, { reason: "已缴清" }));
      expect(back).toMatchObject({ status: "active", status_reason: "已缴清" });
    });

    it("creates the merchant organisation when none has the USCC, and rejects with a reason", async () => {
      const market = await newMarket();
      const stall = await newStall(market.id, "C-1");
      const busy = await newStall(market.id, "C-2");
      const fresh = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, applicationBody({ company_name: "新开张服饰" })));
      const membersBefore = await rows("market_merchants");
      const other = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, applicationBody()));
      const third = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, applicationBody()));

      // A stall of another market (or operator) is a wrong choice; a closed one is not vacant.
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${fresh.id}/approve`, { stall_id: ids.strangerStall }), 422).fields.stall_id).toBe("unknown_stall");
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${fresh.id}/approve`, { stall_id: "junk" }), 422).fields.stall_id).toBeDefined();
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${fresh.id}/approve`, {}), 422).fields.stall_id).toBeDefined();
      await owner.post(`/api/v1/markets/${market.id}/stalls/${busy.id}/close`, {});
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${fresh.id}/approve`, { stall_id: busy.id }), 409).fields.stall_id).toBe("stall_not_vacant");
      expect(await rows("market_merchants")).toBe(membersBefore);

      const approved = ok(await owner.post<ApplicationJson & { organization_created: boolean; merchant: MerchantJson }>(`/api/v1/markets/${market.id}/applications/${fresh.id}/approve`, { stall_id: stall.id }));
      expect(approved).toMatchObject({ status: "approved", organization_created: true, merchant: { organization: { name: "新开张服饰", uscc: fresh.uscc } } });
      const org = await t.db.selectFrom("organizations").select(["kind", "uscc"]).where("id", "=", approved.merchant_organization_id!).executeTakeFirstOrThrow();
      expect(org).toEqual({ kind: "merchant", uscc: fresh.uscc });
      // The next applicant may not take the occupied stall.
      expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${other.id}/approve`, { stall_id: stall.id }), 409, "conflict");

      const rejected = ok(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications/${other.id}/reject`, { reason: "经营类目不符" }));
      expect(rejected).toMatchObject({ status: "rejected", decision_reason: "经营类目不符", actions: [] });
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${third.id}/reject`, { reason: "" }), 422).fields.reason).toBe("required");
      expectError(await owner.post(`/api/v1/markets/${market.id}/applications/${third.id}/reject`, { reason: "x".repeat(201) }), 422, "validation");
      expect(ok(await owner.get<ApplicationJson>(`/api/v1/markets/${market.id}/applications/${third.id}`)).status).toBe("submitted");

      const all: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 5; i++) {
        const page: Page<ApplicationJson> = ok(await owner.get<Page<ApplicationJson>>(`/api/v1/markets/${market.id}/applications?limit=2${after ? `&after=${encodeURIComponent(after)}` : ""}`));
        all.push(...page.data.map((a) => a.id));
        after = page.next_cursor;
        if (!after) break;
      }
      expect(all).toEqual([third.id, other.id, fresh.id]);
      expect(ok(await owner.get<Page<ApplicationJson>>(`/api/v1/markets/${market.id}/applications?status=rejected`)).data.map((a) => a.id)).toEqual([other.id]);
    });

    it("gives a stall to one of two applications approved at the same time", async () => {
      const market = await newMarket();
      const stall = await newStall(market.id, "R-1");
      const first = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, applicationBody()));
      const second = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, applicationBody()));
      const answers = await Promise.all(
        [first, second].map((a) => owner.post(`/api/v1/markets/${market.id}/applications/${a.id}/approve`, { stall_id: stall.id })),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
      const merchants = ok(await owner.get<Page<MerchantJson>>(`/api/v1/markets/${market.id}/merchants`));
      expect(merchants.data).toHaveLength(1);
      expect(merchants.data[0].stall?.id).toBe(stall.id);
    });

    it("refuses bad applications with the validator's code under the snake_case field and its sentence in the message, and writes nothing", async () => {
      const market = await newMarket();
      const before = await rows("merchant_applications");
      const badUscc = expectError(await owner.post(`/api/v1/markets/${market.id}/applications`, applicationBody({ uscc: corruptUscc(randomUscc()) })), 422, "validation");
      expect(badUscc.fields.uscc).toBe("uscc_check_character");
      expect(badUscc.message).toContain(USCC_MESSAGES.check_character.en);
      const zh = expectError(await owner.post(`/api/v1/markets/${market.id}/applications`, applicationBody({ uscc: "123" }), { headers: { "Accept-Language": "zh-CN,zh;q=0.9" } }), 422);
      expect(zh.fields.uscc).toBe("uscc_length");
      expect(zh.message).toContain("统一社会信用代码应为18位");
      const many = expectError(
        await owner.post(`/api/v1/markets/${market.id}/applications`, applicationBody({ company_name: "", contact_phone: "call me", legal_representative: "x".repeat(51), stall_wish: "y".repeat(201) })),
        422,
      );
      expect(Object.keys(many.fields).sort()).toEqual(["company_name", "contact_phone", "legal_representative", "stall_wish"]);
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/applications`, applicationBody({ categories: ["鞋"] })), 422).fields.categories).toBe("unknown_category");
      const typed = expectError(await owner.post(`/api/v1/markets/${market.id}/applications`, { ...applicationBody(), uscc: 91330100, categories: [1, 2], extra: "x" }), 422);
      expect(Object.keys(typed.fields).sort()).toEqual(["categories.0", "categories.1", "extra", "uscc"]);
      expectError(await owner.post(`/api/v1/markets/${market.id}/applications`, applicationBody({ company_name: "公".repeat(200_000) })), 422);
      expect(await rows("merchant_applications")).toBe(before);
    });
  });

  describe("fee schedules", () => {
    it("adds schedules, lists them with their state today, and answers the one in force on a date", async () => {
      const market = await newMarket();
      const now = created(await owner.post<FeeJson>(`/api/v1/markets/${market.id}/fee-schedules`, { category: "女装", commission_rate_bps: 250, min_fee_fen: 500, effective_from: today() }));
      expect(now).toMatchObject({ category: "女装", commission_rate_bps: 250, min_fee_fen: 500, effective_from: today(), state: "in_force" });
      const later = created(await owner.post<FeeJson>(`/api/v1/markets/${market.id}/fee-schedules`, { category: "女装", commission_rate_bps: 300, effective_from: today(10) }));
      expect(later).toMatchObject({ min_fee_fen: 0, state: "scheduled" });
      created(await owner.post<FeeJson>(`/api/v1/markets/${market.id}/fee-schedules`, { category: "男装", commission_rate_bps: 0, effective_from: today(1) }));

      const list = ok(await owner.get<Page<FeeJson>>(`/api/v1/markets/${market.id}/fee-schedules`));
      expect(list.data.map((f) => [f.category, f.effective_from, f.state])).toEqual([
        ["女装", today(10), "scheduled"],
        ["女装", today(), "in_force"],
        ["男装", today(1), "scheduled"],
      ]);
      const paged = ok(await owner.get<Page<FeeJson>>(`/api/v1/markets/${market.id}/fee-schedules?limit=2`));
      const next = ok(await owner.get<Page<FeeJson>>(`/api/v1/markets/${market.id}/fee-schedules?limit=2&after=${encodeURIComponent(paged.next_cursor!)}`));
      expect([...paged.data, ...next.data].map((f) => f.id)).toEqual(list.data.map((f) => f.id));
      expect(next.next_cursor).toBeNull();
      expect(ok(await owner.get<Page<FeeJson>>(`/api/v1/markets/${market.id}/fee-schedules?category=${encodeURIComponent("男装")}`)).data).toHaveLength(1);

      const inForce = (q: string) => owner.get<{ market_id: string; category: string; on: string; schedule: FeeJson | null }>(`/api/v1/markets/${market.id}/fee-schedules/in-force?${q}`);
      const todays = ok(await inForce(`category=${encodeURIComponent("女装")}`));
      expect(todays).toMatchObject({ market_id: market.id, category: "女装", on: today(), schedule: { id: now.id, commission_rate_bps: 250, min_fee_fen: 500 } });
      expect(todays.schedule).not.toHaveProperty("state");
      expect(ok(await inForce(`category=${encodeURIComponent("女装")}&on=${today(9)}`)).schedule?.id).toBe(now.id);
      expect(ok(await inForce(`category=${encodeURIComponent("女装")}&on=${today(10)}`)).schedule?.id).toBe(later.id);
      expect(ok(await inForce(`category=${encodeURIComponent("女装")}&on=${today(400)}`)).schedule?.id).toBe(later.id);
      expect(ok(await inForce(`category=${encodeURIComponent("女装")}&on=${today(-1)}`)).schedule).toBeNull();
      expect(ok(await inForce(`category=${encodeURIComponent("童装")}`)).schedule).toBeNull();
      expect(expectError(await inForce(`category=${encodeURIComponent("鞋")}`), 422).fields.category).toBe("unknown_category");
      expect(expectError(await inForce(`category=${encodeURIComponent("女装")}&on=2024-13-45`), 422).fields.on).toBeDefined();
      expect(expectError(await inForce(""), 422).fields.category).toBeDefined();
      expectError(await inForce(`category=${"类".repeat(150)}`), 422, "validation");
      expectError(await inForce(`category=${"类".repeat(500)}`), 400, "bad_request");
    });

    it("refuses bad schedules naming the field, and writes nothing", async () => {
      const market = await newMarket();
      created(await owner.post(`/api/v1/markets/${market.id}/fee-schedules`, { category: "童装", commission_rate_bps: 100, effective_from: today() }));
      const before = await rows("fee_schedules");
      const bad = expectError(
        await owner.post(`/api/v1/markets/${market.id}/fee-schedules`, { category: "鞋", commission_rate_bps: 6000, min_fee_fen: 200_000_000, effective_from: "2024-02-30" }),
        422,
        "validation",
      );
      expect(Object.keys(bad.fields).sort()).toEqual(["commission_rate_bps", "effective_from", "min_fee_fen"]);
      expect(bad.fields.commission_rate_bps).toBe("out_of_range");
      const past = expectError(await owner.post(`/api/v1/markets/${market.id}/fee-schedules`, { category: "童装", commission_rate_bps: 100, effective_from: today(-1) }), 422);
      expect(past.fields.effective_from).toBe("in_the_past");
      expect(past.message).toContain("Cannot start before today");
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/fee-schedules`, { category: "鞋", commission_rate_bps: 100, effective_from: today() }), 422).fields.category).toBe("unknown_category");
      const typed = expectError(await owner.post(`/api/v1/markets/${market.id}/fee-schedules`, { category: "童装", commission_rate_bps: "2.5", min_fee_fen: 1.5, effective_from: 20250101 }), 422);
      expect(Object.keys(typed.fields).sort()).toEqual(["commission_rate_bps", "effective_from", "min_fee_fen"]);
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}/fee-schedules`, { category: "童装", commission_rate_bps: 120, effective_from: today() }), 409).fields.effective_from).toBe("already_in_use");
      expect(await rows("fee_schedules")).toBe(before);
      // A category with a schedule stays on the market.
      expect(expectError(await owner.post(`/api/v1/markets/${market.id}`, { categories: ["女装"] }), 409).fields.categories).toBe("category_in_use");
    });
  });

  describe("access", () => {
    it("lets a viewer read but not write (403), whatever the endpoint", async () => {
      const market = await newMarket();
      const stall = await newStall(market.id, "V-1");
      const application = created(await owner.post<ApplicationJson>(`/api/v1/markets/${market.id}/applications`, applicationBody()));
      for (const path of ["", "/zones", "/stalls", `/stalls/${stall.id}`, "/merchants", "/applications", `/applications/${application.id}`, "/fee-schedules"]) {
        expect((await viewer.get(`/api/v1/markets/${market.id}${path}`)).status, path).toBe(200);
      }
      const before = await Promise.all([rows("markets"), rows("market_zones"), rows("market_stalls"), rows("fee_schedules")]);
      const writes: [string, Json][] = [
        ["/api/v1/markets", { name: "看客市场", city: "杭州", categories: ["女装"] }],
        [`/api/v1/markets/${market.id}`, { name: "改名" }],
        [`/api/v1/markets/${market.id}/zones`, { name: "Z" }],
        [`/api/v1/markets/${market.id}/stalls`, { code: "V-2", area_dm2: 100, monthly_rent_fen: 1 }],
        [`/api/v1/markets/${market.id}/stalls/${stall.id}`, { monthly_rent_fen: 1 }],
        [`/api/v1/markets/${market.id}/stalls/${stall.id}/close`, {}],
        [`/api/v1/markets/${market.id}/applications`, applicationBody()],
        [`/api/v1/markets/${market.id}/applications/${application.id}/approve`, { stall_id: stall.id }],
        [`/api/v1/markets/${market.id}/applications/${application.id}/reject`, { reason: "no" }],
        [`/api/v1/markets/${market.id}/merchants/${randomUUID()}/suspend`, { reason: "no" }],
        [`/api/v1/markets/${market.id}/fee-schedules`, { category: "女装", commission_rate_bps: 1, effective_from: today() }],
      ];
      for (const [path, body] of writes) expectError(await viewer.post(path, body), 403, "forbidden");
      expect(await Promise.all([rows("markets"), rows("market_zones"), rows("market_stalls"), rows("fee_schedules")])).toEqual(before);
    });

    it("answers 404 for another operator's market, stall, application and merchant ids, and for junk ids", async () => {
      const mine = await newMarket();
      const myStall = await newStall(mine.id, "M-1");
      const m = ids.strangerMarket;
      const reads = [
        `/api/v1/markets/${m}`,
        `/api/v1/markets/${m}/zones`,
        `/api/v1/markets/${m}/stalls`,
        `/api/v1/markets/${m}/stalls/${ids.strangerStall}`,
        `/api/v1/markets/${mine.id}/stalls/${ids.strangerStall}`,
        `/api/v1/markets/${m}/merchants`,
        `/api/v1/markets/${m}/applications`,
        `/api/v1/markets/${m}/applications/${ids.strangerApplication}`,
        `/api/v1/markets/${mine.id}/applications/${ids.strangerApplication}`,
        `/api/v1/markets/${m}/fee-schedules`,
        `/api/v1/markets/${m}/fee-schedules/in-force?category=${encodeURIComponent("鞋")}`,
        `/api/v1/markets/${mine.id}/merchants/${randomUUID()}`,
        "/api/v1/markets/not-a-uuid",
        `/api/v1/markets/${"x".repeat(200)}`,
        `/api/v1/markets/${encodeURIComponent("'; drop table markets; --")}/stalls`,
        `/api/v1/markets/${mine.id}/stalls/%E2%98%83`,
      ];
      for (const path of reads) expectError(await owner.get(path), 404, "not_found");
      const before = await Promise.all([rows("markets"), rows("market_stalls"), rows("merchant_applications"), rows("fee_schedules")]);
      const writes: [string, Json][] = [
        [`/api/v1/markets/${m}`, { name: "抢来的" }],
        [`/api/v1/markets/${m}/zones`, { name: "Z" }],
        [`/api/v1/markets/${m}/stalls`, { code: "X-1", area_dm2: 100, monthly_rent_fen: 1 }],
        [`/api/v1/markets/${m}/stalls/${ids.strangerStall}`, { monthly_rent_fen: 1 }],
        [`/api/v1/markets/${m}/stalls/${ids.strangerStall}/close`, {}],
        [`/api/v1/markets/${m}/applications`, applicationBody({ categories: ["鞋"] })],
        [`/api/v1/markets/${m}/applications/${ids.strangerApplication}/approve`, { stall_id: ids.strangerStall }],
        [`/api/v1/markets/${mine.id}/applications/${ids.strangerApplication}/approve`, { stall_id: myStall.id }],
        [`/api/v1/markets/${m}/applications/${ids.strangerApplication}/reject`, { reason: "抢" }],
        [`/api/v1/markets/${m}/merchants/${randomUUID()}/suspend`, { reason: "抢" }],
        [`/api/v1/markets/${m}/fee-schedules`, { category: "鞋", commission_rate_bps: 1, effective_from: today() }],
        [`/api/v1/markets/not-a-uuid/stalls`, { code: "X-1", area_dm2: 100, monthly_rent_fen: 1 }],
      ];
      for (const [path, body] of writes) expectError(await owner.post(path, body), 404, "not_found");
      expect(await Promise.all([rows("markets"), rows("market_stalls"), rows("merchant_applications"), rows("fee_schedules")])).toEqual(before);
      // The stranger sees its own and none of ours.
      const theirs = ok(await stranger.get<Page<MarketJson>>("/api/v1/markets"));
      expect(theirs.data.map((x) => x.id)).toEqual([m]);
      expectError(await stranger.get(`/api/v1/markets/${mine.id}`), 404, "not_found");
      expect(ok(await stranger.get<ApplicationJson>(`/api/v1/markets/${m}/applications/${ids.strangerApplication}`)).status).toBe("submitted");
    });

    it("does not exist for a dealer or a buyer (404), and needs credentials (401)", async () => {
      const market = await newMarket();
      for (const client of [dealer, buyer]) {
        expectError(await client.get("/api/v1/markets"), 404, "not_found");
        expectError(await client.get(`/api/v1/markets/${market.id}`), 404, "not_found");
        expectError(await client.get(`/api/v1/markets/${market.id}/fee-schedules`), 404, "not_found");
        expectError(await client.post("/api/v1/markets", { name: "x", city: "y", categories: ["z"] }), 404, "not_found");
        expectError(await client.post(`/api/v1/markets/${market.id}/zones`, { name: "Z" }), 404, "not_found");
      }
      expectError(await new ApiClient(server.url).get("/api/v1/markets"), 401, "unauthenticated");
      expectError(await new ApiClient(server.url, "not-a-token").post("/api/v1/markets", {}), 401, "unauthenticated");
    });

    it("answers junk queries with 422 naming the parameter, never 500", async () => {
      const market = await newMarket();
      const cases: [string, string][] = [
        ["/api/v1/markets?limit=abc", "limit"],
        ["/api/v1/markets?limit=0", "limit"],
        ["/api/v1/markets?limit=101", "limit"],
        ["/api/v1/markets?status=open", "status"],
        ["/api/v1/markets?after=garbage", "after"],
        [`/api/v1/markets/${market.id}/stalls?after=${Buffer.from('["A",1]').toString("base64url")}`, "after"],
        [`/api/v1/markets/${market.id}/stalls?status=taken`, "status"],
        [`/api/v1/markets/${market.id}/merchants?after=%00%01`, "after"],
        [`/api/v1/markets/${market.id}/applications?status=pending`, "status"],
        [`/api/v1/markets/${market.id}/applications?after=${Buffer.from('["yesterday","x"]').toString("base64url")}`, "after"],
        [`/api/v1/markets/${market.id}/fee-schedules?after=${Buffer.from('["女装","2024-02-30"]').toString("base64url")}`, "after"],
      ];
      for (const [path, field] of cases) {
        const error = expectError(await owner.get(path), 422, "validation");
        expect(error.fields[field], path).toBeDefined();
      }
      expect(ok(await owner.get<Page<StallJson>>(`/api/v1/markets/${market.id}/stalls?zone_id=junk`)).data).toEqual([]);
    });
  });

  it("lists every venue endpoint in the OpenAPI document", async () => {
    const doc = ok(await new ApiClient(server.url).get<{ paths: Record<string, Record<string, { operationId: string; security: unknown[] }>> }>("/api/v1/openapi.json"));
    const expected: [string, string][] = [
      ["/api/v1/markets", "get"],
      ["/api/v1/markets", "post"],
      ["/api/v1/markets/{id}", "get"],
      ["/api/v1/markets/{id}", "post"],
      ["/api/v1/markets/{id}/zones", "get"],
      ["/api/v1/markets/{id}/zones", "post"],
      ["/api/v1/markets/{id}/stalls", "get"],
      ["/api/v1/markets/{id}/stalls", "post"],
      ["/api/v1/markets/{id}/stalls/{stallId}", "get"],
      ["/api/v1/markets/{id}/stalls/{stallId}", "post"],
      ["/api/v1/markets/{id}/stalls/{stallId}/close", "post"],
      ["/api/v1/markets/{id}/stalls/{stallId}/reopen", "post"],
      ["/api/v1/markets/{id}/merchants", "get"],
      ["/api/v1/markets/{id}/merchants/{merchantId}", "get"],
      ["/api/v1/markets/{id}/merchants/{merchantId}/suspend", "post"],
      ["/api/v1/markets/{id}/merchants/{merchantId}/reactivate", "post"],
      ["/api/v1/markets/{id}/applications", "get"],
      ["/api/v1/markets/{id}/applications", "post"],
      ["/api/v1/markets/{id}/applications/{applicationId}", "get"],
      ["/api/v1/markets/{id}/applications/{applicationId}/approve", "post"],
      ["/api/v1/markets/{id}/applications/{applicationId}/reject", "post"],
      ["/api/v1/markets/{id}/fee-schedules", "get"],
      ["/api/v1/markets/{id}/fee-schedules", "post"],
      ["/api/v1/markets/{id}/fee-schedules/in-force", "get"],
    ];
    for (const [p, method] of expected) {
      expect(doc.paths[p]?.[method], `${method} ${p}`).toBeDefined();
      expect(doc.paths[p][method].security.length, `${method} ${p}`).toBeGreaterThan(0);
    }
  });
});
