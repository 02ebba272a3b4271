import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger } from "../../app/logger.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createHttpEpayGateway, type EpayGateway, type StatementRow } from "../../app/domain/payments/epay/index.server";
import { createPayment, refundPayment, type CreatePaymentInput } from "../../app/domain/payments/payments.server";
import { registerSettlementAccount, sendVerificationDeposit } from "../../app/domain/settlement/accounts.server";
import {
  getStatementDay,
  importStatement,
  listMismatches,
  listStatementDays,
  mismatchesCsv,
  resolveMismatch,
  type ReconciliationActor,
} from "../../app/domain/settlement/reconciliation.server";
import { applyRateBps } from "../../app/domain/shared/money";
import type { Actor } from "../../app/domain/shared/audit.server";
import { SANDBOX_FEES, statementChaosPlan } from "../../app/sandbox/epay/sandbox.server";
import { createReconcileStatementStep } from "../../workflows/reconciliation";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, unique } from "../support/factories";
import { apiLogin, expectError } from "./api.fixtures";
import { createPaymentsWorld, expectLedgerClean, loggedIn, payOnSandboxPage, settleDeliveries, startPaymentsServer, type PaymentsServer, type PaymentsWorld } from "./payments.fixtures";

/**
 * Reconciliation (issue 15, decision 027): the gateway's daily statement, fetched over HTTP from
 * the app's own sandbox, imported and matched against our payments, refunds, payouts and their
 * ledger transfers. A clean day shows zero; the sandbox's chaos mode spoils a day with one error of
 * each kind, each listed once; re-importing changes nothing; an operator resolves with a note and
 * the day closes; the fee is booked once; only the bank's operations see any of it.
 */
