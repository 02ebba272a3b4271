import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORGANIZATION_KINDS, ROLES, type OrganizationKind, type Role } from "../../db/schema";
import { allEndpoints } from "../../app/api/contracts";
import type { EndpointSpec } from "../../app/api/endpoint";
import { logger } from "../../app/logger.server";
import { hashToken, newToken } from "../../app/domain/identity/auth.server";
import { seedOrdersDemo } from "../../app/seed/orders.server";
import { seedRecruitmentDemo } from "../../app/seed/recruitment.server";
import { seedSupplyChainDemo } from "../../app/seed/supply-chain.server";
import { openDispute } from "../../app/domain/market/escrow/disputes.server";
import { approveOrder, submitOrder } from "../../app/domain/orders/cart.server";
import { receiveOrder, shipOrder } from "../../app/domain/orders/fulfilment.server";
import { payFromWallet } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { decideReturn, receiveReturnedGoods, requestReturn } from "../../app/domain/orders/returns.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { applyForOrderFinancing, approveApplication } from "../../app/domain/financing/applications.server";
import { sellMarketReceivable } from "../../app/domain/financing/market-receivables.server";
import { disburseApplication } from "../../app/domain/financing/disbursement.server";
import { setFacility } from "../../app/domain/financing/facilities.server";
import { createProduct, recordLpr } from "../../app/domain/financing/products.server";
import { orderFinancingProduct } from "./financing.fixtures";
import { ACTIONS, actionKinds, rolesFor, type ActionName } from "../../app/domain/identity/permissions";
import { enqueue, markExhausted } from "../../app/domain/outbox/outbox.server";
import { cookies } from "../../app/session.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { TEST_SESSION_SECRET } from "../support/web";
import { createTradeWorld, paidOrder, placeFor, type TradeWorld } from "./market-orders.fixtures";
import { actorFor, fund, makeListing, randomUscc } from "./market-trade.fixtures";
import { startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

const quiet = logger.child({});
quiet.level = "silent";

/**
 * Who may do what, tried for real. The permission table (app/domain/identity/permissions.ts) says, for every
 * state-changing action, which kinds of organisation have it and which of their roles may do it.
 * This file turns that table into a matrix: every page form and every API operation that changes
 * something × every role of every kind of organisation, each a member of the organisation that owns
 * the record acted on. The expected answer comes from the table alone:
 *  - a kind the action is not for → 404 (the page or endpoint does not exist for it);
 *  - a role not listed → 403 (the page's answer names the roles needed; nothing changes);
 *  - a listed role → the attempt goes through the role check (not 403/404): for the money actions
 *    on a record set up so that the action is possible, and the change is checked;
 *  - another organisation of an allowed kind, with its owner → 404.
 * It also fails when a route gains an `action` export or the API a POST endpoint that is not listed
 * here with the action it performs, so nothing new ships unchecked.
 */

type Expected = "allowed" | 403 | 404;

function expectedFor(action: ActionName, kind: OrganizationKind, role: Role, onlyKinds?: readonly OrganizationKind[]): Expected {
  if (onlyKinds && !onlyKinds.includes(kind)) return 404;
  const roles = rolesFor(action, kind);
  if (roles.length === 0) return 404;
  return roles.includes(role) ? "allowed" : 403;
}

// ---------------------------------------------------------------------------------------------
// Every page action, by route file: each form (intent) → the action it performs.

const PAGE_ACTIONS: Readonly<Record<string, Readonly<Record<string, ActionName>>>> = {
  "campaigns.$campaignId._index.tsx": { publish: "campaign.transition", close: "campaign.transition" },
  "campaigns.$campaignId.applications.$applicationId.tsx": {
    start_review: "application.review",
    request_info: "application.review",
    reject: "application.review",
    approve: "application.review",
    reissue: "application.review",
  },
  "campaigns.$campaignId.edit.tsx": { save: "campaign.write" },
  "campaigns.new.tsx": { create: "campaign.write" },
  "cart.tsx": { add: "order.edit_cart", update: "order.edit_cart", remove: "order.edit_cart", discard: "order.edit_cart", submit: "order.submit" },
  "catalog.$skuId.tsx": { save: "catalog.sku_write" },
  "catalog.import.tsx": { import: "catalog.import" },
  "catalog.new.tsx": { create: "catalog.sku_write" },
  "dealers.$linkId.tsx": { updateTerms: "dealer_link.update", suspend: "dealer_link.transition", reactivate: "dealer_link.transition" },
  "join.$campaignId.deposit.tsx": { pay: "recruitment.pay_deposit" },
  "market.$marketId._index.tsx": { add: "market_cart.edit" },
  "market.$marketId.listings.$listingId.tsx": { add: "market_cart.edit" },
  "market.cart._index.tsx": { update: "market_cart.edit", remove: "market_cart.edit" },
  "market.cart.checkout.tsx": { checkout: "market_checkout.create" },
  "market.checkouts.$checkoutId.tsx": { wallet: "market_order.pay", epay: "market_order.pay", cancel: "market_order.cancel" },
  "market.orders.$orderId.tsx": {
    ship: "market_order.ship",
    cancel: "market_order.cancel",
    receive: "market_order.receive",
    dispute: "market_order.dispute",
    statement: "dispute.statement",
  },
  "markets.$marketId._index.tsx": {
    updateMarket: "market.write",
    addZone: "market.zone_write",
    addStall: "market.stall_write",
    updateStall: "market.stall_write",
    close: "market.stall_write",
    reopen: "market.stall_write",
    suspend: "market.merchant_transition",
    reactivate: "market.merchant_transition",
  },
  "markets.$marketId.announcements.tsx": { publish: "market.announcement_write" },
  "markets.$marketId.applications.tsx": { submit: "market.application_write", approve: "market.application_decide", reject: "market.application_decide" },
  "markets.$marketId.disputes.$disputeId.tsx": { statement: "dispute.statement", preview: "market_order.rule_release", rule: "market_order.rule_release" },
  "markets.$marketId.fees.tsx": { addFee: "market.fee_write" },
  "markets.$marketId.listings.tsx": { hide: "listing.moderate", unhide: "listing.moderate" },
  "markets._index.tsx": { create: "market.write" },
  "merchant.listings.$listingId.tsx": { update: "listing.write", stock: "listing.write", status: "listing.write" },
  "merchant.listings.new.tsx": { create: "listing.write" },
  "orders.$orderId.tsx": {
    submit: "order.submit",
    approve: "order.approve",
    decline: "order.decline_approval",
    pay_wallet: "order.pay",
    epay: "order.pay",
    pay_on_account: "order.pay_on_account",
    financing: "order.request_financing",
    repay: "order.repay",
    receive: "order.receive",
    cancel: "order.cancel",
    confirm: "order.confirm",
    reject: "order.reject",
    ship: "order.ship_all",
    approve_return: "order.approve_return",
    goods_back: "order.goods_back",
    refund: "order.refund",
  },
  "orders.$orderId_.return.tsx": { return: "order.request_return" },
  "financing.apply.$orderId.tsx": { apply: "financing.apply" },
  "financing.applications.$applicationId.tsx": { approve: "financing.decide", reject: "financing.decide", withdraw: "financing.withdraw" },
  "financing.loans.$loanId.tsx": { repay_due: "financing.repay", payoff: "financing.repay", epay: "financing.repay", reclassify: "financing.reclassify", write_off: "financing.write_off" },
  "financing.runs.tsx": { start: "financing.run_accrual" },
  "financing.credit-line.tsx": { draw: "financing.apply" },
  "financing.receivables.tsx": { sell: "financing.sell_receivable" },
  "settlement.payouts.tsx": { request: "payout.request" },
  "settlement.reconciliation.tsx": { resolve: "reconciliation.resolve" },
  "settlement.account.tsx": { save: "settlement_account.write", resend: "settlement_account.write", verify: "settlement_account.verify" },
  "financing.facilities.tsx": { set_agreement: "financing.facility_write", set_sub_limit: "financing.facility_write", set_borrower_limit: "financing.facility_write" },
  "financing.products.tsx": { record_lpr: "financing.product_write", create_product: "financing.product_write" },
  "orders.quick.tsx": { order: "order.create" },
  "pricing._index.tsx": { createTier: "pricing.write", updateTier: "pricing.write", createList: "pricing.write", createOverride: "pricing.write", deleteOverride: "pricing.write" },
  "pricing.lists.$listId.tsx": { updateList: "pricing.write", deleteList: "pricing.write", setItem: "pricing.write", removeItem: "pricing.write" },
  "seasons.tsx": { create: "season.write", release: "season.write" },
  "settings.api-keys.tsx": { create: "api_key.manage", revoke: "api_key.manage" },
  "_index.tsx": { rerun: "jobs.rerun" },
  "settings.orders.tsx": { save: "order_settings.update" },
};

/** Page actions that act for no organisation's role, and why. */
const PAGE_ACTIONS_WITHOUT_ROLE: Readonly<Record<string, string>> = {
  "sandbox.epay.api.payouts.tsx": "the e-Pay sandbox gateway, not the product",
  "login.tsx": "signing in: there is no organisation yet",
  "notifications._index.tsx": "marking one's own notices read: a reader's own state, open to every role",
  "notifications.$notificationId.tsx": "marking one's own notice read: a reader's own state, open to every role",
  "logout.tsx": "ending one's own session",
  "set-language.tsx": "the reader's own language",
  "switch-org.tsx": "choosing which of one's own organisations to act for (membership is checked)",
  "invite.$token.tsx": "accepting an invitation: the token is the permission",
  "join.$campaignId._index.tsx": "a public application form: anyone may apply",
  "join.$campaignId.status.$token.tsx": "the applicant's private link: the token is the permission",
  "sandbox.epay.api.payments.tsx": "the e-Pay sandbox gateway (a stand-in for the bank's gateway), not the product",
  "sandbox.epay.api.payments.$gatewayPaymentId.refunds.tsx": "the e-Pay sandbox gateway, not the product",
  "sandbox.epay.pay.$gatewayPaymentId.tsx": "the e-Pay sandbox gateway's payer page, not the product",
};

/** POST endpoints that act for no organisation's role, and why. */
const API_WITHOUT_ROLE: Readonly<Record<string, string>> = {
  epayPayoutCallback: "the gateway's signed payout callback: the signature is the permission",
  login: "issues a token for a password: there is no principal yet",
  epayCallback: "the gateway's signed callback: the signature is the permission",
  submitApplication: "the public recruitment application: anyone may apply",
  createPriceQuote: "a price calculation: it changes nothing",
};

const ROUTES_DIR = join(__dirname, "../../app/routes");

function routeFilesWithAction(): string[] {
  return readdirSync(ROUTES_DIR)
    .filter((f) => /\.(tsx?|jsx?)$/.test(f) && !f.startsWith("api.v1."))
    .filter((f) => /export\s+(async\s+function\s+action|const\s+(\{[^}]*\baction\b[^}]*\}|action\b))/.test(readFileSync(join(ROUTES_DIR, f), "utf8")));
}

