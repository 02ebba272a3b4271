import { sql, type Selectable } from "kysely";
import type { Db } from "../../../db";
import type { LoanProductsTable, LoansTable, FinancingFacilitiesTable } from "../../../db/schema";
import { type Actor, DomainError, isUuid, auditInsert } from "../shared";
import { ensureAccount, type AccountView } from "../ledger";

/**
 * What the financing context's modules share and nobody else sees: ledger account codes, row
 * readers with dates as text, the timeline, numbers.
 *
 * Accounts (decision 024):
 *   facility_available:<facility>  the unused part of a limit (the borrower's, or the guarantor's);
 *   facility_used:<facility>       what is drawn on it; limit = available + used;
 *   facility_limits_issued         the bank's open end limits come from and go back to;
 *   loans_receivable:<loan>        principal owed;
 *   interest_receivable:<loan>     interest accrued and not yet paid;
 *   penalty_receivable:<loan>      penalty (罚息) and compound interest (复利) accrued and not paid;
 *   interest_income, penalty_income  the bank's, one each (the daily run posts to them in batches).
 */

export const accountCodes = {
  facilityAvailable: (facilityId: string) => `facility_available:${facilityId}`,
  facilityUsed: (facilityId: string) => `facility_used:${facilityId}`,
  limitsIssued: "facility_limits_issued",
  principal: (loanId: string) => `loans_receivable:${loanId}`,
  interest: (loanId: string) => `interest_receivable:${loanId}`,
  penalty: (loanId: string) => `penalty_receivable:${loanId}`,
  interestIncome: "interest_income",
  penaltyIncome: "penalty_income",
  wallet: (organizationId: string) => `wallet:${organizationId}`,
} as const;

export type LoanProductRow = Selectable<LoanProductsTable>;
export type FacilityRow = Selectable<FinancingFacilitiesTable>;
export type LoanRow = Selectable<LoansTable>;

export const loanNotFound = () => new DomainError("not_found", "loan not found");
export const applicationNotFound = () => new DomainError("not_found", "loan application not found");

/** A date column as 'YYYY-MM-DD' (pg hands dates back as Date objects in the server's zone). */
export function dateText(column: string) {
  return sql<string>`to_char(${sql.ref(column)}, 'YYYY-MM-DD')`;
}

export function nullableDateText(column: string) {
  return sql<string | null>`to_char(${sql.ref(column)}, 'YYYY-MM-DD')`;
}

/** The loan row with its dates as text. */
export const loanColumns = () =>
  [
    "loans.id",
    "loans.number",
    "loans.application_id",
    "loans.product_id",
    "loans.kind",
    "loans.borrower_organization_id",
    "loans.guarantor_organization_id",
    "loans.order_id",
    "loans.market_order_id",
    "loans.principal_fen",
    "loans.annual_rate_ppm",
    "loans.penalty_rate_ppm",
    "loans.repayment_method",
    "loans.grace_days",
    "loans.buy_back_days",
    dateText("loans.disbursed_on").as("disbursed_on"),
    dateText("loans.maturity_on").as("maturity_on"),
    "loans.status",
    "loans.days_past_due",
    "loans.rule_class",
    "loans.officer_class",
    "loans.officer_class_reason",
    nullableDateText("loans.accrued_through").as("accrued_through"),
    nullableDateText("loans.closed_on").as("closed_on"),
    "loans.created_at",
  ] as const;

/** The loan, locked for the transaction's change (the row is every loan change's one lock). */
export async function lockLoan(trx: Db, loanId: string): Promise<LoanRow> {
  if (!isUuid(loanId)) throw loanNotFound();
  const row = await trx.selectFrom("loans").select(loanColumns()).where("id", "=", loanId).forUpdate().executeTakeFirst();
  if (!row) throw loanNotFound();
  return row as LoanRow;
}

export interface InstalmentRow {
  seq: number;
  periodStartOn: string;
  dueOn: string;
  days: number;
  principalFen: number;
  interestFen: number;
  principalPaidFen: number;
  interestPaidFen: number;
}

export async function readInstalments(db: Db, loanId: string): Promise<InstalmentRow[]> {
  const rows = await db
    .selectFrom("loan_instalments")
    .select([
      "seq",
      dateText("period_start_on").as("period_start_on"),
      dateText("due_on").as("due_on"),
      "days",
      "principal_fen",
      "interest_fen",
      "principal_paid_fen",
      "interest_paid_fen",
    ])
    .where("loan_id", "=", loanId)
    .orderBy("seq")
    .execute();
  return rows.map((r) => ({
    seq: r.seq,
    periodStartOn: r.period_start_on,
    dueOn: r.due_on,
    days: r.days,
    principalFen: r.principal_fen,
    interestFen: r.interest_fen,
    principalPaidFen: r.principal_paid_fen,
    interestPaidFen: r.interest_paid_fen,
  }));
}

