import { z } from "zod";
import { PAYOUT_STATUSES } from "../../../db/schema";
import { payoutCallbackSchema, type AvailableForPayout, type PayoutView } from "../../domain/settlement";
import { defineEndpoint } from "../endpoint";
import { fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * Payouts (issue 15, decision 026): what an organisation may send from its wallet to its verified
 * settlement account (the available amount with its parts), asking for a payout within it, and
 * the payouts it asked for. The bank's operations staff list every organisation's payouts.
 */

const TAGS = ["settlement"] as const;
const KINDS = ["core_enterprise", "dealer", "market_operator", "merchant"] as const;

export const availableSchema = z.object({
  balance_fen: fen.describe("The wallet's posted balance"),
  holds_fen: fen.describe("Held on the way out of the wallet (payouts in flight, pending charges)"),
  reserve_fen: fen.describe("Retention reserve kept back for refunds, disputes and returns (decision 026)"),
  available_fen: fen.describe("balance − holds − reserve, never below 0: the most one payout may ask for now"),
  reserve: z.object({
    rule: z.enum(["merchant_settled_share", "core_enterprise_open_orders", "none"]),
    base_fen: fen.describe("The amount the rule takes its share of"),
    share_bps: z.number().int(),
    window_days: z.number().int(),
  }),
});

export function availableJson(a: AvailableForPayout): z.input<typeof availableSchema> {
  return {
    balance_fen: a.balanceFen,
    holds_fen: a.holdsFen,
    reserve_fen: a.reserveFen,
    available_fen: a.availableFen,
    reserve: { rule: a.reserve.rule, base_fen: a.reserve.baseFen, share_bps: a.reserve.shareBps, window_days: a.reserve.windowDays },
  };
}

export const payoutSchema = z.object({
  id: z.string(),
  organization_id: z.string(),
  amount_fen: fen,
  status: z.enum(PAYOUT_STATUSES).describe("requested → sent → succeeded | failed; a refused try goes back to requested until the last"),
  bank_name: z.string(),
  account_number_masked: z.string(),
  account_name: z.string(),
  gateway_payout_id: z.string().nullable(),
  failure_reason: z.string().nullable().describe("Set when failed for good: the gateway's reason"),
  last_failure_reason: z.string().nullable().describe("The last refused try's reason, while it is retried"),
  attempts: z.number().int(),
  requested_at: isoTimestamp,
  sent_at: isoTimestamp.nullable(),
  finished_at: isoTimestamp.nullable(),
});

export function payoutJson(p: PayoutView): z.input<typeof payoutSchema> {
  return {
    id: p.id,
    organization_id: p.organizationId,
    amount_fen: p.amountFen,
    status: p.status,
    bank_name: p.bankName,
    account_number_masked: p.accountNumberMasked,
    account_name: p.accountName,
    gateway_payout_id: p.gatewayPayoutId,
    failure_reason: p.failureReason,
    last_failure_reason: p.lastFailureReason,
    attempts: p.attempts,
    requested_at: p.requestedAt.toISOString(),
    sent_at: p.sentAt?.toISOString() ?? null,
    finished_at: p.finishedAt?.toISOString() ?? null,
  };
}

export const getAvailableForPayout = defineEndpoint({
  method: "GET",
  path: "/api/v1/settlement/available",
  operationId: "getAvailableForPayout",
  summary: "What your organisation may pay out now, with its parts: balance, holds, reserve",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  response: availableSchema,
});

export const listPayouts = defineEndpoint({
  method: "GET",
  path: "/api/v1/settlement/payouts",
  operationId: "listPayouts",
  summary: "Payouts, newest first (yours; the bank's operations staff: everyone's)",
  tags: TAGS,
  auth: "required",
  orgKinds: [...KINDS, "bank"],
  query: z.object({ status: z.enum(PAYOUT_STATUSES).optional(), ...pageQuery }),
  response: pageOf(payoutSchema),
});

export const getPayout = defineEndpoint({
  method: "GET",
  path: "/api/v1/settlement/payouts/{id}",
  operationId: "getPayout",
  summary: "One payout",
  tags: TAGS,
  auth: "required",
  orgKinds: [...KINDS, "bank"],
  params: z.object({ id: idParam }),
  response: payoutSchema,
});

export const createPayout = defineEndpoint({
  method: "POST",
  path: "/api/v1/settlement/payouts",
  operationId: "createPayout",
  summary: "Pay out to your verified settlement account, within the available amount",
  description:
    "The amount is held at once and sent by the platform's payout step (GET the payout to follow it). More than " +
    "`available_fen` is 422 `insufficient_funds` naming `amount_fen`; no verified settlement account is 409 naming " +
    "`settlement_account`. The Idempotency-Key makes a retry the same payout.",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  action: "payout.request",
  body: z.object({ amount_fen: fen.min(1) }).strict(),
  response: payoutSchema,
  successStatus: 201,
});

/** Documentation only, like the payments callback: the route authenticates by signature. */
export const payoutsCallback = defineEndpoint({
  method: "POST",
  path: "/api/v1/payouts/callback",
  operationId: "epayPayoutCallback",
  summary: "e-Pay tells us what happened to one try of a payout (called by the gateway)",
  description:
    "Signed like the payments callback: header `X-Epay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`, " +
    "±300 s (missing/expired → 400, forged → 401). `merchant_payout_reference` is `payout:<id>:<try>`. Repeated, late or " +
    "out-of-order notices change nothing once the payout is final; a refusal of an earlier try is ignored. A reference of " +
    "no payout of ours is 400; another amount is 422.",
  tags: TAGS,
  auth: "none",
  idempotency: "none",
  body: payoutCallbackSchema,
  response: z.object({ received: z.literal(true), outcome: z.string() }),
  errors: [400, 401, 413, 415, 422],
});

export const endpoints = [getAvailableForPayout, listPayouts, getPayout, createPayout, payoutsCallback];
