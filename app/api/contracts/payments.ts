import { z } from "zod";
import { gatewayEventSchema } from "../../domain/payments";
import { defineEndpoint } from "../endpoint";

/**
 * Documentation only: the e-Pay callback route (api.v1.payments.callback.tsx) predates this
 * framework and authenticates by signature, not by credentials; this spec describes it.
 */
export const paymentsCallback = defineEndpoint({
  method: "POST",
  path: "/api/v1/payments/callback",
  operationId: "epayCallback",
  summary: "e-Pay tells us what happened to a payment or refund (called by the gateway)",
  description:
    "Signed: header `X-Epay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`, ±300 s tolerance " +
    "(missing/expired → 400, forged → 401). Body ≤ 64 KiB. Deduplicated by `event_id` (a duplicate answers 200 and changes " +
    "nothing) — no Idempotency-Key. An event for no payment of ours is 400; an amount that differs from ours is 422.",
  tags: ["payments"],
  auth: "none",
  idempotency: "none",
  body: gatewayEventSchema,
  response: z.object({
    received: z.literal(true),
    duplicate: z.boolean(),
    outcome: z.string(),
    payment_status: z.string(),
  }),
  errors: [400, 401, 413, 415, 422],
});

export const endpoints = [paymentsCallback];
