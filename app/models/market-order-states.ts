import type { MarketOrderStatus } from "../../db/schema";

/**
 * The escrow order's state machine, as data: `from → event → to`, who may fire the event, and
 * what happens to the money and the stock. The model (escrow.server.ts) moves an order only
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

/** docs/market-order-states.md, written from the table above (a unit test keeps them equal). */
export function marketOrderStatesMarkdown(): string {
  const parts = [
    "# Market (escrow) order states",
    "",
    "Generated from `app/models/market-order-states.ts` by `npx tsx app/cli/order-states-doc.ts market > docs/market-order-states.md`.",
    "`system` is a workflow step: the payment's fulfilment, the expiry and auto-confirm schedules, settlement.",
    "Money: `hold` = a pending ledger transfer from the buyer's wallet to the merchant's; `post_hold` posts it and moves the",
    "commission fixed at placement to the market's fee account; `post_part` posts the released part (with its pro-rata",
    "commission) and releases the rest to the buyer; `void_hold` releases it all.",
    "",
    "| from | event | to | by | money | stock back |",
    "|---|---|---|---|---|---|",
  ];
  for (const [from, events] of Object.entries(MARKET_ORDER_TRANSITIONS)) {
    for (const [event, t] of Object.entries(events) as [MarketOrderEvent, MarketOrderTransition][]) {
      parts.push(`| ${from} | ${event} | ${t.to} | ${t.by.join(", ")} | ${t.money} | ${t.restock ? "yes" : "no"} |`);
    }
  }
  return parts.join("\n") + "\n";
}
