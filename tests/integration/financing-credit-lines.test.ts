import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { creditLineFor, drawOnCreditLine } from "../../app/domain/financing/credit-lines.server";
import { setFacility } from "../../app/domain/financing/facilities.server";
import { repayLoan } from "../../app/domain/financing/loans.server";
import { createProduct } from "../../app/domain/financing/products.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { actorOf, newOrg, newUser, refusal } from "./catalog.fixtures";
import { balanceOf, confirmedOrder, financingWorld, fundWallet, runFinancingJobs } from "./financing.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * Revolving credit lines (网贷通): draws to the wallet and draws that pay an order, the line's
 * limit, revolving after repayment, and the dealer's page over HTTP.
 *
 * Hand-worked figures. The product is the LPR (3.10% = 31,000 ppm, recorded by financingWorld) +
 * 200 bps = 51,000 ppm (5.10%), 等额本息 over 6 months. The monthly rate is 51,000 / 12,000,000 =
 * 0.00425. A draw of ¥12,000 (1,200,000 fen):
 *   payment A = P·r·(1+r)^6 / ((1+r)^6 − 1); (1.00425)^6 = 1.025775…, so
 *   A = 1,200,000 × 0.00425 × 1.025775 / 0.025775 = 202,985.51… → 202,986 fen;
 *   row 1: interest 1,200,000 × 0.00425 = 5,100 fen exactly, principal 202,986 − 5,100 = 197,886.
 */
