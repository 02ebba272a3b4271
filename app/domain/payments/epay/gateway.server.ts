import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { z } from "zod";
import { GATEWAY_EVENT_TYPES, type GatewayEventType } from "../../../../db/schema";

/**
 * The e-Pay adapter: what our payments model needs of a payment gateway, and the wire format of
 * the one we talk to. The HTTP client (http-client.server.ts) implements it against EPAY_BASE_URL;
 * the sandbox gateway (epay-sandbox.server.ts) serves the same wire format, so swapping the sandbox
 * for the bank's real e-Pay is a change of URL and secret, not of code.
 *
 * `payout` credits an organisation's bank account; its first caller is the settlement account's
 * verification deposit (issue 15), T+1 batches follow. The statement is here because
 * reconciliation reads it.
 */

export { GATEWAY_EVENT_TYPES, type GatewayEventType };

export const EPAY_LIMITS = {
  /** Our callback endpoint reads at most this much (an event is a few hundred bytes). */
  callbackBodyBytesMax: 64 * 1024,
  /** An API answer from the gateway (a payment with its events). */
  responseBodyBytesMax: 1024 * 1024,
  /** A day's statement file. Past this, the gateway must paginate (not needed at sandbox volumes). */
  statementBytesMax: 32 * 1024 * 1024,
  statementRowsMax: 200_000,
  /** Events listed with one payment: its success or failure plus its refunds. */
  eventsPerPaymentMax: 200,
  referenceCharsMax: 200,
  descriptionCharsMax: 200,
  reasonCharsMax: 500,
  urlCharsMax: 2_000,
  idCharsMax: 100,
} as const;

/** 1 trillion yuan, the ledger's own ceiling for one transfer. */
const AMOUNT_FEN_MAX = 100_000_000_000_000;

export const amountFenSchema = z.number().int().positive().max(AMOUNT_FEN_MAX);
const idSchema = z.string().min(1).max(EPAY_LIMITS.idCharsMax).regex(/^[A-Za-z0-9_.:-]+$/, "letters, digits and _ . : - only");
const isoInstant = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), "an ISO 8601 timestamp");

/** One event as the gateway sends it: in a callback body, in a status answer, in a refund answer. */
export const gatewayEventSchema = z
  .object({
    event_id: idSchema,
    type: z.enum(GATEWAY_EVENT_TYPES),
    gateway_payment_id: idSchema,
    /** Our payment id, as we gave it when creating the payment. */
    merchant_reference: z.string().min(1).max(EPAY_LIMITS.referenceCharsMax),
    amount_fen: amountFenSchema,
    occurred_at: isoInstant,
    gateway_refund_id: idSchema.nullish(),
    /** Our refund id, for refund events. */
    merchant_refund_reference: z.string().min(1).max(EPAY_LIMITS.referenceCharsMax).nullish(),
  })
  .superRefine((event, ctx) => {
    const isRefund = event.type.startsWith("refund.");
    if (isRefund && !event.merchant_refund_reference) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["merchant_refund_reference"], message: "required for a refund event" });
    }
  });
export type GatewayEvent = z.infer<typeof gatewayEventSchema>;

export const gatewayPaymentStatusSchema = z.enum(["pending", "succeeded", "failed"]);
export type GatewayPaymentStatus = z.infer<typeof gatewayPaymentStatusSchema>;

export const createPaymentRequestSchema = z
  .object({
    merchant_reference: z.string().min(1).max(EPAY_LIMITS.referenceCharsMax),
    amount_fen: amountFenSchema,
    currency: z.literal("CNY"),
    description: z.string().trim().min(1).max(EPAY_LIMITS.descriptionCharsMax),
    merchant_display_name: z.string().trim().min(1).max(EPAY_LIMITS.descriptionCharsMax),
    notify_url: z.string().url().max(EPAY_LIMITS.urlCharsMax),
    return_url: z.string().url().max(EPAY_LIMITS.urlCharsMax),
  })
  .strict();