export async function readProduct(db: Db, productId: string): Promise<LoanProductRow> {
  if (!isUuid(productId)) throw new DomainError("not_found", "loan product not found");
  const row = await db.selectFrom("loan_products").selectAll().where("id", "=", productId).executeTakeFirst();
  if (!row) throw new DomainError("not_found", "loan product not found");
  return row;
}

/** The one bank: the owner of the platform's own accounts. */
export async function bankOrganizationId(db: Db): Promise<string> {
  const row = await db.selectFrom("organizations").select("id").where("kind", "=", "bank").orderBy("created_at").limit(1).executeTakeFirst();
  if (!row) throw new DomainError("invalid_state", "No bank organisation exists to lend from");
  return row.id;
}

/** The bank's income accounts, created once. */
export async function ensureIncomeAccounts(db: Db): Promise<{ interest: AccountView; penalty: AccountView; issued: AccountView }> {
  const bankId = await bankOrganizationId(db);
  const interest = await ensureAccount(db, { kind: "interest_income", organizationId: bankId, code: accountCodes.interestIncome });
  const penalty = await ensureAccount(db, { kind: "penalty_income", organizationId: bankId, code: accountCodes.penaltyIncome });
  const issued = await ensureAccount(db, { kind: "facility_limits_issued", organizationId: bankId, code: accountCodes.limitsIssued });
  return { interest, penalty, issued };
}

/** A loan's three receivable accounts, made at disbursement. */
export async function ensureLoanAccounts(db: Db, loan: { id: string; borrower_organization_id: string }) {
  const principal = await ensureAccount(db, { kind: "loans_receivable", organizationId: loan.borrower_organization_id, code: accountCodes.principal(loan.id) });
  const interest = await ensureAccount(db, { kind: "interest_receivable", organizationId: loan.borrower_organization_id, code: accountCodes.interest(loan.id) });
  const penalty = await ensureAccount(db, { kind: "penalty_receivable", organizationId: loan.borrower_organization_id, code: accountCodes.penalty(loan.id) });
  return { principal, interest, penalty };
}

/** What a financing timeline records; each is also the audit action `financing.<event>`. */
export const FINANCING_EVENTS = [
  "applied",
  "first_approval",
  "approved",
  "rejected",
  "withdrawn",
  "disbursed",
  "repaying",
  "fell_overdue",
  "repaid",
  "reclassified",
  "guarantee_called",
  "written_off",
] as const;
export type FinancingEventName = (typeof FINANCING_EVENTS)[number];

export interface FinancingEvent {
  loanId?: string | null;
  applicationId?: string | null;
  event: FinancingEventName;
  detail?: Record<string, unknown>;
  before?: unknown;
  after?: unknown;
}

/**
 * The loan's or application's timeline row and its audit row, in one statement (the audit row
 * through the shared helper: one writer of audit_events).
 */
export async function recordFinancingEvents(trx: Db, actor: Actor, events: readonly FinancingEvent[], at: Date): Promise<void> {
  if (events.length === 0) return;
  const entries = events.map((e) => ({
      action: `financing.${e.event}`,
      entityType: e.loanId ? "loan" : "loan_application",
      entityId: (e.loanId ?? e.applicationId)!,
      organizationId: actor.organizationId,
      before: e.before ?? null,
      after: e.after ?? e.detail ?? null,
    }));
  await trx
    .with("audit", (q) => auditInsert(q, actor, entries))
    .insertInto("loan_events")
    .values(
      events.map((e) => ({
        loan_id: e.loanId ?? null,
        application_id: e.applicationId ?? null,
        event: e.event,
        actor_user_id: actor.userId,
        detail: JSON.stringify(e.detail ?? {}),
        // Business time, from the caller's clock: a back-dated run or a seeded history reads true.
        at,
      })),
    )
    .execute();
}

/** `<prefix>-<business date>-<sequence>`: readable on a statement and a phone call. */
export async function nextNumber(trx: Db, prefix: "FA" | "LN", businessDate: string): Promise<string> {
  const sequence = prefix === "FA" ? sql`loan_application_numbers` : sql`loan_numbers`;
  const { rows } = await sql<{ n: string }>`select nextval('${sequence}') as n`.execute(trx);
  return `${prefix}-${businessDate.replaceAll("-", "")}-${String(rows[0]!.n).padStart(6, "0")}`;
}
