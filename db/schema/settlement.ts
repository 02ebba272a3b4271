import type { ColumnType, Generated } from "kysely";
import type { CreatedAt, NullableTimestamp } from "./foundation";

/**
 * Settlement accounts (migration 0027): where an organisation's payouts go, once proved by the
 * small random deposit. `pending_deposit`: registered, the deposit not yet accepted by the gateway;
 * `awaiting_confirmation`: sent, the organisation is to enter its amount; `deposit_failed`: the
 * gateway refused it (the account must be changed); `verified`: payouts may go here.
 */
export const SETTLEMENT_ACCOUNT_STATUSES = ["pending_deposit", "awaiting_confirmation", "deposit_failed", "verified"] as const;
export type SettlementAccountStatus = (typeof SETTLEMENT_ACCOUNT_STATUSES)[number];

export interface SettlementAccountsTable {
  id: Generated<string>;
  organization_id: string;
  bank_name: string;
  branch_name: string;
  account_number: string;
  account_name: string;
  status: SettlementAccountStatus;
  revision: Generated<number>;
  deposit_fen: number;
  deposit_reference: string;
  gateway_payout_id: string | null;
  deposit_sent_at: NullableTimestamp;
  deposit_failure: string | null;
  failed_attempts: Generated<number>;
  locked_until: NullableTimestamp;
  verified_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** The sandbox gateway's payouts: its own table, read back as the receiving bank's statement. */
export interface SandboxEpayPayoutsTable {
  gateway_payout_id: string;
  merchant_id: string;
  merchant_payout_reference: string;
  amount_fen: number;
  currency: string;
  bank_name: string;
  account_number: string;
  account_name: string;
  remark: string;
  status: "succeeded" | "failed";
  failure_reason: string | null;
  created_at: CreatedAt;
}

export interface SettlementTables {
  settlement_accounts: SettlementAccountsTable;
  sandbox_epay_payouts: SandboxEpayPayoutsTable;
}
