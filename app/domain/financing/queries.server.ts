import { sql } from "kysely";
import type { Db } from "../../../db";
import type { LoanApplicationCheck } from "../../../db/schema";
import { DomainError, decodeCursor, encodeCursor, isUuid, shanghaiDate, spreadsheetCsv } from "../shared";
import { accountView, type Fen } from "../ledger";
import { dpdBucket, effectiveClass, type DpdBucket, type LoanClass } from "./risk";
import { OPEN_LOAN_STATUSES, type ApplicationStatus, type LoanStatus } from "./states";
import { owedOn, totalOwed, type Owed } from "./loans.server";
import { accountCodes, applicationNotFound, dateText, loanColumns, loanNotFound, readInstalments, type InstalmentRow, type LoanRow } from "./internal.server";

/**
 * What the financing pages and API read. Scope is the tenancy rule: the bank sees every financing
 * record (and nothing else of its borrowers' business); a borrower its own applications and loans;
 * a guarantor the loans it guarantees. Anything outside the scope is `not_found`.
 */

export type FinancingScope = { kind: "bank" } | { kind: "borrower"; organizationId: string } | { kind: "guarantor"; organizationId: string };

export const QUERY_LIMITS = { listMax: 200, eventsMax: 200, accrualsShown: 60 } as const;

export interface ApplicationView {
  id: string;
  number: string;
  status: ApplicationStatus;
  productId: string;
  productName: string;
  productNameEn: string;
  productKind: string;
  borrowerId: string;
  borrowerName: string;
  guarantorId: string | null;
  guarantorName: string | null;
  orderId: string | null;
  orderNumber: string | null;
  /** A merchant's sale of an escrow order's proceeds names the market order instead. */
  marketOrderId: string | null;
  amountFen: Fen;
  checks: LoanApplicationCheck[];
  firstApproverUserId: string | null;
  firstApproverName: string | null;
  reason: string | null;
  autoApproveLimitFen: Fen;
  secondApproverLimitFen: Fen;
  loanId: string | null;
  createdAt: Date;
}

function applicationQuery(db: Db) {
  return db
    .selectFrom("loan_applications as a")
    .innerJoin("loan_products as p", "p.id", "a.product_id")
    .innerJoin("organizations as b", "b.id", "a.borrower_organization_id")
    .leftJoin("organizations as g", "g.id", "a.guarantor_organization_id")
    .leftJoin("orders as o", "o.id", "a.order_id")
    .leftJoin("users as u", "u.id", "a.first_approver_user_id")
    .leftJoin("loans as l", "l.application_id", "a.id")
    .select([
      "a.id",
      "a.number",
      "a.status",
      "a.product_id",
      "p.name as product_name",
      "p.name_en as product_name_en",
      "p.kind as product_kind",
      "a.borrower_organization_id",
      "b.name as borrower_name",
      "a.guarantor_organization_id",
      "g.name as guarantor_name",
      "a.order_id",
      "a.market_order_id",
      "o.number as order_number",
      "a.amount_fen",
      "a.checks",
      "a.first_approver_user_id",
      "u.display_name as first_approver_name",
      "a.reason",
      "p.auto_approve_limit_fen",
      "p.second_approver_limit_fen",
      "l.id as loan_id",
      "a.created_at",
    ]);
}

type ApplicationQueryRow = Awaited<ReturnType<ReturnType<typeof applicationQuery>["executeTakeFirstOrThrow"]>>;

function toApplicationView(r: ApplicationQueryRow): ApplicationView {
  return {
    id: r.id,
    number: r.number,
    status: r.status as ApplicationStatus,
    productId: r.product_id,
    productName: r.product_name,
    productNameEn: r.product_name_en,
    productKind: r.product_kind,
    borrowerId: r.borrower_organization_id,
    borrowerName: r.borrower_name,
    guarantorId: r.guarantor_organization_id,
    guarantorName: r.guarantor_name,
    orderId: r.order_id,
    marketOrderId: r.market_order_id,
    orderNumber: r.order_number,
    amountFen: r.amount_fen,
    checks: r.checks,
    firstApproverUserId: r.first_approver_user_id,
    firstApproverName: r.first_approver_name,
    reason: r.reason,
    autoApproveLimitFen: r.auto_approve_limit_fen,
    secondApproverLimitFen: r.second_approver_limit_fen,
    loanId: r.loan_id,
    createdAt: r.created_at,
  };
}

function scoped<Q extends { where: (...args: never[]) => Q }>(query: Q, scope: FinancingScope, borrowerCol: string, guarantorCol: string): Q {
  if (scope.kind === "bank") return query;
  const col = scope.kind === "borrower" ? borrowerCol : guarantorCol;
  return (query.where as unknown as (c: string, op: string, v: string) => Q)(col, "=", scope.organizationId);
}

