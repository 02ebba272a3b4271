import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { isDomainError } from "../../app/domain/shared/errors";
import {
  ANNOUNCEMENT_LIMITS,
  listAnnouncementsForOperator,
  listAnnouncementsForParty,
  publishAnnouncement,
  type AnnouncementInput,
} from "../../app/domain/market/announcements.server";
import { createMarket } from "../../app/domain/market/venues.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";
import { apiLogin, expectError } from "./api.fixtures";

/**
 * Market announcements: the operator publishes (audited, final), merchants read their markets'
 * announcements to merchants or everyone, buyers read every active market's announcements to
 * buyers or everyone; another operator's market is not found. Then the same through the pages
 * (plain HTML forms) and the API.
 */

async function newMarket(db: Db, actor: Actor, operatorId: string, name: string): Promise<string> {
  const market = await createMarket(db, actor, operatorId, { name, city: "杭州", categories: "女装", autoConfirmDays: "7", unpaidExpiryMinutes: "30" });
  return market.id;
}

async function join(db: Db, operatorId: string, marketId: string, merchantId: string): Promise<void> {
  await db.insertInto("market_merchants").values({ market_id: marketId, operator_id: operatorId, merchant_id: merchantId, categories: ["女装"] }).execute();
}

async function refusal(call: Promise<unknown>): Promise<[string, Record<string, string>]> {
  const error = await call.catch((e: unknown) => e);
  if (!isDomainError(error)) throw new Error(`expected a refusal, got ${String(error)}`);
  return [error.code, error.fields];
}

