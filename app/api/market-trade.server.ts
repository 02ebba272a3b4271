import type { z } from "zod";
import { DomainError, isDomainError } from "../domain/shared";
import type { Checkout, DisputeView, MarketOrderDetail, MarketOrderSummary, MarketViewer } from "../domain/market";
import type { checkoutSchema, disputeSchema, marketOrderListItemSchema, marketOrderSchema } from "./contracts/market-trade";

/**
 * The market-trade API's JSON shapes, shared by its route modules (app/routes/api.v1.market-*.ts):
 * the model's views → snake_case, amounts in `_fen`, timestamps ISO; the commission left out
 * (null) for a buyer, as on the pages.
 */

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function orderListItemJson(o: MarketOrderSummary, seesFee: boolean): z.input<typeof marketOrderListItemSchema> {
  return {
    id: o.id,
    order_no: o.orderNo,
    market: { id: o.marketId, name: o.marketName },
    checkout_id: o.checkoutId,
    buyer: { id: o.buyerId, name: o.buyerName },
    merchant: { id: o.merchantId, name: o.merchantName },
    status: o.status,
    goods_total_fen: o.goodsTotalFen,
    fee_fen: seesFee ? o.feeFen : null,
    refunded_fen: o.refundedFen,
    placed_at: o.placedAt.toISOString(),
    paid_at: iso(o.paidAt),
    shipped_at: iso(o.shippedAt),
    received_at: iso(o.receivedAt),
    settled_at: iso(o.settledAt),
  };
}

function disputeCore(d: DisputeView) {
  return {
    id: d.id,
    order_id: d.orderId,
    order_no: d.orderNo,
    market_id: d.marketId,
    status: d.status,
    opened_from_status: d.openedFromStatus,
    ruling: d.ruling,
    refund_fen: d.refundFen,
    ruling_reason: d.rulingReason,
    ruled_at: iso(d.ruledAt),
    opened_at: d.openedAt.toISOString(),
    statements: d.statements.map((s) => ({
      id: s.id,
      party: s.party,
      body: s.body,
      evidence: s.evidence ? { filename: s.evidence.filename, content_type: s.evidence.contentType } : null,
      created_at: s.createdAt.toISOString(),
    })),
  };
}

export function orderJson(d: MarketOrderDetail): z.input<typeof marketOrderSchema> {
  const seesFee = d.role !== "buyer";
  return {
    ...orderListItemJson(d, seesFee),
    role: d.role,
    actions: d.actions,
    held: d.held,
    settled_net_fen: d.settledNetFen,
    settled_fee_fen: seesFee ? d.settledFeeFen : null,
    carrier: d.carrier,
    tracking_no: d.trackingNo,
    auto_confirm_at: iso(d.autoConfirmAt),
    closed_at: iso(d.closedAt),
    lines: d.lines.map((l) => ({
      line_no: l.lineNo,
      listing_id: l.listingId,
      title: l.title,
      category: l.category,
      spec: l.spec,
      unit: l.unit,
      unit_price_fen: l.unitPriceFen,
      quantity: l.quantity,
      amount_fen: l.amountFen,
      commission_rate_bps: seesFee ? l.commissionRateBps : null,
      min_fee_fen: seesFee ? l.minFeeFen : null,
    })),
    timeline: d.events.map((e) => ({
      at: e.at.toISOString(),
      event: e.event,
      from_status: e.fromStatus,
      to_status: e.toStatus,
      actor: e.actorOrganizationId === null ? "system" : e.actorOrganizationId === d.buyerId ? "buyer" : e.actorOrganizationId === d.merchantId ? "merchant" : "operator",
      note: e.note,
    })),
    dispute: d.dispute ? disputeCore(d.dispute) : null,
  };
}

/** A dispute with its order's money, as its party sees it (the order detail carries both). */
export function disputeJson(d: MarketOrderDetail): z.input<typeof disputeSchema> {
  if (!d.dispute) throw new DomainError("not_found", "dispute not found");
  const seesFee = d.role !== "buyer";
  return {
    ...disputeCore(d.dispute),
    order: {
      status: d.status,
      goods_total_fen: d.goodsTotalFen,
      fee_fen: seesFee ? d.feeFen : null,
      refunded_fen: d.refundedFen,
      settled_net_fen: d.settledNetFen,
      settled_fee_fen: seesFee ? d.settledFeeFen : null,
    },
  };
}

export function checkoutJson(c: { checkout: Checkout; orders: MarketOrderSummary[]; marketName: string }): z.input<typeof checkoutSchema> {
  return {
    id: c.checkout.id,
    market: { id: c.checkout.marketId, name: c.marketName },
    status: c.checkout.status,
    total_fen: c.checkout.totalFen,
    expires_at: c.checkout.expiresAt.toISOString(),
    payment_id: c.checkout.paymentId,
    created_at: c.checkout.createdAt.toISOString(),
    // The buyer's view: the commission is not its business.
    orders: c.orders.map((o) => orderListItemJson(o, false)),
  };
}

/**
 * The model names a checkout's lines `lines[0].listingId`; the API's paths are `lines.0.…`. Only
 * the notation changes here; the handler then turns each segment into snake_case.
 */
export async function withLinePaths<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isDomainError(error) || !Object.keys(error.fields).some((f) => f.includes("["))) throw error;
    const fields: Record<string, string> = {};
    for (const [field, problem] of Object.entries(error.fields)) fields[field.replace(/\[(\d+)\]/g, ".$1")] = problem;
    throw new DomainError(error.code, error.message.replace(/lines\[(\d+)\]\.(\w+)/g, (_, i: string, f: string) => `lines.${i}.${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`), fields);
  }
}

/** The side an API caller takes in the market (the endpoint's `orgKinds` let only these through). */
export function viewerOf(principal: { organization: { id: string; kind: string } }): MarketViewer {
  const kind = principal.organization.kind;
  if (kind !== "buyer" && kind !== "merchant" && kind !== "market_operator") throw new DomainError("not_found", "Not found");
  return { organizationId: principal.organization.id, kind };
}
