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
