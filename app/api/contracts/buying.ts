import { z } from "zod";
import { defineEndpoint } from "../endpoint";
import { fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * What a buyer's ERP reads before it orders and pays: a dealer's suppliers and each supplier's
 * orderable SKUs at the dealer's own price; the markets a buyer can shop in; and the payer's own
 * balances. Read-only: any member of the organisation may call them. Prices are resolved by the
 * pricing module exactly as the shop page and order placement resolve them (listDealerCatalog).
 */

const TAGS = ["buying"] as const;

export const supplierSchema = z.object({
  id: z.string().describe("The core enterprise's organisation id: `core_enterprise_id` of an order"),
  name: z.string(),
  name_en: z.string().nullable(),
  tier: z.string().nullable().describe("Your dealer tier with this supplier (its price list), null when none"),
  region: z.string(),
  payment_terms_days: z.number().int().describe("Days to pay what you buy on account"),
  credit_limit_fen: fen.describe("Your credit limit with this supplier"),
  credit_available_fen: fen.describe("What you may still buy on account now"),
});

export const listSuppliers = defineEndpoint({
  method: "GET",
  path: "/api/v1/suppliers",
  operationId: "listSuppliers",
  summary: "The core enterprises you may order from (dealer), by name",
  description: "One entry per active dealer link. A suspended or ended link is not listed (its SKUs answer 409 `invalid_state`).",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer"],
  query: z.object({ ...pageQuery }),
  response: pageOf(supplierSchema),
});

export const supplierSkuSchema = z.object({
  id: z.string().describe("`sku_id` for an order line"),
  code: z.string().describe("`sku_code` for an order line"),
  name: z.string(),
  spec: z.string(),
  unit: z.string(),
  pack_size: z.number().int().describe("Order in whole packs of this many units"),
  moq: z.number().int().describe("Minimum order quantity in units (a whole number of packs)"),
  product_name: z.string(),
  category: z.string().nullable(),
  tax_rate_bps: z.number().int().describe("VAT rate in basis points (1300 = 13 %)"),
  unit_price_fen: fen.describe("Your tax-inclusive unit price at the MOQ, today (Asia/Shanghai)"),
  price_rule: z.enum(["dealer_override", "volume_break", "tier_price", "base_price"]).describe("The rule that set `unit_price_fen`"),
  volume_breaks: z
    .array(z.object({ min_qty: z.number().int(), unit_price_fen: fen }))
    .describe("Your tier's lower prices from a quantity on (empty under a price agreed for you alone)"),
  stock_available: z.number().int().describe("On hand less reserved for confirmed orders"),
  in_stock: z.boolean().describe("At least the MOQ is available now (stock is reserved when the supplier confirms, not when you order)"),
});

const supplierParams = z.object({ id: idParam });

export const listSupplierSkus = defineEndpoint({
  method: "GET",
  path: "/api/v1/suppliers/{id}/skus",
  operationId: "listSupplierSkus",
  summary: "A supplier's SKUs on sale to you, in code order, at your price",
  description:
    "Only SKUs on sale (`active`). A core enterprise you are not linked to is 404, like any other organisation's id; " +
    "a link that is not active is 409 `invalid_state`.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer"],
  params: supplierParams,
  query: z.object({
    search: z.string().max(100).optional().describe("Code prefix, or part of the name, spec or product name"),
    ...pageQuery,
  }),
  response: pageOf(supplierSkuSchema),
  errors: [409],
});

export const openMarketSchema = z.object({
  id: z.string().describe("`market_id` for the market's listings and checkouts"),
  name: z.string(),
  city: z.string(),
  categories: z.array(z.string()),
  operator_name: z.string(),
  listing_count: z.number().int().describe("Listings orderable now"),
});

export const listOpenMarkets = defineEndpoint({
  method: "GET",
  path: "/api/v1/open-markets",
  operationId: "listOpenMarkets",
  summary: "The markets you can shop in (buyer), by name",
  description: "Every active market. (`/api/v1/markets` is the operator's and the merchant's view of their own.)",
  tags: TAGS,
  auth: "required",
  orgKinds: ["buyer"],
  query: z.object({ ...pageQuery }),
  response: pageOf(openMarketSchema),
});

const walletSchema = z
  .object({
    balance_fen: fen.describe("Posted balance"),
    held_fen: fen.describe("Reserved by payments under way"),
    available_fen: fen.describe("What you may pay from now: balance less held"),
  })
  .describe("Your wallet at the bank; all zero before its first movement");

export const creditLineSchema = z.object({
  supplier: z.object({ id: z.string(), name: z.string() }),
  link_status: z.string().describe("Your dealer link with this supplier: active, suspended, …"),
  limit_fen: fen,
  used_fen: fen.describe("Charged on account and not yet repaid"),
  held_fen: fen.describe("Held for orders submitted on account, not yet confirmed"),
  available_fen: fen.describe("limit − used − held"),
  overdue_fen: fen.describe("The part of `used_fen` past its due date (Asia/Shanghai)"),
  overdue_orders: z.number().int(),
});

export const getBalances = defineEndpoint({
  method: "GET",
  path: "/api/v1/balances",
  operationId: "getBalances",
  summary: "Your own balances: the wallet, and (a dealer) each credit line",
  description: "Read from the ledger and the credit lines as they are now; integer fen. `credit_lines` is empty for anyone but a dealer.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer", "buyer", "core_enterprise", "merchant", "market_operator"],
  response: z.object({ as_of: isoTimestamp, wallet: walletSchema, credit_lines: z.array(creditLineSchema) }),
});

export const endpoints = [listSuppliers, listSupplierSkus, listOpenMarkets, getBalances];
