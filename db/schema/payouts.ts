import type { ColumnType, Generated } from "kysely";
import type { NullableTimestamp } from "./foundation";

/** A payout's states; its machine (who moves it where) is app/domain/settlement/payout-states.ts. */
export const PAYOUT_STATUSES = ["requested", "sent", "succeeded", "failed"] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];

/** On-demand payouts (migration 0028, decision 026). */
export interface PayoutsTable {
  id: Generated<string>;
  organization_id: string;
  settlement_account_id: string;
  account_revision: number;
  bank_name: string;
  account_number: string;
  account_name: string;
  amount_fen: ColumnType<number, number, never>;
  idempotency_key: string;
  status: PayoutStatus;
  hold_transfer_id: string;
  gateway_payout_id: string | null;
  failure_reason: string | null;
  last_failure_reason: string | null;
  attempts: Generated<number>;
  requested_by_user_id: string | null;
  requested_at: ColumnType<Date, Date | string, never>;
  sent_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  updated_at: ColumnType<Date, Date | string, Date | string>;
}

export interface PayoutsTables {
  payouts: PayoutsTable;
}
