/**
 * A payout's machine, as data (decision 026). Each transition names who fires it; the domain checks
 * every change against this table.
 *
 *   requested → sent → succeeded | failed
 *   sent → requested (a refused try that will be retried under a new reference)
 *   requested → succeeded | failed (a late answer about an earlier try, applied as it comes)
 *
 * What each state holds: `requested` and `sent` hold the amount on the wallet (a pending ledger
 * transfer wallet → payouts_in_transit); `succeeded` posts the hold and passes the money on to
 * gateway_clearing; `failed` voids the hold, so the wallet has it back.
 */

import { PAYOUT_STATUSES, type PayoutStatus } from "../../../db/schema";

export { PAYOUT_STATUSES };
export type { PayoutStatus };

export const PAYOUT_EVENTS = ["send", "confirm", "fail", "retry"] as const;
export type PayoutEvent = (typeof PAYOUT_EVENTS)[number];

/** `payee`: the organisation's finance staff; `system`: the payout step or a gateway callback. */
export type PayoutParty = "payee" | "system";

export interface PayoutTransition {
  from: PayoutStatus;
  event: PayoutEvent;
  to: PayoutStatus;
  by: readonly PayoutParty[];
}

const t = (from: PayoutStatus, event: PayoutEvent, to: PayoutStatus, ...by: PayoutParty[]): PayoutTransition => ({ from, event, to, by });

export const PAYOUT_MACHINE: readonly PayoutTransition[] = [
  t("requested", "send", "sent", "system"),
  t("requested", "confirm", "succeeded", "system"),
  t("requested", "fail", "failed", "system"),
  t("sent", "confirm", "succeeded", "system"),
  t("sent", "fail", "failed", "system"),
  t("sent", "retry", "requested", "system"),
];

export const PAYOUT_FINAL_STATUSES: readonly PayoutStatus[] = ["succeeded", "failed"];

/** The state an event leads to, or null when the payout cannot take it from where it is. */
export function payoutTransition(from: PayoutStatus, event: PayoutEvent): PayoutStatus | null {
  return PAYOUT_MACHINE.find((x) => x.from === from && x.event === event)?.to ?? null;
}