export async function listApplications(db: Db, scope: FinancingScope, options: { statuses?: readonly ApplicationStatus[]; limit?: number } = {}): Promise<ApplicationView[]> {
  let q = scoped(applicationQuery(db), scope, "a.borrower_organization_id", "a.guarantor_organization_id");
  if (options.statuses?.length) q = q.where("a.status", "in", options.statuses);
  const rows = await q.orderBy("a.created_at", "desc").limit(Math.min(options.limit ?? 50, QUERY_LIMITS.listMax)).execute();
  return rows.map(toApplicationView);
}

export async function getApplication(db: Db, scope: FinancingScope, applicationId: string): Promise<ApplicationView> {
  if (!isUuid(applicationId)) throw applicationNotFound();
  const row = await scoped(applicationQuery(db), scope, "a.borrower_organization_id", "a.guarantor_organization_id").where("a.id", "=", applicationId).executeTakeFirst();
  if (!row) throw applicationNotFound();
  return toApplicationView(row);
}

/** The live application for an order, if any (the order page shows it). */
export async function applicationForOrder(db: Db, scope: FinancingScope, orderId: string): Promise<ApplicationView | null> {
  if (!isUuid(orderId)) return null;
  const row = await scoped(applicationQuery(db), scope, "a.borrower_organization_id", "a.guarantor_organization_id").where("a.order_id", "=", orderId).orderBy("a.created_at", "desc").limit(1).executeTakeFirst();
  return row ? toApplicationView(row) : null;
}

export interface LoanListItem {
  id: string;
  number: string;
  kind: string;
  status: LoanStatus;
  borrowerId: string;
  borrowerName: string;
  guarantorName: string | null;
  principalFen: Fen;
  principalOutstandingFen: Fen;
  interestOwedFen: Fen;
  penaltyOwedFen: Fen;
  annualRatePpm: number;
  disbursedOn: string;
  maturityOn: string;
  nextDueOn: string | null;
  nextDueFen: Fen;
  daysPastDue: number;
  bucket: DpdBucket;
  loanClass: LoanClass;
  createdAt: Date;
}

/** A page of loans, newest first, with the opaque cursor of the next (created_at, id). */
export async function listLoansPage(db: Db, scope: FinancingScope, options: { statuses?: readonly LoanStatus[]; limit: number; after?: string | null }): Promise<{ items: LoanListItem[]; nextCursor: string | null }> {
  const after = decodeCursor(options.after, ["timestamp", "uuid"] as const);
  const rows = await listLoans(db, scope, { statuses: options.statuses, limit: options.limit + 1, before: after ? { createdAt: after[0], id: after[1] } : null });
  const items = rows.slice(0, options.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > options.limit && last ? encodeCursor([last.createdAt, last.id]) : null };
}

