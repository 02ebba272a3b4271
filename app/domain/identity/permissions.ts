import type { OrganizationKind, Role } from "../../../db/schema";
import { DomainError } from "../shared";
import { MARKET_ORDER_EVENT_ROLES, type MarketOrderEvent } from "../market";
import { ORDER_EVENT_ROLES, type OrderEvent } from "../orders";
import { APPLICATION_EVENT_ROLES, LOAN_EVENT_ROLES } from "../financing";

/**
 * Who may do what: every state-changing action of the product → the kinds of organisation it
 * exists for → the roles (any one of them) that may do it there. Pages (actions, and the buttons
 * they show) and the API (`action:` on an endpoint spec) both ask this table, so there is one
 * answer. Not a `.server` module: components call `may()` to hide what the user cannot use.
 * To add an action: add an entry to `ACTIONS` below (or, for a state-machine event, a role in
 * ORDER_EVENT_ROLES / MARKET_ORDER_EVENT_ROLES beside the transition), then call
 * `assertMay(ctx.roles, "your.action", ctx.organization.kind)` in the page action (via
 * `requireMay` in tenancy.server.ts, which turns the refusal into a 403 page) and put
 * `action: "your.action"` on the API endpoint spec. tests/integration/role-matrix.test.ts fails
 * until the new page action or endpoint is listed there with its action. A viewer is never in a
 * list; bank roles (credit_officer, operations, platform_admin) only on bank actions. The
 * reasoning is docs/decisions/019-who-may-do-what.md.
 */

export type RolesByKind = Partial<Record<OrganizationKind, readonly Role[]>>;

const OWNER_ADMIN: readonly Role[] = ["owner", "admin"];
/** Changing what a seller offers (catalogue, prices, listings, venues, recruitment). */
const SELL: readonly Role[] = ["owner", "admin", "sales"];
/** Buying: carts, orders, receiving, returns, disputes. */
const BUY: readonly Role[] = ["owner", "admin", "purchaser"];
/** Paying a joining deposit: the people who handle the organisation's money. */
const FINANCE: readonly Role[] = ["owner", "admin", "finance"];

/** Order events, by kind of organisation, from the role map beside the order state machine. */
type OrderActionName = `order.${OrderEvent}`;
type MarketOrderActionName = `market_order.${MarketOrderEvent}`;

const ORDER_PARTY_KIND = { dealer: "dealer", core_enterprise: "core_enterprise" } as const;
const MARKET_ACTOR_KIND = { buyer: "buyer", merchant: "merchant", operator: "market_operator" } as const;

function orderActions(): Record<OrderActionName, RolesByKind> {
  const out = {} as Record<OrderActionName, RolesByKind>;
  for (const [event, byParty] of Object.entries(ORDER_EVENT_ROLES) as [OrderEvent, Record<string, readonly Role[]>][]) {
    const entry: RolesByKind = {};
    for (const [party, roles] of Object.entries(byParty)) entry[ORDER_PARTY_KIND[party as keyof typeof ORDER_PARTY_KIND]] = roles;
    out[`order.${event}`] = entry;
  }
  return out;
}

function marketOrderActions(): Record<MarketOrderActionName, RolesByKind> {
  const out = {} as Record<MarketOrderActionName, RolesByKind>;
  for (const [event, byActor] of Object.entries(MARKET_ORDER_EVENT_ROLES) as [MarketOrderEvent, Record<string, readonly Role[]>][]) {
    const entry: RolesByKind = {};
    for (const [actor, roles] of Object.entries(byActor)) entry[MARKET_ACTOR_KIND[actor as keyof typeof MARKET_ACTOR_KIND]] = roles;
    out[`market_order.${event}`] = entry;
  }
  return out;
}

