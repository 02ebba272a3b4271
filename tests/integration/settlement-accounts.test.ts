import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createHttpEpayGateway } from "../../app/domain/payments/epay/index.server";
import {
  confirmVerificationDeposit,
  getSettlementAccount,
  registerSettlementAccount,
  requireVerifiedSettlementAccount,
  sendVerificationDeposit,
  type SettlementActor,
} from "../../app/domain/settlement/accounts.server";
import { DomainError } from "../../app/domain/shared/errors";
import type { Actor } from "../../app/domain/shared/audit.server";
import type { OrganizationKind, Role } from "../../db/schema";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, unique } from "../support/factories";
import { apiLogin, expectError } from "./api.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * Settlement accounts (issue 15, first piece): registration with the name rule, the small random
 * deposit through the sandbox gateway over HTTP (and its booking), verification with the lock-out
 * on an injected clock, change of account, who sees the number, tenancy, the API's refusals, and
 * the books afterwards. Real PostgreSQL; the sandbox gateway is the app's own, reached over HTTP.
 */
describe("settlement accounts", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  const DAY_MS = 86_400_000;

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
    const bank = await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    if (!bank) await createOrg(t.db, { kind: "bank", name: "测试银行" });
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  const gateway = () => createHttpEpayGateway({ baseUrl: server.config.epayBaseUrl, merchantId: server.config.epayMerchantId, secret: server.config.epaySecret, maxAttempts: 1 });
  const accountNumber = () => `6222${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}1`;

  async function org(kind: OrganizationKind = "merchant") {
    const o = await createOrg(t.db, { kind, name: unique("杭州李记服饰商行") });
    const owner = await createUser(t.db, { memberships: [[o.id, "owner"]] });
    const who = (roles: Role[] = ["owner"]): SettlementActor => ({ organizationId: o.id, kind, roles });
    const actor: Actor = { userId: owner.id, organizationId: o.id };
    return { ...o, owner, who, actor };
  }

  const row = (organizationId: string) => t.db.selectFrom("settlement_accounts").selectAll().where("organization_id", "=", organizationId).executeTakeFirstOrThrow();
  const audits = (organizationId: string) =>
    t.db.selectFrom("audit_events").select(["action", "before", "after"]).where("organization_id", "=", organizationId).where("entity_type", "=", "settlement_account").orderBy("id").execute();
  const depositTransfers = (accountId: string) =>
    t.db
      .selectFrom("ledger_transfers as x")
      .innerJoin("ledger_accounts as d", "d.id", "x.debit_account_id")
      .innerJoin("ledger_accounts as c", "c.id", "x.credit_account_id")
      .select(["x.amount_fen", "x.idempotency_key", "d.kind as debit_kind", "c.kind as credit_kind"])
      .where("x.reference", "=", `settlement_account:${accountId}`)
      .execute();

  /** Registered and its deposit sent, through the domain (the pages and API are tried below). */
  async function registered(o: Awaited<ReturnType<typeof org>>, number = accountNumber()) {
    await registerSettlementAccount(t.db, o.actor, o.who(), { bankName: "中国工商银行", branchName: "杭州分行营业部", accountNumber: number, accountName: o.name }, new Date());
    expect(await sendVerificationDeposit(t.db, gateway(), o.id, new Date())).toBe("sent");
    return row(o.id);
  }

  it("refuses an account name other than the organisation's registered name, naming the field; accepts it with spaces around", async () => {
    const o = await org();
    const attempt = registerSettlementAccount(t.db, o.actor, o.who(), { bankName: "中国工商银行", branchName: "杭州分行", accountNumber: accountNumber(), accountName: "别的公司" }, new Date());
    await expect(attempt).rejects.toBeInstanceOf(DomainError);
    await expect(attempt).rejects.toMatchObject({ code: "validation", fields: { account_name: "must_match_organization_name" } });
    await expect(attempt).rejects.toThrow(/account_name must equal the organisation's registered name/);
    // Every bad field named at once, nothing written.
    await expect(registerSettlementAccount(t.db, o.actor, o.who(), { bankName: "x", branchName: "杭州分行", accountNumber: "12ab", accountName: "" }, new Date())).rejects.toMatchObject({
      fields: { bank_name: "length", account_number: "digits", account_name: "required" },
    });
    expect(await t.db.selectFrom("settlement_accounts").select("id").where("organization_id", "=", o.id).execute()).toEqual([]);

    const { account, changed } = await registerSettlementAccount(
      t.db,
      o.actor,
      o.who(),
      { bankName: " 中国工商银行 ", branchName: "杭州分行", accountNumber: "6222 0212 3456 7890 123", accountName: `  ${o.name}  ` },
      new Date(),
    );
    expect(changed).toBe(true);
    expect(account).toMatchObject({ status: "pending_deposit", accountName: o.name, bankName: "中国工商银行", accountNumber: "6222021234567890123", revision: 1 });
  });

  it("from the page: registers, sends a 1–99 fen deposit the sandbox bank statement shows, books it bank_expenses → gateway_clearing; the right amount verifies", async () => {
    const o = await org("core_enterprise");
    const client = await loggedIn(server.url, o.owner);
    const empty = await client.get("/settlement/account");
    expect(empty.status).toBe(200);
    expect(empty.body).toContain('data-testid="settlement-none"');

    // The name refused on the page too, next to its field, with the input kept.
    const csrf = await client.csrfFrom("/settlement/account");
    const number = accountNumber();
    const refused = await client.post("/settlement/account", { csrf, intent: "save", bank_name: "中国建设银行", branch_name: "上海浦东支行", account_number: number, account_name: "另一家公司" });
    expect(refused.status).toBe(422);
    expect(refused.body).toContain('data-problem="must_match_organization_name"');
    expect(refused.body).toContain(`账户名称须与本机构登记名称“${o.name}”一致`);
    expect(refused.body).toContain('value="另一家公司"');

    const saved = await client.post("/settlement/account", { csrf, intent: "save", bank_name: "中国建设银行", branch_name: "上海浦东支行", account_number: number, account_name: o.name });
    expect(saved.status).toBe(302);
    const r = await row(o.id);
    expect(r).toMatchObject({ status: "awaiting_confirmation", revision: 1, account_number: number });
    expect(r.deposit_fen).toBeGreaterThanOrEqual(1);
    expect(r.deposit_fen).toBeLessThanOrEqual(99);
    expect(await depositTransfers(r.id)).toEqual([
      { amount_fen: r.deposit_fen, idempotency_key: `settlement:deposit:${r.deposit_reference}`, debit_kind: "bank_expenses", credit_kind: "gateway_clearing" },
    ]);
    const payouts = await t.db.selectFrom("sandbox_epay_payouts").select(["amount_fen", "status", "account_name", "gateway_payout_id"]).where("account_number", "=", number).execute();
    expect(payouts).toEqual([{ amount_fen: r.deposit_fen, status: "succeeded", account_name: o.name, gateway_payout_id: r.gateway_payout_id }]);
    // Sending again (a retry) neither pays nor books twice.
    expect(await sendVerificationDeposit(t.db, gateway(), o.id, new Date())).toBe("already_sent");
    expect(await gateway().payout({ merchantPayoutReference: r.deposit_reference, amountFen: r.deposit_fen, bankName: "中国建设银行", accountNumber: number, accountName: o.name, remark: "retry" })).toMatchObject({
      gateway_payout_id: r.gateway_payout_id,
    });
    expect(await t.db.selectFrom("sandbox_epay_payouts").select("gateway_payout_id").where("account_number", "=", number).execute()).toHaveLength(1);

    // The organisation reads the deposit on its (sandbox) bank statement, linked from the page.
    const page = await client.get("/settlement/account");
    expect(page.body).toContain('data-status="awaiting_confirmation"');
    const link = /href="([^"]*\/sandbox\/epay\/bank-statement\/[^"]+)"[^>]*data-testid="sandbox-statement-link"/.exec(page.body)?.[1];
    expect(link).toBeTruthy();
    const statement = await fetch(link!.replaceAll("&amp;", "&"));
    expect(statement.status).toBe(200);
    expect(await statement.text()).toContain(`data-amount-fen="${r.deposit_fen}"`);
    // Without its token the statement does not exist.
    expect((await fetch(`${server.url}/sandbox/epay/bank-statement/${number}`)).status).toBe(404);

    const verified = await client.post("/settlement/account", { csrf, intent: "verify", amount: (r.deposit_fen / 100).toFixed(2) });
    expect(verified.status).toBe(302);
    expect(await row(o.id)).toMatchObject({ status: "verified", failed_attempts: 0 });
    expect((await client.get("/settlement/account")).body).toContain('data-testid="settlement-verified"');
    expect(await requireVerifiedSettlementAccount(t.db, o.id)).toMatchObject({ accountNumber: number, revision: 1 });
    expect((await audits(o.id)).map((a) => a.action)).toEqual(["settlement_account.registered", "settlement_account.verified"]);
  });

  it("a wrong amount is refused naming amount_fen and counted; out-of-range is refused and not counted", async () => {
    const o = await org();
    const r = await registered(o);
    const wrong = r.deposit_fen === 99 ? 98 : r.deposit_fen + 1;
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), wrong, new Date())).rejects.toMatchObject({ code: "validation", fields: { amount_fen: "mismatch" } });
    expect(await row(o.id)).toMatchObject({ status: "awaiting_confirmation", failed_attempts: 1 });
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), 100, new Date())).rejects.toMatchObject({ fields: { amount_fen: "range" } });
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), 0, new Date())).rejects.toMatchObject({ fields: { amount_fen: "range" } });
    expect((await row(o.id)).failed_attempts).toBe(1);
    expect((await getSettlementAccount(t.db, o.who(), new Date()))!.attemptsLeft).toBe(2);
    await expect(requireVerifiedSettlementAccount(t.db, o.id)).rejects.toMatchObject({ fields: { settlement_account: "unverified" } });

    // On the page: the problem next to the field, with the tries left.
    const client = await loggedIn(server.url, o.owner);
    const csrf = await client.csrfFrom("/settlement/account");
    const page = await client.post("/settlement/account", { csrf, intent: "verify", amount: (wrong / 100).toFixed(2) });
    expect(page.status).toBe(422);
    expect(page.body).toContain('data-problem="mismatch"');
    expect(page.body).toContain("金额与打款不符，还可尝试 1 次");
    expect((await row(o.id)).failed_attempts).toBe(2);
  });

  it("three wrong amounts lock verification for 24 hours by the injected clock; then the right amount verifies", async () => {
    const o = await org("market_operator");
    const r = await registered(o);
    const wrong = r.deposit_fen === 1 ? 2 : r.deposit_fen - 1;
    const t0 = new Date("2026-12-08T02:00:00Z");
    for (const n of [1, 2]) {
      await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), wrong, new Date(t0.getTime() + n * 60_000))).rejects.toMatchObject({ fields: { amount_fen: "mismatch" } });
    }
    const third = new Date(t0.getTime() + 3 * 60_000);
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), wrong, third)).rejects.toMatchObject({ code: "invalid_state", fields: { amount_fen: "locked" } });
    const locked = await row(o.id);
    expect(locked).toMatchObject({ failed_attempts: 3, status: "awaiting_confirmation" });
    expect(locked.locked_until!.getTime()).toBe(third.getTime() + DAY_MS);

    // Even the right amount waits out the lock.
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), r.deposit_fen, new Date(third.getTime() + DAY_MS - 1_000))).rejects.toMatchObject({ fields: { amount_fen: "locked" } });
    expect((await getSettlementAccount(t.db, o.who(), new Date(third.getTime() + DAY_MS - 1_000)))!.lockedUntil).toEqual(locked.locked_until);
    expect((await row(o.id)).status).toBe("awaiting_confirmation");

    // After 24 hours the tries are back: one wrong counts as the first again, the right one verifies.
    const after = new Date(third.getTime() + DAY_MS + 1_000);
    expect(await getSettlementAccount(t.db, o.who(), after)).toMatchObject({ lockedUntil: null, attemptsLeft: 3 });
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), wrong, after)).rejects.toMatchObject({ fields: { amount_fen: "mismatch" } });
    expect(await row(o.id)).toMatchObject({ failed_attempts: 1, locked_until: null });
    expect(await confirmVerificationDeposit(t.db, o.actor, o.who(), r.deposit_fen, after)).toMatchObject({ status: "verified" });
    expect((await audits(o.id)).map((a) => a.action)).toEqual([
      "settlement_account.registered",
      "settlement_account.verification_failed",
      "settlement_account.verification_failed",
      "settlement_account.locked",
      "settlement_account.verification_failed",
      "settlement_account.verified",
    ]);
  });

  it("changing a verified account needs the verification again, sends a new deposit and is audited (number masked in the audit)", async () => {
    const o = await org();
    const first = await registered(o);
    await confirmVerificationDeposit(t.db, o.actor, o.who(), first.deposit_fen, new Date());
    // The same details again change nothing.
    expect((await registerSettlementAccount(t.db, o.actor, o.who(), { bankName: "中国工商银行", branchName: "杭州分行营业部", accountNumber: first.account_number, accountName: o.name }, new Date())).changed).toBe(false);
    expect((await row(o.id)).status).toBe("verified");

    const newNumber = accountNumber();
    const second = await registered(o, newNumber);
    expect(second).toMatchObject({ status: "awaiting_confirmation", revision: 2, account_number: newNumber, verified_at: null, failed_attempts: 0 });
    expect(second.deposit_reference).not.toBe(first.deposit_reference);
    await expect(requireVerifiedSettlementAccount(t.db, o.id)).rejects.toMatchObject({ fields: { settlement_account: "unverified" } });
    // Both deposits booked, once each.
    expect((await depositTransfers(first.id)).map((x) => x.idempotency_key).sort()).toEqual([`settlement:deposit:${first.deposit_reference}`, `settlement:deposit:${second.deposit_reference}`].sort());

    const changed = (await audits(o.id)).find((a) => a.action === "settlement_account.changed");
    expect(changed).toBeDefined();
    const before = (typeof changed!.before === "string" ? JSON.parse(changed!.before) : changed!.before) as Record<string, unknown>;
    const after = (typeof changed!.after === "string" ? JSON.parse(changed!.after) : changed!.after) as Record<string, unknown>;
    expect(before).toMatchObject({ account_number: `**** **** ${first.account_number.slice(-4)}`, status: "verified", revision: 1 });
    expect(after).toMatchObject({ account_number: `**** **** ${newNumber.slice(-4)}`, status: "pending_deposit", revision: 2 });
    expect(JSON.stringify([before, after])).not.toContain(first.account_number);
  });

  it("a refused deposit (a closed account) leaves the account deposit_failed with the bank's reason, and books nothing", async () => {
    const o = await org();
    await registerSettlementAccount(t.db, o.actor, o.who(), { bankName: "中国银行", branchName: "杭州分行", accountNumber: "62170000123450000", accountName: o.name }, new Date());
    expect(await sendVerificationDeposit(t.db, gateway(), o.id, new Date())).toBe("failed");
    const r = await row(o.id);
    expect(r).toMatchObject({ status: "deposit_failed" });
    expect(r.deposit_failure).toMatch(/account closed/);
    expect(await depositTransfers(r.id)).toEqual([]);
    await expect(confirmVerificationDeposit(t.db, o.actor, o.who(), r.deposit_fen, new Date())).rejects.toMatchObject({ fields: { amount_fen: "no_deposit" } });
  });

  it("a gateway that does not answer leaves the deposit pending and unbooked; sending again later pays and books it once", async () => {
    const o = await org();
    await registerSettlementAccount(t.db, o.actor, o.who(), { bankName: "中国银行", branchName: "杭州分行", accountNumber: accountNumber(), accountName: o.name }, new Date());
    const dead = createHttpEpayGateway({ baseUrl: "http://127.0.0.1:9/sandbox/epay", merchantId: server.config.epayMerchantId, secret: server.config.epaySecret, timeoutMs: 500, maxAttempts: 1 });
    expect(await sendVerificationDeposit(t.db, dead, o.id, new Date())).toBe("unavailable");
    const pending = await row(o.id);
    expect(pending).toMatchObject({ status: "pending_deposit", gateway_payout_id: null });
    expect(await depositTransfers(pending.id)).toEqual([]);
    expect(await t.db.selectFrom("sandbox_epay_payouts").select("gateway_payout_id").where("merchant_payout_reference", "=", pending.deposit_reference).execute()).toEqual([]);

    // The page offers the retry; it pays and books once.
    const client = await loggedIn(server.url, o.owner);
    expect((await client.get("/settlement/account")).body).toContain('data-intent="resend"');
    const csrf = await client.csrfFrom("/settlement/account");
    expect((await client.post("/settlement/account", { csrf, intent: "resend" })).status).toBe(302);
    expect((await client.post("/settlement/account", { csrf, intent: "resend" })).status).toBe(302);
    expect((await row(o.id)).status).toBe("awaiting_confirmation");
    expect(await depositTransfers(pending.id)).toHaveLength(1);
    expect(await t.db.selectFrom("sandbox_epay_payouts").select("gateway_payout_id").where("merchant_payout_reference", "=", pending.deposit_reference).execute()).toHaveLength(1);
  });

  it("shows the number masked to a member without finance, owner or admin; never shows another organisation's account", async () => {
    const o = await org();
    const number = accountNumber();
    await registered(o, number);
    const viewer = await createUser(t.db, { memberships: [[o.id, "viewer"]] });
    const sales = await createUser(t.db, { memberships: [[o.id, "sales"]] });
    const finance = await createUser(t.db, { memberships: [[o.id, "finance"]] });

    for (const user of [viewer, sales]) {
      const client = await loggedIn(server.url, user);
      const page = await client.get("/settlement/account");
      expect(page.status).toBe(200);
      expect(page.body).toContain(`**** **** ${number.slice(-4)}`);
      expect(page.body).not.toContain(number);
      expect(page.body).not.toContain("bank-statement");
      expect(page.body).toContain('data-testid="settlement-no-permission"');
      const csrf = await client.csrfFrom("/settlement/account");
      const refused = await client.post("/settlement/account", { csrf, intent: "verify", amount: "0.01" });
      expect(refused.status).toBe(403);
      const api = await apiLogin(server.url, user.email, user.password);
      const got = await api.get<{ account_number: string | null; account_number_masked: string }>("/api/v1/settlement-account");
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ account_number: null, account_number_masked: `**** **** ${number.slice(-4)}` });
      expectError(await api.post("/api/v1/settlement-account/verify", { amount_fen: 1 }), 403);
    }
    const financeClient = await loggedIn(server.url, finance);
    expect((await financeClient.get("/settlement/account")).body).toContain(number);

    // Another merchant sees its own (none), never this one; over the API too.
    const stranger = await org();
    const strangerPage = await (await loggedIn(server.url, stranger.owner)).get("/settlement/account");
    expect(strangerPage.status).toBe(200);
    expect(strangerPage.body).toContain('data-testid="settlement-none"');
    expect(strangerPage.body).not.toContain(number.slice(-4) + "<");
    expect(strangerPage.body).not.toContain(number);
    const strangerApi = await apiLogin(server.url, stranger.owner.email, stranger.owner.password);
    expectError(await strangerApi.get("/api/v1/settlement-account"), 404, "not_found");
    expect(await getSettlementAccount(t.db, stranger.who(), new Date())).toBeNull();

    // Kinds without a settlement account: the page and API do not exist for them.
    for (const kind of ["bank", "buyer"] as const) {
      const other =
        kind === "bank"
          ? await t.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirstOrThrow()
          : await createOrg(t.db, { kind, name: unique(kind) });
      const user = await createUser(t.db, { memberships: [[other.id, "owner"]] });
      expect((await (await loggedIn(server.url, user)).get("/settlement/account")).status).toBe(404);
      expectError(await (await apiLogin(server.url, user.email, user.password)).get("/api/v1/settlement-account"), 404);
    }
  });

  it("over the API: refusals are 4xx naming the field; register, read, verify", async () => {
    const o = await org("dealer");
    const api = await apiLogin(server.url, o.owner.email, o.owner.password);
    expectError(await api.get("/api/v1/settlement-account"), 404, "not_found");
    const number = accountNumber();
    const body = { bank_name: "招商银行", branch_name: "深圳分行", account_number: number, account_name: o.name };

    const mismatch = expectError(await api.post("/api/v1/settlement-account", { ...body, account_name: "另一家公司" }), 422);
    expect(mismatch.fields).toMatchObject({ account_name: "must_match_organization_name" });
    expect(mismatch.message).toContain("account_name");
    expect(expectError(await api.post("/api/v1/settlement-account", { ...body, account_number: "12-34" }), 422).fields).toMatchObject({ account_number: "digits" });
    expect(Object.keys(expectError(await api.post("/api/v1/settlement-account", { ...body, extra: 1 }), 422).fields)).toContain("extra");
    expect(Object.keys(expectError(await api.post("/api/v1/settlement-account", { bank_name: "招商银行" }), 422).fields)).toContain("branch_name");
    expectError(await api.post("/api/v1/settlement-account", body, { key: null }), 400);
    expect(expectError(await api.post("/api/v1/settlement-account/verify", { amount_fen: 5 }), 404).code).toBe("not_found");

    const created = await api.post<{ account: { status: string; account_number: string; revision: number }; deposit: string }>("/api/v1/settlement-account", body);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({ deposit: "sent", account: { status: "awaiting_confirmation", account_number: number, revision: 1 } });
    const again = await api.post<{ deposit: string }>("/api/v1/settlement-account", body);
    expect(again.body.deposit).toBe("unchanged");

    const r = await row(o.id);
    const wrong = r.deposit_fen === 99 ? 98 : r.deposit_fen + 1;
    expect(expectError(await api.post("/api/v1/settlement-account/verify", { amount_fen: wrong }), 422).fields).toEqual({ amount_fen: "mismatch" });
    expect(expectError(await api.post("/api/v1/settlement-account/verify", { amount_fen: 250 }), 422).fields).toEqual({ amount_fen: "range" });
    expect(Object.keys(expectError(await api.post("/api/v1/settlement-account/verify", { amount_fen: "0.05" }), 422).fields)).toContain("amount_fen");
    const ok = await api.post<{ status: string; attempts_left: number }>("/api/v1/settlement-account/verify", { amount_fen: r.deposit_fen });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.status).toBe("verified");
    expect((await api.get<{ status: string }>("/api/v1/settlement-account")).body.status).toBe("verified");

    const doc = await api.get<{ paths: Record<string, Record<string, unknown>> }>("/api/v1/openapi.json");
    expect(Object.keys(doc.body.paths["/api/v1/settlement-account"]).sort()).toEqual(["get", "post"]);
    expect(doc.body.paths["/api/v1/settlement-account/verify"]).toHaveProperty("post");
  });

  it("leaves the books balanced", async () => {
    expect(await verifyLedger(t.db)).toEqual([]);
  });
});