export async function listLoans(db: Db, scope: FinancingScope, options: { statuses?: readonly LoanStatus[]; limit?: number; before?: { createdAt: string; id: string } | null } = {}): Promise<LoanListItem[]> {
  let q = scoped(
    db
      .selectFrom("loans")
      .innerJoin("organizations as b", "b.id", "loans.borrower_organization_id")
      .leftJoin("organizations as g", "g.id", "loans.guarantor_organization_id")
      .leftJoin("ledger_accounts as pa", (j) => j.on(sql<boolean>`pa.code = 'loans_receivable:' || loans.id::text`))
      .leftJoin("ledger_accounts as ia", (j) => j.on(sql<boolean>`ia.code = 'interest_receivable:' || loans.id::text`))
      .leftJoin("ledger_accounts as na", (j) => j.on(sql<boolean>`na.code = 'penalty_receivable:' || loans.id::text`))
      .select(loanColumns())
      .select([
        "b.name as borrower_name",
        "g.name as guarantor_name",
        sql<number>`coalesce(pa.debits_posted_fen - pa.credits_posted_fen, 0)`.as("principal_outstanding_fen"),
        sql<number>`coalesce(ia.debits_posted_fen - ia.credits_posted_fen, 0)`.as("interest_owed_fen"),
        sql<number>`coalesce(na.debits_posted_fen - na.credits_posted_fen, 0)`.as("penalty_owed_fen"),
        sql<string | null>`(select to_char(min(i.due_on), 'YYYY-MM-DD') from loan_instalments i where i.loan_id = loans.id and (i.principal_paid_fen < i.principal_fen or i.interest_paid_fen < i.interest_fen))`.as("next_due_on"),
        sql<number>`coalesce((select (i.principal_fen - i.principal_paid_fen + i.interest_fen - i.interest_paid_fen) from loan_instalments i where i.loan_id = loans.id and (i.principal_paid_fen < i.principal_fen or i.interest_paid_fen < i.interest_fen) order by i.seq limit 1), 0)`.as("next_due_fen"),
      ]),
    scope,
    "loans.borrower_organization_id",
    "loans.guarantor_organization_id",
  );
  if (options.statuses?.length) q = q.where("loans.status", "in", options.statuses);
  if (options.before) q = q.where(sql<boolean>`(loans.created_at, loans.id) < (${options.before.createdAt}::timestamptz, ${options.before.id}::uuid)`);
  const rows = await q.orderBy("loans.created_at", "desc").orderBy("loans.id", "desc").limit(Math.min(options.limit ?? 50, QUERY_LIMITS.listMax + 1)).execute();
  return rows.map((r) => ({
    id: r.id,
    number: r.number,
    kind: r.kind,
    status: r.status as LoanStatus,
    borrowerId: r.borrower_organization_id,
    borrowerName: r.borrower_name,
    guarantorName: r.guarantor_name,
    principalFen: r.principal_fen,
    principalOutstandingFen: Number(r.principal_outstanding_fen),
    interestOwedFen: Number(r.interest_owed_fen),
    penaltyOwedFen: Number(r.penalty_owed_fen),
    annualRatePpm: r.annual_rate_ppm,
    disbursedOn: r.disbursed_on,
    maturityOn: r.maturity_on,
    nextDueOn: r.next_due_on,
    nextDueFen: Number(r.next_due_fen),
    daysPastDue: r.days_past_due,
    bucket: dpdBucket(r.days_past_due),
    loanClass: effectiveClass(r.rule_class as LoanClass, r.officer_class as LoanClass | null),
    createdAt: r.created_at,
  }));
}

export interface LoanDetail {
  loan: LoanRow & { borrowerName: string; guarantorName: string | null; productName: string; productNameEn: string; orderNumber: string | null };
  loanClass: LoanClass;
  bucket: DpdBucket;
  instalments: InstalmentRow[];
  balances: { principalFen: Fen; interestFen: Fen; penaltyFen: Fen };
  dueNow: Owed;
  dueNowFen: Fen;
  payoffFen: Fen;
  accruals: { businessDate: string; interestFen: Fen; penaltyFen: Fen; compoundFen: Fen; daysPastDue: number }[];
  accrualTotals: { interestFen: Fen; penaltyFen: Fen; compoundFen: Fen };
  repayments: { id: string; source: string; amountFen: Fen; allocation: Record<string, number>; paidOn: string; createdAt: Date }[];
  events: { id: number; event: string; detail: Record<string, unknown>; actorName: string | null; at: Date }[];
}

