import { sql } from "kysely";
import type { Db } from "../../../../db";
import type { DisputeRuling, MarketOrderStatus } from "../../../../db/schema";
import { DomainError, decodeCursor, encodeCursor, isUuid } from "../../shared";
import type { Fen } from "../../ledger";
import { HELD_STATUSES, marketOrderEventsFor } from "../order-states";
import { ESCROW_LIMITS, type Checkout, type DisputeView, type MarketOrderDetail, type MarketOrderSummary, type MarketViewer, type Page } from "./model.server";
import { checkoutView, ORDER_COLUMNS, roleOf, type OrderRow } from "./internal.server";

// ---------------------------------------------------------------------------------------------
// Reading

function summaryQuery(db: Db) {
  return db
    .selectFrom("market_orders as o")
    .innerJoin("markets as m", "m.id", "o.market_id")
    .innerJoin("organizations as b", "b.id", "o.buyer_id")
    .innerJoin("organizations as s", "s.id", "o.merchant_id")
    .select([...ORDER_COLUMNS, "m.name as market_name", "b.name as buyer_name", "s.name as merchant_name"]);
}

type SummaryRow = OrderRow & { market_name: string; buyer_name: string; merchant_name: string };

function summaryView(r: SummaryRow): MarketOrderSummary {
  return {
    id: r.id,
    orderNo: r.order_no,
    marketId: r.market_id,
    marketName: r.market_name,
    checkoutId: r.checkout_id,
    buyerId: r.buyer_id,
    buyerName: r.buyer_name,
    merchantId: r.merchant_id,
    merchantName: r.merchant_name,
    status: r.status,
    goodsTotalFen: r.goods_total_fen,
    feeFen: r.fee_fen,
    refundedFen: r.refunded_fen,
    settledNetFen: r.settled_net_fen,
    settledFeeFen: r.settled_fee_fen,
    placedAt: r.placed_at,
    paidAt: r.paid_at,
    shippedAt: r.shipped_at,
    autoConfirmAt: r.auto_confirm_at,
    receivedAt: r.received_at,
    settledAt: r.settled_at,
  };
}

/** The orders a party sees: a buyer its own, a merchant those made to it, an operator its markets'. */
export async function listMarketOrders(
  db: Db,
  viewer: MarketViewer,
  options: { marketId?: string | null; status?: MarketOrderStatus | null; after?: string | null; limit?: number } = {},
): Promise<Page<MarketOrderSummary>> {
  const limit = Math.min(Math.max(options.limit ?? ESCROW_LIMITS.pageSize, 1), ESCROW_LIMITS.pageSizeMax);
  const column = viewer.kind === "buyer" ? "o.buyer_id" : viewer.kind === "merchant" ? "o.merchant_id" : "o.operator_id";
  let query = summaryQuery(db).where(column, "=", viewer.organizationId);
  if (options.marketId) {
    if (!isUuid(options.marketId)) return { items: [], nextCursor: null };
    query = query.where("o.market_id", "=", options.marketId);
  }
  if (options.status) query = query.where("o.status", "=", options.status);
  if (options.after) {
    const [at, id] = decodeCursor(options.after, ["timestamp", "uuid"])!;
    query = query.where((eb) => eb.or([eb("o.placed_at", "<", new Date(at)), eb.and([eb("o.placed_at", "=", new Date(at)), eb("o.id", "<", id)])]));
  }
  const rows = (await query.orderBy("o.placed_at", "desc").orderBy("o.id", "desc").limit(limit + 1).execute()) as SummaryRow[];
  const items = rows.slice(0, limit).map(summaryView);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.placedAt, last.id]) : null };
}

async function disputeFor(db: Db, orderId: string, orderNo: string): Promise<DisputeView | null> {
  const d = await db.selectFrom("market_disputes").selectAll().where("order_id", "=", orderId).executeTakeFirst();
  if (!d) return null;
  const statements = await db
    .selectFrom("market_dispute_statements")
    .select(["id", "party", "organization_id", "body", "evidence_filename", "evidence_content_type", "created_at"])
    .where("dispute_id", "=", d.id)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return {
    id: d.id,
    orderId: d.order_id,
    orderNo,
    marketId: d.market_id,
    status: d.status,
    openedFromStatus: d.opened_from_status,
    ruling: d.ruling,
    refundFen: d.refund_fen,
    rulingReason: d.ruling_reason,
    ruledAt: d.ruled_at,
    openedAt: d.opened_at,
    statements: statements.map((s) => ({
      id: s.id,
      party: s.party,
      organizationId: s.organization_id,
      body: s.body,
      evidence: s.evidence_filename && s.evidence_content_type ? { filename: s.evidence_filename, contentType: s.evidence_content_type } : null,
      createdAt: s.created_at,
    })),
  };
}

