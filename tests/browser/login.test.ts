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
 * Real Chromium through the pages, twice: with JavaScript (hydrated Remix, fetch navigations) and
 * without (plain HTML forms and redirects). Screenshots land in tests/.artifacts/ for a human look.
 */

const ARTIFACTS = path.join(ROOT, "tests", ".artifacts");
const CHROMIUM = "/usr/bin/chromium";
const DEALER = "杭州鑫达商贸有限公司";
const DEALER2 = "宁波鑫达电器销售有限公司";

async function launch(javaScriptEnabled: boolean): Promise<{ context: BrowserContext; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled,
    viewport: { width: 1280, height: 860 },
    locale: "zh-CN",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { context, dir };
}

const STEP_TIMEOUT_MS = 20_000;

async function settle(page: Page, javaScriptEnabled: boolean): Promise<void> {
  // A document navigation (no JS) is waited for by click/goto; this covers what follows it.
  await page.waitForLoadState("networkidle");
  // With JS, wait until Remix has hydrated: a click before that is a plain HTML submit, and a
  // client-side navigation after it has no load event, so the checks below poll for their result.
  if (javaScriptEnabled) await page.waitForFunction(() => "__remixRouter" in window, undefined, { timeout: STEP_TIMEOUT_MS });
}

/** Poll until the page shows what the step should produce; client-side navigations take a moment. */
function eventually<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: STEP_TIMEOUT_MS });
}

describe("signing in with a browser", () => {
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

  for (const js of [true, false]) {
    const label = js ? "js" : "nojs";

    it(`logs in, switches organisation and language, and logs out (${js ? "with" : "without"} JavaScript)`, async () => {
      // The other run switched this account to English, and the account remembers: start over.
      await t.db.updateTable("users").set({ locale: "zh-CN" }).where("email", "=", "dealer@demo.test").execute();
      const { context, dir } = await launch(js);
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        const pageErrors: string[] = [];
        page.on("pageerror", (error) => pageErrors.push(error.message));

        await page.goto(`${server.url}/`);
        await settle(page, js);
        expect(new URL(page.url()).pathname).toBe("/login");
        await eventually(() => page.locator("h1").textContent()).toBe("登录融通");
        await page.screenshot({ path: path.join(ARTIFACTS, `login-zh-${label}.png`), fullPage: true });

        // A wrong password first: one clear message.
        await page.fill('input[name="email"]', "dealer@demo.test");
        await page.fill('input[name="password"]', "wrong-password");
        await page.click('button[type="submit"]:has-text("登录")');
        await settle(page, js);
        await eventually(() => page.locator(".form-error").textContent()).toBe("邮箱或密码不正确");
        expect(await page.inputValue('input[name="email"]')).toBe("dealer@demo.test");
        await page.screenshot({ path: path.join(ARTIFACTS, `login-error-zh-${label}.png`), fullPage: true });

        await page.fill('input[name="password"]', "demo1234");
        await page.click('button[type="submit"]:has-text("登录")');
        await settle(page, js);
        await eventually(() => page.locator("h1").textContent()).toBe(DEALER);
        expect(new URL(page.url()).pathname).toBe("/");
        await eventually(() => page.locator(".flash").textContent()).toContain("欢迎回来");
        expect(await page.locator('table[data-testid="balances"] tbody tr').count()).toBeGreaterThan(0);
        await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-zh-${label}.png`), fullPage: true });

        // Switch organisation: dealer@demo.test is also a purchaser at a second dealer.
        const dealer2Id = await page.locator(`select[name="orgId"] option:has-text("${DEALER2}")`).getAttribute("value");
        expect(dealer2Id).toBeTruthy();
        await page.selectOption('select[name="orgId"]', dealer2Id!);
        await page.click('form[action="/switch-org"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator("h1").textContent()).toBe(DEALER2);
        await eventually(() => page.locator(".flash").textContent()).toBe(`已切换到 ${DEALER2}`);

        // Account detail of the acting organisation.
        await page.click('table[data-testid="balances"] tbody tr a');
        await settle(page, js);
        await eventually(() => new URL(page.url()).pathname).toMatch(/^\/accounts\//);
        await eventually(() => page.locator('[data-testid="balance"]').textContent()).toMatch(/^¥[\d,]+\.\d{2}$/);
        await page.screenshot({ path: path.join(ARTIFACTS, `account-zh-${label}.png`), fullPage: true });

        // English.
        await page.click('form[action="/set-language"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator("html").getAttribute("lang")).toBe("en");
        await eventually(() => page.locator("h2").first().textContent()).toBe("Statement");
        await page.goto(`${server.url}/`);
        await settle(page, js);
        await eventually(() => page.locator("#balances-heading").textContent()).toBe("Balances");
        expect(await page.locator(".topbar").textContent()).toContain("Log out");
        await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-en-${label}.png`), fullPage: true });

        // Log out.
        await page.click('form[action="/logout"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => new URL(page.url()).pathname).toBe("/login");
        await eventually(() => page.locator(".flash").textContent()).toBe("You have logged out");
        await eventually(() => page.locator("h1").textContent()).toBe("Log in to Rongtong");
        await page.screenshot({ path: path.join(ARTIFACTS, `login-en-${label}.png`), fullPage: true });

        // The dashboard is gone with the session.
        await page.goto(`${server.url}/`);
        await settle(page, js);
        expect(new URL(page.url()).pathname).toBe("/login");
        expect(pageErrors).toEqual([]);
      } finally {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }

  it("shows the bank its platform figures and a clean ledger check", async () => {
    const { context, dir } = await launch(true);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${server.url}/login`);
      await settle(page, true);
      await page.fill('input[name="email"]', "bank@demo.test");
      await page.fill('input[name="password"]', "demo1234");
      await page.click('button[type="submit"]:has-text("登录")');
      await settle(page, true);
      await eventually(() => page.locator("h1").textContent()).toBe("融通银行");
      await eventually(() => page.locator('[data-testid="ledger-ok"]').count()).toBe(1);
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-bank-zh.png"), fullPage: true });

      // Someone else's account id in the URL: the words a user understands, and a 404.
      const response = await page.goto(`${server.url}/accounts/6f1c1e7e-8c1b-4e8e-9d55-3f0f6b0a9c11`);
      expect(response?.status()).toBe(404);
      expect(await page.locator(".error-panel").textContent()).toContain("不属于您当前的机构");
      await page.screenshot({ path: path.join(ARTIFACTS, "not-found-zh.png"), fullPage: true });
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
