import { z } from "zod";
import { defineEndpoint } from "../endpoint";
import { businessDate, fen } from "../schemas";

const MAX_QUOTE_LINES = 500;

/** A line names its SKU by exactly one of `sku_id` and `sku_code`. */
export const skuLine = z
  .object({
    sku_id: z.string().max(64).optional(),
    sku_code: z.string().max(64).optional(),
    quantity: z.number().int().min(1).max(10_000_000),
  })
  .strict()
  .superRefine((line, ctx) => {
    if ((line.sku_id === undefined) === (line.sku_code === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["sku_code"], message: "give exactly one of sku_id and sku_code" });
    }
  });

export const quoteLineSchema = z.object({
  sku_id: z.string(),
  sku_code: z.string(),
  quantity: z.number().int(),
  unit_price_fen: fen,
  amount_fen: fen,
  base_price_fen: fen,
  tax_rate_bps: z.number().int(),
  rule: z.enum(["dealer_override", "volume_break", "tier_price", "base_price"]).describe("The rule that set the price"),
  summary: z.string().describe("Why this price, in one English sentence"),
});

export const createPriceQuote = defineEndpoint({
  method: "POST",
  path: "/api/v1/price-quotes",
  operationId: "createPriceQuote",
  summary: "Price lines for a dealer now: per line the unit price and the rule that won",
  description:
    "A core enterprise quotes for one of its dealers (`dealer_id` required); a dealer quotes for itself from one of its " +
    "suppliers (`core_enterprise_id` required). Resolution: dealer override > tier volume break > tier price > base price, " +
    "on today's date in Asia/Shanghai. Writes nothing; POST because the lines are a body (the Idempotency-Key rule holds anyway).",
  tags: ["pricing"],
  auth: "required",
  orgKinds: ["core_enterprise", "dealer"],
  body: z
    .object({
      dealer_id: z.string().max(64).optional(),
      core_enterprise_id: z.string().max(64).optional(),
      lines: z.array(skuLine).min(1).max(MAX_QUOTE_LINES),
    })
    .strict(),
  response: z.object({
    dealer_id: z.string(),
    core_enterprise_id: z.string(),
    priced_on: businessDate,
    total_fen: fen,
    data: z.array(quoteLineSchema),
  }),
});

export const endpoints = [createPriceQuote];
