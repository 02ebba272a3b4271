import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { addDays, shanghaiDate } from "../../app/domain/shared/dates";
import { setFacility } from "../../app/domain/financing/facilities.server";
import { createProduct } from "../../app/domain/financing/products.server";
import { receivablesForSale, receivablesSold, repayOnAccountWithAssignment, sellReceivable } from "../../app/domain/financing/receivables.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { actorOf, makeLink, makeSku, newOrg, newUser, refusal } from "./catalog.fixtures";
import { balanceOf, ensureBank, fundWallet, runFinancingJobs } from "./financing.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * Receivables advances (应收账款融资): a core enterprise sells what a dealer owes it on an on-account
 * order; the dealer's repayment of that order pays the bank first.
 *
 * Hand-worked figures. The product: fixed 4.8% (48,000 ppm), bullet over 60 days, advance 80%.
 * One on-account order of one unit at ¥1,234.57 (123,457 fen):
 *   advance = 123,457 × 8,000 / 10,000 = 98,765.6 → 98,766 fen (half-even);
 *   the bullet's interest = 98,766 × 0.048 × 60 / 360 = 790.128 → 790 fen;
 *   repaid 20 days after disbursement, interest to date = 790 × 20 / 60 = 263.33 → 263 fen,
 *   so the payoff is 98,766 + 263 = 99,029 fen, and the core enterprise keeps
 *   123,457 − 99,029 = 24,428 fen of the dealer's payment.
 */
