import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemoData } from "../../app/seed/demo.server";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { startTestServer, type TestServer } from "../support/web";

/**
 * The market operator's pages in real Chromium without JavaScript (plain HTML forms), in zh-CN and
 * en, on the demo data: one screenshot per page and language in tests/.artifacts/, plus an
 * application approved through the page.
 */

const ARTIFACTS = path.join(ROOT, "tests", ".artifacts");
const STEP_TIMEOUT_MS = 20_000;

async function launch(javaScriptEnabled = false): Promise<{ context: BrowserContext; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    javaScriptEnabled,
    viewport: { width: 1280, height: 860 },
    locale: "zh-CN",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return { context, dir };
}

describe("market operator pages in a browser", () => {
  let t: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: "demo1234" });
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("shows the demo market's pages in zh-CN and en, and approves an application with a stall", async () => {
    const { context, dir } = await launch();
    try {
      const page: Page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${server.url}/login`);
      await page.fill('input[name="email"]', "operator@demo.test");
      await page.fill('input[name="password"]', "demo1234");
      await page.click('button[type="submit"]:has-text("登录")');
      await page.waitForLoadState("networkidle");

      await page.click('a[href="/markets"]');
      await page.waitForLoadState("networkidle");
      await expect.poll(() => page.locator("h1").textContent(), { timeout: STEP_TIMEOUT_MS }).toBe("我的市场");
      await page.screenshot({ path: path.join(ARTIFACTS, "markets-zh.png"), fullPage: true });
      await page.click('a:has-text("四季青服装批发市场")');
      await page.waitForLoadState("networkidle");
      const marketPath = new URL(page.url()).pathname;
      expect(marketPath).toMatch(/^\/markets\/[0-9a-f-]{36}$/);
      expect(await page.locator('table[data-testid="stall-table"] tbody tr').count()).toBe(20);
      await page.screenshot({ path: path.join(ARTIFACTS, "market-zh.png"), fullPage: true });

      await page.goto(`${server.url}${marketPath}/applications`);
      await page.selectOption('table[data-testid="application-table"] select[name="stallId"]', { label: "C-101 · C区 童装馆" });
      await page.click('button:has-text("通过并分配铺位")');
      await page.waitForLoadState("networkidle");
      await expect.poll(() => page.locator(".flash").textContent(), { timeout: STEP_TIMEOUT_MS }).toContain("已通过 杭州小蜜蜂童装店，分配铺位 C-101");
      await page.screenshot({ path: path.join(ARTIFACTS, "market-applications-zh.png"), fullPage: true });

      await page.goto(`${server.url}${marketPath}/fees`);
      expect(await page.locator('table[data-testid="fee-table"]').textContent()).toContain("2.5%");
      await page.screenshot({ path: path.join(ARTIFACTS, "market-fees-zh.png"), fullPage: true });

      await page.click('form[action="/set-language"] button[type="submit"]');
      await page.waitForLoadState("networkidle");
      await expect.poll(() => page.locator("html").getAttribute("lang"), { timeout: STEP_TIMEOUT_MS }).toBe("en");
      await expect.poll(() => page.locator("h1").textContent(), { timeout: STEP_TIMEOUT_MS }).toBe("Fee schedules");
      await page.screenshot({ path: path.join(ARTIFACTS, "market-fees-en.png"), fullPage: true });
      for (const [suffix, file, heading] of [
        ["", "markets-en.png", "My markets"],
        [marketPath, "market-en.png", null],
        [`${marketPath}/applications`, "market-applications-en.png", "Merchant applications"],
      ] as const) {
        await page.goto(`${server.url}${suffix || "/markets"}`);
        if (heading) expect(await page.locator("h1").textContent()).toBe(heading);
        await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
      }
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hydrates every market page with JavaScript, without a page error", async () => {
    const { context, dir } = await launch(true);
    try {
      const page: Page = context.pages()[0] ?? (await context.newPage());
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(`${server.url}/login`);
      await page.waitForLoadState("networkidle");
      await page.waitForFunction(() => "__remixRouter" in window, undefined, { timeout: STEP_TIMEOUT_MS });
      await page.fill('input[name="email"]', "operator@demo.test");
      await page.fill('input[name="password"]', "demo1234");
      await page.click('button[type="submit"]:has-text("登录")');
      await expect.poll(() => new URL(page.url()).pathname, { timeout: STEP_TIMEOUT_MS }).toBe("/");
      const [market] = await t.db.selectFrom("markets").select("id").where("name", "=", "四季青服装批发市场").execute();
      for (const suffix of ["/markets", `/markets/${market.id}`, `/markets/${market.id}/applications`, `/markets/${market.id}/fees`]) {
        await page.goto(`${server.url}${suffix}`);
        await page.waitForLoadState("networkidle");
        const hydrated = await page.waitForFunction(() => "__remixRouter" in window, undefined, { timeout: STEP_TIMEOUT_MS }).then(() => true, () => false);
        expect({ suffix, hydrated, pageErrors }).toEqual({ suffix, hydrated: true, pageErrors: [] });
      }
      expect(await page.locator('table[data-testid="fee-table"]').textContent()).toContain("2.5%");
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
