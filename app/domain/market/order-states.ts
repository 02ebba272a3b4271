import type { MarketOrderStatus, Role } from "../../../db/schema";
import { rolesCell } from "../shared";

/**
 * The escrow order's state machine, as data: `from → event → to`, who may fire the event, and
 * what happens to the money and the stock. The model (escrow/*.server.ts) moves an order only
 * through this table; pages and the API ask it which actions to offer.
 *
 *   placed ──pay──▶ paid (hold) ──ship──▶ shipped ──receive / auto_confirm──▶ received ──settle──▶ settled
 *     │               │ │                  │                                   │
 *     │ expire        │ │ cancel           │ dispute                           │ dispute
 *     ▼ cancel        │ ▼ (merchant)       ▼                                   ▼
 *   expired/cancelled │ cancelled        disputed ──rule release──▶ settled
 *                     │ dispute                   ──rule refund_partial──▶ settled (part refunded)
 *                     └────────▶ disputed         ──rule refund_full──▶ refunded
 */

export type MarketOrderEvent =
  | "pay"
  | "expire"
  | "cancel"
  | "ship"
  | "receive"
  | "auto_confirm"
  | "settle"
  | "dispute"
  | "rule_release"
  | "rule_refund_full"
  | "rule_refund_partial";

/** Who fires an event: a party of the order, or the platform's timers and workers. */
export type MarketOrderActor = "buyer" | "merchant" | "operator" | "system";

export interface MarketOrderTransition {
  to: MarketOrderStatus;
  by: readonly MarketOrderActor[];
  /** What the ledger does, for the docs and the timeline. */
  money: "none" | "hold" | "void_hold" | "post_hold" | "post_part";
  /** Whether the order's units go back on sale. */
  restock: boolean;
}

export const MARKET_ORDER_TRANSITIONS: Readonly<
  Record<MarketOrderStatus, Readonly<Partial<Record<MarketOrderEvent, MarketOrderTransition>>>>
> = {
  placed: {
    pay: { to: "paid", by: ["system"], money: "hold", restock: false },
    expire: { to: "expired", by: ["system"], money: "none", restock: true },
    cancel: { to: "cancelled", by: ["buyer"], money: "none", restock: true },
  },
  paid: {
    ship: { to: "shipped", by: ["merchant"], money: "none", restock: false },
    // The merchant cannot fulfil: the hold goes back to the buyer, the units back on sale.
    cancel: { to: "cancelled", by: ["merchant"], money: "void_hold", restock: true },
    dispute: { to: "disputed", by: ["buyer"], money: "none", restock: false },
  },
  shipped: {
    receive: { to: "received", by: ["buyer"], money: "none", restock: false },
    auto_confirm: { to: "received", by: ["system"], money: "none", restock: false },
    dispute: { to: "disputed", by: ["buyer"], money: "none", restock: false },
  },
  received: {
    settle: { to: "settled", by: ["system"], money: "post_hold", restock: false },
    dispute: { to: "disputed", by: ["buyer"], money: "none", restock: false },
  },
  disputed: {
    rule_release: { to: "settled", by: ["operator"], money: "post_hold", restock: false },
    rule_refund_partial: { to: "settled", by: ["operator"], money: "post_part", restock: false },
    rule_refund_full: { to: "refunded", by: ["operator"], money: "void_hold", restock: true },
  },
  settled: {},
  refunded: {},
  expired: {},
  cancelled: {},
};

/**
 * Who of each party may fire an event by hand, right beside the transitions above (`system` and
 * its timers need no role). `pay` is the buyer paying the checkout that places the order (the
 * transition itself is the payment's fulfilment). app/domain/identity/permissions.ts turns this into the
 * `market_order.<event>` actions; see docs/decisions/019-who-may-do-what.md.
 */
const BUYER_BUY: readonly Role[] = ["owner", "admin", "purchaser"];
const BUYER_PAY: readonly Role[] = ["owner", "admin", "purchaser", "finance"];
const MERCHANT_SELL: readonly Role[] = ["owner", "admin", "sales"];
const OPERATOR_RULE: readonly Role[] = ["owner", "admin", "sales"];

export const MARKET_ORDER_EVENT_ROLES: Readonly<Record<MarketOrderEvent, Partial<Record<Exclude<MarketOrderActor, "system">, readonly Role[]>>>> = {
  pay: { buyer: BUYER_PAY },
  expire: {},
  cancel: { buyer: BUYER_BUY, merchant: MERCHANT_SELL },
  ship: { merchant: MERCHANT_SELL },
  receive: { buyer: BUYER_BUY },
  auto_confirm: {},
  settle: {},
  dispute: { buyer: BUYER_BUY },
  rule_release: { operator: OPERATOR_RULE },
  rule_refund_full: { operator: OPERATOR_RULE },
  rule_refund_partial: { operator: OPERATOR_RULE },
};

