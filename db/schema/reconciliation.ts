import type { ColumnType, Generated } from "kysely";
import type { NullableTimestamp } from "./foundation";

/**
 * Reconciliation (migration 0029, decision 027): the gateway's daily statements as imported, their
 * lines, and the mismatches against our books. Written only by app/domain/settlement/reconciliation.server.ts.
 */
export const RECONCILE_MISMATCH_KINDS = ["missing_ours", "missing_theirs", "amount_differs", "duplicate", "late"] as const;
export type ReconcileMismatchKind = (typeof RECONCILE_MISMATCH_KINDS)[number];
export type ReconcileMismatchStatus = "open" | "resolved" | "superseded";
type StatementLineTypeColumn = "payment.succeeded" | "refund.succeeded" | "payout.succeeded";
/** A `date` column: written as `YYYY-MM-DD`, read back as text (the pool's type parser). */
type DateColumn = ColumnType<string, string, string>;

export interface StatementDaysTable {
  statement_date: DateColumn;
  content_sha256: string;
  line_count: number;
  gross_fen: number;
  fee_fen: number;
  fee_transfer_id: string | null;
  imported_at: ColumnType<Date, Date, Date>;
  closed_at: NullableTimestamp;
}

export interface StatementLinesTable {
  statement_date: DateColumn;
  line_no: number;
  gateway_id: string;
  gateway_payment_id: string;
  merchant_reference: string;
  type: StatementLineTypeColumn;
  gross_fen: number;
  fee_fen: number;
  net_fen: number;
  occurred_at: ColumnType<Date, Date | string, Date | string>;
}

export interface ReconcileMismatchesTable {
  id: Generated<string>;
  statement_date: DateColumn;
  kind: ReconcileMismatchKind;
  line_type: StatementLineTypeColumn;
  merchant_reference: string;
  gateway_id: string | null;
  theirs_fen: number | null;
  ours_fen: number | null;
  theirs_lines: number;
  ours_at: NullableTimestamp;
  ledger_transfer_id: string | null;
  status: Generated<ReconcileMismatchStatus>;
  note: string | null;
  resolved_by_user_id: string | null;
  resolved_at: NullableTimestamp;
  created_at: ColumnType<Date, Date, Date>;
}

export interface ReconciliationTables {
  statement_days: StatementDaysTable;
  statement_lines: StatementLinesTable;
  reconcile_mismatches: ReconcileMismatchesTable;
}