describe("settlement reconciliation", () => {
  let t: TestDatabase;
  let w: PaymentsWorld;
  let server: PaymentsServer;
  let chaos: PaymentsServer;
  let bank: ReconciliationActor;
  let bankActor: Actor;
  const DAY_MS = 86_400_000;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    w = await createPaymentsWorld(t.db);
    server = await startPaymentsServer(t.db);
    // The same gateway's data, served by a sandbox whose statements are spoilt (EPAY_SANDBOX_CHAOS=1).
    chaos = await startPaymentsServer(t.db, { chaos: true });
    const ops = await createUser(t.db, { memberships: [[w.bankId, "operations"]] });
    bank = { organizationId: w.bankId, kind: "bank", roles: ["operations"], userId: ops.id };
    bankActor = { userId: ops.id, organizationId: w.bankId };
  }, 240_000);
  afterAll(async () => {
    await chaos?.close();
    await server?.close();
    await t?.close();
  });

  const gatewayOf = (s: PaymentsServer): EpayGateway =>
    createHttpEpayGateway({ baseUrl: s.config.epayBaseUrl, merchantId: s.config.epayMerchantId, secret: s.config.epaySecret, maxAttempts: 1 });
  const shanghaiDay = (at: Date) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(at);

  function input(amountFen: number): CreatePaymentInput {
    return {
      payerOrganizationId: w.payer.id,
      payeeOrganizationId: w.payee.id,
      purpose: "order",
      reference: `order:${randomUUID()}`,
      amountFen,
      description: "订单付款",
      returnPath: "/orders",
      idempotencyKey: `pay-${randomBytes(4).toString("hex")}`,
    };
  }

  /** A payment paid on the sandbox's page and its callback applied (captured in our ledger). */
  async function paid(amountFen: number) {
    const created = await createPayment(t.db, { userId: null, organizationId: w.payer.id }, input(amountFen), server.deps());
    await payOnSandboxPage(created.payUrl, "pay");
    await settleDeliveries(t.db, created.payment.gatewayPaymentId!);
    const row = await t.db.selectFrom("payments").select(["id", "status", "gateway_payment_id"]).where("id", "=", created.payment.id).executeTakeFirstOrThrow();
    expect(row.status).not.toBe("created");
    return { id: row.id, gatewayPaymentId: row.gateway_payment_id!, amountFen };
  }

  /**
   * Move payments to another day on both sides, the gateway's event and our record, as if they had
   * been paid then: what a statement of a past day is about.
   */
  async function moveTo(payments: { id: string; gatewayPaymentId: string }[], day: string) {
    for (const [i, p] of payments.entries()) {
      const at = new Date(Date.parse(`${day}T10:00:00+08:00`) + i * 60_000);
      await t.db.updateTable("sandbox_epay_events").set({ occurred_at: at }).where("gateway_payment_id", "=", p.gatewayPaymentId).where("type", "=", "payment.succeeded").execute();
      await t.db.updateTable("payments").set({ succeeded_at: at }).where("id", "=", p.id).execute();
    }
  }

  const feeTransfers = (date: string) =>
    t.db
      .selectFrom("ledger_transfers as x")
      .innerJoin("ledger_accounts as d", "d.id", "x.debit_account_id")
      .innerJoin("ledger_accounts as c", "c.id", "x.credit_account_id")
      .select(["x.amount_fen", "d.code as debit", "c.code as credit"])
      .where("x.idempotency_key", "=", `reconcile:fees:${date}`)
      .execute();

  it("a clean day, imported by the scheduled step: every movement with its fee, zero mismatches, closed, the fee booked once; asking again changes nothing", async () => {
    const a = await paid(12_345);
    await paid(2_000);
    await refundPayment(t.db, { userId: null, organizationId: w.payee.id }, { paymentId: a.id, amountFen: 345, reason: "少发一件", idempotencyKey: unique("refund") }, server.deps());
    await settleDeliveries(t.db);
    const merchant = await createOrg(t.db, { kind: "merchant", name: unique("杭州李记服饰商行") });
    await registerSettlementAccount(
      t.db,
      { userId: null, organizationId: merchant.id },
      { organizationId: merchant.id, kind: "merchant", roles: ["owner"] },
      { bankName: "中国工商银行", branchName: "杭州分行", accountNumber: `6222${String(Date.now()).slice(-10)}1`, accountName: merchant.name },
      new Date(),
    );
    expect(await sendVerificationDeposit(t.db, gatewayOf(server), merchant.id, new Date())).toBe("sent");

    const day = shanghaiDay(new Date());
    const raw = await gatewayOf(server).statement(day);
    expect(raw.csv.split("\n")[0]).toBe("gateway_id,gateway_payment_id,merchant_reference,type,gross_fen,fee_fen,net_fen,occurred_at");
    const byType = (type: StatementRow["type"]) => raw.rows.filter((r) => r.type === type);
    expect(byType("payment.succeeded").map((r) => [r.amountFen, r.feeFen, r.netFen])).toEqual([
      [12_345, 12, 12_333], // 12.345 fen → 12 (half-even)
      [2_000, 2, 1_998],
    ]);
    expect(byType("refund.succeeded").map((r) => [r.amountFen, r.feeFen, r.netFen, r.gatewayId.startsWith("ep_")])).toEqual([[345, 0, 345, false]]);
    const payout = byType("payout.succeeded");
    expect(payout).toHaveLength(1);
    expect(payout[0]).toMatchObject({ feeFen: SANDBOX_FEES.payoutFeeFen, gatewayPaymentId: "", netFen: payout[0].amountFen + SANDBOX_FEES.payoutFeeFen });
    expect(payout[0].gatewayId).toMatch(/^po_/);

    // The scheduled step imports yesterday: run it "tomorrow".
    const step = createReconcileStatementStep(() => gatewayOf(server));
    const tomorrowNoon = new Date(Date.parse(`${day}T12:00:00+08:00`) + DAY_MS);
    await step({ db: t.db, logger, now: () => tomorrowNoon }, {});

    const summary = await getStatementDay(t.db, bank, day);
    expect(summary).toMatchObject({ date: day, lineCount: 4, open: 0, resolved: 0, feeFen: 12 + 2 + SANDBOX_FEES.payoutFeeFen });
    expect(summary.closedAt).not.toBeNull();
    expect(Object.values(summary.byKind).every((n) => n === 0)).toBe(true);
    expect(await listMismatches(t.db, bank, day)).toEqual([]);
    expect(await feeTransfers(day)).toEqual([{ amount_fen: 12 + 2 + SANDBOX_FEES.payoutFeeFen, debit: "gateway_fees", credit: "gateway_clearing" }]);

    // Again, by the step and by hand with the same file: nothing new.
    await step({ db: t.db, logger, now: () => tomorrowNoon }, {});
    const again = await importStatement(t.db, await gatewayOf(server).statement(day), tomorrowNoon);
    expect(again).toMatchObject({ imported: false, lineCount: 4, mismatches: 0 });
    expect(await feeTransfers(day)).toHaveLength(1);
    const lines = await t.db.selectFrom("statement_lines").select((eb) => eb.fn.countAll<number>().as("n")).where("statement_date", "=", day).executeTakeFirstOrThrow();
    expect(Number(lines.n)).toBe(4);
    expect(await verifyLedger(t.db)).toEqual([]);
  }, 120_000);

  it("a spoilt statement: each kind listed exactly once, a day-late line listed as late on the next day only; re-import idempotent; another file for the day refused", async () => {
    const D1 = "2026-01-14";
    const D = "2026-01-15";
    const before = await Promise.all([1_001, 1_002, 1_003, 1_004, 1_005].map((fen) => paid(fen)));
    await moveTo(before, D1);
    const on = await Promise.all([2_001, 2_002, 2_003, 2_004, 2_005].map((fen) => paid(fen)));
    await moveTo(on, D);

    const gw = gatewayOf(chaos);
    const s1 = await gw.statement(D1);
    const s2 = await gw.statement(D);
    const clean1 = await gatewayOf(server).statement(D1);
    const clean2 = await gatewayOf(server).statement(D);
    const plan1 = statementChaosPlan(clean1.rows);
    const plan2 = statementChaosPlan(clean2.rows);
    const refOf = (rows: StatementRow[], gatewayId?: string) => rows.find((r) => r.gatewayId === gatewayId)!.merchantReference;

    expect((await importStatement(t.db, s1, new Date())).mismatches).toBe(5);
    const r2 = await importStatement(t.db, s2, new Date());
    expect(r2.mismatches).toBe(6);

    const kinds = async (date: string) =>
      (await listMismatches(t.db, bank, date)).map((m) => [m.kind, m.merchantReference, m.status]).sort((x, y) => String(x).localeCompare(String(y)));
    const sorted = (rows: string[][]) => rows.sort((x, y) => String(x).localeCompare(String(y)));
    expect(await kinds(D1)).toEqual(
      sorted([
        ["missing_theirs", refOf(clean1.rows, plan1.dropped), "open"],
        ["amount_differs", refOf(clean1.rows, plan1.inflated), "open"],
        ["duplicate", refOf(clean1.rows, plan1.duplicated), "open"],
        ["missing_ours", "chaos-20260114", "open"],
      ]),
    );
    expect(await kinds(D)).toEqual(
      sorted([
        ["missing_theirs", refOf(clean2.rows, plan2.dropped), "open"],
        ["amount_differs", refOf(clean2.rows, plan2.inflated), "open"],
        ["duplicate", refOf(clean2.rows, plan2.duplicated), "open"],
        ["missing_theirs", refOf(clean2.rows, plan2.late), "open"],
        ["missing_ours", "chaos-20260115", "open"],
        ["late", refOf(clean1.rows, plan1.late), "open"],
      ]),
    );
    // Open once across the days: the late line is not also still missing on D-1.
    const open = await t.db.selectFrom("reconcile_mismatches").select(["merchant_reference"]).where("status", "=", "open").execute();
    expect(new Set(open.map((o) => o.merchant_reference)).size).toBe(open.length);

    const amountRow = (await listMismatches(t.db, bank, D)).find((m) => m.kind === "amount_differs")!;
    expect(amountRow.theirsFen).toBe(amountRow.oursFen! + 1);
    const dup = (await listMismatches(t.db, bank, D)).find((m) => m.kind === "duplicate")!;
    expect(dup.theirsLines).toBe(2);

    // Same files again: nothing changes. Another file for an imported day: refused, naming the date.
    const count = async () => Number((await t.db.selectFrom("reconcile_mismatches").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);
    const n = await count();
    expect(await importStatement(t.db, await gw.statement(D), new Date())).toMatchObject({ imported: false });
    expect(await importStatement(t.db, await gw.statement(D1), new Date())).toMatchObject({ imported: false });
    expect(await count()).toBe(n);
    await expect(importStatement(t.db, clean2, new Date())).rejects.toMatchObject({ code: "conflict", fields: { date: expect.any(String) } });

    // The fee of each day booked once, from the statement's own fee column.
    expect((await feeTransfers(D)).map((x) => x.amount_fen)).toEqual([s2.rows.reduce((sum, r) => sum + r.feeFen, 0)]);
    expect(s2.rows.find((r) => r.merchantReference === "chaos-20260115")!.feeFen).toBe(applyRateBps(4_321, SANDBOX_FEES.paymentRateBps));

    const days = await listStatementDays(t.db, bank);
    const dayD = days.find((d) => d.date === D)!;
    expect(dayD).toMatchObject({ open: 6, closedAt: null, byKind: { missing_ours: 1, missing_theirs: 2, amount_differs: 1, duplicate: 1, late: 1 } });
    expect(days.find((d) => d.date === D1)).toMatchObject({ open: 4, byKind: { missing_theirs: 1, late: 0 } });

    const csv = await mismatchesCsv(t.db, bank, D);
    expect(csv.split("\r\n")[0]).toBe("\ufeffdate,kind,type,merchant_reference,gateway_id,theirs_fen,ours_fen,theirs_lines,ours_at,status,note");
    expect(csv).toContain("chaos-20260115");
    expect(await verifyLedger(t.db)).toEqual([]);
  }, 120_000);

  it("an operator resolves each mismatch with a note (audited); the day closes with the last; other kinds get not_found, other bank roles forbidden", async () => {
    const D = "2026-01-15";
    const open = await listMismatches(t.db, bank, D);
    expect(open.length).toBe(6);

    await expect(resolveMismatch(t.db, bank, bankActor, { mismatchId: open[0].id, note: "   " }, new Date())).rejects.toMatchObject({ code: "validation", fields: { note: "required" } });
    await expect(resolveMismatch(t.db, bank, bankActor, { mismatchId: open[0].id, note: "x".repeat(1_001) }, new Date())).rejects.toMatchObject({ fields: { note: expect.any(String) } });
    await expect(resolveMismatch(t.db, bank, bankActor, { mismatchId: randomUUID(), note: "n" }, new Date())).rejects.toMatchObject({ code: "not_found" });

    // Outsiders: a dealer's owner, the bank's credit officer: 404 on reading and resolving.
    const dealer: ReconciliationActor = { organizationId: w.payer.id, kind: "dealer", roles: ["owner"], userId: null };
    const officer: ReconciliationActor = { organizationId: w.bankId, kind: "bank", roles: ["credit_officer"], userId: null };
    for (const [who, code] of [
      [dealer, "not_found"],
      [officer, "forbidden"],
    ] as const) {
      await expect(listStatementDays(t.db, who)).rejects.toMatchObject({ code });
      await expect(listMismatches(t.db, who, D)).rejects.toMatchObject({ code });
      await expect(resolveMismatch(t.db, who, { userId: null, organizationId: who.organizationId }, { mismatchId: open[0].id, note: "n" }, new Date())).rejects.toMatchObject({ code });
    }
    const admin: ReconciliationActor = { organizationId: w.bankId, kind: "bank", roles: ["platform_admin"], userId: null };
    expect(await listMismatches(t.db, admin, D)).toHaveLength(6);

    for (const [i, m] of open.entries()) {
      const { closed } = await resolveMismatch(t.db, bank, bankActor, { mismatchId: m.id, note: `与网关核实：${m.kind} 已处理` }, new Date());
      expect(closed).toBe(i === open.length - 1);
      if (!closed) expect((await getStatementDay(t.db, bank, D)).closedAt).toBeNull();
    }
    const day = await getStatementDay(t.db, bank, D);
    expect(day).toMatchObject({ open: 0, resolved: 6 });
    expect(day.closedAt).not.toBeNull();
    await expect(resolveMismatch(t.db, bank, bankActor, { mismatchId: open[0].id, note: "again" }, new Date())).rejects.toMatchObject({ code: "invalid_state" });

    const audits = await t.db
      .selectFrom("audit_events")
      .select(["action", "actor_user_id", "after"])
      .where("action", "in", ["reconciliation.mismatch_resolved", "reconciliation.day_closed"])
      .orderBy("id")
      .execute();
    expect(audits.filter((a) => a.action === "reconciliation.mismatch_resolved")).toHaveLength(6);
    expect(audits.every((a) => a.actor_user_id === bank.userId)).toBe(true);
    expect(audits.at(-1)).toMatchObject({ action: "reconciliation.day_closed", after: { date: D } });
    expect((await listMismatches(t.db, bank, D)).every((m) => m.status === "resolved" && m.note?.startsWith("与网关核实"))).toBe(true);

    await settleDeliveries(t.db);
    await expectLedgerClean(t.db);
  }, 120_000);
  it("the bank's page: days with counts, a day's mismatches, resolve by a plain form with CSRF (note required, named), CSV; 404 for other kinds, 403 for other bank roles", async () => {
    const D1 = "2026-01-14";
    const opsUser = await createUser(t.db, { memberships: [[w.bankId, "operations"]] });
    const client = await loggedIn(server.url, opsUser);
    const days = await client.get("/settlement/reconciliation");
    expect(days.status).toBe(200);
    expect(days.body).toContain(`data-testid="reconciliation-day-${D1}" data-open="4"`);
    const day = await client.get(`/settlement/reconciliation?date=${D1}`);
    expect(day.status).toBe(200);
    for (const kind of ["missing_theirs", "amount_differs", "duplicate", "missing_ours"]) expect(day.body).toContain(`data-testid="mismatch-${kind}"`);
    expect(day.body).toContain("本行缺记");
    expect((await client.get("/settlement/reconciliation?date=2026-02-30")).status).toBe(400);
    expect((await client.get("/settlement/reconciliation?date=2020-01-01")).status).toBe(404);

    const [first] = await listMismatches(t.db, bank, D1);
    const csrf = await client.csrfFrom(`/settlement/reconciliation?date=${D1}`);
    const refused = await client.post(`/settlement/reconciliation?date=${D1}`, { csrf, intent: "resolve", mismatch_id: first.id, note: " " });
    expect(refused.status).toBe(422);
    expect(refused.body).toContain('data-problem="required"');
    const noCsrf = await client.post(`/settlement/reconciliation?date=${D1}`, { intent: "resolve", mismatch_id: first.id, note: "查明" });
    expect(noCsrf.status).toBeGreaterThanOrEqual(400);
    const done = await client.post(`/settlement/reconciliation?date=${D1}`, { csrf, intent: "resolve", mismatch_id: first.id, note: "已与网关核实" });
    expect(done.status).toBe(302);
    expect((await listMismatches(t.db, bank, D1)).find((m) => m.id === first.id)).toMatchObject({ status: "resolved", note: "已与网关核实" });

    const csv = await client.get(`/settlement/reconciliation.csv?date=${D1}`);
    expect(csv.status).toBe(200);
    expect(csv.body).toContain("已与网关核实");
    expect(csv.body).toContain("chaos-20260114");

    const dealerUser = await createUser(t.db, { memberships: [[w.payer.id, "owner"]] });
    const officerUser = await createUser(t.db, { memberships: [[w.bankId, "credit_officer"]] });
    // Another kind of organisation: 404; the bank's credit officer: 403 (the roles that may are named).
    for (const [user, status] of [
      [dealerUser, 404],
      [officerUser, 403],
    ] as const) {
      const other = await loggedIn(server.url, user);
      expect((await other.get("/settlement/reconciliation")).status).toBe(status);
      expect((await other.get(`/settlement/reconciliation?date=${D1}`)).status).toBe(status);
      expect((await other.get(`/settlement/reconciliation.csv?date=${D1}`)).status).toBe(status);
    }
  }, 120_000);
  it("the bank's API: statement days with their counts, a day and its mismatches; 404 for other kinds and unknown days, 403 for other bank roles, 422 for a bad limit", async () => {
    const D = "2026-01-15";
    const ops = await createUser(t.db, { memberships: [[w.bankId, "platform_admin"]] });
    const api = await apiLogin(server.url, ops.email, ops.password);
    const days = await api.get<{ data: { date: string; open: number; resolved: number; closed_at: string | null; by_kind: Record<string, number> }[] }>("/api/v1/settlement/statement-days?limit=10");
    expect(days.status, JSON.stringify(days.body)).toBe(200);
    expect(days.body.data.find((d) => d.date === D)).toMatchObject({ open: 0, resolved: 6, closed_at: expect.any(String), by_kind: { late: 1, missing_ours: 1 } });
    const one = await api.get<{ day: { date: string }; mismatches: { kind: string; status: string; note: string | null }[] }>(`/api/v1/settlement/statement-days/${D}`);
    expect(one.status).toBe(200);
    expect(one.body.day.date).toBe(D);
    expect(one.body.mismatches.map((m) => m.kind).sort()).toEqual(["amount_differs", "duplicate", "late", "missing_ours", "missing_theirs", "missing_theirs"]);
    expect(one.body.mismatches.every((m) => m.status === "resolved" && m.note)).toBe(true);
    expectError(await api.get("/api/v1/settlement/statement-days/2020-01-01"), 404);
    expect((await api.get("/api/v1/settlement/statement-days?limit=0")).status).toBe(422);

    const dealer = await createUser(t.db, { memberships: [[w.payer.id, "owner"]] });
    const dealerApi = await apiLogin(server.url, dealer.email, dealer.password);
    expectError(await dealerApi.get("/api/v1/settlement/statement-days"), 404);
    expectError(await dealerApi.get(`/api/v1/settlement/statement-days/${D}`), 404);
    const officer = await createUser(t.db, { memberships: [[w.bankId, "credit_officer"]] });
    expectError(await (await apiLogin(server.url, officer.email, officer.password)).get("/api/v1/settlement/statement-days"), 403);
  }, 60_000);
});