export type CreatePaymentRequest = z.infer<typeof createPaymentRequestSchema>;

export const createPaymentResponseSchema = z.object({
  gateway_payment_id: idSchema,
  merchant_reference: z.string(),
  amount_fen: amountFenSchema,
  status: gatewayPaymentStatusSchema,
  pay_url: z.string().url().max(EPAY_LIMITS.urlCharsMax),
});
export type CreatePaymentResponse = z.infer<typeof createPaymentResponseSchema>;

export const paymentStateResponseSchema = z.object({
  gateway_payment_id: idSchema,
  merchant_reference: z.string(),
  amount_fen: amountFenSchema,
  refunded_fen: z.number().int().nonnegative(),
  status: gatewayPaymentStatusSchema,
  events: z.array(gatewayEventSchema).max(EPAY_LIMITS.eventsPerPaymentMax),
});
export type PaymentStateResponse = z.infer<typeof paymentStateResponseSchema>;

export const refundRequestSchema = z
  .object({
    merchant_refund_reference: z.string().min(1).max(EPAY_LIMITS.referenceCharsMax),
    amount_fen: amountFenSchema,
    reason: z.string().trim().min(1).max(EPAY_LIMITS.reasonCharsMax),
  })
  .strict();
export type RefundRequest = z.infer<typeof refundRequestSchema>;

export const refundResponseSchema = z.object({
  gateway_refund_id: idSchema,
  merchant_refund_reference: z.string(),
  amount_fen: amountFenSchema,
  /** `pending`: accepted, the outcome comes by callback. */
  status: z.enum(["pending", "succeeded", "failed"]),
  /** The refund's terminal event when the answer already knows it (the same one the callback carries). */
  event: gatewayEventSchema.nullable(),
});
export type RefundResponse = z.infer<typeof refundResponseSchema>;

/**
 * A payout: the gateway credits a bank account from the platform's funds. Idempotent on the
 * merchant payout reference. Answered synchronously with its outcome (the sandbox pays at once; a
 * refusal such as a closed account is `failed` with the gateway's reason).
 */
export const payoutRequestSchema = z
  .object({
    merchant_payout_reference: z.string().min(1).max(EPAY_LIMITS.referenceCharsMax),
    amount_fen: amountFenSchema,
    currency: z.literal("CNY"),
    bank_name: z.string().trim().min(1).max(EPAY_LIMITS.descriptionCharsMax),
    account_number: z.string().regex(/^[0-9]{8,30}$/, "8 to 30 digits"),
    account_name: z.string().trim().min(1).max(EPAY_LIMITS.descriptionCharsMax),
    /** Shown on the receiving account's statement (附言). */
    remark: z.string().trim().min(1).max(EPAY_LIMITS.descriptionCharsMax),
  })
  .strict();
export type PayoutRequest = z.infer<typeof payoutRequestSchema>;

export const payoutResponseSchema = z.object({
  gateway_payout_id: idSchema,
  merchant_payout_reference: z.string(),
  amount_fen: amountFenSchema,
  status: z.enum(["succeeded", "failed"]),
  failure_reason: z.string().max(EPAY_LIMITS.reasonCharsMax).nullable(),
  created_at: isoInstant,
});
export type PayoutResponse = z.infer<typeof payoutResponseSchema>;

export const gatewayErrorBodySchema = z.object({
  error: z.object({
    code: z.string().max(100),
    message: z.string().max(2_000),
    fields: z.record(z.string()).optional(),
  }),
});

/**
 * One line of the daily statement: money that moved through the gateway that day. `gatewayId` is
 * the movement's own id at the gateway (ep_ payment, rf_ refund, po_ payout); `amountFen` is the
 * gross; `netFen` is what reached (payment: gross − fee) or left (refund, payout: gross + fee) the
 * merchant's gateway balance (decision 027).
 */
