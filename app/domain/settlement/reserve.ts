import type { OrganizationKind } from "../../../db/schema";

/**
 * The retention reserve (留存准备金): what an organisation may not pay out yet, because refunds,
 * disputes or returns could still claim it (decision 026). One pure rule per organisation kind;
 * the figures it needs are read by payouts.server.ts.
 *
 *  - merchant: a share of its last days' settled escrow proceeds (net of commission), for refunds
 *    and disputes that arrive after settlement;
 *  - core_enterprise: what dealers paid in the last days on orders not yet completed (or cancelled),
 *    a stated proxy for what open returns and cancellations could claim;
 *  - everyone else: nothing.
 *
 * Rounded up to the fen: the reserve errs on the side of keeping money, never of paying it out.
 */

export const RESERVE_RULES = {
  /** How far back settlements and payments count. */
  windowDays: 7,
  /** A merchant keeps this share, in basis points, of its settled escrow proceeds in the window. */
  merchantShareBps: 1_000,
  /** A core enterprise keeps this share of what dealers paid on open orders in the window. */
  coreEnterpriseShareBps: 10_000,
} as const;

export interface ReserveFigures {
  /** Net escrow proceeds released to the organisation's wallet within the window (merchants). */
  settledEscrowNetFen: number;
  /** Dealers' payments within the window on orders still open (core enterprises). */
  paidOnOpenOrdersFen: number;
}

export interface Reserve {
  reserveFen: number;
  /** Which rule applied, for the page and the API: a stable code. */
  rule: "merchant_settled_share" | "core_enterprise_open_orders" | "none";
  /** The figure the rule took its share of. */
  baseFen: number;
  shareBps: number;
}

function shareOf(baseFen: number, bps: number): number {
  if (!Number.isSafeInteger(baseFen) || baseFen <= 0) return 0;
  // Integer arithmetic, rounded up: baseFen × bps stays far below 2^53 for any ledger amount.
  return Math.ceil((baseFen * bps) / 10_000);
}

export function retentionReserve(kind: OrganizationKind, figures: ReserveFigures): Reserve {
  switch (kind) {
    case "merchant":
      return { rule: "merchant_settled_share", baseFen: figures.settledEscrowNetFen, shareBps: RESERVE_RULES.merchantShareBps, reserveFen: shareOf(figures.settledEscrowNetFen, RESERVE_RULES.merchantShareBps) };
    case "core_enterprise":
      return { rule: "core_enterprise_open_orders", baseFen: figures.paidOnOpenOrdersFen, shareBps: RESERVE_RULES.coreEnterpriseShareBps, reserveFen: shareOf(figures.paidOnOpenOrdersFen, RESERVE_RULES.coreEnterpriseShareBps) };
    default:
      return { rule: "none", baseFen: 0, shareBps: 0, reserveFen: 0 };
  }
}

/** Available for payout: never below zero, even when holds and the reserve exceed the balance. */
export function availableForPayoutFen(parts: { balanceFen: number; holdsFen: number; reserveFen: number }): number {
  return Math.max(0, parts.balanceFen - parts.holdsFen - parts.reserveFen);
}
