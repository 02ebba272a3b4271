import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listFeeSchedules } from "../../app/domain/market/fees.server";
import { listMarketMerchants, listMarkets, listMerchantApplications, listStalls } from "../../app/domain/market/venues.server";
import { seedMarketDemo } from "../../app/seed/market.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";

function uscc(first17: string): string {
  return first17 + usccCheckCharacter(first17);
}

/**
 * The market operator's pages through the real Express + Remix stack, as a browser without
 * JavaScript uses them: forms that name the bad field (4xx, nothing written), each transition, and
 * another operator's market, stall, merchant, application and fees answering 404.
 */
describe("market operator pages", () => {
  let t: TestDatabase;
  let server: TestServer;
  const w = {} as {
    operator: string;
    marketId: string;
    owner: string;
    viewer: string;
    strangerOwner: string;
    dealerUser: string;
    strangerMarketId: string;
    strangerStallId: string;
    strangerApplicationId: string;
    strangerMerchantId: string;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const operator = await createOrg(t.db, { kind: "market_operator", name: "四季青市场管理有限公司" });
    const merchantOrg = await t.db
      .insertInto("organizations")
      .values({ kind: "merchant", name: "杭州李记服饰商行", uscc: uscc("92330104MA2KBR5E3") })
      .returning("id")
      .executeTakeFirstOrThrow();
    const { marketId } = await t.db.transaction().execute((trx) => seedMarketDemo(trx, { operatorId: operator.id, merchantId: merchantOrg.id }));
    const stranger = await createOrg(t.db, { kind: "market_operator", name: "陌生市场方" });
    const strangerMerchant = await t.db
      .insertInto("organizations")
      .values({ kind: "merchant", name: "陌生商户", uscc: uscc("92330104MA2KBR5E4") })
      .returning("id")
      .executeTakeFirstOrThrow();
    const strangerSeed = await t.db.transaction().execute((trx) => seedMarketDemo(trx, { operatorId: stranger.id, merchantId: strangerMerchant.id }));
    const dealer = await createOrg(t.db, { kind: "dealer" });

    w.operator = operator.id;
    w.marketId = marketId;
    w.owner = (await createUser(t.db, { memberships: [[operator.id, "owner"]] })).email;
    w.viewer = (await createUser(t.db, { memberships: [[operator.id, "viewer"]] })).email;
    w.strangerOwner = (await createUser(t.db, { memberships: [[stranger.id, "owner"]] })).email;
    w.dealerUser = (await createUser(t.db, { memberships: [[dealer.id, "owner"]] })).email;
    w.strangerMarketId = strangerSeed.marketId;
    w.strangerStallId = (await listStalls(t.db, stranger.id, strangerSeed.marketId, { status: "vacant" }))[0].id;
    w.strangerApplicationId = (await listMerchantApplications(t.db, stranger.id, strangerSeed.marketId, { status: "submitted" }))[0].id;
    w.strangerMerchantId = (await listMarketMerchants(t.db, stranger.id, strangerSeed.marketId))[0].id;
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function signedIn(email: string): Promise<Client> {
    const client = new Client(server.url);
    const res = await client.login(email, TEST_PASSWORD);
    expect(res.status).toBe(302);
    return client;
  }

  it("shows the operator its market, stalls, merchants, applications and fees; other kinds get 404", async () => {
    const owner = await signedIn(w.owner);
    const list = await owner.get("/markets");
    expect(list.status).toBe(200);
    expect(list.body).toContain("四季青服装批发市场");
    expect(list.body).not.toContain(w.strangerMarketId);
    const page = await owner.get(`/markets/${w.marketId}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("A-101");
    expect(page.body).toContain("杭州李记服饰商行");
    const applications = await owner.get(`/markets/${w.marketId}/applications`);
    expect(applications.body).toContain("杭州小蜜蜂童装店");
    const fees = await owner.get(`/markets/${w.marketId}/fees`);
    expect(fees.body).toContain("2.5%");
    expect(fees.body).toContain("生效中");
    const dealer = await signedIn(w.dealerUser);
    expect((await dealer.get("/markets")).status).toBe(404);
    expect((await dealer.get(`/markets/${w.marketId}`)).status).toBe(404);
  });

  it("creates a market; bad input is a 422 naming each field, with the input kept and nothing written", async () => {
    const owner = await signedIn(w.owner);
    const csrf = await owner.csrfFrom("/markets");
    const before = (await listMarkets(t.db, w.operator)).length;
    const bad = await owner.post("/markets?index", { csrf, name: "义乌小商品城", city: "", categories: "", autoConfirmDays: "99", unpaidExpiryMinutes: "abc" });
    expect(bad.status).toBe(422);
    expect(bad.body).toContain('value="义乌小商品城"');
    expect(bad.body).toMatch(/id="city-error"/);
    expect(bad.body).toMatch(/id="categories-error"/);
    expect(bad.body).toContain("超出允许范围");
    expect(bad.body).toContain("请输入整数");
    expect((await listMarkets(t.db, w.operator)).length).toBe(before);
    const ok = await owner.post("/markets?index", { csrf, name: "义乌小商品城", city: "义乌", categories: "饰品、玩具", autoConfirmDays: "10", unpaidExpiryMinutes: "60" });
    expect(ok.status).toBe(302);
    const created = (await listMarkets(t.db, w.operator)).find((m) => m.name === "义乌小商品城");
    expect(created).toMatchObject({ categories: ["饰品", "玩具"], autoConfirmDays: 10 });
    expect(ok.location).toBe(`/markets/${created!.id}`);
    // A viewer reads but cannot write.
    const viewer = await signedIn(w.viewer);
    expect((await viewer.get("/markets")).status).toBe(200);
    const vcsrf = await viewer.csrfFrom(`/markets/${w.marketId}`);
    expect((await viewer.post("/markets?index", { csrf: vcsrf, name: "x", city: "x", categories: "x", autoConfirmDays: "1", unpaidExpiryMinutes: "30" })).status).toBe(403);
  });

  it("edits settings, adds zones and stalls, closes a stall, suspends and reactivates a merchant", async () => {
    const owner = await signedIn(w.owner);
    const here = `/markets/${w.marketId}?index`;
    const csrf = await owner.csrfFrom(`/markets/${w.marketId}`);
    const badStall = await owner.post(here, { csrf, intent: "addStall", code: "坏 码", zoneId: "", area: "大", monthlyRent: "-1" });
    expect(badStall.status).toBe(422);
    expect(badStall.body).toMatch(/id="code-error"/);
    expect(badStall.body).toMatch(/id="area-error"/);
    expect(badStall.body).toMatch(/id="monthlyRent-error"/);
    const stallCount = (await listStalls(t.db, w.operator, w.marketId)).length;
    expect((await owner.post(here, { csrf, intent: "addStall", code: "d-201", zoneId: "", area: "20.5", monthlyRent: "12000" })).status).toBe(302);
    const stalls = await listStalls(t.db, w.operator, w.marketId);
    expect(stalls.length).toBe(stallCount + 1);
    const d201 = stalls.find((s) => s.code === "D-201")!;
    expect(d201).toMatchObject({ areaDm2: 2050, monthlyRentFen: 1_200_000 });
    // Edit it: the form is on the page with the stall's values; bad input names the field.
    const editPage = await owner.get(`/markets/${w.marketId}?editStall=${d201.id}`);
    expect(editPage.body).toContain('id="edit-area"');
    expect(editPage.body).toContain('value="20.5"');
    const badEdit = await owner.post(here, { csrf, intent: "updateStall", stallId: d201.id, zoneId: "", area: "0", monthlyRent: "abc" });
    expect(badEdit.status).toBe(422);
    expect(badEdit.body).toMatch(/id="edit-area-error"/);
    expect(badEdit.body).toMatch(/id="edit-monthlyRent-error"/);
    expect((await owner.post(here, { csrf, intent: "updateStall", stallId: d201.id, zoneId: "", area: "22", monthlyRent: "12,500.50" })).status).toBe(302);
    expect((await listStalls(t.db, w.operator, w.marketId)).find((s) => s.id === d201.id)).toMatchObject({ areaDm2: 2200, monthlyRentFen: 1_250_050 });
    expect((await owner.post(here, { csrf, intent: "updateStall", stallId: w.strangerStallId, zoneId: "", area: "22", monthlyRent: "1" })).status).toBe(404);
    expect((await owner.post(here, { csrf, intent: "updateStall", stallId: w.strangerStallId, zoneId: "", area: "", monthlyRent: "" })).status).toBe(404);
    // A stall of another operator, posted to this market's page: 404.
    expect((await owner.post(here, { csrf, intent: "close", stallId: w.strangerStallId })).status).toBe(404);
    expect((await owner.post(here, { csrf, intent: "close", stallId: d201.id })).status).toBe(302);
    expect((await listStalls(t.db, w.operator, w.marketId)).find((s) => s.id === d201.id)?.status).toBe("closed");
    expect((await owner.post(here, { csrf, intent: "close", stallId: d201.id })).status).toBe(409);

    expect((await owner.post(here, { csrf, intent: "addZone", zoneName: "" })).status).toBe(422);
    expect((await owner.post(here, { csrf, intent: "addZone", zoneName: "D区 配件馆" })).status).toBe(302);

    const settings = await owner.post(here, { csrf, intent: "updateMarket", name: "四季青服装批发市场", city: "杭州", categories: "女装", autoConfirmDays: "7", unpaidExpiryMinutes: "30" });
    // Categories in use by the merchant and the fee schedules cannot go.
    expect(settings.status).toBe(409);
    expect(settings.body).toContain("仍有商户或费率使用该类目");

    const [merchant] = await listMarketMerchants(t.db, w.operator, w.marketId);
    const noReason = await owner.post(here, { csrf, intent: "suspend", marketMerchantId: merchant.id, reason: "" });
    expect(noReason.status).toBe(422);
    expect((await listMarketMerchants(t.db, w.operator, w.marketId))[0].status).toBe("active");
    expect((await owner.post(here, { csrf, intent: "suspend", marketMerchantId: merchant.id, reason: "消费者投诉" })).status).toBe(302);
    expect((await listMarketMerchants(t.db, w.operator, w.marketId))[0]).toMatchObject({ status: "suspended", statusReason: "消费者投诉" });
    expect((await owner.post(here, { csrf, intent: "reactivate", marketMerchantId: merchant.id, reason: "已整改" })).status).toBe(302);
    expect((await owner.post(here, { csrf, intent: "suspend", marketMerchantId: w.strangerMerchantId, reason: "x" })).status).toBe(404);
    expect((await owner.post(here, { csrf, intent: "nonsense" })).status).toBe(400);
  });

  it("records, approves and rejects applications; a bad USCC is a 422 naming it", async () => {
    const owner = await signedIn(w.owner);
    const path = `/markets/${w.marketId}/applications`;
    const csrf = await owner.csrfFrom(path);
    const fields = { companyName: "杭州新风尚服饰", legalRepresentative: "陈芳", contactName: "陈芳", contactPhone: "13700001111", stallWish: "", categories: "女装" };
    const bad = await owner.post(path, { csrf, intent: "submit", uscc: "91330104MA2KBR5E3X", ...fields });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatch(/id="uscc-error"/);
    expect(bad.body).toContain("统一社会信用代码校验位不正确");
    expect(bad.body).toContain('value="杭州新风尚服饰"');
    const pendingBefore = await listMerchantApplications(t.db, w.operator, w.marketId, { status: "submitted" });
    expect(pendingBefore.map((a) => a.companyName)).toEqual(["杭州小蜜蜂童装店"]);

    const ok = await owner.post(path, { csrf, intent: "submit", uscc: uscc("91330104MA2NF27H1"), ...fields });
    expect(ok.status).toBe(302);
    const pending = await listMerchantApplications(t.db, w.operator, w.marketId, { status: "submitted" });
    const fresh = pending.find((a) => a.companyName === "杭州新风尚服饰")!;
    const bee = pending.find((a) => a.companyName === "杭州小蜜蜂童装店")!;

    const vacant = await listStalls(t.db, w.operator, w.marketId, { status: "vacant" });
    expect((await owner.post(path, { csrf, intent: "approve", applicationId: fresh.id, stallId: "" })).status).toBe(422);
    const foreignStall = await owner.post(path, { csrf, intent: "approve", applicationId: fresh.id, stallId: w.strangerStallId });
    expect(foreignStall.status).toBe(422);
    expect(foreignStall.body).toContain("请选择本市场的铺位");
    const approved = await owner.post(path, { csrf, intent: "approve", applicationId: fresh.id, stallId: vacant[0].id });
    expect(approved.status).toBe(302);
    expect((await listStalls(t.db, w.operator, w.marketId)).find((s) => s.id === vacant[0].id)?.status).toBe("occupied");
    expect((await owner.post(path, { csrf, intent: "approve", applicationId: fresh.id, stallId: vacant[1].id })).status).toBe(409);

    expect((await owner.post(path, { csrf, intent: "reject", applicationId: bee.id, reason: " " })).status).toBe(422);
    expect((await owner.post(path, { csrf, intent: "reject", applicationId: bee.id, reason: "类目已满" })).status).toBe(302);
    expect((await listMerchantApplications(t.db, w.operator, w.marketId, { status: "rejected" })).map((a) => a.decisionReason)).toEqual(["类目已满"]);

    // Another operator's application through this market's page, or through its own: 404, untouched.
    expect((await owner.post(path, { csrf, intent: "reject", applicationId: w.strangerApplicationId, reason: "x" })).status).toBe(404);
    expect((await owner.post(`/markets/${w.strangerMarketId}/applications`, { csrf, intent: "reject", applicationId: w.strangerApplicationId, reason: "x" })).status).toBe(404);
    expect((await owner.post(path, { csrf, intent: "approve", applicationId: "not-a-uuid", stallId: vacant[1].id })).status).toBe(404);
  });

  it("adds fee schedules; bad input names the field; a start in the past is refused", async () => {
    const owner = await signedIn(w.owner);
    const path = `/markets/${w.marketId}/fees`;
    const csrf = await owner.csrfFrom(path);
    const before = (await listFeeSchedules(t.db, w.operator, w.marketId)).length;
    const bad = await owner.post(path, { csrf, category: "女装", commissionRate: "百分之三", minFee: "5", effectiveFrom: "2199-02-30" });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatch(/id="commissionRate-error"/);
    expect(bad.body).toMatch(/id="effectiveFrom-error"/);
    const past = await owner.post(path, { csrf, category: "女装", commissionRate: "3", minFee: "5", effectiveFrom: "2020-01-01" });
    expect(past.status).toBe(422);
    expect(past.body).toContain("生效日期不能早于今天");
    const foreign = await owner.post(path, { csrf, category: "家电", commissionRate: "3", minFee: "", effectiveFrom: "2199-01-01" });
    expect(foreign.status).toBe(422);
    expect((await listFeeSchedules(t.db, w.operator, w.marketId)).length).toBe(before);
    expect((await owner.post(path, { csrf, category: "童装", commissionRate: "1.5", minFee: "", effectiveFrom: "2199-01-01" })).status).toBe(302);
    expect((await listFeeSchedules(t.db, w.operator, w.marketId)).find((s) => s.effectiveFrom === "2199-01-01")).toMatchObject({ category: "童装", commissionRateBps: 150, minFeeFen: 0 });
  });

  it("answers 404 for every page and form of another operator's market", async () => {
    const intruder = await signedIn(w.strangerOwner);
    const csrf = await intruder.csrfFrom("/markets");
    for (const suffix of ["", "/applications", "/fees"]) {
      expect((await intruder.get(`/markets/${w.marketId}${suffix}`)).status).toBe(404);
    }
    expect((await intruder.get("/markets/not-a-uuid")).status).toBe(404);
    const posts: [string, Record<string, string>][] = [
      [`/markets/${w.marketId}?index`, { intent: "updateMarket", name: "x", city: "x", categories: "女装", autoConfirmDays: "1", unpaidExpiryMinutes: "30" }],
      // Bad input on another operator's market is still 404, never a 422 that would reveal it.
      [`/markets/${w.marketId}?index`, { intent: "addStall", code: "", area: "", monthlyRent: "" }],
      [`/markets/${w.marketId}?index`, { intent: "addZone", zoneName: "X" }],
      [`/markets/${w.marketId}/applications`, { intent: "submit", uscc: "bad" }],
      [`/markets/${w.marketId}/fees`, { category: "女装", commissionRate: "1", effectiveFrom: "2199-01-01" }],
      [`/markets/${w.marketId}/fees`, { category: "", commissionRate: "", effectiveFrom: "" }],
    ];
    for (const [path, fields] of posts) {
      const res = await intruder.post(path, { csrf, ...fields });
      expect(res.status, `${path} ${fields.intent ?? ""}`).toBe(404);
    }
    expect((await listMarkets(t.db, w.operator)).map((m) => m.name)).not.toContain("x");
  });
});
