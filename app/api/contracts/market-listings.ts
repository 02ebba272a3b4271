import { z } from "zod";
import type { Listing } from "../../domain/market";
import { defineEndpoint, type EndpointSpec } from "../endpoint";
import { fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * Commodity-trading markets: listings. What a caller sees depends on its kind of organisation:
 *  - a buyer: the orderable listings of any active market (search);
 *  - a merchant: its own listings, any status, with the operator's moderation;
 *  - a market operator: every listing of its own markets, and hides / unhides them.
 * Anything else — another tenant's id, a hidden listing for a buyer — is a 404.
 */


export const listingSchema = z.object({
  id: z.string(),
  market: z.object({ id: z.string(), name: z.string() }),
  merchant: z.object({ id: z.string(), name: z.string(), name_en: z.string().nullable(), stall_code: z.string().nullable() }),
  title: z.string(),
  title_en: z.string().describe("Empty when the merchant gave none"),
  category: z.string(),
  spec: z.string(),
  unit: z.string().describe("件, 条, 打 …"),
  price_fen: fen.describe("Unit price in fen (¥1 = 100)"),
  stock_qty: z.number().int(),
  min_order_qty: z.number().int(),
  image_url: z.string(),
  status: z.enum(["active", "inactive"]).describe("The merchant's switch: on sale or off sale"),
  moderation_status: z.enum(["visible", "hidden"]).describe("The operator's moderation: hidden listings are out of search"),
  moderation_reason: z.string().describe("Why the operator hid it; empty when visible"),
  orderable: z.boolean().describe("On sale, visible, merchant and market active: a buyer can order it now"),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

export function listingJson(l: Listing): z.input<typeof listingSchema> {
  return {
    id: l.id,
    market: { id: l.marketId, name: l.marketName },
    merchant: { id: l.merchantId, name: l.merchantName, name_en: l.merchantNameEn, stall_code: l.stallCode },
    title: l.title,
    title_en: l.titleEn,
    category: l.category,
    spec: l.spec,
    unit: l.unit,
    price_fen: l.priceFen,
    stock_qty: l.stockQty,
    min_order_qty: l.minOrderQty,
    image_url: l.imageUrl,
    status: l.status,
    moderation_status: l.moderationStatus,
    moderation_reason: l.moderationReason,
    orderable: l.orderable,
    created_at: l.createdAt.toISOString(),
    updated_at: l.updatedAt.toISOString(),
  };
}

/** Model field names (market-listings.server's problem fields) → API field names; the rest are snake_cased. */
export const LISTING_FIELD_NAMES: Record<string, string> = { price: "price_fen", minPrice: "min_price_fen", maxPrice: "max_price_fen", deltaQty: "stock_delta_qty" };

/** Types and sizes only: the listings model checks the rules (categories, ranges, URL). */
const listingFields = {
  title: z.string().max(100),
  title_en: z.string().max(150),
  category: z.string().max(20),
  spec: z.string().max(200),
  unit: z.string().max(10),
  price_fen: z.number().int(),
  stock_qty: z.number().int(),
  min_order_qty: z.number().int(),
  image_url: z.string().max(500),
};

const marketParams = z.object({ marketId: idParam });
const listingParams = z.object({ id: idParam });

export const listMarketListings = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{marketId}/listings",
  operationId: "listMarketListings",
  summary: "Search a market's listings, newest first",
  description:
    "A buyer searches the orderable listings of any active market. A merchant lists its own listings in the market (any " +
    "status, with moderation; 404 when it does not trade there). The market's operator lists every listing (404 for " +
    "another operator's market). `q`: words, each matching the title, English title, spec, category or merchant name.",
  tags: ["market listings"],
  auth: "required",
  orgKinds: ["buyer", "merchant", "market_operator"],
  params: marketParams,
  query: z.object({
    q: z.string().max(100).optional().describe("Up to 8 words, Chinese or English"),
    category: z.string().max(20).optional(),
    merchant_id: z.string().max(64).optional(),
    min_price_fen: z.coerce.number().int().min(0).optional(),
    max_price_fen: z.coerce.number().int().min(0).optional(),
    status: z.enum(["active", "inactive"]).optional().describe("Merchant and operator only"),
    moderation: z.enum(["visible", "hidden"]).optional().describe("Merchant and operator only"),
    ...pageQuery,
  }),
  response: pageOf(listingSchema),
});

export const createMarketListing = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{marketId}/listings",
  operationId: "createMarketListing",
  summary: "A merchant lists goods in a market it trades in (on sale at once)",
  description: "The category must be one of the market's and one the merchant's stall is approved for; the merchant must be active in the market.",
  tags: ["market listings"],
  auth: "required",
  orgKinds: ["merchant"],
  action: "listing.write",
  params: marketParams,
  body: z
    .object({
      ...listingFields,
      title_en: listingFields.title_en.optional(),
      spec: listingFields.spec.optional(),
      min_order_qty: listingFields.min_order_qty.optional(),
      image_url: listingFields.image_url.optional(),
    })
    .strict(),
  response: listingSchema,
  successStatus: 201,
});

