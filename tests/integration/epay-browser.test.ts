import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPayment, getPayment } from "../../app/domain/payments/payments.server";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { createPaymentsWorld, expectLedgerClean, loggedIn, settleDeliveries, startPaymentsServer, type PaymentsServer, type PaymentsWorld } from "./payments.fixtures";

/**
 * The sandbox pay page in real Chromium, with and without JavaScript, in both languages: the payer
 * sees who is paid, how much and for what, presses a button, and lands back on our page with the
 * payment applied. Screenshots go to tests/.artifacts/ for a human look.
 */

const ARTIFACTS = path.join(ROOT, "tests", ".artifacts");
const STEP_TIMEOUT_MS = 20_000;

describe("the sandbox pay page in Chromium", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let w: PaymentsWorld;
  const dirs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestDatabase();
    w = await createPaymentsWorld(t.db);
    server = await startPaymentsServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function browserAs(user: { email: string; password: string }, javaScriptEnabled: boolean): Promise<BrowserContext> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "rongtong-epay-"));
    dirs.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      javaScriptEnabled,
      viewport: { width: 1100, height: 820 },
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    // Signed in as the payer, so the gateway's return trip lands on our page, not the login.
    const client = await loggedIn(server.url, user);
    await context.addCookies([...client.cookies].map(([name, value]) => ({ name, value, url: server.url })));
    return context;
  }

  const cases = [
    { javaScriptEnabled: true, locale: "zh-CN", button: "确认支付 Pay", heading: "e-Pay 收银台", status: "succeeded" },
    { javaScriptEnabled: false, locale: "en", button: "模拟失败 Fail", heading: "e-Pay checkout", status: "failed" },
    { javaScriptEnabled: false, locale: "zh-CN", button: "确认支付 Pay", heading: "e-Pay 收银台", status: "succeeded" },
  ] as const;

  for (const c of cases) {
    it(`${c.button} (${c.locale}, ${c.javaScriptEnabled ? "with" : "without"} JavaScript)`, async () => {
      const user = await createUser(t.db, { locale: c.locale, memberships: [[w.payer.id, "purchaser"]] });
      const { payment, payUrl } = await createPayment(
        t.db,
        { userId: null, organizationId: w.payer.id },
        {
          payerOrganizationId: w.payer.id,
          payeeOrganizationId: w.payee.id,
          purpose: "topup",
          reference: `topup:${caseLabel(c)}`,
          amountFen: 123_456,
          description: "采购订单 PO-2025-000123：空调室外机 ×40 台",
          returnPath: "/",
          idempotencyKey: `browser-${caseLabel(c)}`,
        },
        server.deps(),
      );
      const context = await browserAs(user, c.javaScriptEnabled);
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        await page.goto(payUrl, { waitUntil: "networkidle" });
        if (c.javaScriptEnabled) await page.waitForFunction(() => "__remixRouter" in window, undefined, { timeout: STEP_TIMEOUT_MS });
        expect(await page.locator("h1#epay-title").textContent()).toBe(c.heading);
        expect(await page.title()).toBe(c.heading);
        expect(await page.locator('[data-testid="amount"]').textContent()).toBe("¥1,234.56");
        expect(await page.locator('[data-testid="merchant"]').textContent()).toBe(w.payee.name);
        expect(await page.getByText("空调室外机").isVisible()).toBe(true);
        await page.screenshot({ path: path.join(ARTIFACTS, `epay-pay-${caseLabel(c)}.png`), fullPage: true });

        await page.getByRole("button", { name: c.button }).click();
        await page.waitForURL(`${server.url}/`, { timeout: STEP_TIMEOUT_MS });
        await expect.poll(async () => (await getPayment(t.db, payment.id)).status, { timeout: STEP_TIMEOUT_MS }).toBe(c.status);

        // Back on the gateway's page, the outcome is shown instead of the buttons.
        await page.goto(payUrl, { waitUntil: "networkidle" });
        const outcome = c.status === "succeeded" ? { "zh-CN": "支付成功", en: "Payment succeeded" } : { "zh-CN": "支付失败", en: "Payment failed" };
        expect(await page.locator('p[role="status"]').last().textContent()).toBe(outcome[c.locale]);
        expect(await page.getByRole("button", { name: c.button }).count()).toBe(0);
      } finally {
        await context.close();
      }
      await settleDeliveries(t.db);
      await expectLedgerClean(t.db);
    });
  }
});

function caseLabel(c: { javaScriptEnabled: boolean; locale: string; button: string }): string {
  return `${c.locale}-${c.javaScriptEnabled ? "js" : "nojs"}-${c.button.startsWith("确认") ? "pay" : "fail"}`;
}
