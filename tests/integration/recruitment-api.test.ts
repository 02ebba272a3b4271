import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USCC_MESSAGES } from "../../app/domain/shared/uscc";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";
import { coreEnterprise, corruptUscc, randomUscc, today, type CoreWorld } from "./recruitment.fixtures";

type Json = Record<string, unknown>;
type ApplicationJson = Json & { id: string; status: string; access_token?: string; invitation: { url: string | null; state: string } | null; timeline: { event: string }[] };

/**
 * The recruitment API over HTTP: a core enterprise creates and publishes a campaign, the public
 * reads it and applies with an Idempotency-Key (a retry gets the same application), the applicant
 * reads its application with its token, the core enterprise decides; bad bodies are 4xx naming the
 * field with the validator's sentence; another organisation's ids are 404.
 */
describe("recruitment API", () => {
  let t: TestDatabase;
  let server: TestServer;
  let world: CoreWorld;
  let core: ApiClient;
  let stranger: ApiClient;
  let dealer: ApiClient;
  const anonymous = () => new ApiClient(server.url);

  beforeAll(async () => {
    t = await createTestDatabase();
    await createOrg(t.db, { kind: "bank", name: "测试银行" });
    world = await coreEnterprise(t.db, "华通电器");
    const other = await coreEnterprise(t.db, "陌生企业");
    const dealerOrg = await createOrg(t.db, { kind: "dealer" });
    const dealerUser = await createUser(t.db, { memberships: [[dealerOrg.id, "owner"]] });
    server = await startTestServer(t.db);
    core = await apiLogin(server.url, world.owner.email, world.owner.password);
    stranger = await apiLogin(server.url, other.owner.email, other.owner.password);
    dealer = await apiLogin(server.url, dealerUser.email, dealerUser.password);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  function campaignBody(overrides: Json = {}): Json {
    return {
      title: "华东区经销商招募",
      regions: ["浙江省温州市", "浙江省金华市"],
      quota: 2,
      deposit_fen: 0,
      closes_on: today(30),
      tier_id: world.tierId,
      credit_limit_fen: 10_000_000,
      payment_terms_days: 30,
      publish: true,
      ...overrides,
    };
  }

  function applicationBody(overrides: Json = {}): Json {
    return {
      company_name: "温州优选电器有限公司",
      uscc: randomUscc(),
      legal_representative: "林国强",
      contact_name: "林小姐",
      contact_phone: "13857712345",
      contact_email: `api-${randomUUID()}@example.test`,
      region: "浙江省温州市",
      channels: ["retail_store"],
      ...overrides,
    };
  }

  async function published(overrides: Json = {}): Promise<string> {
    const res = await core.post<Json & { id: string }>("/api/v1/campaigns", campaignBody(overrides));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  it("creates and publishes a campaign, lists it, and shows it to anyone", async () => {
    const draft = await core.post<Json & { id: string; status: string }>("/api/v1/campaigns", campaignBody({ publish: false }));
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ status: "draft", tier: { id: world.tierId, name: "银牌" }, approved_count: 0, public_url: expect.stringContaining(`/join/${draft.body.id}`) });
    expectError(await anonymous().get(`/api/v1/campaigns/${draft.body.id}`), 404, "not_found");
    const pub = await core.post<Json & { status: string }>(`/api/v1/campaigns/${draft.body.id}/publish`, {});
    expect(pub.body.status).toBe("published");
    const seen = await anonymous().get<Json>(`/api/v1/campaigns/${draft.body.id}`);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ title: "华东区经销商招募", accepting_applications: true, places_left: 2, core_enterprise: { name: "华通电器" } });
    expect(seen.body).not.toHaveProperty("credit_limit_fen");
    await core.post("/api/v1/campaigns", campaignBody({ publish: false, title: "第二个招募" }));
    const list = await core.get<{ data: { id: string }[]; next_cursor: string | null }>("/api/v1/campaigns?limit=1");
    expect(list.body.data).toHaveLength(1);
    expect(list.body.next_cursor).not.toBeNull();
    const next = await core.get<{ data: { id: string }[] }>(`/api/v1/campaigns?limit=1&after=${encodeURIComponent(list.body.next_cursor!)}`);
    expect(next.body.data[0].id).not.toBe(list.body.data[0].id);
    // Only core enterprises have campaigns; only the owner lists its own.
    expectError(await dealer.post("/api/v1/campaigns", campaignBody()), 404);
    expect((await stranger.get<{ data: unknown[] }>("/api/v1/campaigns")).body.data).toEqual([]);
    expectError(await stranger.post(`/api/v1/campaigns/${draft.body.id}/close`, {}), 404);
  });

  it("refuses bad campaign bodies naming each field, and writes nothing", async () => {
    const before = await t.db.selectFrom("recruitment_campaigns").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const bad = expectError(await core.post("/api/v1/campaigns", campaignBody({ title: "", regions: [], quota: 0, closes_on: "2020-13-01", deposit_fen: -5 })), 422, "validation");
    // Codes for a program; the sentences are in the message.
    expect(bad.fields).toMatchObject({
      title: "required",
      regions: "required",
      quota: "out_of_range",
      closes_on: "date_format",
      deposit_fen: "out_of_range",
    });
    expect(bad.message).toContain("closes_on: Enter a date as YYYY-MM-DD");
    const typed = expectError(await core.post("/api/v1/campaigns", campaignBody({ quota: "many", surprise: 1 })), 422, "validation");
    expect(Object.keys(typed.fields)).toEqual(expect.arrayContaining(["quota"]));
    const after = await t.db.selectFrom("recruitment_campaigns").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it("takes a public application once per Idempotency-Key, and names a wrong USCC with a code and the validator's sentence", async () => {
    const id = await published();
    const badUscc = corruptUscc(randomUscc());
    const refused = expectError(await anonymous().post(`/api/v1/campaigns/${id}/applications`, applicationBody({ uscc: badUscc })), 422, "validation");
    expect(refused.fields.uscc).toBe("uscc_check_character");
    expect(refused.message).toContain(USCC_MESSAGES.check_character.en);
    const zh = expectError(
      await anonymous().post(`/api/v1/campaigns/${id}/applications`, applicationBody({ uscc: "123" }), { headers: { "Accept-Language": "zh-CN,zh;q=0.9" } }),
      422,
    );
    expect(zh.fields.uscc).toBe("uscc_length");
    expect(zh.message).toContain(USCC_MESSAGES.length.zh);
    const region = expectError(await anonymous().post(`/api/v1/campaigns/${id}/applications`, applicationBody({ region: "广东省广州市", channels: ["tv"] })), 422);
    expect(region.fields).toMatchObject({ channels: expect.any(String) });
    expectError(await anonymous().post(`/api/v1/campaigns/${id}/applications`, applicationBody(), { key: null }), 400, "bad_request");

    const key = randomUUID();
    const body = applicationBody();
    const first = await anonymous().post<ApplicationJson>(`/api/v1/campaigns/${id}/applications`, body, { key });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.body.status_url).toMatch(new RegExp(`/join/${id}/status/`));
    const again = await anonymous().post<ApplicationJson>(`/api/v1/campaigns/${id}/applications`, body, { key });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.id).toBe(first.body.id);
    expectError(await anonymous().post(`/api/v1/campaigns/${id}/applications`, { ...body, notes: "other" }, { key }), 422, "idempotency_conflict");
    const count = await t.db.selectFrom("recruitment_applications").select((eb) => eb.fn.countAll<number>().as("n")).where("campaign_id", "=", id).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
    // The same company again, under a new key: one live application per company.
    expectError(await anonymous().post(`/api/v1/campaigns/${id}/applications`, { ...body }), 409, "conflict");
  });

  it("lets the applicant read its application with its token only, and the core enterprise decide it", async () => {
    const id = await published();
    const created = await anonymous().post<ApplicationJson>(`/api/v1/campaigns/${id}/applications`, applicationBody());
    const appId = created.body.id;
    const token = created.body.access_token!;
    const mine = await anonymous().get<ApplicationJson>(`/api/v1/applications/${appId}`, { "X-Application-Token": token });
    expect(mine.status).toBe(200);
    expect(mine.body.status).toBe("submitted");
    expectError(await anonymous().get(`/api/v1/applications/${appId}`), 404);
    expectError(await anonymous().get(`/api/v1/applications/${appId}`, { "X-Application-Token": `${token.slice(0, 42)}Z` }), 404);
    const other = await anonymous().post<ApplicationJson>(`/api/v1/campaigns/${id}/applications`, applicationBody());
    expectError(await anonymous().get(`/api/v1/applications/${other.body.id}`, { "X-Application-Token": token }), 404);
    expectError(await stranger.get(`/api/v1/applications/${appId}`), 404);

    expectError(await stranger.post(`/api/v1/applications/${appId}/review`, {}), 404);
    expectError(await core.post(`/api/v1/applications/${appId}/request-info`, { message: "请补充" }), 409, "invalid_state");
    expect((await core.post<ApplicationJson>(`/api/v1/applications/${appId}/review`, {})).body.status).toBe("under_review");
    const asked = await core.post<ApplicationJson>(`/api/v1/applications/${appId}/request-info`, { message: "请补充门店照片" });
    expect(asked.body).toMatchObject({ status: "info_requested", open_question: "请补充门店照片" });
    const noReason = expectError(await core.post(`/api/v1/applications/${other.body.id}/reject`, { reason: " " }), 422);
    expect(noReason.fields).toEqual({ reason: "required" });
    expect((await core.post<ApplicationJson>(`/api/v1/applications/${other.body.id}/reject`, { reason: "区域已满" })).body.status).toBe("rejected");
    expect((await dealer.post(`/api/v1/applications/${other.body.id}/reject`, { reason: "x" })).status).toBe(404);
  });

  it("approves within the quota, with the invitation link in the answer, even under concurrent requests", async () => {
    const id = await published({ quota: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await anonymous().post<ApplicationJson>(`/api/v1/campaigns/${id}/applications`, applicationBody({ company_name: `并发公司${i}` }));
      ids.push(res.body.id);
      await core.post(`/api/v1/applications/${res.body.id}/review`, {});
    }
    const answers = await Promise.all(ids.map((appId) => core.post<ApplicationJson>(`/api/v1/applications/${appId}/approve`, { note: "欢迎" })));
    const ok = answers.filter((a) => a.status === 200);
    const full = answers.filter((a) => a.status === 409);
    expect(ok).toHaveLength(2);
    expect(full).toHaveLength(3);
    for (const a of full) expect((a.body as unknown as { error: { fields: Json } }).error.fields).toHaveProperty("quota");
    for (const a of ok) {
      expect(a.body.status).toBe("approved");
      expect(a.body.invitation).toMatchObject({ state: "pending", url: expect.stringMatching(/\/invite\/[A-Za-z0-9_-]{43}$/) });
    }
    const campaign = await t.db.selectFrom("recruitment_campaigns").select("approved_count").where("id", "=", id).executeTakeFirstOrThrow();
    expect(campaign.approved_count).toBe(2);
  });

  it("lists every recruitment endpoint in the OpenAPI document", async () => {
    const doc = await anonymous().get<{ paths: Record<string, Record<string, { operationId: string }>> }>("/api/v1/openapi.json");
    expect(doc.status).toBe(200);
    const operations = Object.values(doc.body.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    expect(operations).toEqual(
      expect.arrayContaining([
        "createCampaign",
        "listCampaigns",
        "getCampaign",
        "publishCampaign",
        "closeCampaign",
        "submitApplication",
        "getApplication",
        "reviewApplication",
        "requestApplicationInfo",
        "approveApplication",
        "rejectApplication",
      ]),
    );
  });
});
