import { z } from "zod";
import { CHECKOUT_STATUSES, DISPUTE_PARTIES, DISPUTE_RULINGS, DISPUTE_STATUSES, MARKET_ORDER_STATUSES } from "../../../db/schema/market";
import { defineEndpoint, type EndpointSpec } from "../endpoint";
import { fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * Escrow trade in a commodity-trading market (担保交易) over /api/v1: a buyer places a checkout
 * from a multi-merchant cart (one order per merchant), pays it once (e-Pay or its wallet), and the
 * bank holds each order's money until the buyer confirms receipt; the merchant ships or cancels;
 * the buyer may dispute before settlement and the market's operator rules. The state machine is
 * app/domain/market/order-states.ts; every action answers the order (or dispute) as it now is.
 *
 * Who sees what: a buyer its own orders, a merchant the orders made to it, an operator its
 * markets' — anyone else's id is a 404. The commission (`fee_fen`, the lines' rates) is between
 * the merchant and the market: it is null for the buyer. Field problems come back under the API's
 * names (`lines.0.quantity`, `tracking_no`, `refund_fen`) as the model's English sentences.
 * Evidence files for disputes are uploaded through the pages only (multipart, ≤ 2 MiB); here a
 * statement is text, and `evidence` lists what was uploaded.
 */

const TAGS = ["market orders"] as const;
const BUYER = ["buyer"] as const;
const PARTIES = ["buyer", "merchant", "market_operator"] as const;

const MARKET_ORDER_EVENTS = ["pay", "expire", "cancel", "ship", "receive", "auto_confirm", "settle", "dispute", "rule_release", "rule_refund_full", "rule_refund_partial"] as const;

/** Model field names → API names where snake_case alone would not give them. */
export const TRADE_FIELD_NAMES: Record<string, string> = { idempotencyKey: "Idempotency-Key" };

const party = z.object({ id: z.string(), name: z.string() });
const nullableTime = isoTimestamp.nullable();
const text = (max: number) => z.string().max(max * 4);

// ---------------------------------------------------------------------------------------------
// Shapes

export const marketOrderListItemSchema = z.object({
  id: z.string(),
  order_no: z.string().describe("MO + Shanghai date + sequence, shown to people"),
  market: party,
  checkout_id: z.string(),
  buyer: party,
  merchant: party,
  status: z.enum(MARKET_ORDER_STATUSES),
  goods_total_fen: fen,
  fee_fen: fen.nullable().describe("The market's commission fixed at placement; null for the buyer"),
  refunded_fen: fen,
  placed_at: isoTimestamp,
  paid_at: nullableTime,
  shipped_at: nullableTime,
  received_at: nullableTime,
  settled_at: nullableTime,
});

export const statementSchema = z.object({
  id: z.string(),
  party: z.enum(DISPUTE_PARTIES),
  body: z.string(),
  evidence: z
    .object({ filename: z.string(), content_type: z.string() })
    .nullable()
    .describe("The file uploaded with the statement (downloaded through the order's page)"),
  created_at: isoTimestamp,
});

export const disputeSchema = z.object({
  id: z.string(),
  order_id: z.string(),
  order_no: z.string(),
  market_id: z.string(),
  status: z.enum(DISPUTE_STATUSES),
  opened_from_status: z.enum(["paid", "shipped", "received"]).describe("The order's status when the dispute froze it"),
  ruling: z.enum(DISPUTE_RULINGS).nullable(),
  refund_fen: fen.describe("What the ruling sent back to the buyer"),
  ruling_reason: z.string(),
  ruled_at: nullableTime,
  opened_at: isoTimestamp,
  statements: z.array(statementSchema),
  order: z
    .object({
      status: z.enum(MARKET_ORDER_STATUSES),
      goods_total_fen: fen,
      fee_fen: fen.nullable().describe("Null for the buyer"),
      refunded_fen: fen,
      settled_net_fen: fen,
      settled_fee_fen: fen.nullable().describe("Null for the buyer"),
    })
    .describe("The disputed order's money as it now is"),
});

export const marketOrderSchema = marketOrderListItemSchema.extend({
  role: z.enum(["buyer", "merchant", "operator"]).describe("Which side of this order you are"),
  actions: z.array(z.enum(MARKET_ORDER_EVENTS)).describe("Events you may fire now (an unpaid order is paid or cancelled as its checkout)"),
  held: z.boolean().describe("True while the goods total is held in escrow"),
  settled_net_fen: fen.describe("What the merchant received on settlement (released less commission)"),
  settled_fee_fen: fen.nullable().describe("The commission taken on settlement; null for the buyer"),
  carrier: z.string(),
  tracking_no: z.string(),
  auto_confirm_at: nullableTime.describe("When a shipped order counts as received unless disputed"),
  closed_at: nullableTime,
  lines: z.array(
    z.object({
      line_no: z.number().int(),
      listing_id: z.string(),
      title: z.string(),
      category: z.string(),
      spec: z.string(),
      unit: z.string(),
      unit_price_fen: fen,
      quantity: z.number().int(),
      amount_fen: fen,
      commission_rate_bps: z.number().int().nullable().describe("The fee schedule at placement; null for the buyer"),
      min_fee_fen: fen.nullable().describe("Null for the buyer"),
    }),
  ),
  timeline: z.array(
    z.object({
      at: isoTimestamp,
      event: z.string(),
      from_status: z.string().nullable(),
      to_status: z.string(),
      actor: z.enum(["buyer", "merchant", "operator", "system"]),
      note: z.string(),
    }),
  ),
  dispute: disputeSchema.omit({ order: true }).nullable(),
});

export const checkoutSchema = z.object({
  id: z.string(),
  market: party,
  status: z.enum(CHECKOUT_STATUSES),
  total_fen: fen,
  expires_at: isoTimestamp.describe("Unpaid after this, the orders expire and the stock is released"),
  payment_id: z.string().nullable().describe("The e-Pay payment, once started"),
  created_at: isoTimestamp,
  orders: z.array(marketOrderListItemSchema).describe("One per merchant"),
});

// ---------------------------------------------------------------------------------------------
// Endpoints

export const createMarketOrders = defineEndpoint({
  method: "POST",
  path: "/api/v1/market-orders",
  operationId: "createMarketOrders",
  summary: "Place a checkout in a market (buyer): one escrow order per merchant",
  description:
    "Lines may come from several merchants; each merchant's lines become one order, its stock reserved and its commission " +
    "fixed from the fee schedule in force. A refused line is a 422 naming `lines.N.listing_id` or `lines.N.quantity` (below the " +
    "minimum order, not on sale) — or a 409 when short of stock — and nothing is written. The `Idempotency-Key` is also the " +
    "checkout's own key: the same key always names the same checkout. Pay it with `POST /api/v1/market-checkouts/{id}/pay` " +
    "before `expires_at`.",
  tags: TAGS,
  auth: "required",
  orgKinds: BUYER,
  action: "market_checkout.create",
  body: z
    .object({
      market_id: z.string().max(64),
      lines: z
        .array(z.object({ listing_id: z.string().max(64), quantity: z.number().int().min(1).max(1_000_000) }).strict())
        .min(1)
        .max(50),
    })
    .strict(),
  response: checkoutSchema,
  successStatus: 201,
});

export const listMarketOrders = defineEndpoint({
  method: "GET",
  path: "/api/v1/market-orders",
  operationId: "listMarketOrders",
  summary: "Your market orders (as buyer, merchant or operator), newest first",
  tags: TAGS,
  auth: "required",
  orgKinds: PARTIES,
  query: z.object({
    status: z.enum(MARKET_ORDER_STATUSES).optional(),
    market_id: z.string().max(64).optional().describe("Only this market's orders"),
    ...pageQuery,
  }),
  response: pageOf(marketOrderListItemSchema),
});

const idParams = z.object({ id: idParam });

export const getMarketOrder = defineEndpoint({
  method: "GET",
  path: "/api/v1/market-orders/{id}",
  operationId: "getMarketOrder",
  summary: "One market order with lines, timeline, dispute and the actions open to you",
  tags: TAGS,
  auth: "required",
  orgKinds: PARTIES,
  params: idParams,
  response: marketOrderSchema,
});

export const getMarketCheckout = defineEndpoint({
  method: "GET",
  path: "/api/v1/market-checkouts/{id}",
  operationId: "getMarketCheckout",
  summary: "A checkout with its orders (buyer): poll it after an e-Pay payment",
  tags: TAGS,
  auth: "required",
  orgKinds: BUYER,
  params: idParams,
  response: checkoutSchema,
});

export const payMarketCheckout = defineEndpoint({
  method: "POST",
  path: "/api/v1/market-checkouts/{id}/pay",
  operationId: "payMarketCheckout",
  summary: "Pay a checkout (buyer): from the wallet, or start an e-Pay payment",
  description:
    "`wallet` holds every order's money from your wallet at once (422 `insufficient_funds` naming `wallet` when it does not " +
    "cover the total; paying a paid checkout again answers it as it is). `epay` starts (or resumes) the checkout's e-Pay " +
    "payment and answers `pay_url`, the gateway's page for the payer; the orders are held when the gateway confirms " +
    "(GET the checkout to see it). After a failed e-Pay attempt, `epay` starts a new one. While an e-Pay payment is pending " +
    "or has been received, `wallet` is 409 `invalid_state` (`fields.payment`: `payment_pending` or `already_paid`): one " +
    "payment per checkout. 503 when the gateway cannot be reached.",
  tags: TAGS,
  auth: "required",
  orgKinds: BUYER,
  action: "market_order.pay",
  params: idParams,
  body: z.object({ method: z.enum(["epay", "wallet"]) }).strict(),
  response: z.object({ checkout: checkoutSchema, pay_url: z.string().nullable().describe("e-Pay only: where to send the payer") }),
  errors: [503],
});

export const cancelMarketCheckout = defineEndpoint({
  method: "POST",
  path: "/api/v1/market-checkouts/{id}/cancel",
  operationId: "cancelMarketCheckout",
  summary: "Cancel an unpaid checkout (buyer): every order cancelled, the stock released",
  tags: TAGS,
  auth: "required",
  orgKinds: BUYER,
  action: "market_order.cancel",
  params: idParams,
  body: z.object({}).strict(),
  response: checkoutSchema,
});

function orderAction<const S extends Omit<EndpointSpec, "method" | "tags" | "auth" | "params" | "response">>(spec: S) {
  return defineEndpoint({ method: "POST", tags: TAGS, auth: "required", params: idParams, response: marketOrderSchema, ...spec } as const);
}

export const shipMarketOrder = orderAction({
  path: "/api/v1/market-orders/{id}/ship",
  operationId: "shipMarketOrder",
  summary: "Ship a paid order (merchant), with the carrier and tracking number",
  description: "The buyer then confirms receipt, or the order counts as received after the market's auto-confirm days.",
  orgKinds: ["merchant"],
  action: "market_order.ship",
  body: z.object({ carrier: text(50), tracking_no: text(50).describe("Letters, digits and '-'") }).strict(),
});

export const receiveMarketOrder = orderAction({
  path: "/api/v1/market-orders/{id}/receive",
  operationId: "receiveMarketOrder",
  summary: "Confirm receipt of a shipped order (buyer): the money is settled to the merchant",
  description: "Settlement (the hold posted to the merchant less the commission) follows in the background within moments.",
  orgKinds: BUYER,
  action: "market_order.receive",
  body: z.object({}).strict(),
});

export const cancelMarketOrder = orderAction({
  path: "/api/v1/market-orders/{id}/cancel",
  operationId: "cancelMarketOrder",
  summary: "Cancel a paid order the merchant cannot fulfil (merchant), with a reason",
  description:
    "The held money goes back to the buyer in full and the stock is restored. A buyer cancels an unpaid order as its " +
    "checkout (`POST /api/v1/market-checkouts/{id}/cancel`).",
  orgKinds: ["merchant"],
  action: "market_order.cancel",
  body: z.object({ reason: text(500) }).strict(),
});

export const disputeMarketOrder = orderAction({
  path: "/api/v1/market-orders/{id}/dispute",
  operationId: "disputeMarketOrder",
  summary: "Open a dispute on a paid, shipped or received order (buyer), with a statement",
  description: "The money stays held and the auto-confirmation stops until the operator rules. Evidence files: through the order's page.",
  orgKinds: BUYER,
  action: "market_order.dispute",
  body: z.object({ statement: text(2000) }).strict(),
});

const disputeParams = z.object({ id: idParam });

export const getMarketDispute = defineEndpoint({
  method: "GET",
  path: "/api/v1/market-disputes/{id}",
  operationId: "getMarketDispute",
  summary: "A dispute with every statement (its buyer, merchant or operator)",
  tags: TAGS,
  auth: "required",
  orgKinds: PARTIES,
  params: disputeParams,
  response: disputeSchema,
});

export const addMarketDisputeStatement = defineEndpoint({
  method: "POST",
  path: "/api/v1/market-disputes/{id}/statements",
  operationId: "addMarketDisputeStatement",
  summary: "Add a statement to an open dispute (its buyer, merchant or operator)",
  description: "Text only here; evidence files are uploaded through the order's page.",
  tags: TAGS,
  auth: "required",
  orgKinds: PARTIES,
  action: "dispute.statement",
  params: disputeParams,
  body: z.object({ body: text(2000) }).strict(),
  response: disputeSchema,
  successStatus: 201,
});

export const ruleMarketDispute = defineEndpoint({
  method: "POST",
  path: "/api/v1/market-disputes/{id}/ruling",
  operationId: "ruleMarketDispute",
  summary: "Rule on an open dispute (the market's operator): release, full refund or partial refund",
  description:
    "`release`: the merchant is paid less the commission. `refund_full`: the buyer gets everything back and the stock is " +
    "restored. `refund_partial`: `refund_fen` (more than 0, less than the goods total) goes back to the buyer and the rest " +
    "is released with a pro-rata commission. Refund + merchant net + commission = the goods total, exactly.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["market_operator"],
  action: "market_order.rule_release",
  params: disputeParams,
  body: z
    .object({
      ruling: z.enum(DISPUTE_RULINGS),
      refund_fen: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe("refund_partial only"),
      reason: text(500),
    })
    .strict(),
  response: disputeSchema,
});

export const endpoints: readonly EndpointSpec[] = [
  createMarketOrders,
  listMarketOrders,
  getMarketOrder,
  shipMarketOrder,
  receiveMarketOrder,
  cancelMarketOrder,
  disputeMarketOrder,
  getMarketCheckout,
  payMarketCheckout,
  cancelMarketCheckout,
  getMarketDispute,
  addMarketDisputeStatement,
  ruleMarketDispute,
];
