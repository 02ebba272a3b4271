import { sql } from "kysely";
import type { Db } from "../../../db";
import { DomainError, isUuid, addDays, isBusinessDate } from "../shared";
import type { Fen } from "../ledger";
import type { OrderKind, OrderStatus } from "./states";
import { wholeFen } from "./internal.server";

/**
 * A dealer's trade history with one core enterprise (read-only), as of a business day: the
 * figures the financing scorecard reads. The orders say what was bought and when it fell due; the
 * ledger (`ledger_transfers` referenced `order:<id>`) says what is still owed and when it was
 * settled, as in position.server.ts.
 */

export const HISTORY_LIMITS = {
  /** Volume counts orders placed in this many calendar days up to and including today. */
  volumeWindowDays: 365,
} as const;

/** Goods bought: a return is money going back, not trade. */
const TRADE_KINDS: readonly OrderKind[] = ["standard", "replenishment", "preorder"];
/** Closed without a sale: neither their volume nor their credit counts. */
const UNSOLD_STATUSES: readonly OrderStatus[] = ["cancelled", "rejected"];
/** What an on-account order owes: the charge less the three ways credit comes back (as position.server.ts reads it). */
const ON_ACCOUNT_TRANSFER_KINDS = ["on_account_charge", "on_account_repayment", "on_account_cancel", "on_account_return"] as const;

export interface DealerTradeHistory {
  /** Total of the paid, not cancelled or rejected, goods orders placed in the last 365 days. */
  orderVolume12mFen: Fen;
  /** On-account orders fully due (due_on ≤ today), not cancelled or rejected. */
  onAccountOrders: number;
  /** Of those, the ones owing nothing by their due date. */
  onAccountRepaidOnTime: number;
  /** The most days any of them was owed past its due date (until settled, or today if still owing); 0 if none. */
  longestOverdueDays: number;
  /** Whole months since the dealer was linked to the core enterprise (Shanghai dates). */
  tenureMonths: number;
}

const EMPTY: DealerTradeHistory = { orderVolume12mFen: 0, onAccountOrders: 0, onAccountRepaidOnTime: 0, longestOverdueDays: 0, tenureMonths: 0 };

/** The start of a Shanghai business day as an instant (UTC+8 all year). */
function dayStart(date: string): string {
  return new Date(`${date}T00:00:00+08:00`).toISOString();
}

/**
 * Whole calendar months from `from` to `to` (YYYY-MM-DD), 0 if `to` is earlier. A month is whole
 * once the same day of the month is reached, or the month's last day when it is shorter
 * (31 Jan → 28 Feb is one month), the way payment terms in months are counted.
 */
export function wholeMonthsBetween(from: string, to: string): number {
  const [y1, m1, d1] = from.split("-").map(Number);
  const [y2, m2, d2] = to.split("-").map(Number);
  let months = (y2 - y1) * 12 + (m2 - m1);
  const lastDayOfToMonth = new Date(Date.UTC(y2, m2, 0)).getUTCDate();
  if (d2 < d1 && d2 < lastDayOfToMonth) months -= 1;
  return Math.max(0, months);
}

/**
 * The dealer's history with the core enterprise as of `today` (YYYY-MM-DD, Asia/Shanghai): only
 * that core enterprise's orders and link, and only ledger movements made by the end of `today`.
 * Two queries. A dealer not linked to the core enterprise has no history (all zeros).
 */
export async function dealerTradeHistory(db: Db, scope: { coreEnterpriseId: string; dealerId: string }, today: string): Promise<DealerTradeHistory> {
  if (!isBusinessDate(today)) throw new DomainError("validation", "today must be a date written YYYY-MM-DD", { today: "invalid_date" });
  if (!isUuid(scope.coreEnterpriseId) || !isUuid(scope.dealerId)) return EMPTY;
  const since = dayStart(addDays(today, -(HISTORY_LIMITS.volumeWindowDays - 1)));
  const until = dayStart(addDays(today, 1));
  const kinds = sql.join(TRADE_KINDS.map((k) => sql`${k}`));
  const unsold = sql.join(UNSOLD_STATUSES.map((s) => sql`${s}`));

  const link = await db
    .selectFrom("dealer_links as dl")
    .select([
      sql<string>`to_char(dl.created_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD')`.as("linked_on"),
      sql<string>`(
        select coalesce(sum(o.total_fen), 0) from orders o
        where o.core_enterprise_id = dl.core_enterprise_id and o.dealer_id = dl.dealer_id
          and o.kind in (${kinds}) and o.status not in (${unsold}) and o.paid_at is not null
          and o.created_at >= ${since}::timestamptz and o.created_at < ${until}::timestamptz
      )`.as("volume_fen"),
    ])
    .where("dl.core_enterprise_id", "=", scope.coreEnterpriseId)
    .where("dl.dealer_id", "=", scope.dealerId)
    .executeTakeFirst();
  if (!link) return EMPTY;

  // Per order: what is still owed as of today, and the Shanghai day of its last credit movement,
  // which is the day it was settled when nothing is owed (the charge comes first, every later
  // movement gives credit back).
  const owed = sql<string>`sum(case when lt.kind = 'on_account_charge' then lt.amount_fen else -lt.amount_fen end)`;
  const perOrder = db
    .selectFrom("orders as o")
    .innerJoin("ledger_transfers as lt", (join) => join.on(sql<boolean>`lt.reference = 'order:' || o.id::text`))
    .select(["o.id", "o.due_on", owed.as("outstanding_fen"), sql<string>`(max(lt.created_at) at time zone 'Asia/Shanghai')::date`.as("settled_on")])
    .where("o.core_enterprise_id", "=", scope.coreEnterpriseId)
    .where("o.dealer_id", "=", scope.dealerId)
    .where("o.payment_method", "=", "on_account")
    .where(sql<boolean>`o.status not in (${unsold})`)
    .where(sql<boolean>`o.due_on <= ${today}::date`)
    .where("lt.kind", "in", ON_ACCOUNT_TRANSFER_KINDS)
    .where("lt.created_at", "<", new Date(until))
    .groupBy(["o.id", "o.due_on"]);
  const settled = sql<boolean>`b.outstanding_fen <= 0`;
  const credit = await db
    .selectFrom(perOrder.as("b"))
    .select([
      sql<string>`count(*)`.as("on_account_orders"),
      sql<string>`count(*) filter (where ${settled} and b.settled_on <= b.due_on)`.as("repaid_on_time"),
      sql<string>`coalesce(max(greatest(0, case when ${settled} then b.settled_on - b.due_on else ${today}::date - b.due_on end)), 0)`.as("longest_overdue_days"),
    ])
    .executeTakeFirstOrThrow();

  return {
    orderVolume12mFen: wholeFen(link.volume_fen, "volume_fen"),
    onAccountOrders: wholeFen(credit.on_account_orders, "on_account_orders"),
    onAccountRepaidOnTime: wholeFen(credit.repaid_on_time, "repaid_on_time"),
    longestOverdueDays: wholeFen(credit.longest_overdue_days, "longest_overdue_days"),
    tenureMonths: wholeMonthsBetween(link.linked_on, today),
  };
}