/** Actions that are not a state-machine event. Keys are `area.verb`. */
const OTHER_ACTIONS = {
  // Dealer orders, around the machine
  "order.create": { dealer: BUY },
  "order.edit_cart": { dealer: BUY },
  "order.request_return": { dealer: BUY },
  /** Paying back a credit line (the dealer's money). */
  "order.repay": { dealer: ["owner", "admin", "purchaser", "finance"] },
  "order_settings.update": { dealer: OWNER_ADMIN, core_enterprise: OWNER_ADMIN },
  // Supplier's catalogue, prices, seasons, dealer network
  "catalog.sku_write": { core_enterprise: SELL },
  "catalog.import": { core_enterprise: SELL },
  "pricing.write": { core_enterprise: SELL },
  "season.write": { core_enterprise: SELL },
  "dealer_link.update": { core_enterprise: SELL },
  "dealer_link.transition": { core_enterprise: SELL },
  // Recruitment
  "campaign.write": { core_enterprise: SELL },
  "campaign.transition": { core_enterprise: SELL },
  "application.review": { core_enterprise: SELL },
  "recruitment.pay_deposit": { dealer: FINANCE },
  // Market venues (operator)
  "market.write": { market_operator: SELL },
  "market.zone_write": { market_operator: SELL },
  "market.stall_write": { market_operator: SELL },
  "market.merchant_transition": { market_operator: SELL },
  "market.application_write": { market_operator: SELL },
  "market.application_decide": { market_operator: SELL },
  "market.fee_write": { market_operator: SELL },
  "market.announcement_write": { market_operator: SELL },
  "listing.moderate": { market_operator: SELL },
  // Merchant listings
  "listing.write": { merchant: SELL },
  // Buyer's market cart and checkout
  "market_cart.edit": { buyer: BUY },
  /** Placing orders from the cart (a checkout); paying it is `market_order.pay`, cancelling it `market_order.cancel`. */
  "market_checkout.create": { buyer: BUY },
  // Disputes: each side speaks through the people who handle its trade.
  "dispute.statement": { buyer: BUY, merchant: SELL, market_operator: SELL },
  // The bank's operations: a background job given up on, run again once its cause is fixed.
  "jobs.rerun": { bank: ["operations", "platform_admin"] },
  // Financing (decision 024). Borrowing and repaying are finance decisions of the borrower; the
  // bank decides through its credit staff (financing/states.ts names the events' roles).
  "financing.apply": { dealer: ["owner", "admin", "finance"] },
  /** A core enterprise sells on-account dealer orders; a market merchant the proceeds of its escrow orders. */
  "financing.sell_receivable": { core_enterprise: ["owner", "admin", "finance"], merchant: ["owner", "admin", "finance"] },
  // The borrower withdraws its own application: a dealer's order financing or draw, a merchant's
  // sale of an escrow order's proceeds.
  "financing.withdraw": { dealer: APPLICATION_EVENT_ROLES.withdraw.borrower!, merchant: APPLICATION_EVENT_ROLES.withdraw.borrower! },
  "financing.decide": { bank: APPLICATION_EVENT_ROLES.approve.bank! },
  // The borrower repays (a merchant too: an advance whose order was refunded to the buyer is its
  // own to repay); a core enterprise also repays as guarantor once its guarantee is called.
  "financing.repay": { dealer: LOAN_EVENT_ROLES.repay_in_full.borrower!, core_enterprise: ["owner", "admin", "finance"], merchant: LOAN_EVENT_ROLES.repay_in_full.borrower! },
  "financing.reclassify": { bank: LOAN_EVENT_ROLES.reclassify.bank! },
  "financing.write_off": { bank: LOAN_EVENT_ROLES.write_off.bank! },
  /** Limits, guarantee agreements, products and the LPR: the bank's credit decisions. */
  "financing.facility_write": { bank: ["credit_officer", "platform_admin"] },
  "financing.product_write": { bank: ["platform_admin"] },
  /** Starting a day's accrual run by hand (the schedule starts it anyway). */
  "financing.run_accrual": { bank: ["operations", "platform_admin"] },
  // Settlement accounts (issue 15): where payouts go is the organisation's money decision. Only
  // these roles see the account number in full (everyone else sees its last four digits) and the
  // sandbox bank statement that carries the verification deposit; `read_number` changes nothing
  // and is kept here so pages and the API ask one table.
  "settlement_account.write": { core_enterprise: FINANCE, dealer: FINANCE, market_operator: FINANCE, merchant: FINANCE },
  "settlement_account.verify": { core_enterprise: FINANCE, dealer: FINANCE, market_operator: FINANCE, merchant: FINANCE },
  "settlement_account.read_number": { core_enterprise: FINANCE, dealer: FINANCE, market_operator: FINANCE, merchant: FINANCE },
  // Payouts (decision 026): sending the organisation's money to its settlement account is a money
  // decision like the account itself. The bank's operations staff see every organisation's payouts
  // (and the failed ones' reasons); reading changes nothing, and is kept here so the console asks one table.
  "payout.request": { core_enterprise: FINANCE, dealer: FINANCE, market_operator: FINANCE, merchant: FINANCE },
  "payout.view_all": { bank: ["operations", "platform_admin"] },
  // Reconciliation (decision 027): the gateway's statement against our books is the bank's own
  // control; resolving a mismatch is a judgement recorded with a note, so it is a separate action.
  "reconciliation.view": { bank: ["operations", "platform_admin"] },
  "reconciliation.resolve": { bank: ["operations", "platform_admin"] },
  // Credentials
  "api_key.manage": {
    bank: OWNER_ADMIN,
    core_enterprise: OWNER_ADMIN,
    dealer: OWNER_ADMIN,
    market_operator: OWNER_ADMIN,
    merchant: OWNER_ADMIN,
    buyer: OWNER_ADMIN,
  },
} as const satisfies Record<string, RolesByKind>;

