import type { ColumnType, Generated } from "kysely";
import type { CreatedAt } from "./foundation";

/** Set by the application on every update (default now() on insert). */
export type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

/**
 * A `date` column: an Asia/Shanghai business date, written as 'YYYY-MM-DD'. The drivers would
 * parse a selected `date` into a JS Date at some time zone's midnight, so the models never select
 * one bare: they read it as text (`to_char(col, 'YYYY-MM-DD')`), which is what this type says.
 */
export type BusinessDate = ColumnType<string, string, string>;
export type NullableBusinessDate = ColumnType<string | null, string | null | undefined, string | null>;

export const SKU_STATUSES = ["active", "inactive"] as const;
export type SkuStatus = (typeof SKU_STATUSES)[number];

export const DEALER_LINK_STATUSES = ["active", "suspended"] as const;
export type DealerLinkStatus = (typeof DEALER_LINK_STATUSES)[number];

export interface ProductsTable {
  id: Generated<string>;
  core_enterprise_id: string;
  /** Upper-case ASCII, unique per core enterprise. */
  code: string;
  name: string;
  category: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface SkusTable {
  id: Generated<string>;
  core_enterprise_id: string;
  product_id: string;
  /** Upper-case ASCII, unique per core enterprise; what dealers type in a quick order. */
  code: string;
  name: string;
  spec: Generated<string>;
  /** The unit quantities are counted in (台, 件, 箱 …). */
  unit: string;
  /** Units per shipping pack: order quantities are whole packs. */
  pack_size: Generated<number>;
  /** Minimum order quantity in units: a whole number of packs (CHECK). */
  moq: Generated<number>;
  /** Tax-inclusive unit price (含税单价) before any tier or dealer price. */
  base_price_fen: number;
  tax_rate_bps: number;
  stock_on_hand: Generated<number>;
  /** Held for confirmed orders not yet shipped; 0 ≤ reserved ≤ on hand (CHECK). */
  stock_reserved: Generated<number>;
  status: Generated<SkuStatus>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface DealerTiersTable {
  id: Generated<string>;
  core_enterprise_id: string;
  name: string;
  /** Display order: lower first (金牌 before 银牌). */
  rank: Generated<number>;
  created_at: CreatedAt;
}

/**
 * A core enterprise ↔ dealer relationship. The credit limit is NOT here: it lives in the ledger
 * (credit.server.ts, accounts `trade_credit:<link id>` …), the only source of truth for money.
 */
export interface DealerLinksTable {
  id: Generated<string>;
  core_enterprise_id: string;
  dealer_id: string;
  tier_id: string | null;
  /** Province and city as written in Chinese, e.g. 浙江省杭州市. */
  region: string;
  payment_terms_days: Generated<number>;
  status: Generated<DealerLinkStatus>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PriceListsTable {
  id: Generated<string>;
  core_enterprise_id: string;
  tier_id: string;
  name: string;
  /** Inclusive. */
  valid_from: BusinessDate;
  /** Inclusive; null = open-ended. */
  valid_to: NullableBusinessDate;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PriceListItemsTable {
  price_list_id: string;
  core_enterprise_id: string;
  sku_id: string;
  /** 1 = the tier price; above 1 = a volume break that applies from this quantity up. */
  min_qty: number;
  price_fen: number;
}

export interface DealerPriceOverridesTable {
  id: Generated<string>;
  core_enterprise_id: string;
  dealer_link_id: string;
  sku_id: string;
  price_fen: number;
  valid_from: BusinessDate;
  valid_to: NullableBusinessDate;
  note: Generated<string>;
  created_at: CreatedAt;
}

export interface CatalogTables {
  products: ProductsTable;
  skus: SkusTable;
  dealer_tiers: DealerTiersTable;
  dealer_links: DealerLinksTable;
  price_lists: PriceListsTable;
  price_list_items: PriceListItemsTable;
  dealer_price_overrides: DealerPriceOverridesTable;
}
