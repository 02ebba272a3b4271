import { sql } from "kysely";
import type { Db } from "../../../db";
import { checkDateRange, daysInRange, resolveDateRange, DomainError, divideHalfEvenFen, isUuid, addDays } from "../shared";
import { findAccountByCode, type Fen } from "../ledger";
import { getMarket } from "./venues.server";

/**
 * The market operator's dashboard: one market's trade in figures, over a range of Asia/Shanghai
 * business days (both ends included), plus what stands right now.
 *
 * Definitions (the page's help text says the same in words):
 *  - an order "paid in the range" is one whose `paid_at` falls in [from 00:00, to+1 00:00) Shanghai
 *    time, whatever it became later (settled, refunded, cancelled by the merchant, still open);
 *  - GMV (`gmvFen`) is the gross goods value of the orders paid in the range: Σ goods_total_fen.
 *    Refunds do not reduce it, so a day's GMV does not move when a dispute is ruled weeks later;
 *    `gmvNetFen` is the same orders less what has gone back to their buyers so far (refunded_fen,
 *    and the whole order when it was refunded in full or cancelled after payment): it can still
 *    fall while those orders are open;
 *  - orders and the average order value count the same orders (average rounded half-even to the fen);
 *  - fees earned: Σ settled_fee_fen of the orders settled in the range (whenever they were paid);
 *    the fee account's balance (`market_fees:<marketId>` in the ledger) is shown beside it;
 *  - escrow held is NOW, read from the ledger: the amounts of this market's orders' hold transfers
 *    (phase `pending`) that no `post_pending` / `void_pending` row resolves yet;
 *  - refunds in the range: money a dispute ruling sent back to the buyer (refund_fen, by ruled_at),
 *    plus paid orders the merchant cancelled (the hold voided in full, by closed_at);
 *  - disputes: open now, and opened in the range;
 *  - top merchants and categories: by GMV of the orders paid in the range (categories from the
 *    order lines), at most 5, ties broken by name so the order is stable;
 *  - the series has one point per day of the range, zeros included.
 *
 * Scoping: every query names the operator as well as the market; another operator's market (or a
 * market id that is not one) is `not_found` before any figure is read.
 */

export const DASHBOARD_LIMITS = {
  /** One leap year: the series stays one bar per day and the queries bounded. */
  maxRangeDays: 366,
  defaultRangeDays: 30,
  topN: 5,
  presetDays: [7, 30, 90],
} as const;

export interface DashboardRange {
  /** 'YYYY-MM-DD', Asia/Shanghai, included. */
  from: string;
  /** 'YYYY-MM-DD', Asia/Shanghai, included. */
  to: string;
}

export interface DashboardMerchant {
  merchantId: string;
  name: string;
  gmvFen: Fen;
  orderCount: number;
}

export interface DashboardCategory {
  category: string;
  gmvFen: Fen;
  /** Orders paid in the range with at least one line of this category. */
  orderCount: number;
}

export interface DashboardDay {
  /** 'YYYY-MM-DD', Asia/Shanghai. */
  day: string;
  gmvFen: Fen;
  orderCount: number;
}

export interface MarketDashboard {
  marketId: string;
  marketName: string;
  range: DashboardRange & { days: number };
  /** When the "now" figures were read. */
  asOf: Date;
  gmvFen: Fen;
  gmvNetFen: Fen;
  orderCount: number;
  /** 0 when there are no orders. */
  averageOrderFen: Fen;
  escrowHeldFen: Fen;
  escrowHoldCount: number;
  feesEarnedFen: Fen;
  settledOrderCount: number;
  /** Posted balance of `market_fees:<marketId>`; null while the account does not exist. */
  feeAccountBalanceFen: Fen | null;
  disputesOpenCount: number;
  disputesOpenedCount: number;
  refundCount: number;
  refundsFen: Fen;
  topMerchants: DashboardMerchant[];
  topCategories: DashboardCategory[];
  series: DashboardDay[];
}

/** The ledger code of a market's commission account (owned by the operator). */
export function marketFeesAccountCode(marketId: string): string {
  return `market_fees:${marketId}`;
}

/** Whole days from `from` to `to`, both included (calendar arithmetic, no time zone involved). */
export { daysInRange };

/**
 * Check a range as sent (query strings, API) and fill what is missing: `to` defaults to today,
 * `from` to 30 days ending at `to`. Refusals name the field: `from`/`to` date_format, `to`
 * date_order (before `from`), `to` range_too_long (more than 366 days).
 */
export function resolveDashboardRange(raw: { from?: string | null; to?: string | null }, now: Date): DashboardRange {
  return resolveDateRange(raw, now, DASHBOARD_LIMITS);
}

function checkRange(range: DashboardRange): number {
  return checkDateRange(range, DASHBOARD_LIMITS);
}