export type ActionName = OrderActionName | MarketOrderActionName | keyof typeof OTHER_ACTIONS;

/** The table: every action → kinds → roles. Read-only; extend it through the sources above. */
export const ACTIONS: Readonly<Record<ActionName, RolesByKind>> = {
  ...orderActions(),
  ...marketOrderActions(),
  ...OTHER_ACTIONS,
};

/** The checkout's pay is the market machine's `pay` by the buyer. */
export const MARKET_CHECKOUT_PAY: ActionName = "market_order.pay";

export function actionKinds(action: ActionName): OrganizationKind[] {
  return (Object.entries(ACTIONS[action]) as [OrganizationKind, readonly Role[]][]).filter(([, roles]) => roles.length > 0).map(([kind]) => kind);
}

/** The roles that may do `action` in an organisation of `kind` (none: the action is not its). */
export function rolesFor(action: ActionName, kind: OrganizationKind): readonly Role[] {
  return ACTIONS[action][kind] ?? [];
}

/** Whether someone with `roles` in an organisation of `kind` may do `action`. Pure: pages use it for buttons. */
export function may(roles: readonly Role[], action: ActionName, kind: OrganizationKind): boolean {
  const allowed = rolesFor(action, kind);
  return roles.some((role) => allowed.includes(role));
}

/** `{ action: boolean }` for a loader to send, so the page shows only the buttons the user may use. */
export function mayMap<const A extends ActionName>(roles: readonly Role[], kind: OrganizationKind, actions: readonly A[]): Record<A, boolean> {
  const out = {} as Record<A, boolean>;
  for (const action of actions) out[action] = may(roles, action, kind);
  return out;
}

/**
 * The domain check. An organisation of a kind the action does not exist for gets `not_found`
 * (like another tenant's id: nothing to act on here); a member without one of the roles gets
 * `forbidden` (403) naming the roles needed — `fields.roles` carries them, comma-separated, so a
 * page can name them in the reader's language.
 */
export function assertMay(roles: readonly Role[], action: ActionName, kind: OrganizationKind): void {
  const allowed = rolesFor(action, kind);
  if (allowed.length === 0) throw new DomainError("not_found", "resource not found");
  if (!roles.some((role) => allowed.includes(role))) {
    throw new DomainError("forbidden", `This needs one of the roles ${allowed.join(", ")}`, { roles: allowed.join(",") });
  }
}

export function isActionName(value: string): value is ActionName {
  return Object.prototype.hasOwnProperty.call(ACTIONS, value);
}
