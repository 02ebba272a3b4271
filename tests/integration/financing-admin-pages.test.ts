import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import type { Client } from "../support/web";
import { makeLink } from "./catalog.fixtures";
import { confirmedOrder, financingWorld, runFinancingJobs, type FinancingWorld } from "./financing.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * The bank's credit administration pages through the real Express + Remix stack, as a browser
 * without JavaScript: facilities (agreement, dealer sub-limit, borrower limit) set by a credit
 * officer and listed with their figures, a limit that may not go below a disbursed loan, the LPR
 * and loan products (platform admin only), and tenancy (404 for the other kinds).
 *
 * The world (financing.fixtures.ts): agreement ¥500,000, the dealer's sub-limit ¥200,000 and its
 * limit on the order financing product ¥200,000, LPR 3.10% from 2026-01-20.
 */
const FACILITIES = "/financing/facilities";
const PRODUCTS = "/financing/products";

/** The visible text of an HTML fragment (React separates text parts with empty comments). */
function textOf(html: string): string {
  return html
    .replaceAll("<!-- -->", "")
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** The `<tr>` whose opening tag carries `marker`, as text. */
function rowText(body: string, marker: string): string {
  const start = body.indexOf(marker);
  expect(start, `no row ${marker}`).toBeGreaterThanOrEqual(0);
  const end = body.indexOf("</tr>", start);
  return textOf(body.slice(body.lastIndexOf("<tr", start), end));
}

describe("financing admin pages", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let w: FinancingWorld;
  let officer: Client;
  let admin: Client;
  let core: Client;
  let dealer: Client;
  let newCoreId: string;
  let newCoreName: string;
  let newDealerId: string;
  let newDealerName: string;
  let worldLimitId: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    w = await financingWorld(t.db);
    const newCore = await createOrg(t.db, { kind: "core_enterprise", name: "杭州新核心制造有限公司" });
    newCoreId = newCore.id;
    newCoreName = "杭州新核心制造有限公司";
    const link = await makeLink(t.db, newCoreId);
    newDealerId = link.dealerId;
    newDealerName = (await t.db.selectFrom("organizations").select("name").where("id", "=", newDealerId).executeTakeFirstOrThrow()).name;

    // A disbursed loan of ¥5,000 (5 units, below the ¥10,000 auto-approval): it draws on the
    // dealer's limit, the agreement and the sub-limit.
    const order = await confirmedOrder(t.db, w, 5, new Date());
    const app = await applyForOrderFinancing(t.db, w.asDealer, order.id, new Date());
    await runFinancingJobs(t.db, new Date());
    const status = await t.db.selectFrom("loan_applications").select("status").where("id", "=", app.id).executeTakeFirstOrThrow();
    expect(status.status).toBe("disbursed");
    worldLimitId = (
      await t.db.selectFrom("financing_facilities").select("id").where("kind", "=", "borrower_limit").where("borrower_organization_id", "=", w.dealer).where("product_id", "=", w.product.id).executeTakeFirstOrThrow()
    ).id;

    const o = await createUser(t.db, { memberships: [[w.bankId, "credit_officer"]] });
    const a = await createUser(t.db, { memberships: [[w.bankId, "platform_admin"]] });
    const c = await createUser(t.db, { memberships: [[w.core, "owner"]] });
    const d = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
    server = await startPaymentsServer(t.db);
    officer = await loggedIn(server.url, o);
    admin = await loggedIn(server.url, a);
    core = await loggedIn(server.url, c);
    dealer = await loggedIn(server.url, d);
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("lets a credit officer set an agreement, a dealer's sub-limit and a borrower limit, and lists them with their figures", async () => {
    const page = await officer.get(FACILITIES);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="set-agreement"');
    expect(page.body).toContain(`<option value="${newCoreId}">${newCoreName}</option>`);
    const csrf = await officer.csrfFrom(FACILITIES);

    const agreed = await officer.post(FACILITIES, { csrf, intent: "set_agreement", guarantor_id: newCoreId, buy_back_days: "45", valid_to: "2027-12-31", limit_yuan: "300,000" });
    expect(agreed.status).toBe(302);
    expect(agreed.location).toBe(FACILITIES);
    const agreement = await t.db.selectFrom("financing_facilities").select(["id", "buy_back_days"]).where("kind", "=", "guarantee").where("guarantor_organization_id", "=", newCoreId).executeTakeFirstOrThrow();
    expect(agreement.buy_back_days).toBe(45);

    // The sub-limit form offers the agreement's linked dealer under that agreement.
    const withAgreement = await officer.get(FACILITIES);
    expect(withAgreement.body).toContain(`<option value="${agreement.id}">${newCoreName}</option>`);
    const sub = await officer.post(FACILITIES, { csrf, intent: "set_sub_limit", parent_facility_id: agreement.id, borrower_id: newDealerId, valid_to: "2027-06-30", limit_yuan: "120000.50" });
    expect(sub.status).toBe(302);
    const limit = await officer.post(FACILITIES, { csrf, intent: "set_borrower_limit", product_id: w.product.id, borrower_id: newDealerId, valid_to: "2027-03-31", limit_yuan: "80000" });
    expect(limit.status).toBe(302);

    const listed = await officer.get(FACILITIES);
    expect(listed.status).toBe(200);
    expect(rowText(listed.body, `data-facility="${agreement.id}"`)).toBe(`${newCoreName} · 回购 45 天 ¥300,000.00 ¥0.00 ¥300,000.00 2027-12-31 有效`);
    const subRow = await t.db.selectFrom("financing_facilities").select("id").where("kind", "=", "guarantee_sub").where("parent_facility_id", "=", agreement.id).executeTakeFirstOrThrow();
    expect(rowText(listed.body, `data-facility="${subRow.id}"`)).toBe(`↳ ${newDealerName} ¥120,000.50 ¥0.00 ¥120,000.50 2027-06-30 有效`);
    // Grouped: the sub-limit sits in its agreement's row group.
    const group = listed.body.slice(listed.body.indexOf(`data-agreement="${agreement.id}"`));
    expect(group.slice(0, group.indexOf("</tbody>"))).toContain(`data-facility="${subRow.id}"`);
    const newLimit = await t.db.selectFrom("financing_facilities").select("id").where("kind", "=", "borrower_limit").where("borrower_organization_id", "=", newDealerId).executeTakeFirstOrThrow();
    expect(rowText(listed.body, `data-facility="${newLimit.id}"`)).toBe(`${newDealerName} ${w.product.code} · 订单融资 ¥80,000.00 ¥0.00 ¥80,000.00 2027-03-31 有效`);

    // The world's figures with the disbursed ¥5,000 drawn: limit 200,000, used 5,000, available 195,000.
    expect(rowText(listed.body, `data-facility="${worldLimitId}"`)).toContain("¥200,000.00 ¥5,000.00 ¥195,000.00 2099-12-31");
    expect(rowText(listed.body, `data-facility="${w.agreementId}"`)).toContain("¥500,000.00 ¥5,000.00 ¥495,000.00");
  });

  it("refuses a limit below what a disbursed loan uses (422 naming limit_fen), and a dealer the core enterprise is not linked to", async () => {
    const csrf = await officer.csrfFrom(FACILITIES);
    const lowered = await officer.post(FACILITIES, { csrf, intent: "set_borrower_limit", product_id: w.product.id, borrower_id: w.dealer, valid_to: "2099-12-31", limit_yuan: "4999.99" });
    expect(lowered.status).toBe(422);
    expect(lowered.body).toContain('data-field="limit_fen"');
    expect(textOf(lowered.body)).toContain("额度（元）: 不能低于已用（含审批中占用）的金额");
    // Shown next to the borrower-limit form, with what was typed kept.
    const form = lowered.body.slice(lowered.body.indexOf('data-testid="set-borrower-limit"'));
    expect(form).toContain('data-field="limit_fen"');
    expect(form).toContain('value="4999.99"');
    const still = await officer.get(FACILITIES);
    expect(rowText(still.body, `data-facility="${worldLimitId}"`)).toContain("¥200,000.00 ¥5,000.00 ¥195,000.00");

    // Down to exactly what is drawn is allowed: ¥5,000 limit, nothing left.
    const exact = await officer.post(FACILITIES, { csrf, intent: "set_borrower_limit", product_id: w.product.id, borrower_id: w.dealer, valid_to: "2099-12-31", limit_yuan: "5000" });
    expect(exact.status).toBe(302);
    const after = await officer.get(FACILITIES);
    expect(rowText(after.body, `data-facility="${worldLimitId}"`)).toContain("¥5,000.00 ¥5,000.00 ¥0.00");

    const agreement = await t.db.selectFrom("financing_facilities").select("id").where("kind", "=", "guarantee").where("guarantor_organization_id", "=", newCoreId).executeTakeFirstOrThrow();
    const stranger = await officer.post(FACILITIES, { csrf, intent: "set_sub_limit", parent_facility_id: agreement.id, borrower_id: w.dealer, valid_to: "2027-06-30", limit_yuan: "100" });
    expect(stranger.status).toBe(422);
    expect(stranger.body).toContain('data-field="borrower_id"');
    expect(textOf(stranger.body)).toContain("该经销商与此核心企业无有效合作关系");

    const badAmount = await officer.post(FACILITIES, { csrf, intent: "set_agreement", guarantor_id: newCoreId, buy_back_days: "45", valid_to: "2027-12-31", limit_yuan: "1.234" });
    expect(badAmount.status).toBe(422);
    expect(badAmount.body).toContain('data-field="limit_fen"');
  });

  it("records an LPR of 3.05% as 30,500 ppm and refuses the same date again, naming effective_on", async () => {
    const csrf = await admin.csrfFrom(PRODUCTS);
    const recorded = await admin.post(PRODUCTS, { csrf, intent: "record_lpr", rate_percent: "3.05", effective_on: "2026-06-22" });
    expect(recorded.status).toBe(302);
    const row = await t.db.selectFrom("lpr_rates").select("rate_ppm").where("effective_on", "=", "2026-06-22").executeTakeFirstOrThrow();
    expect(row.rate_ppm).toBe(30_500);

    const again = await admin.post(PRODUCTS, { csrf, intent: "record_lpr", rate_percent: "3.10", effective_on: "2026-06-22" });
    expect(again.status).toBe(409);
    expect(again.body).toContain('data-field="effective_on"');
    expect(textOf(again.body)).toContain("生效日: 该生效日的 LPR 已录入");

    // Five decimals would need rounding: refused.
    const fine = await admin.post(PRODUCTS, { csrf, intent: "record_lpr", rate_percent: "3.05001", effective_on: "2026-07-22" });
    expect(fine.status).toBe(422);
    expect(fine.body).toContain('data-field="rate_ppm"');

    const page = await admin.get(PRODUCTS);
    expect(page.status).toBe(200);
    expect(rowText(page.body, 'data-lpr="2026-06-22"')).toBe("2026-06-22 3.05% 今日适用");
    expect(rowText(page.body, 'data-lpr="2026-01-20"')).toBe("2026-01-20 3.1%");
  });

  it("creates a loan product, priced today at the LPR in force plus its spread", async () => {
    const csrf = await admin.csrfFrom(PRODUCTS);
    const fields = {
      csrf,
      intent: "create_product",
      code: "cl-12m",
      name: "流动资金贷款",
      name_en: "Working capital loan",
      kind: "credit_line",
      rate_basis: "lpr",
      spread_bps: "50",
      repayment_method: "equal_instalment",
      term_months: "12",
      grace_days: "5",
      auto_approve_yuan: "20,000",
      second_approver_yuan: "100000",
      min_amount_yuan: "1000",
      max_amount_yuan: "2000000",
    };
    // A monthly method may not run in days: the domain's refusal names the field.
    const days = await admin.post(PRODUCTS, { ...fields, term_months: "", term_days: "90" });
    expect(days.status).toBe(422);
    expect(days.body).toContain('data-field="term_days"');

    const created = await admin.post(PRODUCTS, fields);
    expect(created.status).toBe(302);
    const row = await t.db.selectFrom("loan_products").selectAll().where("code", "=", "CL-12M").executeTakeFirstOrThrow();
    expect(row).toMatchObject({ kind: "credit_line", rate_basis: "lpr", spread_bps: 50, term_months: 12, term_days: null, grace_days: 5, auto_approve_limit_fen: 2_000_000, second_approver_limit_fen: 10_000_000, min_amount_fen: 100_000, max_amount_fen: 200_000_000 });

    const taken = await admin.post(PRODUCTS, fields);
    expect(taken.status).toBe(409);
    expect(taken.body).toContain('data-field="code"');

    // In force today: 3.05% (from 2026-06-22) + 0.50% = 3.55%.
    const page = await admin.get(PRODUCTS);
    expect(rowText(page.body, 'data-product="CL-12M"')).toBe("CL-12M 流动资金贷款 流动资金授信 LPR +0.5% 3.55% 等额本息 12 个月 5 天 ¥20,000.00 ¥100,000.00 ¥1,000.00 – ¥2,000,000.00");
    // The world's product: bullet, 90 days, LPR + 1.25% = 4.30%.
    expect(rowText(page.body, `data-product="${w.product.code}"`)).toContain("LPR +1.25% 4.3% 到期一次还本付息 90 天 3 天");
  });

  it("shows a credit officer the products without the forms, and refuses product and LPR writes with 403", async () => {
    const page = await officer.get(PRODUCTS);
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-testid="products"');
    expect(page.body).not.toContain('data-testid="create-product"');
    expect(page.body).not.toContain('data-testid="record-lpr"');
    const csrf = await officer.csrfFrom(PRODUCTS);
    const product = await officer.post(PRODUCTS, { csrf, intent: "create_product", code: "X-1", name: "x", name_en: "x", kind: "credit_line", rate_basis: "lpr", repayment_method: "bullet", term_days: "30", auto_approve_yuan: "1", second_approver_yuan: "1", min_amount_yuan: "1", max_amount_yuan: "1" });
    expect(product.status).toBe(403);
    const lpr = await officer.post(PRODUCTS, { csrf, intent: "record_lpr", rate_percent: "3.00", effective_on: "2026-08-20" });
    expect(lpr.status).toBe(403);
    expect(await t.db.selectFrom("loan_products").select("id").where("code", "=", "X-1").executeTakeFirst()).toBeUndefined();
  });

  it("is the bank's only: a core enterprise and a dealer get 404 on both pages, reading and writing", async () => {
    for (const client of [core, dealer]) {
      expect((await client.get(FACILITIES)).status).toBe(404);
      expect((await client.get(PRODUCTS)).status).toBe(404);
      const csrf = await client.csrfFrom("/financing");
      expect((await client.post(FACILITIES, { csrf, intent: "set_agreement", guarantor_id: newCoreId, buy_back_days: "30", valid_to: "2027-12-31", limit_yuan: "1" })).status).toBe(404);
      expect((await client.post(PRODUCTS, { csrf, intent: "record_lpr", rate_percent: "3.00", effective_on: "2026-09-20" })).status).toBe(404);
    }
  });
});
