import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db";
import { accountName, transferKindName } from "../../app/i18n/account-names";
import { isMessageKey } from "../../app/i18n";
import { getStatement, nameAccounts, resolveStatementRange, type Reader, type Statement } from "../../app/domain/ledger/statements.server";
import { seedDemoData } from "../../app/seed/demo.server";
import { isDomainError } from "../../app/domain/shared/errors";
import { ensureAccount, transfer, type AccountView } from "../../app/domain/ledger/ledger.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, startTestServer, type TestServer } from "../support/web";

/**
 * Money screens a person can read: every account named for what it is (never its code), and a
 * statement (对账单) per account over Asia/Shanghai business dates, with the balance after each
 * line right on every page, the transfer kinds and counterparties in words, references as links
 * only for a party to them, a CSV for Excel and a print view; bad input named by field; another
 * organisation's account is a 404 and the bank's staff see every account.
 */

let t: TestDatabase;
let server: TestServer;
const w = {} as {
  bankId: string;
  coreId: string;
  dealerId: string;
  strangerId: string;
  linkId: string;
  marketId: string;
  dealerWallet: AccountView;
  coreWallet: AccountView;
  clearing: AccountView;
  equity: AccountView;
  tradeCredit: AccountView;
  fees: AccountView;
  dealerUser: string;
  coreUser: string;
  bankUser: string;
  strangerUser: string;
};

let seq = 0;
/** A posted transfer dated at `at` (UTC): the ledger stamps now(), so the test moves it back. */
async function postAt(db: Db, at: string, from: AccountView, to: AccountView, amountFen: number, kind: string, reference: string): Promise<string> {
  seq += 1;
  const { transfer: row } = await transfer(db, { idempotencyKey: `stmt-test:${seq}`, kind, reference, debitAccountId: from.id, creditAccountId: to.id, amountFen });
  // Transfers are append-only (a trigger refuses updates); backdating is a fixture's privilege.
  await sql`alter table ledger_transfers disable trigger ledger_transfers_append_only`.execute(db);
  await sql`update ledger_transfers set created_at = ${at}::timestamptz where id = ${row.id}`.execute(db);
  await sql`alter table ledger_transfers enable trigger ledger_transfers_append_only`.execute(db);
  return row.id;
}

const NOW = new Date("2026-03-10T04:00:00Z");