export interface StatementRow {
  gatewayId: string;
  /** The payment a payment or refund line belongs to; empty for a payout. */
  gatewayPaymentId: string;
  merchantReference: string;
  type: StatementLineType;
  amountFen: number;
  feeFen: number;
  netFen: number;
  occurredAt: Date;
}

export const STATEMENT_LINE_TYPES = ["payment.succeeded", "refund.succeeded", "payout.succeeded"] as const;
export type StatementLineType = (typeof STATEMENT_LINE_TYPES)[number];

export const STATEMENT_COLUMNS = ["gateway_id", "gateway_payment_id", "merchant_reference", "type", "gross_fen", "fee_fen", "net_fen", "occurred_at"] as const;

export interface GatewayStatement {
  /** Business day in Asia/Shanghai, `YYYY-MM-DD`. */
  date: string;
  csv: string;
  rows: StatementRow[];
}

/**
 * Sandbox-only test directives, sent in the X-Epay-Sandbox header and remembered per payment. They
 * let a test (or a person) make the sandbox do what a real gateway does on a bad day.
 */
export const sandboxDirectivesSchema = z
  .object({
    /** Deliver each callback this many times (concurrently). */
    callback_copies: z.number().int().min(1).max(20).optional(),
    /** Wait this long before delivering each copy. */
    callback_delay_ms: z.number().int().min(0).max(60_000).optional(),
    /** Keep callbacks until released (releaseHeldDeliveries): reorder or lose them at will. */
    hold_callbacks: z.boolean().optional(),
    /**
     * How a refund is answered: `sync` answers with the outcome, then calls back; `callback_first`
     * calls back before answering; `async` answers `pending` and only calls back.
     */
    refund_mode: z.enum(["sync", "callback_first", "async"]).optional(),
    /** Make the refund fail at the gateway (the merchant's hold must be released). */
    refund_outcome: z.enum(["succeeded", "failed"]).optional(),
  })
  .strict();
export type SandboxDirectives = z.infer<typeof sandboxDirectivesSchema>;

// ---------------------------------------------------------------------------------------------

export interface GatewayCreatePaymentInput {
  /** Our payment id: the gateway is idempotent on it. */
  merchantReference: string;
  amountFen: number;
  description: string;
  /** Shown on the pay page as the merchant (the payee). */
  merchantDisplayName: string;
  notifyUrl: string;
  returnUrl: string;
}

export interface GatewayRefundInput {
  gatewayPaymentId: string;
  /** Our refund id: the gateway is idempotent on it. */
  merchantRefundReference: string;
  amountFen: number;
  reason: string;
}

export interface GatewayPayoutInput {
  /** Our payout id: the gateway is idempotent on it. */
  merchantPayoutReference: string;
  amountFen: number;
  bankName: string;
  accountNumber: string;
  accountName: string;
  remark: string;
}

export interface EpayGateway {
  /** Ask for a payment; the user is sent to `pay_url`. Idempotent on the merchant reference. */
  createPayment(input: GatewayCreatePaymentInput): Promise<CreatePaymentResponse>;
  /** The payment's state and every event so far, for when a callback is late or lost. */
  getPayment(gatewayPaymentId: string): Promise<PaymentStateResponse>;
  /** Ask for a refund. Idempotent on the merchant refund reference. */
  refund(input: GatewayRefundInput): Promise<RefundResponse>;
  /** Pay money out to a bank account. Idempotent on the merchant payout reference. */
  payout(input: GatewayPayoutInput): Promise<PayoutResponse>;
  /** The day's statement file (Asia/Shanghai business day). */
  statement(date: string): Promise<GatewayStatement>;
  /** Verify a callback's signature and timestamp, then parse it; throws EpayCallbackError. */
  parseCallback(rawBody: string, signatureHeader: string | null, now: Date): GatewayEvent;
}

/**
 * The gateway could not be asked, or answered something we cannot trust. `unavailable` means the
 * outcome is unknown (timeout, network, 5xx after the capped retries): retry later with the same
 * references. `refused` is a definitive 4xx answer. `protocol`: a bad signature or shape.
 */
