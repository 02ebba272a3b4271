import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { feeOnReleaseFen } from "../../app/domain/market/escrow/model.server";
import { openDispute } from "../../app/domain/market/escrow/disputes.server";
import { getCheckout, getMarketOrder } from "../../app/domain/market/escrow/queries.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { runStep, STEPS } from "../../workflows/registry";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { Client } from "../support/web";
import { createTradeWorld, paidOrder, placeFor, pngBytes, postMultipart, type TradeWorld } from "./market-orders.fixtures";
import { actorFor, walletOf } from "./market-trade.fixtures";
import { startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

/**
 * The escrow order pages through the real Express + Remix stack, as a browser without JavaScript
 * uses them: the checkout paid from the wallet, shipping (a bad tracking number named, nothing
 * changed), receipt in two steps, settlement, a dispute with an evidence file, a statement, the
 * operator's ruling (a bad amount named, then a partial refund), and every page of another tenant
 * answering 404, a viewer's POST 403, junk never a 500.
 */
describe("market order pages", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let world: TradeWorld;

  beforeAll(async () => {
    t = await createTestDatabase();
    world = await createTradeWorld(t.db);
    server = await startPaymentsServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function signedIn(user: { email: string; password: string }): Promise<Client> {
    const client = new Client(server.url);
    const res = await client.login(user.email, user.password);
    expect(res.status, "login").toBe(302);
    return client;
  }

  const statusOf = async (orderId: string) => (await getMarketOrder(t.db, world.buyer.id, orderId)).status;

  it("pays a two-merchant checkout from the wallet on the checkout page", async () => {
    const placed = await placeFor(t.db, world, [
      { listingId: world.dress.id, quantity: 2 },
      { listingId: world.shirt.id, quantity: 1 },
    ]);
    const buyer = await signedIn(world.buyer.user);
    const path = `/market/checkouts/${placed.checkout.id}`;
    const page = await buyer.get(path);
    expect(page.status).toBe(200);
    expect(page.body).toContain("¥288.00");
    expect(page.body).toContain("¥1,000.00");
    for (const o of placed.orders) expect(page.body).toContain(o.orderNo);
    expect(page.body).toContain('data-intent="epay"');

    // A viewer of the buyer reads the page but cannot pay.
    const viewer = await signedIn(world.buyerViewer);
    expect((await viewer.get(path)).status).toBe(200);
    expect((await viewer.post(path, { csrf: await viewer.csrfFrom(path), intent: "wallet" })).status).toBe(403);
    expect((await getCheckout(t.db, world.buyer.id, placed.checkout.id)).checkout.status).toBe("placed");

    const csrf = await buyer.csrfFrom(path);
    const paid = await buyer.post(path, { csrf, intent: "wallet" });
    expect(paid.status).toBe(302);
    expect(paid.location).toBe(path);
    const after = await buyer.get(path);
    expect(after.body).toContain('data-testid="paid"');
    expect(after.body).toContain("付款成功");
    expect(after.body).not.toContain('data-intent="wallet"');
    const { checkout, orders } = await getCheckout(t.db, world.buyer.id, placed.checkout.id);
    expect(checkout.status).toBe("paid");
    expect(orders.map((o) => o.status)).toEqual(["paid", "paid"]);
    // Paying again (a second tab) changes nothing and says why.
    const again = await buyer.post(path, { csrf, intent: "wallet" });
    expect([302, 409]).toContain(again.status);
    expect((await walletOf(t.db, world.buyer.id)).availableFen).toBe(100_000 - 28_800);
  });

  it("starts an e-Pay payment from the checkout page: off to the gateway's pay page", async () => {
    const placed = await placeFor(t.db, world, [{ listingId: world.shirt.id, quantity: 1 }]);
    const buyer = await signedIn(world.buyer.user);
    const path = `/market/checkouts/${placed.checkout.id}`;
    const res = await buyer.post(path, { csrf: await buyer.csrfFrom(path), intent: "epay" });
    expect(res.status).toBe(302);
    expect(res.location).toMatch(/\/sandbox\/epay\/pay\//);
    // Back on the page while the payment is pending: it waits for it, and offers no second payment.
    const page = await buyer.get(path);
    expect(page.body).toContain('data-testid="payment-in-flight"');
    expect(page.body).not.toContain('data-intent="wallet"');
    // Cancelled instead: the orders close, the page says so.
    const cancelled = await buyer.post(path, { csrf: await buyer.csrfFrom(path), intent: "cancel" });
    expect(cancelled.status).toBe(302);
    expect((await buyer.get(path)).body).toContain("订单已取消");
    expect(await statusOf(placed.orders[0].id)).toBe("cancelled");
  });

  it("ships (a bad tracking number is named and changes nothing), confirms receipt in two steps, settles", async () => {
    const orderId = await paidOrder(t.db, world, world.dress.id, 3);
    const merchant = await signedIn(world.w.merchants[0].user);
    const path = `/market/orders/${orderId}`;
    const page = await merchant.get(path);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="ship-form"');
    expect(page.body).toContain('data-testid="commission"');
    const csrf = await merchant.csrfFrom(path);

    const bad = await merchant.post(path, { csrf, intent: "ship", carrier: "顺丰速运", trackingNo: "SF 123!" });
    expect(bad.status).toBe(422);
    expect(bad.body).toContain('id="ship-trackingNo-error"');
    expect(bad.body).toContain("只能包含字母、数字和“-”");
    expect(bad.body).toContain('value="顺丰速运"');
    expect(await statusOf(orderId)).toBe("paid");
    const noCarrier = await merchant.post(path, { csrf, intent: "ship", carrier: "", trackingNo: "SF1" });
    expect(noCarrier.status).toBe(422);
    expect(noCarrier.body).toContain('id="ship-carrier-error"');

    const shipped = await merchant.post(path, { csrf, intent: "ship", carrier: "顺丰速运", trackingNo: "SF1234567890" });
    expect(shipped.status).toBe(302);
    expect(await statusOf(orderId)).toBe("shipped");
    // The same form again (a stale tab): a 409 that says the order moved on, nothing changed.
    const twice = await merchant.post(path, { csrf, intent: "ship", carrier: "顺丰速运", trackingNo: "SF999" });
    expect(twice.status).toBe(409);
    expect(twice.body).toContain("已发货");

    const buyer = await signedIn(world.buyer.user);
    const view = await buyer.get(path);
    expect(view.body).toContain("SF1234567890");
    // The commission is between the merchant and the market.
    expect(view.body).not.toContain('data-testid="commission"');
    expect(view.body).toContain(`${path}?confirm=receive`);
    const bcsrf = await buyer.csrfFrom(path);
    // Without the confirmation step's field: to the confirmation step, nothing changed.
    const unconfirmed = await buyer.post(path, { csrf: bcsrf, intent: "receive" });
    expect(unconfirmed.status).toBe(303);
    expect(unconfirmed.location).toBe(`${path}?confirm=receive`);
    expect(await statusOf(orderId)).toBe("shipped");
    const confirmPage = await buyer.get(`${path}?confirm=receive`);
    expect(confirmPage.body).toContain('data-testid="receive-confirm"');
    expect(confirmPage.body).toContain("¥300.00");
    const received = await buyer.post(path, { csrf: bcsrf, intent: "receive", confirmed: "yes" });
    expect(received.status).toBe(302);
    expect(await statusOf(orderId)).toBe("received");

    await runStep(STEPS, { db: t.db, logger: quiet }, "market.settle", { orderId });
    expect(await statusOf(orderId)).toBe("settled");
    const list = await merchant.get("/market/orders");
    expect(list.status).toBe(200);
    expect(list.body).toContain('data-testid="money"');
    // 2.5 % of ¥300 = ¥7.50 commission; ¥292.50 settled.
    expect(list.body).toMatch(/data-testid="money-settled"[\s\S]*?¥292\.50/);
    expect(list.body).toMatch(/data-testid="money-commission"[\s\S]*?¥7\.50/);
    const settled = await merchant.get("/market/orders?status=settled");
    expect(settled.body).toContain((await getMarketOrder(t.db, world.buyer.id, orderId)).orderNo);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("lists a page at a time with a cursor, by status", async () => {
    // More than a page (25) of this buyer's unpaid orders (and so of all its orders).
    const unpaid = await t.db.selectFrom("market_orders").select("id").where("buyer_id", "=", world.buyer.id).where("status", "=", "placed").execute();
    for (let i = unpaid.length; i < 27; i++) await placeFor(t.db, world, [{ listingId: world.shirt.id, quantity: 1 }]);
    const buyer = await signedIn(world.buyer.user);
    const first = await buyer.get("/market/orders");
    expect(first.status).toBe(200);
    const moreTag = /<a [^>]*data-testid="more"[^>]*>/.exec(first.body)?.[0] ?? "";
    const more = /href="(\/market\/orders\?after=[^"]+)"/.exec(moreTag);
    expect(more, "a link to the next page").not.toBeNull();
    const orderNos = (html: string) => [...html.matchAll(/data-order="(MO\d+)"/g)].map((m) => m[1]);
    const second = await buyer.get(more![1].replace(/&amp;/g, "&"));
    expect(second.status).toBe(200);
    expect(orderNos(first.body)).toHaveLength(25);
    expect(orderNos(second.body).length).toBeGreaterThan(0);
    expect(orderNos(second.body).filter((n) => orderNos(first.body).includes(n))).toEqual([]);
    expect(second.body).toContain("回到第一页");
    // By status: the filter is kept in the cursor link and only that status is listed.
    const placedOnly = await buyer.get("/market/orders?status=placed");
    expect(placedOnly.body).toContain('data-status="placed"');
    expect(placedOnly.body).not.toMatch(/data-status="(paid|settled|shipped)"/);
    expect(placedOnly.body).toMatch(/href="\/market\/orders\?status=placed&amp;after=/);
    expect(placedOnly.body).toContain(`/market/checkouts/`);
  });

  it("opens a dispute with an evidence file, the merchant answers, the operator rules a partial refund", async () => {
    const orderId = await paidOrder(t.db, world, world.dress.id, 1, { ship: true });
    const path = `/market/orders/${orderId}`;
    const buyer = await signedIn(world.buyer.user);
    const csrf = await buyer.csrfFrom(path);
    expect((await buyer.get(path)).body).toContain('data-testid="dispute-form"');

    // A file that is not a photo or PDF, and an empty statement: named, nothing written.
    const bad = await postMultipart(buyer, path, { csrf, intent: "dispute", statement: "" }, { field: "evidence", name: "x.exe", type: "application/octet-stream", bytes: new Uint8Array([1, 2, 3]) });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatch(/id="dispute-statement-error"|id="dispute-evidence-error"/);
    const badFile = await postMultipart(buyer, path, { csrf, intent: "dispute", statement: "货不对板" }, { field: "evidence", name: "x.exe", type: "application/octet-stream", bytes: new Uint8Array([1, 2, 3]) });
    expect(badFile.status).toBe(422);
    expect(badFile.body).toContain('id="dispute-evidence-error"');
    expect(badFile.body).toContain("只接受 PNG、JPEG 照片或 PDF 文件");
    const tooBig = await postMultipart(buyer, path, { csrf, intent: "dispute", statement: "货不对板" }, { field: "evidence", name: "big.png", type: "image/png", bytes: pngBytes(2 * 1024 * 1024) });
    expect(tooBig.status).toBe(422);
    expect(tooBig.body).toContain("文件超过 2 MiB");
    expect(await statusOf(orderId)).toBe("shipped");

    const photo = pngBytes(200);
    const opened = await postMultipart(buyer, path, { csrf, intent: "dispute", statement: "收到的连衣裙有明显污渍，与描述不符。" }, { field: "evidence", name: '污渍 "照片";1.png', type: "image/png", bytes: photo });
    expect(opened.status).toBe(302);
    expect(await statusOf(orderId)).toBe("disputed");
    const detail = await getMarketOrder(t.db, world.buyer.id, orderId);
    const statement = detail.dispute!.statements[0];
    expect(statement.evidence).toEqual({ filename: '污渍 "照片";1.png', contentType: "image/png" });
    const view = await buyer.get(path);
    expect(view.body).toContain(`/market/disputes/evidence/${statement.id}`);
    expect(view.body).toContain("收到的连衣裙有明显污渍");

    const file = await buyer.get(`/market/disputes/evidence/${statement.id}`);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/png");
    expect(file.headers.get("x-content-type-options")).toBe("nosniff");
    const disposition = file.headers.get("content-disposition")!;
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
    // The fallback name cannot end the header's parameter early; the real name survives encoded.
    expect(disposition.split(";")).toHaveLength(3);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1])).toBe('污渍 "照片";1.png');

    // The merchant answers (a plain form: no file); a viewer of the merchant cannot.
    const merchant = await signedIn(world.w.merchants[0].user);
    const mview = await merchant.get(path);
    expect(mview.body).toContain('data-testid="statement-form"');
    expect((await merchant.get(`/market/disputes/evidence/${statement.id}`)).status).toBe(200);
    const mcsrf = await merchant.csrfFrom(path);
    const empty = await merchant.post(path, { csrf: mcsrf, intent: "statement", body: "" });
    expect(empty.status).toBe(422);
    expect(empty.body).toContain('id="statement-body-error"');
    expect((await merchant.post(path, { csrf: mcsrf, intent: "statement", body: "发货前已检查，无污渍。" })).status).toBe(302);
    const merchantViewer = await signedIn(world.merchantViewer);
    expect((await merchantViewer.post(path, { csrf: await merchantViewer.csrfFrom(path), intent: "statement", body: "x" })).status).toBe(403);

    // The operator: the disputes list (open first) and the ruling page with both sides.
    const operator = await signedIn(world.w.operatorUser);
    const list = await operator.get(`/markets/${world.w.marketId}/disputes`);
    expect(list.status).toBe(200);
    expect(list.body).toContain(detail.orderNo);
    const rulingPath = `/markets/${world.w.marketId}/disputes/${detail.dispute!.id}`;
    const rulingPage = await operator.get(rulingPath);
    expect(rulingPage.status).toBe(200);
    expect(rulingPage.body).toContain("发货前已检查，无污渍。");
    expect(rulingPage.body).toContain("收到的连衣裙有明显污渍");
    expect(rulingPage.body).toContain(`/market/disputes/evidence/${statement.id}`);
    // ¥100 at 2.5 % with a ¥5 minimum: commission ¥5.00, release pays ¥95.00.
    expect(rulingPage.body).toContain("¥95.00");
    expect(rulingPage.body).toContain("¥5.00");
    expect((await operator.get(path)).status).toBe(200);

    const ocsrf = await operator.csrfFrom(rulingPath);
    for (const refund of ["abc", "12.345", "100", "0", ""]) {
      const res = await operator.post(rulingPath, { csrf: ocsrf, intent: "rule", ruling: "refund_partial", refund, reason: "双方各担部分责任" });
      expect(res.status, `refund ${refund}`).toBe(422);
      expect(res.body).toContain('id="rule-refund-error"');
      expect(res.body).toContain("双方各担部分责任</textarea>");
    }
    const noReason = await operator.post(rulingPath, { csrf: ocsrf, intent: "rule", ruling: "release", refund: "", reason: "" });
    expect(noReason.status).toBe(422);
    expect(noReason.body).toContain('id="rule-reason-error"');
    const noChoice = await operator.post(rulingPath, { csrf: ocsrf, intent: "rule", refund: "", reason: "x" });
    expect(noChoice.status).toBe(422);
    expect(noChoice.body).toContain('id="ruling-error"');
    expect(await statusOf(orderId)).toBe("disputed");

    // The preview: 12.50 back; the rest (¥87.50) released with its pro-rata commission.
    const feeOn87 = feeOnReleaseFen({ goods_total_fen: 10_000, fee_fen: 500 }, 8_750);
    const preview = await operator.post(rulingPath, { csrf: ocsrf, intent: "preview", ruling: "refund_partial", refund: "12.5", reason: "" });
    expect(preview.status).toBe(200);
    expect(preview.body).toContain('data-testid="split-preview"');
    expect(preview.body).toMatch(/data-testid="split-refund">¥12\.50/);
    expect(preview.body).toContain(`data-testid="split-fee">¥${(feeOn87 / 100).toFixed(2)}`);
    expect(await statusOf(orderId)).toBe("disputed");

    const operatorViewer = await signedIn(world.operatorViewer);
    expect((await operatorViewer.get(rulingPath)).status).toBe(200);
    expect((await operatorViewer.post(rulingPath, { csrf: await operatorViewer.csrfFrom(rulingPath), intent: "rule", ruling: "release", reason: "x" })).status).toBe(403);

    const ruled = await operator.post(rulingPath, { csrf: ocsrf, intent: "rule", ruling: "refund_partial", refund: "12.5", reason: "双方各担部分责任", confirmFinal: "on" });
    expect(ruled.status).toBe(302);
    const after = await getMarketOrder(t.db, world.buyer.id, orderId);
    expect(after).toMatchObject({ status: "settled", refundedFen: 1_250, settledFeeFen: feeOn87, settledNetFen: 8_750 - feeOn87 });
    expect(after.dispute).toMatchObject({ status: "ruled", ruling: "refund_partial", refundFen: 1_250 });
    const done = await operator.get(rulingPath);
    expect(done.body).toContain('data-testid="ruling"');
    expect(done.body).not.toContain('data-testid="ruling-form"');
    // Ruled: no more statements.
    const late = await merchant.post(path, { csrf: mcsrf, intent: "statement", body: "补充" });
    expect([404, 409]).toContain(late.status);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("lets the merchant cancel a paid order with a reason, refunding the buyer", async () => {
    const orderId = await paidOrder(t.db, world, world.dress.id, 1);
    const merchant = await signedIn(world.w.merchants[0].user);
    const path = `/market/orders/${orderId}`;
    const csrf = await merchant.csrfFrom(path);
    const noReason = await merchant.post(path, { csrf, intent: "cancel", reason: "  " });
    expect(noReason.status).toBe(422);
    expect(noReason.body).toContain('id="cancel-reason-error"');
    expect(await statusOf(orderId)).toBe("paid");
    expect((await merchant.post(path, { csrf, intent: "cancel", reason: "缺货" })).status).toBe(302);
    expect(await statusOf(orderId)).toBe("cancelled");
  });

  it("answers 404 for every page of another tenant, and for the wrong kind of organisation", async () => {
    const placed = await placeFor(t.db, world, [{ listingId: world.dress.id, quantity: 1 }]);
    const orderId = await paidOrder(t.db, world, world.dress.id, 1, { ship: true });
    const { disputeId } = await openDispute(t.db, actorFor(world.buyer.id), world.buyer.id, orderId, {
      statement: "有问题",
      evidence: { filename: "a.png", contentType: "image/png", bytes: pngBytes() },
    }, new Date());
    const statementId = (await getMarketOrder(t.db, world.buyer.id, orderId)).dispute!.statements[0].id;
    const pages = [
      `/market/orders/${orderId}`,
      `/market/checkouts/${placed.checkout.id}`,
      `/market/disputes/evidence/${statementId}`,
      `/markets/${world.w.marketId}/orders`,
      `/markets/${world.w.marketId}/disputes`,
      `/markets/${world.w.marketId}/disputes/${disputeId}`,
    ];
    const s = world.stranger;
    for (const user of [s.buyer.user, s.world.merchants[0].user, s.world.operatorUser, s.dealerUser]) {
      const client = await signedIn(user);
      for (const page of pages) expect((await client.get(page)).status, `${user.email} ${page}`).toBe(404);
      // And a POST to another tenant's order is a 404 too (never a change).
      const csrf = await client.csrfFrom("/");
      expect((await client.post(pages[0], { csrf, intent: "statement", body: "x" })).status).toBe(404);
    }
    // The dispute of this operator's market under another of its markets' URL: 404.
    const operator = await signedIn(world.w.operatorUser);
    expect((await operator.get(`/markets/${s.world.marketId}/disputes/${disputeId}`)).status).toBe(404);
    // The merchant of the other listing is not a party of this order.
    const otherMerchant = await signedIn(world.w.merchants[1].user);
    expect((await otherMerchant.get(`/market/orders/${orderId}`)).status).toBe(404);
    expect((await otherMerchant.get(`/market/disputes/evidence/${statementId}`)).status).toBe(404);
    const dealer = await signedIn(s.dealerUser);
    expect((await dealer.get("/market/orders")).status).toBe(404);
  });

  it("never answers junk with a 500", async () => {
    const orderId = await paidOrder(t.db, world, world.dress.id, 1);
    const placed = await placeFor(t.db, world, [{ listingId: world.dress.id, quantity: 1 }]);
    const buyer = await signedIn(world.buyer.user);
    const merchant = await signedIn(world.w.merchants[0].user);
    const operator = await signedIn(world.w.operatorUser);
    const path = `/market/orders/${orderId}`;
    const csrf = await buyer.csrfFrom(path);
    const mcsrf = await merchant.csrfFrom(path);
    const ocsrf = await operator.csrfFrom(`/markets/${world.w.marketId}/disputes`);
    const answers: [string, number][] = [];
    const record = async (label: string, res: Promise<{ status: number }>) => answers.push([label, (await res).status]);
    await record("no intent", buyer.post(path, { csrf }));
    await record("unknown intent", buyer.post(path, { csrf, intent: "explode" }));
    await record("ship as buyer", buyer.post(path, { csrf, intent: "ship", carrier: "x", trackingNo: "y" }));
    await record("receive unpaid", buyer.post(path, { csrf, intent: "receive", confirmed: "yes" }));
    await record("statement without dispute", buyer.post(path, { csrf, intent: "statement", body: "x" }));
    await record("huge carrier", merchant.post(path, { csrf: mcsrf, intent: "ship", carrier: "x".repeat(5000), trackingNo: "A1" }));
    await record("huge body", merchant.post(path, { csrf: mcsrf, intent: "cancel", reason: "x".repeat(100_000) }));
    await record("evidence as text", buyer.post(path, { csrf, intent: "dispute", statement: "", evidence: "not a file" }));
    await record(
      "broken multipart",
      buyer.request(path, { method: "POST", headers: { "Content-Type": "multipart/form-data; boundary=zzz" }, body: "--zzz\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc" }),
    );
    await record("no csrf", buyer.post(path, { intent: "receive" }));
    await record("bad cursor", buyer.get("/market/orders?after=junk"));
    await record("bad status", buyer.get("/market/orders?status=lost"));
    await record("bad order id", buyer.get("/market/orders/not-a-uuid"));
    await record("unknown order id", buyer.get("/market/orders/00000000-0000-4000-8000-000000000000"));
    await record("checkout junk intent", buyer.post(`/market/checkouts/${placed.checkout.id}`, { csrf, intent: "steal" }));
    await record("checkout bad id", buyer.post("/market/checkouts/xyz", { csrf, intent: "wallet" }));
    await record("evidence bad id", buyer.get("/market/disputes/evidence/xyz"));
    await record("evidence of a statement without one", buyer.get("/market/disputes/evidence/00000000-0000-4000-8000-000000000000"));
    await record("operator disputes bad status", operator.get(`/markets/${world.w.marketId}/disputes?status=maybe`));
    await record("operator orders bad cursor", operator.get(`/markets/${world.w.marketId}/orders?after=%%%`));
    await record("ruling of a junk dispute id", operator.post(`/markets/${world.w.marketId}/disputes/xyz`, { csrf: ocsrf, intent: "rule" }));
    expect(answers.find(([label]) => label === "huge body")?.[1]).toBe(413);
    expect(answers.find(([label]) => label === "no intent")?.[1]).toBe(400);
    for (const [label, status] of answers) {
      expect(status, label).toBeGreaterThanOrEqual(300);
      expect(status, label).toBeLessThan(500);
    }
    expect(await statusOf(orderId)).toBe("paid");
  });
});