export const getListing = defineEndpoint({
  method: "GET",
  path: "/api/v1/listings/{id}",
  operationId: "getListing",
  summary: "One listing, as the caller may see it",
  description: "Buyers: orderable listings only. Merchants: their own. Operators: those of their markets.",
  tags: ["market listings"],
  auth: "required",
  orgKinds: ["buyer", "merchant", "market_operator"],
  params: listingParams,
  response: listingSchema,
});

export const updateListing = defineEndpoint({
  method: "POST",
  path: "/api/v1/listings/{id}",
  operationId: "updateListing",
  summary: "Change a listing: send only what changes",
  description:
    "Partial update, in one transaction: details, `status` (on / off sale) and stock. Stock is either set (`stock_qty`, " +
    "optionally only if it still is `expected_stock_qty`, else 409 `concurrent_change`) or moved (`stock_delta_qty`, " +
    "never below 0), not both.",
  tags: ["market listings"],
  auth: "required",
  orgKinds: ["merchant"],
  action: "listing.write",
  params: listingParams,
  body: z
    .object({
      ...listingFields,
      status: z.enum(["active", "inactive"]),
      expected_stock_qty: z.number().int(),
      stock_delta_qty: z.number().int(),
    })
    .partial()
    .strict()
    .refine((b) => Object.keys(b).length > 0, { message: "send at least one field to change" })
    .refine((b) => b.stock_qty === undefined || b.stock_delta_qty === undefined, { message: "send stock_qty or stock_delta_qty, not both", path: ["stock_delta_qty"] })
    .refine((b) => b.expected_stock_qty === undefined || b.stock_qty !== undefined, { message: "expected_stock_qty goes with stock_qty", path: ["expected_stock_qty"] }),
  response: listingSchema,
});

export const hideListing = defineEndpoint({
  method: "POST",
  path: "/api/v1/listings/{id}/hide",
  operationId: "hideListing",
  summary: "The market's operator hides a listing from buyers, with the reason the merchant reads",
  tags: ["market listings"],
  auth: "required",
  orgKinds: ["market_operator"],
  action: "listing.moderate",
  params: listingParams,
  body: z.object({ reason: z.string().max(200) }).strict(),
  response: listingSchema,
});

export const unhideListing = defineEndpoint({
  method: "POST",
  path: "/api/v1/listings/{id}/unhide",
  operationId: "unhideListing",
  summary: "The market's operator shows a hidden listing again",
  tags: ["market listings"],
  auth: "required",
  orgKinds: ["market_operator"],
  action: "listing.moderate",
  params: listingParams,
  body: z.object({ reason: z.string().max(200).optional().describe("A note kept in the audit trail") }).strict(),
  response: listingSchema,
});

export const endpoints: readonly EndpointSpec[] = [listMarketListings, createMarketListing, getListing, updateListing, hideListing, unhideListing];
