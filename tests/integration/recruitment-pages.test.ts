import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { USCC_MESSAGES } from "../../app/domain/shared/uscc";
import { getDealerLink } from "../../app/domain/dealers/dealers.server";
import { depositAccountCode } from "../../app/domain/recruitment/recruitment.server";
import { fulfilPaymentStep } from "../../workflows/payments";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { Client, csrfToken, type Page } from "../support/web";
import { expectLedgerClean, loggedIn, payOnSandboxPage, settleDeliveries, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";
import { coreEnterprise, corruptUscc, PDF_BYTES, randomUscc, today, type CoreWorld } from "./recruitment.fixtures";

/**
 * The recruitment pages through the real Express + Remix stack, as a browser without JavaScript
 * uses them: a core enterprise creates and publishes a campaign; an anonymous company applies (a
 * wrong USCC comes back with the validator's message next to the field, in Chinese and English,
 * input kept); the application is reviewed, answered, approved; the invitation opens an account;
 * the deposit is paid through the sandbox gateway. Another tenant gets 404 everywhere.
 */
describe("recruitment pages", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let world: CoreWorld;
  let core: Client;
  let stranger: Client;
  let dealerClient: Client;

  beforeAll(async () => {
    t = await createTestDatabase();
    await createOrg(t.db, { kind: "bank", name: "测试银行" });
    world = await coreEnterprise(t.db, "华通电器");
    const strangerWorld = await coreEnterprise(t.db, "陌生企业");
    const dealerOrg = await createOrg(t.db, { kind: "dealer" });
    const dealerUser = await createUser(t.db, { memberships: [[dealerOrg.id, "owner"]] });
    server = await startPaymentsServer(t.db);
    core = await loggedIn(server.url, world.owner);
    stranger = await loggedIn(server.url, strangerWorld.owner);
    dealerClient = await loggedIn(server.url, dealerUser);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  function campaignForm(csrf: string, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      csrf,
      title: "华东区经销商招募",
      description: "面向华东地区招募家电经销商。",
      requirements: "具备家电零售经验。",
      regions: "浙江省温州市\n浙江省金华市",
      quota: "3",
      depositYuan: "0",
      closesOn: today(30),
      tierId: world.tierId,
      creditLimitYuan: "100000",
      paymentTermsDays: "30",
      ...overrides,
    };
  }

  async function createPublished(overrides: Record<string, string> = {}): Promise<string> {
    const created = await core.post("/campaigns/new", campaignForm(await core.csrfFrom("/campaigns/new"), overrides));
    expect(created.status).toBe(302);
    const id = created.location!.split("/").pop()!;
    const csrf = await core.csrfFrom(`/campaigns/${id}`);
    const published = await core.post(`/campaigns/${id}?index`, { csrf, intent: "publish" });
    expect(published.status).toBe(302);
    return id;
  }

  function applicationForm(csrf: string, overrides: Record<string, string> = {}, file?: { name: string; bytes: Uint8Array }): FormData {
    const form = new FormData();
    const fields: Record<string, string> = {
      csrf,
      companyName: "温州优选电器有限公司",
      uscc: randomUscc(),
      legalRepresentative: "林国强",
      contactName: "林小姐",
      contactPhone: "13857712345",
      contactEmail: `apply-${Math.random().toString(36).slice(2)}@example.test`,
      region: "浙江省温州市",
      notes: "",
      ...overrides,
    };
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("channels", "retail_store");
    form.append("channels", "online_store");
    if (file) form.append("documents", new Blob([new Uint8Array(file.bytes)]), file.name);
    else form.append("documents", new Blob([]), "");
    return form;
  }

  async function applyAnonymously(campaignId: string, overrides: Record<string, string> = {}, file?: { name: string; bytes: Uint8Array }, lang?: "en") {
    const visitor = new Client(server.url);
    if (lang) visitor.cookies.set("lang", Buffer.from(JSON.stringify(lang)).toString("base64"));
    const page = await visitor.get(`/join/${campaignId}`);
    expect(page.status).toBe(200);
    const csrf = csrfToken(page.body)!;
    const res = await visitor.request(`/join/${campaignId}?index`, { method: "POST", body: applicationForm(csrf, overrides, file) });
    return { visitor, res };
  }

  function fieldError(page: Page, field: string): string | null {
    const match = new RegExp(`<p class="field-error" id="${field}-error"[^>]*>([^<]*)</p>`).exec(page.body);
    return match ? match[1] : null;
  }

  it("creates a draft with field errors next to the fields, publishes it, and shows it to anyone only once published", async () => {
    const csrf = await core.csrfFrom("/campaigns/new");
    const bad = await core.post("/campaigns/new", campaignForm(csrf, { title: "", quota: "0", depositYuan: "abc", closesOn: "2020-01-01", regions: "" }));
    expect(bad.status).toBe(422);
    expect(fieldError(bad, "title")).toBe("此项为必填");
    expect(fieldError(bad, "quota")).toBe("超出允许范围");
    expect(fieldError(bad, "depositYuan")).toContain("请输入金额");
    expect(fieldError(bad, "regions")).toBe("此项为必填");
    expect(bad.body).toContain("面向华东地区招募家电经销商。");
    const past = await core.post("/campaigns/new", campaignForm(csrf, { closesOn: "2020-01-01" }));
    expect(past.status).toBe(422);
    expect(fieldError(past, "closesOn")).toBe("截止日期不能早于今天");

    const created = await core.post("/campaigns/new", campaignForm(csrf));
    expect(created.status).toBe(302);
    const id = created.location!.split("/").pop()!;
    expect((await new Client(server.url).get(`/join/${id}`)).status).toBe(404);
    const detail = await core.get(`/campaigns/${id}`);
    expect(detail.body).toContain("草稿");
    const published = await core.post(`/campaigns/${id}?index`, { csrf: csrfToken(detail.body)!, intent: "publish" });
    expect(published.status).toBe(302);
    const open = await new Client(server.url).get(`/join/${id}`);
    expect(open.status).toBe(200);
    expect(open.body).toContain("华东区经销商招募");
    expect(open.body).toContain("华通电器 招募经销商");
    expect((await core.get("/campaigns")).body).toContain(`/campaigns/${id}`);
    // A published campaign keeps its terms: a changed deposit is refused by field.
    const editCsrf = await core.csrfFrom(`/campaigns/${id}/edit`);
    const edit = await core.post(`/campaigns/${id}/edit`, campaignForm(editCsrf, { depositYuan: "500" }));
    expect(edit.status).toBe(409);
    expect(fieldError(edit, "fixed-depositYuan")).toBe("招募发布后不能修改此项");
  });

  it("refuses a wrong USCC with the validator's message next to the field, in Chinese and in English, keeping the input", async () => {
    const id = await createPublished();
    const bad = corruptUscc(randomUscc());
    const { res } = await applyAnonymously(id, { uscc: bad, companyName: "温州试错电器有限公司" });
    expect(res.status).toBe(422);
    expect(fieldError(res, "uscc")).toBe(USCC_MESSAGES.check_character.zh);
    expect(res.body).toContain(`value="${bad}"`);
    expect(res.body).toContain('value="温州试错电器有限公司"');
    expect(/<input[^>]*value="retail_store"[^>]*>/.exec(res.body)?.[0]).toContain("checked");
    expect(/<input[^>]*value="wholesale"[^>]*>/.exec(res.body)?.[0]).not.toContain("checked");

    const en = await applyAnonymously(id, { uscc: bad.slice(0, 10) }, undefined, "en");
    expect(en.res.status).toBe(422);
    expect(fieldError(en.res, "uscc")).toBe(USCC_MESSAGES.length.en);
    const region = await applyAnonymously(id, { region: "广东省广州市", contactPhone: "123" });
    expect(fieldError(region.res, "region")).toBe("请选择本次招募的地区之一");
    expect(fieldError(region.res, "contactPhone")).toContain("请输入手机号");
    const count = await t.db.selectFrom("recruitment_applications").select((eb) => eb.fn.countAll<number>().as("n")).where("campaign_id", "=", id).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it("rejects a forged CSRF token, a document that is not PDF/JPG/PNG, and one over 5 MB, with nothing written", async () => {
    const id = await createPublished();
    const visitor = new Client(server.url);
    await visitor.get(`/join/${id}`);
    const forged = await visitor.request(`/join/${id}?index`, { method: "POST", body: applicationForm("x".repeat(43)) });
    expect(forged.status).toBe(403);
    const html = await applyAnonymously(id, {}, { name: "evil.pdf", bytes: new Uint8Array(Buffer.from("<html><script>alert(1)</script>")) });
    expect(html.res.status).toBe(422);
    expect(fieldError(html.res, "documents")).toBe("只接受 PDF、JPG、PNG 文件");
    const big = new Uint8Array(5 * 1024 * 1024 + 10);
    big.set(PDF_BYTES);
    const large = await applyAnonymously(id, {}, { name: "big.pdf", bytes: big });
    expect(large.res.status).toBe(422);
    expect(fieldError(large.res, "documents")).toBe("单个文件不能超过 5 MB");
    const count = await t.db.selectFrom("recruitment_applications").select((eb) => eb.fn.countAll<number>().as("n")).where("campaign_id", "=", id).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it("walks an application from the public form through review, an info request and approval, to the invited owner signing in", async () => {
    const id = await createPublished();
    const email = `owner-${Math.random().toString(36).slice(2)}@example.test`;
    const { visitor, res } = await applyAnonymously(id, { contactEmail: email, companyName: "金华众诚电器有限公司", region: "浙江省金华市" }, { name: "营业执照.pdf", bytes: PDF_BYTES });
    expect(res.status).toBe(302);
    const statusPath = res.location!;
    expect(statusPath).toMatch(new RegExp(`^/join/${id}/status/[A-Za-z0-9_-]{43}$`));
    const status = await visitor.get(statusPath);
    expect(status.status).toBe(200);
    expect(status.headers.get("referrer-policy")).toBe("no-referrer");
    expect(status.headers.get("cache-control")).toBe("no-store");
    expect(status.body).toContain("已提交");
    expect(status.body).toContain("营业执照.pdf");
    // Anyone else with a slightly different token gets nothing.
    expect((await new Client(server.url).get(`${statusPath.slice(0, -1)}${statusPath.endsWith("A") ? "B" : "A"}`)).status).toBe(404);

    const application = await t.db.selectFrom("recruitment_applications").select("id").where("campaign_id", "=", id).executeTakeFirstOrThrow();
    const review = `/campaigns/${id}/applications/${application.id}`;
    const reviewPage = await core.get(review);
    expect(reviewPage.status).toBe(200);
    expect(reviewPage.body).toContain("金华众诚电器有限公司");
    const doc = /href="(\/campaigns\/[^"]+\/files\/[^"]+)"/.exec(reviewPage.body)![1];
    const download = await core.get(doc);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/pdf");
    expect(download.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect((await stranger.get(doc)).status).toBe(404);

    let csrf = csrfToken(reviewPage.body)!;
    expect((await core.post(review, { csrf, intent: "start_review" })).status).toBe(302);
    const empty = await core.post(review, { csrf, intent: "request_info", message: " " });
    expect(empty.status).toBe(422);
    expect(fieldError(empty, "info-message")).toBe("此项为必填");
    expect((await core.post(review, { csrf, intent: "request_info", message: "请补充门店照片。" })).status).toBe(302);

    const asked = await visitor.get(statusPath);
    expect(asked.body).toContain("请补充门店照片。");
    const answer = await visitor.request(statusPath, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: csrfToken(asked.body)!, intent: "respond", message: "照片已上传。" }).toString(),
    });
    expect(answer.status).toBe(302);

    csrf = await core.csrfFrom(review);
    const approved = await core.post(review, { csrf, intent: "approve", note: "欢迎加入" });
    expect(approved.status).toBe(302);
    const afterApprove = await core.get(review);
    const invitationUrl = /data-testid="invitation-link"><a href="([^"]+)"/.exec(afterApprove.body)![1];
    expect(invitationUrl).toMatch(/\/invite\/[A-Za-z0-9_-]{43}$/);
    const applicantView = await visitor.get(statusPath);
    expect(applicantView.body).toContain(invitationUrl);
    expect(applicantView.body).toContain("恭喜，您的申请已通过");

    const invitePath = new URL(invitationUrl).pathname;
    const newcomer = new Client(server.url);
    const invite = await newcomer.get(invitePath);
    expect(invite.status).toBe(200);
    expect(invite.body).toContain("金华众诚电器有限公司");
    const inviteCsrf = csrfToken(invite.body)!;
    const mismatch = await newcomer.post(invitePath, { csrf: inviteCsrf, intent: "create", displayName: "林总", password: "a-long-password", passwordRepeat: "another" });
    expect(mismatch.status).toBe(422);
    expect(fieldError(mismatch, "passwordRepeat")).toBe("两次输入的密码不一致");
    const created = await newcomer.post(invitePath, { csrf: inviteCsrf, intent: "create", displayName: "林总", password: "a-long-password", passwordRepeat: "a-long-password" });
    expect(created.status).toBe(302);
    expect(created.location).toBe("/");
    const dashboard = await newcomer.get("/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain("金华众诚电器有限公司");
    expect((await newcomer.get(invitePath)).body).toContain("此邀请已被接受");
  });

  it("answers 404 to another core enterprise, and to dealers, on every campaign page and form", async () => {
    const id = await createPublished();
    const { res } = await applyAnonymously(id);
    expect(res.status).toBe(302);
    const application = await t.db.selectFrom("recruitment_applications").select("id").where("campaign_id", "=", id).executeTakeFirstOrThrow();
    const review = `/campaigns/${id}/applications/${application.id}`;
    for (const path of [`/campaigns/${id}`, `/campaigns/${id}/edit`, review]) {
      expect((await stranger.get(path)).status, path).toBe(404);
    }
    const csrf = await stranger.csrfFrom("/campaigns");
    expect((await stranger.post(review, { csrf, intent: "approve" })).status).toBe(404);
    expect((await stranger.post(`/campaigns/${id}?index`, { csrf, intent: "close" })).status).toBe(404);
    expect((await stranger.post(`/campaigns/${id}/edit`, campaignForm(csrf))).status).toBe(404);
    expect((await dealerClient.get("/campaigns")).status).toBe(404);
    expect((await dealerClient.get(review)).status).toBe(404);
    // Nothing moved.
    const after = await t.db.selectFrom("recruitment_applications").select("status").where("id", "=", application.id).executeTakeFirstOrThrow();
    expect(after.status).toBe("submitted");
    expect((await core.get(`/campaigns/not-a-uuid`)).status).toBe(404);
    expect((await core.get(`/campaigns/${id}?after=garbage`)).status).toBe(400);
    expect((await new Client(server.url).get(`/join/${id}/status/short`)).status).toBe(404);
  });

  it("collects the deposit: the invited owner lands on the deposit page, pays through e-Pay, and the link reopens", async () => {
    const id = await createPublished({ depositYuan: "20000" });
    const email = `deposit-${Math.random().toString(36).slice(2)}@example.test`;
    const { visitor, res } = await applyAnonymously(id, { contactEmail: email });
    const statusPath = res.location!;
    const application = await t.db.selectFrom("recruitment_applications").select("id").where("campaign_id", "=", id).executeTakeFirstOrThrow();
    const review = `/campaigns/${id}/applications/${application.id}`;
    const csrf = await core.csrfFrom(review);
    await core.post(review, { csrf, intent: "start_review" });
    expect((await core.post(review, { csrf, intent: "approve" })).status).toBe(302);
    const status = await visitor.get(statusPath);
    expect(status.body).toContain("请缴纳保证金 ¥20,000.00");
    const invitePath = new URL(/data-testid="invitation-link"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*data-testid="invitation-link"/.exec(status.body)!.slice(1).find(Boolean)!).pathname;

    const owner = new Client(server.url);
    const inviteCsrf = await owner.csrfFrom(invitePath);
    const created = await owner.post(invitePath, { csrf: inviteCsrf, intent: "create", displayName: "陈总", password: "deposit-password", passwordRepeat: "deposit-password" });
    expect(created.status).toBe(302);
    expect(created.location).toBe(`/join/${id}/deposit`);
    const depositPage = await owner.get(`/join/${id}/deposit`);
    expect(depositPage.status).toBe(200);
    expect(depositPage.body).toContain("¥20,000.00");
    // Only the dealer's own people see it.
    expect((await core.get(`/join/${id}/deposit`)).status).toBe(404);

    const pay = await owner.post(`/join/${id}/deposit`, { csrf: csrfToken(depositPage.body)! });
    expect(pay.status).toBe(302);
    const paid = await payOnSandboxPage(pay.location!, "pay");
    expect([302, 303]).toContain(paid.status);
    const back = await owner.get(new URL(paid.location!).pathname);
    expect(back.status).toBe(302);
    expect(back.location).toBe(`/join/${id}/deposit`);
    await settleDeliveries(t.db);
    const payment = await t.db.selectFrom("payments").select("id").where("reference", "=", `recruitment_application:${application.id}`).executeTakeFirstOrThrow();
    await fulfilPaymentStep({ db: t.db, logger }, { paymentId: payment.id });
    const done = await owner.get(`/join/${id}/deposit`);
    expect(done.body).toContain("您的经销商账户已启用");
    expect((await visitor.get(statusPath)).body).toContain("保证金 ¥20,000.00 已缴纳");
    const app = await t.db.selectFrom("recruitment_applications").select(["status", "dealer_link_id"]).where("id", "=", application.id).executeTakeFirstOrThrow();
    expect(app.status).toBe("approved");
    expect((await getDealerLink(t.db, world.coreId, app.dealer_link_id!)).status).toBe("active");
    const held = await t.db.selectFrom("ledger_accounts").select("credits_posted_fen").where("code", "=", depositAccountCode(id)).executeTakeFirstOrThrow();
    expect(held.credits_posted_fen).toBe(2_000_000);
    await expectLedgerClean(t.db);
  });
});
