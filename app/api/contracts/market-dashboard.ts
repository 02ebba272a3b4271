import { z } from "zod";
import { ANNOUNCEMENT_AUDIENCES } from "../../../db/schema";
import type { Announcement, MarketDashboard } from "../../domain/market";
import { defineEndpoint, type EndpointSpec } from "../endpoint";
import { businessDate, fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * Commodity-trading markets, the operator's console: the dashboard's figures and the market's
 * announcements. Only a market operator sees these endpoints; another operator's market is a 404.
 * The definitions of the figures are those of the dashboard page (market-dashboard.server.ts).
 */


const marketParams = z.object({ marketId: idParam.describe("The market's id") });

const count = z.number().int().min(0);

export const marketDashboardSchema = z.object({
  market_id: z.string(),
  market_name: z.string(),
  from: businessDate,
  to: businessDate,
  days: z.number().int().min(1),
  as_of: isoTimestamp.describe("When the figures that are `now` (escrow held, disputes open, fee account) were read"),
  gmv_fen: fen.describe("Σ goods total of the orders paid in the range, whatever they became later (refunds not deducted)"),
  gmv_net_fen: fen.describe("The same orders less what went back to their buyers so far"),
  order_count: count.describe("Orders paid in the range"),
  average_order_fen: fen.describe("gmv_fen / order_count, rounded half-even; 0 without orders"),
  escrow_held_fen: fen.describe("Now: Σ the unresolved ledger holds of this market's orders"),
  escrow_hold_count: count,
  fees_earned_fen: fen.describe("Σ commission of the orders settled in the range"),
  settled_order_count: count,
  fee_account_balance_fen: fen.nullable().describe("Now: the posted balance of ledger account market_fees:<market_id>; null until it exists"),
  disputes_open_count: count.describe("Now"),
  disputes_opened_count: count.describe("Opened in the range"),
  refund_count: count,
  refunds_fen: fen.describe("Dispute refunds ruled in the range + paid orders cancelled by the merchant in the range"),
  top_merchants: z.array(z.object({ merchant_id: z.string(), name: z.string(), gmv_fen: fen, order_count: count })).describe("At most 5, by GMV"),
  top_categories: z.array(z.object({ category: z.string(), gmv_fen: fen, order_count: count })).describe("At most 5, by GMV of the order lines"),
  series: z.array(z.object({ day: businessDate, gmv_fen: fen, order_count: count })).describe("One entry per day of the range, zeros included"),
});

export function marketDashboardJson(d: MarketDashboard): z.input<typeof marketDashboardSchema> {
  return {
    market_id: d.marketId,
    market_name: d.marketName,
    from: d.range.from,
    to: d.range.to,
    days: d.range.days,
    as_of: d.asOf.toISOString(),
    gmv_fen: d.gmvFen,
    gmv_net_fen: d.gmvNetFen,
    order_count: d.orderCount,
    average_order_fen: d.averageOrderFen,
    escrow_held_fen: d.escrowHeldFen,
    escrow_hold_count: d.escrowHoldCount,
    fees_earned_fen: d.feesEarnedFen,
    settled_order_count: d.settledOrderCount,
    fee_account_balance_fen: d.feeAccountBalanceFen,
    disputes_open_count: d.disputesOpenCount,
    disputes_opened_count: d.disputesOpenedCount,
    refund_count: d.refundCount,
    refunds_fen: d.refundsFen,
    top_merchants: d.topMerchants.map((m) => ({ merchant_id: m.merchantId, name: m.name, gmv_fen: m.gmvFen, order_count: m.orderCount })),
    top_categories: d.topCategories.map((c) => ({ category: c.category, gmv_fen: c.gmvFen, order_count: c.orderCount })),
    series: d.series.map((p) => ({ day: p.day, gmv_fen: p.gmvFen, order_count: p.orderCount })),
  };
}

export const getMarketDashboard = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{marketId}/dashboard",
  operationId: "getMarketDashboard",
  summary: "A market's figures over a range of days: GMV, orders, escrow held, fees, disputes, refunds, top lists, by day",
  description:
    "Days are Asia/Shanghai business days, both ends included, at most 366. Without `to` the range ends today; without " +
    "`from` it is the 30 days ending at `to`. A bad date is a 422 naming `from` or `to` (date_format, date_order, range_too_long).",
  tags: ["markets"],
  auth: "required",
  orgKinds: ["market_operator"],
  params: marketParams,
  query: z.object({
    from: z.string().max(20).optional().describe("YYYY-MM-DD, first day (included)"),
    to: z.string().max(20).optional().describe("YYYY-MM-DD, last day (included)"),
  }),
  response: marketDashboardSchema,
});

export const announcementSchema = z.object({
  id: z.string(),
  market_id: z.string(),
  title: z.string(),
  body: z.string(),
  audience: z.enum(ANNOUNCEMENT_AUDIENCES),
  published_at: isoTimestamp,
});

export function announcementJson(a: Announcement): z.input<typeof announcementSchema> {
  return { id: a.id, market_id: a.marketId, title: a.title, body: a.body, audience: a.audience, published_at: a.publishedAt.toISOString() };
}

export const listMarketAnnouncements = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{marketId}/announcements",
  operationId: "listMarketAnnouncements",
  summary: "The market's announcements, newest first",
  tags: ["markets"],
  auth: "required",
  orgKinds: ["market_operator"],
  params: marketParams,
  query: z.object({ ...pageQuery }),
  response: pageOf(announcementSchema),
});

export const publishMarketAnnouncement = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{marketId}/announcements",
  operationId: "publishMarketAnnouncement",
  summary: "Publish an announcement to the market's merchants, buyers, or both",
  description:
    "Final once published (no edit, no delete). `title` 1–100 characters (one line), `body` 1–5000, `audience` all | merchants | buyers. " +
    "At most 50 a day per market (429). Checked by the same rules as the operator's page.",
  tags: ["markets"],
  auth: "required",
  orgKinds: ["market_operator"],
  action: "market.announcement_write",
  params: marketParams,
  // Types and the audience here; lengths by the model's schema, so the page and the API refuse alike.
  body: z
    .object({
      title: z.string().max(1_000),
      body: z.string().max(20_000),
      audience: z.enum(ANNOUNCEMENT_AUDIENCES),
    })
    .strict(),
  response: announcementSchema,
  successStatus: 201,
  errors: [429],
});

export const endpoints: readonly EndpointSpec[] = [getMarketDashboard, listMarketAnnouncements, publishMarketAnnouncement];
