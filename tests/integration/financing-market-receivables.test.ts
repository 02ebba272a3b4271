import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { setFacility } from "../../app/domain/financing/facilities.server";
import { createProduct } from "../../app/domain/financing/products.server";
import { disburseApplication } from "../../app/domain/financing/disbursement.server";
import { marketReceivablesForSale, marketReceivablesSold, ruleMarketDisputeWithAssignment, sellMarketReceivable, settleMarketOrdersWithAssignment } from "../../app/domain/financing/market-receivables.server";
import { openDispute } from "../../app/domain/market/escrow/disputes.server";
import { receiveMarketOrder } from "../../app/domain/market/escrow/fulfilment.server";
import { settleStep } from "../../workflows/market";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";
import { quietLogger, refusal } from "./catalog.fixtures";
import { balanceOf, ensureBank, runFinancingJobs } from "./financing.fixtures";
import { createTradeWorld, paidOrder, type TradeWorld } from "./market-orders.fixtures";
import { actorFor } from "./market-trade.fixtures";

/**
 * Receivables advances for market merchants: a merchant sells the proceeds of a shipped escrow
 * order; the order's settlement (or a ruling that releases money to it) pays the bank first.
 *
 * Hand-worked figures. The product: fixed 4.8% (48,000 ppm), bullet over 60 days, advance 80%.
 * One escrow order of three shirts at ¥88 (26,400 fen), commission 2% fixed at placement (528 fen):
 *   proceeds = 26,400 − 528 = 25,872 fen;
 *   advance = 25,872 × 8,000 / 10,000 = 20,697.6 → 20,698 fen (half-even);
 *   the bullet's interest = 20,698 × 0.048 × 60 / 360 = 165.584 → 166 fen;
 *   settled 10 days after disbursement, interest to date = 166 × 10 / 60 = 27.67 → 28 fen,
 *   so the payoff is 20,698 + 28 = 20,726 fen, and the merchant keeps 25,872 − 20,726 = 5,146 fen.
 */
