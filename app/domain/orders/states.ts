/**
 * The dealer order state machine, as data: one table of `from → event → to` per order kind, with
 * who may fire each event. The model consults it for every change; pages ask it which buttons to
 * show; docs/order-states.md is generated from the same table. No status checks anywhere else.
 */

import type { Role } from "../../../db/schema";

export const ORDER_KINDS = ["standard", "preorder", "replenishment", "return"] as const;
export type OrderKind = (typeof ORDER_KINDS)[number];

export const ORDER_STATUSES = [
  "draft",
  "pending_approval",
  "submitted",
  "confirmed",
  "awaiting_payment",
  "awaiting_financing",
  "deposit_paid",
  "balance_due",
  "paid",
  "partially_shipped",
  "shipped",
  "received",
  "completed",
  "rejected",
  "cancelled",
  // returns
  "requested",
  "approved",
  "goods_returned",
  "refunded",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_EVENTS = [
  "submit",
  "submit_for_approval",
  "approve",
  "decline_approval",
  "confirm",
  "reject",
  "choose_epay",
  "pay",
  "pay_on_account",
  "request_financing",
  "financing_disbursed",
  "financing_declined",
  "pay_deposit",
  "release",
  "ship_part",
  "ship_all",
  "receive",
  "complete",
  "cancel",
  // returns
  "approve_return",
  "reject_return",
  "goods_back",
  "refund",
] as const;
export type OrderEvent = (typeof ORDER_EVENTS)[number];

/** Which side of the relationship may fire an event; `system` is a workflow step or a schedule. */
export type OrderParty = "dealer" | "core_enterprise" | "system";

export interface Transition {
  from: OrderStatus;
  event: OrderEvent;
  to: OrderStatus;
  by: readonly OrderParty[];
}

const t = (from: OrderStatus, event: OrderEvent, to: OrderStatus, ...by: OrderParty[]): Transition => ({
  from,
  event,
  to,
  by,
});

/** Standard purchase orders and replenishment orders share one machine. */
const PURCHASE: Transition[] = [
  t("draft", "submit", "submitted", "dealer"),
  t("draft", "submit_for_approval", "pending_approval", "dealer"),
  // The dealer's own rule: above its threshold an admin/owner approves before the supplier sees it.
  // A declined order closes (it can be reordered from history): it never competes with the cart.
  // Four eyes: the approver is another member than the one who submitted it (APPROVAL_BY_ANOTHER_MEMBER).
  t("pending_approval", "approve", "submitted", "dealer"),
  t("pending_approval", "decline_approval", "cancelled", "dealer"),
  t("submitted", "confirm", "confirmed", "core_enterprise"),
  t("submitted", "reject", "rejected", "core_enterprise"),
  t("confirmed", "choose_epay", "awaiting_payment", "dealer"),
  t("confirmed", "pay", "paid", "dealer", "system"),
  t("awaiting_payment", "pay", "paid", "system", "dealer"),
  // The system: an order submitted on account is charged from its credit hold as it is confirmed.
  t("confirmed", "pay_on_account", "paid", "dealer", "system"),
  t("awaiting_payment", "pay_on_account", "paid", "dealer"),
  t("confirmed", "request_financing", "awaiting_financing", "dealer"),
  t("awaiting_financing", "financing_disbursed", "paid", "system"),
  // The bank said no, or the dealer withdrew the application: the order waits for payment again.
  t("awaiting_financing", "financing_declined", "confirmed", "system"),
  t("paid", "ship_part", "partially_shipped", "core_enterprise"),
  t("paid", "ship_all", "shipped", "core_enterprise"),
  t("partially_shipped", "ship_part", "partially_shipped", "core_enterprise"),
  t("partially_shipped", "ship_all", "shipped", "core_enterprise"),
  t("shipped", "receive", "received", "dealer", "system"),
  t("received", "complete", "completed", "system"),
  // Cancelling is possible until the first shipment leaves.
  t("draft", "cancel", "cancelled", "dealer"),
  t("pending_approval", "cancel", "cancelled", "dealer"),
  t("submitted", "cancel", "cancelled", "dealer", "core_enterprise"),
  t("confirmed", "cancel", "cancelled", "dealer", "core_enterprise"),
  t("awaiting_payment", "cancel", "cancelled", "dealer", "core_enterprise"),
  t("paid", "cancel", "cancelled", "dealer", "core_enterprise"),
];

/** 订货会: book against a season with a deposit; the balance falls due when the goods are released. */
const PREORDER: Transition[] = [
  t("draft", "submit", "submitted", "dealer"),
  t("draft", "submit_for_approval", "pending_approval", "dealer"),
  t("pending_approval", "approve", "submitted", "dealer"),
  t("pending_approval", "decline_approval", "cancelled", "dealer"),
  t("submitted", "confirm", "confirmed", "core_enterprise"),
  t("submitted", "reject", "rejected", "core_enterprise"),
  t("confirmed", "pay_deposit", "deposit_paid", "dealer", "system"),
  t("deposit_paid", "release", "balance_due", "core_enterprise", "system"),
  t("balance_due", "pay", "paid", "dealer", "system"),
  t("balance_due", "pay_on_account", "paid", "dealer"),
  t("paid", "ship_part", "partially_shipped", "core_enterprise"),
  t("paid", "ship_all", "shipped", "core_enterprise"),
  t("partially_shipped", "ship_part", "partially_shipped", "core_enterprise"),
  t("partially_shipped", "ship_all", "shipped", "core_enterprise"),
  t("shipped", "receive", "received", "dealer", "system"),
  t("received", "complete", "completed", "system"),
  t("draft", "cancel", "cancelled", "dealer"),
  t("pending_approval", "cancel", "cancelled", "dealer"),
  t("submitted", "cancel", "cancelled", "dealer", "core_enterprise"),
  t("confirmed", "cancel", "cancelled", "dealer", "core_enterprise"),
];

/**
 * An order above the dealer's approval threshold needs a second person: the member who submitted
 * it (fired `submit_for_approval`) may not `approve` it, whatever their role — otherwise an owner
 * or admin buying for the company would approve their own spending and the threshold would mean
 * nothing. Declining or cancelling it themselves stays allowed (withdrawing is not spending).
 * cart.server.ts `approveOrder` enforces it; a refusal is `forbidden` (403) naming the rule.
 */
export const APPROVAL_BY_ANOTHER_MEMBER: { readonly event: OrderEvent; readonly notBy: OrderEvent } = { event: "approve", notBy: "submit_for_approval" };

/**
 * What the supplier sees. The dealer's cart (draft) and an order waiting for the dealer's own
 * approval are the dealer's business: the supplier sees an order from the moment it first enters
 * `submitted` (directly, or through the dealer's approval) — and a return from its request. An
 * order cancelled or declined before it got there stays unseen. internal.server.ts (lockOrder) and
 * queries.server.ts apply this to every read and action of the supplier (pages, API, lists): an
 * unseen order is a 404 to it.
 */
export const UNSEEN_BY_SUPPLIER: readonly OrderStatus[] = ["draft", "pending_approval"];
export const REACHES_SUPPLIER: OrderStatus = "submitted";

/** RMA against a received order: approve, goods back, money or credit back. */
const RETURN: Transition[] = [
  t("requested", "approve_return", "approved", "core_enterprise"),
  t("requested", "reject_return", "rejected", "core_enterprise"),
  t("requested", "cancel", "cancelled", "dealer"),
  t("approved", "goods_back", "goods_returned", "core_enterprise"),
  t("goods_returned", "refund", "refunded", "core_enterprise", "system"),
  t("refunded", "complete", "completed", "system"),
];

/**
 * Who of each party may fire an event: the roles per side, right beside the transitions above.
 * `system` steps need no role (a workflow or a schedule fires them). app/domain/identity/permissions.ts
 * turns this into the `order.<event>` actions that pages and the API check; the decision record
 * is docs/decisions/019-who-may-do-what.md. A party absent here cannot fire the event by hand.
 */
const DEALER_BUY: readonly Role[] = ["owner", "admin", "purchaser"];
/** Money leaving the dealer: whoever buys for it, or its finance team. */
const DEALER_PAY: readonly Role[] = ["owner", "admin", "purchaser", "finance"];
const DEALER_APPROVE: readonly Role[] = ["owner", "admin"];
const SUPPLIER_SELL: readonly Role[] = ["owner", "admin", "sales"];
/** Money leaving the supplier (a refund): its managers or its finance team. */
const SUPPLIER_REFUND: readonly Role[] = ["owner", "admin", "finance"];

export const ORDER_EVENT_ROLES: Readonly<Record<OrderEvent, Partial<Record<Exclude<OrderParty, "system">, readonly Role[]>>>> = {
  submit: { dealer: DEALER_BUY },
  submit_for_approval: { dealer: DEALER_BUY },
  approve: { dealer: DEALER_APPROVE },
  decline_approval: { dealer: DEALER_APPROVE },
  confirm: { core_enterprise: SUPPLIER_SELL },
  reject: { core_enterprise: SUPPLIER_SELL },
  choose_epay: { dealer: DEALER_PAY },
  pay: { dealer: DEALER_PAY },
  pay_on_account: { dealer: DEALER_PAY },
  // Borrowing is a finance decision, not a buyer's.
  request_financing: { dealer: ["owner", "admin", "finance"] },
  financing_disbursed: {},
  financing_declined: {},
  pay_deposit: { dealer: DEALER_PAY },
  release: { core_enterprise: SUPPLIER_SELL },
  ship_part: { core_enterprise: SUPPLIER_SELL },
  ship_all: { core_enterprise: SUPPLIER_SELL },
  receive: { dealer: DEALER_BUY },
  complete: {},
  cancel: { dealer: DEALER_BUY, core_enterprise: SUPPLIER_SELL },
  approve_return: { core_enterprise: SUPPLIER_SELL },
  reject_return: { core_enterprise: SUPPLIER_SELL },
  goods_back: { core_enterprise: SUPPLIER_SELL },
  refund: { core_enterprise: SUPPLIER_REFUND },
};

export const ORDER_MACHINES: Record<OrderKind, readonly Transition[]> = {
  standard: PURCHASE,
  replenishment: PURCHASE,
  preorder: PREORDER,
  return: RETURN,
};

/**
 * What an order holds while it is in a status: what closing it from there (cancel, reject,
 * decline) must give back, and what a page may show as tied up by it.
 * - `stock`: units reserved in the catalogue for its confirmed lines. Standard and replenishment
 *   orders reserve at confirmation, a preorder when its season is released; shipping takes the
 *   reservation with the goods (partially_shipped still holds the units not shipped yet).
 * - `credit`: an order submitted on account holds its total on the dealer's credit line (a pending
 *   ledger transfer) from submission until the supplier confirms it (then the confirmed total is
 *   charged) or it closes first (then the hold is released). Only orders submitted on account:
 *   the ledger says whether a hold is open; this says in which statuses one can be.
 * Money already paid is not a hold: it is in `paid_fen` and the ledger, whatever the status.
 * cancelOrder reads `stock` to decide whether to release reserved units.
 */
export interface StatusHolds {
  stock: boolean;
  credit: boolean;
}

const PURCHASE_STOCK_HELD: readonly OrderStatus[] = ["confirmed", "awaiting_payment", "awaiting_financing", "paid", "partially_shipped"];
const PURCHASE_CREDIT_HELD: readonly OrderStatus[] = ["pending_approval", "submitted"];

const STOCK_HELD_IN: Record<OrderKind, readonly OrderStatus[]> = {
  standard: PURCHASE_STOCK_HELD,
  replenishment: PURCHASE_STOCK_HELD,
  preorder: ["balance_due", "paid", "partially_shipped"],
  // A return's goods come back to stock when received (goods_back); nothing is reserved for it.
  return: [],
};

/** A preorder's deposit is paid, never put on account, so it never holds credit. */
const CREDIT_HELD_IN: Record<OrderKind, readonly OrderStatus[]> = {
  standard: PURCHASE_CREDIT_HELD,
  replenishment: PURCHASE_CREDIT_HELD,
  preorder: [],
  return: [],
};

export const STATUS_HOLDS: Readonly<Record<OrderKind, Readonly<Record<OrderStatus, StatusHolds>>>> = Object.fromEntries(
  ORDER_KINDS.map((kind) => [
    kind,
    Object.fromEntries(ORDER_STATUSES.map((status) => [status, { stock: STOCK_HELD_IN[kind].includes(status), credit: CREDIT_HELD_IN[kind].includes(status) }])),
  ]),
) as Record<OrderKind, Record<OrderStatus, StatusHolds>>;

export const INITIAL_STATUS: Record<OrderKind, OrderStatus> = {
  standard: "draft",
  replenishment: "draft",
  preorder: "draft",
  return: "requested",
};

export function findTransition(kind: OrderKind, from: OrderStatus, event: OrderEvent): Transition | undefined {
  return ORDER_MACHINES[kind].find((tr) => tr.from === from && tr.event === event);
}

/**
 * Financing (融资支付) is the bank's: an order that asks for it opens a loan application in the
 * financing context, which moves the order on (`financing_disbursed`) or back (`financing_declined`).
 * While an application is open the order cannot be cancelled: the dealer withdraws the application
 * first, so no loan is ever paid out for a cancelled order.
 */
export const FINANCING_AVAILABLE = true;

/** Events a party may fire now: the buttons a page shows. */
export function availableEvents(kind: OrderKind, from: OrderStatus, party: OrderParty): OrderEvent[] {
  return ORDER_MACHINES[kind]
    .filter((tr) => tr.from === from && tr.by.includes(party))
    .filter((tr) => FINANCING_AVAILABLE || tr.event !== "request_financing")
    .map((tr) => tr.event);
}

export const TERMINAL_STATUSES: readonly OrderStatus[] = ["completed", "rejected", "cancelled"];
