import type { Db } from "../../../../db";
import type { MarketOrderStatus } from "../../../../db/schema";
import { DomainError, isUuid } from "../../shared";
import type { Fen } from "../../ledger";
import type { Trx } from "../../outbox";
import { lockOrder } from "./internal.server";

/**
 * What the financing context needs to know of a merchant's escrow orders to advance on them
 * (receivables advances, decision 024): the market keeps its orders and their money; financing
 * reads them through these functions and never writes them.
 *
 * An order is advanceable while its goods are on their way or received and the buyer's money is
 * still held: shipped or received, not disputed (a dispute may refund the buyer), not settled.
 * What the merchant will receive is the goods total less the commission fixed at placement.
 */

const ADVANCEABLE: readonly MarketOrderStatus[] = ["shipped", "received"];

export const ADVANCE_LIMITS = {
  /** Orders listed on the merchant's page at most. */
  listMax: 200,
} as const;

export interface AdvanceableOrder {
  orderId: string;
  orderNo: string;
  marketName: string;
  buyerName: string;
  status: MarketOrderStatus;
  goodsTotalFen: Fen;
  commissionFen: Fen;
  /** What settlement will pay the merchant's wallet: the goods total less the commission. */
  proceedsFen: Fen;
  shippedAt: Date | null;
}

export function isAdvanceable(status: MarketOrderStatus): boolean {
  return ADVANCEABLE.includes(status);
}

/** The merchant's shipped and received orders, oldest shipment first (the nearest to settling). */
export async function advanceableMarketOrders(db: Db, merchantId: string): Promise<AdvanceableOrder[]> {
  if (!isUuid(merchantId)) return [];
  const rows = await db
    .selectFrom("market_orders as o")
    .innerJoin("markets as m", "m.id", "o.market_id")
    .innerJoin("organizations as b", "b.id", "o.buyer_id")
    .select(["o.id", "o.order_no", "m.name as market_name", "b.name as buyer_name", "o.status", "o.goods_total_fen", "o.fee_fen", "o.shipped_at"])
    .where("o.merchant_id", "=", merchantId)
    .where("o.status", "in", ADVANCEABLE)
    .orderBy("o.shipped_at")
    .orderBy("o.id")
    .limit(ADVANCE_LIMITS.listMax)
    .execute();
  return rows.map((r) => ({
    orderId: r.id,
    orderNo: r.order_no,
    marketName: r.market_name,
    buyerName: r.buyer_name,
    status: r.status,
    goodsTotalFen: r.goods_total_fen,
    commissionFen: r.fee_fen,
    proceedsFen: r.goods_total_fen - r.fee_fen,
    shippedAt: r.shipped_at,
  }));
}

/**
 * The merchant's order under its row lock, for a sale of its proceeds: a settlement or a ruling
 * of the same order waits for the sale's transaction. Another party's order is not found.
 */
export async function lockAdvanceableMarketOrder(trx: Trx, merchantId: string, orderId: string): Promise<AdvanceableOrder> {
  if (!isUuid(orderId)) throw new DomainError("not_found", "market order not found", { market_order_id: "not found" });
  const order = await lockOrder(trx, orderId).catch((error: unknown) => {
    if (error instanceof DomainError && error.code === "not_found") throw new DomainError("not_found", "market order not found", { market_order_id: "not found" });
    throw error;
  });
  if (order.merchant_id !== merchantId) throw new DomainError("not_found", "market order not found", { market_order_id: "not found" });
  const market = await trx.selectFrom("markets").select("name").where("id", "=", order.market_id).executeTakeFirstOrThrow();
  const buyer = await trx.selectFrom("organizations").select("name").where("id", "=", order.buyer_id).executeTakeFirstOrThrow();
  return {
    orderId: order.id,
    orderNo: order.order_no,
    marketName: market.name,
    buyerName: buyer.name,
    status: order.status,
    goodsTotalFen: order.goods_total_fen,
    commissionFen: order.fee_fen,
    proceedsFen: order.goods_total_fen - order.fee_fen,
    shippedAt: order.shipped_at,
  };
}

/**
 * Lock one order's row and say where it stands (null when there is none). The disbursement of an
 * advance takes it before the application's, in the order the settlement takes them (order, then
 * application), so the two never wait on each other the other way round; a settlement claiming
 * with SKIP LOCKED passes the order by until the disbursement has committed.
 */
export async function lockMarketOrderStatus(trx: Trx, orderId: string): Promise<MarketOrderStatus | null> {
  if (!isUuid(orderId)) return null;
  const row = await trx.selectFrom("market_orders").select("status").where("id", "=", orderId).forUpdate().executeTakeFirst();
  return row?.status ?? null;
}

export interface MarketOrderOutcome {
  orderId: string;
  orderNo: string;
  merchantId: string;
  status: MarketOrderStatus;
  /** What the release paid the merchant's wallet, after commission; 0 until settled (or when refunded). */
  settledNetFen: Fen;
}

/** Where these orders stand and what their release paid the merchant. */
export async function marketOrderOutcomes(db: Db, orderIds: readonly string[]): Promise<MarketOrderOutcome[]> {
  const ids = orderIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db.selectFrom("market_orders").select(["id", "order_no", "merchant_id", "status", "settled_net_fen"]).where("id", "in", ids).execute();
  return rows.map((r) => ({ orderId: r.id, orderNo: r.order_no, merchantId: r.merchant_id, status: r.status, settledNetFen: Number(r.settled_net_fen) }));
}