export function marketOrderTransition(from: MarketOrderStatus, event: MarketOrderEvent): MarketOrderTransition | null {
  return MARKET_ORDER_TRANSITIONS[from][event] ?? null;
}

/** Events a party may fire from this status (what the pages offer). */
export function marketOrderEventsFor(status: MarketOrderStatus, actor: MarketOrderActor): MarketOrderEvent[] {
  return (Object.entries(MARKET_ORDER_TRANSITIONS[status]) as [MarketOrderEvent, MarketOrderTransition][])
    .filter(([, t]) => t.by.includes(actor))
    .map(([event]) => event);
}

/** Statuses whose money is still held in escrow (a pending transfer not yet resolved). */
export const HELD_STATUSES: readonly MarketOrderStatus[] = ["paid", "shipped", "received", "disputed"];

/** Statuses that end an order. */
export const FINAL_STATUSES: readonly MarketOrderStatus[] = ["settled", "refunded", "expired", "cancelled"];

/**
 * The auto-confirm timer (a shipped order counts as received `auto_confirm_days` after shipping)
 * and a dispute, as the table above makes it:
 *  - `shipped` runs the timer (auto_confirm_at is set by the ship event);
 *  - `dispute` stops it (auto_confirm_at is cleared): while disputed, nothing is confirmed,
 *    settled or refunded by a timer, whatever the order's status was when the dispute opened;
 *  - it never resumes: every ruling ends the order (release and refund_partial → settled,
 *    refund_full → refunded), so no receipt is waited for after a ruling.
 * `RULING_ENDS_ORDER` states the last point from the table itself (a unit test keeps it true).
 */
export const RULING_ENDS_ORDER: boolean = Object.values(MARKET_ORDER_TRANSITIONS.disputed).every((t) => t !== undefined && FINAL_STATUSES.includes(t.to));

export type AutoConfirmTimer =
  | { state: "running"; dueAt: string }
  | { state: "paused"; since: string; wasRunning: boolean }
  | { state: "ended_by_ruling"; at: string }
  | { state: "none" };

/** Where an order's auto-confirm timer stands, for every page that shows the order (buyer, merchant, operator). */
export function autoConfirmTimer(
  order: { status: MarketOrderStatus; autoConfirmAt: Date | string | null },
  dispute: { status: "open" | "ruled"; openedAt: Date | string; openedFromStatus: string; ruledAt: Date | string | null } | null,
): AutoConfirmTimer {
  const iso = (value: Date | string) => (typeof value === "string" ? value : value.toISOString());
  if (order.status === "shipped" && order.autoConfirmAt) return { state: "running", dueAt: iso(order.autoConfirmAt) };
  if (order.status === "disputed" && dispute?.status === "open") return { state: "paused", since: iso(dispute.openedAt), wasRunning: dispute.openedFromStatus === "shipped" };
  if (dispute?.status === "ruled" && dispute.ruledAt && RULING_ENDS_ORDER) return { state: "ended_by_ruling", at: iso(dispute.ruledAt) };
  return { state: "none" };
}

/** docs/market-order-states.md, written from the table above (a unit test keeps them equal). */
export function marketOrderStatesMarkdown(): string {
  const parts = [
    "# Market (escrow) order states",
    "",
    "Generated from `app/domain/market/order-states.ts` by `npx tsx app/cli/order-states-doc.ts market > docs/market-order-states.md`.",
    "`system` is a workflow step: the payment's fulfilment, the expiry and auto-confirm schedules, settlement.",
    "Money: `hold` = a pending ledger transfer from the buyer's wallet to the merchant's; `post_hold` posts it and moves the",
    "commission fixed at placement to the market's fee account; `post_part` posts the released part (with its pro-rata",
    "commission) and releases the rest to the buyer; `void_hold` releases it all.",
    "`roles` is who may ask for the event, per party (any one of the roles; a viewer never): `MARKET_ORDER_EVENT_ROLES`,",
    "read by `app/domain/identity/permissions.ts` for both pages and API (`pay` is asked by the buyer and done by the system once",
    "the money is held). A member without one of them gets 403 naming them.",
    "",
    "| from | event | to | by | roles | money | stock back |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [from, events] of Object.entries(MARKET_ORDER_TRANSITIONS)) {
    for (const [event, t] of Object.entries(events) as [MarketOrderEvent, MarketOrderTransition][]) {
      const roles = rolesCell(MARKET_ORDER_EVENT_ROLES[event], t.by);
      parts.push(`| ${from} | ${event} | ${t.to} | ${t.by.join(", ")} | ${roles} | ${t.money} | ${t.restock ? "yes" : "no"} |`);
    }
  }
  return parts.join("\n") + "\n";
}
