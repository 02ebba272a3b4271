import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approveApplication, respondToInfoRequest, reviewApplication, submitApplication } from "../../app/domain/recruitment/recruitment.server";
import { USCC_MESSAGES } from "../../app/domain/shared/uscc";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg } from "../support/factories";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";
import { ANONYMOUS, applicationInput, coreEnterprise, corruptUscc, PDF_BYTES, publishedCampaign, randomUscc, type CoreWorld } from "./recruitment.fixtures";

/**
 * The recruitment pages in real Chromium, with and without JavaScript, in both languages: the
 * public campaign page, the application form refusing a wrong USCC next to the field, and the
 * reviewer's page. Screenshots go to tests/.artifacts/ for a human look.
 */

const ARTIFACTS = path.join(ROOT, "tests", ".artifacts");
const STEP_TIMEOUT_MS = 20_000;
const LOCALES = ["zh-CN", "en"] as const;

describe("recruitment pages in Chromium", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let world: CoreWorld;
  let campaignId: string;
  let applicationId: string;
  let statusPath: string;
  let approvedStatusPath: string;
  let invitationPath: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestDatabase();
    await createOrg(t.db, { kind: "bank", name: "测试银行" });
    world = await coreEnterprise(t.db, "华通电器");
    await t.db.updateTable("organizations").set({ name_en: "Huatong Electric Appliances" }).where("id", "=", world.coreId).execute();
    const campaign = await publishedCampaign(t.db, world, {
      title: "2026 华东区家电经销商招募",
      description:
        "华通电器面向华东地区招募空调、冰箱、洗衣机经销商。\n入选经销商享受银牌等级价格、10 万元授信额度与 30 天账期，总部提供门店形象支持与培训。",
      requirements: "1. 具备独立法人资格，成立满 1 年；\n2. 有家电零售或分销经验，有实体门店或线上店铺；\n3. 认同华通的价格体系与服务标准。",
      regions: ["浙江省温州市", "浙江省金华市", "江苏省苏州市", "安徽省合肥市"],
      quota: 5,
      depositFen: 2_000_000,
    });
    campaignId = campaign.id;
    const submitted = await submitApplication(t.db, ANONYMOUS, {
      campaignId,
      input: applicationInput({ companyName: "温州优选电器有限公司", notes: "在温州市区有两家门店，年销售额约 800 万元。" }),
      documents: [{ fileName: "营业执照.pdf", bytes: PDF_BYTES }],
      now: new Date(),
    });
    applicationId = submitted.application.id;
    await reviewApplication(t.db, world.actor, world.coreId, applicationId, "start_review", "", new Date());
    await reviewApplication(t.db, world.actor, world.coreId, applicationId, "request_info", "请上传门店照片和近一年的销售流水。", new Date());
    await respondToInfoRequest(t.db, ANONYMOUS, {
      campaignId,
      token: submitted.token,
      message: "已上传两家门店的照片；销售流水见附件。",
      documents: [{ fileName: "门店照片.pdf", bytes: PDF_BYTES }],
    });
    statusPath = submitted.statusPath;
    // A second application, approved: its status page shows the invitation and the deposit due.
    const second = await submitApplication(t.db, ANONYMOUS, { campaignId, input: applicationInput({ companyName: "金华众诚电器有限公司", region: "浙江省金华市" }), now: new Date() });
    await reviewApplication(t.db, world.actor, world.coreId, second.application.id, "start_review", "", new Date());
    const approved = await approveApplication(t.db, world.actor, world.coreId, second.application.id, { note: "欢迎加入华通经销商网络。", serverSecret: "test-session-secret-0123456789abcdef", now: new Date() });
    approvedStatusPath = second.statusPath;
    invitationPath = approved.invitationPath!;
    server = await startPaymentsServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function browser(locale: (typeof LOCALES)[number], javaScriptEnabled: boolean, cookies: Map<string, string> = new Map()): Promise<BrowserContext> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-recruit-"));
    dirs.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      javaScriptEnabled,
      viewport: { width: 1200, height: 900 },
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const all = new Map(cookies);
    all.set("lang", Buffer.from(JSON.stringify(locale)).toString("base64"));
    await context.addCookies([...all].map(([name, value]) => ({ name, value, url: server.url })));
    return context;
  }

  async function settle(page: Page): Promise<void> {
    await page.waitForLoadState("networkidle", { timeout: STEP_TIMEOUT_MS });
  }

  async function fillApplication(page: Page, uscc: string): Promise<void> {
    await page.fill("#companyName", "温州试错电器有限公司");
    await page.fill("#uscc", uscc);
    await page.fill("#legalRepresentative", "林国强");
    await page.fill("#contactName", "林小姐");
    await page.fill("#contactPhone", "13857712345");
    await page.fill("#contactEmail", "lin@example.test");
    await page.selectOption("#region", "浙江省温州市");
    await page.check('input[name="channels"][value="retail_store"]');
    await page.check('input[name="channels"][value="online_store"]');
  }

  for (const locale of LOCALES) {
    for (const javaScriptEnabled of [false, true]) {
      const label = `${locale}-${javaScriptEnabled ? "js" : "nojs"}`;
      it(`shows the campaign and refuses a wrong USCC next to the field (${label})`, async () => {
        const context = await browser(locale, javaScriptEnabled);
        try {
          const page = context.pages()[0] ?? (await context.newPage());
          page.setDefaultTimeout(STEP_TIMEOUT_MS);
          await page.goto(`${server.url}/join/${campaignId}`);
          await settle(page);
          await expect(page.locator("h1").first().textContent()).resolves.toContain("2026 华东区家电经销商招募");
          await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-campaign-${label}.png`), fullPage: true });

          const bad = corruptUscc(randomUscc());
          await fillApplication(page, bad);
          await page.click('button[type="submit"].rc-button');
          await settle(page);
          await page.locator("#uscc-error").waitFor();
          const message = USCC_MESSAGES.check_character[locale === "en" ? "en" : "zh"];
          await expect(page.locator("#uscc-error").textContent()).resolves.toContain(message);
          // What was typed is still there.
          await expect(page.inputValue("#uscc")).resolves.toBe(bad);
          await expect(page.inputValue("#companyName")).resolves.toBe("温州试错电器有限公司");
          await expect(page.isChecked('input[name="channels"][value="online_store"]')).resolves.toBe(true);
          await page.locator("#uscc").scrollIntoViewIfNeeded();
          await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-apply-bad-uscc-${label}.png`), fullPage: true });
        } finally {
          await context.close();
        }
      });
    }

    it(`shows the reviewer the application, its documents, timeline and actions (${locale})`, async () => {
      const client = await loggedIn(server.url, world.owner);
      const context = await browser(locale, false, client.cookies);
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        await page.goto(`${server.url}/campaigns/${campaignId}/applications/${applicationId}`);
        await settle(page);
        await expect(page.locator("h1").first().textContent()).resolves.toBe("温州优选电器有限公司");
        await expect(page.locator(".rc-timeline li").count()).resolves.toBe(4);
        await expect(page.locator('input[name="intent"][value="approve"]').count()).resolves.toBe(1);
        await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-review-${locale}.png`), fullPage: true });
        await page.goto(`${server.url}/campaigns/${campaignId}`);
        await settle(page);
        await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-campaign-detail-${locale}.png`), fullPage: true });
      } finally {
        await context.close();
      }
    });

    it(`shows the applicant its status, the invitation and the deposit due, and the invitation page (${locale})`, async () => {
      const context = await browser(locale, false);
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        page.setDefaultTimeout(STEP_TIMEOUT_MS);
        await page.goto(`${server.url}${statusPath}`);
        await settle(page);
        await expect(page.locator("textarea#respond-message").count()).resolves.toBe(0);
        await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-status-${locale}.png`), fullPage: true });
        await page.goto(`${server.url}${approvedStatusPath}`);
        await settle(page);
        await expect(page.locator('[data-testid="invitation-link"]').getAttribute("href")).resolves.toContain(invitationPath);
        await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-status-approved-${locale}.png`), fullPage: true });
        await page.goto(`${server.url}${invitationPath}`);
        await settle(page);
        await expect(page.locator("#displayName").count()).resolves.toBe(1);
        await page.screenshot({ path: path.join(ARTIFACTS, `recruitment-invite-${locale}.png`), fullPage: true });
      } finally {
        await context.close();
      }
    });
  }
});
