import { z } from "zod";
import type { Sku } from "../../domain/catalog";
import { defineEndpoint } from "../endpoint";
import { fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/** The core enterprise's catalogue: SKUs with stock. Read by any member; written by owner, admin, sales. */


export const skuSchema = z.object({
  id: z.string(),
  code: z.string(),
  name: z.string(),
  spec: z.string(),
  unit: z.string(),
  pack_size: z.number().int(),
  moq: z.number().int().describe("Minimum order quantity, a whole number of packs"),
  base_price_fen: fen.describe("Tax-inclusive unit price before dealer pricing"),
  tax_rate_bps: z.number().int().describe("VAT rate in basis points (1300 = 13 %)"),
  stock_on_hand: z.number().int(),
  stock_reserved: z.number().int(),
  stock_available: z.number().int(),
  status: z.enum(["active", "inactive"]),
  product_code: z.string(),
  product_name: z.string(),
  category: z.string().nullable(),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

export function skuJson(sku: Sku): z.input<typeof skuSchema> {
  return {
    id: sku.id,
    code: sku.code,
    name: sku.name,
    spec: sku.spec,
    unit: sku.unit,
    pack_size: sku.packSize,
    moq: sku.moq,
    base_price_fen: sku.basePriceFen,
    tax_rate_bps: sku.taxRateBps,
    stock_on_hand: sku.stockOnHand,
    stock_reserved: sku.stockReserved,
    stock_available: sku.stockAvailable,
    status: sku.status,
    product_code: sku.productCode,
    product_name: sku.productName,
    category: sku.category,
    created_at: sku.createdAt.toISOString(),
    updated_at: sku.updatedAt.toISOString(),
  };
}

/** Types and sizes only: the catalogue model checks the rules (MOQ in whole packs, VAT rates, …). */
const skuFields = {
  code: z.string().max(64),
  name: z.string().max(200),
  spec: z.string().max(200),
  unit: z.string().max(10),
  pack_size: z.number().int(),
  moq: z.number().int(),
  base_price_fen: z.number().int(),
  tax_rate_bps: z.number().int(),
  stock_on_hand: z.number().int(),
  status: z.enum(["active", "inactive"]),
  product_code: z.string().max(64),
  product_name: z.string().max(200),
  category: z.string().max(50).nullable(),
};

/** Model field names (catalog.server's problem fields) → API field names. */
export const SKU_FIELD_NAMES: Record<string, string> = { basePrice: "base_price_fen", taxRate: "tax_rate_bps" };

const skuParams = z.object({ id: idParam });

export const listSkus = defineEndpoint({
  method: "GET",
  path: "/api/v1/skus",
  operationId: "listSkus",
  summary: "List the catalogue's SKUs in code order",
  tags: ["catalog"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  query: z.object({
    search: z.string().max(100).optional().describe("Code prefix, or part of the name, spec or product name"),
    status: z.enum(["active", "inactive"]).optional(),
    ...pageQuery,
  }),
  response: pageOf(skuSchema),
});

export const createSku = defineEndpoint({
  method: "POST",
  path: "/api/v1/skus",
  operationId: "createSku",
  summary: "Add a SKU (its product is created or reused by product_code, default the SKU code)",
  tags: ["catalog"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "catalog.sku_write",
  body: z
    .object({
      ...skuFields,
      spec: skuFields.spec.optional(),
      stock_on_hand: skuFields.stock_on_hand.optional(),
      status: skuFields.status.optional(),
      product_code: skuFields.product_code.optional(),
      product_name: skuFields.product_name.optional(),
      category: skuFields.category.optional(),
    })
    .strict(),
  response: skuSchema,
  successStatus: 201,
});

export const getSku = defineEndpoint({
  method: "GET",
  path: "/api/v1/skus/{id}",
  operationId: "getSku",
  summary: "One SKU",
  tags: ["catalog"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  params: skuParams,
  response: skuSchema,
});

export const updateSku = defineEndpoint({
  method: "POST",
  path: "/api/v1/skus/{id}",
  operationId: "updateSku",
  summary: "Change a SKU: send only the fields that change",
  description:
    "Partial update: omitted fields keep their values. `stock_on_hand` may not go below the stock reserved for " +
    "confirmed orders (422 naming it).",
  tags: ["catalog"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "catalog.sku_write",
  params: skuParams,
  body: z
    .object(skuFields)
    .partial()
    .strict()
    .refine((b) => Object.keys(b).length > 0, { message: "send at least one field to change" }),
  response: skuSchema,
});

export const endpoints = [listSkus, createSku, getSku, updateSku];
