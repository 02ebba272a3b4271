import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import { newOrg } from "./catalog.fixtures";
import { confirmedOrder, financingWorld, fundWallet, runFinancingJobs, type FinancingWorld } from "./financing.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * The dealer's order-financing page (/financing/apply/<orderId>) and a loan's page
 * (/financing/loans/<loanId>), over HTTP like a browser without JavaScript.
 *
 * Hand-worked figures: the product is the LPR (3.10% = 31,000 ppm) + 125 bps = 43,500 ppm (4.35%),
 * bullet, 90 days. An order of 5 × ¥1,000 = 500,000 fen has interest
 * 500,000 × 43,500 × 90 / 360,000,000 = 5,437.5 → half to even 5,438 fen (¥54.38); the loan owes
 * 505,438 fen at maturity.
 */
describe("financing pages: apply for an order's financing, a loan's page", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let bankOfficer: { email: string; password: string };
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const DAY_MS = 86_400_000;

  async function world(options: Parameters<typeof financingWorld>[1] = {}) {
    const w = await financingWorld(t.db, options);
    bankOfficer ??= await createUser(t.db, { memberships: [[w.bankId, "credit_officer"]] });
    const dealerOwner = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
    const coreOwner = await createUser(t.db, { memberships: [[w.core, "owner"]] });
    const coreName = (await t.db.selectFrom("organizations").select("name").where("id", "=", w.core).executeTakeFirstOrThrow()).name;
    return { ...w, dealerOwner, coreOwner, coreName };
  }

  /** A loan on a 5 × ¥1,000 order, applied for and paid out `daysAgo` days ago. */
  async function loanPaidOut(w: FinancingWorld, daysAgo: number) {
    const then = new Date(Date.now() - daysAgo * DAY_MS);
    const order = await confirmedOrder(t.db, w, 5, then);
    const app = await applyForOrderFinancing(t.db, w.asDealer, order.id, then);
    await runFinancingJobs(t.db, then);
    const loan = await t.db.selectFrom("loans").select(["id", "number", "status"]).where("application_id", "=", app.id).executeTakeFirstOrThrow();
    return { order, loan, path: `/financing/loans/${loan.id}` };
  }

  const orderStatus = async (id: string) => (await t.db.selectFrom("orders").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status;
  const walletFen = async (organizationId: string) => {
    const row = await t.db.selectFrom("ledger_accounts").selectAll().where("kind", "=", "wallet").where("organization_id", "=", organizationId).executeTakeFirst();
    if (!row) return 0;
    return row.normal_side === "credit" ? row.credits_posted_fen - row.debits_posted_fen : row.debits_posted_fen - row.credits_posted_fen;
  };
  const keyFrom = (html: string) => /name="idempotency_key" value="([0-9a-f-]{36})"/.exec(html)?.[1] ?? null;

  describe("/financing/apply/<orderId>", () => {
    it("shows the terms and the schedule, and applying sends the order to the bank", async () => {
      const w = await world();
      const order = await confirmedOrder(t.db, w, 5, new Date());
      const path = `/financing/apply/${order.id}`;
      const dealer = await loggedIn(server.url, w.dealerOwner);

      const page = await dealer.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain("¥5,000.00");
      expect(page.body).toContain("4.35%");
      expect(page.body).toContain("LPR 3.1% + 1.25%");
      // Penalty: the contract rate + 50% (the product's default markup) = 65,250 ppm.
      expect(page.body).toContain("6.525%");
      expect(page.body).toContain("¥54.38");
      expect(page.body).toContain("¥5,054.38");
      expect(page.body).toContain(w.coreName);
      expect(page.body).toContain('data-intent="apply"');

      const applied = await dealer.post(path, { csrf: await dealer.csrfFrom(path), intent: "apply" });
      expect(applied.status).toBe(302);
      expect(applied.location).toBe(`/orders/${order.id}`);
      // ¥5,000 is below the product's auto-approval limit (¥10,000): approved at once.
      expect(await orderStatus(order.id)).toBe("awaiting_financing");
      const app = await t.db.selectFrom("loan_applications").select("status").where("order_id", "=", order.id).executeTakeFirstOrThrow();
      expect(app.status).toBe("approved");

      // Applied once, the order can no longer take a second request: the page says why.
      const again = await dealer.get(path);
      expect(again.status).toBe(200);
      expect(again.body).toContain('data-testid="apply-unavailable"');
      expect(again.body).not.toContain('data-intent="apply"');
    });

    it("a refusal names the failed check and writes nothing", async () => {
      const w = await world({ limitFen: 100_000 });
      const order = await confirmedOrder(t.db, w, 5, new Date());
      const path = `/financing/apply/${order.id}`;
      const dealer = await loggedIn(server.url, w.dealerOwner);
      const refused = await dealer.post(path, { csrf: await dealer.csrfFrom(path), intent: "apply" });
      expect(refused.status).toBe(409);
      expect(refused.body).toContain('data-check="borrower_limit"');
      expect(refused.body).toContain("借款授信额度不足或不可用");
      // The limit of ¥1,000.00 was all available.
      expect(refused.body).toContain("可用 ¥1,000.00");
      expect(await orderStatus(order.id)).toBe("confirmed");
      const apps = await t.db.selectFrom("loan_applications").select("id").where("order_id", "=", order.id).execute();
      expect(apps).toHaveLength(0);
    });

    it("is a 404 for another dealer's order", async () => {
      const w = await world();
      const order = await confirmedOrder(t.db, w, 5, new Date());
      const other = await newOrg(t.db, "dealer");
      const stranger = await loggedIn(server.url, await createUser(t.db, { memberships: [[other, "owner"]] }));
      expect((await stranger.get(`/financing/apply/${order.id}`)).status).toBe(404);
    });
  });

  describe("/financing/loans/<loanId>", () => {
    it("renders for the borrower, the guarantor and the bank, and is a 404 for another dealer", async () => {
      const w = await world();
      const { loan, path } = await loanPaidOut(w, 0);
      for (const user of [w.dealerOwner, w.coreOwner, bankOfficer]) {
        const client = await loggedIn(server.url, user);
        const page = await client.get(path);
        expect(page.status, user.email).toBe(200);
        expect(page.body).toContain(loan.number);
        expect(page.body).toContain("4.35%");
        expect(page.body).toContain("¥54.38");
        expect(page.body).toContain('data-testid="loan-timeline"');
      }
      const dealer = await loggedIn(server.url, w.dealerOwner);
      const mine = await dealer.get(path);
      expect(mine.body).toContain('data-intent="payoff"');
      // The guarantor sees the loan but repays only once its guarantee is called.
      const guarantor = await loggedIn(server.url, w.coreOwner);
      expect((await guarantor.get(path)).body).not.toContain('data-intent="payoff"');
      const bank = await loggedIn(server.url, bankOfficer);
      const bankPage = await bank.get(path);
      expect(bankPage.body).toContain('data-intent="reclassify"');
      expect(bankPage.body).not.toContain('data-intent="payoff"');

      const other = await newOrg(t.db, "dealer");
      const stranger = await loggedIn(server.url, await createUser(t.db, { memberships: [[other, "owner"]] }));
      expect((await stranger.get(path)).status).toBe(404);
      expect((await stranger.post(path, { csrf: await stranger.csrfFrom("/"), intent: "payoff", idempotency_key: crypto.randomUUID() })).status).toBe(404);
    });

    it("repays what is due once per idempotency key, then pays off: the loan is repaid", async () => {
      const w = await world();
      // Paid out 90 days ago: the one bullet instalment (500,000 + 5,438 fen) falls due today.
      const { loan, path } = await loanPaidOut(w, 90);
      await fundWallet(t.db, w.dealer, 1_000_000);
      const before = await walletFen(w.dealer);
      const dealer = await loggedIn(server.url, w.dealerOwner);
      const page = await dealer.get(path);
      expect(page.body).toContain("¥5,054.38");
      const key = keyFrom(page.body)!;
      expect(key).toBeTruthy();
      const csrf = await dealer.csrfFrom(path);

      // The same form sent twice (a double click): one repayment of ¥100.00.
      for (let i = 0; i < 2; i++) {
        const res = await dealer.post(path, { csrf, intent: "repay_due", amount: "100.00", idempotency_key: key });
        expect(res.status).toBe(302);
        expect(res.location).toBe(path);
      }
      expect(before - (await walletFen(w.dealer))).toBe(10_000);
      const repayments = await t.db.selectFrom("loan_repayments").select(["amount_fen", "allocation"]).where("loan_id", "=", loan.id).execute();
      expect(repayments).toHaveLength(1);
      // Interest first (5,438), then principal (4,562).
      expect(repayments[0]!.allocation).toMatchObject({ current_interest: 5_438, current_principal: 4_562 });

      // A bad amount is named on its field, nothing moves.
      const bad = await dealer.post(path, { csrf, intent: "repay_due", amount: "1.234", idempotency_key: crypto.randomUUID() });
      expect(bad.status).toBe(422);
      expect(bad.body).toContain('id="repay-amount-error"');

      const after = await dealer.get(path);
      expect(after.body).toContain("¥4,954.38");
      const payoff = await dealer.post(path, { csrf, intent: "payoff", idempotency_key: keyFrom(after.body)! });
      expect(payoff.status).toBe(302);
      const row = await t.db.selectFrom("loans").select("status").where("id", "=", loan.id).executeTakeFirstOrThrow();
      expect(row.status).toBe("repaid");
      expect(before - (await walletFen(w.dealer))).toBe(505_438);
    });

    it("refuses a classification better than the rule, naming the field; a worse one is recorded", async () => {
      const w = await world();
      const { loan, path } = await loanPaidOut(w, 0);
      // As if the daily run had found it five days past due: the rule's class is special mention.
      await t.db.updateTable("loans").set({ rule_class: "special_mention", days_past_due: 5 }).where("id", "=", loan.id).execute();
      const bank = await loggedIn(server.url, bankOfficer);
      const csrf = await bank.csrfFrom(path);
      const better = await bank.post(path, { csrf, intent: "reclassify", class: "normal", reason: "paid on time before" });
      expect(better.status).toBe(422);
      expect(better.body).toContain('id="reclassify-class-error"');
      expect(better.body).toContain("不能优于逾期规则给出的分类");
      const noReason = await bank.post(path, { csrf, intent: "reclassify", class: "substandard", reason: " " });
      expect(noReason.status).toBe(422);
      expect(noReason.body).toContain('id="reclassify-reason-error"');
      expect((await t.db.selectFrom("loans").select("officer_class").where("id", "=", loan.id).executeTakeFirstOrThrow()).officer_class).toBeNull();

      const worse = await bank.post(path, { csrf, intent: "reclassify", class: "substandard", reason: "the dealer lost its main customer" });
      expect(worse.status).toBe(302);
      expect((await t.db.selectFrom("loans").select("officer_class").where("id", "=", loan.id).executeTakeFirstOrThrow()).officer_class).toBe("substandard");

      // The borrower has no such form: the action is not a dealer's (404).
      const dealer = await loggedIn(server.url, w.dealerOwner);
      expect((await dealer.post(path, { csrf: await dealer.csrfFrom(path), intent: "reclassify", class: "loss", reason: "x" })).status).toBe(404);
    });

    it("a viewer of the borrower may read the loan but not repay it (403)", async () => {
      const w = await world();
      const { loan, path } = await loanPaidOut(w, 0);
      await fundWallet(t.db, w.dealer, 1_000_000);
      const before = await walletFen(w.dealer);
      const viewer = await loggedIn(server.url, await createUser(t.db, { memberships: [[w.dealer, "viewer"]] }));
      const page = await viewer.get(path);
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('data-intent="payoff"');
      const res = await viewer.post(path, { csrf: await viewer.csrfFrom(path), intent: "payoff", idempotency_key: crypto.randomUUID() });
      expect(res.status).toBe(403);
      expect(await walletFen(w.dealer)).toBe(before);
      expect((await t.db.selectFrom("loans").select("status").where("id", "=", loan.id).executeTakeFirstOrThrow()).status).not.toBe("repaid");
    });
  });
});
