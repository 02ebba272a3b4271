import type { Selectable } from "kysely";
import type { OrderLinesTable, OrdersTable } from "../../../db/schema";
import { availableEvents, type OrderParty } from "./states";

/**
 * Dealer orders: the cart, the four order flows, payment (wallet, e-Pay, on account, financing),
 * shipments, receipt, cancellation and returns, one use case per file beside this one (placement,
 * cart, review, payment, seasons, fulfilment, cancel, returns, position, queries); this file keeps
 * what they all share. Every change locks the order row, asks the state machine (states.ts)
 * whether the event is allowed for this party, moves the money through the ledger with
 * idempotency keys derived from the order, and appends to the order's timeline and the audit
 * log — all in one transaction.
 */

export const ORDER_LIMITS = {
  maxLines: 200,
  maxQuickOrderBytes: 256 * 1024,
  maxReasonChars: 500,
  maxNoteChars: 1_000,
  pageSize: 50,
} as const;

export type OrderRow = Selectable<OrdersTable>;
export type OrderLineRow = Selectable<OrderLinesTable>;

/** Who the acting organisation is to this order; null when it is neither party (→ 404). */
export function partyOf(order: Pick<OrderRow, "dealer_id" | "core_enterprise_id">, organizationId: string | null): OrderParty | null {
  if (organizationId === null) return "system";
  if (order.dealer_id === organizationId) return "dealer";
  if (order.core_enterprise_id === organizationId) return "core_enterprise";
  return null;
}

export { availableEvents };
