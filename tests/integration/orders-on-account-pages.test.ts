import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatFen } from "../../app/i18n";
import { creditSummary, setCreditLimit } from "../../app/domain/credit/credit.server";
import { listDealerLinks } from "../../app/domain/dealers/dealers.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { createSeason } from "../../app/domain/orders/seasons.server";
import { seedSupplyChainDemo } from "../../app/seed/supply-chain.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { startTestServer, type Client, type TestServer } from "../support/web";
import { makeLink, makeSku } from "./catalog.fixtures";
import { loggedIn } from "./payments.fixtures";

/**
 * Putting an order on account as it is submitted, through the pages as a browser without
 * JavaScript uses them: the cart, the quick order and a draft's own page offer "pay after the
 * supplier confirms" or "put on account now"; on account, the total is held on the dealer's credit
 * line (refused, with nothing written, when the line cannot take it), charged for the confirmed
 * total when the supplier confirms on its page, released when the order is cancelled first.
 */
describe("order pages: on account at submission", () => {
  let t: TestDatabase;
  let server: TestServer;
  let dealer: Client;
  let core: Client;
  let otherDealer: Client;
  let strangerCore: Client;
  const w = {} as { core: string; dealer: string; linkId: string; strangerOrderId: string };
  const asCore = () => ({ userId: null, organizationId: w.core, ip: null, requestId: null });
  const asDealer = () => ({ userId: null, organizationId: w.dealer, ip: null, requestId: null });

  beforeAll(async () => {
    t = await createTestDatabase();
    const coreOrg = await createOrg(t.db, { kind: "core_enterprise", name: "华通电器" });
    const dealerOrg = await createOrg(t.db, { kind: "dealer", name: "杭州鑫达商贸有限公司" });
    const dealer2 = await createOrg(t.db, { kind: "dealer", name: "宁波鑫达电器销售有限公司" });
    await t.db.transaction().execute((trx) => seedSupplyChainDemo(trx, { core: coreOrg.id, dealer: dealerOrg.id, dealer2: dealer2.id }));
    // Another supplier with its own dealer and an order of theirs put on account: nobody here may see it.
    const stranger = await createOrg(t.db, { kind: "core_enterprise", name: "陌生企业" });
    const strangerSku = await makeSku(t.db, stranger.id, { code: "STRANGER-1", basePriceFen: 10_000 });
    const strangerLink = await makeLink(t.db, stranger.id, { creditLimitFen: 1_000_000 });
    const strangerOrder = await createOrder(
      t.db,
      { userId: null, organizationId: strangerLink.dealerId, ip: null, requestId: null },
      { dealerId: strangerLink.dealerId, coreEnterpriseId: stranger.id, kind: "standard", lines: [{ skuId: strangerSku.id, quantity: 1 }], paymentMethod: "on_account" }, new Date(),
    );
    w.core = coreOrg.id;
    w.dealer = dealerOrg.id;
    w.linkId = (await listDealerLinks(t.db, coreOrg.id, { search: "杭州鑫达" })).items[0].id;
    w.strangerOrderId = strangerOrder.id;

    server = await startTestServer(t.db);
    dealer = await loggedIn(server.url, await createUser(t.db, { memberships: [[dealerOrg.id, "owner"]] }));
    core = await loggedIn(server.url, await createUser(t.db, { memberships: [[coreOrg.id, "owner"]] }));
    otherDealer = await loggedIn(server.url, await createUser(t.db, { memberships: [[dealer2.id, "owner"]] }));
    strangerCore = await loggedIn(server.url, await createUser(t.db, { memberships: [[stranger.id, "owner"]] }));
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const usedFen = async () => (await creditSummary(t.db, w.linkId)).usedFen;
  const parties = () => ({ linkId: w.linkId, coreEnterpriseId: w.core, dealerId: w.dealer });

  /** Everything a refused submission must leave as it was. */
  async function snapshot() {
    const count = async (table: "orders" | "order_events" | "ledger_transfers" | "order_lines") =>
      Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);
    return { orders: await count("orders"), events: await count("order_events"), transfers: await count("ledger_transfers"), lines: await count("order_lines"), used: await usedFen() };
  }

  /** The dealer's open cart with this supplier after adding `code` × `quantity` from the cart page. */
  async function cartWith(code: string, quantity: number): Promise<string> {
    const token = await dealer.csrfFrom("/cart");
    const added = await dealer.post("/cart", { csrf: token, intent: "add", core_enterprise_id: w.core, sku_code: code, quantity: String(quantity) });
    expect(added.status, added.body.slice(0, 300)).toBe(302);
    const draft = await t.db.selectFrom("orders").select("id").where("dealer_id", "=", w.dealer).where("status", "=", "draft").where("kind", "=", "standard").executeTakeFirstOrThrow();
    return draft.id;
  }

  it("offers the choice next to the cart's submit button, paying after confirmation by default, with the credit available", async () => {
    await cartWith("HT-BC-93", 2);
    const page = await dealer.get("/cart");
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="pay-choice"');
    expect(chosen(page.body)).toEqual(["after_confirmation"]);
    expect(page.body).toContain('name="payment_method" value="on_account"');
    expect(page.body).toContain("现在记入赊销（占用我的信用额度）");
    const credit = await creditSummary(t.db, w.linkId);
    expect(page.body).toContain(`在该供货方的可用信用额度 ${formatFen(credit.availableFen)}（额度 ${formatFen(credit.limitFen)}）`);
  });

  it("submits a cart on account: the order is submitted on account, its total held on the credit line, and the supplier's confirmation on its page charges the confirmed total and pays it", async () => {
    const cartId = await cartWith("HT-BCD-218", 3);
    const before = await usedFen();
    const token = await dealer.csrfFrom("/cart");
    const submitted = await dealer.post("/cart", { csrf: token, intent: "submit", order_id: cartId, payment_method: "on_account" });
    expect(submitted.status, submitted.body.slice(0, 300)).toBe(302);
    expect(submitted.location).toBe(`/orders/${cartId}`);
    const order = (await getOrder(t.db, w.dealer, cartId)).order;
    expect(order).toMatchObject({ status: "submitted", payment_method: "on_account", due_on: null });
    expect((await usedFen()) - before).toBe(order.total_fen);

    // The order page says so, to each side in its own words.
    const dealerView = await dealer.get(`/orders/${cartId}`);
    expect(dealerView.status).toBe(200);
    expect(dealerView.body).toContain('data-testid="credit-held-notice"');
    expect(dealerView.body).toContain(`${formatFen(order.total_fen)} 已在您的信用额度中占用`);
    expect(dealerView.body).toContain('data-testid="credit-held"');
    const coreView = await core.get(`/orders/${cartId}`);
    expect(coreView.body).toContain("经销商选择了赊销");

    // The supplier confirms one fridge fewer, with a reason: the confirmed total is charged, the rest released.
    const lines = (await getOrder(t.db, w.core, cartId)).lines;
    const fridge = lines.find((l) => l.sku_code === "HT-BCD-218")!;
    const fields: Record<string, string> = { intent: "confirm", [`reason.${fridge.id}`]: "仓库只剩两台" };
    for (const l of lines) fields[`quantity.${l.id}`] = String(l.id === fridge.id ? 2 : l.quantity_ordered);
    const coreToken = await core.csrfFrom(`/orders/${cartId}`);
    const confirmed = await core.post(`/orders/${cartId}`, { csrf: coreToken, ...fields });
    expect(confirmed.status, confirmed.body.slice(0, 300)).toBe(302);
    const paid = await getOrder(t.db, w.dealer, cartId);
    expect(paid.order).toMatchObject({ status: "paid", payment_method: "on_account", total_fen: order.total_fen - fridge.unit_price_fen });
    expect(paid.order.due_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(paid.onAccountOutstandingFen).toBe(paid.order.total_fen);
    expect((await usedFen()) - before).toBe(paid.order.total_fen);
    const afterView = await dealer.get(`/orders/${cartId}`);
    expect(afterView.body).toContain('data-status="paid"');
    expect(afterView.body).toContain('data-event="pay_on_account"');
    expect(afterView.body).not.toContain('data-testid="credit-held-notice"');
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("refuses a cart on account above the credit available with a 422 naming the payment choice, keeping the cart as it was and writing nothing", async () => {
    const cartId = await cartWith("HT-FG-100W", 2);
    const cartBefore = await getOrder(t.db, w.dealer, cartId);
    const credit = await creditSummary(t.db, w.linkId);
    // Room for a little under one of the two: the cart cannot go on account.
    await setCreditLimit(t.db, asCore(), parties(), credit.usedFen + cartBefore.order.total_fen / 2);
    try {
      const before = await snapshot();
      const token = await dealer.csrfFrom("/cart");
      const refused = await dealer.post("/cart", { csrf: token, intent: "submit", order_id: cartId, payment_method: "on_account" });
      expect(refused.status).toBe(422);
      expect(refused.body).toContain("无法记入赊销");
      expect(refused.body).toContain(`订单金额 ${formatFen(cartBefore.order.total_fen)}，可用信用额度 ${formatFen(cartBefore.order.total_fen / 2)}`);
      expect(refused.body).toMatch(/data-testid="pay-choice" aria-invalid="true"/);
      // The dealer's choice comes back as made.
      expect(chosen(refused.body)).toEqual(["on_account"]);
      expect(await snapshot()).toEqual(before);
      const cartAfter = await getOrder(t.db, w.dealer, cartId);
      expect(cartAfter.order).toMatchObject({ status: "draft", payment_method: null, total_fen: cartBefore.order.total_fen, submitted_at: null });
      expect(cartAfter.lines.map((l) => [l.sku_code, l.quantity_ordered])).toEqual(cartBefore.lines.map((l) => [l.sku_code, l.quantity_ordered]));

      // In English too.
      const en = await loggedIn(server.url, await createUser(t.db, { locale: "en", memberships: [[w.dealer, "purchaser"]] }));
      const enRefused = await en.post("/cart", { csrf: await en.csrfFrom("/cart"), intent: "submit", order_id: cartId, payment_method: "on_account" });
      expect(enRefused.status).toBe(422);
      expect(enRefused.body).toContain("it cannot go on account");
      // A choice that is not one of the two is named too, never a 500.
      const junk = await dealer.post("/cart", { csrf: token, intent: "submit", order_id: cartId, payment_method: "cash" });
      expect(junk.status).toBe(422);
      expect(junk.body).toContain("请选择付款方式");
      expect(await snapshot()).toEqual(before);

      // Paying after confirmation is still open: submitted with no payment method, nothing held.
      const later = await dealer.post("/cart", { csrf: token, intent: "submit", order_id: cartId, payment_method: "after_confirmation" });
      expect(later.status).toBe(302);
      expect((await getOrder(t.db, w.dealer, cartId)).order).toMatchObject({ status: "submitted", payment_method: null });
      expect(await usedFen()).toBe(before.used);
    } finally {
      await setCreditLimit(t.db, asCore(), parties(), credit.limitFen);
    }
  });

  it("puts a quick order on account, and names the payment choice when it is a preorder, not a choice, or above the credit", async () => {
    const before = await usedFen();
    const token = await dealer.csrfFrom("/orders/quick");
    const form = await dealer.get("/orders/quick");
    expect(form.body).toContain('data-testid="pay-choice"');
    expect(form.body).toContain("华通电器：可用信用额度");
    const placed = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BC-93,4", payment_method: "on_account" });
    expect(placed.status, placed.body.slice(0, 300)).toBe(302);
    const order = (await getOrder(t.db, w.dealer, placed.location!.split("/")[2])).order;
    expect(order).toMatchObject({ kind: "replenishment", status: "submitted", payment_method: "on_account" });
    expect((await usedFen()) - before).toBe(order.total_fen);

    const season = await createSeason(t.db, asCore(), w.core, { name: "2027 春季订货会", depositRateBps: 3000 });
    const snap = await snapshot();
    const preorder = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "preorder", season_id: season.id, lines: "HT-BCD-218,2", payment_method: "on_account" });
    expect(preorder.status).toBe(422);
    expect(preorder.body).toContain("订货会预订不能在提交时记入赊销");
    // The input comes back as typed, the choice with it.
    expect(preorder.body).toContain("HT-BCD-218,2");
    expect(chosen(preorder.body)).toEqual(["on_account"]);
    const junk = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BC-93,2", payment_method: "later" });
    expect(junk.status).toBe(422);
    expect(junk.body).toContain("请选择付款方式");
    expect(await snapshot()).toEqual(snap);

    const credit = await creditSummary(t.db, w.linkId);
    // A new limit is itself a ledger entry: what must stay as it was is what follows it.
    await setCreditLimit(t.db, asCore(), parties(), credit.usedFen + 100);
    const limited = await snapshot();
    try {
      const over = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BC-93,2", payment_method: "on_account" });
      expect(over.status).toBe(422);
      expect(over.body).toContain("超出可用信用额度");
      expect(over.body).toContain('id="quick-payment-error"');
      expect(await snapshot()).toEqual(limited);
    } finally {
      await setCreditLimit(t.db, asCore(), parties(), credit.limitFen);
    }
  });

  it("submits a draft on account from its own page, and cancelling it before confirmation releases the hold", async () => {
    const draft = await createOrder(t.db, asDealer(), { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "replenishment", submit: false, lines: [{ skuCode: "HT-XQB80-M21", quantity: 2 }] }, new Date());
    const page = await dealer.get(`/orders/${draft.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="submit-form"');
    expect(page.body).toContain('data-testid="pay-choice"');
    const before = await usedFen();
    const token = await dealer.csrfFrom(`/orders/${draft.id}`);
    const submitted = await dealer.post(`/orders/${draft.id}`, { csrf: token, intent: "submit", payment_method: "on_account" });
    expect(submitted.status, submitted.body.slice(0, 300)).toBe(302);
    const order = (await getOrder(t.db, w.dealer, draft.id)).order;
    expect(order).toMatchObject({ status: "submitted", payment_method: "on_account" });
    expect((await usedFen()) - before).toBe(order.total_fen);
    // No choice left to make once submitted.
    expect((await dealer.get(`/orders/${draft.id}`)).body).not.toContain('data-testid="pay-choice"');

    const cancelled = await dealer.post(`/orders/${draft.id}`, { csrf: token, intent: "cancel", reason: "改用别的型号" });
    expect(cancelled.status).toBe(302);
    expect((await getOrder(t.db, w.dealer, draft.id)).order.status).toBe("cancelled");
    expect(await usedFen()).toBe(before);
    const afterCancel = (await dealer.get(`/orders/${draft.id}`)).body;
    expect(afterCancel).not.toContain('data-testid="credit-held-notice"');
    // The timeline says what was held at submission and released at cancellation.
    const amount = formatFen(order.total_fen, "zh-CN");
    expect(afterCancel).toContain('data-testid="timeline-credit-held"');
    expect(afterCancel).toContain(`信用额度占用 ${amount}`);
    expect(afterCancel).toContain('data-testid="timeline-credit-released"');
    expect(afterCancel).toContain(`释放信用额度 ${amount}`);

    // A preorder draft is submitted without the choice: its deposit is paid later.
    const season = (await t.db.selectFrom("seasons").select("id").where("core_enterprise_id", "=", w.core).where("status", "=", "open").executeTakeFirst())?.id
      ?? (await createSeason(t.db, asCore(), w.core, { name: "2027 夏季订货会", depositRateBps: 2000 })).id;
    const booking = await createOrder(t.db, asDealer(), { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "preorder", seasonId: season, submit: false, lines: [{ skuCode: "HT-BCD-218", quantity: 1 }] }, new Date());
    const bookingPage = await dealer.get(`/orders/${booking.id}`);
    expect(bookingPage.body).toContain('data-testid="submit-form"');
    expect(bookingPage.body).not.toContain('data-testid="pay-choice"');
    const forged = await dealer.post(`/orders/${booking.id}`, { csrf: token, intent: "submit", payment_method: "on_account" });
    expect(forged.status).toBe(422);
    expect(forged.body).toContain("订货会预订不能在提交时记入赊销");
    expect((await getOrder(t.db, w.dealer, booking.id)).order.status).toBe("draft");
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("answers 404 for another organisation's order or cart, with the choice as with any other form", async () => {
    const cartId = await cartWith("HT-BC-93", 2);
    const before = await snapshot();
    const token = await otherDealer.csrfFrom("/cart");
    expect((await otherDealer.post("/cart", { csrf: token, intent: "submit", order_id: cartId, payment_method: "on_account" })).status).toBe(404);
    expect((await otherDealer.post(`/orders/${cartId}`, { csrf: token, intent: "submit", payment_method: "on_account" })).status).toBe(404);
    expect((await otherDealer.get(`/orders/${cartId}`)).status).toBe(404);
    expect((await strangerCore.get(`/orders/${cartId}`)).status).toBe(404);
    // The stranger's order on account is not there for this dealer or this supplier.
    const dealerToken = await dealer.csrfFrom("/cart");
    expect((await dealer.get(`/orders/${w.strangerOrderId}`)).status).toBe(404);
    expect((await dealer.post(`/orders/${w.strangerOrderId}`, { csrf: dealerToken, intent: "submit", payment_method: "on_account" })).status).toBe(404);
    expect((await core.get(`/orders/${w.strangerOrderId}`)).status).toBe(404);
    expect((await core.post(`/orders/${w.strangerOrderId}`, { csrf: await core.csrfFrom("/orders"), intent: "confirm" })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
    expect((await getOrder(t.db, w.dealer, cartId)).order.status).toBe("draft");
  });
});

/** The values of the payment choices checked in a page's markup. */
function chosen(html: string): string[] {
  return [...html.matchAll(/<input type="radio" name="payment_method"([^>]*)\/>/g)].filter((m) => / checked=""/.test(m[1])).map((m) => /value="([^"]+)"/.exec(m[1])![1]);
}
