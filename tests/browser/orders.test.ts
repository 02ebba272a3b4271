import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemoData } from "../../app/seed/demo.server";
import { receiveOrder, shipOrder } from "../../app/domain/orders/fulfilment.server";
import { payFromWallet, payOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { requestReturn } from "../../app/domain/orders/returns.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createSeason } from "../../app/domain/orders/seasons.server";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { startTestServer, type TestServer } from "../support/web";

/**
 * Real Chromium through the order pages, with JavaScript (hydrated Remix) and without (plain HTML
 * forms and redirects): the demo dealer finds a SKU in the catalogue, puts it in the cart, changes
 * the quantity and submits; the demo core enterprise confirms with a lower quantity and a reason.
 * A quick order with bad lines shows each by line number. Screenshots (zh-CN and en) land in
 * tests/.artifacts/ for a human look.
 */

const ARTIFACTS = path.join(ROOT, "tests", ".artifacts");
const CHROMIUM = "/usr/bin/chromium";
const STEP_TIMEOUT_MS = 20_000;
const SKU = "HT-KFR-50GW-A1";

async function launch(javaScriptEnabled: boolean): Promise<{ context: BrowserContext; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-orders-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled,
    viewport: { width: 1280, height: 900 },
    locale: "zh-CN",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return { context, dir };
}

async function settle(page: Page, javaScriptEnabled: boolean): Promise<void> {
  await page.waitForLoadState("networkidle");
  if (javaScriptEnabled) await page.waitForFunction(() => "__remixRouter" in window, undefined, { timeout: STEP_TIMEOUT_MS });
}

function eventually<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: STEP_TIMEOUT_MS });
}

async function login(page: Page, baseUrl: string, email: string, js: boolean): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await settle(page, js);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', "demo1234");
  await page.click('button[type="submit"]:has-text("登录")');
  await settle(page, js);
  await eventually(() => new URL(page.url()).pathname).toBe("/");
}

