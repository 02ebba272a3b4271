import type { ColumnType, Generated } from "kysely";
import type { CreatedAt, NullableTimestamp } from "./foundation";

/** A jsonb column: read as T, written as its JSON text (pg would send a JS array as a PG array). */
type JsonText<T> = ColumnType<T, string | undefined, string>;

/**
 * Financing (issue 14; docs/decisions/024): the bank's loan products and the LPR they price from,
 * facilities (a borrower's limit per product, a core enterprise's guarantee agreement and its
 * per-dealer sub-limits), applications, loans with their repayment schedule, the daily accrual run,
 * repayments and each loan's timeline. Limits and every amount owed live in the ledger
 * (`facility_available:<id>`, `loans_receivable:<loan>`, …); these tables say what the money is for.
 */

export const LOAN_PRODUCT_KINDS = ["order_financing", "receivables", "credit_line"] as const;
export type LoanProductKind = (typeof LOAN_PRODUCT_KINDS)[number];

export const REPAYMENT_METHODS = ["bullet", "interest_monthly", "equal_principal", "equal_instalment"] as const;
export type RepaymentMethodName = (typeof REPAYMENT_METHODS)[number];

export const FACILITY_KINDS = ["borrower_limit", "guarantee", "guarantee_sub"] as const;
export type FacilityKind = (typeof FACILITY_KINDS)[number];

type DateColumn = ColumnType<string, string, string>;
type NullableDate = ColumnType<string | null, string | null | undefined, string | null>;

export interface LprRatesTable {
  id: Generated<string>;
  /** 1-year LPR (贷款市场报价利率), parts per million a year: 3.10% = 31,000. */
  rate_ppm: number;
  effective_on: DateColumn;
  created_by_user_id: string | null;
  created_at: CreatedAt;
}

export interface LoanProductsTable {
  id: Generated<string>;
  code: string;
  name: string;
  name_en: string;
  kind: LoanProductKind;
  /** `lpr`: the LPR in force at disbursement plus `spread_bps`; `fixed`: `fixed_rate_ppm`. */
  rate_basis: "lpr" | "fixed";
  spread_bps: number;
  fixed_rate_ppm: number | null;
  repayment_method: RepaymentMethodName;
  /** Bullet products may run in days; the monthly methods in months. */
  term_days: number | null;
  term_months: number | null;
  /** 罚息: contract rate × (1 + markup); 5,000 bps = +50%. */
  penalty_markup_bps: number;
  grace_days: number;
  /** Up to this amount the checks approve alone; above, an officer decides. */
  auto_approve_limit_fen: number;
  /** Above this amount two different officers approve. */
  second_approver_limit_fen: number;
  /** Receivables: the share of a receivable advanced. */
  advance_rate_bps: number | null;
  min_amount_fen: number;
  max_amount_fen: number;
  /** 还款顺序: the six components in the order a repayment pays them. */
  allocation_order: ColumnType<string[], string[], string[]>;
  status: Generated<"active" | "retired">;
  created_at: CreatedAt;
}

export interface FinancingFacilitiesTable {
  id: Generated<string>;
  kind: FacilityKind;
  /** borrower_limit: the product it is for. */
  product_id: string | null;
  /** borrower_limit and guarantee_sub: the borrower. */
  borrower_organization_id: string | null;
  /** guarantee and guarantee_sub: the core enterprise that guarantees. */
  guarantor_organization_id: string | null;
  /** guarantee_sub: its agreement. */
  parent_facility_id: string | null;
  /** guarantee: days overdue after which the guarantor buys the loan back (回购). */
  buy_back_days: number | null;
  valid_to: DateColumn;
  status: Generated<"active" | "suspended">;
  approved_by_user_id: string | null;
  created_at: CreatedAt;
}

export interface LoanApplicationCheck {
  check: string;
  ok: boolean;
  /** A stable code (`reserved`, `insufficient`, `expired`, …) that pages translate with `params`. */
  detail: string;
  params?: Record<string, string | number>;
}