beforeAll(async () => {
  t = await createTestDatabase();
  const db = t.db;
  const bank = await createOrg(db, { kind: "bank", name: "测试银行" });
  const core = await createOrg(db, { kind: "core_enterprise", name: "华通电器" });
  const dealer = await createOrg(db, { kind: "dealer", name: "杭州鑫达商贸" });
  const stranger = await createOrg(db, { kind: "dealer", name: "陌生经销商" });
  const operator = await createOrg(db, { kind: "market_operator", name: "四季青市场管理" });
  await db.updateTable("organizations").set({ name_en: "Hangzhou Xinda Trading" }).where("id", "=", dealer.id).execute();
  const link = await db.insertInto("dealer_links").values({ core_enterprise_id: core.id, dealer_id: dealer.id, region: "浙江省杭州市" }).returning("id").executeTakeFirstOrThrow();
  const market = await db
    .insertInto("markets")
    .values({ operator_id: operator.id, name: "四季青服装批发市场", city: "杭州", categories: ["女装"] })
    .returning("id")
    .executeTakeFirstOrThrow();
  Object.assign(w, {
    bankId: bank.id,
    coreId: core.id,
    dealerId: dealer.id,
    strangerId: stranger.id,
    linkId: link.id,
    marketId: market.id,
    dealerWallet: await ensureAccount(db, { kind: "wallet", organizationId: dealer.id }),
    coreWallet: await ensureAccount(db, { kind: "wallet", organizationId: core.id }),
    clearing: await ensureAccount(db, { kind: "gateway_clearing", organizationId: bank.id, code: "gateway_clearing" }),
    equity: await ensureAccount(db, { kind: "bank_equity", organizationId: bank.id, code: "bank_equity" }),
    tradeCredit: await ensureAccount(db, { kind: "trade_credit", organizationId: dealer.id, code: `trade_credit:${link.id}` }),
    fees: await ensureAccount(db, { kind: "market_fees", organizationId: operator.id, code: `market_fees:${market.id}` }),
  });
  w.dealerUser = (await createUser(db, { memberships: [[dealer.id, "viewer"]] })).email;
  w.coreUser = (await createUser(db, { memberships: [[core.id, "finance"]] })).email;
  w.bankUser = (await createUser(db, { memberships: [[bank.id, "operations"]] })).email;
  w.strangerUser = (await createUser(db, { memberships: [[stranger.id, "owner"]] })).email;

  // The dealer's wallet, in Shanghai time: 1 Mar 18:00, 20:00, 23:59:59.999; 2 Mar 00:00; 5 Mar.
  await postAt(db, "2026-03-01T10:00:00Z", w.clearing, w.dealerWallet, 100_000, "topup", `test:topup`);
  await postAt(db, "2026-03-01T12:00:00Z", w.dealerWallet, w.coreWallet, 30_000, "order_payment", `dealer_link:${link.id}`);
  await postAt(db, "2026-03-01T15:59:59.999Z", w.clearing, w.dealerWallet, 500, "epay_refund", "test:refund");
  await postAt(db, "2026-03-01T16:00:00Z", w.dealerWallet, w.coreWallet, 200, "on_account_repayment", `dealer_link:${link.id}`);
  await postAt(db, "2026-03-05T02:00:00Z", w.clearing, w.dealerWallet, 1_000, "escrow_release", "test:release");
  // A hold: not posted, so not a line and not in the balance.
  await transfer(db, { idempotencyKey: "stmt-test:hold", kind: "escrow_hold", reference: "test:hold", debitAccountId: w.dealerWallet.id, creditAccountId: w.coreWallet.id, amountFen: 7_000, pending: true });
  server = await startTestServer(db);
});

afterAll(async () => {
  await server?.close();
  await t?.close();
});

const dealerReader = (): Reader => ({ organizationId: w.dealerId, organizationKind: "dealer" });
const balancesOf = (s: Statement) => s.lines.map((l) => l.balanceAfterFen);

async function refusal(call: () => Promise<unknown> | unknown): Promise<Record<string, string>> {
  try {
    await call();
  } catch (error) {
    if (isDomainError(error)) return error.fields;
    throw error;
  }
  throw new Error("expected a refusal");
}

/** What a reader sees: the page without its scripts (loader data) and tags. */
function visibleText(html: string): string {
  return html.replace(/<script[\s\S]*?<\/script>/g, "").replace(/<[^>]+>/g, " ");
}

async function signedIn(email: string, lang?: "en"): Promise<Client> {
  const client = new Client(server.url);
  if (lang) client.cookies.set("lang", Buffer.from(JSON.stringify(lang)).toString("base64"));
  const res = await client.login(email, TEST_PASSWORD);
  expect(res.status).toBe(302);
  return client;
}