describe("financing: receivables advances on market escrow orders", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let tw: TradeWorld;
  let merchant: string;
  let facilityId: string;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
    await ensureBank(t.db);
    await t.db.updateTable("loan_products").set({ status: "retired" }).where("kind", "=", "receivables").execute();
    const product = await createProduct(t.db, SYSTEM_ACTOR, {
      code: `RA-${randomUUID().slice(0, 8).toUpperCase()}`,
      name: "应收账款融资",
      nameEn: "Receivables advance",
      kind: "receivables",
      rateBasis: "fixed",
      fixedRatePpm: 48_000,
      repaymentMethod: "bullet",
      termDays: 60,
      graceDays: 3,
      advanceRateBps: 8_000,
      autoApproveLimitFen: 10_000_000,
      secondApproverLimitFen: 50_000_000,
      minAmountFen: 1_000,
      maxAmountFen: 100_000_000,
    });
    tw = await createTradeWorld(t.db);
    merchant = tw.w.merchants[1].id;
    const facility = await setFacility(t.db, SYSTEM_ACTOR, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: merchant, validTo: "2099-12-31", limitFen: 1_000_000 });
    facilityId = facility.id;
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const DAY_MS = 86_400_000;
  const asMerchant = () => actorFor(merchant);
  const wallet = (organizationId: string) => balanceOf(t.db, `wallet:${organizationId}`);
  const loanOf = (applicationId: string) => t.db.selectFrom("loans").selectAll().where("application_id", "=", applicationId).executeTakeFirstOrThrow();
  const orderRow = (id: string) => t.db.selectFrom("market_orders").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  /** Three shirts from the second merchant, paid and shipped. */
  const shippedShirts = () => paidOrder(t.db, tw, tw.shirt.id, 3, { ship: true });

  it("sells a shipped order: 80% of the proceeds advanced half-even into the merchant's wallet, the order untouched", async () => {
    const orderId = await shippedShirts();
    expect(await orderRow(orderId)).toMatchObject({ status: "shipped", goods_total_fen: 26_400, fee_fen: 528 });
    const now = new Date();
    const forSale = await marketReceivablesForSale(t.db, merchant);
    expect(forSale.product).toMatchObject({ advanceRateBps: 8_000 });
    expect(forSale.receivables).toContainEqual(expect.objectContaining({ orderId, status: "shipped", proceedsFen: 25_872, advanceFen: 20_698 }));

    const before = await wallet(merchant);
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now);
    expect(app).toMatchObject({ status: "approved", amount_fen: 20_698, borrower_organization_id: merchant, guarantor_organization_id: null, order_id: null, market_order_id: orderId });
    await runFinancingJobs(t.db, now);
    const loan = await loanOf(app.id);
    expect(loan).toMatchObject({ kind: "receivables", status: "disbursed", principal_fen: 20_698, order_id: null, market_order_id: orderId });
    const [instalment] = await t.db.selectFrom("loan_instalments").selectAll().where("loan_id", "=", loan.id).execute();
    expect(instalment).toMatchObject({ principal_fen: 20_698, interest_fen: 166, days: 60 });
    expect(await wallet(merchant)).toBe(before + 20_698);
    expect(await balanceOf(t.db, `facility_used:${facilityId}`)).toBeGreaterThanOrEqual(20_698);
    // The money is still held for the buyer: the disbursement leaves the order alone.
    expect(await orderRow(orderId)).toMatchObject({ status: "shipped", settled_net_fen: 0 });

    // Sold: no longer for sale; a second sale is refused naming it, and nothing is written.
    expect((await marketReceivablesForSale(t.db, merchant)).receivables.map((r) => r.orderId)).not.toContain(orderId);
    const applications = async () => (await t.db.selectFrom("loan_applications").select("id").where("market_order_id", "=", orderId).execute()).length;
    expect(await applications()).toBe(1);
    const twice = await refusal(sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now));
    expect(twice).toMatchObject({ code: "conflict", fields: { market_order_id: "already sold" } });
    expect(await applications()).toBe(1);
    expect(await marketReceivablesSold(t.db, merchant)).toContainEqual(expect.objectContaining({ marketOrderId: orderId, loanId: loan.id, loanStatus: "disbursed", amountFen: 20_698, repaidFen: 0 }));
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("receipt and settlement pay the bank first (principal and interest to date), in the settlement's one transaction; the merchant keeps the rest", async () => {
    const orderId = await shippedShirts();
    const soldAt = new Date();
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, soldAt);
    await runFinancingJobs(t.db, soldAt);
    const loan = await loanOf(app.id);
    const settledAt = new Date(soldAt.getTime() + 10 * DAY_MS);
    await receiveMarketOrder(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, settledAt);
    const merchantBefore = await wallet(merchant);

    // The workflow's settle step, as the worker runs it after the receipt.
    await settleStep({ db: t.db, logger: quietLogger, now: () => settledAt }, { orderId });

    expect(await orderRow(orderId)).toMatchObject({ status: "settled", settled_net_fen: 25_872, settled_fee_fen: 528 });
    expect(await loanOf(app.id)).toMatchObject({ status: "repaid" });
    const repayments = await t.db.selectFrom("loan_repayments").selectAll().where("loan_id", "=", loan.id).execute();
    expect(repayments).toEqual([expect.objectContaining({ source: "debtor_payment", amount_fen: 20_726, idempotency_key: `loan:${loan.id}:debtor:market_order:${orderId}` })]);
    expect(await wallet(merchant)).toBe(merchantBefore + 5_146);

    // One transaction: the escrow release, the order's settlement and the bank's repayment were
    // all written by the same PostgreSQL transaction (the same xmin).
    const release = await sql<{ x: string }>`select xmin::text as x from ledger_transfers where idempotency_key = ${`market_order:${orderId}:release`}`.execute(t.db);
    const repaid = await sql<{ x: string }>`select xmin::text as x from loan_repayments where loan_id = ${loan.id}`.execute(t.db);
    const settled = await sql<{ x: string }>`select xmin::text as x from market_orders where id = ${orderId}`.execute(t.db);
    expect(release.rows).toHaveLength(1);
    expect(repaid.rows[0]!.x).toBe(release.rows[0]!.x);
    expect(settled.rows[0]!.x).toBe(release.rows[0]!.x);

    expect(await marketReceivablesSold(t.db, merchant)).toContainEqual(
      expect.objectContaining({ marketOrderId: orderId, loanStatus: "repaid", orderStatus: "settled", repaidFen: 20_726, fromSettlementFen: 20_726 }),
    );
    // Run again: nothing more is settled or repaid.
    await settleStep({ db: t.db, logger: quietLogger, now: () => settledAt }, { orderId });
    expect(await t.db.selectFrom("loan_repayments").select("id").where("loan_id", "=", loan.id).execute()).toHaveLength(1);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("another merchant's order is not found; an order not yet shipped, or a garbled id, is refused naming the field", async () => {
    const theirs = await paidOrder(t.db, tw, tw.dress.id, 1, { ship: true });
    const other = await refusal(sellMarketReceivable(t.db, asMerchant(), { marketOrderId: theirs }, new Date()));
    expect(other).toMatchObject({ code: "not_found", fields: { market_order_id: "not found" } });
    const strangerMerchant = tw.stranger.world.merchants[0].id;
    expect(await refusal(sellMarketReceivable(t.db, actorFor(strangerMerchant), { marketOrderId: theirs }, new Date()))).toMatchObject({ code: "not_found" });
    expect(await refusal(sellMarketReceivable(t.db, asMerchant(), { marketOrderId: "not-a-uuid" }, new Date()))).toMatchObject({ code: "not_found", fields: { market_order_id: "not found" } });

    const unshipped = await paidOrder(t.db, tw, tw.shirt.id, 1);
    expect((await marketReceivablesForSale(t.db, merchant)).receivables.map((r) => r.orderId)).not.toContain(unshipped);
    const paid = await refusal(sellMarketReceivable(t.db, asMerchant(), { marketOrderId: unshipped }, new Date()));
    expect(paid).toMatchObject({ code: "invalid_state", fields: { market_order_id: "order is paid" } });
    expect(await t.db.selectFrom("loan_applications").select("id").where("market_order_id", "in", [theirs, unshipped]).execute()).toEqual([]);
  });

  it("a dispute ruled as a full refund brings no money: the loan stays open, the merchant's to repay", async () => {
    const orderId = await shippedShirts();
    const now = new Date();
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now);
    await runFinancingJobs(t.db, now);
    const loan = await loanOf(app.id);
    const { disputeId } = await openDispute(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, { statement: "衬衫尺码与描述不符。" }, now);
    // Disputed: no longer for sale, and refused if asked.
    expect((await marketReceivablesForSale(t.db, merchant)).receivables.map((r) => r.orderId)).not.toContain(orderId);
    const merchantBefore = await wallet(merchant);

    const passed = await ruleMarketDisputeWithAssignment(t.db, actorFor(tw.w.operatorId, tw.w.operatorUser.id), tw.w.operatorId, disputeId, { ruling: "refund_full", reason: "货不对板，全额退款。" }, new Date(now.getTime() + 2 * DAY_MS));
    expect(passed).toEqual([{ orderId, loanId: loan.id, proceedsFen: 0, toBankFen: 0, loanStatus: "disbursed" }]);
    expect(await orderRow(orderId)).toMatchObject({ status: "refunded", settled_net_fen: 0 });
    expect(await loanOf(app.id)).toMatchObject({ status: "disbursed" });
    expect(await t.db.selectFrom("loan_repayments").select("id").where("loan_id", "=", loan.id).execute()).toEqual([]);
    expect(await wallet(merchant)).toBe(merchantBefore);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("a dispute ruled as a release pays the bank first, like a settlement", async () => {
    const orderId = await shippedShirts();
    const now = new Date();
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now);
    await runFinancingJobs(t.db, now);
    const loan = await loanOf(app.id);
    const { disputeId } = await openDispute(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, { statement: "包装破损。" }, now);
    const merchantBefore = await wallet(merchant);
    const ruledAt = new Date(now.getTime() + 10 * DAY_MS);
    const passed = await ruleMarketDisputeWithAssignment(t.db, actorFor(tw.w.operatorId, tw.w.operatorUser.id), tw.w.operatorId, disputeId, { ruling: "release", reason: "货品完好，放款给商户。" }, ruledAt);
    expect(passed).toEqual([{ orderId, loanId: loan.id, proceedsFen: 25_872, toBankFen: 20_726, loanStatus: "repaid" }]);
    expect(await orderRow(orderId)).toMatchObject({ status: "settled", settled_net_fen: 25_872 });
    expect(await wallet(merchant)).toBe(merchantBefore + 5_146);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("a sale approved but not yet paid out is withdrawn when the order settles first; its reservation goes back", async () => {
    const orderId = await shippedShirts();
    const now = new Date();
    const usedBefore = await balanceOf(t.db, `facility_used:${facilityId}`);
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now);
    expect(app.status).toBe("approved");
    await receiveMarketOrder(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, now);
    const merchantBefore = await wallet(merchant);
    await settleStep({ db: t.db, logger: quietLogger, now: () => now }, { orderId });
    expect(await t.db.selectFrom("loan_applications").select("status").where("id", "=", app.id).executeTakeFirstOrThrow()).toEqual({ status: "withdrawn" });
    // The merchant has its proceeds whole, and the queued disbursement pays nothing out.
    expect(await wallet(merchant)).toBe(merchantBefore + 25_872);
    await runFinancingJobs(t.db, now);
    expect(await t.db.selectFrom("loans").select("id").where("application_id", "=", app.id).execute()).toEqual([]);
    expect(await balanceOf(t.db, `facility_used:${facilityId}`)).toBe(usedBefore);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("a disbursement and a settlement at once: the disbursement first, the order settles after it and repays the advance", async () => {
    const orderId = await shippedShirts();
    const now = new Date();
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now);
    await receiveMarketOrder(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, now);
    const merchantBefore = await wallet(merchant);
    // The disbursement's transaction holds the order's row; the settlement meanwhile passes it by.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const disbursing = t.db.transaction().execute(async (trx) => {
      const paid = await disburseApplication(trx, app.id, now);
      await held;
      return paid;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await settleStep({ db: t.db, logger: quietLogger, now: () => now }, { orderId });
    release();
    const { loanId } = await disbursing;
    expect(loanId).not.toBeNull();
    expect(await orderRow(orderId)).toMatchObject({ status: "received" });
    // The next settlement run (the sweep) settles it, and the proceeds repay the advance first.
    await settleStep({ db: t.db, logger: quietLogger, now: () => now }, { orderId });
    expect(await orderRow(orderId)).toMatchObject({ status: "settled", settled_net_fen: 25_872 });
    expect(await t.db.selectFrom("loans").select("status").where("id", "=", loanId!).executeTakeFirstOrThrow()).toEqual({ status: "repaid" });
    // Paid out and repaid the same day: the principal back to the bank, no interest yet.
    expect(await wallet(merchant)).toBe(merchantBefore + 25_872);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("a disbursement and a settlement at once: the settlement first, the disbursement waits and pays nothing out", async () => {
    const orderId = await shippedShirts();
    const now = new Date();
    const app = await sellMarketReceivable(t.db, asMerchant(), { marketOrderId: orderId }, now);
    await receiveMarketOrder(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, now);
    const merchantBefore = await wallet(merchant);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const settling = t.db.transaction().execute(async (trx) => {
      const settled = await settleMarketOrdersWithAssignment(trx, { orderIds: [orderId], now });
      await held;
      return settled;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const disbursing = disburseApplication(t.db, app.id, now);
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    expect(await settling).toEqual([orderId]);
    expect(await disbursing).toEqual({ loanId: null });
    expect(await t.db.selectFrom("loan_applications").select("status").where("id", "=", app.id).executeTakeFirstOrThrow()).toEqual({ status: "withdrawn" });
    expect(await t.db.selectFrom("loans").select("id").where("application_id", "=", app.id).execute()).toEqual([]);
    expect(await wallet(merchant)).toBe(merchantBefore + 25_872);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  describe("/financing/receivables for a merchant (linked from its money panel)", () => {
    it("lists shipped orders with the advance, sells one through the form, shows it sold; a second sale is refused", async () => {
      const orderId = await shippedShirts();
      const order = await orderRow(orderId);
      const owner = await loggedIn(server.url, await createUser(t.db, { memberships: [[merchant, "finance"]] }));
      const money = await owner.get("/market/orders");
      expect(money.body).toContain('href="/financing/receivables"');
      const path = "/financing/receivables";
      const page = await owner.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain(order.order_no);
      expect(page.body).toContain(`data-testid="advance-${orderId}">¥206.98`);
      expect(page.body).toContain("¥258.72");
      expect(page.body).toContain('name="market_order_id"');

      const before = await wallet(merchant);
      const csrf = await owner.csrfFrom(path);
      const sold = await owner.post(path, { csrf, intent: "sell", market_order_id: orderId });
      expect(sold.status).toBe(302);
      expect(sold.location).toBe(path);
      await runFinancingJobs(t.db, new Date());
      expect(await wallet(merchant)).toBe(before + 20_698);
      const loan = await t.db.selectFrom("loans").select(["id", "number", "application_id"]).where("market_order_id", "=", orderId).executeTakeFirstOrThrow();
      const after = await owner.get(path);
      expect(after.body).toContain(`href="/financing/loans/${loan.id}"`);
      expect(after.body).toContain(`data-testid="sold-repaid-${loan.application_id}">¥0.00`);
      expect(after.body).not.toContain(`data-order="${orderId}"`);
      // The merchant, as borrower, reads its loan and the application behind it.
      const loanPage = await owner.get(`/financing/loans/${loan.id}`);
      expect(loanPage.status).toBe(200);
      expect(loanPage.body).toContain(loan.number);
      expect((await owner.get(`/financing/applications/${loan.application_id}`)).status).toBe(200);

      const again = await owner.post(path, { csrf, intent: "sell", market_order_id: orderId });
      expect(again.status).toBe(409);
      expect(again.body).toContain('data-code="sold"');
      const blank = await owner.post(path, { csrf, intent: "sell", market_order_id: "" });
      expect(blank.status).toBe(422);
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("tenancy: another merchant's order is 404, a viewer sees the list without the form and is refused with 403, a buyer has no such page", async () => {
      const orderId = await shippedShirts();
      const other = await loggedIn(server.url, tw.w.merchants[0].user);
      const page = await other.get("/financing/receivables");
      expect(page.status).toBe(200);
      expect(page.body).not.toContain(`data-order="${orderId}"`);
      const csrf = await other.csrfFrom("/financing/receivables");
      expect((await other.post("/financing/receivables", { csrf, intent: "sell", market_order_id: orderId })).status).toBe(404);

      const viewer = await loggedIn(server.url, await createUser(t.db, { memberships: [[merchant, "viewer"]] }));
      const seen = await viewer.get("/financing/receivables");
      expect(seen.body).toContain(`data-order="${orderId}"`);
      expect(seen.body).not.toContain('data-intent="sell"');
      const vcsrf = await viewer.csrfFrom("/financing/receivables");
      expect((await viewer.post("/financing/receivables", { csrf: vcsrf, intent: "sell", market_order_id: orderId })).status).toBe(403);

      const buyer = await loggedIn(server.url, tw.buyer.user);
      expect((await buyer.get("/financing/receivables")).status).toBe(404);
      expect(await t.db.selectFrom("loan_applications").select("id").where("market_order_id", "=", orderId).execute()).toEqual([]);
    });
  });
});
