import type { ColumnType, Generated } from "kysely";
import type { BusinessDate, UpdatedAt } from "./catalog";
import type { CreatedAt, NullableTimestamp } from "./foundation";

/** text[]: read as an array, written as one. */
type TextArray = ColumnType<string[], string[], string[]>;

export const MARKET_STATUSES = ["active", "closed"] as const;
export type MarketStatus = (typeof MARKET_STATUSES)[number];

export const STALL_STATUSES = ["vacant", "occupied", "closed"] as const;
export type StallStatus = (typeof STALL_STATUSES)[number];

export const MARKET_MERCHANT_STATUSES = ["active", "suspended"] as const;
export type MarketMerchantStatus = (typeof MARKET_MERCHANT_STATUSES)[number];

export const MERCHANT_APPLICATION_STATUSES = ["submitted", "approved", "rejected"] as const;
export type MerchantApplicationStatus = (typeof MERCHANT_APPLICATION_STATUSES)[number];

/** A physical wholesale market run by a market operator. */
export interface MarketsTable {
  id: Generated<string>;
  operator_id: string;
  name: string;
  city: string;
  /** What is traded here (女装, 男装 …); 1–30. */
  categories: TextArray;
  auto_confirm_days: Generated<number>;
  unpaid_expiry_minutes: Generated<number>;
  status: Generated<MarketStatus>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MarketZonesTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  name: string;
  created_at: CreatedAt;
}

export interface MarketStallsTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  zone_id: string | null;
  code: string;
  /** Square decimetres: 1 m² = 100 dm². */
  area_dm2: number;
  monthly_rent_fen: Generated<number>;
  status: Generated<StallStatus>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MarketMerchantsTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  merchant_id: string;
  stall_id: string | null;
  categories: TextArray;
  status: Generated<MarketMerchantStatus>;
  status_reason: Generated<string>;
  application_id: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MerchantApplicationsTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  uscc: string;
  company_name: string;
  legal_representative: string;
  contact_name: string;
  contact_phone: string;
  stall_wish: Generated<string>;
  categories: TextArray;
  status: Generated<MerchantApplicationStatus>;
  decision_reason: Generated<string>;
  assigned_stall_id: string | null;
  merchant_id: string | null;
  submitted_by: string | null;
  decided_by: string | null;
  decided_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface FeeSchedulesTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  category: string;
  commission_rate_bps: number;
  min_fee_fen: Generated<number>;
  effective_from: BusinessDate;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface MarketTables {
  markets: MarketsTable;
  market_zones: MarketZonesTable;
  market_stalls: MarketStallsTable;
  market_merchants: MarketMerchantsTable;
  merchant_applications: MerchantApplicationsTable;
  fee_schedules: FeeSchedulesTable;
}


// ---------------------------------------------------------------------------------------------
// Trading (0009): listings, carts, checkouts, escrow orders, disputes, announcements.

export const LISTING_STATUSES = ["active", "inactive"] as const;
export type ListingStatus = (typeof LISTING_STATUSES)[number];
export const LISTING_MODERATION_STATUSES = ["visible", "hidden"] as const;
export type ListingModerationStatus = (typeof LISTING_MODERATION_STATUSES)[number];

export const CHECKOUT_STATUSES = ["placed", "paid", "expired", "cancelled"] as const;
export type CheckoutStatus = (typeof CHECKOUT_STATUSES)[number];

export const MARKET_ORDER_STATUSES = [
  "placed",
  "paid",
  "shipped",
  "received",
  "disputed",
  "settled",
  "refunded",
  "expired",
  "cancelled",
] as const;
export type MarketOrderStatus = (typeof MARKET_ORDER_STATUSES)[number];

export const DISPUTE_STATUSES = ["open", "ruled"] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];
export const DISPUTE_RULINGS = ["release", "refund_full", "refund_partial"] as const;
export type DisputeRuling = (typeof DISPUTE_RULINGS)[number];
export const DISPUTE_PARTIES = ["buyer", "merchant", "operator"] as const;
export type DisputeParty = (typeof DISPUTE_PARTIES)[number];