export interface LoanApplicationsTable {
  id: Generated<string>;
  number: string;
  product_id: string;
  borrower_organization_id: string;
  guarantor_organization_id: string | null;
  /** order_financing: the dealer order it pays. */
  order_id: string | null;
  /** A merchant's receivables advance: the escrow order whose proceeds repay it (never with order_id). */
  market_order_id: Generated<string | null>;
  amount_fen: number;
  status: Generated<string>;
  checks: JsonText<LoanApplicationCheck[]>;
  /** The ledger holds this application placed on each facility, voided or posted later. */
  holds: JsonText<{ facilityId: string; transferId: string }[]>;
  first_approver_user_id: string | null;
  first_approved_at: NullableTimestamp;
  decided_by_user_id: string | null;
  decided_at: NullableTimestamp;
  reason: string | null;
  applied_by_user_id: string | null;
  created_at: CreatedAt;
}

export interface LoansTable {
  id: Generated<string>;
  number: string;
  application_id: string;
  product_id: string;
  kind: LoanProductKind;
  borrower_organization_id: string;
  guarantor_organization_id: string | null;
  order_id: string | null;
  /** A merchant's receivables advance: the escrow order whose settlement repays it first. */
  market_order_id: Generated<string | null>;
  principal_fen: number;
  annual_rate_ppm: number;
  penalty_rate_ppm: number;
  repayment_method: RepaymentMethodName;
  grace_days: number;
  buy_back_days: number | null;
  disbursed_on: DateColumn;
  maturity_on: DateColumn;
  status: Generated<string>;
  days_past_due: Generated<number>;
  /** The class the overdue rule gives (贷款五级分类). */
  rule_class: Generated<string>;
  /** An officer's class, never better than the rule's; null when none. */
  officer_class: string | null;
  officer_class_reason: string | null;
  /** Last business date the daily run has accrued; null before the first. */
  accrued_through: NullableDate;
  closed_on: NullableDate;
  created_at: CreatedAt;
}

export interface LoanInstalmentsTable {
  loan_id: string;
  seq: number;
  period_start_on: DateColumn;
  due_on: DateColumn;
  days: number;
  principal_fen: number;
  interest_fen: number;
  principal_paid_fen: Generated<number>;
  interest_paid_fen: Generated<number>;
}

export interface LoanAccrualsTable {
  loan_id: string;
  business_date: DateColumn;
  interest_fen: number;
  penalty_fen: number;
  compound_fen: number;
  days_past_due: number;
  created_at: CreatedAt;
}

export interface LoanRepaymentsTable {
  id: Generated<string>;
  loan_id: string;
  idempotency_key: string;
  source: "wallet" | "auto_debit" | "guarantee" | "debtor_payment" | "epay";
  amount_fen: number;
  /** What each component received: penalty, compound, interest, principal (fen). */
  allocation: JsonText<Record<string, number>>;
  paid_on: DateColumn;
  created_by_user_id: string | null;
  created_at: CreatedAt;
}

export interface LoanEventsTable {
  id: Generated<number>;
  loan_id: string | null;
  application_id: string | null;
  event: string;
  actor_user_id: string | null;
  detail: JsonText<Record<string, unknown>>;
  at: CreatedAt;
}

export interface AccrualRunsTable {
  business_date: DateColumn;
  status: Generated<"running" | "done">;
  loans_total: number;
  batches_total: number;
  batches_done: Generated<number>;
  loans_done: Generated<number>;
  started_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export interface AccrualRunBatchesTable {
  business_date: DateColumn;
  batch_no: number;
  loan_ids: ColumnType<string[], string[], never>;
  done_at: NullableTimestamp;
}

export interface FinancingTables {
  lpr_rates: LprRatesTable;
  loan_products: LoanProductsTable;
  financing_facilities: FinancingFacilitiesTable;
  loan_applications: LoanApplicationsTable;
  loans: LoansTable;
  loan_instalments: LoanInstalmentsTable;
  loan_accruals: LoanAccrualsTable;
  loan_repayments: LoanRepaymentsTable;
  loan_events: LoanEventsTable;
  accrual_runs: AccrualRunsTable;
  accrual_run_batches: AccrualRunBatchesTable;
}
