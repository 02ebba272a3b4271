import type { ColumnType, Generated } from "kysely";
import type { CreatedAt, NullableTimestamp } from "./foundation";
import type { BusinessDate, NullableBusinessDate, UpdatedAt } from "./catalog";

export type PaymentMethod = "wallet" | "epay" | "on_account" | "financing";

export interface OrderSettingsTable {
  organization_id: string;
  auto_receipt_days: Generated<number>;
  approval_threshold_fen: number | null;
  updated_at: UpdatedAt;
}

export interface SeasonsTable {
  id: Generated<string>;
  core_enterprise_id: string;
  name: string;
  deposit_rate_bps: number;
  status: Generated<"open" | "closed" | "released">;
  released_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface OrdersTable {
  id: Generated<string>;
  number: string;
  kind: "standard" | "preorder" | "replenishment" | "return";
  /** One of ORDER_STATUSES in app/domain/orders/states.ts. */
  status: string;
  core_enterprise_id: string;
  dealer_id: string;
  dealer_link_id: string;
  season_id: string | null;
  original_order_id: string | null;
  payment_method: PaymentMethod | null;
  total_fen: Generated<number>;
  deposit_fen: Generated<number>;
  paid_fen: Generated<number>;
  due_on: NullableBusinessDate;
  /** The dealer's cart for this supplier (a draft built line by line); at most one open. */
  is_cart: Generated<boolean>;
  note: Generated<string>;
  reason: string | null;
  created_by_user_id: string | null;
  submitted_at: NullableTimestamp;
  confirmed_at: NullableTimestamp;
  paid_at: NullableTimestamp;
  shipped_at: NullableTimestamp;
  received_at: NullableTimestamp;
  closed_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface OrderLinesTable {
  id: Generated<string>;
  order_id: string;
  line_no: number;
  sku_id: string;
  sku_code: string;
  sku_name: string;
  spec: Generated<string>;
  unit: string;
  quantity_ordered: number;
  quantity_confirmed: number | null;
  quantity_shipped: Generated<number>;
  quantity_returned: Generated<number>;
  unit_price_fen: number;
  price_rule: string;
  tax_rate_bps: number;
  amount_fen: number;
  adjust_reason: string | null;
  original_line_id: string | null;
}

export interface ShipmentsTable {
  id: Generated<string>;
  order_id: string;
  carrier: string;
  tracking_number: string;
  created_by_user_id: string | null;
  shipped_at: CreatedAt;
}

export interface ShipmentLinesTable {
  shipment_id: string;
  order_line_id: string;
  quantity: number;
}

export interface OrderEventsTable {
  id: Generated<number>;
  order_id: string;
  at: CreatedAt;
  actor_user_id: string | null;
  actor_organization_id: string | null;
  event: string;
  from_status: string | null;
  to_status: string;
  note: string | null;
  data: ColumnType<unknown | null, string | null | undefined, never>;
}

export interface OrdersTables {
  order_settings: OrderSettingsTable;
  seasons: SeasonsTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  shipments: ShipmentsTable;
  shipment_lines: ShipmentLinesTable;
  order_events: OrderEventsTable;
}

export type { BusinessDate };
