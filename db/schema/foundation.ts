import type { ColumnType, Generated, JSONColumnType } from "kysely";

/** A timestamptz column: read as Date, written as Date or ISO string, defaulted by the database. */
export type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
export type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
export type Json<T extends object | null = Record<string, unknown>> = JSONColumnType<T, T | undefined, T>;
export type NullableJson = ColumnType<unknown | null, string | null | undefined, string | null>;

export const ORGANIZATION_KINDS = [
  "bank",
  "core_enterprise",
  "dealer",
  "market_operator",
  "merchant",
  "buyer",
] as const;
export type OrganizationKind = (typeof ORGANIZATION_KINDS)[number];

export const ROLES = [
  "owner",
  "admin",
  "purchaser",
  "sales",
  "finance",
  "viewer",
  "credit_officer",
  "operations",
  "platform_admin",
] as const;
export type Role = (typeof ROLES)[number];

export interface OrganizationsTable {
  id: Generated<string>;
  kind: OrganizationKind;
  name: string;
  name_en: string | null;
  uscc: string | null;
  status: Generated<"active" | "suspended">;
  created_at: CreatedAt;
}

export interface UsersTable {
  id: Generated<string>;
  email: string;
  display_name: string;
  password_hash: string;
  locale: Generated<string>;
  status: Generated<"active" | "disabled">;
  created_at: CreatedAt;
  last_login_at: NullableTimestamp;
}

export interface MembershipsTable {
  id: Generated<string>;
  user_id: string;
  organization_id: string;
  role: Role;
  created_at: CreatedAt;
}

export interface SessionsTable {
  /** sha256 of the token carried in the cookie; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  organization_id: string;
  csrf_token: string;
  ip: string | null;
  user_agent: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

export interface LoginFailuresTable {
  id: Generated<number>;
  email_normalized: string;
  ip: string | null;
  at: CreatedAt;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: CreatedAt;
  actor_user_id: string | null;
  organization_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: NullableJson;
  after: NullableJson;
  ip: string | null;
  request_id: string | null;
}

export const LEDGER_ACCOUNT_KINDS = [
  "wallet",
  "escrow",
  "market_fees",
  "loans_receivable",
  "interest_income",
  "penalty_income",
  "gateway_clearing",
  "credit_line",
  "bank_equity",
  "trade_credit",
  "trade_receivable",
  "credit_limits_issued",
  "dealer_deposits",
  // Financing (decision 024): interest and penalty owed on a loan, and credit facilities' limits.
  "interest_receivable",
  "penalty_receivable",
  "facility_available",
  "facility_used",
  "facility_limits_issued",
  // Settlement (issue 15): what the bank spends, e.g. the small deposits that prove a settlement account.
  "bank_expenses",
  // Payouts (decision 026): money on its way from a wallet to a settlement account, held until the gateway answers.
  "payouts_in_transit",
] as const;
export type LedgerAccountKind = (typeof LEDGER_ACCOUNT_KINDS)[number];

/**
 * Which side may not outgrow the other, TigerBeetle style: a wallet (the bank owes the customer)
 * may never be debited past its credits; an asset such as a receivable may not be credited past
 * its debits. Pending amounts count against the limit as soon as they are reserved.
 */
export type OverdraftRule = "none" | "debits_le_credits" | "credits_le_debits";
export type NormalSide = "debit" | "credit";

export interface LedgerAccountsTable {
  id: Generated<string>;
  code: string;
  organization_id: string | null;
  kind: LedgerAccountKind;
  currency: Generated<string>;
  normal_side: NormalSide;
  overdraft_rule: OverdraftRule;
  debits_posted_fen: Generated<number>;
  credits_posted_fen: Generated<number>;
  debits_pending_fen: Generated<number>;
  credits_pending_fen: Generated<number>;
  version: Generated<number>;
  created_at: CreatedAt;
}

export type TransferPhase = "single" | "pending" | "post_pending" | "void_pending";

export interface LedgerTransfersTable {
  id: Generated<string>;
  idempotency_key: string;
  kind: string;
  reference: string;
  phase: TransferPhase;
  pending_id: string | null;
  debit_account_id: string;
  credit_account_id: string;
  amount_fen: number;
  created_by_user_id: string | null;
  created_at: CreatedAt;
}

export interface FoundationTables {
  organizations: OrganizationsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  audit_events: AuditEventsTable;
  ledger_accounts: LedgerAccountsTable;
  ledger_transfers: LedgerTransfersTable;
}
