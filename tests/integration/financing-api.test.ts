import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser, TEST_PASSWORD } from "../support/factories";
import { startTestServer, type TestServer } from "../support/web";
import { ApiClient, apiLogin, expectError } from "./api.fixtures";
import { balanceOf, confirmedOrder, ensureBank, financingWorld, fundWallet, orderFinancingProduct, runFinancingJobs, type FinancingWorld } from "./financing.fixtures";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { createProduct } from "../../app/domain/financing/products.server";
import { setFacility } from "../../app/domain/financing/facilities.server";

type Application = { id: string; number: string; status: string; amount_fen: number; checks: { check: string; ok: boolean; detail: string }[]; loan_id: string | null; first_approver: string | null };
type Loan = { id: string; status: string; principal_fen: number; annual_rate_ppm: number; schedule: { due_on: string; principal_fen: number; interest_fen: number }[]; due_now_fen: number; payoff_fen: number };

/**
 * Financing over /api/v1 as an ERP and the bank's systems would use it: a dealer finances a confirmed
 * order and reads its loan; the bank's officers approve (four eyes) or reject; another tenant gets 404;
 * a repayment with one Idempotency-Key is one repayment.
 */
describe("financing API", () => {
  let t: TestDatabase;
  let server: TestServer;
  let w: FinancingWorld;
  let dealer: ApiClient;
  let core: ApiClient;
  let officer1: ApiClient;
  let officer2: ApiClient;
  let stranger: ApiClient;

  beforeAll(async () => {
    t = await createTestDatabase();
    server = await startTestServer(t.db);
    // The other dealer's world first: each world's product is the active order-financing product.
    const other = await financingWorld(t.db);
    w = await financingWorld(t.db);
    const bankId = await ensureBank(t.db);
    const login = async (memberships: [string, "owner" | "credit_officer" | "finance"][]) => {
      const user = await createUser(t.db, { memberships });
      return apiLogin(server.url, user.email, TEST_PASSWORD);
    };
    dealer = await login([[w.dealer, "owner"]]);
    core = await login([[w.core, "owner"]]);
    officer1 = await login([[bankId, "credit_officer"]]);
    officer2 = await login([[bankId, "credit_officer"]]);
    stranger = await login([[other.dealer, "owner"]]);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("finances a confirmed order at once below the auto limit, and shows the loan to both parties and the bank only", async () => {
    const order = await confirmedOrder(t.db, w, 5, new Date());
    const key = randomUUID();
    const created = await dealer.post<Application>("/api/v1/financing/applications", { order_id: order.id }, { key });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ status: "approved", amount_fen: 500_000 });
    expect(created.body.checks.every((c) => c.ok)).toBe(true);
    // The same key and body: the same answer, nothing applied twice.
    const again = await dealer.post<Application>("/api/v1/financing/applications", { order_id: order.id }, { key });
    expect(again.body.id).toBe(created.body.id);
    await runFinancingJobs(t.db, new Date());

    const app = await dealer.get<Application>(`/api/v1/financing/applications/${created.body.id}`);
    expect(app.body.status).toBe("disbursed");
    const loanId = app.body.loan_id!;
    const loan = await dealer.get<Loan>(`/api/v1/financing/loans/${loanId}`);
    expect(loan.status).toBe(200);
    expect(loan.body).toMatchObject({ status: "disbursed", principal_fen: 500_000, annual_rate_ppm: 43_500 });
    expect(loan.body.schedule).toEqual([expect.objectContaining({ principal_fen: 500_000, interest_fen: 5_438 })]);
    expect((await core.get(`/api/v1/financing/loans/${loanId}`)).status).toBe(200);
    expect((await officer1.get(`/api/v1/financing/loans/${loanId}`)).status).toBe(200);
    expectError(await stranger.get(`/api/v1/financing/loans/${loanId}`), 404, "not_found");
    expectError(await stranger.get(`/api/v1/financing/applications/${created.body.id}`), 404, "not_found");
    const mine = await dealer.get<{ data: { id: string }[] }>("/api/v1/financing/loans");
    expect(mine.body.data.map((l) => l.id)).toContain(loanId);
    expect((await stranger.get<{ data: { id: string }[] }>("/api/v1/financing/loans")).body.data.map((l) => l.id)).not.toContain(loanId);
    // The portfolio is the bank's.
    expect((await officer1.get<{ loans_open: number }>("/api/v1/financing/portfolio")).body.loans_open).toBeGreaterThanOrEqual(1);
    expectError(await dealer.get("/api/v1/financing/portfolio"), 404, "not_found");
  });

  it("names every failed check and writes nothing, and refuses what a dealer may not do", async () => {
    const tooBig = await confirmedOrder(t.db, w, 250, new Date()); // 25,000,000 fen: above the 20,000,000 limit
    const refused = expectError(await dealer.post("/api/v1/financing/applications", { order_id: tooBig.id }), 409, "invalid_state");
    expect(Object.keys(refused.fields)).toEqual(expect.arrayContaining(["borrower_limit", "dealer_sub_limit"]));
    const after = await t.db.selectFrom("orders").select("status").where("id", "=", tooBig.id).executeTakeFirstOrThrow();
    expect(after.status).toBe("confirmed");
    expectError(await dealer.post("/api/v1/financing/applications", { order: "x" }), 422, "validation");
    expectError(await core.post("/api/v1/financing/applications", { order_id: tooBig.id }), 404, "not_found");
    expectError(await stranger.post("/api/v1/financing/applications", { order_id: tooBig.id }), 404, "not_found");
  });

  it("needs two different officers above the second-approver limit, and a reason to reject", async () => {
    const big = await confirmedOrder(t.db, w, 60, new Date());
    const app = (await dealer.post<Application>("/api/v1/financing/applications", { order_id: big.id })).body;
    expect(app.status).toBe("applied");
    expectError(await dealer.post(`/api/v1/financing/applications/${app.id}/approve`, {}), 404, "not_found");
    const first = await officer1.post<Application>(`/api/v1/financing/applications/${app.id}/approve`, {});
    expect(first.body.status).toBe("awaiting_second_approval");
    const twice = expectError(await officer1.post(`/api/v1/financing/applications/${app.id}/approve`, {}), 403, "forbidden");
    expect(twice.fields).toEqual({ approver: "same_officer" });
    const second = await officer2.post<Application>(`/api/v1/financing/applications/${app.id}/approve`, {});
    expect(second.body.status).toBe("approved");

    const mid = await confirmedOrder(t.db, w, 20, new Date());
    const app2 = (await dealer.post<Application>("/api/v1/financing/applications", { order_id: mid.id })).body;
    const noReason = expectError(await officer1.post(`/api/v1/financing/applications/${app2.id}/reject`, { reason: " " }), 422, "validation");
    expect(Object.keys(noReason.fields)).toEqual(["reason"]);
    const rejected = await officer1.post<Application>(`/api/v1/financing/applications/${app2.id}/reject`, { reason: "资料不全" });
    expect(rejected.body).toMatchObject({ status: "rejected" });
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("repays from the wallet once per Idempotency-Key, in full with interest to date", async () => {
    const order = await confirmedOrder(t.db, w, 3, new Date());
    const app = (await dealer.post<Application>("/api/v1/financing/applications", { order_id: order.id })).body;
    await runFinancingJobs(t.db, new Date());
    const loanId = (await dealer.get<Application>(`/api/v1/financing/applications/${app.id}`)).body.loan_id!;
    expectError(await dealer.post(`/api/v1/financing/loans/${loanId}/repayments`, { mode: "due" }), 409, "invalid_state");
    await fundWallet(t.db, w.dealer, 1_000_000);
    const before = await balanceOf(t.db, `wallet:${w.dealer}`);
    const key = randomUUID();
    const paid = await dealer.post<{ amount_fen: number; loan_status: string }>(`/api/v1/financing/loans/${loanId}/repayments`, { mode: "payoff" }, { key });
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    // Paid out today: no day has passed, so no interest is owed yet.
    expect(paid.body).toMatchObject({ amount_fen: 300_000, loan_status: "repaid" });
    const replay = await dealer.post<{ amount_fen: number }>(`/api/v1/financing/loans/${loanId}/repayments`, { mode: "payoff" }, { key });
    expect(replay.body.amount_fen).toBe(300_000);
    expect(await balanceOf(t.db, `wallet:${w.dealer}`)).toBe(before - 300_000);
    expectError(await stranger.post(`/api/v1/financing/loans/${loanId}/repayments`, { mode: "payoff" }), 404, "not_found");
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("draws on a revolving credit line to the wallet, refusing more than the line has", async () => {
    const product = await createProduct(t.db, SYSTEM_ACTOR, orderFinancingProduct({ kind: "credit_line", code: `CL-${randomUUID().slice(0, 6).toUpperCase()}`, repaymentMethod: "equal_instalment", termDays: null, termMonths: 6 }));
    await setFacility(t.db, SYSTEM_ACTOR, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: w.dealer, validTo: "2099-12-31", limitFen: 300_000 });
    const before = await balanceOf(t.db, `wallet:${w.dealer}`);
    const drawn = await dealer.post<Application>("/api/v1/financing/draws", { amount_fen: 200_000 });
    expect(drawn.status, JSON.stringify(drawn.body)).toBe(201);
    expect(drawn.body).toMatchObject({ status: "approved", amount_fen: 200_000, order_id: null });
    await runFinancingJobs(t.db, new Date());
    expect(await balanceOf(t.db, `wallet:${w.dealer}`)).toBe(before + 200_000);
    const over = expectError(await dealer.post("/api/v1/financing/draws", { amount_fen: 100_001 }), 409, "invalid_state");
    expect(Object.keys(over.fields)).toEqual(["borrower_limit"]);
    expectError(await dealer.post("/api/v1/financing/draws", {}), 422, "validation");
    expectError(await core.post("/api/v1/financing/draws", { amount_fen: 1_000 }), 404, "not_found");
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("lets the bank's credit staff set a limit, never below what is drawn, and lists it to the borrower", async () => {
    const facilities = await dealer.get<{ data: { id: string; kind: string; limit_fen: number; used_fen: number }[] }>("/api/v1/financing/facilities");
    const limit = facilities.body.data.find((f) => f.kind === "borrower_limit")!;
    expect(limit.limit_fen).toBe(20_000_000);
    const low = expectError(
      await officer1.post("/api/v1/financing/facilities", { kind: "borrower_limit", product_id: w.product.id, borrower_id: w.dealer, valid_to: "2099-12-31", limit_fen: 1 }),
      422,
      "validation",
    );
    expect(Object.keys(low.fields)).toEqual(["limit_fen"]);
    const missing = expectError(await officer1.post("/api/v1/financing/facilities", { kind: "guarantee_sub", valid_to: "2099-12-31", limit_fen: 1 }), 422, "validation");
    expect(Object.keys(missing.fields).sort()).toEqual(["borrower_id", "guarantor_id", "parent_facility_id"]);
    const raised = await officer1.post<{ limit_fen: number }>("/api/v1/financing/facilities", { kind: "borrower_limit", product_id: w.product.id, borrower_id: w.dealer, valid_to: "2099-12-31", limit_fen: 30_000_000 });
    expect(raised.status).toBe(201);
    expect(raised.body.limit_fen).toBe(30_000_000);
    expectError(await dealer.post("/api/v1/financing/facilities", { kind: "borrower_limit", product_id: w.product.id, borrower_id: w.dealer, valid_to: "2099-12-31", limit_fen: 1 }), 404, "not_found");
  });
});