describe("financing: revolving credit lines", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const DAY_MS = 86_400_000;

  /** financingWorld's dealer and supplier, with a credit_line product and a line of `lineFen` (¥30,000 by default). */
  async function lineWorld(lineFen = 3_000_000) {
    const w = await financingWorld(t.db);
    const product = await createProduct(t.db, SYSTEM_ACTOR, {
      code: `CL-${randomUUID().slice(0, 8).toUpperCase()}`,
      name: "网贷通",
      nameEn: "Revolving credit line",
      kind: "credit_line",
      rateBasis: "lpr",
      spreadBps: 200,
      repaymentMethod: "equal_instalment",
      termMonths: 6,
      autoApproveLimitFen: 10_000_000,
      secondApproverLimitFen: 50_000_000,
      minAmountFen: 10_000,
      maxAmountFen: 100_000_000,
    });
    const line = await setFacility(t.db, SYSTEM_ACTOR, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: w.dealer, validTo: "2099-12-31", limitFen: lineFen });
    return { ...w, creditProduct: product, lineId: line.id };
  }

  const loanOf = async (applicationId: string) => t.db.selectFrom("loans").selectAll().where("application_id", "=", applicationId).executeTakeFirstOrThrow();
  const wallet = (organizationId: string) => balanceOf(t.db, `wallet:${organizationId}`);

  it("a draw to the wallet: approved by the checks, paid into the wallet, 6 equal instalments to the fen", async () => {
    const w = await lineWorld();
    const now = new Date();
    const before = await wallet(w.dealer);
    const app = await drawOnCreditLine(t.db, w.asDealer, { amountFen: 1_200_000 }, now);
    expect(app.status).toBe("approved");
    expect(app.guarantor_organization_id).toBeNull();
    expect(app.order_id).toBeNull();
    // Reserved while the disbursement waits.
    expect((await creditLineFor(t.db, w.dealer, now))!.facility).toMatchObject({ limitFen: 3_000_000, usedFen: 1_200_000, availableFen: 1_800_000 });

    await runFinancingJobs(t.db, now);
    const loan = await loanOf(app.id);
    expect(loan.kind).toBe("credit_line");
    expect(loan.annual_rate_ppm).toBe(51_000);
    expect(loan.repayment_method).toBe("equal_instalment");
    expect(await wallet(w.dealer)).toBe(before + 1_200_000);

    const rows = await t.db.selectFrom("loan_instalments").selectAll().where("loan_id", "=", loan.id).orderBy("seq").execute();
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatchObject({ principal_fen: 197_886, interest_fen: 5_100 });
    for (const r of rows.slice(0, 5)) expect(r.principal_fen + r.interest_fen).toBe(202_986);
    expect(rows.reduce((s, r) => s + r.principal_fen, 0)).toBe(1_200_000);

    const line = (await creditLineFor(t.db, w.dealer, now))!;
    expect(line.facility).toMatchObject({ id: w.lineId, limitFen: 3_000_000, usedFen: 1_200_000, availableFen: 1_800_000 });
    expect(line.expired).toBe(false);
    expect(line.product.id).toBe(w.creditProduct.id);
    expect(line.draws.map((d) => d.id)).toEqual([loan.id]);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("a draw that pays an order: the supplier is paid and the order is paid, nothing reaches the dealer's wallet", async () => {
    const w = await lineWorld();
    const now = new Date();
    const order = await confirmedOrder(t.db, w, 5, now);
    expect(order.total_fen).toBe(500_000);
    const dealerBefore = await wallet(w.dealer);
    const supplierBefore = await wallet(w.core);

    // An amount that is not the order's total is refused, and the order stays confirmed.
    const wrong = await refusal(drawOnCreditLine(t.db, w.asDealer, { amountFen: 400_000, orderId: order.id }, now));
    expect(wrong.fields).toHaveProperty("amount_fen");
    expect((await getOrder(t.db, w.dealer, order.id)).order.status).toBe("confirmed");

    const app = await drawOnCreditLine(t.db, w.asDealer, { orderId: order.id }, now);
    expect(app.amount_fen).toBe(500_000);
    expect(app.order_id).toBe(order.id);
    expect(app.guarantor_organization_id).toBeNull();
    expect((await getOrder(t.db, w.dealer, order.id)).order.status).toBe("awaiting_financing");
    await runFinancingJobs(t.db, now);

    const loan = await loanOf(app.id);
    expect(loan).toMatchObject({ kind: "credit_line", order_id: order.id, guarantor_organization_id: null, principal_fen: 500_000 });
    const after = await getOrder(t.db, w.dealer, order.id);
    expect(after.order.status).toBe("paid");
    expect(after.order.paid_fen).toBe(500_000);
    expect(await wallet(w.core)).toBe(supplierBefore + 500_000);
    expect(await wallet(w.dealer)).toBe(dealerBefore);
    // Drawn on the line only: the guarantee agreement is untouched.
    expect((await creditLineFor(t.db, w.dealer, now))!.facility.usedFen).toBe(500_000);
    expect(await balanceOf(t.db, `facility_used:${w.agreementId}`)).toBe(0);

    // The order is paid: it cannot be drawn for twice.
    const twice = await refusal(drawOnCreditLine(t.db, w.asDealer, { orderId: order.id }, now));
    expect(twice.fields).toHaveProperty("order_id");
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("refusals name the field or the check, and write nothing", async () => {
    const w = await lineWorld(1_000_000);
    const now = new Date();
    const over = await refusal(drawOnCreditLine(t.db, w.asDealer, { amountFen: 1_000_001 }, now));
    expect(over.code).toBe("invalid_state");
    expect(over.fields).toEqual({ borrower_limit: "1000000 fen available" });

    for (const amountFen of [0, -100, 1.5, 9_999, 100_000_001]) {
      const bad = await refusal(drawOnCreditLine(t.db, w.asDealer, { amountFen }, now));
      expect(bad.fields, String(amountFen)).toHaveProperty("amount_fen");
    }
    expect((await refusal(drawOnCreditLine(t.db, w.asDealer, {}, now))).fields).toHaveProperty("amount_fen");
    expect((await refusal(drawOnCreditLine(t.db, w.asDealer, { orderId: "not-a-uuid" }, now))).code).toBe("not_found");

    // Another dealer's order is not found, and stays as it was.
    const other = await lineWorld();
    const theirs = await confirmedOrder(t.db, other, 1, now);
    const stranger = await refusal(drawOnCreditLine(t.db, w.asDealer, { orderId: theirs.id }, now));
    expect(stranger.code).toBe("not_found");
    expect((await getOrder(t.db, other.dealer, theirs.id)).order.status).toBe("confirmed");

    // No line granted: refused naming the limit.
    const lineless = await newOrg(t.db, "dealer");
    const none = await refusal(drawOnCreditLine(t.db, actorOf(lineless, await newUser(t.db)), { amountFen: 100_000 }, now));
    expect(none.fields).toHaveProperty("borrower_limit");
    expect(await creditLineFor(t.db, lineless, now)).toBeNull();

    const apps = await t.db.selectFrom("loan_applications").select("id").where("borrower_organization_id", "in", [w.dealer, lineless]).execute();
    expect(apps).toHaveLength(0);
    expect((await creditLineFor(t.db, w.dealer, now))!.facility).toMatchObject({ usedFen: 0, availableFen: 1_000_000 });
  });

  it("revolves: the repaid principal is available again and a second draw fits", async () => {
    const w = await lineWorld();
    const now = new Date();
    const then = new Date(now.getTime() - 10 * DAY_MS);
    const first = await drawOnCreditLine(t.db, w.asDealer, { amountFen: 2_000_000 }, then);
    await runFinancingJobs(t.db, then);
    const loan = await loanOf(first.id);

    // ¥20,000 of ¥30,000 drawn: a second ¥20,000 does not fit.
    const refused = await refusal(drawOnCreditLine(t.db, w.asDealer, { amountFen: 2_000_000 }, now));
    expect(refused.fields).toEqual({ borrower_limit: "1000000 fen available" });

    // Paid off (the wallet holds the draw; ten days' interest on top).
    await fundWallet(t.db, w.dealer, 100_000);
    const repaid = await repayLoan(t.db, w.asDealer, loan.id, { mode: "payoff", source: "wallet", idempotencyKey: randomUUID() }, now);
    expect(repaid.loanStatus).toBe("repaid");
    expect(repaid.allocation.current_principal + repaid.allocation.overdue_principal).toBe(2_000_000);
    const restored = (await creditLineFor(t.db, w.dealer, now))!;
    expect(restored.facility).toMatchObject({ limitFen: 3_000_000, usedFen: 0, availableFen: 3_000_000 });
    expect(restored.draws).toEqual([]);

    const second = await drawOnCreditLine(t.db, w.asDealer, { amountFen: 2_000_000 }, now);
    expect(second.status).toBe("approved");
    await runFinancingJobs(t.db, now);
    expect((await creditLineFor(t.db, w.dealer, now))!.facility).toMatchObject({ usedFen: 2_000_000, availableFen: 1_000_000 });
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  describe("/financing/credit-line", () => {
    it("shows the line, the rate and the draws; a draw through the form pays the wallet", async () => {
      const w = await lineWorld();
      const owner = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
      const dealer = await loggedIn(server.url, owner);
      const path = "/financing/credit-line";

      const page = await dealer.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain('data-testid="line-limit">¥30,000.00');
      expect(page.body).toContain('data-testid="line-available">¥30,000.00');
      expect(page.body).toContain("5.1%");
      expect(page.body).toContain("LPR 3.1% + 2%");
      expect(page.body).toContain("等额本息");
      expect(page.body).toContain('data-testid="line-example-schedule"');
      expect(page.body).toContain('data-intent="draw"');

      const before = await wallet(w.dealer);
      const csrf = await dealer.csrfFrom(path);
      const bad = await dealer.post(path, { csrf, intent: "draw", amount: "1.234", order_id: "" });
      expect(bad.status).toBe(400);
      expect(bad.body).toContain('data-testid="draw-amount-problem"');

      const over = await dealer.post(path, { csrf, intent: "draw", amount: "30,000.01", order_id: "" });
      expect(over.status).toBe(409);
      expect(over.body).toContain('data-check="borrower_limit"');

      const drawn = await dealer.post(path, { csrf, intent: "draw", amount: "12,000", order_id: "" });
      expect(drawn.status).toBe(302);
      expect(drawn.location).toBe(path);
      await runFinancingJobs(t.db, new Date());
      expect(await wallet(w.dealer)).toBe(before + 1_200_000);
      const loan = await t.db.selectFrom("loans").select(["id", "number"]).where("borrower_organization_id", "=", w.dealer).where("kind", "=", "credit_line").executeTakeFirstOrThrow();

      const after = await dealer.get(path);
      expect(after.body).toContain('data-testid="line-used">¥12,000.00');
      expect(after.body).toContain('data-testid="line-available">¥18,000.00');
      expect(after.body).toContain(`href="/financing/loans/${loan.id}"`);
      expect(after.body).toContain(loan.number);

      // A draw that pays a confirmed order, chosen from the list.
      const order = await confirmedOrder(t.db, w, 2, new Date());
      const withOrder = await dealer.get(path);
      expect(withOrder.body).toContain(`value="${order.id}"`);
      const paid = await dealer.post(path, { csrf, intent: "draw", amount: "", order_id: order.id });
      expect(paid.status).toBe(302);
      await runFinancingJobs(t.db, new Date());
      expect((await getOrder(t.db, w.dealer, order.id)).order.status).toBe("paid");
      expect(await verifyLedger(t.db)).toEqual([]);
    });

    it("tenancy: another dealer sees no line of theirs, their draws and orders are 404, a supplier has no such page", async () => {
      const w = await lineWorld();
      const drawn = await drawOnCreditLine(t.db, w.asDealer, { amountFen: 500_000 }, new Date());
      await runFinancingJobs(t.db, new Date());
      const loan = await loanOf(drawn.id);
      const order = await confirmedOrder(t.db, w, 1, new Date());

      const other = await newOrg(t.db, "dealer");
      const stranger = await loggedIn(server.url, await createUser(t.db, { memberships: [[other, "owner"]] }));
      const page = await stranger.get("/financing/credit-line");
      expect(page.status).toBe(200);
      expect(page.body).toContain('data-testid="credit-line-none"');
      expect(page.body).toContain("银行尚未给您核定网贷通循环额度");
      expect(page.body).not.toContain(loan.number);
      expect((await stranger.get(`/financing/loans/${loan.id}`)).status).toBe(404);
      const csrf = await stranger.csrfFrom("/financing/credit-line");
      expect((await stranger.post("/financing/credit-line", { csrf, intent: "draw", amount: "", order_id: order.id })).status).toBe(404);
      expect((await getOrder(t.db, w.dealer, order.id)).order.status).toBe("confirmed");

      const supplier = await loggedIn(server.url, await createUser(t.db, { memberships: [[w.core, "owner"]] }));
      expect((await supplier.get("/financing/credit-line")).status).toBe(404);

      // A purchaser of the dealer sees the line but may not draw.
      const purchaser = await loggedIn(server.url, await createUser(t.db, { memberships: [[w.dealer, "purchaser"]] }));
      const seen = await purchaser.get("/financing/credit-line");
      expect(seen.status).toBe(200);
      expect(seen.body).not.toContain('data-intent="draw"');
      const pcsrf = await purchaser.csrfFrom("/financing/credit-line");
      expect((await purchaser.post("/financing/credit-line", { csrf: pcsrf, intent: "draw", amount: "100", order_id: "" })).status).toBe(403);
      expect(await verifyLedger(t.db)).toEqual([]);
    });
  });
});
