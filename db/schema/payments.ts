import type { ColumnType, Generated, JSONColumnType } from "kysely";
import type { CreatedAt, NullableTimestamp, Timestamp } from "./foundation";

/**
 * e-Pay, our side: a payment we asked the gateway for, the refunds against it, and every gateway
 * event we received (callback, status query or a refund's synchronous answer), deduplicated by the
 * gateway's event id. The sandbox gateway's own tables (`sandbox_epay_*`) follow below; they stand
 * for another company's system and nothing of ours reads them.
 */

export const PAYMENT_PURPOSES = ["order", "deposit", "market_order", "topup", "loan_repayment"] as const;
export type PaymentPurpose = (typeof PAYMENT_PURPOSES)[number];

export const PAYMENT_STATUSES = ["created", "succeeded", "failed", "partially_refunded", "refunded"] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const REFUND_STATUSES = ["requested", "succeeded", "failed"] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export const GATEWAY_EVENT_TYPES = ["payment.succeeded", "payment.failed", "refund.succeeded", "refund.failed"] as const;
export type GatewayEventType = (typeof GATEWAY_EVENT_TYPES)[number];

export const PAYMENT_EVENT_SOURCES = ["callback", "status_query", "refund_response"] as const;
export type PaymentEventSource = (typeof PAYMENT_EVENT_SOURCES)[number];

/** What applying a recorded event did: only `applied` changed state (and possibly money). */
export const PAYMENT_EVENT_OUTCOMES = ["applied", "ignored_stale", "refused_amount_mismatch"] as const;
export type PaymentEventOutcome = (typeof PAYMENT_EVENT_OUTCOMES)[number];

type PaymentUpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

export interface PaymentsTable {
  id: Generated<string>;
  payer_organization_id: string;
  payee_organization_id: string;
  purpose: PaymentPurpose;
  /** The business object paid for, e.g. `order:<id>`; the purpose handler reads it. */
  reference: string;
  amount_fen: number;
  currency: Generated<string>;
  description: string;
  /** Same-site path the user is sent back to after paying. */
  return_path: string;
  status: Generated<PaymentStatus>;
  /** Sum of succeeded refunds; the table's CHECK ties it to the status. */
  refunded_fen: Generated<number>;
  /** Caller's key: the same (payer, key) is the same payment. */
  idempotency_key: string;
  gateway_payment_id: string | null;
  pay_url: string | null;
  created_by_user_id: string | null;
  created_at: CreatedAt;
  updated_at: PaymentUpdatedAt;
  succeeded_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  /** When the fulfil step handed the payment to its purpose (once). */
  fulfilled_at: NullableTimestamp;
  /** What the capture did with the money (0018; decision 021); null until captured. */
  purpose_outcome: PaymentPurposeOutcome | null;
  /** Why the purpose could not take the money; set exactly when `needs_attention`. */
  attention_reason: string | null;
  attention_at: NullableTimestamp;
}

export const PAYMENT_PURPOSE_OUTCOMES = ["applied", "left_in_wallet", "needs_attention"] as const;
export type PaymentPurposeOutcome = (typeof PAYMENT_PURPOSE_OUTCOMES)[number];

export interface PaymentRefundsTable {
  id: Generated<string>;
  payment_id: string;
  amount_fen: number;
  reason: string;
  status: Generated<RefundStatus>;
  idempotency_key: string;
  gateway_refund_id: string | null;
  /** The ledger hold (payer wallet → gateway clearing) placed when the refund was asked for. */
  hold_transfer_id: string;
  failure_reason: string | null;
  requested_by_user_id: string | null;
  created_at: CreatedAt;
  updated_at: PaymentUpdatedAt;
  succeeded_at: NullableTimestamp;
  failed_at: NullableTimestamp;
}

export interface PaymentEventsTable {
  /** The gateway's event id: the primary key is what makes a duplicate a no-op. */
  event_id: string;
  payment_id: string;
  refund_id: string | null;
  type: GatewayEventType;
  amount_fen: number;
  occurred_at: Timestamp;
  source: PaymentEventSource;
  outcome: PaymentEventOutcome;
  detail: string | null;
  payload: JSONColumnType<Record<string, unknown>, string, string>;
  received_at: CreatedAt;
}

// ---------------------------------------------------------------------------------------------
// The sandbox gateway's own storage.

export type SandboxPaymentStatus = "pending" | "succeeded" | "failed";
export type SandboxRefundStatus = "succeeded" | "failed";
export type SandboxDeliveryStatus = "held" | "pending" | "delivered" | "failed";

export interface SandboxEpayPaymentsTable {
  gateway_payment_id: string;
  merchant_id: string;
  merchant_reference: string;
  amount_fen: number;
  currency: string;
  description: string;
  merchant_display_name: string;
  notify_url: string;
  return_url: string;
  status: Generated<SandboxPaymentStatus>;
  refunded_fen: Generated<number>;
  /** Test directives sent with the create request (X-Epay-Sandbox), applied to this payment. */
  directives: JSONColumnType<Record<string, unknown>, string, string>;
  created_at: CreatedAt;
  completed_at: NullableTimestamp;
}

export interface SandboxEpayRefundsTable {
  gateway_refund_id: string;
  gateway_payment_id: string;
  merchant_id: string;
  merchant_refund_reference: string;
  amount_fen: number;
  reason: string;
  status: SandboxRefundStatus;
  created_at: CreatedAt;
}

export interface SandboxEpayEventsTable {
  event_id: string;
  gateway_payment_id: string;
  gateway_refund_id: string | null;
  type: GatewayEventType;
  amount_fen: number;
  occurred_at: Timestamp;
  /** The exact JSON body delivered to the merchant. */
  body: string;
}

export interface SandboxEpayDeliveriesTable {
  id: Generated<number>;
  event_id: string;
  copy_no: number;
  url: string;
  status: SandboxDeliveryStatus;
  attempts: Generated<number>;
  last_status_code: number | null;
  last_error: string | null;
  deliver_after: Timestamp;
  delivered_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface PaymentsTables {
  payments: PaymentsTable;
  payment_refunds: PaymentRefundsTable;
  payment_events: PaymentEventsTable;
  sandbox_epay_payments: SandboxEpayPaymentsTable;
  sandbox_epay_refunds: SandboxEpayRefundsTable;
  sandbox_epay_events: SandboxEpayEventsTable;
  sandbox_epay_deliveries: SandboxEpayDeliveriesTable;
}