describe("market announcements", () => {
  let t: TestDatabase;
  const w = {} as {
    operatorId: string;
    actor: Actor;
    market: string;
    closedMarket: string;
    strangerId: string;
    strangerActor: Actor;
    strangerMarket: string;
    merchantX: string;
    merchantY: string;
    buyer: string;
    emails: { owner: string; viewer: string; stranger: string; merchantX: string; merchantY: string; buyer: string };
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const db = t.db;
    const operator = await createOrg(db, { kind: "market_operator", name: "四季青市场管理有限公司" });
    const stranger = await createOrg(db, { kind: "market_operator", name: "陌生市场方" });
    const merchantX = await createOrg(db, { kind: "merchant", name: "李记服饰" });
    const merchantY = await createOrg(db, { kind: "merchant", name: "别家商户" });
    const buyer = await createOrg(db, { kind: "buyer", name: "温州采购商" });
    const owner = await createUser(db, { displayName: "张经理", memberships: [[operator.id, "owner"]] });
    const viewer = await createUser(db, { memberships: [[operator.id, "viewer"]] });
    const strangerOwner = await createUser(db, { memberships: [[stranger.id, "owner"]] });
    w.operatorId = operator.id;
    w.actor = { userId: owner.id, organizationId: operator.id };
    w.strangerId = stranger.id;
    w.strangerActor = { userId: strangerOwner.id, organizationId: stranger.id };
    w.market = await newMarket(db, w.actor, operator.id, "四季青服装批发市场");
    w.closedMarket = await newMarket(db, w.actor, operator.id, "已关闭的老市场");
    await db.updateTable("markets").set({ status: "closed" }).where("id", "=", w.closedMarket).execute();
    w.strangerMarket = await newMarket(db, w.strangerActor, stranger.id, "别家的市场");
    await join(db, operator.id, w.market, merchantX.id);
    await join(db, operator.id, w.closedMarket, merchantX.id);
    await join(db, stranger.id, w.strangerMarket, merchantY.id);
    w.merchantX = merchantX.id;
    w.merchantY = merchantY.id;
    w.buyer = buyer.id;
    w.emails = {
      owner: owner.email,
      viewer: viewer.email,
      stranger: strangerOwner.email,
      merchantX: (await createUser(db, { memberships: [[merchantX.id, "owner"]] })).email,
      merchantY: (await createUser(db, { memberships: [[merchantY.id, "owner"]] })).email,
      buyer: (await createUser(db, { memberships: [[buyer.id, "purchaser"]] })).email,
    };

    const publish = (actor: Actor, operatorId: string, marketId: string, input: AnnouncementInput) => publishAnnouncement(db, actor, operatorId, marketId, input);
    await publish(w.actor, operator.id, w.market, { title: "开市通知", body: "3 月 1 日起早市 5:00 开门。", audience: "all" });
    await publish(w.actor, operator.id, w.market, { title: "商户大会", body: "周五下午两点在三楼会议室。", audience: "merchants" });
    await publish(w.actor, operator.id, w.market, { title: "买家满减", body: "本周全场满 1000 减 50。", audience: "buyers" });
    await publish(w.actor, operator.id, w.closedMarket, { title: "老市场停业", body: "老市场已停业。", audience: "all" });
    await publish(w.strangerActor, stranger.id, w.strangerMarket, { title: "别家开市", body: "别家市场的公告。", audience: "all" });
    await publish(w.strangerActor, stranger.id, w.strangerMarket, { title: "别家商户须知", body: "只给别家的商户。", audience: "merchants" });
  });

  afterAll(async () => {
    await t?.close();
  });

  const titles = (page: { items: { title: string }[] }) => page.items.map((a) => a.title);

  describe("publishing", () => {
    it("publishes with an audit event, trims the text and keeps the body's lines", async () => {
      const market = await newMarket(t.db, w.actor, w.operatorId, "审计测试市场");
      const a = await publishAnnouncement(t.db, w.actor, w.operatorId, market, { title: "  停水\n通知 ", body: "\r\n明天 8:00–12:00 停水。\r\n请提前储水。 ", audience: "merchants" });
      expect(a).toMatchObject({ marketId: market, title: "停水 通知", body: "明天 8:00–12:00 停水。\n请提前储水。", audience: "merchants", publishedByName: "张经理" });
      const audit = await t.db.selectFrom("audit_events").selectAll().where("entity_id", "=", a.id).execute();
      expect(audit.map((e) => [e.action, e.organization_id, e.actor_user_id])).toEqual([["market_announcement.published", w.operatorId, w.actor.userId]]);
    });

    it("tells the market's merchants in their inbox, and nobody else", async () => {
      // A market of its own, so the reading tests below see only their own announcements.
      const market = await newMarket(t.db, w.actor, w.operatorId, "通知测试市场");
      const merchantZ = await createOrg(t.db, { kind: "merchant", name: "通知测试商户" });
      await join(t.db, w.operatorId, market, merchantZ.id);
      const a = await publishAnnouncement(t.db, w.actor, w.operatorId, market, { title: "消防检查", body: "周五下午消防检查，请清理通道。", audience: "merchants" });
      const notices = await t.db.selectFrom("notification_requests").select(["organization_id", "topic"]).where("dedupe_key", "like", `market.announcement:${a.id}:%`).execute();
      expect(notices).toEqual([{ organization_id: merchantZ.id, topic: "market.announcement_published" }]);
      const forBuyers = await publishAnnouncement(t.db, w.actor, w.operatorId, market, { title: "采购节", body: "本周采购满额有礼。", audience: "buyers" });
      expect(await t.db.selectFrom("notification_requests").select("id").where("dedupe_key", "like", `market.announcement:${forBuyers.id}:%`).execute()).toEqual([]);
    });

    it("refuses bad input naming each field, and writes nothing", async () => {
      const before = await t.db.selectFrom("market_announcements").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(await refusal(publishAnnouncement(t.db, w.actor, w.operatorId, w.market, { title: " ", body: "x".repeat(ANNOUNCEMENT_LIMITS.bodyLength + 1), audience: "everyone" as "all" }))).toEqual([
        "validation",
        { title: "required", body: "too_long", audience: "unknown_audience" },
      ]);
      expect(await refusal(publishAnnouncement(t.db, w.actor, w.operatorId, w.market, { title: "标".repeat(101), body: "正文", audience: "all" }))).toEqual(["validation", { title: "too_long" }]);
      expect(await refusal(publishAnnouncement(t.db, w.actor, w.operatorId, w.market, {} as AnnouncementInput))).toEqual([
        "validation",
        { title: "required", body: "required", audience: "required" },
      ]);
      const after = await t.db.selectFrom("market_announcements").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
    });

    it("answers not_found for another operator's market, whether publishing or listing", async () => {
      expect(await refusal(publishAnnouncement(t.db, w.actor, w.operatorId, w.strangerMarket, { title: "越权", body: "越权", audience: "all" }))).toEqual(["not_found", {}]);
      expect(await refusal(publishAnnouncement(t.db, w.actor, w.operatorId, "not-a-uuid", { title: "x", body: "x", audience: "all" }))).toEqual(["not_found", {}]);
      expect(await refusal(listAnnouncementsForOperator(t.db, w.operatorId, w.strangerMarket))).toEqual(["not_found", {}]);
    });

    it("limits one market to 50 announcements in 24 hours", async () => {
      const market = await newMarket(t.db, w.actor, w.operatorId, "刷屏测试市场");
      await t.db
        .insertInto("market_announcements")
        .values(Array.from({ length: ANNOUNCEMENT_LIMITS.perMarketPerDayMax }, (_, i) => ({ market_id: market, operator_id: w.operatorId, title: `第 ${i} 条`, body: "x", audience: "merchants" as const })))
        .execute();
      expect((await refusal(publishAnnouncement(t.db, w.actor, w.operatorId, market, { title: "再一条", body: "x", audience: "all" })))[0]).toBe("rate_limited");
    });
  });

  describe("who reads what", () => {
    it("gives the operator every announcement of its market, newest first", async () => {
      expect(titles(await listAnnouncementsForOperator(t.db, w.operatorId, w.market))).toEqual(["买家满减", "商户大会", "开市通知"]);
    });

    it("gives a merchant its markets' announcements to merchants or everyone, closed markets included", async () => {
      expect(titles(await listAnnouncementsForParty(t.db, w.merchantX, "merchant"))).toEqual(["老市场停业", "商户大会", "开市通知"]);
      // A merchant of another market sees that market's, not these.
      expect(titles(await listAnnouncementsForParty(t.db, w.merchantY, "merchant"))).toEqual(["别家商户须知", "别家开市"]);
    });

    it("gives a buyer every active market's announcements to buyers or everyone", async () => {
      const seen = titles(await listAnnouncementsForParty(t.db, w.buyer, "buyer"));
      expect(seen).toContain("买家满减");
      expect(seen).toContain("开市通知");
      expect(seen).toContain("别家开市");
      for (const hidden of ["商户大会", "别家商户须知", "老市场停业"]) expect(seen).not.toContain(hidden);
    });

    it("pages newest first by cursor without skipping or repeating, and refuses a forged cursor", async () => {
      const first = await listAnnouncementsForParty(t.db, w.merchantX, "merchant", { limit: 2 });
      expect(titles(first)).toEqual(["老市场停业", "商户大会"]);
      expect(first.nextCursor).toBeTruthy();
      const second = await listAnnouncementsForParty(t.db, w.merchantX, "merchant", { limit: 2, after: first.nextCursor });
      expect(titles(second)).toEqual(["开市通知"]);
      expect(second.nextCursor).toBeNull();
      expect(await refusal(listAnnouncementsForParty(t.db, w.merchantX, "merchant", { after: "2025-01-01~nope" }))).toEqual(["validation", { after: "invalid_cursor" }]);
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

    const count = async (marketId: string) =>
      Number((await t.db.selectFrom("market_announcements").select((eb) => eb.fn.countAll<number>().as("n")).where("market_id", "=", marketId).executeTakeFirstOrThrow()).n);

    it("publishes through the form without JavaScript; bad input is a 422 naming the field with the text kept", async () => {
      const owner = await signedIn(w.emails.owner);
      const path = `/markets/${w.market}/announcements`;
      const page = await owner.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain("商户大会");
      const csrf = await owner.csrfFrom(path);
      const before = await count(w.market);
      const bad = await owner.post(path, { csrf, title: "", body: "保留这段正文", audience: "merchants" });
      expect(bad.status).toBe(422);
      expect(bad.body).toMatch(/id="title-error"[^>]*>此项为必填/);
      expect(bad.body).toContain("保留这段正文");
      expect(bad.body).toMatch(/<option value="merchants" selected="">/);
      const forged = await owner.post(path, { csrf, title: "标题", body: "正文", audience: "everyone" });
      expect(forged.status).toBe(422);
      expect(forged.body).toMatch(/id="audience-error"[^>]*>请选择发布对象/);
      expect(await count(w.market)).toBe(before);

      const ok = await owner.post(path, { csrf, title: "消防演练", body: "周三上午十点消防演练。", audience: "all" });
      expect(ok.status).toBe(302);
      expect(ok.location).toBe(path);
      const after = await owner.get(path);
      expect(after.body).toContain("已发布公告《消防演练》");
      expect(after.body).toMatch(/消防演练[\s\S]*买家满减/);
      expect(await count(w.market)).toBe(before + 1);
    });

    it("lets a viewer read but not publish, and answers 404 for another operator's market", async () => {
      const viewer = await signedIn(w.emails.viewer);
      const path = `/markets/${w.market}/announcements`;
      const page = await viewer.get(path);
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('name="title"');
      const csrf = await viewer.csrfFrom(`/markets/${w.market}`);
      expect((await viewer.post(path, { csrf, title: "x", body: "x", audience: "all" })).status).toBe(403);

      const stranger = await signedIn(w.emails.stranger);
      expect((await stranger.get(path)).status).toBe(404);
      const scsrf = await stranger.csrfFrom(`/markets/${w.strangerMarket}/announcements`);
      const before = await count(w.market);
      expect((await stranger.post(path, { csrf: scsrf, title: "越权", body: "越权", audience: "all" })).status).toBe(404);
      expect((await stranger.post(path, { csrf: scsrf, title: "", body: "", audience: "" })).status).toBe(404);
      expect(await count(w.market)).toBe(before);
    });

    it("shows merchants and buyers their announcements at /market/announcements; others get 404", async () => {
      const merchant = await signedIn(w.emails.merchantX);
      const mpage = await merchant.get("/market/announcements");
      expect(mpage.status).toBe(200);
      expect(mpage.body).toContain("商户大会");
      expect(mpage.body).toContain("四季青服装批发市场");
      expect(mpage.body).not.toContain("买家满减");
      expect(mpage.body).not.toContain("别家商户须知");
      const buyer = await signedIn(w.emails.buyer);
      const bpage = await buyer.get("/market/announcements");
      expect(bpage.status).toBe(200);
      expect(bpage.body).toContain("买家满减");
      expect(bpage.body).not.toContain("商户大会");
      expect((await buyer.get("/market/announcements?after=garbage")).status).toBe(400);
      const operator = await signedIn(w.emails.owner);
      expect((await operator.get("/market/announcements")).status).toBe(404);
    });

    it("lists and publishes over the API; bad bodies are 422 naming the field; another operator's market is 404", async () => {
      const api = await apiLogin(server.url, w.emails.owner, TEST_PASSWORD);
      const list = await api.get<{ data: { title: string; audience: string }[]; next_cursor: string | null }>(`/api/v1/markets/${w.market}/announcements?limit=2`);
      expect(list.status).toBe(200);
      expect(list.body.data).toHaveLength(2);
      expect(list.body.next_cursor).toBeTruthy();
      const next = await api.get<{ data: { title: string }[] }>(`/api/v1/markets/${w.market}/announcements?limit=2&after=${encodeURIComponent(list.body.next_cursor!)}`);
      expect(next.body.data.map((a) => a.title)).not.toContain(list.body.data[0].title);

      const before = await count(w.market);
      const created = await api.post<{ id: string; title: string; audience: string; market_id: string }>(`/api/v1/markets/${w.market}/announcements`, {
        title: "API 公告",
        body: "来自 ERP 的公告。",
        audience: "buyers",
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ title: "API 公告", audience: "buyers", market_id: w.market });
      expect(expectError(await api.post(`/api/v1/markets/${w.market}/announcements`, { title: " ", body: "x", audience: "all" }), 422, "validation").fields).toEqual({ title: "required" });
      expect(Object.keys(expectError(await api.post(`/api/v1/markets/${w.market}/announcements`, { title: "x", body: "x", audience: "vip" }), 422, "validation").fields)).toEqual(["audience"]);
      expect(Object.keys(expectError(await api.post(`/api/v1/markets/${w.market}/announcements`, { title: "x", body: "x", audience: "all", pinned: true }), 422).fields)).toEqual(["pinned"]);
      expectError(await api.post(`/api/v1/markets/${w.market}/announcements`, { title: "x", body: "x", audience: "all" }, { key: null }), 400);
      expectError(await api.post(`/api/v1/markets/${w.strangerMarket}/announcements`, { title: "x", body: "x", audience: "all" }), 404, "not_found");
      expectError(await api.get(`/api/v1/markets/${w.strangerMarket}/announcements`), 404, "not_found");
      expect(expectError(await api.get(`/api/v1/markets/${w.market}/announcements?after=bad`), 422).fields).toEqual({ after: "invalid_cursor" });
      expectError(await api.get(`/api/v1/markets/${randomUUID()}/announcements`), 404);
      expect(await count(w.market)).toBe(before + 1);

      const viewer = await apiLogin(server.url, w.emails.viewer, TEST_PASSWORD);
      expectError(await viewer.post(`/api/v1/markets/${w.market}/announcements`, { title: "x", body: "x", audience: "all" }), 403, "forbidden");
      const merchantApi = await apiLogin(server.url, w.emails.merchantX, TEST_PASSWORD);
      expectError(await merchantApi.get(`/api/v1/markets/${w.market}/announcements`), 404);
    });
  });
});
