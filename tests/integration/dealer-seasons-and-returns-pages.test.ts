import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureAccount, transfer } from "../../app/domain/ledger/ledger.server";
import { receiveOrder, shipOrder } from "../../app/domain/orders/fulfilment.server";
import { payFromWallet, payOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { decideReturn, receiveReturnedGoods, refundReturn, requestReturn } from "../../app/domain/orders/returns.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createSeason, releaseSeason } from "../../app/domain/orders/seasons.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { startTestServer, type Client, type TestServer } from "../support/web";
import { actorOf, makeLink, makeSku, newOrg } from "./catalog.fixtures";
import { loggedIn } from "./payments.fixtures";

/**
 * Two dealer pages: the pre-order seasons open to a dealer (from its suppliers only, with the
 * deposit rate, when the balance falls due, its bookings and a way to book), and a completed
 * return's lines saying what was sent back rather than the original order's 0 shipped, 0 returned.
 */
describe("dealer pages: seasons and a completed return", () => {
  let t: TestDatabase;
  let server: TestServer;
  let core: string;
  let linkedDealer: string;
  let linkedUser: { id: string; email: string; password: string };
  let otherDealerUser: { email: string; password: string };
  let coreUser: { email: string; password: string };

  async function fund(organizationId: string, amountFen: number) {
    const clearing = await ensureAccount(t.db, { kind: "gateway_clearing", organizationId: null });
    const wallet = await ensureAccount(t.db, { kind: "wallet", organizationId });
    await transfer(t.db, { idempotencyKey: `fund:${organizationId}:${Math.random()}`, kind: "topup", reference: "test", debitAccountId: clearing.id, creditAccountId: wallet.id, amountFen });
  }

  beforeAll(async () => {
    t = await createTestDatabase();
    core = await newOrg(t.db, "core_enterprise");
    const link = await makeLink(t.db, core, { creditLimitFen: 5_000_000 });
    linkedDealer = link.dealerId;
    linkedUser = await createUser(t.db, { memberships: [[linkedDealer, "owner"]] });
    // A dealer of another supplier: not linked to `core`.
    const otherCore = await newOrg(t.db, "core_enterprise");
    const otherLink = await makeLink(t.db, otherCore);
    otherDealerUser = await createUser(t.db, { memberships: [[otherLink.dealerId, "owner"]] });
    coreUser = await createUser(t.db, { memberships: [[core, "owner"]] });
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("lists a supplier's open season to its dealer with the deposit rate and a booking link, not to an unlinked dealer", async () => {
    const asCore = actorOf(core);
    const season = await createSeason(t.db, asCore, core, { name: "2027 春季订货会", depositRateBps: 3050 });
    const dealer: Client = await loggedIn(server.url, linkedUser);

    const page = await dealer.get("/preorders");
    expect(page.status).toBe(200);
    expect(page.body).toContain("2027 春季订货会");
    expect(page.body).toContain("30.5%");
    expect(page.body).toContain("放货后应付");
    expect(page.body).toContain(`href="/orders/quick?season=${season.id}"`);
    // The dealer's navigation leads here.
    expect(page.body).toContain('href="/preorders"');

    // The booking link opens quick order preset to this season.
    const quick = await dealer.get(`/orders/quick?season=${season.id}`);
    expect(quick.status).toBe(200);
    expect(quick.body).toMatch(new RegExp(`<option value="${season.id}" selected=""`));
    expect(quick.body).toMatch(/<option value="preorder" selected=""/);

    const stranger = await loggedIn(server.url, otherDealerUser);
    const strangerPage = await stranger.get("/preorders");
    expect(strangerPage.status).toBe(200);
    expect(strangerPage.body).not.toContain("2027 春季订货会");
    expect(strangerPage.body).toContain('data-testid="no-seasons"');
    // A core enterprise has its own seasons page; this one is the dealer's.
    expect((await (await loggedIn(server.url, coreUser)).get("/preorders")).status).toBe(404);
  });

  it("shows the dealer's booking and, after release, that the balance is due since the release date, in both languages", async () => {
    const asCore = actorOf(core);
    const asDealer = actorOf(linkedDealer, linkedUser.id);
    const sku = await makeSku(t.db, core, { basePriceFen: 100_000, stockOnHand: 20 });
    const season = await createSeason(t.db, asCore, core, { name: "2027 秋季订货会", depositRateBps: 2000 });
    await fund(linkedDealer, 1_000_000);
    const booking = await createOrder(t.db, asDealer, { dealerId: linkedDealer, coreEnterpriseId: core, kind: "preorder", seasonId: season.id, lines: [{ skuId: sku.id, quantity: 2 }] }, new Date());
    await confirmOrder(t.db, asCore, booking.id, new Date());
    await payFromWallet(t.db, asDealer, booking.id, new Date());
    await releaseSeason(t.db, asCore, core, season.id, new Date());
    const releasedAt = (await t.db.selectFrom("seasons").select("released_at").where("id", "=", season.id).executeTakeFirstOrThrow()).released_at!;
    const day = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(releasedAt);

    const dealer = await loggedIn(server.url, linkedUser);
    const page = await dealer.get("/preorders");
    const row = page.body.slice(page.body.indexOf(`data-season="${season.id}"`));
    expect(row).toContain("2027 秋季订货会");
    expect(row).toContain("20%");
    expect(row).toContain(`${day} 放货，尾款已到期`);
    expect(row).toContain(`href="/orders/${booking.id}"`);
    expect(row).toContain(booking.number);
    expect(row).toContain('data-status="balance_due"');
    // Released: no more booking against it.
    expect(row.slice(0, row.indexOf("</tr>"))).not.toContain(`/orders/quick?season=${season.id}`);

    expect((await dealer.post("/set-language", { csrf: await dealer.csrfFrom("/preorders"), lang: "en", redirectTo: "/preorders" })).status).toBe(302);
    const english = await dealer.get("/preorders");
    expect(english.body).toContain("Pre-order seasons");
    expect(english.body).toContain("balance due");
  });

  it("shows a completed return's lines as what was sent back and received, not 0 shipped and 0 returned", async () => {
    const asCore = actorOf(core);
    const asDealer = actorOf(linkedDealer, linkedUser.id);
    const sku = await makeSku(t.db, core, { basePriceFen: 50_000, stockOnHand: 20, name: "电热水壶" });
    await fund(core, 1_000_000);
    const order = await createOrder(t.db, asDealer, { dealerId: linkedDealer, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: sku.id, quantity: 5 }] }, new Date());
    await confirmOrder(t.db, asCore, order.id, new Date());
    await payOnAccount(t.db, asDealer, order.id, new Date());
    const line = (await getOrder(t.db, core, order.id)).lines[0];
    await shipOrder(t.db, asCore, order.id, { carrier: "顺丰", trackingNumber: "SF77", lines: [{ lineId: line.id, quantity: 5 }] }, new Date());
    await receiveOrder(t.db, asDealer, order.id, new Date());
    const rma = await requestReturn(t.db, asDealer, { originalOrderId: order.id, lines: [{ lineId: line.id, quantity: 3 }], reason: "外壳破损" }, new Date());
    await decideReturn(t.db, asCore, rma.id, "approve", new Date());

    const dealer = await loggedIn(server.url, linkedUser);
    expect((await dealer.post("/set-language", { csrf: await dealer.csrfFrom("/orders"), lang: "zh-CN", redirectTo: "/orders" })).status).toBe(302);
    const cell = (html: string, testId: string) =>
      new RegExp(`data-testid="${testId}"[^>]*>([\\s\\S]*?)</td>`).exec(html)?.[1]?.replace(/<!-- -->/g, "").replace(/\s+/g, " ").trim();
    const approved = await dealer.get(`/orders/${rma.id}`);
    expect(cell(approved.body, "return-requested")).toBe("3 台");
    expect(cell(approved.body, "returned-back")).toBe("0 台");

    await receiveReturnedGoods(t.db, asCore, rma.id);
    await refundReturn(t.db, asCore, rma.id, new Date());
    expect((await getOrder(t.db, linkedDealer, rma.id)).order.status).toBe("completed");

    const completed = await dealer.get(`/orders/${rma.id}`);
    expect(completed.status).toBe(200);
    expect(completed.body).toContain("退货数量");
    expect(completed.body).toContain("已退回");
    expect(cell(completed.body, "return-requested")).toBe("3 台");
    expect(cell(completed.body, "returned-back")).toBe("3 台");
    // The original order's columns (shipped, returned) are not shown on the return.
    const lines = completed.body.slice(completed.body.indexOf('data-testid="lines"'), completed.body.indexOf("</table>", completed.body.indexOf('data-testid="lines"')));
    expect(lines).not.toContain("已发");
    // The original order says 3 of its 5 came back.
    const original = await dealer.get(`/orders/${order.id}`);
    expect(original.body).toContain(rma.number);
  });
});