describe("account names", () => {
  it("names each account for what it is, in both languages, never by its code", async () => {
    const names = await nameAccounts(t.db, [w.dealerWallet, w.tradeCredit, w.fees, w.equity, w.clearing].map((a) => ({ id: a.id, code: a.code, kind: a.kind, organization_id: a.organizationId })));
    const zh = (a: AccountView) => accountName("zh-CN", names.get(a.id)!);
    const en = (a: AccountView) => accountName("en", names.get(a.id)!);
    expect(zh(w.dealerWallet)).toBe("钱包 · 杭州鑫达商贸");
    expect(en(w.dealerWallet)).toBe("Wallet · Hangzhou Xinda Trading");
    expect(zh(w.tradeCredit)).toBe("赊销额度 · 华通电器 → 杭州鑫达商贸");
    expect(zh(w.fees)).toBe("市场佣金 · 四季青服装批发市场");
    expect(zh(w.equity)).toBe("银行权益");
    expect(en(w.equity)).toBe("Bank equity");
    expect(zh(w.clearing)).toBe("e-Pay 在途清算");
  });

  it("shows names, not codes, on the dashboard and the account page", async () => {
    const dealer = await signedIn(w.dealerUser);
    const dashboard = await dealer.get("/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain("钱包 · 杭州鑫达商贸");
    expect(dashboard.body).toContain("赊销额度 · 华通电器 → 杭州鑫达商贸");
    const page = await dealer.get(`/accounts/${w.dealerWallet.id}?from=2026-03-01&to=2026-03-05`);
    expect(page.status).toBe(200);
    for (const code of [w.dealerWallet.code, w.clearing.code, w.coreWallet.code]) expect(visibleText(page.body)).not.toContain(code);
    expect(page.body).toContain("钱包 · 华通电器");
    expect(page.body).toContain("e-Pay 在途清算");
    const bank = await signedIn(w.bankUser);
    const bankDashboard = await bank.get("/");
    expect(bankDashboard.body).toContain("银行权益");
    expect(visibleText(bankDashboard.body)).not.toMatch(/bank_equity|gateway_clearing/);
  });
});

describe("the statement", () => {
  it("cuts the range at Shanghai midnight, with opening and closing balances", async () => {
    const first = await getStatement(t.db, dealerReader(), w.dealerWallet.id, { from: "2026-03-01", to: "2026-03-01" }, NOW);
    expect(first.lines.map((l) => l.kind)).toEqual(["topup", "order_payment", "epay_refund"]);
    expect(first.openingFen).toBe(0);
    expect(balancesOf(first)).toEqual([100_000, 70_000, 70_500]);
    expect(first.closingFen).toBe(70_500);
    expect([first.inFen, first.outFen]).toEqual([100_500, 30_000]);

    const later = await getStatement(t.db, dealerReader(), w.dealerWallet.id, { from: "2026-03-02", to: "2026-03-05" }, NOW);
    expect(later.openingFen).toBe(70_500);
    expect(later.lines.map((l) => l.amountFen)).toEqual([-200, 1_000]);
    expect(later.closingFen).toBe(71_300);
    // The posted balance, holds left out: the statement's end is the account's balance.
    expect(later.closingFen).toBe(later.account.balanceFen);
  });

  it("keeps the running balance right across pages", async () => {
    const range = { from: "2026-03-01", to: "2026-03-05" };
    const whole = await getStatement(t.db, dealerReader(), w.dealerWallet.id, range, NOW);
    const paged: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Statement = await getStatement(t.db, dealerReader(), w.dealerWallet.id, { ...range, cursor, limit: 2 }, NOW);
      expect(page.lines.length).toBeLessThanOrEqual(2);
      expect(page.openingFen).toBe(whole.openingFen);
      paged.push(...balancesOf(page));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(paged).toEqual(balancesOf(whole));
    expect(paged).toEqual([100_000, 70_000, 70_500, 70_300, 71_300]);
  });

  it("names the counterparty and translates every transfer kind", async () => {
    const s = await getStatement(t.db, dealerReader(), w.dealerWallet.id, { from: "2026-03-01", to: "2026-03-05" }, NOW);
    expect(s.lines.map((l) => accountName("zh-CN", l.counterparty))).toEqual(["e-Pay 在途清算", "钱包 · 华通电器", "e-Pay 在途清算", "钱包 · 华通电器", "e-Pay 在途清算"]);
    expect(s.lines.map((l) => transferKindName("zh-CN", l.kind))).toEqual(["充值", "订单付款", "e-Pay 退款", "赊销还款", "担保放款"]);
    expect(transferKindName("en", "escrow_release")).toBe("Escrow release");
  });

  it("links a business reference only for a party that has a page for it", async () => {
    const forDealer = await getStatement(t.db, dealerReader(), w.dealerWallet.id, { from: "2026-03-01", to: "2026-03-01" }, NOW);
    expect(forDealer.lines[1].reference).toEqual({ type: "dealer_link", label: "杭州鑫达商贸", href: null });
    const forCore = await getStatement(t.db, { organizationId: w.coreId, organizationKind: "core_enterprise" }, w.coreWallet.id, { from: "2026-03-01", to: "2026-03-01" }, NOW);
    expect(forCore.lines[0].reference).toEqual({ type: "dealer_link", label: "杭州鑫达商贸", href: `/dealers/${w.linkId}` });
  });

  it("defaults to the 30 business days ending today in Shanghai", () => {
    // 2026-03-09T16:30Z is already 10 March in Shanghai.
    expect(resolveStatementRange({}, new Date("2026-03-09T16:30:00Z"))).toEqual({ from: "2026-02-09", to: "2026-03-10" });
  });

  it("refuses bad input naming the field", async () => {
    const get = (options: Record<string, string | number>) => refusal(() => getStatement(t.db, dealerReader(), w.dealerWallet.id, options, NOW));
    expect(await get({ from: "2026-02-30" })).toEqual({ from: "date_format" });
    expect(await get({ to: "yesterday" })).toEqual({ to: "date_format" });
    expect(await get({ from: "2026-03-05", to: "2026-03-01" })).toEqual({ to: "date_order" });
    expect(await get({ from: "2024-01-01", to: "2026-03-01" })).toEqual({ to: "range_too_long" });
    expect(await get({ cursor: "not-a-cursor" })).toEqual({ cursor: "invalid_cursor" });
    expect(await get({ limit: 0 })).toEqual({ limit: "out_of_range" });
    expect(await get({ limit: 201 })).toEqual({ limit: "out_of_range" });
  });
});

describe("who may read an account", () => {
  it("lets the owner's members and the bank's staff read it, and gives anyone else a 404", async () => {
    const path = `/accounts/${w.dealerWallet.id}?from=2026-03-01&to=2026-03-05`;
    expect((await (await signedIn(w.dealerUser)).get(path)).status).toBe(200);
    const bankPage = await (await signedIn(w.bankUser)).get(path);
    expect(bankPage.status).toBe(200);
    expect(bankPage.body).toContain("钱包 · 杭州鑫达商贸");
    for (const email of [w.strangerUser, w.coreUser]) {
      const other = await signedIn(email);
      for (const suffix of ["", "/statement.csv", "/statement/print"]) {
        const res = await other.get(`/accounts/${w.dealerWallet.id}${suffix}`);
        expect(res.status, `${email} ${suffix}`).toBe(404);
        expect(res.body).not.toContain("杭州鑫达商贸");
      }
    }
  });
});

describe("the bank's list of every account", () => {
  it("lists every organisation's accounts by name for the bank's staff, and is a 404 for anyone else", async () => {
    const bank = await signedIn(w.bankUser);
    const page = await bank.get("/accounts");
    expect(page.status).toBe(200);
    for (const name of ["钱包 · 杭州鑫达商贸", "钱包 · 华通电器", "赊销额度 · 华通电器 → 杭州鑫达商贸", "市场佣金 · 四季青服装批发市场", "银行权益"]) {
      expect(page.body).toContain(name);
    }
    expect(page.body).toContain(`/accounts/${w.dealerWallet.id}`);
    expect((await bank.get("/accounts?after=garbage!")).status).toBe(400);
    expect((await (await signedIn(w.dealerUser)).get("/accounts")).status).toBe(404);
  });
});

describe("the statement's pages", () => {
  it("answers a bad date with 400 and the field's problem next to it, in the page and the CSV", async () => {
    const dealer = await signedIn(w.dealerUser);
    const page = await dealer.get(`/accounts/${w.dealerWallet.id}?from=2026-13-01&to=2026-03-05`);
    expect(page.status).toBe(400);
    expect(page.body).toMatch(/id="range-from-error"[^>]*>请输入有效日期/);
    const csv = await dealer.get(`/accounts/${w.dealerWallet.id}/statement.csv?from=2026-03-05&to=2026-03-01`);
    expect(csv.status).toBe(400);
    expect(csv.body).toContain('"to":"date_order"');
  });

  it("pages with an opaque cursor link and shows the balance after each line", async () => {
    const dealer = await signedIn(w.dealerUser);
    const first = await dealer.get(`/accounts/${w.dealerWallet.id}?from=2026-03-01&to=2026-03-05&limit=3`);
    expect(first.status).toBe(200);
    const nextTag = /<a [^>]*data-testid="next-page"[^>]*>/.exec(first.body)?.[0] ?? "";
    const next = /href="([^"]+)"/.exec(nextTag)?.[1]?.replaceAll("&amp;", "&");
    expect(next).toMatch(/cursor=[A-Za-z0-9_-]+/);
    expect(next).toContain("limit=3");
    const second = await dealer.get(next!.startsWith("?") ? `/accounts/${w.dealerWallet.id}${next}` : next!);
    expect(second.status).toBe(200);
    expect([...second.body.matchAll(/data-testid="balance-after">([^<]+)</g)].map((m) => m[1])).toEqual(["¥703.00", "¥713.00"]);
  });

  it("exports CSV with a BOM, the reader's language, plain yuan and the running balance", async () => {
    const en = await signedIn(w.dealerUser, "en");
    const res = await en.get(`/accounts/${w.dealerWallet.id}/statement.csv?from=2026-03-01&to=2026-03-05`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toContain("statement-2026-03-01-2026-03-05.csv");
    const bytes = new Uint8Array(await (await fetch(`${server.url}/accounts/${w.dealerWallet.id}/statement.csv?from=2026-03-01&to=2026-03-05`, { headers: { Cookie: [...en.cookies].map(([k, v]) => `${k}=${v}`).join("; ") } })).arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = res.body.replace(/^\uFEFF/, "").trim().split("\r\n");
    expect(lines[0]).toBe("Account,Wallet · Hangzhou Xinda Trading,,,,,,");
    expect(lines[2]).toBe("Time,Type,Counterparty account,Reference,In,Out,Balance,Transfer id");
    expect(lines[3]).toBe("1 Mar 2026,Opening balance,,,,,0.00,");
    expect(lines[4]).toMatch(/^"1 Mar 2026, 18:00",Top-up,e-Pay clearing in transit,test:topup,1000.00,,1000.00,[0-9a-f-]{36}$/);
    expect(lines.at(-1)).toBe("5 Mar 2026,Closing balance,,,1015.00,302.00,713.00,");
    expect(lines).toHaveLength(10);
  });

  it("prints without navigation, headed by the account, the range and both balances", async () => {
    const dealer = await signedIn(w.dealerUser);
    const res = await dealer.get(`/accounts/${w.dealerWallet.id}/statement/print?from=2026-03-02&to=2026-03-05`);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('class="topbar"');
    expect(res.body).not.toContain('class="topnav"');
    expect(res.body).toMatch(/data-testid="account-name">钱包 · 杭州鑫达商贸</);
    expect(res.body).toContain("2026-03-02 至 2026-03-05");
    expect(res.body).toMatch(/data-testid="statement-opening">¥705.00</);
    expect(res.body).toMatch(/data-testid="statement-closing">¥713.00</);
  });
});

describe("every transfer kind the ledger posts has words", () => {
  const kinds: string[] = [];
  it("translates each kind in the demo data, in zh-CN and English", async () => {
    // The demo seeds once per database (it looks for the bank): a database of its own.
    const demo = await createTestDatabase();
    try {
      expect((await seedDemoData(demo.db, { password: "demo-statements" })).seeded).toBe(true);
      kinds.push(...(await demo.db.selectFrom("ledger_transfers").select("kind").distinct().execute()).map((r) => r.kind));
    } finally {
      await demo.close();
    }
    expect(kinds.length).toBeGreaterThan(5);
    const missing = kinds.filter((kind) => !isMessageKey(`transfer.${kind}`));
    expect(missing).toEqual([]);
  });
});