const postEndpoints = (): EndpointSpec[] => allEndpoints().filter((s) => s.method === "POST");

describe("the permission table covers every state change", () => {
  it("lists every route file with an `action` export, each with the action its forms perform (or why none)", () => {
    const files = routeFilesWithAction();
    const listed = new Set([...Object.keys(PAGE_ACTIONS), ...Object.keys(PAGE_ACTIONS_WITHOUT_ROLE)]);
    expect(files.filter((f) => !listed.has(f)), "route actions missing from PAGE_ACTIONS").toEqual([]);
    expect([...listed].filter((f) => !files.includes(f)), "listed routes that have no action").toEqual([]);
  });

  it("names an action on every POST endpoint (or says why none)", () => {
    const missing = postEndpoints().filter((s) => !s.action && !API_WITHOUT_ROLE[s.operationId]).map((s) => s.operationId);
    expect(missing).toEqual([]);
    for (const spec of postEndpoints().filter((s) => s.action)) {
      // An endpoint never claims a kind the table does not give the action to.
      const kinds = actionKinds(spec.action!);
      expect((spec.orgKinds ?? ORGANIZATION_KINDS).filter((k) => !kinds.includes(k)), spec.operationId).toEqual([]);
    }
  });

  it("checks the action named for each form in the route's source", () => {
    for (const [file, intents] of Object.entries(PAGE_ACTIONS)) {
      const source = readFileSync(join(ROUTES_DIR, file), "utf8");
      for (const action of new Set(Object.values(intents))) {
        expect(source.includes(`"${action}"`), `${file} does not name ${action}`).toBe(true);
      }
    }
  });

  it("gives no viewer anything to do, and bank roles only the bank's actions", () => {
    for (const [action, byKind] of Object.entries(ACTIONS)) {
      for (const [kind, roles] of Object.entries(byKind)) {
        expect(roles, `${action} for ${kind}`).not.toContain("viewer");
        if (kind !== "bank") {
          for (const bankRole of ["credit_officer", "operations", "platform_admin"] as const) expect(roles, `${action} for ${kind}`).not.toContain(bankRole);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The matrix, performed

interface Credential {
  cookie: string;
  csrf: string;
  bearer: string;
}

interface Attempt {
  path: string;
  fields?: Record<string, string>;
  /** For the API: the JSON body. */
  body?: unknown;
  /** After an allowed attempt: the change it made (money actions). */
  changed?: () => Promise<void>;
  /** After the refused attempts on this record: nothing changed. */
  unchanged?: () => Promise<void>;
}

interface Case {
  name: string;
  action: ActionName;
  /** The page or endpoint exists only for these kinds (others 404 before any role is asked). */
  onlyKinds?: readonly OrganizationKind[];
  /** A record of another organisation would be a 404: try it with the stranger of each allowed kind. */
  scoped: boolean;
  /** The record and form to try; called once per allowed role when `fresh`, else once for all. */
  attempt: (kind: OrganizationKind) => Promise<Attempt>;
  fresh?: boolean;
  /**
   * The record differs by the member's kind (a merchant's loan is not a dealer's): one shared
   * record per kind instead of one for all, each tried by that kind's members.
   */
  perKind?: boolean;
  /** The same request as a stranger (another organisation of the same kind). */
  strangerAttempt?: (kind: OrganizationKind) => Promise<Attempt>;
  api?: EndpointSpec;
}

describe("role matrix", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let tw: TradeWorld;
  const home = {} as Record<OrganizationKind, string>;
  const stranger = {} as Partial<Record<OrganizationKind, string>>;
  /** kind → role → the credentials of a member with that one role in `home[kind]`. */
  const members = {} as Record<OrganizationKind, Record<Role, Credential>>;
  const strangers = {} as Partial<Record<OrganizationKind, Credential>>;
  const ids = {} as Record<string, string>;
  const dealerActor = () => actorFor(home.dealer);
  const coreActor = () => actorFor(home.core_enterprise);

  async function credentialFor(userId: string, organizationId: string): Promise<Credential> {
    const token = newToken();
    const csrf = randomBytes(24).toString("base64url");
    const expires = new Date(Date.now() + 60 * 60 * 1000);
    await t.db.insertInto("sessions").values({ token_hash: hashToken(token), user_id: userId, organization_id: organizationId, csrf_token: csrf, expires_at: expires }).execute();
    const serialized = await cookies({ config: { sessionSecret: TEST_SESSION_SECRET, cookieSecure: false } as never }).session.serialize(token);
    const bearer = newToken();
    await t.db.insertInto("api_tokens").values({ token_hash: hashToken(bearer), user_id: userId, organization_id: organizationId, expires_at: expires }).execute();
    return { cookie: serialized.split(";")[0], csrf, bearer };
  }

  async function memberOf(organizationId: string, role: Role): Promise<Credential> {
    const user = await createUser(t.db, { memberships: [[organizationId, role]] });
    return credentialFor(user.id, organizationId);
  }

  beforeAll(async () => {
    t = await createTestDatabase();
    // The demo's supply chain, recruitment and orders (the seeds the demo uses), and a market world.
    home.bank = (await createOrg(t.db, { kind: "bank", name: "测试银行" })).id;
    home.core_enterprise = (await createOrg(t.db, { kind: "core_enterprise", name: "华通电器" })).id;
    home.dealer = (await createOrg(t.db, { kind: "dealer", name: "杭州鑫达商贸有限公司" })).id;
    stranger.dealer = (await createOrg(t.db, { kind: "dealer", name: "宁波鑫达电器销售有限公司" })).id;
    stranger.core_enterprise = (await createOrg(t.db, { kind: "core_enterprise" })).id;
    await fund(t.db, home.dealer, 500_000_000);
    await fund(t.db, stranger.dealer, 10_000_000);
    const parties = { core: home.core_enterprise, dealer: home.dealer, dealer2: stranger.dealer };
    await t.db.transaction().execute(async (trx) => {
      await seedSupplyChainDemo(trx, parties);
      await seedRecruitmentDemo(trx, { coreEnterpriseId: parties.core });
      await seedOrdersDemo(trx, parties);
    });
    tw = await createTradeWorld(t.db, { buyerFundedFen: 50_000_000 });
    // Hiding is tried on a listing of its own: the others stay on sale for the cart and orders.
    ids.hideable = (await makeListing(t.db, tw.w, 1, { priceFen: 5_000, stock: 10, title: "围巾" })).id;
    home.market_operator = tw.w.operatorId;
    home.merchant = tw.w.merchants[0].id;
    home.buyer = tw.buyer.id;
    stranger.market_operator = tw.stranger.world.operatorId;
    stranger.merchant = tw.stranger.world.merchants[0].id;
    stranger.buyer = tw.stranger.buyer.id;

    for (const kind of ORGANIZATION_KINDS) {
      members[kind] = {} as Record<Role, Credential>;
      for (const role of ROLES) members[kind][role] = await memberOf(home[kind], role);
      const other = stranger[kind];
      if (other) strangers[kind] = await memberOf(other, "owner");
    }

    const core = home.core_enterprise;
    const one = async <T>(q: Promise<T | undefined>, what: string): Promise<T> => {
      const row = await q;
      if (!row) throw new Error(`fixture: no ${what}`);
      return row;
    };
    ids.sku = (await one(t.db.selectFrom("skus").select("id").where("core_enterprise_id", "=", core).where("code", "=", "HT-KFR-35GW-A1").executeTakeFirst(), "sku")).id;
    ids.link = (await one(t.db.selectFrom("dealer_links").select("id").where("core_enterprise_id", "=", core).where("dealer_id", "=", home.dealer).executeTakeFirst(), "link")).id;
    // Suspending is tried on the other dealer's link: the first dealer keeps ordering.
    ids.link2 = (await one(t.db.selectFrom("dealer_links").select("id").where("core_enterprise_id", "=", core).where("dealer_id", "=", stranger.dealer!).executeTakeFirst(), "link")).id;
    ids.tier = (await one(t.db.selectFrom("dealer_tiers").select("id").where("core_enterprise_id", "=", core).executeTakeFirst(), "tier")).id;
    ids.list = (await one(t.db.selectFrom("price_lists").select("id").where("core_enterprise_id", "=", core).executeTakeFirst(), "price list")).id;
    ids.campaign = (await one(t.db.selectFrom("recruitment_campaigns").select("id").where("core_enterprise_id", "=", core).where("status", "=", "published").executeTakeFirst(), "campaign")).id;
    ids.application = (await one(t.db.selectFrom("recruitment_applications").select("id").where("campaign_id", "=", ids.campaign).executeTakeFirst(), "application")).id;
    ids.season = (await one(t.db.selectFrom("seasons").select("id").where("core_enterprise_id", "=", core).executeTakeFirst(), "season")).id;
    ids.stall = (await one(t.db.selectFrom("market_stalls").select("id").where("market_id", "=", tw.w.marketId).executeTakeFirst(), "stall")).id;
    ids.marketMerchant = (await one(t.db.selectFrom("market_merchants").select("id").where("market_id", "=", tw.w.marketId).where("merchant_id", "=", tw.w.merchants[1].id).executeTakeFirst(), "market merchant")).id;
    ids.merchantApplication = (await one(t.db.selectFrom("merchant_applications").select("id").where("market_id", "=", tw.w.marketId).executeTakeFirst(), "merchant application")).id;
    // A received order (for returns) and a return request: from the demo's completed order.
    // The dealer owes a joining deposit to the campaign (its application approved, awaiting it).
    await t.db
      .updateTable("recruitment_applications")
      .set({ dealer_organization_id: home.dealer, dealer_link_id: ids.link, status: "awaiting_deposit", deposit_fen: 500_000, decided_at: new Date() })
      .where("id", "=", (await one(t.db.selectFrom("recruitment_applications").select("id").where("campaign_id", "=", ids.campaign).where("id", "!=", ids.application).executeTakeFirst(), "second application")).id)
      .execute();
    ids.completedOrder = (await one(t.db.selectFrom("orders").select("id").where("dealer_id", "=", home.dealer).where("status", "=", "completed").where("kind", "!=", "return").executeTakeFirst(), "completed order")).id;
    // Financing: the home dealer borrows under the home core enterprise's guarantee. Two applications
    // waiting for the bank (one to decide, one to withdraw) and a loan paid out.
    const bankActor = actorFor(home.bank);
    await recordLpr(t.db, bankActor, { ratePpm: 31_000, effectiveOn: "2020-01-20" });
    const product = await createProduct(t.db, bankActor, { ...orderFinancingProduct({ autoApproveLimitFen: 100_000 }), code: "MATRIX-OF" });
    const agreement = await setFacility(t.db, bankActor, { kind: "guarantee", guarantorOrganizationId: home.core_enterprise, buyBackDays: 30, validTo: "2099-12-31", limitFen: 1_000_000_000 });
    await setFacility(t.db, bankActor, { kind: "guarantee_sub", guarantorOrganizationId: home.core_enterprise, borrowerOrganizationId: home.dealer, parentFacilityId: agreement.id, validTo: "2099-12-31", limitFen: 500_000_000 });
    await setFacility(t.db, bankActor, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: home.dealer, validTo: "2099-12-31", limitFen: 500_000_000 });
    ids.financingApplication = (await applyForOrderFinancing(t.db, dealerActor(), await orderIn("confirmed"), new Date())).id;
    ids.financingApplication2 = (await applyForOrderFinancing(t.db, dealerActor(), await orderIn("confirmed"), new Date())).id;
    const financed = await applyForOrderFinancing(t.db, dealerActor(), await orderIn("confirmed"), new Date());
    await approveApplication(t.db, { ...bankActor, userId: (await createUser(t.db, { memberships: [[home.bank, "credit_officer"]] })).id }, financed.id, new Date());
    ids.loan = (await one(disburseApplication(t.db, financed.id, new Date()).then((r) => (r.loanId ? { id: r.loanId } : undefined)), "loan")).id;
    // The home merchant sells two escrow orders' proceeds (above the auto limit: for the officers):
    // one sale to withdraw, one approved and paid out as a loan it repays.
    const advances = await createProduct(t.db, bankActor, {
      code: "MATRIX-RA", name: "应收账款融资", nameEn: "Receivables advance", kind: "receivables", rateBasis: "fixed", fixedRatePpm: 48_000,
      repaymentMethod: "bullet", termDays: 60, graceDays: 3, advanceRateBps: 8_000, autoApproveLimitFen: 1_000, secondApproverLimitFen: 50_000_000, minAmountFen: 100, maxAmountFen: 100_000_000,
    });
    await setFacility(t.db, bankActor, { kind: "borrower_limit", productId: advances.id, borrowerOrganizationId: home.merchant, validTo: "2099-12-31", limitFen: 10_000_000 });
    const sell = async () => (await sellMarketReceivable(t.db, actorFor(home.merchant), { marketOrderId: await paidOrder(t.db, tw, tw.dress.id, 1, { ship: true }) }, new Date())).id;
    ids.merchantSale = await sell();
    const merchantSale = await sell();
    await approveApplication(t.db, { ...bankActor, userId: (await createUser(t.db, { memberships: [[home.bank, "credit_officer"]] })).id }, merchantSale, new Date());
    ids.merchantLoan = (await one(disburseApplication(t.db, merchantSale, new Date()).then((r) => (r.loanId ? { id: r.loanId } : undefined)), "merchant loan")).id;
    server = await startPaymentsServer(t.db);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  // --- records in a given state, made through the model -----------------------------------------

  async function orderIn(status: "draft" | "submitted" | "confirmed" | "paid" | "shipped" | "completed"): Promise<string> {
    const created = await createOrder(t.db, dealerActor(), { dealerId: home.dealer, coreEnterpriseId: home.core_enterprise, kind: "standard", lines: [{ skuId: ids.sku, quantity: 1 }], submit: false }, new Date());
    if (status === "draft") return created.id;
    let order = await submitOrder(t.db, dealerActor(), created.id, new Date());
    if (order.status === "pending_approval") order = await approveOrder(t.db, dealerActor(), ["owner"], order.id, "approve", new Date());
    if (status === "submitted") return order.id;
    await confirmOrder(t.db, coreActor(), order.id, new Date());
    if (status === "confirmed") return order.id;
    await payFromWallet(t.db, dealerActor(), order.id, new Date());
    if (status === "paid") return order.id;
    const lines = await t.db.selectFrom("order_lines").select(["id", "quantity_confirmed"]).where("order_id", "=", order.id).execute();
    await shipOrder(t.db, coreActor(), order.id, { carrier: "顺丰", trackingNumber: `SF${Date.now()}`, lines: lines.map((l) => ({ lineId: l.id, quantity: l.quantity_confirmed ?? 0 })) }, new Date());
    if (status === "shipped") return order.id;
    await receiveOrder(t.db, dealerActor(), order.id, new Date());
    return order.id;
  }

  /** A return (RMA) of one unit of a fresh completed order, moved on to `status`. */
  async function returnIn(status: "requested" | "approved" | "goods_returned"): Promise<string> {
    const original = await orderIn("completed");
    const [line] = await orderLines(original);
    const rma = await requestReturn(t.db, dealerActor(), { originalOrderId: original, lines: [{ lineId: line.id, quantity: 1 }], reason: "质量问题" }, new Date());
    if (status === "requested") return rma.id;
    await decideReturn(t.db, coreActor(), rma.id, "approve", new Date());
    if (status === "approved") return rma.id;
    await receiveReturnedGoods(t.db, coreActor(), rma.id);
    return rma.id;
  }

  async function orderStatus(id: string): Promise<string> {
    return (await t.db.selectFrom("orders").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status;
  }

  async function orderLines(id: string) {
    return t.db.selectFrom("order_lines").select(["id", "quantity_ordered", "quantity_confirmed"]).where("order_id", "=", id).orderBy("line_no").execute();
  }

  async function marketOrderStatus(id: string): Promise<string> {
    return (await t.db.selectFrom("market_orders").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status;
  }

  async function checkoutStatus(id: string): Promise<string> {
    return (await t.db.selectFrom("market_checkouts").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status;
  }

  async function placed(): Promise<{ checkoutId: string; orderId: string }> {
    const p = await placeFor(t.db, tw, [{ listingId: tw.dress.id, quantity: 1 }]);
    return { checkoutId: p.checkout.id, orderId: p.orders[0].id };
  }

  async function disputed(): Promise<{ orderId: string; disputeId: string }> {
    const orderId = await paidOrder(t.db, tw, tw.dress.id, 1, { ship: true });
    const { disputeId } = await openDispute(t.db, actorFor(tw.buyer.id), tw.buyer.id, orderId, { statement: "货不对板，颜色与图片不符" }, new Date());
    return { orderId, disputeId };
  }

  const expectStatus = (read: () => Promise<string>, status: string) => async () => expect(await read()).toBe(status);

  /** An outbox row whose job BullMQ gave up on: what the bank's console offers to run again. */
  async function failedJob(): Promise<number> {
    const jobId = `matrix:${randomUUID()}:step`;
    await t.db.transaction().execute((trx) => enqueue(trx, { queue: "notifications", name: "matrix-step", jobId, payload: {} }));
    await markExhausted(t.db, jobId, new Error("gave up in the matrix"), 10);
    return (await t.db.selectFrom("outbox").select("id").where("job_id", "=", jobId).executeTakeFirstOrThrow()).id;
  }

  // --- the page cases -----------------------------------------------------------------------------

  const page = (name: string, action: ActionName, attempt: Case["attempt"], options: Partial<Case> = {}): Case => ({ name, action, attempt, scoped: true, ...options });
  const at = (path: string, fields: Record<string, string> = {}, more: Partial<Attempt> = {}): Attempt => ({ path, fields, ...more });

  function pageCases(): Case[] {
    const o = (id: string) => `/orders/${id}`;
    return [
      // Dealer orders: the money and the state machine, each on an order where it is possible.
      page("order page: pay from the wallet", "order.pay", async () => {
        const id = await orderIn("confirmed");
        return at(o(id), { intent: "pay_wallet" }, { changed: expectStatus(() => orderStatus(id), "paid"), unchanged: expectStatus(() => orderStatus(id), "confirmed") });
      }, { fresh: true }),
      page("order page: pay by e-Pay", "order.pay", async () => at(o(await orderIn("confirmed")), { intent: "epay" }), { fresh: true }),
      page("order page: pay on account", "order.pay_on_account", async () => {
        const id = await orderIn("confirmed");
        return at(o(id), { intent: "pay_on_account" }, { changed: expectStatus(() => orderStatus(id), "paid"), unchanged: expectStatus(() => orderStatus(id), "confirmed") });
      }, { fresh: true }),
      page("order page: cancel", "order.cancel", async () => {
        const id = await orderIn("paid");
        return at(o(id), { intent: "cancel", reason: "客户取消" }, { changed: expectStatus(() => orderStatus(id), "cancelled"), unchanged: expectStatus(() => orderStatus(id), "paid") });
      }, { fresh: true }),
      page("order page: confirm", "order.confirm", async () => {
        const id = await orderIn("submitted");
        const lines = await orderLines(id);
        const fields = Object.fromEntries(lines.map((l) => [`quantity.${l.id}`, String(l.quantity_ordered)]));
        return at(o(id), { intent: "confirm", ...fields }, { changed: expectStatus(() => orderStatus(id), "confirmed"), unchanged: expectStatus(() => orderStatus(id), "submitted") });
      }, { fresh: true }),
      page("order page: reject", "order.reject", async () => at(o(await orderIn("submitted")), { intent: "reject", reason: "缺货" }), { fresh: true }),
      page("order page: ship", "order.ship_all", async () => {
        const id = await orderIn("paid");
        const lines = await orderLines(id);
        const fields = Object.fromEntries(lines.map((l) => [`ship.${l.id}`, String(l.quantity_confirmed)]));
        return at(o(id), { intent: "ship", carrier: "顺丰速运", tracking_number: "SF1234567890", ...fields }, { changed: expectStatus(() => orderStatus(id), "shipped"), unchanged: expectStatus(() => orderStatus(id), "paid") });
      }, { fresh: true }),
      page("order page: receive", "order.receive", async () => at(o(await orderIn("shipped")), { intent: "receive" }), { fresh: true }),
      page("order page: submit", "order.submit", async () => at(o(ids.completedOrder), { intent: "submit", payment_method: "" })),
      page("order page: approve", "order.approve", async () => at(o(ids.completedOrder), { intent: "approve" })),
      page("order page: decline approval", "order.decline_approval", async () => at(o(ids.completedOrder), { intent: "decline", reason: "超预算" })),
      page("order page: request financing", "order.request_financing", async () => at(o(ids.completedOrder), { intent: "financing" })),
      page("order page: repay", "order.repay", async () => at(o(ids.completedOrder), { intent: "repay" })),
      page("order page: approve a return", "order.approve_return", async () => {
        const id = await returnIn("requested");
        return at(o(id), { intent: "approve_return" }, { changed: expectStatus(() => orderStatus(id), "approved"), unchanged: expectStatus(() => orderStatus(id), "requested") });
      }, { fresh: true }),
      page("order page: goods back", "order.goods_back", async () => at(o(await returnIn("approved")), { intent: "goods_back" })),
      page("order page: refund a return", "order.refund", async () => {
        const id = await returnIn("goods_returned");
        return at(o(id), { intent: "refund" }, { changed: async () => expect(["refunded", "completed"]).toContain(await orderStatus(id)), unchanged: expectStatus(() => orderStatus(id), "goods_returned") });
      }, { fresh: true }),
      page("return request page", "order.request_return", async () => at(`/orders/${ids.completedOrder}/return`, { reason: "质量问题" })),
      page("cart: add", "order.edit_cart", async () => at("/cart", { intent: "add", core_enterprise_id: home.core_enterprise, sku_id: ids.sku, quantity: "1" }), { scoped: false }),
      page("cart: submit", "order.submit", async () => {
        const id = await orderIn("draft");
        return at("/cart", { intent: "submit", order_id: id, payment_method: "after_confirmation" }, { changed: async () => expect(await orderStatus(id)).not.toBe("draft"), unchanged: expectStatus(() => orderStatus(id), "draft") });
      }, { fresh: true, scoped: false }),
      page("quick order", "order.create", async () => at("/orders/quick", { core_enterprise_id: home.core_enterprise, kind: "replenishment", season_id: "", lines: "HT-KFR-35GW-A1,1", note: "" }), { scoped: false }),
      page("order settings", "order_settings.update", async () => at("/settings/orders", { approval_threshold: "", auto_receipt_days: "10" }), { scoped: false }),
      // Financing
      page("financing: apply for an order", "financing.apply", async () => at(`/financing/apply/${ids.completedOrder}`, { intent: "apply" })),
      page("financing: approve", "financing.decide", async () => at(`/financing/applications/${ids.financingApplication}`, { intent: "approve" }), { onlyKinds: ["bank"], scoped: false }),
      page("financing: reject", "financing.decide", async () => at(`/financing/applications/${ids.financingApplication}`, { intent: "reject", reason: "" }), { onlyKinds: ["bank"], scoped: false }),
      // A merchant's own: its sale of an escrow order's proceeds, and the advance it repays.
      page("financing: withdraw", "financing.withdraw", async (kind) => at(`/financing/applications/${kind === "merchant" ? ids.merchantSale : ids.financingApplication2}`, { intent: "withdraw" }), { perKind: true }),
      page("financing: repay what is due", "financing.repay", async (kind) => at(`/financing/loans/${kind === "merchant" ? ids.merchantLoan : ids.loan}`, { intent: "repay_due", idempotency_key: randomUUID(), amount: "" }), { perKind: true }),
      page("financing: repay in full", "financing.repay", async (kind) => at(`/financing/loans/${kind === "merchant" ? ids.merchantLoan : ids.loan}`, { intent: "payoff", idempotency_key: randomUUID() }), { perKind: true }),
      page("financing: repay by e-Pay", "financing.repay", async (kind) => at(`/financing/loans/${kind === "merchant" ? ids.merchantLoan : ids.loan}`, { intent: "epay", mode: "due" }), { perKind: true }),
      page("financing: reclassify", "financing.reclassify", async () => at(`/financing/loans/${ids.loan}`, { intent: "reclassify", class: "", reason: "" }), { scoped: false }),
      page("financing: write off", "financing.write_off", async () => at(`/financing/loans/${ids.loan}`, { intent: "write_off", reason: "" }), { scoped: false }),
      page("financing: draw on the credit line", "financing.apply", async () => at("/financing/credit-line", { intent: "draw", amount: "", order_id: "" }), { scoped: false }),
      page("financing: set a guarantee agreement", "financing.facility_write", async () => at("/financing/facilities", { intent: "set_agreement", guarantor_id: "", limit_yuan: "" }), { onlyKinds: ["bank"], scoped: false }),
      page("financing: record the LPR", "financing.product_write", async () => at("/financing/products", { intent: "record_lpr", rate_percent: "", effective_on: "" }), { onlyKinds: ["bank"], scoped: false }),
      page("financing: create a product", "financing.product_write", async () => at("/financing/products", { intent: "create_product", code: "" }), { onlyKinds: ["bank"], scoped: false }),
      page("financing: sell a receivable", "financing.sell_receivable", async () => at("/financing/receivables", { intent: "sell", order_id: "" }), { scoped: false }),
      page("settlement account: register or change", "settlement_account.write", async () => at("/settlement/account", { intent: "save", bank_name: "", branch_name: "", account_number: "", account_name: "" }), { scoped: false }),
      page("reconciliation: resolve a mismatch", "reconciliation.resolve", async () => at("/settlement/reconciliation", { intent: "resolve", mismatch_id: "", note: "" }), { onlyKinds: ["bank"], scoped: false }),
      page("payouts: request a payout", "payout.request", async () => at("/settlement/payouts", { intent: "request", amount: "", idempotency_key: randomUUID() }), { scoped: false }),
      page("settlement account: verify the deposit", "settlement_account.verify", async () => at("/settlement/account", { intent: "verify", amount: "" }), { scoped: false }),
      page("financing: start the daily run", "financing.run_accrual", async () => at("/financing/runs", { intent: "start", business_date: "" }), { scoped: false }),
      page("bank console: run a job given up on again", "jobs.rerun", async () => {
        const id = await failedJob();
        const failed = async () => (await t.db.selectFrom("outbox").select("failed_at").where("id", "=", id).executeTakeFirstOrThrow()).failed_at !== null;
        return at("/?index", { intent: "rerun", outboxId: String(id) }, {
          changed: async () => expect(await failed()).toBe(false),
          unchanged: async () => expect(await failed()).toBe(true),
        });
      }, { fresh: true, scoped: false }),
      page("API keys: create", "api_key.manage", async () => at("/settings/api-keys", { intent: "create", name: `matrix-${randomUUID().slice(0, 8)}`, roles: "viewer" }), { scoped: false }),
      // Supplier's catalogue, prices, seasons and dealers
      page("catalogue: edit a SKU", "catalog.sku_write", async () => at(`/catalog/${ids.sku}`, { name: "华通 1.5匹 新一级变频冷暖挂机" })),
      page("catalogue: new SKU", "catalog.sku_write", async () => at("/catalog/new", { code: "" }), { scoped: false }),
      page("catalogue: CSV import", "catalog.import", async () => at("/catalog/import", {}), { scoped: false }),
      page("pricing: tiers, lists and overrides", "pricing.write", async () => at("/pricing?index", { intent: "updateTier", tierId: ids.tier, name: "" }), { scoped: false }),
      page("pricing: a list", "pricing.write", async () => at(`/pricing/lists/${ids.list}`, { intent: "updateList", name: "" })),
      page("seasons", "season.write", async () => at("/seasons", { intent: "create", name: "" }), { scoped: false }),
      page("dealer: terms", "dealer_link.update", async () => at(`/dealers/${ids.link}`, { intent: "updateTerms", tierId: ids.tier, region: "华东", paymentTermsDays: "30", creditLimit: "abc" })),
      page("dealer: suspend", "dealer_link.transition", async () => at(`/dealers/${ids.link2}`, { intent: "suspend", reason: "逾期未付" })),
      // Recruitment
      page("campaign: new", "campaign.write", async () => at("/campaigns/new", { title: "" }), { scoped: false }),
      page("campaign: edit", "campaign.write", async () => at(`/campaigns/${ids.campaign}/edit`, { title: "" })),
      page("campaign: close", "campaign.transition", async () => at(`/campaigns/${ids.campaign}?index`, { intent: "close" })),
      page("application: review", "application.review", async () => at(`/campaigns/${ids.campaign}/applications/${ids.application}`, { intent: "request_info", message: "" })),
      page("joining deposit", "recruitment.pay_deposit", async () => at(`/join/${ids.campaign}/deposit`, {}), { scoped: false }),
      // Market operator
      page("markets: create", "market.write", async () => at("/markets?index", { name: "" }), { scoped: false }),
      page("market: update", "market.write", async () => at(`/markets/${tw.w.marketId}?index`, { intent: "updateMarket", name: "" })),
      page("market: add a zone", "market.zone_write", async () => at(`/markets/${tw.w.marketId}?index`, { intent: "addZone", zoneName: "" })),
      page("market: close a stall", "market.stall_write", async () => at(`/markets/${tw.w.marketId}?index`, { intent: "updateStall", stallId: ids.stall, area: "" })),
      page("market: suspend a merchant", "market.merchant_transition", async () => at(`/markets/${tw.w.marketId}?index`, { intent: "suspend", marketMerchantId: ids.marketMerchant, reason: "" })),
      page("market: merchant application", "market.application_write", async () => at(`/markets/${tw.w.marketId}/applications`, { intent: "submit", companyName: "" })),
      page("market: decide an application", "market.application_decide", async () => at(`/markets/${tw.w.marketId}/applications`, { intent: "reject", applicationId: ids.merchantApplication, reason: "" })),
      page("market: fee schedule", "market.fee_write", async () => at(`/markets/${tw.w.marketId}/fees`, { category: "" })),
      page("market: announcement", "market.announcement_write", async () => at(`/markets/${tw.w.marketId}/announcements`, { title: "" })),
      page("market: hide a listing", "listing.moderate", async () => at(`/markets/${tw.w.marketId}/listings`, { intent: "hide", listingId: ids.hideable, reason: "图片不符" })),
      // Merchant listings
      page("listing: new", "listing.write", async () => at("/merchant/listings/new", { title: "" }), { scoped: false }),
      page("listing: edit", "listing.write", async () => at(`/merchant/listings/${tw.dress.id}`, { intent: "stock", stock: "abc" })),
      // Buyer: cart and checkout
      page("market: add to cart", "market_cart.edit", async () => at(`/market/${tw.w.marketId}?index`, { listingId: tw.shirt.id, quantity: "1" }), { scoped: false }),
      page("listing page: add to cart", "market_cart.edit", async () => at(`/market/${tw.w.marketId}/listings/${tw.shirt.id}`, { quantity: "1" }), { scoped: false }),
      page("market cart: update", "market_cart.edit", async () => at("/market/cart?index", { intent: "update", listingId: tw.shirt.id, quantity: "1" }), { scoped: false }),
      page("market cart: check out", "market_checkout.create", async () => at("/market/cart/checkout", { marketId: tw.w.marketId, idempotencyKey: randomUUID() }), { scoped: false }),
      page("checkout: pay from the wallet", "market_order.pay", async () => {
        const { checkoutId, orderId } = await placed();
        return at(`/market/checkouts/${checkoutId}`, { intent: "wallet" }, { changed: expectStatus(() => marketOrderStatus(orderId), "paid"), unchanged: expectStatus(() => marketOrderStatus(orderId), "placed") });
      }, { fresh: true, onlyKinds: ["buyer"] }),
      page("checkout: cancel", "market_order.cancel", async () => {
        const { checkoutId } = await placed();
        return at(`/market/checkouts/${checkoutId}`, { intent: "cancel" }, { changed: async () => expect(await checkoutStatus(checkoutId)).not.toBe("placed") });
      }, { fresh: true, onlyKinds: ["buyer"] }),
      // Escrow orders
      page("market order: ship", "market_order.ship", async () => {
        const id = await paidOrder(t.db, tw, tw.dress.id, 1);
        return at(`/market/orders/${id}`, { intent: "ship", carrier: "顺丰速运", trackingNo: "SF1234567890" }, { changed: expectStatus(() => marketOrderStatus(id), "shipped"), unchanged: expectStatus(() => marketOrderStatus(id), "paid") });
      }, { fresh: true }),
      page("market order: cancel a paid order", "market_order.cancel", async () => {
        const id = await paidOrder(t.db, tw, tw.dress.id, 1);
        return at(`/market/orders/${id}`, { intent: "cancel", reason: "缺货" }, { changed: expectStatus(() => marketOrderStatus(id), "cancelled"), unchanged: expectStatus(() => marketOrderStatus(id), "paid") });
        // The buyer cancels an unpaid order as its checkout; this form is the merchant's.
      }, { fresh: true, onlyKinds: ["merchant"] }),
      page("market order: receive", "market_order.receive", async () => {
        const id = await paidOrder(t.db, tw, tw.dress.id, 1, { ship: true });
        return at(`/market/orders/${id}`, { intent: "receive", confirmed: "yes" }, { changed: async () => expect(await marketOrderStatus(id)).not.toBe("shipped"), unchanged: expectStatus(() => marketOrderStatus(id), "shipped") });
      }, { fresh: true }),
      page("market order: dispute", "market_order.dispute", async () => {
        const id = await paidOrder(t.db, tw, tw.dress.id, 1);
        return at(`/market/orders/${id}`, { intent: "dispute", statement: "货不对板" }, { changed: expectStatus(() => marketOrderStatus(id), "disputed"), unchanged: expectStatus(() => marketOrderStatus(id), "paid") });
      }, { fresh: true }),
      page("market order: dispute statement", "dispute.statement", async () => at(`/market/orders/${(await disputed()).orderId}`, { intent: "statement", body: "补充说明" })),
      page("dispute: ruling", "market_order.rule_release", async () => {
        const { orderId, disputeId } = await disputed();
        return at(`/markets/${tw.w.marketId}/disputes/${disputeId}`, { intent: "rule", ruling: "release", reason: "证据不足", confirmFinal: "on" }, { changed: expectStatus(() => marketOrderStatus(orderId), "settled"), unchanged: expectStatus(() => marketOrderStatus(orderId), "disputed") });
      }, { fresh: true, onlyKinds: ["market_operator"] }),
      page("dispute: operator's statement", "dispute.statement", async () => at(`/markets/${tw.w.marketId}/disputes/${(await disputed()).disputeId}`, { intent: "statement", body: "市场说明" }), { onlyKinds: ["market_operator"] }),
    ];
  }

  // --- the API cases: every POST endpoint with an action ----------------------------------------

  async function apiAttempt(spec: EndpointSpec): Promise<Attempt> {
    const p = (path: string, body: unknown = {}, more: Partial<Attempt> = {}): Attempt => ({ path, body, ...more });
    const m = tw.w.marketId;
    switch (spec.operationId) {
      case "payOrder": {
        const id = await orderIn("confirmed");
        return p(`/api/v1/orders/${id}/pay`, { method: "wallet" }, { changed: expectStatus(() => orderStatus(id), "paid"), unchanged: expectStatus(() => orderStatus(id), "confirmed") });
      }
      case "cancelOrder": {
        const id = await orderIn("paid");
        return p(`/api/v1/orders/${id}/cancel`, { reason: "客户取消" }, { changed: expectStatus(() => orderStatus(id), "cancelled"), unchanged: expectStatus(() => orderStatus(id), "paid") });
      }
      case "confirmOrder": {
        const id = await orderIn("submitted");
        return p(`/api/v1/orders/${id}/confirm`, { lines: [] }, { changed: expectStatus(() => orderStatus(id), "confirmed"), unchanged: expectStatus(() => orderStatus(id), "submitted") });
      }
      case "shipOrder": {
        const id = await orderIn("paid");
        return p(`/api/v1/orders/${id}/ship`, { carrier: "顺丰速运", tracking_number: "SF1234567890" }, { changed: expectStatus(() => orderStatus(id), "shipped"), unchanged: expectStatus(() => orderStatus(id), "paid") });
      }
      case "rejectOrder":
        return p(`/api/v1/orders/${await orderIn("submitted")}/reject`, { reason: "缺货" });
      case "receiveOrder":
        return p(`/api/v1/orders/${await orderIn("shipped")}/receive`);
      case "approveOrder":
        return p(`/api/v1/orders/${ids.completedOrder}/approve`, { decision: "approve" });
      case "requestReturn": {
        const [line] = await orderLines(ids.completedOrder);
        return p(`/api/v1/orders/${ids.completedOrder}/returns`, { lines: [{ line_id: line.id, quantity: 1 }], reason: "质量问题" });
      }
      case "createOrder":
        return p("/api/v1/orders", { core_enterprise_id: home.core_enterprise, kind: "standard", lines: [{ sku_code: "HT-KFR-35GW-A1", quantity: 1 }], submit: false });
      case "payMarketCheckout": {
        const { checkoutId, orderId } = await placed();
        return p(`/api/v1/market-checkouts/${checkoutId}/pay`, { method: "wallet" }, { changed: expectStatus(() => marketOrderStatus(orderId), "paid"), unchanged: expectStatus(() => marketOrderStatus(orderId), "placed") });
      }
      case "cancelMarketCheckout":
        return p(`/api/v1/market-checkouts/${(await placed()).checkoutId}/cancel`);
      case "shipMarketOrder": {
        const id = await paidOrder(t.db, tw, tw.dress.id, 1);
        return p(`/api/v1/market-orders/${id}/ship`, { carrier: "顺丰速运", tracking_no: "SF1234567890" }, { changed: expectStatus(() => marketOrderStatus(id), "shipped"), unchanged: expectStatus(() => marketOrderStatus(id), "paid") });
      }
      case "cancelMarketOrder": {
        const id = await paidOrder(t.db, tw, tw.dress.id, 1);
        return p(`/api/v1/market-orders/${id}/cancel`, { reason: "缺货" }, { changed: expectStatus(() => marketOrderStatus(id), "cancelled"), unchanged: expectStatus(() => marketOrderStatus(id), "paid") });
      }
      case "receiveMarketOrder":
        return p(`/api/v1/market-orders/${await paidOrder(t.db, tw, tw.dress.id, 1, { ship: true })}/receive`);
      case "disputeMarketOrder":
        return p(`/api/v1/market-orders/${await paidOrder(t.db, tw, tw.dress.id, 1)}/dispute`, { statement: "货不对板" });
      case "addMarketDisputeStatement":
        return p(`/api/v1/market-disputes/${(await disputed()).disputeId}/statements`, { body: "补充说明" });
      case "ruleMarketDispute": {
        const { orderId, disputeId } = await disputed();
        return p(`/api/v1/market-disputes/${disputeId}/ruling`, { ruling: "release", reason: "证据不足" }, { changed: expectStatus(() => marketOrderStatus(orderId), "settled"), unchanged: expectStatus(() => marketOrderStatus(orderId), "disputed") });
      }
      case "createMarketOrders":
        return p("/api/v1/market-orders", { market_id: m, lines: [] });
      // Financing: the completed order cannot be financed (409); a blank reason is 422; nothing is due on the loan yet (409).
      case "createFinancingApplication":
        return p("/api/v1/financing/applications", { order_id: ids.completedOrder });
      case "approveFinancingApplication":
        return p(`/api/v1/financing/applications/${ids.financingApplication}/approve`, {});
      case "rejectFinancingApplication":
        return p(`/api/v1/financing/applications/${ids.financingApplication}/reject`, { reason: " " });
      case "withdrawFinancingApplication":
        return p(`/api/v1/financing/applications/${ids.financingApplication2}/withdraw`, {});
      case "repayLoan":
        return p(`/api/v1/financing/loans/${ids.loan}/repayments`, { mode: "due" });
      case "startLoanEpayRepayment":
        // Nothing is due on the loan yet: 409 naming amount_fen, no payment started.
        return p(`/api/v1/financing/loans/${ids.loan}/epay-repayments`, { mode: "due" });
      case "drawOnCreditLine":
        // The home dealer has no credit line: 409 naming borrower_limit, nothing written.
        return p("/api/v1/financing/draws", { amount_fen: 100_000 });
      case "setFacility":
        return p("/api/v1/financing/facilities", { kind: "guarantee", valid_to: "not a date", limit_fen: 1 });
      default: {
        // The rest change a record of the acting organisation: its id in the path, a body the schema
        // may refuse (422) — the role check comes first either way.
        const path = spec.path
          .replace("/skus/{id}", `/skus/${ids.sku}`)
          .replace("/dealers/{id}", `/dealers/${ids.link}`)
          .replace("/campaigns/{id}", `/campaigns/${ids.campaign}`)
          .replace("/applications/{id}", `/applications/${ids.application}`)
          .replace("/markets/{id}", `/markets/${m}`)
          .replace("/markets/{marketId}", `/markets/${m}`)
          .replace("{stallId}", ids.stall)
          .replace("{merchantId}", ids.marketMerchant)
          .replace("{applicationId}", ids.merchantApplication)
          .replace("/listings/{id}", `/listings/${tw.shirt.id}`);
        if (path.includes("{")) throw new Error(`no ids for ${spec.path}`);
        // A body the schema accepts, so that another organisation's id meets the tenancy check (404).
        const BODIES: Record<string, unknown> = {
          updateSku: { name: "华通 1.5匹 新一级变频冷暖挂机" },
          updateDealer: { tier_id: ids.tier, region: "华东", payment_terms_days: 30, credit_limit_fen: 10_000_000 },
          requestApplicationInfo: { message: "请补充营业执照" },
          rejectApplication: { reason: "区域已满" },
          approveApplication: { note: "欢迎加入" },
          updateMarket: { city: "杭州" },
          createMarketZone: { name: `区-${randomUUID().slice(0, 6)}` },
          createMarketStall: { code: `M-${randomUUID().slice(0, 6)}`, area_dm2: 1200, monthly_rent_fen: 500_000 },
          updateMarketStall: { area_dm2: 1300 },
          suspendMarketMerchant: { reason: "违规" },
          reactivateMarketMerchant: { reason: "整改完成" },
          createMerchantApplication: { uscc: randomUscc(), company_name: "杭州测试服饰", legal_representative: "王五", contact_name: "王五", contact_phone: "13900000000", categories: ["女装"] },
          approveMerchantApplication: { stall_id: ids.stall },
          rejectMerchantApplication: { reason: "资质不全" },
          createMarketFeeSchedule: { category: "女装", commission_rate_bps: 250, effective_from: "2099-01-01" },
          updateListing: { stock_delta_qty: 1 },
          hideListing: { reason: "图片不符" },
          unhideListing: { reason: "已整改" },
          publishMarketAnnouncement: { title: "停电通知", body: "周六 8:00–10:00 停电检修", audience: "all" },
        };
        // The merchant edits its own listing; the operator hides one kept for that.
        const listing = spec.operationId === "updateListing" ? tw.dress.id : ids.hideable;
        return p(path.replace(`/listings/${tw.shirt.id}`, `/listings/${listing}`), BODIES[spec.operationId] ?? {});
      }
    }
  }

  const FRESH_API = new Set(["payOrder", "cancelOrder", "confirmOrder", "shipOrder", "rejectOrder", "receiveOrder", "payMarketCheckout", "cancelMarketCheckout", "shipMarketOrder", "cancelMarketOrder", "receiveMarketOrder", "disputeMarketOrder", "ruleMarketDispute"]);
  /** Endpoints whose path names a record of one organisation (another's is a 404). */
  const apiScoped = (spec: EndpointSpec) => /\{/.test(spec.path) && spec.operationId !== "createMarketListing";

  function apiCases(): Case[] {
    return postEndpoints()
      .filter((s) => s.action)
      .map((spec) => ({
        name: `API ${spec.operationId}`,
        action: spec.action!,
        onlyKinds: spec.orgKinds,
        scoped: apiScoped(spec),
        fresh: FRESH_API.has(spec.operationId),
        attempt: () => apiAttempt(spec),
        api: spec,
      }));
  }

  // --- performing one request ---------------------------------------------------------------

  async function perform(c: Case, cred: Credential, a: Attempt): Promise<{ status: number; body: string }> {
    if (c.api) {
      const res = await fetch(new URL(a.path, server.url), {
        method: "POST",
        headers: { Authorization: `Bearer ${cred.bearer}`, "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": randomUUID() },
        body: JSON.stringify(a.body ?? {}),
        redirect: "manual",
      });
      return { status: res.status, body: await res.text() };
    }
    // The action as the browser's JavaScript calls it (Remix single fetch: `<path>.data`): the same
    // action, CSRF check and status, without rendering a whole document for each of the thousands
    // of attempts. One document-rendered refusal is checked on its own below.
    const url = new URL(a.path, server.url);
    url.pathname = `${url.pathname}.data`;
    const res = await fetch(url, {
      method: "POST",
      headers: { Cookie: cred.cookie, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: cred.csrf, ...(a.fields ?? {}) }).toString(),
      redirect: "manual",
    });
    return { status: res.status, body: await res.text() };
  }

  function verdict(expected: Expected, status: number): boolean {
    if (status >= 500) return false;
    if (expected === "allowed") return status !== 403 && status !== 404;
    return status === expected;
  }

  /** Run with at most `limit` requests at a time (the refusals change nothing, so order is free). */
  async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(limit, items.length) }, async () => {
        while (next < items.length) await run(items[next++]);
      }),
    );
  }

  async function runCase(c: Case): Promise<void> {
    const problems: string[] = [];
    const pairs = ORGANIZATION_KINDS.flatMap((kind) => ROLES.map((role) => ({ kind, role, expected: expectedFor(c.action, kind, role, c.onlyKinds) })));
    const refused = pairs.filter((p) => p.expected !== "allowed");
    const allowed = pairs.filter((p) => p.expected === "allowed");
    expect(allowed.length, `${c.name}: the table lets somebody do it`).toBeGreaterThan(0);

    // Refusals: one record for all (per kind when the case says so); it must not change.
    const sharedByKind = new Map<OrganizationKind, Promise<Attempt>>();
    const sharedFor = (kind: OrganizationKind): Promise<Attempt> => {
      const key = c.perKind ? kind : (refused[0]?.kind ?? "bank");
      if (!sharedByKind.has(key)) sharedByKind.set(key, c.attempt(key));
      return sharedByKind.get(key)!;
    };
    await pool(refused, 12, async ({ kind, role, expected }) => {
      const res = await perform(c, members[kind][role], await sharedFor(kind));
      if (!verdict(expected, res.status)) problems.push(`${kind}/${role}: expected ${expected}, got ${res.status} ${res.body.slice(0, 160)}`);
      else if (expected === 403 && !c.api) {
        // The refusal carries the roles that may, for the page to name them.
        const missing = rolesFor(c.action, kind).filter((r) => !res.body.includes(`"${r}"`));
        if (!res.body.includes("forbidden") || missing.length) problems.push(`${kind}/${role}: the 403 does not name the roles needed: ${res.body.slice(0, 160)}`);
      } else if (expected === 403 && c.api && !res.body.includes(`This needs one of the roles ${rolesFor(c.action, kind).join(", ")}`)) {
        problems.push(`${kind}/${role}: the 403 answer does not name the roles: ${res.body.slice(0, 160)}`);
      }
    });
    for (const shared of sharedByKind.values()) await (await shared).unchanged?.();

    // Another organisation's record, by an owner of the same kind: 404.
    if (c.scoped) {
      for (const kind of actionKinds(c.action).filter((k) => !c.onlyKinds || c.onlyKinds.includes(k))) {
        const cred = strangers[kind];
        if (!cred) continue;
        const shared = await sharedFor(kind);
        const res = await perform(c, cred, shared);
        if (res.status !== 404) problems.push(`stranger ${kind}: expected 404, got ${res.status} ${res.body.slice(0, 160)}`);
        await shared.unchanged?.();
      }
    }

    // Allowed: each on its own record when the case is `fresh` (a real attempt), in turn.
    for (const { kind, role } of allowed) {
      const a = c.fresh ? await c.attempt(kind) : await sharedFor(kind);
      const res = await perform(c, members[kind][role], a);
      if (!verdict("allowed", res.status)) problems.push(`${kind}/${role}: expected allowed, got ${res.status} ${res.body.slice(0, 200)}`);
      else if (c.fresh && a.changed) {
        try {
          await a.changed();
        } catch (error) {
          problems.push(`${kind}/${role}: answered ${res.status} but did not do it: ${(error as Error).message.slice(0, 200)}`);
        }
      }
    }
    expect(problems, `${c.name}:\n${problems.join("\n")}`).toEqual([]);
  }

  it("a refused page names the roles that may, in the reader's language, changes nothing, and hides the buttons", async () => {
    const id = await orderIn("confirmed");
    const cases = [
      ["zh-CN", "需要以下角色之一：负责人、管理员、采购、财务"],
      ["en", "it needs one of the roles Owner, Admin, Purchaser, Finance"],
    ] as const;
    for (const [locale, sentence] of cases) {
      const viewer = await createUser(t.db, { locale, memberships: [[home.dealer, "viewer"]] });
      const cred = await credentialFor(viewer.id, home.dealer);
      const res = await fetch(new URL(`/orders/${id}`, server.url), {
        method: "POST",
        headers: { Cookie: cred.cookie, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: cred.csrf, intent: "pay_wallet" }).toString(),
        redirect: "manual",
      });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain(sentence);
      // The viewer's page offers no payment; the finance member's does.
      const view = await (await fetch(new URL(`/orders/${id}`, server.url), { headers: { Cookie: cred.cookie } })).text();
      expect(view).not.toContain('value="pay_wallet"');
    }
    const finance = members.dealer.finance;
    const view = await (await fetch(new URL(`/orders/${id}`, server.url), { headers: { Cookie: finance.cookie } })).text();
    expect(view).toContain('value="pay_wallet"');
    expect(await orderStatus(id)).toBe("confirmed");
  });

  describe("a page shows only the forms the member may use, and names the roles for the rest", () => {
    async function pageFor(cred: Credential, path: string): Promise<string> {
      const res = await fetch(new URL(path, server.url), { headers: { Cookie: cred.cookie } });
      expect(res.status, path).toBe(200);
      return res.text();
    }
    async function post(cred: Credential, path: string, fields: Record<string, string>): Promise<number> {
      const res = await fetch(new URL(path, server.url), {
        method: "POST",
        headers: { Cookie: cred.cookie, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf: cred.csrf, ...fields }).toString(),
        redirect: "manual",
      });
      return res.status;
    }

    it("dealer cart: the viewer and the finance member see the cart without its forms; a purchaser edits and submits it", async () => {
      // A cart with a line in it, so there is something to edit and submit.
      expect(await post(members.dealer.purchaser, "/cart", { intent: "add", core_enterprise_id: home.core_enterprise, sku_id: ids.sku, quantity: "1" })).toBe(302);
      for (const role of ["viewer", "finance"] as const) {
        const html = await pageFor(members.dealer[role], "/cart");
        expect(html, role).toContain('data-testid="cart"');
        expect(html, role).not.toContain('data-testid="add-form"');
        expect(html, role).not.toContain('value="submit"');
        expect(html, role).not.toContain('value="discard"');
        expect(html, role).not.toContain('value="remove:');
        expect(html, role).toContain('data-needs-role="order.edit_cart"');
      }
      const html = await pageFor(members.dealer.purchaser, "/cart");
      expect(html).toContain('data-testid="add-form"');
      expect(html).toContain('value="submit"');
      expect(html).not.toContain("data-needs-role");
    });

    it("quick order: no form for a viewer or a sales member, the form for a purchaser", async () => {
      for (const role of ["viewer", "sales"] as const) {
        const html = await pageFor(members.dealer[role], "/orders/quick");
        expect(html, role).not.toContain('data-testid="quick-form"');
        expect(html, role).toContain('data-needs-role="order.create"');
      }
      expect(await pageFor(members.dealer.purchaser, "/orders/quick")).toContain('data-testid="quick-form"');
    });

    it("the links into the quick order form (order list, cart, placing a closed order again) are for those who may place orders", async () => {
      for (const path of ["/orders", "/cart"]) {
        expect(await pageFor(members.dealer.viewer, path), path).not.toContain('href="/orders/quick"');
        expect(await pageFor(members.dealer.purchaser, path), path).toContain('href="/orders/quick"');
      }
      const closed = `/orders/${ids.completedOrder}`;
      expect(await pageFor(members.dealer.viewer, closed)).not.toContain('data-intent="reorder"');
      expect(await pageFor(members.dealer.purchaser, closed)).toContain('data-intent="reorder"');
    });

    it("pre-order seasons: a viewer is not offered to book an open season, a purchaser is", async () => {
      const purchaser = await pageFor(members.dealer.purchaser, "/preorders");
      expect(purchaser).toContain('data-testid="book"');
      const viewer = await pageFor(members.dealer.viewer, "/preorders");
      expect(viewer).toContain('data-testid="dealer-seasons"');
      expect(viewer).not.toContain('data-testid="book"');
      expect(viewer).toContain('data-needs-role="order.create"');
    });

    it("market: a buyer's viewer and finance member get no add-to-cart, cart or checkout form; a purchaser gets them all", async () => {
      const listingPath = `/market/${tw.w.marketId}/listings/${tw.shirt.id}`;
      expect(await post(members.buyer.purchaser, listingPath, { quantity: "1" })).toBe(302);
      const pages = [`/market/${tw.w.marketId}`, listingPath, "/market/cart"];
      for (const role of ["viewer", "finance"] as const) {
        for (const path of pages) {
          const html = await pageFor(members.buyer[role], path);
          expect(html, `${role} ${path}`).not.toContain('name="quantity"');
          expect(html, `${role} ${path}`).not.toContain('action="/market/cart/checkout"');
          expect(html, `${role} ${path}`).toContain('data-needs-role="market_cart.edit"');
        }
      }
      for (const path of pages) expect(await pageFor(members.buyer.purchaser, path), path).toContain('name="quantity"');
      expect(await pageFor(members.buyer.purchaser, "/market/cart")).toContain('action="/market/cart/checkout"');
    });

    it("the top bar links to the API keys page for those who may manage keys, in every kind of organisation", async () => {
      for (const kind of actionKinds("api_key.manage")) {
        expect(await pageFor(members[kind].admin, "/settings/api-keys"), kind).toContain('data-testid="api-keys-link"');
        for (const role of ["viewer", "finance"] as const) expect(await pageFor(members[kind][role], "/"), `${kind}/${role}`).not.toContain('data-testid="api-keys-link"');
      }
    });

    it("names the needed roles in the reader's language, as the 403 does", async () => {
      const cases = [
        ["zh-CN", "需要以下角色之一：负责人、管理员、采购"],
        ["en", "it needs one of the roles Owner, Admin, Purchaser"],
      ] as const;
      for (const [locale, sentence] of cases) {
        const viewer = await createUser(t.db, { locale, memberships: [[home.dealer, "viewer"]] });
        const html = await pageFor(await credentialFor(viewer.id, home.dealer), "/orders/quick");
        expect(html).toContain(sentence);
      }
    });
  });

  describe("pages (a POST with the member's session and CSRF token)", () => {
    for (const c of pageCases()) {
      it(`${c.name} (${c.action})`, () => runCase(c), 120_000);
    }
  });

  describe("API (a POST with the member's bearer token)", () => {
    for (const c of apiCases()) {
      it(`${c.name} (${c.action})`, () => runCase(c), 120_000);
    }
  });
});
