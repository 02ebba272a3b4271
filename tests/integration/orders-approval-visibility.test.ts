import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approveOrder } from "../../app/domain/orders/cart.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder, listOrders } from "../../app/domain/orders/queries.server";
import { updateOrderSettings } from "../../app/domain/orders/settings.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { startTestServer, type Client, type TestServer } from "../support/web";
import { apiLogin, expectError, type ApiClient } from "./api.fixtures";
import { actorOf, makeLink, makeSku, newOrg } from "./catalog.fixtures";
import { loggedIn } from "./payments.fixtures";

/**
 * An order above the dealer's approval threshold is the dealer's business until another of its
 * owners or admins approves it: the supplier does not see it (pages, API, lists), and the member
 * who submitted it cannot approve it themselves (four eyes, order-states.ts).
 */
describe("a dealer's internal approval", () => {
  let t: TestDatabase;
  let server: TestServer;
  const w = {} as {
    core: string;
    dealer: string;
    skuId: string;
    submitter: { id: string; email: string; password: string };
    secondAdmin: { id: string; email: string; password: string };
    coreUser: { id: string; email: string; password: string };
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    w.core = await newOrg(t.db, "core_enterprise");
    const link = await makeLink(t.db, w.core, { creditLimitFen: 1_000_000 });
    w.dealer = link.dealerId;
    w.skuId = (await makeSku(t.db, w.core, { basePriceFen: 300_000, stockOnHand: 50 })).id;
    w.submitter = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
    w.secondAdmin = await createUser(t.db, { memberships: [[w.dealer, "admin"]] });
    w.coreUser = await createUser(t.db, { memberships: [[w.core, "owner"]] });
    await updateOrderSettings(t.db, actorOf(w.dealer, w.submitter.id), w.dealer, { approvalThresholdFen: 100_000 });
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  async function pendingOrder() {
    const order = await createOrder(t.db, actorOf(w.dealer, w.submitter.id), {
      dealerId: w.dealer,
      coreEnterpriseId: w.core,
      kind: "standard",
      lines: [{ skuId: w.skuId, quantity: 1 }],
    }, new Date());
    expect(order.status).toBe("pending_approval");
    return order;
  }

  it("keeps an order awaiting the dealer's approval out of the supplier's pages, API and lists, and shows it once approved", async () => {
    const order = await pendingOrder();
    const core: Client = await loggedIn(server.url, w.coreUser);
    const coreApi: ApiClient = await apiLogin(server.url, w.coreUser.email, w.coreUser.password);

    // The supplier: a 404 for the page, its actions and the API; absent from every list.
    expect((await core.get(`/orders/${order.id}`)).status).toBe(404);
    expect((await core.get("/orders")).body).not.toContain(order.number);
    expectError(await coreApi.get(`/api/v1/orders/${order.id}`), 404, "not_found");
    expectError(await coreApi.post(`/api/v1/orders/${order.id}/confirm`, {}), 404, "not_found");
    const listed = await coreApi.get<{ data: { id: string }[] }>("/api/v1/orders?limit=100");
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((o) => o.id)).not.toContain(order.id);
    expect((await listOrders(t.db, w.core, { status: "pending_approval" })).items).toEqual([]);
    // The dealer sees it, waiting for approval.
    expect((await getOrder(t.db, w.dealer, order.id)).order.status).toBe("pending_approval");
    expect((await listOrders(t.db, w.dealer)).items.map((o) => o.id)).toContain(order.id);

    await approveOrder(t.db, actorOf(w.dealer, w.secondAdmin.id), ["admin"], order.id, "approve", new Date());

    const page = await core.get(`/orders/${order.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(order.number);
    expect((await core.get("/orders")).body).toContain(order.number);
    const got = await coreApi.get<{ id: string; status: string }>(`/api/v1/orders/${order.id}`);
    expect(got.status).toBe(200);
    expect(got.body.status).toBe("submitted");
  });

  it("never shows the supplier an order the dealer declined before it got there", async () => {
    const order = await pendingOrder();
    await approveOrder(t.db, actorOf(w.dealer, w.secondAdmin.id), ["admin"], order.id, "decline", new Date(), "预算不够");
    expect((await getOrder(t.db, w.dealer, order.id)).order.status).toBe("cancelled");
    await expect(getOrder(t.db, w.core, order.id)).rejects.toMatchObject({ code: "not_found" });
    expect((await listOrders(t.db, w.core, { status: "cancelled" })).items.map((o) => o.id)).not.toContain(order.id);
  });

  it("refuses the submitter's own approval with a message that says why, on the page and over the API; another admin approves", async () => {
    const viaPage = await pendingOrder();
    const submitter = await loggedIn(server.url, w.submitter);
    // The page offers the submitter no approve button (declining stays), and says why.
    const own = await submitter.get(`/orders/${viaPage.id}`);
    expect(own.body).not.toContain('data-intent="approve"');
    expect(own.body).toContain('data-testid="own-approval"');
    expect(own.body).toContain("需由本机构的另一位所有者或管理员审批");
    const token = await submitter.csrfFrom(`/orders/${viaPage.id}`);
    const refused = await submitter.post(`/orders/${viaPage.id}`, { csrf: token, intent: "approve" });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("这张订单是您提交审批的，需由本机构的另一位所有者或管理员审批");
    expect((await getOrder(t.db, w.dealer, viaPage.id)).order.status).toBe("pending_approval");

    const viaApi = await pendingOrder();
    const submitterApi = await apiLogin(server.url, w.submitter.email, w.submitter.password);
    const error = expectError(await submitterApi.post(`/api/v1/orders/${viaApi.id}/approve`, { decision: "approve" }), 403, "forbidden");
    expect(error.message).toContain("another owner or admin");
    expect(error.fields).toEqual({ approver: "not_the_submitter" });

    const second = await loggedIn(server.url, w.secondAdmin);
    expect((await second.get(`/orders/${viaPage.id}`)).body).toContain('data-intent="approve"');
    const secondToken = await second.csrfFrom(`/orders/${viaPage.id}`);
    expect((await second.post(`/orders/${viaPage.id}`, { csrf: secondToken, intent: "approve" })).status).toBe(302);
    expect((await getOrder(t.db, w.dealer, viaPage.id)).order.status).toBe("submitted");
    const secondApi = await apiLogin(server.url, w.secondAdmin.email, w.secondAdmin.password);
    expect((await secondApi.post(`/api/v1/orders/${viaApi.id}/approve`, { decision: "approve" })).status).toBe(200);
    expect((await getOrder(t.db, w.core, viaApi.id)).order.status).toBe("submitted");
  });
});