export async function getLoan(db: Db, scope: FinancingScope, loanId: string, now: Date): Promise<LoanDetail> {
  if (!isUuid(loanId)) throw loanNotFound();
  const row = await scoped(
    db
      .selectFrom("loans")
      .innerJoin("organizations as b", "b.id", "loans.borrower_organization_id")
      .leftJoin("organizations as g", "g.id", "loans.guarantor_organization_id")
      .innerJoin("loan_products as p", "p.id", "loans.product_id")
      .leftJoin("orders as o", "o.id", "loans.order_id")
      .select(loanColumns())
      .select(["b.name as borrower_name", "g.name as guarantor_name", "p.name as product_name", "p.name_en as product_name_en", "o.number as order_number"])
      .where("loans.id", "=", loanId),
    scope,
    "loans.borrower_organization_id",
    "loans.guarantor_organization_id",
  ).executeTakeFirst();
  if (!row) throw loanNotFound();
  const loan = { ...(row as unknown as LoanRow), borrowerName: row.borrower_name, guarantorName: row.guarantor_name, productName: row.product_name, productNameEn: row.product_name_en, orderNumber: row.order_number };
  const instalments = await readInstalments(db, loan.id);
  const accounts = await db.selectFrom("ledger_accounts").selectAll().where("code", "in", [accountCodes.principal(loan.id), accountCodes.interest(loan.id), accountCodes.penalty(loan.id)]).execute();
  const balance = (code: string) => {
    const a = accounts.find((x) => x.code === code);
    return a ? accountView(a).balanceFen : 0;
  };
  const today = shanghaiDate(now);
  const open = OPEN_LOAN_STATUSES.includes(loan.status as LoanStatus);
  const zero: Owed = { penalty: 0, compound: 0, overdue_interest: 0, overdue_principal: 0, current_interest: 0, current_principal: 0 };
  const dueNow = open ? await owedOn(db, loan, instalments, today, false) : zero;
  const payoff = open ? await owedOn(db, loan, instalments, today, true) : zero;
  const accruals = await db
    .selectFrom("loan_accruals")
    .select([dateText("business_date").as("business_date"), "interest_fen", "penalty_fen", "compound_fen", "days_past_due"])
    .where("loan_id", "=", loan.id)
    .orderBy("business_date", "desc")
    .limit(QUERY_LIMITS.accrualsShown)
    .execute();
  const totals = await db
    .selectFrom("loan_accruals")
    .select([sql<string>`coalesce(sum(interest_fen),0)`.as("i"), sql<string>`coalesce(sum(penalty_fen),0)`.as("p"), sql<string>`coalesce(sum(compound_fen),0)`.as("c")])
    .where("loan_id", "=", loan.id)
    .executeTakeFirstOrThrow();
  const repayments = await db.selectFrom("loan_repayments").select(["id", "source", "amount_fen", "allocation", dateText("paid_on").as("paid_on"), "created_at"]).where("loan_id", "=", loan.id).orderBy("created_at").execute();
  const events = await db
    .selectFrom("loan_events as e")
    .leftJoin("users as u", "u.id", "e.actor_user_id")
    .select(["e.id", "e.event", "e.detail", "u.display_name", "e.at"])
    .where((eb) => eb.or([eb("e.loan_id", "=", loan.id), eb("e.application_id", "=", loan.application_id)]))
    .orderBy("e.id")
    .limit(QUERY_LIMITS.eventsMax)
    .execute();
  return {
    loan,
    loanClass: effectiveClass(loan.rule_class as LoanClass, loan.officer_class as LoanClass | null),
    bucket: dpdBucket(loan.days_past_due),
    instalments,
    balances: { principalFen: balance(accountCodes.principal(loan.id)), interestFen: balance(accountCodes.interest(loan.id)), penaltyFen: balance(accountCodes.penalty(loan.id)) },
    dueNow,
    dueNowFen: totalOwed(dueNow),
    payoffFen: totalOwed(payoff),
    accruals: accruals.map((a) => ({ businessDate: a.business_date, interestFen: a.interest_fen, penaltyFen: a.penalty_fen, compoundFen: a.compound_fen, daysPastDue: a.days_past_due })),
    accrualTotals: { interestFen: Number(totals.i), penaltyFen: Number(totals.p), compoundFen: Number(totals.c) },
    repayments: repayments.map((r) => ({ id: r.id, source: r.source, amountFen: r.amount_fen, allocation: r.allocation, paidOn: r.paid_on, createdAt: r.created_at })),
    events: events.map((e) => ({ id: Number(e.id), event: e.event, detail: e.detail, actorName: e.display_name, at: e.at })),
  };
}

export interface Portfolio {
  outstandingFen: Fen;
  loansOpen: number;
  byProduct: { kind: string; loans: number; outstandingFen: Fen }[];
  byGuarantor: { guarantorName: string | null; loans: number; outstandingFen: Fen }[];
  byBucket: { bucket: DpdBucket; loans: number; outstandingFen: Fen }[];
  byClass: { loanClass: LoanClass; loans: number; outstandingFen: Fen }[];
  accruedToday: { businessDate: string; interestFen: Fen; penaltyFen: Fen };
  disbursedThisMonth: { loans: number; amountFen: Fen };
  applicationsWaiting: number;
}