export const ANNOUNCEMENT_AUDIENCES = ["all", "merchants", "buyers"] as const;
export type AnnouncementAudience = (typeof ANNOUNCEMENT_AUDIENCES)[number];

export interface MarketListingsTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  merchant_id: string;
  title: string;
  title_en: Generated<string>;
  category: string;
  spec: Generated<string>;
  unit: string;
  price_fen: number;
  stock_qty: number;
  min_order_qty: Generated<number>;
  image_url: Generated<string>;
  status: Generated<ListingStatus>;
  moderation_status: Generated<ListingModerationStatus>;
  moderation_reason: Generated<string>;
  /** Generated by the database: the search key, lower(NFKC(title, title_en, spec, category)). */
  search_text: ColumnType<string, never, never>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MarketCartItemsTable {
  buyer_id: string;
  market_id: string;
  listing_id: string;
  quantity: number;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MarketCheckoutsTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  buyer_id: string;
  total_fen: number;
  status: Generated<CheckoutStatus>;
  payment_id: string | null;
  idempotency_key: string;
  expires_at: Date;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MarketOrdersTable {
  id: Generated<string>;
  order_no: string;
  market_id: string;
  operator_id: string;
  checkout_id: string;
  buyer_id: string;
  merchant_id: string;
  status: Generated<MarketOrderStatus>;
  goods_total_fen: number;
  fee_fen: number;
  refunded_fen: Generated<number>;
  settled_net_fen: Generated<number>;
  settled_fee_fen: Generated<number>;
  hold_transfer_id: string | null;
  carrier: Generated<string>;
  tracking_no: Generated<string>;
  placed_at: CreatedAt;
  paid_at: NullableTimestamp;
  shipped_at: NullableTimestamp;
  auto_confirm_at: NullableTimestamp;
  received_at: NullableTimestamp;
  settled_at: NullableTimestamp;
  closed_at: NullableTimestamp;
  updated_at: UpdatedAt;
}

export interface MarketOrderLinesTable {
  id: Generated<string>;
  order_id: string;
  listing_id: string;
  line_no: number;
  title: string;
  category: string;
  spec: string;
  unit: string;
  unit_price_fen: number;
  quantity: number;
  amount_fen: number;
  fee_schedule_id: string | null;
  commission_rate_bps: number;
  min_fee_fen: number;
}

export interface MarketOrderEventsTable {
  id: Generated<number>;
  order_id: string;
  event: string;
  from_status: MarketOrderStatus | null;
  to_status: MarketOrderStatus;
  actor_organization_id: string | null;
  actor_user_id: string | null;
  note: Generated<string>;
  at: CreatedAt;
}

export interface MarketDisputesTable {
  id: Generated<string>;
  order_id: string;
  market_id: string;
  operator_id: string;
  buyer_id: string;
  merchant_id: string;
  opened_from_status: "paid" | "shipped" | "received";
  status: Generated<DisputeStatus>;
  ruling: DisputeRuling | null;
  refund_fen: Generated<number>;
  ruling_reason: Generated<string>;
  ruled_by: string | null;
  ruled_at: NullableTimestamp;
  opened_at: CreatedAt;
}

export interface MarketDisputeStatementsTable {
  id: Generated<string>;
  dispute_id: string;
  party: DisputeParty;
  organization_id: string;
  author_user_id: string | null;
  body: string;
  evidence_filename: string | null;
  evidence_content_type: string | null;
  evidence_bytes: Buffer | null;
  created_at: CreatedAt;
}

export interface MarketAnnouncementsTable {
  id: Generated<string>;
  market_id: string;
  operator_id: string;
  title: string;
  body: string;
  audience: AnnouncementAudience;
  published_by: string | null;
  published_at: CreatedAt;
}

export interface MarketTradeTables {
  market_listings: MarketListingsTable;
  market_cart_items: MarketCartItemsTable;
  market_checkouts: MarketCheckoutsTable;
  market_orders: MarketOrdersTable;
  market_order_lines: MarketOrderLinesTable;
  market_order_events: MarketOrderEventsTable;
  market_disputes: MarketDisputesTable;
  market_dispute_statements: MarketDisputeStatementsTable;
  market_announcements: MarketAnnouncementsTable;
}
