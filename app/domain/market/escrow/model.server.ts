import { z } from "zod";
import type { DisputeParty, DisputeRuling, MarketOrderStatus } from "../../../../db/schema";
import type { Fen } from "../../ledger";
import type { MarketOrderActor, MarketOrderEvent } from "../order-states";
import { divideHalfEven, isUuid } from "../../shared";

/** The escrow trade's public vocabulary: job names, limits, views, input schemas and the fee rule (the invariants: internal.server.ts). */

export const MARKET_ORDER_QUEUE = "market";
export const SETTLE_MARKET_ORDERS_JOB = "market.settle";
export const EXPIRE_CHECKOUTS_JOB = "market.expire_checkouts";
export const AUTO_CONFIRM_JOB = "market.auto_confirm";

export const ESCROW_LIMITS = {
  linesPerCheckout: 50,
  quantityMax: 1_000_000,
  idempotencyKeyChars: 200,
  trackingChars: 50,
  reasonChars: 500,
  statementChars: 2000,
  evidenceBytes: 2 * 1024 * 1024,
  pageSize: 50,
  pageSizeMax: 100,
  /** Orders one settlement transaction takes: the postings of a batch are a handful of statements. */
  settleBatch: 500,
  sweepBatch: 200,
} as const;

// ---------------------------------------------------------------------------------------------
// Types

export type MarketPartyKind = "buyer" | "merchant" | "market_operator";

/** Who is looking: the acting organisation and the side it takes in the market. */
export interface MarketViewer {
  organizationId: string;
  kind: MarketPartyKind;
}

export interface Checkout {
  id: string;
  marketId: string;
  buyerId: string;
  totalFen: Fen;
  status: "placed" | "paid" | "expired" | "cancelled";
  paymentId: string | null;
  expiresAt: Date;
  createdAt: Date;
}

export interface MarketOrderSummary {
  id: string;
  orderNo: string;
  marketId: string;
  marketName: string;
  checkoutId: string;
  buyerId: string;
  buyerName: string;
  merchantId: string;
  merchantName: string;
  status: MarketOrderStatus;
  goodsTotalFen: Fen;
  feeFen: Fen;
  refundedFen: Fen;
  settledNetFen: Fen;
  settledFeeFen: Fen;
  placedAt: Date;
  paidAt: Date | null;
  shippedAt: Date | null;
  autoConfirmAt: Date | null;
  receivedAt: Date | null;
  settledAt: Date | null;
}

export interface MarketOrderLine {
  lineNo: number;
  listingId: string;
  title: string;
  category: string;
  spec: string;
  unit: string;
  unitPriceFen: Fen;
  quantity: number;
  amountFen: Fen;
  commissionRateBps: number;
  minFeeFen: Fen;
}

export interface MarketOrderEventView {
  id: number;
  event: string;
  fromStatus: MarketOrderStatus | null;
  toStatus: MarketOrderStatus;
  actorOrganizationId: string | null;
  note: string;
  at: Date;
}

export interface DisputeStatementView {
  id: string;
  party: DisputeParty;
  organizationId: string;
  body: string;
  evidence: { filename: string; contentType: string } | null;
  createdAt: Date;
}

export interface DisputeView {
  id: string;
  orderId: string;
  orderNo: string;
  marketId: string;
  status: "open" | "ruled";
  openedFromStatus: "paid" | "shipped" | "received";
  ruling: DisputeRuling | null;
  refundFen: Fen;
  rulingReason: string;
  ruledAt: Date | null;
  openedAt: Date;
  statements: DisputeStatementView[];
}

export interface MarketOrderDetail extends MarketOrderSummary {
  carrier: string;
  trackingNo: string;
  closedAt: Date | null;
  /** The side the viewer takes on this order. */
  role: Exclude<MarketOrderActor, "system">;
  /** Events the viewer may fire now. */
  actions: MarketOrderEvent[];
  lines: MarketOrderLine[];
  events: MarketOrderEventView[];
  dispute: DisputeView | null;
  checkout: Checkout;
  /** True while the goods total is held in escrow (E1). */
  held: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// ---------------------------------------------------------------------------------------------
// Input

const uuid = z.string().refine(isUuid, "must be an id (UUID)");
const reasonText = (max: number) => z.string().trim().min(1, "is required").max(max, `must be at most ${max} characters`);

export const checkoutInputSchema = z.object({
  buyerId: uuid,
  marketId: uuid,
  lines: z
    .array(
      z.object({
        listingId: uuid,
        quantity: z
          .number({ invalid_type_error: "must be a whole number" })
          .int("must be a whole number")
          .min(1, "must be at least 1")
          .max(ESCROW_LIMITS.quantityMax, `must be at most ${ESCROW_LIMITS.quantityMax}`),
      }),
    )
    .min(1, "add at least one listing")
    .max(ESCROW_LIMITS.linesPerCheckout, `at most ${ESCROW_LIMITS.linesPerCheckout} lines`),
  idempotencyKey: reasonText(ESCROW_LIMITS.idempotencyKeyChars),
});
export type CheckoutInput = z.input<typeof checkoutInputSchema>;

export const shipInputSchema = z.object({
  carrier: reasonText(ESCROW_LIMITS.trackingChars),
  trackingNo: z
    .string()
    .trim()
    .min(1, "is required")
    .max(ESCROW_LIMITS.trackingChars, `must be at most ${ESCROW_LIMITS.trackingChars} characters`)
    .regex(/^[A-Za-z0-9-]+$/, "letters, digits and '-' only"),
});
export type ShipInput = z.input<typeof shipInputSchema>;

export const reasonInputSchema = z.object({ reason: reasonText(ESCROW_LIMITS.reasonChars) });

export interface EvidenceInput {
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

export const statementInputSchema = z.object({ body: reasonText(ESCROW_LIMITS.statementChars) });

export const rulingInputSchema = z
  .object({
    ruling: z.enum(["release", "refund_full", "refund_partial"], { errorMap: () => ({ message: "must be release, refund_full or refund_partial" }) }),
    refundFen: z.number({ invalid_type_error: "must be a whole number of fen" }).int("must be a whole number of fen").min(0).optional(),
    reason: reasonText(ESCROW_LIMITS.reasonChars),
  })
  .strict();
export type RulingInput = z.input<typeof rulingInputSchema>;

/** The commission on the part of an order released to the merchant: pro rata of the fee fixed at placement, half-even. */
export function feeOnReleaseFen(order: { goods_total_fen: number; fee_fen: number }, releasedFen: Fen): Fen {
  if (releasedFen === order.goods_total_fen) return order.fee_fen;
  return Math.min(Number(divideHalfEven(BigInt(order.fee_fen) * BigInt(releasedFen), BigInt(order.goods_total_fen))), releasedFen);
}