/** One order with its lines, timeline, dispute and the actions open to the viewer; anyone else: not_found. */
export async function getMarketOrder(db: Db, viewerOrganizationId: string, orderId: string): Promise<MarketOrderDetail> {
  if (!isUuid(orderId)) throw new DomainError("not_found", "market order not found");
  const row = (await summaryQuery(db).where("o.id", "=", orderId).executeTakeFirst()) as SummaryRow | undefined;
  const role = row ? roleOf(row, viewerOrganizationId) : null;
  if (!row || !role) throw new DomainError("not_found", "market order not found");
  const [lines, events, dispute, checkout] = [
    await db.selectFrom("market_order_lines").selectAll().where("order_id", "=", row.id).orderBy("line_no").execute(),
    await db.selectFrom("market_order_events").selectAll().where("order_id", "=", row.id).orderBy("id").execute(),
    await disputeFor(db, row.id, row.order_no),
    await db.selectFrom("market_checkouts").selectAll().where("id", "=", row.checkout_id).executeTakeFirstOrThrow(),
  ];
  // A placed order is paid or cancelled as its checkout, not on its own.
  const actions = marketOrderEventsFor(row.status, role).filter((e) => !(row.status === "placed" && (e === "cancel" || e === "pay")));
  return {
    ...summaryView(row),
    carrier: row.carrier,
    trackingNo: row.tracking_no,
    closedAt: row.closed_at,
    role,
    actions,
    held: HELD_STATUSES.includes(row.status),
    lines: lines.map((l) => ({
      lineNo: l.line_no,
      listingId: l.listing_id,
      title: l.title,
      category: l.category,
      spec: l.spec,
      unit: l.unit,
      unitPriceFen: l.unit_price_fen,
      quantity: l.quantity,
      amountFen: l.amount_fen,
      commissionRateBps: l.commission_rate_bps,
      minFeeFen: l.min_fee_fen,
    })),
    events: events.map((e) => ({
      id: e.id,
      event: e.event,
      fromStatus: e.from_status,
      toStatus: e.to_status,
      actorOrganizationId: e.actor_organization_id,
      note: e.note,
      at: e.at,
    })),
    dispute,
    checkout: checkoutView(checkout),
  };
}