describe("orders in a browser", () => {
  let t: TestDatabase;
  let server: TestServer;
  const dirs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: "demo1234" });
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  for (const js of [true, false]) {
    const label = js ? "js" : "nojs";

    it(`dealer goes from the catalogue and cart to a submitted order, the core enterprise confirms it (${js ? "with" : "without"} JavaScript)`, async () => {
      await t.db.updateTable("users").set({ locale: "zh-CN" }).where("email", "in", ["dealer@demo.test", "core@demo.test"]).execute();
      const dealerBrowser = await launch(js);
      dirs.push(dealerBrowser.dir);
      let orderUrl: string;
      let orderNumber: string;
      try {
        const page = dealerBrowser.context.pages()[0] ?? (await dealerBrowser.context.newPage());
        const pageErrors: string[] = [];
        page.on("pageerror", (error) => pageErrors.push(error.message));
        await login(page, server.url, "dealer@demo.test", js);

        // The catalogue: find the SKU at the dealer's own price.
        await page.click('.topnav a[href="/shop"]');
        await settle(page, js);
        await page.click('a[href^="/shop/"]');
        await settle(page, js);
        await eventually(() => page.locator('table[data-testid="shop-table"]').count()).toBe(1);
        await page.fill('input[name="q"]', SKU);
        await page.click('form[role="search"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator('table[data-testid="shop-table"] tbody tr').count()).toBe(1);
        const code = (await page.locator('table[data-testid="shop-table"] tbody tr td.mono').first().textContent())?.trim();
        expect(code).toBe(SKU);
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-shop-zh-${label}.png`), fullPage: true });

        // The cart: add it by code, raise the quantity, submit.
        await page.click('.topnav a[href="/orders"]');
        await settle(page, js);
        await page.click('a[href="/cart"]');
        await settle(page, js);
        await eventually(() => page.locator("h1").textContent()).toBe("购物车");
        await page.fill('form[data-testid="add-form"] input[name="sku_code"]', code!);
        await page.fill('form[data-testid="add-form"] input[name="quantity"]', "2");
        await page.click('form[data-testid="add-form"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator(".flash").textContent()).toContain(`已加入购物车：${SKU} × 2`);
        const qty = page.locator('section[data-testid="cart"] input[name^="quantity."]').first();
        await eventually(() => qty.inputValue()).toBe("2");
        await qty.fill("5");
        await page.click('section[data-testid="cart"] button[value="update"]');
        await settle(page, js);
        await eventually(() => page.locator(".flash").textContent()).toContain("购物车已更新");
        await eventually(() => page.locator('section[data-testid="cart"] input[name^="quantity."]').first().inputValue()).toBe("5");
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-cart-zh-${label}.png`), fullPage: true });
        await page.click('button[data-intent="submit-cart"]');
        await settle(page, js);
        await eventually(() => new URL(page.url()).pathname).toMatch(/^\/orders\/[0-9a-f-]{36}$/);
        await eventually(() => page.locator('.sc-head [data-status]').getAttribute("data-status")).toBe("submitted");
        await eventually(() => page.locator(".flash").textContent()).toContain("已提交给供货方");
        orderUrl = page.url();
        orderNumber = (await page.locator('[data-testid="order-number"]').textContent())!.trim();
        expect(await page.locator('ol[data-testid="timeline"] li').count()).toBe(2);
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-submitted-zh-${label}.png`), fullPage: true });

        // A quick order with bad lines: each reported by its line number, nothing ordered.
        await page.goto(`${server.url}/orders/quick`);
        await settle(page, js);
        await page.fill('textarea[name="lines"]', ["SKU,数量", `${SKU},1`, "NO-SUCH-SKU,3", "HT-DF-3001,7", "HT-BC-93,2"].join("\n"));
        await page.click('form[data-testid="quick-form"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator('table[data-testid="line-problems"] tbody tr').count()).toBe(2);
        expect(await page.locator('table[data-testid="line-problems"] tbody tr').first().getAttribute("data-line")).toBe("3");
        expect(await page.locator('table[data-testid="line-problems"]').textContent()).toContain("须为包装数量 6 件的整数倍");
        expect(await page.inputValue('textarea[name="lines"]')).toContain("NO-SUCH-SKU,3");
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-quick-errors-zh-${label}.png`), fullPage: true });
        // The same in English.
        await page.click('form[action="/set-language"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator("html").getAttribute("lang")).toBe("en");
        await page.fill('textarea[name="lines"]', ["SKU,qty", `${SKU},1`, "NO-SUCH-SKU,3", "HT-DF-3001,7", "HT-BC-93,x"].join("\n"));
        await page.click('form[data-testid="quick-form"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator('table[data-testid="line-problems"] tbody tr').count()).toBe(3);
        expect(await page.locator('table[data-testid="line-problems"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-line")))).toEqual(["3", "4", "5"]);
        expect(await page.locator('table[data-testid="line-problems"]').textContent()).toContain("Enter a whole number");
        expect(await page.locator('table[data-testid="line-problems"]').textContent()).toContain("No SKU NO-SUCH-SKU in the catalogue");
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-quick-errors-en-${label}.png`), fullPage: true });
        expect(pageErrors).toEqual([]);
      } finally {
        await dealerBrowser.context.close();
      }

      // The core enterprise confirms, lowering the quantity with a reason (first without one).
      const coreBrowser = await launch(js);
      dirs.push(coreBrowser.dir);
      try {
        const page = coreBrowser.context.pages()[0] ?? (await coreBrowser.context.newPage());
        const pageErrors: string[] = [];
        page.on("pageerror", (error) => pageErrors.push(error.message));
        await login(page, server.url, "core@demo.test", js);
        await page.click('.topnav a[href="/orders"]');
        await settle(page, js);
        await page.click(`table[data-testid="orders"] a:has-text("${orderNumber}")`);
        await settle(page, js);
        await eventually(() => page.url()).toBe(orderUrl);
        const form = page.locator('form[data-testid="confirm-form"]');
        await eventually(() => form.count()).toBe(1);
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-confirm-form-zh-${label}.png`), fullPage: true });
        await form.locator('input[name^="quantity."]').first().fill("4");
        await form.locator('button[type="submit"]').click();
        await settle(page, js);
        await eventually(() => form.locator(".field-error").first().textContent()).toContain("调整了数量，请填写原因");
        expect(await form.locator('input[name^="quantity."]').first().inputValue()).toBe("4");
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-confirm-error-zh-${label}.png`), fullPage: true });
        await form.locator('input[name^="reason."]').first().fill("仓库现货只有四台");
        await form.locator('button[type="submit"]').click();
        await settle(page, js);
        await eventually(() => page.locator('.sc-head [data-status]').getAttribute("data-status")).toBe("confirmed");
        await eventually(() => page.locator(".flash").textContent()).toContain("已确认");
        expect(await page.locator('table[data-testid="lines"] .od-adjust').textContent()).toBe("仓库现货只有四台");
        expect(await page.locator('ol[data-testid="timeline"] li[data-event="confirm"]').count()).toBe(1);
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-confirmed-zh-${label}.png`), fullPage: true });

        await page.click('form[action="/set-language"] button[type="submit"]');
        await settle(page, js);
        await eventually(() => page.locator("html").getAttribute("lang")).toBe("en");
        await eventually(() => page.locator("#timeline-heading").textContent()).toBe("Timeline");
        expect(await page.locator('.sc-head [data-status]').textContent()).toBe("Confirmed");
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-confirmed-en-${label}.png`), fullPage: true });
        expect(pageErrors).toEqual([]);
      } finally {
        await coreBrowser.context.close();
      }

      // The dealer sees the confirmed order with the supplier's change, and what to pay.
      const again = await launch(js);
      dirs.push(again.dir);
      try {
        const page = again.context.pages()[0] ?? (await again.context.newPage());
        await login(page, server.url, "dealer@demo.test", js);
        await page.goto(orderUrl);
        await settle(page, js);
        await eventually(() => page.locator('[data-testid="pay"]').count()).toBe(1);
        await page.screenshot({ path: path.join(ARTIFACTS, `orders-dealer-confirmed-${label}.png`), fullPage: true });
      } finally {
        await again.context.close();
      }
    }, 180_000);
  }

  it("shows the list, a shipped order with its return, the return form, seasons and settings", async () => {
    await t.db.updateTable("users").set({ locale: "zh-CN" }).where("email", "in", ["dealer@demo.test", "core@demo.test"]).execute();
    const org = async (name: string) => (await t.db.selectFrom("organizations").select("id").where("name", "=", name).executeTakeFirstOrThrow()).id;
    const core = await org("华通电器");
    const dealerId = await org("杭州鑫达商贸有限公司");
    const asDealer = { userId: null, organizationId: dealerId, ip: null, requestId: null };
    const asCore = { userId: null, organizationId: core, ip: null, requestId: null };
    // A standard order on account, shipped in two parts, received, and a return asked for.
    const shipped = await createOrder(t.db, asDealer, {
      dealerId,
      coreEnterpriseId: core,
      kind: "standard",
      lines: [
        { skuCode: "HT-KFR-35GW-A1", quantity: 4 },
        { skuCode: "HT-DF-3001", quantity: 12 },
      ],
    }, new Date());
    await confirmOrder(t.db, asCore, shipped.id, new Date());
    await payOnAccount(t.db, asDealer, shipped.id, new Date());
    const [ac, rice] = (await getOrder(t.db, core, shipped.id)).lines;
    await shipOrder(t.db, asCore, shipped.id, { carrier: "顺丰速运", trackingNumber: "SF1400000001", lines: [{ lineId: ac.id, quantity: 4 }] }, new Date());
    await shipOrder(t.db, asCore, shipped.id, { carrier: "德邦物流", trackingNumber: "DPK2300000002", lines: [{ lineId: rice.id, quantity: 12 }] }, new Date());
    await receiveOrder(t.db, asDealer, shipped.id, new Date());
    await requestReturn(t.db, asDealer, { originalOrderId: shipped.id, lines: [{ lineId: rice.id, quantity: 6 }], reason: "一箱外包装破损" }, new Date());
    // A season with a paid booking, to release.
    const season = await createSeason(t.db, asCore, core, { name: "2027 春季订货会", depositRateBps: 3000 });
    const booking = await createOrder(t.db, asDealer, { dealerId, coreEnterpriseId: core, kind: "preorder", seasonId: season.id, lines: [{ skuCode: "HT-BCD-450WE", quantity: 3 }] }, new Date());
    await confirmOrder(t.db, asCore, booking.id, new Date());
    await payFromWallet(t.db, asDealer, booking.id, new Date());

    const browser = await launch(true);
    dirs.push(browser.dir);
    try {
      const page = browser.context.pages()[0] ?? (await browser.context.newPage());
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await login(page, server.url, "dealer@demo.test", true);
      await page.goto(`${server.url}/orders`);
      await settle(page, true);
      await eventually(() => page.locator('table[data-testid="orders"] tbody tr').count()).toBeGreaterThan(2);
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-list-dealer-zh.png"), fullPage: true });
      await page.goto(`${server.url}/orders/${shipped.id}`);
      await settle(page, true);
      await eventually(() => page.locator('table[data-testid="shipments"] tbody tr').count()).toBe(2);
      expect(await page.locator('ol[data-testid="timeline"]').textContent()).toContain("申请退货");
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-shipped-dealer-zh.png"), fullPage: true });
      await page.goto(`${server.url}/orders/${shipped.id}/return`);
      await settle(page, true);
      await eventually(() => page.locator('form[data-testid="return-form"]').count()).toBe(1);
      await page.click('form[data-testid="return-form"] button[type="submit"]');
      await settle(page, true);
      await eventually(() => page.locator("#reason-error").textContent()).toBe("此项为必填");
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-return-form-zh.png"), fullPage: true });
      await page.goto(`${server.url}/settings/orders`);
      await settle(page, true);
      await page.fill('input[name="approval_threshold"]', "1,234.567");
      await page.click('button[type="submit"]:has-text("保存")');
      await settle(page, true);
      await eventually(() => page.locator(".field-error").textContent()).toContain("最多两位小数");
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-settings-dealer-zh.png"), fullPage: true });
      await page.click('form[action="/logout"] button[type="submit"]');
      await settle(page, true);
      // The logout route's module loads on demand: the network can be idle before the POST starts.
      await eventually(() => new URL(page.url()).pathname).toBe("/login");

      await login(page, server.url, "core@demo.test", true);
      await page.goto(`${server.url}/orders`);
      await settle(page, true);
      await eventually(() => page.locator('table[data-testid="orders"] tbody tr').count()).toBeGreaterThan(2);
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-list-core-zh.png"), fullPage: true });
      const rma = (await getOrder(t.db, core, shipped.id)).returns[0];
      await page.goto(`${server.url}/orders/${rma.id}`);
      await settle(page, true);
      await eventually(() => page.locator('button[data-intent="approve_return"]').count()).toBe(1);
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-return-core-zh.png"), fullPage: true });
      await page.goto(`${server.url}/seasons`);
      await settle(page, true);
      await page.click('table[data-testid="seasons"] button[type="submit"]');
      await settle(page, true);
      await eventually(() => page.locator('[data-testid="release-result"]').textContent()).toContain("1 张预订已放货");
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-seasons-core-zh.png"), fullPage: true });
      await page.click('form[action="/set-language"] button[type="submit"]');
      await settle(page, true);
      await page.goto(`${server.url}/orders/${booking.id}`);
      await settle(page, true);
      await eventually(() => page.locator('.sc-head [data-status]').getAttribute("data-status")).toBe("balance_due");
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-booking-core-en.png"), fullPage: true });
      await page.goto(`${server.url}/settings/orders`);
      await settle(page, true);
      await page.screenshot({ path: path.join(ARTIFACTS, "orders-settings-core-en.png"), fullPage: true });
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.context.close();
    }
  }, 180_000);
});
