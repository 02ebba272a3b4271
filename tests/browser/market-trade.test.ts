import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { runStep, STEPS } from "../../workflows/registry";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createTradeWorld, type TradeWorld } from "../integration/market-orders.fixtures";
import { settleDeliveries, startPaymentsServer, type PaymentsServer } from "../integration/payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

/**
 * Escrow trade end to end in real Chromium without JavaScript (plain HTML forms): a buyer searches
 * the market, adds goods of two merchants to the cart, checks out and pays on the e-Pay sandbox's
 * page; a merchant ships; the buyer confirms receipt; settlement runs; and the operator's
 * dashboard counts the sale. Screenshots go to tests/.artifacts/.
 */

const ARTIFACTS = path.join(ROOT, "tests", ".artifacts");
const STEP_TIMEOUT_MS = 20_000;

describe("escrow trade in a browser", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let world: TradeWorld;
  const dirs: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestDatabase();
    world = await createTradeWorld(t.db, { buyerFundedFen: 0 });
    server = await startPaymentsServer(t.db);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await server?.close();
    await t?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function browserAs(user: { email: string; password: string }): Promise<Page> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-trade-"));
    dirs.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      javaScriptEnabled: false,
      viewport: { width: 1280, height: 900 },
      locale: "zh-CN",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    contexts.push(context);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.url}/login`);
    await page.fill('input[name="email"]', user.email);
    await page.fill('input[name="password"]', user.password);
    await page.click('button[type="submit"]:has-text("登录")');
    await page.waitForLoadState("networkidle");
    return page;
  }

  async function addToCart(page: Page, query: string, title: string, quantity: number) {
    await page.goto(`${server.url}/market/${world.w.marketId}`);
    await page.fill('input[name="q"]', query);
    await page.press('input[name="q"]', "Enter");
    await page.waitForLoadState("networkidle");
    const card = page.locator('[data-testid="listing-card"]', { hasText: title });
    await expect.poll(() => card.count(), { timeout: STEP_TIMEOUT_MS }).toBe(1);
    await card.locator('input[name="quantity"]').fill(String(quantity));
    await card.locator('button[type="submit"]').click();
    await page.waitForLoadState("networkidle");
  }

  it("searches, buys from two merchants, pays with e-Pay, ships, confirms receipt, settles, and shows on the dashboard", async () => {
    const buyer = await browserAs(world.buyer.user);
    await addToCart(buyer, "连衣裙", "真丝连衣裙", 2);
    await addToCart(buyer, "衬衫", "纯棉衬衫", 1);

    await buyer.goto(`${server.url}/market/cart`);
    await expect.poll(() => buyer.locator('[data-testid="cart-total"]').first().textContent(), { timeout: STEP_TIMEOUT_MS }).toBe("¥288.00");
    await buyer.click('form[action="/market/cart/checkout"] button[type="submit"]');
    // The checkout page: one order per merchant, the total, the expiry, the ways to pay.
    await buyer.waitForURL(/\/market\/checkouts\/[0-9a-f-]{36}$/, { timeout: STEP_TIMEOUT_MS });
    const checkoutId = new URL(buyer.url()).pathname.split("/").pop()!;
    expect(await buyer.locator('[data-testid="checkout-orders"] tbody tr').count()).toBe(2);
    expect(await buyer.locator('[data-testid="checkout-total"]').textContent()).toBe("¥288.00");
    expect(await buyer.locator('[data-testid="expires"]').count()).toBe(1);
    await buyer.screenshot({ path: path.join(ARTIFACTS, "market-trade-checkout.png"), fullPage: true });
    // Off to the gateway's pay page (the same server's sandbox), then back to the checkout page.
    await buyer.click('button[data-intent="epay"]');
    await buyer.waitForURL(/\/sandbox\/epay\/pay\//, { timeout: STEP_TIMEOUT_MS });
    expect(await buyer.locator('[data-testid="amount"]').textContent()).toBe("¥288.00");
    await buyer.screenshot({ path: path.join(ARTIFACTS, "market-trade-epay.png"), fullPage: true });
    await buyer.getByRole("button", { name: "确认支付 Pay" }).click();
    await buyer.waitForURL(`${server.url}/market/checkouts/${checkoutId}`, { timeout: STEP_TIMEOUT_MS });

    // The gateway's callback arrives and holds the orders in its own transaction (decision 021); the
    // fulfil step the outbox still sends finds that done.
    await settleDeliveries(t.db);
    const checkout = await t.db.selectFrom("market_checkouts").select(["payment_id", "total_fen"]).where("id", "=", checkoutId).executeTakeFirstOrThrow();
    expect(checkout.total_fen).toBe(28_800);
    await runStep(STEPS, { db: t.db, logger: quiet }, "payments.fulfil", { paymentId: checkout.payment_id! });
    await buyer.reload();
    await expect.poll(() => buyer.locator('[data-testid="paid"]').count(), { timeout: STEP_TIMEOUT_MS }).toBe(1);
    expect(await buyer.locator('[data-testid="checkout-orders"] tbody tr').count()).toBe(2);
    await buyer.screenshot({ path: path.join(ARTIFACTS, "market-trade-checkout-paid.png"), fullPage: true });

    // The dress merchant ships its order.
    const dressOrder = await t.db
      .selectFrom("market_orders")
      .select(["id", "order_no"])
      .where("checkout_id", "=", checkoutId)
      .where("merchant_id", "=", world.w.merchants[0].id)
      .executeTakeFirstOrThrow();
    const merchant = await browserAs(world.w.merchants[0].user);
    await merchant.goto(`${server.url}/market/orders`);
    await merchant.click(`a:has-text("${dressOrder.order_no}")`);
    await merchant.waitForLoadState("networkidle");
    await merchant.fill('[data-testid="ship-form"] input[name="carrier"]', "顺丰速运");
    await merchant.fill('[data-testid="ship-form"] input[name="trackingNo"]', "SF1234567890");
    await merchant.click('[data-testid="ship-form"] button[type="submit"]');
    await merchant.waitForLoadState("networkidle");
    await expect.poll(() => merchant.locator('[data-testid="tracking"]').textContent(), { timeout: STEP_TIMEOUT_MS }).toContain("SF1234567890");

    // The buyer confirms receipt, in two steps.
    await buyer.goto(`${server.url}/market/orders/${dressOrder.id}`);
    await buyer.click('[data-intent="receive-start"]');
    await buyer.waitForLoadState("networkidle");
    await buyer.click('[data-testid="receive-confirm"] button[type="submit"]');
    await buyer.waitForLoadState("networkidle");
    await expect.poll(() => buyer.locator(".sc-head [data-status]").getAttribute("data-status"), { timeout: STEP_TIMEOUT_MS }).toBe("received");

    // Settlement (the job the receipt queued), then the merchant's money shows it.
    await runStep(STEPS, { db: t.db, logger: quiet }, "market.settle", { orderId: dressOrder.id });
    await buyer.reload();
    expect(await buyer.locator(".sc-head [data-status]").getAttribute("data-status")).toBe("settled");
    await merchant.goto(`${server.url}/market/orders`);
    // ¥200 at 2.5 % = ¥5.00 commission: ¥195.00 settled to the wallet.
    expect(await merchant.locator('[data-testid="money-settled"] dd').textContent()).toContain("¥195.00");
    await merchant.screenshot({ path: path.join(ARTIFACTS, "market-trade-merchant-orders.png"), fullPage: true });

    // The operator's dashboard counts both orders paid: ¥288.00 of GMV.
    const operator = await browserAs(world.w.operatorUser);
    await operator.goto(`${server.url}/markets/${world.w.marketId}/dashboard`);
    await expect.poll(() => operator.locator('[data-testid="figure-gmv"] .md-card-value').textContent(), { timeout: STEP_TIMEOUT_MS }).toBe("¥288.00");
    await operator.screenshot({ path: path.join(ARTIFACTS, "market-trade-dashboard.png"), fullPage: true });
    expect(await verifyLedger(t.db)).toEqual([]);
  });
});
