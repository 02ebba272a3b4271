/**
 * The dealer order state machine, as data: one table of `from → event → to` per order kind, with
 * who may fire each event. The model consults it for every change; pages ask it which buttons to
 * show; docs/order-states.md is generated from the same table. No status checks anywhere else.
 */

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
  t("awaiting_financing", "cancel", "cancelled", "dealer", "core_enterprise"),
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

/** RMA against a received order: approve, goods back, money or credit back. */
const RETURN: Transition[] = [
  t("requested", "approve_return", "approved", "core_enterprise"),
  t("requested", "reject_return", "rejected", "core_enterprise"),
  t("requested", "cancel", "cancelled", "dealer"),
  t("approved", "goods_back", "goods_returned", "core_enterprise"),
  t("goods_returned", "refund", "refunded", "core_enterprise", "system"),
  t("refunded", "complete", "completed", "system"),
];

export const ORDER_MACHINES: Record<OrderKind, readonly Transition[]> = {
  standard: PURCHASE,
  replenishment: PURCHASE,
  preorder: PREORDER,
  return: RETURN,
};

export const INITIAL_STATUS: Record<OrderKind, OrderStatus> = {
  standard: "draft",
  replenishment: "draft",
  preorder: "draft",
  return: "requested",
};

export function findTransition(kind: OrderKind, from: OrderStatus, event: OrderEvent): Transition | undefined {
  return ORDER_MACHINES[kind].find((tr) => tr.from === from && tr.event === event);
}

/** Events a party may fire now: the buttons a page shows. */
export function availableEvents(kind: OrderKind, from: OrderStatus, party: OrderParty): OrderEvent[] {
  return ORDER_MACHINES[kind].filter((tr) => tr.from === from && tr.by.includes(party)).map((tr) => tr.event);
}

export const TERMINAL_STATUSES: readonly OrderStatus[] = ["completed", "rejected", "cancelled"];
