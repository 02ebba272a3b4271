import { z } from "zod";
import type { DealerLinkWithCredit } from "../../domain/dealers";
import { defineEndpoint } from "../endpoint";
import { fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/** The core enterprise's dealer network: one entry per dealer link, credit figures from the ledger. */


export const dealerLinkSchema = z.object({
  id: z.string().describe("The dealer link id (use it in /dealers/{id})"),
  dealer: z.object({ id: z.string(), name: z.string(), name_en: z.string().nullable(), uscc: z.string().nullable() }),
  tier: z.object({ id: z.string(), name: z.string() }).nullable(),
  region: z.string(),
  payment_terms_days: z.number().int(),
  status: z.enum(["active", "suspended"]),
  credit_limit_fen: fen,
  credit_used_fen: fen,
  credit_available_fen: z.number().int(),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

export function dealerLinkJson(link: DealerLinkWithCredit): z.input<typeof dealerLinkSchema> {
  return {
    id: link.id,
    dealer: { id: link.dealerId, name: link.dealerName, name_en: link.dealerNameEn, uscc: link.dealerUscc },
    tier: link.tierId ? { id: link.tierId, name: link.tierName ?? "" } : null,
    region: link.region,
    payment_terms_days: link.paymentTermsDays,
    status: link.status,
    credit_limit_fen: link.credit.limitFen,
    credit_used_fen: link.credit.usedFen,
    credit_available_fen: link.credit.availableFen,
    created_at: link.createdAt.toISOString(),
    updated_at: link.updatedAt.toISOString(),
  };
}

export const DEALER_FIELD_NAMES: Record<string, string> = { creditLimit: "credit_limit_fen", credit_limit_fen: "credit_limit_fen" };

export const listDealers = defineEndpoint({
  method: "GET",
  path: "/api/v1/dealers",
  operationId: "listDealers",
  summary: "List the dealer network by dealer name",
  tags: ["dealers"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  query: z.object({
    search: z.string().max(100).optional().describe("Part of the name, the region, or the exact USCC"),
    status: z.enum(["active", "suspended"]).optional(),
    tier_id: z.string().max(64).optional(),
    ...pageQuery,
  }),
  response: pageOf(dealerLinkSchema),
});

const linkParams = z.object({ id: idParam });

export const getDealer = defineEndpoint({
  method: "GET",
  path: "/api/v1/dealers/{id}",
  operationId: "getDealer",
  summary: "One dealer link with its credit",
  tags: ["dealers"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  params: linkParams,
  response: dealerLinkSchema,
});

export const updateDealer = defineEndpoint({
  method: "POST",
  path: "/api/v1/dealers/{id}",
  operationId: "updateDealer",
  summary: "Change a dealer's terms or status: send only what changes",
  description:
    "Partial update, applied in one transaction: tier (`tier_id`, null for none), region, payment terms, credit limit " +
    "(set in the ledger; not below what the dealer already owes) and status (`suspended` stops new orders; `reason` is " +
    "recorded with a status change).",
  tags: ["dealers"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "dealer_link.update",
  params: linkParams,
  body: z
    .object({
      tier_id: z.string().max(64).nullable(),
      region: z.string().max(100),
      payment_terms_days: z.number().int(),
      credit_limit_fen: z.number().int(),
      status: z.enum(["active", "suspended"]),
      reason: z.string().max(200),
    })
    .partial()
    .strict()
    .refine((b) => Object.keys(b).length > 0, { message: "send at least one field to change" }),
  response: dealerLinkSchema,
});

export const endpoints = [listDealers, getDealer, updateDealer];
