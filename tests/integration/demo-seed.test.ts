import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { DEMO_LOGINS, seedDemoData } from "../../app/seed/demo.server";
import { listAccountsForOrganization, verifyLedger } from "../../app/domain/ledger/ledger.server";
import { listMembershipsForUser } from "../../app/domain/identity/organizations.server";
import { verifyPassword } from "../../app/domain/identity/passwords.server";
import { isValidUscc } from "../../app/domain/shared/uscc";
import { createTestDatabase } from "../support/db";

describe("demo data", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 4 });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("seeds every demo login once, with valid company codes and a ledger that verifies", async () => {
    const first = await seedDemoData(handle.db, { password: "s3cret-demo" });
    expect(first.seeded).toBe(true);
    const second = await seedDemoData(handle.db, { password: "s3cret-demo" });
    expect(second.seeded).toBe(false);

    const users = await handle.db.selectFrom("users").select(["id", "email", "password_hash"]).execute();
    expect(users.map((u) => u.email).sort()).toEqual(DEMO_LOGINS.map((l) => l.email).sort());
    expect(await verifyPassword("s3cret-demo", users[0].password_hash)).toBe(true);
    expect(await verifyPassword("demo1234", users[0].password_hash)).toBe(false);

    const orgs = await handle.db.selectFrom("organizations").select(["kind", "name", "uscc"]).execute();
    expect(new Set(orgs.map((o) => o.kind))).toEqual(
      new Set(["bank", "core_enterprise", "dealer", "market_operator", "merchant", "buyer"]),
    );
    for (const org of orgs) expect(isValidUscc(org.uscc ?? ""), org.name).toBe(true);
    expect(orgs.find((o) => o.kind === "core_enterprise")?.name).toBe("华通电器");

    const dealer = users.find((u) => u.email === "dealer@demo.test")!;
    const memberships = await listMembershipsForUser(handle.db, dealer.id);
    expect(memberships.length).toBe(2);
    const wallets = await listAccountsForOrganization(handle.db, memberships[0].organizationId);
    expect(wallets.find((a) => a.kind === "wallet")?.balanceFen).toBeGreaterThan(0);
    expect(await verifyLedger(handle.db)).toEqual([]);
    // The market's trade: a fortnight settled, and today one order in each state a user meets.
    const marketOrders = await handle.db.selectFrom("market_orders").select(["status", "refunded_fen"]).execute();
    expect(new Set(marketOrders.map((o) => o.status))).toEqual(new Set(["settled", "paid", "shipped", "disputed", "placed"]));
    expect(marketOrders.filter((o) => o.status === "settled").length).toBeGreaterThanOrEqual(14);
    expect(marketOrders.some((o) => o.refunded_fen > 0)).toBe(true);
    // Financing: real loans behind every loan posting, one of each kind of state the bank meets.
    const loans = await handle.db.selectFrom("loans").select(["id", "status", "days_past_due", "rule_class"]).where("kind", "=", "order_financing").orderBy("disbursed_on").execute();
    // And 宁波鑫达's credit line (网贷通) with two draws being repaid.
    const draws = await handle.db.selectFrom("loans").select("status").where("kind", "=", "credit_line").execute();
    expect(draws.map((d) => d.status)).toEqual(["repaying", "repaying"]);
    // And 华通电器's receivables: one advance open, one repaid by the dealer's payment of the order.
    const advances = await handle.db.selectFrom("loans").select("status").where("kind", "=", "receivables").where("order_id", "is not", null).orderBy("status").execute();
    expect(advances.map((a) => a.status)).toEqual(["disbursed", "repaid"]);
    // And 李记服饰's advance on an escrow order, repaid from the order's settlement.
    const marketAdvances = await handle.db.selectFrom("loans").select("status").where("kind", "=", "receivables").where("market_order_id", "is not", null).execute();
    expect(marketAdvances.map((a) => a.status)).toEqual(["repaid"]);
    const debtor = await handle.db.selectFrom("loan_repayments").select("source").where("source", "=", "debtor_payment").execute();
    expect(debtor).toHaveLength(2);
    // The core enterprise's and the merchant's settlement accounts, verified by their deposits,
    // each deposit booked once as the bank's expense.
    const accounts = await handle.db.selectFrom("settlement_accounts").select(["status", "deposit_fen"]).execute();
    expect(accounts.map((a) => a.status)).toEqual(["verified", "verified"]);
    const expenses = await handle.db.selectFrom("ledger_accounts").select(["debits_posted_fen"]).where("kind", "=", "bank_expenses").executeTakeFirstOrThrow();
    expect(Number(expenses.debits_posted_fen)).toBe(accounts.reduce((sum, a) => sum + a.deposit_fen, 0));
    expect(loans.map((l) => l.status)).toEqual(["repaid", "overdue", "repaying"]);
    const overdue = loans[1]!;
    expect(overdue.days_past_due).toBeGreaterThanOrEqual(10);
    expect(overdue.days_past_due).toBeLessThanOrEqual(14);
    expect(overdue.rule_class).toBe("special_mention");
    // Its overdue part is the first month's interest: compound interest (复利) at the penalty rate.
    const penalty = await handle.db.selectFrom("loan_accruals").select(({ fn }) => fn.sum<string>(sql`penalty_fen + compound_fen`).as("p")).where("loan_id", "=", overdue.id).executeTakeFirstOrThrow();
    expect(Number(penalty.p)).toBeGreaterThan(0);
    const repayments = await handle.db.selectFrom("loan_repayments").select(["loan_id", "source"]).execute();
    expect(repayments).toEqual(expect.arrayContaining([{ loan_id: loans[0]!.id, source: "guarantee" }, { loan_id: loans[2]!.id, source: "auto_debit" }]));
    const waiting = await handle.db.selectFrom("loan_applications").select(["status", "amount_fen"]).where("status", "=", "applied").execute();
    expect(waiting).toHaveLength(1);
    // No loan movement without a loan: every loan posting names a loan that exists.
    const stray = await handle.db
      .selectFrom("ledger_transfers")
      .select("reference")
      .where("kind", "like", "loan%")
      .where((eb) => eb.not(eb.exists(eb.selectFrom("loans").select("loans.id").whereRef(sql`'loan:' || loans.id::text`, "=", eb.ref("ledger_transfers.reference")))))
      .execute();
    expect(stray).toEqual([]);
    const audits = await handle.db.selectFrom("audit_events").select("action").execute();
    expect(audits.filter((a) => a.action === "organization.created")).toHaveLength(orgs.length);
  });
});
