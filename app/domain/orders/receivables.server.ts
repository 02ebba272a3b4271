import { sql } from "kysely";
import type { Db } from "../../../db";
import { isUuid } from "../shared";
import type { Fen } from "../ledger";
import { wholeFen } from "./internal.server";

/**
 * A core enterprise's on-account receivables, order by order (read-only): what each dealer still
 * owes on an on-account order and when it falls due, for the financing context to advance against
 * (应收账款融资). The ledger is the truth for what is owed, summed the way position.server.ts sums
 * it (the charge less the three ways credit comes back).
 */

const ON_ACCOUNT_TRANSFER_KINDS = ["on_account_charge", "on_account_repayment", "on_account_cancel", "on_account_return"] as const;

export interface OnAccountReceivable {
  orderId: string;
  orderNumber: string;
  dealerId: string;
  dealerName: string;
  /** YYYY-MM-DD (Asia/Shanghai): the day the payment terms end. */
  dueOn: string;
  outstandingFen: Fen;
  /** Days past `dueOn` on `today`; 0 before or on it. */
  daysOverdue: number;
}

function receivablesQuery(db: Db, coreEnterpriseId: string, today: string) {
  const owed = sql<string>`sum(case when lt.kind = 'on_account_charge' then lt.amount_fen else -lt.amount_fen end)`;
  return db
    .selectFrom("orders as o")
    .innerJoin("organizations as d", "d.id", "o.dealer_id")
    .innerJoin("ledger_transfers as lt", (join) => join.on(sql<boolean>`lt.reference = 'order:' || o.id::text`))
    .select([
      "o.id",
      "o.number",
      "o.dealer_id",
      "d.name as dealer_name",
      sql<string>`to_char(o.due_on, 'YYYY-MM-DD')`.as("due_on"),
      owed.as("outstanding_fen"),
      sql<number>`greatest(${today}::date - o.due_on, 0)`.as("days_overdue"),
    ])
    .where("o.core_enterprise_id", "=", coreEnterpriseId)
    .where("o.payment_method", "=", "on_account")
    .where("o.status", "!=", "cancelled")
    .where("o.due_on", "is not", null)
    .where("lt.kind", "in", ON_ACCOUNT_TRANSFER_KINDS)
    .groupBy(["o.id", "o.number", "o.dealer_id", "d.name", "o.due_on"])
    .having(sql<boolean>`${owed} > 0`);
}

function toReceivable(r: { id: string; number: string; dealer_id: string; dealer_name: string; due_on: string; outstanding_fen: string; days_overdue: number }): OnAccountReceivable {
  return {
    orderId: r.id,
    orderNumber: r.number,
    dealerId: r.dealer_id,
    dealerName: r.dealer_name,
    dueOn: r.due_on,
    outstandingFen: wholeFen(r.outstanding_fen, "outstanding_fen"),
    daysOverdue: Number(r.days_overdue),
  };
}

/**
 * The core enterprise's on-account orders still owing something, due soonest first, at most
 * `overdueDaysAtMost` days past due (`today` is YYYY-MM-DD, Asia/Shanghai). One query.
 */
export async function onAccountReceivables(db: Db, input: { coreEnterpriseId: string; today: string; overdueDaysAtMost: number; limit?: number }): Promise<OnAccountReceivable[]> {
  if (!isUuid(input.coreEnterpriseId)) return [];
  const rows = await receivablesQuery(db, input.coreEnterpriseId, input.today)
    .where(sql<boolean>`o.due_on >= ${input.today}::date - ${input.overdueDaysAtMost}::int`)
    .orderBy("o.due_on")
    .orderBy("o.number")
    .limit(input.limit ?? 200)
    .execute();
  return rows.map(toReceivable);
}

/**
 * One on-account order of the core enterprise with what is still owed on it, its row locked for
 * the caller's transaction (whoever sells or settles it next waits). Null when it is not the core
 * enterprise's on-account order, or nothing is owed on it.
 */
export async function lockOnAccountReceivable(trx: Db, input: { coreEnterpriseId: string; orderId: string; today: string }): Promise<OnAccountReceivable | null> {
  if (!isUuid(input.coreEnterpriseId) || !isUuid(input.orderId)) return null;
  const locked = await trx.selectFrom("orders").select("id").where("id", "=", input.orderId).where("core_enterprise_id", "=", input.coreEnterpriseId).forUpdate().executeTakeFirst();
  if (!locked) return null;
  const row = await receivablesQuery(trx, input.coreEnterpriseId, input.today).where("o.id", "=", input.orderId).executeTakeFirst();
  return row ? toReceivable(row) : null;
}

/** The ledger transfer of the dealer's latest repayment of an on-account order (its id names what followed from it). */
export async function latestOnAccountRepaymentId(db: Db, orderId: string): Promise<string | null> {
  if (!isUuid(orderId)) return null;
  const row = await db
    .selectFrom("ledger_transfers")
    .select("id")
    .where("reference", "=", `order:${orderId}`)
    .where("kind", "=", "order_repayment")
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.id ?? null;
}
