import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { shanghaiDate } from "../../app/domain/shared/dates";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import type { Client } from "../support/web";
import { confirmedOrder, financingWorld, runFinancingJobs, type FinancingWorld } from "./financing.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * The bank's financing console and the parties' overviews through the real Express + Remix stack,
 * as a browser without JavaScript: the queue, four-eyes approval by two officers, a rejection that
 * needs a reason, a borrower's withdrawal, tenancy (404s), and the daily accrual run's page.
 *
 * Amounts (financing.fixtures.ts): one unit is ¥1,000 (100,000 fen); the product approves by itself
 * up to ¥10,000 and needs two officers above ¥50,000.
 */
const DAY_MS = 86_400_000;

describe("financing console pages", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let w: FinancingWorld;
  let officer1: Client;
  let officer2: Client;
  let ops: Client;
  let dealer: Client;
  let core: Client;
  let otherDealer: Client;
  /** Four eyes: ¥60,000 (60 units), above the second-approver limit. */
  let bigAppId: string;
  let bigNumber: string;
  let officer1Name: string;

  async function statusOf(applicationId: string): Promise<string> {
    const row = await t.db.selectFrom("loan_applications").select("status").where("id", "=", applicationId).executeTakeFirstOrThrow();
    return row.status;
  }

  async function apply(units: number): Promise<{ id: string; number: string }> {
    const order = await confirmedOrder(t.db, w, units, new Date());
    const app = await applyForOrderFinancing(t.db, w.asDealer, order.id, new Date());
    return { id: app.id, number: app.number };
  }

  const flashSet = (cookies: string[]) => cookies.some((c) => c.startsWith("rt_flash=") && !/max-age=0/i.test(c));

  beforeAll(async () => {
    t = await createTestDatabase();
    w = await financingWorld(t.db);
    const o1 = await createUser(t.db, { displayName: "审批员甲", memberships: [[w.bankId, "credit_officer"]] });
    const o2 = await createUser(t.db, { displayName: "审批员乙", memberships: [[w.bankId, "credit_officer"]] });
    const op = await createUser(t.db, { memberships: [[w.bankId, "operations"]] });
    const d = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
    const c = await createUser(t.db, { memberships: [[w.core, "owner"]] });
    // Another dealer (a second financingWorld would retire this world's product: one per kind).
    const otherDealerOrg = await createOrg(t.db, { kind: "dealer" });
    const od = await createUser(t.db, { memberships: [[otherDealerOrg.id, "owner"]] });
    officer1Name = o1.display_name;
    const big = await apply(60);
    bigAppId = big.id;
    bigNumber = big.number;
    server = await startPaymentsServer(t.db);
    officer1 = await loggedIn(server.url, o1);
    officer2 = await loggedIn(server.url, o2);
    ops = await loggedIn(server.url, op);
    dealer = await loggedIn(server.url, d);
    core = await loggedIn(server.url, c);
    otherDealer = await loggedIn(server.url, od);
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("shows the bank its queue with amount, borrower and the checks' count", async () => {
    const page = await officer1.get("/financing/applications");
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="queue"');
    expect(page.body).toContain(bigNumber);
    expect(page.body).toContain(`/financing/applications/${bigAppId}`);
    // Five checks written, all passed: limit, agreement, sub-limit, no overdue loan, order; and concentration.
    expect(page.body).toContain("6 通过 / 0 未通过");
    expect(page.body).toContain("¥60,000.00");
  });

  it("four eyes: the first officer signs, is refused the second signature with a message, a second officer approves", async () => {
    const token = await officer1.csrfFrom(`/financing/applications/${bigAppId}`);
    const first = await officer1.post(`/financing/applications/${bigAppId}`, { csrf: token, intent: "approve" });
    expect(first.status).toBe(302);
    expect(first.location).toBe(`/financing/applications/${bigAppId}`);
    expect(flashSet(first.setCookies)).toBe(true);
    expect(await statusOf(bigAppId)).toBe("awaiting_second_approval");

    const again = await officer1.post(`/financing/applications/${bigAppId}`, { csrf: token, intent: "approve" });
    expect(again.status).toBe(403);
    expect(again.body).toContain('data-testid="approve-error"');
    expect(again.body).toContain("四眼原则：您已做过初审，须由另一位审批人复核批准。");
    expect(await statusOf(bigAppId)).toBe("awaiting_second_approval");

    const seen = await officer2.get(`/financing/applications/${bigAppId}`);
    expect(seen.status).toBe(200);
    expect(seen.body).toContain(`已由 ${officer1Name} 初审通过；须由另一位审批人复核批准。`);
    const token2 = await officer2.csrfFrom(`/financing/applications/${bigAppId}`);
    const second = await officer2.post(`/financing/applications/${bigAppId}`, { csrf: token2, intent: "approve" });
    expect(second.status).toBe(302);
    expect(await statusOf(bigAppId)).toBe("approved");

    // Paid out five days ago, so that yesterday's accrual run has this loan to accrue.
    await runFinancingJobs(t.db, new Date(Date.now() - 5 * DAY_MS));
    expect(await statusOf(bigAppId)).toBe("disbursed");
    const loan = await t.db.selectFrom("loans").select(["id", "number"]).where("application_id", "=", bigAppId).executeTakeFirstOrThrow();
    const after = await officer2.get(`/financing/applications/${bigAppId}`);
    expect(after.body).toContain(`/financing/loans/${loan.id}`);

    const console = await officer2.get("/financing");
    expect(console.status).toBe(200);
    expect(console.body).toContain('data-testid="portfolio"');
    expect(console.body).toContain(loan.number);
    expect(console.body).toContain(`/financing/loans/${loan.id}`);
    expect(console.body).toContain('data-testid="guarantee-facilities"');
  });

  it("refuses a rejection without a reason (422 naming the field), then rejects with one", async () => {
    const app = await apply(20);
    expect(await statusOf(app.id)).toBe("applied");
    const token = await officer1.csrfFrom(`/financing/applications/${app.id}`);
    const bare = await officer1.post(`/financing/applications/${app.id}`, { csrf: token, intent: "reject", reason: "   " });
    expect(bare.status).toBe(422);
    expect(bare.body).toContain('data-field="reason"');
    // React separates text parts with empty comments.
    expect(bare.body.replaceAll("<!-- -->", "")).toContain("拒绝原因: 此项为必填");
    expect(await statusOf(app.id)).toBe("applied");

    const done = await officer1.post(`/financing/applications/${app.id}`, { csrf: token, intent: "reject", reason: "经营流水不足" });
    expect(done.status).toBe(302);
    expect(await statusOf(app.id)).toBe("rejected");
    const page = await officer1.get(`/financing/applications/${app.id}`);
    expect(page.body).toContain("经营流水不足");
  });

  it("lets the borrower withdraw, and gives another dealer a 404 for the same id", async () => {
    const app = await apply(20);
    const stranger = await otherDealer.get(`/financing/applications/${app.id}`);
    expect(stranger.status).toBe(404);
    const strangerToken = await otherDealer.csrfFrom("/financing");
    const strangerPost = await otherDealer.post(`/financing/applications/${app.id}`, { csrf: strangerToken, intent: "withdraw" });
    expect(strangerPost.status).toBe(404);
    expect(await statusOf(app.id)).toBe("applied");

    const own = await dealer.get(`/financing/applications/${app.id}`);
    expect(own.status).toBe(200);
    expect(own.body).toContain('data-testid="withdraw-form"');
    expect(own.body).not.toContain('data-testid="approve-form"');
    const token = await dealer.csrfFrom(`/financing/applications/${app.id}`);
    const res = await dealer.post(`/financing/applications/${app.id}`, { csrf: token, intent: "withdraw" });
    expect(res.status).toBe(302);
    expect(await statusOf(app.id)).toBe("withdrawn");

    // The borrower may not decide its own application: approving is the bank's (404 for a dealer).
    const approve = await dealer.post(`/financing/applications/${app.id}`, { csrf: token, intent: "approve" });
    expect(approve.status).toBe(404);

    const overview = await dealer.get("/financing");
    expect(overview.status).toBe(200);
    expect(overview.body).toContain('data-testid="my-applications"');
    expect(overview.body).toContain('data-testid="my-loans"');
    expect(overview.body).toContain(bigNumber);
  });

  it("exports the loans as CSV: the bank all of them, a dealer only its own", async () => {
    const bankCsv = await officer1.get("/financing/loans.csv?headers=en");
    expect(bankCsv.status).toBe(200);
    expect(bankCsv.headers.get("content-type")).toContain("text/csv");
    const lines = bankCsv.body.replace(/^\ufeff/, "").trim().split("\r\n");
    expect(lines[0]).toBe("loan,product,borrower,guarantor,status,class,days_past_due,bucket,principal_fen,principal_outstanding_fen,interest_owed_fen,penalty_owed_fen,annual_rate_ppm,disbursed_on,maturity_on,next_due_on,next_due_fen");
    const loans = await t.db.selectFrom("loans").select(["number", "borrower_organization_id"]).execute();
    expect(lines.length - 1).toBe(loans.length);
    const mine = await dealer.get("/financing/loans.csv");
    const theirs = await otherDealer.get("/financing/loans.csv");
    for (const loan of loans) {
      expect(bankCsv.body).toContain(loan.number);
      const dealerSees = mine.body.includes(loan.number);
      const otherSees = theirs.body.includes(loan.number);
      expect(dealerSees && otherSees).toBe(false);
    }
    // (fetch drops the BOM when it decodes the body.)
    expect(mine.body.startsWith("贷款编号,")).toBe(true);
  });

  it("does not show a core enterprise the queue or the runs, but shows it the loans it guarantees", async () => {
    expect((await core.get("/financing/applications")).status).toBe(404);
    expect((await core.get("/financing/runs")).status).toBe(404);
    const page = await core.get("/financing");
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="guaranteed-loans"');
    expect(page.body).toContain('data-testid="guarantee-facilities"');
    // Its agreement: ¥500,000 (fixture default 50,000,000 fen).
    expect(page.body).toContain("¥500,000.00");
  });

  it("starts the daily run for yesterday and shows its progress, batch by batch", async () => {
    const now = new Date();
    const yesterday = shanghaiDate(new Date(now.getTime() - DAY_MS));
    const page = await ops.get("/financing/runs");
    expect(page.status).toBe(200);
    expect(page.body).toContain(`value="${yesterday}"`);
    const token = await ops.csrfFrom("/financing/runs");

    const today = await ops.post("/financing/runs", { csrf: token, business_date: shanghaiDate(now) });
    expect(today.status).toBe(422);
    expect(today.body).toContain('data-field="business_date"');

    // A credit officer may decide loans but not start runs (operations and platform admins do).
    const refused = await officer1.post("/financing/runs", { csrf: await officer1.csrfFrom("/financing/runs"), business_date: yesterday });
    expect(refused.status).toBe(403);

    const started = await ops.post("/financing/runs", { csrf: token, business_date: yesterday });
    expect(started.status).toBe(302);
    const running = await ops.get("/financing/runs");
    // One loan is open (paid out five days ago): one batch, not yet done; the page refreshes itself.
    expect(running.body).toContain(`data-run="${yesterday}" data-status="running"`);
    expect(running.body).toContain("第 0 / 1 批");
    expect(running.body).toContain('data-testid="run-refreshing"');

    await runFinancingJobs(t.db, now);
    const done = await ops.get("/financing/runs");
    expect(done.body).toContain(`data-run="${yesterday}" data-status="done"`);
    expect(done.body).toContain("第 1 / 1 批");
    expect(done.body).not.toContain('data-testid="run-refreshing"');
  });
});