/** Sums come back as bigint (parsed to number by the db layer); anything else is a bug. */
function whole(value: unknown, what: string): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new Error(`market dashboard: ${what} is not a non-negative safe integer (${String(value)})`);
  }
  return n;
}

/** The instant a Shanghai business day starts (UTC+8 all year since 1991). */
function dayStart(day: string): Date {
  return new Date(`${day}T00:00:00+08:00`);
}

/**
 * The dashboard of one of the operator's markets over [from, to] (Shanghai days, included).
 * Seven aggregate queries, each scoped by operator and market; none reads another market's rows.
 */
export async function marketDashboard(db: Db, operatorId: string, marketId: string, range: DashboardRange, now: Date): Promise<MarketDashboard> {
  const days = checkRange(range);
  if (!isUuid(operatorId)) throw new DomainError("not_found", "Market not found");
  const market = await getMarket(db, operatorId, marketId);
  const startAt = dayStart(range.from);
  const endAt = dayStart(addDays(range.to, 1));
  const inRange = (column: string) => sql<boolean>`(${sql.ref(column)} >= ${startAt} and ${sql.ref(column)} < ${endAt})`;
  const paid = inRange("o.paid_at");
  const settled = inRange("o.settled_at");
  const asOf = now;

  // 1. The orders' own columns: paid in the range (GMV, net, count) and settled in it (fees).
  const orders = await db
    .selectFrom("market_orders as o")
    .select([
      sql<number>`count(*) filter (where ${paid})`.as("order_count"),
      sql<number>`coalesce(sum(o.goods_total_fen) filter (where ${paid}), 0)::bigint`.as("gmv_fen"),
      sql<number>`coalesce(sum(case when o.status in ('refunded', 'cancelled') then 0 else o.goods_total_fen - o.refunded_fen end)
                   filter (where ${paid}), 0)::bigint`.as("gmv_net_fen"),
      sql<number>`count(*) filter (where ${settled})`.as("settled_count"),
      sql<number>`coalesce(sum(o.settled_fee_fen) filter (where ${settled}), 0)::bigint`.as("fees_fen"),
      sql<number>`count(*) filter (where o.status = 'cancelled' and o.paid_at is not null
                   and coalesce(o.closed_at, o.updated_at) >= ${startAt} and coalesce(o.closed_at, o.updated_at) < ${endAt})`.as(
        "cancelled_paid_count"
      ),
      sql<number>`coalesce(sum(o.goods_total_fen) filter (where o.status = 'cancelled' and o.paid_at is not null
                   and coalesce(o.closed_at, o.updated_at) >= ${startAt} and coalesce(o.closed_at, o.updated_at) < ${endAt}), 0)::bigint`.as(
        "cancelled_paid_fen"
      ),
    ])
    .where("o.market_id", "=", market.id)
    .where("o.operator_id", "=", operatorId)
    .executeTakeFirstOrThrow();

  // 2. Escrow held now, from the ledger: this market's holds that nothing resolved yet. The IN
  // counts a hold once even if several orders of one checkout were to share it.
  const held = await db
    .selectFrom("ledger_transfers as t")
    .select([sql<number>`count(*)`.as("hold_count"), sql<number>`coalesce(sum(t.amount_fen), 0)::bigint`.as("held_fen")])
    .where("t.phase", "=", "pending")
    .where("t.id", "in", (eb) =>
      eb
        .selectFrom("market_orders as o")
        .select("o.hold_transfer_id")
        .where("o.market_id", "=", market.id)
        .where("o.operator_id", "=", operatorId)
        .where("o.hold_transfer_id", "is not", null)
    )
    .where((eb) => eb.not(eb.exists(eb.selectFrom("ledger_transfers as r").select("r.id").whereRef("r.pending_id", "=", "t.id"))))
    .executeTakeFirstOrThrow();

  // 3. The commission account's posted balance (the operator's; anything else is not this market's).
  const feeAccount = await findAccountByCode(db, marketFeesAccountCode(market.id));
  const feeAccountBalanceFen =
    feeAccount && feeAccount.kind === "market_fees" && feeAccount.organizationId === operatorId ? feeAccount.balanceFen : null;

  // 4. Disputes: open now, opened in the range, and refunds ruled in the range.
  const ruled = inRange("d.ruled_at");
  const disputes = await db
    .selectFrom("market_disputes as d")
    .select([
      sql<number>`count(*) filter (where d.status = 'open')`.as("open_count"),
      sql<number>`count(*) filter (where ${inRange("d.opened_at")})`.as("opened_count"),
      sql<number>`count(*) filter (where ${ruled} and d.refund_fen > 0)`.as("refund_count"),
      sql<number>`coalesce(sum(d.refund_fen) filter (where ${ruled}), 0)::bigint`.as("refund_fen"),
    ])
    .where("d.market_id", "=", market.id)
    .where("d.operator_id", "=", operatorId)
    .executeTakeFirstOrThrow();

  // 5. Top merchants by GMV.
  const merchants = await db
    .selectFrom("market_orders as o")
    .innerJoin("organizations as org", "org.id", "o.merchant_id")
    .select(["o.merchant_id", "org.name", sql<number>`count(*)`.as("order_count"), sql<number>`sum(o.goods_total_fen)::bigint`.as("gmv_fen")])
    .where("o.market_id", "=", market.id)
    .where("o.operator_id", "=", operatorId)
    .where(paid)
    .groupBy(["o.merchant_id", "org.name"])
    .orderBy(sql`sum(o.goods_total_fen)`, "desc")
    .orderBy(sql`org.name collate "C"`)
    .orderBy("o.merchant_id")
    .limit(DASHBOARD_LIMITS.topN)
    .execute();

  // 6. Top categories by GMV, from the lines of the same orders.
  const categories = await db
    .selectFrom("market_order_lines as l")
    .innerJoin("market_orders as o", "o.id", "l.order_id")
    .select(["l.category", sql<number>`count(distinct o.id)`.as("order_count"), sql<number>`sum(l.amount_fen)::bigint`.as("gmv_fen")])
    .where("o.market_id", "=", market.id)
    .where("o.operator_id", "=", operatorId)
    .where(paid)
    .groupBy("l.category")
    .orderBy(sql`sum(l.amount_fen)`, "desc")
    .orderBy(sql`l.category collate "C"`)
    .limit(DASHBOARD_LIMITS.topN)
    .execute();

  // 7. One point per Shanghai day of the range, zeros included.
  const { rows: series } = await sql<{ day: string; order_count: number; gmv_fen: number }>`
    with days as (
      select d::date as day from generate_series(${range.from}::date, ${range.to}::date, interval '1 day') as d
    ),
    paid as (
      select (o.paid_at at time zone 'Asia/Shanghai')::date as day, count(*) as order_count, sum(o.goods_total_fen) as gmv_fen
        from market_orders o
       where o.market_id = ${market.id} and o.operator_id = ${operatorId}
         and o.paid_at >= ${startAt} and o.paid_at < ${endAt}
       group by 1
    )
    select to_char(days.day, 'YYYY-MM-DD') as day,
           coalesce(paid.order_count, 0)::bigint as order_count,
           coalesce(paid.gmv_fen, 0)::bigint as gmv_fen
      from days left join paid on paid.day = days.day
     order by days.day`.execute(db);

  const orderCount = whole(orders.order_count, "order_count");
  const gmvFen = whole(orders.gmv_fen, "gmv_fen");
  const result: MarketDashboard = {
    marketId: market.id,
    marketName: market.name,
    range: { from: range.from, to: range.to, days },
    asOf,
    gmvFen,
    gmvNetFen: whole(orders.gmv_net_fen, "gmv_net_fen"),
    orderCount,
    averageOrderFen: orderCount === 0 ? 0 : divideHalfEvenFen(gmvFen, orderCount),
    escrowHeldFen: whole(held.held_fen, "held_fen"),
    escrowHoldCount: whole(held.hold_count, "hold_count"),
    feesEarnedFen: whole(orders.fees_fen, "fees_fen"),
    settledOrderCount: whole(orders.settled_count, "settled_count"),
    feeAccountBalanceFen,
    disputesOpenCount: whole(disputes.open_count, "open_count"),
    disputesOpenedCount: whole(disputes.opened_count, "opened_count"),
    refundCount: whole(disputes.refund_count, "refund_count") + whole(orders.cancelled_paid_count, "cancelled_paid_count"),
    refundsFen: whole(disputes.refund_fen, "refund_fen") + whole(orders.cancelled_paid_fen, "cancelled_paid_fen"),
    topMerchants: merchants.map((m) => ({
      merchantId: m.merchant_id,
      name: m.name,
      gmvFen: whole(m.gmv_fen, "merchant gmv_fen"),
      orderCount: whole(m.order_count, "merchant order_count"),
    })),
    topCategories: categories.map((c) => ({
      category: c.category,
      gmvFen: whole(c.gmv_fen, "category gmv_fen"),
      orderCount: whole(c.order_count, "category order_count"),
    })),
    series: series.map((d) => ({ day: d.day, gmvFen: whole(d.gmv_fen, "day gmv_fen"), orderCount: whole(d.order_count, "day order_count") })),
  };
  // Postconditions: the series is the range, day by day, and adds up to the range's figures.
  if (result.series.length !== days) throw new Error(`market dashboard: ${result.series.length} days in the series for a ${days}-day range`);
  const seriesGmv = result.series.reduce((s, d) => s + d.gmvFen, 0);
  const seriesOrders = result.series.reduce((s, d) => s + d.orderCount, 0);
  if (seriesGmv !== gmvFen || seriesOrders !== orderCount) {
    throw new Error(`market dashboard: the series adds up to ${seriesGmv} fen / ${seriesOrders} orders, the range to ${gmvFen} / ${orderCount}`);
  }
  return result;
}