export class EpayGatewayError extends Error {
  readonly kind: "unavailable" | "refused" | "protocol";
  readonly status: number | null;
  readonly code: string;
  readonly fields: Record<string, string>;

  constructor(
    kind: EpayGatewayError["kind"],
    message: string,
    options: { status?: number | null; code?: string; fields?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "EpayGatewayError";
    this.kind = kind;
    this.status = options.status ?? null;
    this.code = options.code ?? kind;
    this.fields = options.fields ?? {};
  }
}

/** A callback we refuse, with the HTTP status and the JSON error to answer with. */
export class EpayCallbackError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string>;

  constructor(status: number, code: string, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.name = "EpayCallbackError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, fields: this.fields } };
  }
}

/** zod issues → `{ field: message }`, first issue per field; field names as they are on the wire. */
export function zodFields(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = issue.path.join(".") || "body";
    fields[field] ??= issue.message;
  }
  return fields;
}

/** The instants bounding an Asia/Shanghai (UTC+8, no daylight saving) business day. */
export function shanghaiDayBounds(date: string): { from: Date; to: Date } {
  const from = new Date(`${date}T00:00:00+08:00`);
  return { from, to: new Date(from.getTime() + 24 * 3600 * 1000) };
}

/** The statement file: a header row, then one line per money movement, RFC 4180 quoting. */
export function formatStatementCsv(rows: readonly StatementRow[]): string {
  return stringify(
    rows.map((r) => [r.gatewayId, r.gatewayPaymentId, r.merchantReference, r.type, String(r.amountFen), String(r.feeFen), String(r.netFen), r.occurredAt.toISOString()]),
    { header: true, columns: [...STATEMENT_COLUMNS], record_delimiter: "unix" },
  );
}

function wholeFen(value: string | undefined, line: number, column: string, positive: boolean): number {
  const fen = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(fen) || (positive && fen <= 0)) {
    throw new Error(`statement line ${line}: ${column} must be a ${positive ? "positive" : "non-negative"} whole number`);
  }
  return fen;
}

/** Parse a statement file, refusing anything that is not exactly our columns and types. */
export function parseStatementCsv(csv: string): StatementRow[] {
  const records = parse(csv, { relax_column_count: false, skip_empty_lines: true, max_record_size: 4_096 }) as string[][];
  const [header, ...rows] = records;
  if (!header || header.join(",") !== STATEMENT_COLUMNS.join(",")) {
    throw new Error(`statement: header must be ${STATEMENT_COLUMNS.join(",")}`);
  }
  if (rows.length > EPAY_LIMITS.statementRowsMax) throw new Error(`statement: more than ${EPAY_LIMITS.statementRowsMax} rows`);
  return rows.map((cells, index) => {
    const line = index + 2;
    const [gatewayId, gatewayPaymentId, merchantReference, type, gross, fee, net, occurredAt] = cells;
    if (!(STATEMENT_LINE_TYPES as readonly string[]).includes(type)) throw new Error(`statement line ${line}: unknown type ${type}`);
    if (!gatewayId || !merchantReference) throw new Error(`statement line ${line}: gateway_id and merchant_reference are required`);
    const amountFen = wholeFen(gross, line, "gross_fen", true);
    const feeFen = wholeFen(fee, line, "fee_fen", false);
    const netFen = wholeFen(net, line, "net_fen", false);
    const expectedNet = type === "payment.succeeded" ? amountFen - feeFen : amountFen + feeFen;
    if (netFen !== expectedNet) throw new Error(`statement line ${line}: net_fen ${netFen} does not follow from gross_fen and fee_fen`);
    const at = new Date(occurredAt);
    if (Number.isNaN(at.getTime())) throw new Error(`statement line ${line}: occurred_at is not a timestamp`);
    return { gatewayId, gatewayPaymentId, merchantReference, type: type as StatementLineType, amountFen, feeFen, netFen, occurredAt: at };
  });
}