/** The bank's portfolio: outstanding principal by product, guarantor, bucket and class, in one read of open loans. */
export async function portfolio(db: Db, now: Date): Promise<Portfolio> {
  const rows = await db
    .selectFrom("loans")
    .leftJoin("organizations as g", "g.id", "loans.guarantor_organization_id")
    .leftJoin("ledger_accounts as pa", (j) => j.on(sql<boolean>`pa.code = 'loans_receivable:' || loans.id::text`))
    .select(["loans.kind", "g.name as guarantor_name", "loans.days_past_due", "loans.rule_class", "loans.officer_class", sql<number>`coalesce(pa.debits_posted_fen - pa.credits_posted_fen, 0)`.as("outstanding")])
    .where("loans.status", "in", OPEN_LOAN_STATUSES)
    .execute();
  const group = <K extends string | null>(key: (r: (typeof rows)[number]) => K) => {
    const map = new Map<K, { loans: number; outstandingFen: Fen }>();
    for (const r of rows) {
      const k = key(r);
      const g = map.get(k) ?? { loans: 0, outstandingFen: 0 };
      g.loans += 1;
      g.outstandingFen += Number(r.outstanding);
      map.set(k, g);
    }
    return [...map.entries()];
  };
  const today = shanghaiDate(now);
  const yesterday = sql<string>`(${today}::date - 1)`;
  const accrued = await db
    .selectFrom("loan_accruals")
    .select([sql<string>`coalesce(sum(interest_fen),0)`.as("i"), sql<string>`coalesce(sum(penalty_fen + compound_fen),0)`.as("p")])
    .where("business_date", "=", yesterday)
    .executeTakeFirstOrThrow();
  const monthStart = `${today.slice(0, 7)}-01`;
  const disbursed = await db
    .selectFrom("loans")
    .select([sql<string>`count(*)`.as("n"), sql<string>`coalesce(sum(principal_fen),0)`.as("fen")])
    .where("disbursed_on", ">=", monthStart)
    .executeTakeFirstOrThrow();
  const waiting = await db.selectFrom("loan_applications").select(sql<string>`count(*)`.as("n")).where("status", "in", ["applied", "awaiting_second_approval"]).executeTakeFirstOrThrow();
  return {
    outstandingFen: rows.reduce((s, r) => s + Number(r.outstanding), 0),
    loansOpen: rows.length,
    byProduct: group((r) => r.kind).map(([kind, g]) => ({ kind, ...g })),
    byGuarantor: group((r) => r.guarantor_name).map(([guarantorName, g]) => ({ guarantorName, ...g })),
    byBucket: group((r) => dpdBucket(r.days_past_due)).map(([bucket, g]) => ({ bucket, ...g })),
    byClass: group((r) => effectiveClass(r.rule_class as LoanClass, r.officer_class as LoanClass | null)).map(([loanClass, g]) => ({ loanClass, ...g })),
    accruedToday: { businessDate: shanghaiDate(new Date(now.getTime() - 86_400_000)), interestFen: Number(accrued.i), penaltyFen: Number(accrued.p) },
    disbursedThisMonth: { loans: Number(disbursed.n), amountFen: Number(disbursed.fen) },
    applicationsWaiting: Number(waiting.n),
  };
}

export function requireScopeFor(kind: string, organizationId: string): FinancingScope {
  if (kind === "bank") return { kind: "bank" };
  if (kind === "core_enterprise") return { kind: "guarantor", organizationId };
  if (kind === "dealer" || kind === "merchant" || kind === "buyer") return { kind: "borrower", organizationId };
  throw new DomainError("not_found", "financing not found");
}

/** Rows one export writes at most (the bank's whole book on this platform is far below it). */
export const EXPORT_LIMITS = { loans: 50_000, page: 500 } as const;

const LOAN_CSV_HEADERS = {
  zh: ["贷款编号", "产品", "借款人", "担保方", "状态", "五级分类", "逾期天数", "账龄", "本金（分）", "未还本金（分）", "应收利息（分）", "应收罚息及复利（分）", "年利率（ppm）", "放款日", "到期日", "下一还款日", "下一期应还（分）"],
  en: ["loan", "product", "borrower", "guarantor", "status", "class", "days_past_due", "bucket", "principal_fen", "principal_outstanding_fen", "interest_owed_fen", "penalty_owed_fen", "annual_rate_ppm", "disbursed_on", "maturity_on", "next_due_on", "next_due_fen"],
} as const;

/**
 * The loans in scope as CSV, newest first (the bank: its whole book; a borrower or guarantor: its
 * own), amounts in fen and rates in ppm as the API gives them, read page by page.
 */
export async function exportLoansCsv(db: Db, scope: FinancingScope, options: { headers: "zh" | "en" }): Promise<string> {
  const rows: string[][] = [[...LOAN_CSV_HEADERS[options.headers]]];
  let after: string | null = null;
  while (rows.length - 1 < EXPORT_LIMITS.loans) {
    const page = await listLoansPage(db, scope, { limit: EXPORT_LIMITS.page, after });
    for (const l of page.items) {
      rows.push([
        l.number,
        l.kind,
        l.borrowerName,
        l.guarantorName ?? "",
        l.status,
        l.loanClass,
        String(l.daysPastDue),
        l.bucket,
        String(l.principalFen),
        String(l.principalOutstandingFen),
        String(l.interestOwedFen),
        String(l.penaltyOwedFen),
        String(l.annualRatePpm),
        l.disbursedOn,
        l.maturityOn,
        l.nextDueOn ?? "",
        String(l.nextDueFen),
      ]);
    }
    if (!page.nextCursor) break;
    after = page.nextCursor;
  }
  return spreadsheetCsv(rows);
}