describe("financing: receivables advances", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let productId: string;
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
      minAmountFen: 10_000,
      maxAmountFen: 100_000_000,
    });
    productId = product.id;
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const DAY_MS = 86_400_000;
  const wallet = (organizationId: string) => balanceOf(t.db, `wallet:${organizationId}`);

  /** A core enterprise with a ¥200,000 receivables limit and a dealer owing it 123,457 fen on one on-account order. */
  async function world() {
    const core = await newOrg(t.db, "core_enterprise");
    const link = await makeLink(t.db, core, { creditLimitFen: 10_000_000 });
    const sku = await makeSku(t.db, core, { basePriceFen: 123_457, stockOnHand: 1_000 });
    const asDealer = actorOf(link.dealerId, await newUser(t.db));
    const asCore = actorOf(core, await newUser(t.db));
    const facility = await setFacility(t.db, SYSTEM_ACTOR, { kind: "borrower_limit", productId, borrowerOrganizationId: core, validTo: "2099-12-31", limitFen: 20_000_000 });
    const placed = await createOrder(t.db, asDealer, { dealerId: link.dealerId, coreEnterpriseId: core, kind: "standard", lines: [{ skuId: sku.id, quantity: 1 }], paymentMethod: "on_account" }, new Date());
    const order = await confirmOrder(t.db, asCore, placed.id, new Date());
    expect(order).toMatchObject({ status: "paid", payment_method: "on_account", total_fen: 123_457 });
    return { core, dealer: link.dealerId, asDealer, asCore, order, facilityId: facility.id };
  }

  const loanOf = (applicationId: string) => t.db.selectFrom("loans").selectAll().where("application_id", "=", applicationId).executeTakeFirstOrThrow();

  it("sells a receivable: 80% advanced half-even into the core enterprise's wallet, the order untouched", async () => {
    const w = await world();
    const now = new Date();
    const forSale = await receivablesForSale(t.db, w.core, now);
    expect(forSale.product).toMatchObject({ advanceRateBps: 8_000, graceDays: 3 });
    expect(forSale.receivables).toEqual([expect.objectContaining({ orderId: w.order.id, dealerId: w.dealer, outstandingFen: 123_457, advanceFen: 98_766, daysOverdue: 0, dueOn: addDays(shanghaiDate(now), 30) })]);

    const before = await wallet(w.core);
    const app = await sellReceivable(t.db, w.asCore, { orderId: w.order.id }, now);
    expect(app).toMatchObject({ status: "approved", amount_fen: 98_766, borrower_organization_id: w.core, guarantor_organization_id: null, order_id: w.order.id });
    await runFinancingJobs(t.db, now);
    const loan = await loanOf(app.id);
    expect(loan).toMatchObject({ kind: "receivables", status: "disbursed", principal_fen: 98_766, annual_rate_ppm: 48_000, repayment_method: "bullet", order_id: w.order.id, maturity_on: new Date(`${addDays(shanghaiDate(now), 60)}T00:00:00.000Z`) });
    const [instalment] = await t.db.selectFrom("loan_instalments").selectAll().where("loan_id", "=", loan.id).execute();
    expect(instalment).toMatchObject({ principal_fen: 98_766, interest_fen: 790, days: 60 });
    expect(await wallet(w.core)).toBe(before + 98_766);
    // Paid on account already: the disbursement leaves the order as it was.
    const order = await t.db.selectFrom("orders").select(["status", "payment_method", "paid_fen"]).where("id", "=", w.order.id).executeTakeFirstOrThrow();
    expect(order).toMatchObject({ status: "paid", payment_method: "on_account" });
    expect(await balanceOf(t.db, `facility_used:${w.facilityId}`)).toBe(98_766);

    // Sold: no longer for sale, and a second sale is refused naming it.
    expect((await receivablesForSale(t.db, w.core, now)).receivables).toEqual([]);
    const twice = await refusal(sellReceivable(t.db, w.asCore, { orderId: w.order.id }, now));
    expect(twice).toMatchObject({ code: "conflict", fields: { order_id: "already sold" } });
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("the dealer's repayment pays the bank first (principal and interest to date); the core enterprise keeps the rest", async () => {
    const w = await world();
    const soldAt = new Date();
    const app = await sellReceivable(t.db, w.asCore, { orderId: w.order.id }, soldAt);
    await runFinancingJobs(t.db, soldAt);
    const loan = await loanOf(app.id);
    await fundWallet(t.db, w.dealer, 200_000);
    const coreBefore = await wallet(w.core);
    const dealerBefore = await wallet(w.dealer);

    const paidAt = new Date(soldAt.getTime() + 20 * DAY_MS);
    const result = await repayOnAccountWithAssignment(t.db, w.asDealer, w.order.id, paidAt);
    expect(result).toEqual({ repaidFen: 123_457, loanId: loan.id, toBankFen: 99_029, toSellerFen: 24_428, loanStatus: "repaid" });
    expect(await wallet(w.dealer)).toBe(dealerBefore - 123_457);
    expect(await wallet(w.core)).toBe(coreBefore + 24_428);

    const repayments = await t.db.selectFrom("loan_repayments").selectAll().where("loan_id", "=", loan.id).execute();
    expect(repayments).toHaveLength(1);
    expect(repayments[0]).toMatchObject({ source: "debtor_payment", amount_fen: 99_029 });
    expect(repayments[0]!.allocation).toMatchObject({ current_interest: 263, current_principal: 98_766, penalty: 0, compound: 0 });
    expect(repayments[0]!.idempotency_key).toMatch(new RegExp(`^loan:${loan.id}:debtor:[0-9a-f-]{36}$`));
    expect(await t.db.selectFrom("loans").select("status").where("id", "=", loan.id).executeTakeFirstOrThrow()).toEqual({ status: "repaid" });
    expect(await balanceOf(t.db, `loans_receivable:${loan.id}`)).toBe(0);
    expect(await balanceOf(t.db, `facility_used:${w.facilityId}`)).toBe(0);

    const [sold] = await receivablesSold(t.db, w.core);
    expect(sold).toMatchObject({ loanId: loan.id, status: "repaid", principalFen: 98_766, repaidFen: 99_029, fromDebtorFen: 99_029 });
    // Nothing owed any more: nothing to sell, and the order is settled.
    expect((await receivablesForSale(t.db, w.core, paidAt)).receivables).toEqual([]);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("an order not sold is just the dealer's repayment", async () => {
    const w = await world();
    await fundWallet(t.db, w.dealer, 200_000);
    const coreBefore = await wallet(w.core);
    const result = await repayOnAccountWithAssignment(t.db, w.asDealer, w.order.id, new Date());
    expect(result).toEqual({ repaidFen: 123_457, loanId: null, toBankFen: 0, toSellerFen: 123_457, loanStatus: null });
    expect(await wallet(w.core)).toBe(coreBefore + 123_457);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("a sale approved but not yet paid out is withdrawn when the dealer pays: the seller keeps it all, the limit comes back", async () => {
    const w = await world();
    const app = await sellReceivable(t.db, w.asCore, { orderId: w.order.id }, new Date());
    expect(app.status).toBe("approved");
    // Reserved on the limit (a pending transfer) while the disbursement waits.
    expect(await t.db.selectFrom("ledger_accounts").select("debits_pending_fen").where("code", "=", `facility_available:${w.facilityId}`).executeTakeFirstOrThrow()).toEqual({ debits_pending_fen: 98_766 });
    await fundWallet(t.db, w.dealer, 200_000);
    const coreBefore = await wallet(w.core);
    const result = await repayOnAccountWithAssignment(t.db, w.asDealer, w.order.id, new Date());
    expect(result).toEqual({ repaidFen: 123_457, loanId: null, toBankFen: 0, toSellerFen: 123_457, loanStatus: null });
    expect(await t.db.selectFrom("loan_applications").select("status").where("id", "=", app.id).executeTakeFirstOrThrow()).toEqual({ status: "withdrawn" });
    expect(await t.db.selectFrom("ledger_accounts").select(["debits_pending_fen", "credits_posted_fen", "debits_posted_fen"]).where("code", "=", `facility_available:${w.facilityId}`).executeTakeFirstOrThrow()).toEqual({ debits_pending_fen: 0, credits_posted_fen: 20_000_000, debits_posted_fen: 0 });
    await runFinancingJobs(t.db, new Date());
    expect(await t.db.selectFrom("loans").select("id").where("application_id", "=", app.id).execute()).toEqual([]);
    expect(await wallet(w.core)).toBe(coreBefore + 123_457);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("refuses another core enterprise's order (not found) and one overdue beyond the grace days", async () => {
    const w = await world();
    const other = await newOrg(t.db, "core_enterprise");
    const stranger = await refusal(sellReceivable(t.db, actorOf(other, await newUser(t.db)), { orderId: w.order.id }, new Date()));
    expect(stranger.code).toBe("not_found");
    expect((await receivablesForSale(t.db, other, new Date())).receivables).toEqual([]);

    // Four days past due with three days' grace: not offered, not sold. Three days: still offered.
    const today = shanghaiDate(new Date());
    await t.db.updateTable("orders").set({ due_on: addDays(today, -4) }).where("id", "=", w.order.id).execute();
    expect((await receivablesForSale(t.db, w.core, new Date())).receivables).toEqual([]);
    const overdue = await refusal(sellReceivable(t.db, w.asCore, { orderId: w.order.id }, new Date()));
    expect(overdue).toMatchObject({ code: "invalid_state", fieldCodes: { order_id: "overdue" } });
    await t.db.updateTable("orders").set({ due_on: addDays(today, -3) }).where("id", "=", w.order.id).execute();
    expect((await receivablesForSale(t.db, w.core, new Date())).receivables).toEqual([expect.objectContaining({ orderId: w.order.id, daysOverdue: 3 })]);
    expect(await t.db.selectFrom("loan_applications").select("id").where("order_id", "=", w.order.id).execute()).toEqual([]);
  });

  describe("/financing/receivables", () => {
    it("lists the receivables with the advance, sells one through the form and shows it sold", async () => {
      const w = await world();
      const owner = await createUser(t.db, { memberships: [[w.core, "owner"]] });
      const seller = await loggedIn(server.url, owner);
      const path = "/financing/receivables";

      const page = await seller.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain(w.order.number);
      expect(page.body).toContain(`data-testid="advance-${w.order.id}">¥987.66`);
      expect(page.body).toContain("¥1,234.57");
      expect(page.body).toContain("4.8%");
      expect(page.body).toContain('data-intent="sell"');

      const before = await wallet(w.core);
      const csrf = await seller.csrfFrom(path);
      const sold = await seller.post(path, { csrf, intent: "sell", order_id: w.order.id });
      expect(sold.status).toBe(302);
      expect(sold.location).toBe(path);
      await runFinancingJobs(t.db, new Date());
      expect(await wallet(w.core)).toBe(before + 98_766);
      const loan = await t.db.selectFrom("loans").select(["id", "number"]).where("order_id", "=", w.order.id).where("kind", "=", "receivables").executeTakeFirstOrThrow();

      const after = await seller.get(path);
      expect(after.body).toContain('data-testid="receivables-none"');
      expect(after.body).toContain(`href="/financing/loans/${loan.id}"`);
      expect(after.body).toContain(loan.number);
      expect(after.body).toContain(`data-testid="sold-repaid-${loan.id}">¥0.00`);

      const again = await seller.post(path, { csrf, intent: "sell", order_id: w.order.id });
      expect(again.status).toBe(409);
      expect(again.body).toContain('data-code="sold"');
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("tenancy: another core enterprise gets 404 on the order, a dealer has no such page, a sales member may not sell", async () => {
      const w = await world();
      const other = await newOrg(t.db, "core_enterprise");
      const stranger = await loggedIn(server.url, await createUser(t.db, { memberships: [[other, "owner"]] }));
      const page = await stranger.get("/financing/receivables");
      expect(page.status).toBe(200);
      expect(page.body).not.toContain(w.order.number);
      const csrf = await stranger.csrfFrom("/financing/receivables");
      expect((await stranger.post("/financing/receivables", { csrf, intent: "sell", order_id: w.order.id })).status).toBe(404);

      const dealer = await loggedIn(server.url, await createUser(t.db, { memberships: [[w.dealer, "owner"]] }));
      expect((await dealer.get("/financing/receivables")).status).toBe(404);

      // A sales member of the core enterprise sees the list but may not sell.
      const sales = await loggedIn(server.url, await createUser(t.db, { memberships: [[w.core, "sales"]] }));
      const seen = await sales.get("/financing/receivables");
      expect(seen.status).toBe(200);
      expect(seen.body).toContain(w.order.number);
      expect(seen.body).not.toContain('data-intent="sell"');
      const scsrf = await sales.csrfFrom("/financing/receivables");
      expect((await sales.post("/financing/receivables", { csrf: scsrf, intent: "sell", order_id: w.order.id })).status).toBe(403);
      expect(await t.db.selectFrom("loan_applications").select("id").where("order_id", "=", w.order.id).execute()).toEqual([]);
    });
  });
});