/** A buyer's checkout with its orders (the payment page and the return from e-Pay). */
export async function getCheckout(db: Db, buyerId: string, checkoutId: string): Promise<{ checkout: Checkout; orders: MarketOrderSummary[]; marketName: string }> {
  if (!isUuid(checkoutId)) throw new DomainError("not_found", "checkout not found");
  const row = await db.selectFrom("market_checkouts").selectAll().where("id", "=", checkoutId).executeTakeFirst();
  if (!row || row.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
  const orders = ((await summaryQuery(db).where("o.checkout_id", "=", row.id).orderBy(sql`length(o.order_no)`).orderBy("o.order_no").execute()) as SummaryRow[]).map(summaryView);
  const market = await db.selectFrom("markets").select("name").where("id", "=", row.market_id).executeTakeFirstOrThrow();
  return { checkout: checkoutView(row), orders, marketName: market.name };
}

export interface DisputeListItem {
  id: string;
  orderId: string;
  orderNo: string;
  buyerName: string;
  merchantName: string;
  goodsTotalFen: Fen;
  status: "open" | "ruled";
  ruling: DisputeRuling | null;
  refundFen: Fen;
  openedAt: Date;
  ruledAt: Date | null;
}

/** The operator's disputes of one market (open first). Another operator's market: an empty list is not enough, so not_found. */
export async function listDisputes(db: Db, operatorId: string, marketId: string, options: { status?: "open" | "ruled" | null; limit?: number } = {}): Promise<DisputeListItem[]> {
  if (!isUuid(marketId)) throw new DomainError("not_found", "market not found");
  const market = await db.selectFrom("markets").select("id").where("id", "=", marketId).where("operator_id", "=", operatorId).executeTakeFirst();
  if (!market) throw new DomainError("not_found", "market not found");
  let query = db
    .selectFrom("market_disputes as d")
    .innerJoin("market_orders as o", "o.id", "d.order_id")
    .innerJoin("organizations as b", "b.id", "d.buyer_id")
    .innerJoin("organizations as s", "s.id", "d.merchant_id")
    .select([
      "d.id",
      "d.order_id",
      "o.order_no",
      "b.name as buyer_name",
      "s.name as merchant_name",
      "o.goods_total_fen",
      "d.status",
      "d.ruling",
      "d.refund_fen",
      "d.opened_at",
      "d.ruled_at",
    ])
    .where("d.market_id", "=", marketId);
  if (options.status) query = query.where("d.status", "=", options.status);
  const rows = await query
    .orderBy(sql`d.status = 'open'`, "desc")
    .orderBy("d.opened_at", "desc")
    .limit(Math.min(Math.max(options.limit ?? 100, 1), 200))
    .execute();
  return rows.map((r) => ({
    id: r.id,
    orderId: r.order_id,
    orderNo: r.order_no,
    buyerName: r.buyer_name,
    merchantName: r.merchant_name,
    goodsTotalFen: r.goods_total_fen,
    status: r.status,
    ruling: r.ruling,
    refundFen: r.refund_fen,
    openedAt: r.opened_at,
    ruledAt: r.ruled_at,
  }));
}

/** A dispute's order id, for a party of it (routes that start from the dispute). */
export async function getDisputeOrderId(db: Db, organizationId: string, disputeId: string): Promise<string> {
  if (!isUuid(disputeId)) throw new DomainError("not_found", "dispute not found");
  const d = await db.selectFrom("market_disputes").select(["order_id", "buyer_id", "merchant_id", "operator_id"]).where("id", "=", disputeId).executeTakeFirst();
  if (!d || ![d.buyer_id, d.merchant_id, d.operator_id].includes(organizationId)) throw new DomainError("not_found", "dispute not found");
  return d.order_id;
}

/** A statement's evidence file, for the parties of its dispute only. */
export async function getDisputeEvidence(db: Db, organizationId: string, statementId: string): Promise<{ filename: string; contentType: string; bytes: Buffer }> {
  if (!isUuid(statementId)) throw new DomainError("not_found", "evidence not found");
  const row = await db
    .selectFrom("market_dispute_statements as s")
    .innerJoin("market_disputes as d", "d.id", "s.dispute_id")
    .select(["s.evidence_filename", "s.evidence_content_type", "s.evidence_bytes", "d.buyer_id", "d.merchant_id", "d.operator_id"])
    .where("s.id", "=", statementId)
    .executeTakeFirst();
  if (!row || !row.evidence_bytes || ![row.buyer_id, row.merchant_id, row.operator_id].includes(organizationId)) {
    throw new DomainError("not_found", "evidence not found");
  }
  return { filename: row.evidence_filename ?? "evidence", contentType: row.evidence_content_type ?? "application/octet-stream", bytes: Buffer.from(row.evidence_bytes) };
}

/** A merchant's money in one place: held in escrow for it, settled to its wallet, commission paid. */
export async function merchantMoney(db: Db, merchantId: string): Promise<{ heldFen: Fen; settledNetFen: Fen; commissionFen: Fen; walletAvailableFen: Fen }> {
  const row = await db
    .selectFrom("market_orders")
    .select([
      sql<number>`coalesce(sum(goods_total_fen) filter (where status in ('paid','shipped','received','disputed')), 0)::bigint`.as("held"),
      sql<number>`coalesce(sum(settled_net_fen), 0)::bigint`.as("net"),
      sql<number>`coalesce(sum(settled_fee_fen), 0)::bigint`.as("fee"),
    ])
    .where("merchant_id", "=", merchantId)
    .executeTakeFirstOrThrow();
  const wallet = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", `wallet:${merchantId}`).executeTakeFirst();
  const available = wallet ? wallet.credits_posted_fen - wallet.debits_posted_fen - wallet.debits_pending_fen : 0;
  return { heldFen: Number(row.held), settledNetFen: Number(row.net), commissionFen: Number(row.fee), walletAvailableFen: available };
}
