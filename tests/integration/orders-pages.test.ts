import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { getSkusByCodes } from "../../app/domain/catalog/catalog.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { listDealerLinks } from "../../app/domain/dealers/dealers.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { payOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { orderMoneySummary } from "../../app/domain/orders/position.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createSeason } from "../../app/domain/orders/seasons.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { formatFen } from "../../app/i18n";
import { seedSupplyChainDemo } from "../../app/seed/supply-chain.server";
import { fulfilPaymentStep } from "../../workflows/payments";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { Client, type Page } from "../support/web";
import { makeLink, makeSku } from "./catalog.fixtures";
import { loggedIn, payOnSandboxPage, settleDeliveries, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/**
 * The order pages through the real Express + Remix stack, as a browser without JavaScript uses
 * them: quick order reporting bad lines by line number with nothing written, a cart submitted and
 * confirmed, shipped and received, e-Pay through the sandbox gateway, another organisation's order
 * a 404 on every order route, and no form input that gives a 500.
 */
describe("order pages", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  const w = {} as {
    core: string;
    dealer: string;
    dealerName: string;
    coreUser: { email: string; password: string };
    dealerUser: { email: string; password: string };
    purchaser: { email: string; password: string };
    otherDealerUser: { email: string; password: string };
    strangerCoreUser: { email: string; password: string };
    bankUser: { email: string; password: string };
    strangerOrderId: string;
    strangerCore: string;
    strangerSkuId: string;
    strangerLinkId: string;
    strangerDealerId: string;
  };
  let dealer: Client;
  let core: Client;

  beforeAll(async () => {
    t = await createTestDatabase();
    const bank = await createOrg(t.db, { kind: "bank", name: "测试银行" });
    const coreOrg = await createOrg(t.db, { kind: "core_enterprise", name: "华通电器" });
    const dealerOrg = await createOrg(t.db, { kind: "dealer", name: "杭州鑫达商贸有限公司" });
    const dealer2 = await createOrg(t.db, { kind: "dealer", name: "宁波鑫达电器销售有限公司" });
    await t.db.transaction().execute((trx) => seedSupplyChainDemo(trx, { core: coreOrg.id, dealer: dealerOrg.id, dealer2: dealer2.id }));
    // Another supplier with its own dealer and an order of theirs: ids nobody here may see.
    const strangerCore = await createOrg(t.db, { kind: "core_enterprise", name: "陌生企业" });
    const strangerSku = await makeSku(t.db, strangerCore.id, { code: "STRANGER-1", basePriceFen: 10_000 });
    const strangerLink = await makeLink(t.db, strangerCore.id, { creditLimitFen: 1_000_000 });
    const { createOrder } = await import("../../app/domain/orders/placement.server");
    const strangerOrder = await createOrder(
      t.db,
      { userId: null, organizationId: strangerLink.dealerId, ip: null, requestId: null },
      { dealerId: strangerLink.dealerId, coreEnterpriseId: strangerCore.id, kind: "standard", lines: [{ skuId: strangerSku.id, quantity: 1 }] }, new Date(),
    );

    w.core = coreOrg.id;
    w.dealer = dealerOrg.id;
    w.dealerName = dealerOrg.name;
    w.coreUser = await createUser(t.db, { memberships: [[coreOrg.id, "owner"]] });
    w.dealerUser = await createUser(t.db, { memberships: [[dealerOrg.id, "owner"]] });
    w.purchaser = await createUser(t.db, { memberships: [[dealerOrg.id, "purchaser"]] });
    w.otherDealerUser = await createUser(t.db, { memberships: [[dealer2.id, "owner"]] });
    w.strangerCoreUser = await createUser(t.db, { memberships: [[strangerCore.id, "owner"]] });
    w.bankUser = await createUser(t.db, { memberships: [[bank.id, "platform_admin"]] });
    w.strangerOrderId = strangerOrder.id;
    w.strangerCore = strangerCore.id;
    w.strangerSkuId = strangerSku.id;
    w.strangerLinkId = strangerLink.id;
    w.strangerDealerId = strangerLink.dealerId;

    server = await startPaymentsServer(t.db);
    dealer = await loggedIn(server.url, w.dealerUser);
    core = await loggedIn(server.url, w.coreUser);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function csrf(client: Client, path = "/orders"): Promise<string> {
    return client.csrfFrom(path);
  }

  async function orderCount(): Promise<number> {
    const row = await t.db.selectFrom("orders").select((eb) => eb.fn.countAll<number>().as("n")).where("dealer_id", "=", w.dealer).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  function flashOf(page: Page): string | null {
    return page.setCookies.some((c) => c.startsWith("rt_flash=") && !/max-age=0/i.test(c)) ? "set" : null;
  }

  /** A multipart POST, as the quick-order form sends it (with an optional file). */
  function postMultipart(client: Client, path: string, fields: Record<string, string>, file?: { name: string; content: string | Uint8Array }) {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    if (file) body.append("file", new Blob([typeof file.content === "string" ? file.content : Buffer.from(file.content).toString("utf8")], { type: "text/csv" }), file.name);
    return client.request(path, { method: "POST", body });
  }

  describe("quick order", () => {
    it("reports every bad line by its line number and field in one answer, keeps the input, and writes nothing", async () => {
      const before = await orderCount();
      const token = await csrf(dealer, "/orders/quick");
      const lines = ["SKU,数量", "HT-KFR-35GW-A1,10", "NO-SUCH-SKU,1", "", "HT-DF-3001,7", "HT-BC-93,abc", ",4", "HT-BC-93,2,extra"].join("\n");
      const res = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", season_id: "", lines, note: "" });
      expect(res.status).toBe(422);
      const reported = [...res.body.matchAll(/data-line="(\d+)"/g)].map((m) => Number(m[1]));
      // Line 1 is the header, 4 is blank, 2 is good: every other line is named, in order.
      expect(reported).toEqual([3, 5, 6, 7, 8]);
      expect(res.body).toContain("目录中没有 SKU NO-SUCH-SKU");
      expect(res.body).toContain("须为包装数量 6 件的整数倍");
      expect(res.body).toContain("请输入整数");
      expect(res.body).toContain("缺少 SKU 编码");
      expect(res.body).toContain("本行多出了内容");
      // The pasted text comes back as typed.
      expect(res.body).toContain("NO-SUCH-SKU,1");
      expect(await orderCount()).toBe(before);

      // Only unreadable lines (the catalogue has nothing to say): still nothing written.
      const unreadable = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-KFR-35GW-A1,1\nHT-BC-93,two" });
      expect(unreadable.status).toBe(422);
      expect([...unreadable.body.matchAll(/data-line="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([2]);
      expect(await orderCount()).toBe(before);

      // English: the same problems in the other language.
      const en = await loggedIn(server.url, await createUser(t.db, { locale: "en", memberships: [[w.dealer, "purchaser"]] }));
      const enRes = await en.post("/orders/quick", { csrf: await csrf(en, "/orders/quick"), core_enterprise_id: w.core, kind: "replenishment", lines });
      expect(enRes.status).toBe(422);
      expect(enRes.body).toContain("No SKU NO-SUCH-SKU in the catalogue");
      expect(enRes.body).toContain("must be a multiple of the pack size 6 件");
      expect(await orderCount()).toBe(before);
    });

    it("reads an uploaded CSV file the same way and places the order when every line is good", async () => {
      const before = await orderCount();
      const token = await csrf(dealer, "/orders/quick");
      const bad = await postMultipart(dealer, "/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment" }, {
        name: "order.csv",
        content: "\ufeffHT-KFR-35GW-A1,2\nHT-KFR-35GW-A1,3\n",
      });
      expect(bad.status).toBe(422);
      expect(bad.body).toContain('data-line="2"');
      expect(bad.body).toContain("重复出现");
      expect(await orderCount()).toBe(before);

      const tooBig = await postMultipart(dealer, "/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment" }, {
        name: "big.csv",
        content: "HT-KFR-35GW-A1,1\n".repeat(20_000),
      });
      expect(tooBig.status).toBe(413);
      expect(await orderCount()).toBe(before);

      const good = await postMultipart(dealer, "/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment" }, {
        name: "order.csv",
        content: "sku,qty\nHT-KFR-35GW-A1,2\nHT-DF-3001,12\n",
      });
      expect(good.status).toBe(302);
      expect(good.location).toMatch(/^\/orders\/[0-9a-f-]{36}$/);
      const detail = await getOrder(t.db, w.dealer, good.location!.split("/")[2]);
      expect(detail.order).toMatchObject({ kind: "replenishment", status: "submitted" });
      expect(detail.lines.map((l) => [l.sku_code, l.quantity_ordered])).toEqual([
        ["HT-KFR-35GW-A1", 2],
        ["HT-DF-3001", 12],
      ]);

      // Reorder from it: the form comes back filled in with its lines.
      const reorder = await dealer.get(`/orders/quick?reorder=${detail.order.id}`);
      expect(reorder.status).toBe(200);
      expect(reorder.body).toContain("HT-KFR-35GW-A1,2\nHT-DF-3001,12");
    });

    it("books a preorder against an open season of the supplier", async () => {
      const season = await createSeason(t.db, { userId: null, organizationId: w.core, ip: null, requestId: null }, w.core, { name: "2027 春季订货会", depositRateBps: 3000 });
      const token = await csrf(dealer, "/orders/quick");
      const missing = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "preorder", season_id: "", lines: "HT-BCD-218,2" });
      expect(missing.status).toBe(422);
      expect(missing.body).toContain("订货会预订请选择订货会");
      const booked = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "preorder", season_id: season.id, lines: "HT-BCD-218,2" });
      expect(booked.status).toBe(302);
      const detail = await getOrder(t.db, w.dealer, booked.location!.split("/")[2]);
      expect(detail.order).toMatchObject({ kind: "preorder", season_id: season.id });
    });
    it("places a quick order while a saved draft of the same kind is open", async () => {
      const { createOrder } = await import("../../app/domain/orders/placement.server");
      const { cancelOrder } = await import("../../app/domain/orders/cancel.server");
      const actor = { userId: null, organizationId: w.dealer, ip: null, requestId: null };
      // A replenishment draft, as the API makes with submit: false.
      const draft = await createOrder(t.db, actor, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "replenishment", submit: false, lines: [{ skuCode: "HT-BC-93", quantity: 2 }] }, new Date());
      const before = await orderCount();
      const token = await csrf(dealer, "/orders/quick");
      const res = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BC-93,2" });
      expect(res.status).toBe(302);
      expect(res.location).toMatch(/^\/orders\/[0-9a-f-]{36}$/);
      expect(await orderCount()).toBe(before + 1);
      await cancelOrder(t.db, actor, draft.id, "测试完毕", new Date());
    });
  });

  describe("cart to completion", () => {
    it("lets the dealer fill and submit a cart and the core enterprise confirm with a change, then ship in two parts", async () => {
      const token = await csrf(dealer, "/cart");
      // Add by SKU code from the cart page, and by SKU id as the shop's button will.
      const added = await dealer.post("/cart", { csrf: token, intent: "add", core_enterprise_id: w.core, sku_code: "ht-kfr-35gw-a1", quantity: "3" });
      expect(added.status).toBe(302);
      expect(added.location).toBe("/cart");
      const kettle = (await getSkusByCodes(t.db, w.core, ["HT-SK-1715"])).get("HT-SK-1715")!;
      const fromShop = await dealer.post("/cart", {
        csrf: token,
        intent: "add",
        core_enterprise_id: w.core,
        sku_id: kettle.id,
        quantity: "12",
        redirectTo: `/shop/${w.core}`,
      });
      expect(fromShop.status).toBe(302);
      expect(fromShop.location).toBe(`/shop/${w.core}`);
      // From the shop with a quantity below the MOQ: the cart page's add form shows the SKU's code and names the quantity.
      const rice4 = (await getSkusByCodes(t.db, w.core, ["HT-DF-4001"])).get("HT-DF-4001")!;
      const fromShopBad = await dealer.post("/cart", { csrf: token, intent: "add", core_enterprise_id: w.core, sku_id: rice4.id, quantity: "6", redirectTo: `/shop/${w.core}` });
      expect(fromShopBad.status).toBe(422);
      expect(fromShopBad.body).toContain('value="HT-DF-4001"');
      expect(fromShopBad.body).toContain("低于起订量 12 件");
      // Below the MOQ: the add form names the quantity, nothing changes.
      const belowMoq = await dealer.post("/cart", { csrf: token, intent: "add", core_enterprise_id: w.core, sku_code: "HT-DF-4001", quantity: "6" });
      expect(belowMoq.status).toBe(422);
      expect(belowMoq.body).toContain("低于起订量 12 件");

      const cartPage = await dealer.get("/cart");
      expect(cartPage.status).toBe(200);
      expect(cartPage.body).toContain("HT-KFR-35GW-A1");
      expect(cartPage.body).toContain("HT-SK-1715");
      const cartId = /name="order_id" value="([0-9a-f-]{36})"/.exec(cartPage.body)![1];

      // Change a quantity to one that is not whole packs: named on its line, kept as typed.
      const badUpdate = await dealer.post("/cart", { csrf: token, intent: "update", order_id: cartId, [`quantity.${kettle.id}`]: "13" });
      expect(badUpdate.status).toBe(422);
      expect(badUpdate.body).toContain("须为包装数量 12 件的整数倍");
      expect(badUpdate.body).toContain('value="13"');
      const update = await dealer.post("/cart", { csrf: token, intent: "update", order_id: cartId, [`quantity.${kettle.id}`]: "24" });
      expect(update.status).toBe(302);

      const submitted = await dealer.post("/cart", { csrf: token, intent: "submit", order_id: cartId });
      expect(submitted.status).toBe(302);
      expect(submitted.location).toBe(`/orders/${cartId}`);
      expect(flashOf(submitted)).toBe("set");
      const dealerView = await dealer.get(`/orders/${cartId}`);
      expect(dealerView.status).toBe(200);
      expect(dealerView.body).toContain('data-status="submitted"');

      // The core enterprise sees it and confirms, lowering one line: without a reason first.
      const list = await core.get("/orders");
      expect(list.status).toBe(200);
      expect(list.body).toContain(`/orders/${cartId}`);
      const detail = await getOrder(t.db, w.core, cartId);
      const ac = detail.lines.find((l) => l.sku_code === "HT-KFR-35GW-A1")!;
      const kettleLine = detail.lines.find((l) => l.sku_code === "HT-SK-1715")!;
      const coreToken = await csrf(core, `/orders/${cartId}`);
      const noReason = await core.post(`/orders/${cartId}`, { csrf: coreToken, intent: "confirm", [`quantity.${ac.id}`]: "2", [`reason.${ac.id}`]: "", [`quantity.${kettleLine.id}`]: "24" });
      expect(noReason.status).toBe(422);
      expect(noReason.body).toContain("调整了数量，请填写原因");
      expect((await getOrder(t.db, w.core, cartId)).order.status).toBe("submitted");
      const confirmed = await core.post(`/orders/${cartId}`, {
        csrf: coreToken,
        intent: "confirm",
        [`quantity.${ac.id}`]: "2",
        [`reason.${ac.id}`]: "仓库只剩两台",
        [`quantity.${kettleLine.id}`]: "24",
      });
      expect(confirmed.status).toBe(302);
      const afterConfirm = await getOrder(t.db, w.core, cartId);
      expect(afterConfirm.order.status).toBe("confirmed");
      expect(afterConfirm.lines.find((l) => l.id === ac.id)).toMatchObject({ quantity_confirmed: 2, adjust_reason: "仓库只剩两台" });

      // The dealer puts it on account; the credit used is the confirmed total.
      const link = (await listDealerLinks(t.db, w.core, { search: "杭州鑫达" })).items[0];
      const creditBefore = await creditSummary(t.db, link.id);
      const onAccount = await dealer.post(`/orders/${cartId}`, { csrf: token, intent: "pay_on_account" });
      expect(onAccount.status).toBe(302);
      expect((await creditSummary(t.db, link.id)).usedFen - creditBefore.usedFen).toBe(afterConfirm.order.total_fen);

      // Two shipments: one line first (a bad quantity and a missing tracking number first), then the rest.
      const badShip = await core.post(`/orders/${cartId}`, { csrf: coreToken, intent: "ship", carrier: "顺丰", tracking_number: "", [`ship.${ac.id}`]: "5", [`ship.${kettleLine.id}`]: "0" });
      expect(badShip.status).toBe(422);
      expect(badShip.body).toContain("此项为必填");
      const overShip = await core.post(`/orders/${cartId}`, { csrf: coreToken, intent: "ship", carrier: "顺丰", tracking_number: "SF1", [`ship.${ac.id}`]: "5", [`ship.${kettleLine.id}`]: "0" });
      expect(overShip.status).toBe(422);
      expect(overShip.body).toContain("须在 0 到待发数量 2 之间");
      const first = await core.post(`/orders/${cartId}`, { csrf: coreToken, intent: "ship", carrier: "顺丰", tracking_number: "SF1", [`ship.${ac.id}`]: "2", [`ship.${kettleLine.id}`]: "0" });
      expect(first.status).toBe(302);
      expect((await getOrder(t.db, w.core, cartId)).order.status).toBe("partially_shipped");
      const second = await core.post(`/orders/${cartId}`, { csrf: coreToken, intent: "ship", carrier: "德邦", tracking_number: "DB2", [`ship.${kettleLine.id}`]: "24" });
      expect(second.status).toBe(302);
      expect((await getOrder(t.db, w.core, cartId)).order.status).toBe("shipped");

      const received = await dealer.post(`/orders/${cartId}`, { csrf: token, intent: "receive" });
      expect(received.status).toBe(302);
      const page = await dealer.get(`/orders/${cartId}`);
      expect(page.body).toContain('data-status="completed"');
      for (const event of ["create", "submit", "confirm", "pay_on_account", "ship_part", "ship_all", "receive", "complete"]) {
        expect(page.body).toContain(`data-event="${event}"`);
      }
      expect(page.body).toContain("SF1");
      expect(page.body).toContain("DB2");
      // Owed on account: repay from the wallet is offered; a return can be requested.
      expect(page.body).toContain('data-intent="repay"');
      expect(page.body).toContain(`/orders/${cartId}/return`);

      // Return one kettle pack: the dealer asks, the supplier approves, takes it back, refunds.
      const returnPage = await dealer.get(`/orders/${cartId}/return`);
      expect(returnPage.status).toBe(200);
      const noReason2 = await dealer.post(`/orders/${cartId}/return`, { csrf: token, reason: "", [`return.${kettleLine.id}`]: "12" });
      expect(noReason2.status).toBe(422);
      const tooMany = await dealer.post(`/orders/${cartId}/return`, { csrf: token, reason: "破损", [`return.${kettleLine.id}`]: "99" });
      expect(tooMany.status).toBe(422);
      expect(tooMany.body).toContain("须在 0 到可退数量 24 之间");
      const rma = await dealer.post(`/orders/${cartId}/return`, { csrf: token, reason: "外包装破损", [`return.${kettleLine.id}`]: "12" });
      expect(rma.status).toBe(302);
      const rmaId = rma.location!.split("/")[2];
      for (const intent of ["approve_return", "goods_back", "refund"]) {
        const step = await core.post(`/orders/${rmaId}`, { csrf: coreToken, intent });
        expect(step.status, intent).toBe(302);
      }
      expect((await getOrder(t.db, w.dealer, rmaId)).order.status).toBe("completed");
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("pays by e-Pay through the sandbox gateway and lands back on the order", async () => {
      const token = await csrf(dealer, "/orders/quick");
      const placed = await dealer.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BC-93,2" });
      const orderId = placed.location!.split("/")[2];
      const coreToken = await csrf(core, `/orders/${orderId}`);
      const line = (await getOrder(t.db, w.core, orderId)).lines[0];
      expect((await core.post(`/orders/${orderId}`, { csrf: coreToken, intent: "confirm", [`quantity.${line.id}`]: "2" })).status).toBe(302);

      const started = await dealer.post(`/orders/${orderId}`, { csrf: token, intent: "epay" });
      expect(started.status).toBe(302);
      expect(started.location).toContain("/sandbox/epay/pay/");
      expect((await getOrder(t.db, w.dealer, orderId)).order.status).toBe("awaiting_payment");
      // Pressing it again is the same payment, not a second one.
      const again = await dealer.post(`/orders/${orderId}`, { csrf: token, intent: "epay" });
      expect(again.location).toBe(started.location);

      const paid = await payOnSandboxPage(started.location!, "pay");
      expect([302, 303]).toContain(paid.status);
      await settleDeliveries(t.db);
      const payment = await t.db.selectFrom("payments").select("id").where("reference", "=", `order:${orderId}:payment`).executeTakeFirstOrThrow();
      await fulfilPaymentStep({ db: t.db, logger }, { paymentId: payment.id });
      const back = await dealer.get(paid.location!.replace(server.url, ""));
      expect(back.status).toBe(302);
      expect(back.location).toBe(`/orders/${orderId}`);
      expect((await getOrder(t.db, w.dealer, orderId)).order).toMatchObject({ status: "paid", payment_method: "epay" });
    });

    it("says the payment service is unavailable (503), never a 500, when e-Pay cannot be reached", async () => {
      // The same app, with its e-Pay address on a port where nothing listens (9, discard).
      const { createServer } = await import("node:http");
      const { readConfig } = await import("../../app/config.server");
      const { createApp } = await import("../../app/server/app.server");
      const { loadBuildSnapshot } = await import("../support/build");
      const { healthyJobs, TEST_SESSION_SECRET } = await import("../support/web");
      const snapshot = await loadBuildSnapshot();
      const httpServer = createServer();
      await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
      const port = (httpServer.address() as { port: number }).port;
      const url = `http://127.0.0.1:${port}`;
      const config = { ...readConfig({ NODE_ENV: "test" }), sessionSecret: TEST_SESSION_SECRET, cookieSecure: false, publicUrl: url, epayBaseUrl: "http://127.0.0.1:9/sandbox/epay" };
      httpServer.on("request", createApp({ build: snapshot.build, db: t.db, dbMode: "server", config, logger, jobs: healthyJobs, publicDir: snapshot.publicDir }));
      const offline = {
        url,
        close: () =>
          new Promise<void>((resolve) => {
            httpServer.close(() => {
              snapshot.dispose();
              resolve();
            });
            httpServer.closeAllConnections();
          }),
      };
      try {
        const client = await loggedIn(offline.url, w.dealerUser);
        const token = await csrf(client, "/orders/quick");
        const placed = await client.post("/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BC-93,4" });
        const orderId = placed.location!.split("/")[2];
        const line = (await getOrder(t.db, w.core, orderId)).lines[0];
        const coreClient = await loggedIn(offline.url, w.coreUser);
        expect((await coreClient.post(`/orders/${orderId}`, { csrf: await csrf(coreClient, "/orders"), intent: "confirm", [`quantity.${line.id}`]: "4" })).status).toBe(302);
        const res = await client.post(`/orders/${orderId}`, { csrf: token, intent: "epay" });
        expect(res.status).toBe(503);
        expect(res.body).toContain("支付服务暂时不可用，请稍后重试");
        expect((await getOrder(t.db, w.dealer, orderId)).order.status).toBe("confirmed");
      } finally {
        await offline.close();
      }
    });

    it("sends an order above the dealer's threshold to its owner, whom a purchaser cannot replace", async () => {
      const token = await csrf(dealer, "/settings/orders");
      const badAmount = await dealer.post("/settings/orders", { csrf: token, approval_threshold: "1,234.567" });
      expect(badAmount.status).toBe(422);
      expect(badAmount.body).toContain("最多两位小数");
      const saved = await dealer.post("/settings/orders", { csrf: token, approval_threshold: "¥1,234.50" });
      expect(saved.status).toBe(302);
      expect((await t.db.selectFrom("order_settings").select("approval_threshold_fen").where("organization_id", "=", w.dealer).executeTakeFirstOrThrow()).approval_threshold_fen).toBe(123_450);

      const purchaser = await loggedIn(server.url, w.purchaser);
      const pToken = await csrf(purchaser, "/orders/quick");
      const placed = await purchaser.post("/orders/quick", { csrf: pToken, core_enterprise_id: w.core, kind: "replenishment", lines: "HT-BCD-218,1" });
      expect(placed.status).toBe(302);
      const orderId = placed.location!.split("/")[2];
      expect((await getOrder(t.db, w.dealer, orderId)).order.status).toBe("pending_approval");
      const page = await purchaser.get(`/orders/${orderId}`);
      expect(page.body).not.toContain('data-intent="approve"');
      expect((await purchaser.post(`/orders/${orderId}`, { csrf: pToken, intent: "approve" })).status).toBe(403);
      // The purchaser cannot change the threshold either.
      expect((await purchaser.post("/settings/orders", { csrf: pToken, approval_threshold: "" })).status).toBe(403);

      const ownerPage = await dealer.get(`/orders/${orderId}`);
      expect(ownerPage.body).toContain('data-intent="approve"');
      // Declining closes the order, even with a new cart for the same supplier open meanwhile.
      const cartToken = await csrf(dealer, "/cart");
      expect((await dealer.post("/cart", { csrf: cartToken, intent: "add", core_enterprise_id: w.core, sku_code: "HT-BC-93", quantity: "2" })).status).toBe(302);
      const standard = await purchaser.post("/cart", { csrf: pToken, intent: "submit", order_id: (await t.db.selectFrom("orders").select("id").where("dealer_id", "=", w.dealer).where("status", "=", "draft").where("kind", "=", "standard").executeTakeFirstOrThrow()).id });
      expect(standard.status).toBe(302);
      const pendingCart = standard.location!.split("/")[2];
      expect((await getOrder(t.db, w.dealer, pendingCart)).order.status).toBe("pending_approval");
      expect((await dealer.post("/cart", { csrf: cartToken, intent: "add", core_enterprise_id: w.core, sku_code: "HT-BC-93", quantity: "2" })).status).toBe(302);
      const declined = await dealer.post(`/orders/${pendingCart}`, { csrf: token, intent: "decline", reason: "数量再核对一下" });
      expect(declined.status).toBe(302);
      expect((await getOrder(t.db, w.dealer, pendingCart)).order).toMatchObject({ status: "cancelled", reason: "数量再核对一下" });
      expect((await dealer.post(`/orders/${orderId}`, { csrf: token, intent: "approve" })).status).toBe(302);
      expect((await getOrder(t.db, w.dealer, orderId)).order.status).toBe("submitted");
      await dealer.post("/settings/orders", { csrf: token, approval_threshold: "" });
    });
  });

  describe("tenancy", () => {
    it("answers 404 for another organisation's order on every order route", async () => {
      const id = w.strangerOrderId;
      const clients = [dealer, core, await loggedIn(server.url, w.otherDealerUser), await loggedIn(server.url, w.strangerCoreUser)];
      // The stranger core enterprise is a party of its own order: only the first three are strangers to it.
      for (const client of clients.slice(0, 3)) {
        const token = await csrf(client, "/");
        expect((await client.get(`/orders/${id}`)).status).toBe(404);
        for (const intent of ["submit", "approve", "decline", "pay_wallet", "epay", "pay_on_account", "financing", "repay", "receive", "cancel", "confirm", "reject", "ship", "approve_return", "goods_back", "refund"]) {
          expect((await client.post(`/orders/${id}`, { csrf: token, intent, reason: "x", carrier: "x", tracking_number: "x" })).status, intent).toBe(404);
        }
        expect((await client.get(`/orders/${id}/return`)).status).toBe(404);
        expect((await client.post(`/orders/${id}/return`, { csrf: token, reason: "x" })).status).toBe(404);
      }
      const token = await csrf(dealer, "/");
      expect((await dealer.get(`/orders/quick?reorder=${id}`)).status).toBe(404);
      for (const intent of ["update", "submit", "discard", `remove:${id}`]) {
        expect((await dealer.post("/cart", { csrf: token, intent, order_id: id })).status, intent).toBe(404);
      }
      // Unknown and malformed ids read the same.
      expect((await dealer.get("/orders/6f1c1e7e-8c1b-4e8e-9d55-3f0f6b0a9c11")).status).toBe(404);
      expect((await dealer.get("/orders/not-an-id")).status).toBe(404);
      // The strange order's own supplier does see it.
      expect((await clients[3].get(`/orders/${id}`)).status).toBe(200);
      // The list never shows it.
      expect((await dealer.get("/orders")).body).not.toContain(id);
    });

    it("keeps the pages to the organisations they are for", async () => {
      const bank = await loggedIn(server.url, w.bankUser);
      for (const path of ["/orders", "/cart", "/orders/quick", "/seasons", "/settings/orders"]) {
        expect((await bank.get(path)).status, path).toBe(404);
      }
      expect((await core.get("/cart")).status).toBe(404);
      expect((await core.get("/orders/quick")).status).toBe(404);
      expect((await dealer.get("/seasons")).status).toBe(404);
      // A core enterprise never requests a return.
      const some = (await t.db.selectFrom("orders").select("id").where("dealer_id", "=", w.dealer).where("core_enterprise_id", "=", w.core).executeTakeFirstOrThrow()).id;
      expect((await core.get(`/orders/${some}/return`)).status).toBe(404);
    });
  });

  describe("bad input", () => {
    it("never answers a form with a 500", async () => {
      const token = await csrf(dealer, "/orders/quick");
      const coreToken = await csrf(core, "/seasons");
      const { createOrder } = await import("../../app/domain/orders/placement.server");
      const actor = { userId: null, organizationId: w.dealer, ip: null, requestId: null };
      const place = async () =>
        (await createOrder(t.db, actor, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "replenishment", lines: [{ skuCode: "HT-BC-93", quantity: 2 }, { skuCode: "HT-BCD-218", quantity: 1 }] }, new Date())).id;
      const toConfirm = await place();
      const toReject = await place();
      const toCancel = await place();

      // Without the CSRF token nothing happens at all.
      expect((await dealer.post(`/orders/${toCancel}`, { intent: "cancel", reason: "x" })).status).toBe(403);
      expect((await getOrder(t.db, w.dealer, toCancel)).order.status).toBe("submitted");

      const junk = ["", " ", "-1", "1.5", "1e9", "９", "x".repeat(5_000), "0x10", "99999999999999999999", "<script>", "\u0000"];
      const attempts: [Client, string, Record<string, string>][] = [];
      const detail = await getOrder(t.db, w.core, toConfirm);
      for (const v of junk) {
        const fields: Record<string, string> = { csrf: coreToken, intent: "confirm" };
        for (const l of detail.lines) {
          fields[`quantity.${l.id}`] = v;
          fields[`reason.${l.id}`] = v;
        }
        attempts.push([core, `/orders/${toConfirm}`, fields]);
      }
      for (const v of junk) {
        attempts.push([dealer, "/orders/quick", { csrf: token, core_enterprise_id: v, kind: v, season_id: v, lines: v, note: v }]);
        attempts.push([dealer, "/orders/quick", { csrf: token, core_enterprise_id: w.core, kind: "preorder", season_id: v, lines: `HT-BC-93,${v}` }]);
        attempts.push([dealer, "/cart", { csrf: token, intent: "add", core_enterprise_id: w.core, sku_code: v, quantity: v }]);
        attempts.push([dealer, "/cart", { csrf: token, intent: "add", core_enterprise_id: v, sku_id: v, quantity: "1" }]);
        attempts.push([dealer, "/cart", { csrf: token, intent: v, order_id: v }]);
        attempts.push([dealer, `/orders/${toCancel}`, { csrf: token, intent: v }]);
        attempts.push([core, `/orders/${toConfirm}`, { csrf: coreToken, intent: "ship", carrier: v, tracking_number: v }]);
        attempts.push([dealer, "/settings/orders", { csrf: token, approval_threshold: v }]);
        attempts.push([core, "/settings/orders", { csrf: coreToken, auto_receipt_days: v }]);
        attempts.push([core, "/seasons", { csrf: coreToken, intent: "create", name: v, deposit_percent: v }]);
        attempts.push([core, "/seasons", { csrf: coreToken, intent: "release", season_id: v }]);
        attempts.push([core, `/orders/${toReject}`, { csrf: coreToken, intent: "reject", reason: v }]);
        attempts.push([dealer, `/orders/${toCancel}`, { csrf: token, intent: "cancel", reason: v }]);
      }
      for (const [client, path, fields] of attempts) {
        const res = await client.post(path, fields);
        expect(res.status, `${path} ${JSON.stringify(fields).slice(0, 200)}`).toBeLessThan(500);
      }
      // Every confirmation above was refused field by field: the order still waits.
      expect((await getOrder(t.db, w.core, toConfirm)).order.status).toBe("submitted");
      // Query strings too: a forged cursor is a 400, an unknown filter is no filter.
      expect((await dealer.get("/orders?after=garbage")).status).toBe(400);
      expect((await dealer.get("/orders?status=nonsense&kind=%00")).status).toBe(200);
      expect((await dealer.get("/orders/quick?reorder=nonsense")).status).toBe(404);
    });

    it("pages through the list with a keyset cursor and filters by status and kind", async () => {
      // The second dealer of the supplier: 27 orders of its own, nothing else.
      const other = await loggedIn(server.url, w.otherDealerUser);
      const otherId = (await t.db.selectFrom("organizations").select("id").where("name", "=", "宁波鑫达电器销售有限公司").executeTakeFirstOrThrow()).id;
      const { createOrder } = await import("../../app/domain/orders/placement.server");
      const actor = { userId: null, organizationId: otherId, ip: null, requestId: null };
      for (let i = 0; i < 27; i++) {
        await createOrder(t.db, actor, { dealerId: otherId, coreEnterpriseId: w.core, kind: i % 3 === 0 ? "standard" : "replenishment", lines: [{ skuCode: "HT-BC-93", quantity: 2 }] }, new Date());
      }
      const rows = (html: string) => [...html.matchAll(/<a[^>]+href="\/orders\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
      const first = await other.get("/orders");
      expect(first.status).toBe(200);
      expect(rows(first.body)).toHaveLength(25);
      const next = /href="(\/orders\?after=[^"]+)"[^>]*rel="next"|rel="next"[^>]*href="(\/orders\?after=[^"]+)"/.exec(first.body);
      expect(next).toBeTruthy();
      const second = await other.get((next![1] ?? next![2]).replaceAll("&amp;", "&"));
      expect(second.status).toBe(200);
      expect(rows(second.body)).toHaveLength(2);
      expect(new Set([...rows(first.body), ...rows(second.body)]).size).toBe(27);

      const standard = await other.get("/orders?kind=standard");
      expect(rows(standard.body)).toHaveLength(9);
      expect(standard.body).not.toContain('class="od-kind replenishment"');
      const none = await other.get("/orders?status=completed");
      expect(rows(none.body)).toHaveLength(0);
    });
  });

  describe("money position", () => {
    /** An order placed and confirmed, then put on account `daysAgo` days ago. */
    async function onAccount(core: string, dealerId: string, line: { skuCode?: string; skuId?: string; quantity: number }, daysAgo: number) {
      const asDealer = { userId: null, organizationId: dealerId, ip: null, requestId: null };
      // Straight to the supplier, whatever approval threshold an earlier test left.
      await updateOrderSettings(t.db, asDealer, dealerId, { approvalThresholdFen: null });
      const order = await createOrder(t.db, asDealer, { dealerId, coreEnterpriseId: core, kind: "standard", lines: [line] }, new Date());
      await confirmOrder(t.db, { userId: null, organizationId: core, ip: null, requestId: null }, order.id, new Date());
      return payOnAccount(t.db, asDealer, order.id, new Date(Date.now() - daysAgo * 24 * 3600 * 1000));
    }

    it("shows a dealer's orders and overdue amounts on its page, and the pipeline in money above the order list, to its core enterprise only", async () => {
      const today = shanghaiDate(new Date());
      const late = await onAccount(w.core, w.dealer, { skuCode: "HT-BC-93", quantity: 2 }, 400);
      // Another supplier's dealer, long overdue too: never on this supplier's pages.
      const strangers = await onAccount(w.strangerCore, w.strangerDealerId, { skuId: w.strangerSkuId, quantity: 3 }, 400);
      const days = (Date.UTC(...ymd(today)) - Date.UTC(...ymd(late.due_on!))) / (24 * 3600 * 1000);
      const links = await listDealerLinks(t.db, w.core, {});
      const linkOf = (dealerId: string) => links.items.find((l) => l.dealerId === dealerId)!.id;

      const page = await core.get(`/dealers/${linkOf(w.dealer)}`);
      expect(page.status).toBe(200);
      const overdue = section(page.body, 'data-testid="overdue-orders"');
      expect(overdue).toContain(late.number);
      expect(overdue).toContain(late.due_on);
      expect(overdue).toContain(`${days} 天`);
      expect(overdue).toContain(formatFen(late.total_fen));
      expect(section(page.body, 'data-testid="recent-orders"')).toContain(`href="/orders/${late.id}"`);
      expect(page.body).toContain(`href="/orders?counterparty=${w.dealer}"`);
      expect(page.body).not.toContain(strangers.number);
      // The supplier's other dealer owes none of it.
      const other = await core.get(`/dealers/${linkOf(links.items.find((l) => l.dealerId !== w.dealer)!.dealerId)}`);
      expect(other.status).toBe(200);
      expect(other.body).not.toContain(late.number);
      // Another core enterprise's dealer link is still not there, and this one is not there for it.
      expect((await core.get(`/dealers/${w.strangerLinkId}`)).status).toBe(404);
      expect((await (await loggedIn(server.url, w.strangerCoreUser)).get(`/dealers/${linkOf(w.dealer)}`)).status).toBe(404);

      // The list of all its orders, from the link on the dealer page.
      const all = await core.get(`/orders?counterparty=${w.dealer}`);
      expect(all.status).toBe(200);
      expect(all.body).toContain(late.number);
      expect(all.body).toContain('data-testid="counterparty-filter"');

      // Above the order list: the same figures the model sums, this supplier's only.
      const summary = await orderMoneySummary(t.db, w.core, today);
      expect(summary.overdue.amountFen).toBeGreaterThanOrEqual(late.total_fen);
      const list = await core.get("/orders");
      expect(section(list.body, 'data-testid="money-overdue"')).toContain(formatFen(summary.overdue.amountFen));
      expect(section(list.body, 'data-testid="money-credit"')).toContain(formatFen(summary.onCredit.amountFen));
      expect(section(list.body, 'data-testid="money-awaiting"')).toContain(formatFen(summary.awaitingPayment.amountFen));
      expect(section(list.body, 'data-testid="money-paid"')).toContain("近 90 天");
      expect(list.body).not.toContain(formatFen(summary.overdue.amountFen + strangers.total_fen));
      // A dealer's order list has no supplier's money strip.
      expect((await dealer.get("/orders")).body).not.toContain('data-testid="order-money"');
    });
  });
});

function ymd(date: string): [number, number, number] {
  const [y, m, d] = date.split("-").map(Number);
  return [y, m - 1, d];
}

/** The markup from an element's opening tag (found by an attribute) to the end of that element's block. */
function section(html: string, attribute: string): string {
  const start = html.indexOf(attribute);
  expect(start, attribute).toBeGreaterThan(-1);
  const tag = html.lastIndexOf("<", start);
  const name = /^<(\w+)/.exec(html.slice(tag))![1];
  const end = html.indexOf(`</${name}>`, start);
  return html.slice(tag, end);
}
