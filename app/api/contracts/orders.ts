import { z } from "zod";
import { ORDER_EVENTS, ORDER_STATUSES } from "../../domain/orders";
import type { OrderDetail, OrderListItem } from "../../domain/orders";
import { defineEndpoint, type EndpointSpec } from "../endpoint";
import { businessDate, fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";
import { skuLine } from "./pricing";

/**
 * Dealer orders over one state machine (app/domain/orders/states.ts): the dealer creates, pays,
 * receives and returns; the core enterprise confirms (optionally lowering quantities), rejects and
 * ships; either cancels before shipment. Every action answers the order as it now is.
 */

const MAX_LINES = 200;

const paymentMethod = z.enum(["wallet", "epay", "on_account", "financing"]);
const nullableTime = isoTimestamp.nullable();

export const orderSchema = z.object({
  id: z.string(),
  number: z.string(),
  kind: z.enum(["standard", "preorder", "replenishment", "return"]),
  status: z.enum(ORDER_STATUSES),
  role: z.enum(["dealer", "core_enterprise"]).describe("Which side of this order you are"),
  dealer: z.object({ id: z.string(), name: z.string() }),
  core_enterprise: z.object({ id: z.string(), name: z.string() }),
  season_id: z.string().nullable(),
  original_order_id: z.string().nullable().describe("For a return: the order it returns goods of"),
  payment_method: paymentMethod
    .nullable()
    .describe("How it is paid. `on_account` on a `submitted` or `pending_approval` order: its total is held on the dealer's credit line, charged when confirmed"),
  total_fen: fen,
  deposit_fen: fen,
  paid_fen: fen,
  on_account_outstanding_fen: fen.describe("Still owed on account for this order"),
  due_on: businessDate.nullable().describe("On-account payment due date"),
  note: z.string(),
  reason: z.string().nullable(),
  actions: z.array(z.enum(ORDER_EVENTS)).describe("Events you may fire now"),
  lines: z.array(
    z.object({
      id: z.string(),
      line_no: z.number().int(),
      sku_id: z.string(),
      sku_code: z.string(),
      sku_name: z.string(),
      spec: z.string(),
      unit: z.string(),
      quantity_ordered: z.number().int(),
      quantity_confirmed: z.number().int().nullable(),
      quantity_shipped: z.number().int(),
      quantity_returned: z.number().int(),
      unit_price_fen: fen,
      price_rule: z.string(),
      tax_rate_bps: z.number().int(),
      amount_fen: fen,
      adjust_reason: z.string().nullable(),
    }),
  ),
  shipments: z.array(
    z.object({
      id: z.string(),
      carrier: z.string(),
      tracking_number: z.string(),
      shipped_at: isoTimestamp,
      lines: z.array(z.object({ line_id: z.string(), quantity: z.number().int() })),
    }),
  ),
  timeline: z.array(
    z.object({
      at: isoTimestamp,
      event: z.string(),
      from_status: z.string().nullable(),
      to_status: z.string(),
      note: z.string().nullable(),
      actor_name: z.string().nullable(),
    }),
  ),
  returns: z.array(z.object({ id: z.string(), number: z.string(), status: z.string(), total_fen: fen })),
  submitted_at: nullableTime,
  confirmed_at: nullableTime,
  paid_at: nullableTime,
  shipped_at: nullableTime,
  received_at: nullableTime,
  closed_at: nullableTime,
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function orderJson(detail: OrderDetail): z.input<typeof orderSchema> {
  const o = detail.order;
  return {
    id: o.id,
    number: o.number,
    kind: o.kind,
    status: o.status as (typeof ORDER_STATUSES)[number],
    role: detail.party === "dealer" ? "dealer" : "core_enterprise",
    dealer: { id: o.dealer_id, name: detail.dealerName },
    core_enterprise: { id: o.core_enterprise_id, name: detail.coreEnterpriseName },
    season_id: o.season_id,
    original_order_id: o.original_order_id,
    payment_method: o.payment_method,
    total_fen: o.total_fen,
    deposit_fen: o.deposit_fen,
    paid_fen: o.paid_fen,
    on_account_outstanding_fen: detail.onAccountOutstandingFen,
    due_on: o.due_on,
    note: o.note,
    reason: o.reason,
    actions: detail.actions,
    lines: detail.lines.map((l) => ({
      id: l.id,
      line_no: l.line_no,
      sku_id: l.sku_id,
      sku_code: l.sku_code,
      sku_name: l.sku_name,
      spec: l.spec,
      unit: l.unit,
      quantity_ordered: l.quantity_ordered,
      quantity_confirmed: l.quantity_confirmed,
      quantity_shipped: l.quantity_shipped,
      quantity_returned: l.quantity_returned,
      unit_price_fen: l.unit_price_fen,
      price_rule: l.price_rule,
      tax_rate_bps: l.tax_rate_bps,
      amount_fen: l.amount_fen,
      adjust_reason: l.adjust_reason,
    })),
    shipments: detail.shipments.map((s) => ({
      id: s.id,
      carrier: s.carrier,
      tracking_number: s.trackingNumber,
      shipped_at: s.shippedAt.toISOString(),
      lines: s.lines.map((l) => ({ line_id: l.orderLineId, quantity: l.quantity })),
    })),
    timeline: detail.events.map((e) => ({
      at: e.at.toISOString(),
      event: e.event,
      from_status: e.fromStatus,
      to_status: e.toStatus,
      note: e.note,
      actor_name: e.actorName,
    })),
    returns: detail.returns.map((r) => ({ id: r.id, number: r.number, status: r.status, total_fen: r.totalFen })),
    submitted_at: iso(o.submitted_at),
    confirmed_at: iso(o.confirmed_at),
    paid_at: iso(o.paid_at),
    shipped_at: iso(o.shipped_at),
    received_at: iso(o.received_at),
    closed_at: iso(o.closed_at),
    created_at: o.created_at.toISOString(),
    updated_at: o.updated_at.toISOString(),
  };
}

export const orderListItemSchema = z.object({
  id: z.string(),
  number: z.string(),
  kind: z.enum(["standard", "preorder", "replenishment", "return"]),
  status: z.enum(ORDER_STATUSES),
  counterparty_name: z.string(),
  total_fen: fen,
  paid_fen: fen,
  payment_method: paymentMethod.nullable(),
  due_on: businessDate.nullable(),
  created_at: isoTimestamp,
});

export function orderListItemJson(item: OrderListItem): z.input<typeof orderListItemSchema> {
  return {
    id: item.id,
    number: item.number,
    kind: item.kind,
    status: item.status as (typeof ORDER_STATUSES)[number],
    counterparty_name: item.counterpartyName,
    total_fen: item.totalFen,
    paid_fen: item.paidFen,
    payment_method: item.paymentMethod,
    due_on: item.dueOn,
    created_at: item.createdAt.toISOString(),
  };
}

export const listOrders = defineEndpoint({
  method: "GET",
  path: "/api/v1/orders",
  operationId: "listOrders",
  summary: "Your orders (as dealer or supplier), newest first",
  description: "A supplier never sees a dealer's drafts (its cart).",
  tags: ["orders"],
  auth: "required",
  orgKinds: ["core_enterprise", "dealer"],
  query: z.object({
    status: z.enum(ORDER_STATUSES).optional(),
    kind: z.enum(["standard", "preorder", "replenishment", "return"]).optional(),
    counterparty_id: z.string().max(64).optional().describe("Only orders with this dealer / core enterprise"),
    ...pageQuery,
  }),
  response: pageOf(orderListItemSchema),
});

export const createOrder = defineEndpoint({
  method: "POST",
  path: "/api/v1/orders",
  operationId: "createOrder",
  summary: "Place an order with a supplier (as the dealer): lines by sku_code or sku_id",
  description:
    "Priced for you now (your dealer price), checked per line (unknown SKU, below MOQ, not whole packs → 422 naming " +
    "`lines.N.…`; nothing is written when any line is wrong), then submitted — or sent to your own approver when above your " +
    "approval threshold — unless `submit` is false (then it becomes your cart). A `preorder` books against an open `season_id`. " +
    "`payment_method: \"on_account\"` (standard and replenishment orders, submitted at once) holds the total on your credit line " +
    "with the supplier as the order is submitted — 422 `insufficient_funds` naming `payment_method` when the line cannot take it, " +
    "and nothing is written; when the supplier confirms, the confirmed total is charged and the order is `paid` on account " +
    "(`due_on` after your payment terms); a rejection, a declined approval or a cancellation first releases the hold. " +
    "Left out (or null), you pay after the supplier confirms.",
  tags: ["orders"],
  auth: "required",
  orgKinds: ["dealer"],
  action: "order.create",
  body: z
    .object({
      core_enterprise_id: z.string().max(64),
      kind: z.enum(["standard", "preorder", "replenishment"]).default("standard"),
      lines: z.array(skuLine).min(1).max(MAX_LINES),
      season_id: z.string().max(64).optional(),
      note: z.string().max(1000).optional(),
      submit: z.boolean().default(true),
      payment_method: z
        .enum(["on_account"])
        .nullable()
        .optional()
        .describe("`on_account`: hold the total on your credit line now, charged when the supplier confirms. Not for a preorder, nor with `submit: false`."),
    })
    .strict(),
  response: orderSchema,
  successStatus: 201,
});

const orderParams = z.object({ id: idParam });

export const getOrder = defineEndpoint({
  method: "GET",
  path: "/api/v1/orders/{id}",
  operationId: "getOrder",
  summary: "One order with lines, shipments, timeline and the actions open to you",
  tags: ["orders"],
  auth: "required",
  orgKinds: ["core_enterprise", "dealer"],
  params: orderParams,
  response: orderSchema,
});

const reason = z.string().trim().min(1).max(500);
const lineQuantities = z.array(z.object({ line_id: z.string().max(64), quantity: z.number().int().min(0) }).strict()).max(MAX_LINES);

function action<const S extends Omit<EndpointSpec, "method" | "tags" | "auth" | "params" | "response">>(spec: S) {
  return defineEndpoint({ method: "POST", tags: ["orders"], auth: "required", params: orderParams, response: orderSchema, ...spec } as const);
}

export const confirmOrder = action({
  path: "/api/v1/orders/{id}/confirm",
  operationId: "confirmOrder",
  summary: "Confirm a submitted order (supplier), optionally lowering quantities",
  description:
    "`lines` lists only the lines whose quantity changes (0 rejects a line), each with a `reason`. Stock is reserved " +
    "here; a short SKU is a 409 naming the line.",
  orgKinds: ["core_enterprise"],
  action: "order.confirm",
  body: z
    .object({ lines: z.array(z.object({ line_id: z.string().max(64), quantity: z.number().int().min(0), reason: z.string().max(500).optional() }).strict()).max(MAX_LINES).default([]) })
    .strict(),
});

export const rejectOrder = action({
  path: "/api/v1/orders/{id}/reject",
  operationId: "rejectOrder",
  summary: "Reject a submitted order (supplier), with a reason",
  orgKinds: ["core_enterprise"],
  action: "order.reject",
  body: z.object({ reason }).strict(),
});

export const shipOrder = action({
  path: "/api/v1/orders/{id}/ship",
  operationId: "shipOrder",
  summary: "Record a shipment (supplier): all open quantities, or the `lines` given",
  description: "Several shipments make a partial delivery (`partially_shipped`) until every confirmed unit has left.",
  orgKinds: ["core_enterprise"],
  action: "order.ship_all",
  body: z.object({ carrier: z.string().trim().min(1).max(50), tracking_number: z.string().trim().min(1).max(50), lines: lineQuantities.optional() }).strict(),
});

export const receiveOrder = action({
  path: "/api/v1/orders/{id}/receive",
  operationId: "receiveOrder",
  summary: "Confirm receipt of a shipped order (dealer); the order completes",
  orgKinds: ["dealer"],
  action: "order.receive",
  body: z.object({}).strict(),
});

export const cancelOrder = action({
  path: "/api/v1/orders/{id}/cancel",
  operationId: "cancelOrder",
  summary: "Cancel before shipment (either side), with a reason",
  description: "Reserved stock is released, money paid goes back to the dealer's wallet, credit charged is restored — together.",
  orgKinds: ["core_enterprise", "dealer"],
  action: "order.cancel",
  body: z.object({ reason }).strict(),
});

export const payOrder = action({
  path: "/api/v1/orders/{id}/pay",
  operationId: "payOrder",
  summary: "Pay what is due (dealer): from the wallet, or on account within the credit limit",
  description:
    "`wallet` moves the amount due (a preorder's deposit, or the order) from your wallet at the bank; `on_account` charges " +
    "your credit line with the supplier (refused with 422 when it would exceed the limit), due after the payment terms. " +
    "While an e-Pay payment of the same amount due (started on the web) is pending or has been received, both are 409 " +
    "`invalid_state` (`fields.payment`: `payment_pending` or `already_paid`): one payment per part of an order. " +
    "Financing is not offered yet.",
  orgKinds: ["dealer"],
  action: "order.pay",
  body: z.object({ method: z.enum(["wallet", "on_account"]) }).strict(),
});

export const approveOrder = action({
  path: "/api/v1/orders/{id}/approve",
  operationId: "approveOrder",
  summary: "Approve or decline your own order above your approval threshold (dealer owner/admin)",
  orgKinds: ["dealer"],
  action: "order.approve",
  body: z.object({ decision: z.enum(["approve", "decline"]), reason: z.string().max(500).optional() }).strict(),
});

export const requestReturn = action({
  path: "/api/v1/orders/{id}/returns",
  operationId: "requestReturn",
  summary: "Ask to return goods of a received order (dealer): answers the return (RMA) order",
  orgKinds: ["dealer"],
  action: "order.request_return",
  body: z.object({ lines: lineQuantities.min(1), reason }).strict(),
  successStatus: 201,
});

export const endpoints = [
  listOrders,
  createOrder,
  getOrder,
  confirmOrder,
  rejectOrder,
  shipOrder,
  receiveOrder,
  cancelOrder,
  payOrder,
  approveOrder,
  requestReturn,
];
