import { z } from "zod";
import { ALLOCATION_COMPONENTS, APPLICATION_STATUSES, LOAN_CLASSES, LOAN_STATUSES } from "../../domain/financing";
import type { ApplicationView, FacilitySummary, LoanDetail, LoanListItem, Portfolio } from "../../domain/financing";
import { defineEndpoint } from "../endpoint";
import { businessDate, fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * Financing (decision 024): a dealer finances a confirmed order (the bank pays the supplier, the
 * supplier guarantees, the dealer repays); the bank's credit officers approve above the product's
 * auto-approval limit (two different officers above the second limit). Amounts in fen, rates in
 * ppm a year (43,500 = 4.35%), dates as Shanghai business dates. The bank sees every financing
 * record; a borrower its own; a guarantor the loans it guarantees; anything else is 404.
 */

const TAGS = ["financing"] as const;
const KINDS = ["bank", "core_enterprise", "dealer"] as const;
const ratePpm = z.number().int().describe("Annual rate in parts per million: 43,500 = 4.35%");

export const applicationSchema = z.object({
  id: z.string(),
  number: z.string(),
  status: z.enum(APPLICATION_STATUSES),
  product: z.object({ id: z.string(), name: z.string(), kind: z.string() }),
  borrower: z.object({ id: z.string(), name: z.string() }),
  guarantor: z.object({ id: z.string(), name: z.string() }).nullable(),
  order_id: z.string().nullable(),
  market_order_id: z.string().nullable().describe("A merchant's advance on an escrow order names the market order"),
  amount_fen: fen,
  checks: z
    .array(
      z.object({
        check: z.string(),
        ok: z.boolean(),
        detail: z.string().describe("reserved, missing, suspended, expired, insufficient, none_overdue, overdue, confirmed, share"),
        params: z.record(z.union([z.string(), z.number()])).optional().describe("The figures behind the detail: availableFen, date, count, number, shareBps, maxBps"),
      }),
    )
    .describe("Each automatic check and its result"),
  first_approver: z.string().nullable().describe("Above the second-approver limit: who signed first"),
  reason: z.string().nullable(),
  loan_id: z.string().nullable(),
  created_at: isoTimestamp,
});

export function applicationJson(a: ApplicationView): z.input<typeof applicationSchema> {
  return {
    id: a.id,
    number: a.number,
    status: a.status,
    product: { id: a.productId, name: a.productNameEn, kind: a.productKind },
    borrower: { id: a.borrowerId, name: a.borrowerName },
    guarantor: a.guarantorId ? { id: a.guarantorId, name: a.guarantorName ?? "" } : null,
    order_id: a.orderId,
    market_order_id: a.marketOrderId,
    amount_fen: a.amountFen,
    checks: a.checks,
    first_approver: a.firstApproverName,
    reason: a.reason,
    loan_id: a.loanId,
    created_at: a.createdAt.toISOString(),
  };
}

const loanItemSchema = z.object({
  id: z.string(),
  number: z.string(),
  kind: z.string(),
  status: z.enum(LOAN_STATUSES),
  borrower: z.object({ id: z.string(), name: z.string() }),
  guarantor_name: z.string().nullable(),
  principal_fen: fen,
  principal_outstanding_fen: fen,
  interest_owed_fen: fen,
  penalty_owed_fen: fen,
  annual_rate_ppm: ratePpm,
  disbursed_on: businessDate,
  maturity_on: businessDate,
  next_due_on: businessDate.nullable(),
  next_due_fen: fen,
  days_past_due: z.number().int(),
  bucket: z.enum(["current", "M1", "M2", "M3", "M3+"]),
  class: z.enum(LOAN_CLASSES).describe("Five-category class (正常/关注/次级/可疑/损失): the worse of the rule's and an officer's"),
});

export function loanItemJson(l: LoanListItem): z.input<typeof loanItemSchema> {
  return {
    id: l.id,
    number: l.number,
    kind: l.kind,
    status: l.status,
    borrower: { id: l.borrowerId, name: l.borrowerName },
    guarantor_name: l.guarantorName,
    principal_fen: l.principalFen,
    principal_outstanding_fen: l.principalOutstandingFen,
    interest_owed_fen: l.interestOwedFen,
    penalty_owed_fen: l.penaltyOwedFen,
    annual_rate_ppm: l.annualRatePpm,
    disbursed_on: l.disbursedOn,
    maturity_on: l.maturityOn,
    next_due_on: l.nextDueOn,
    next_due_fen: l.nextDueFen,
    days_past_due: l.daysPastDue,
    bucket: l.bucket,
    class: l.loanClass,
  };
}

const owedSchema = z.object(Object.fromEntries(ALLOCATION_COMPONENTS.map((c) => [c, fen])) as Record<(typeof ALLOCATION_COMPONENTS)[number], typeof fen>);

export const loanSchema = loanItemSchema.extend({
  penalty_rate_ppm: ratePpm,
  repayment_method: z.string(),
  order_id: z.string().nullable(),
  market_order_id: z.string().nullable(),
  due_now: owedSchema.describe("What repaying `due` pays today, by component, in allocation order"),
  due_now_fen: fen,
  payoff_fen: fen.describe("What repaying in full today pays (interest to date only)"),
  schedule: z.array(
    z.object({
      seq: z.number().int(),
      period_start_on: businessDate,
      due_on: businessDate,
      days: z.number().int(),
      principal_fen: fen,
      interest_fen: fen,
      principal_paid_fen: fen,
      interest_paid_fen: fen,
    }),
  ),
  repayments: z.array(z.object({ id: z.string(), source: z.string(), amount_fen: fen, allocation: z.record(z.number()), paid_on: businessDate })),
  accrued: z.object({ interest_fen: fen, penalty_fen: fen, compound_fen: fen }),
});

export function loanJson(d: LoanDetail): z.input<typeof loanSchema> {
  const l = d.loan;
  return {
    ...loanItemJson({
      id: l.id,
      number: l.number,
      kind: l.kind,
      status: l.status as LoanListItem["status"],
      borrowerId: l.borrower_organization_id,
      borrowerName: l.borrowerName,
      guarantorName: l.guarantorName,
      principalFen: l.principal_fen,
      principalOutstandingFen: d.balances.principalFen,
      interestOwedFen: d.balances.interestFen,
      penaltyOwedFen: d.balances.penaltyFen,
      annualRatePpm: l.annual_rate_ppm,
      disbursedOn: l.disbursed_on,
      maturityOn: l.maturity_on,
      nextDueOn: d.instalments.find((i) => i.principalPaidFen < i.principalFen || i.interestPaidFen < i.interestFen)?.dueOn ?? null,
      nextDueFen: (() => {
        const i = d.instalments.find((x) => x.principalPaidFen < x.principalFen || x.interestPaidFen < x.interestFen);
        return i ? i.principalFen - i.principalPaidFen + i.interestFen - i.interestPaidFen : 0;
      })(),
      daysPastDue: l.days_past_due,
      bucket: d.bucket,
      loanClass: d.loanClass,
      createdAt: l.created_at,
    }),
    penalty_rate_ppm: l.penalty_rate_ppm,
    repayment_method: l.repayment_method,
    order_id: l.order_id,
    market_order_id: l.market_order_id,
    due_now: d.dueNow,
    due_now_fen: d.dueNowFen,
    payoff_fen: d.payoffFen,
    schedule: d.instalments.map((i) => ({
      seq: i.seq,
      period_start_on: i.periodStartOn,
      due_on: i.dueOn,
      days: i.days,
      principal_fen: i.principalFen,
      interest_fen: i.interestFen,
      principal_paid_fen: i.principalPaidFen,
      interest_paid_fen: i.interestPaidFen,
    })),
    repayments: d.repayments.map((r) => ({ id: r.id, source: r.source, amount_fen: r.amountFen, allocation: r.allocation, paid_on: r.paidOn })),
    accrued: { interest_fen: d.accrualTotals.interestFen, penalty_fen: d.accrualTotals.penaltyFen, compound_fen: d.accrualTotals.compoundFen },
  };
}

const facilitySchema = z.object({
  id: z.string(),
  kind: z.enum(["borrower_limit", "guarantee", "guarantee_sub"]),
  product_id: z.string().nullable(),
  borrower_id: z.string().nullable(),
  guarantor_id: z.string().nullable(),
  parent_facility_id: z.string().nullable(),
  buy_back_days: z.number().int().nullable(),
  valid_to: businessDate,
  status: z.enum(["active", "suspended"]),
  limit_fen: fen,
  used_fen: fen.describe("Drawn by loans and reserved by open applications"),
  available_fen: fen,
});

export function facilityJson(f: FacilitySummary): z.input<typeof facilitySchema> {
  return {
    id: f.id,
    kind: f.kind,
    product_id: f.productId,
    borrower_id: f.borrowerOrganizationId,
    guarantor_id: f.guarantorOrganizationId,
    parent_facility_id: f.parentFacilityId,
    buy_back_days: f.buyBackDays,
    valid_to: f.validTo,
    status: f.status,
    limit_fen: f.limitFen,
    used_fen: f.usedFen,
    available_fen: f.availableFen,
  };
}

const idParams = z.object({ id: idParam });

export const listProducts = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/products",
  operationId: "listLoanProducts",
  summary: "The bank's loan products in force",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  response: z.object({
    data: z.array(
      z.object({
        id: z.string(),
        code: z.string(),
        name: z.string(),
        name_en: z.string(),
        kind: z.enum(["order_financing", "receivables", "credit_line"]),
        rate_basis: z.enum(["lpr", "fixed"]),
        spread_bps: z.number().int(),
        fixed_rate_ppm: z.number().int().nullable(),
        repayment_method: z.string(),
        term_days: z.number().int().nullable(),
        term_months: z.number().int().nullable(),
        penalty_markup_bps: z.number().int(),
        grace_days: z.number().int(),
        auto_approve_limit_fen: fen,
        second_approver_limit_fen: fen,
        min_amount_fen: fen,
        max_amount_fen: fen,
        allocation_order: z.array(z.enum(ALLOCATION_COMPONENTS)),
      }),
    ),
  }),
});

export const listFacilities = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/facilities",
  operationId: "listFacilities",
  summary: "Credit facilities: your limits (borrower), your guarantee agreement and sub-limits (guarantor), or all (bank)",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  response: z.object({ data: z.array(facilitySchema) }),
});

export const setFacility = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/facilities",
  operationId: "setFacility",
  summary: "Open or change a facility (the bank's credit staff): a borrower's limit on a product, a guarantee agreement, or a dealer's sub-limit under one",
  description: "The limit is issued in the ledger; lowering it below what is drawn or reserved is 422 naming `limit_fen`.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["bank"],
  action: "financing.facility_write",
  body: z
    .object({
      kind: z.enum(["borrower_limit", "guarantee", "guarantee_sub"]),
      product_id: z.string().uuid().optional(),
      borrower_id: z.string().uuid().optional(),
      guarantor_id: z.string().uuid().optional(),
      parent_facility_id: z.string().uuid().optional(),
      buy_back_days: z.number().int().min(1).max(365).optional(),
      valid_to: businessDate,
      limit_fen: fen,
    })
    .strict()
    .superRefine((b, ctx) => {
      const need = (field: keyof typeof b) => b[field] === undefined && ctx.addIssue({ code: "custom", path: [field], message: `required for a ${b.kind}` });
      const required = { borrower_limit: ["product_id", "borrower_id"], guarantee: ["guarantor_id"], guarantee_sub: ["guarantor_id", "borrower_id", "parent_facility_id"] } as const;
      for (const field of required[b.kind]) need(field);
    }),
  response: facilitySchema,
  successStatus: 201,
});

export const createApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/applications",
  operationId: "createFinancingApplication",
  summary: "Finance a confirmed order (as the dealer): the bank pays your supplier, you repay the bank",
  description:
    "Checked at once: your limit on the product, your supplier's guarantee headroom and your sub-limit under it, no loan " +
    "of yours overdue, the order confirmed and not already financed. A failed check is 409 `invalid_state` naming each " +
    "failed check in `fields`, and nothing is written. Up to the product's auto-approval limit the application is " +
    "`approved` at once and paid out by a background step (the order becomes `paid`); above it, `applied`, for the bank.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer"],
  action: "financing.apply",
  body: z.object({ order_id: z.string().max(64) }).strict(),
  response: applicationSchema,
  successStatus: 201,
});

export const listApplications = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/applications",
  operationId: "listFinancingApplications",
  summary: "Financing applications, newest first (the bank: all; a borrower: its own; a guarantor: those it guarantees)",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  query: z.object({ status: z.enum(APPLICATION_STATUSES).optional(), limit: pageQuery.limit }),
  response: z.object({ data: z.array(applicationSchema) }),
});

export const getApplication = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/applications/{id}",
  operationId: "getFinancingApplication",
  summary: "One financing application with each check's result",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  params: idParams,
  response: applicationSchema,
});

export const approveApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/applications/{id}/approve",
  operationId: "approveFinancingApplication",
  summary: "Approve (a credit officer); above the second-approver limit a different officer approves second",
  description: "The same officer approving twice is 403 naming `approver`.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["bank"],
  action: "financing.decide",
  params: idParams,
  body: z.object({}).strict().optional(),
  response: applicationSchema,
});

export const rejectApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/applications/{id}/reject",
  operationId: "rejectFinancingApplication",
  summary: "Reject (a credit officer), with a reason: the limits are released and the order waits for payment again",
  tags: TAGS,
  auth: "required",
  orgKinds: ["bank"],
  action: "financing.decide",
  params: idParams,
  body: z.object({ reason: z.string().trim().min(1).max(500) }).strict(),
  response: applicationSchema,
});

export const withdrawApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/applications/{id}/withdraw",
  operationId: "withdrawFinancingApplication",
  summary: "Withdraw your application before the bank decides",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer"],
  action: "financing.withdraw",
  params: idParams,
  body: z.object({}).strict().optional(),
  response: applicationSchema,
});

export const createDraw = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/draws",
  operationId: "drawOnCreditLine",
  summary: "Draw on your revolving credit line (网贷通): to your wallet, or straight to one of your confirmed orders",
  description:
    "With `order_id` the draw pays that order's supplier and the order becomes `paid` (`amount_fen`, if given, must equal the " +
    "order's total); without it `amount_fen` goes to your wallet. A draw is an application on the line: approved at once up " +
    "to the product's auto-approval limit and paid out by a background step, or left for the bank's officers. Over what the " +
    "line has available is 409 naming `borrower_limit`; repaid principal frees the line again.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer"],
  action: "financing.apply",
  body: z.object({ amount_fen: fen.min(1).optional(), order_id: z.string().max(64).optional() }).strict(),
  response: applicationSchema,
  successStatus: 201,
});

export const listLoans = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/loans",
  operationId: "listLoans",
  summary: "Loans, newest first (the bank: all; a borrower: its own; a guarantor: those it guarantees)",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  query: z.object({ status: z.enum(LOAN_STATUSES).optional(), ...pageQuery }),
  response: pageOf(loanItemSchema),
});

export const getLoan = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/loans/{id}",
  operationId: "getLoan",
  summary: "One loan with its schedule, what is due now, the payoff amount, repayments and accruals",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  params: idParams,
  response: loanSchema,
});

export const repayLoan = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/loans/{id}/repayments",
  operationId: "repayLoan",
  summary: "Repay from your wallet: what is due now (or part of it), or everything (early payoff, interest to date only)",
  description:
    "Applied in the product's order (default: penalty, compound interest, overdue interest, overdue principal, current " +
    "interest, current principal). More than is due, other than a payoff, is 422 naming `amount_fen`; a wallet that " +
    "cannot cover it is 422 `insufficient_funds`. The Idempotency-Key makes a retry the same repayment.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer", "core_enterprise"],
  action: "financing.repay",
  params: idParams,
  body: z.object({ mode: z.enum(["due", "payoff"]), amount_fen: fen.min(1).optional() }).strict(),
  response: z.object({ repayment_id: z.string(), amount_fen: fen, allocation: owedSchema, loan_status: z.enum(LOAN_STATUSES) }),
  successStatus: 201,
});

export const startLoanEpayRepayment = defineEndpoint({
  method: "POST",
  path: "/api/v1/financing/loans/{id}/epay-repayments",
  operationId: "startLoanEpayRepayment",
  summary: "Repay by e-Pay: start (or resume) a payment of what is due now, or of everything (early payoff)",
  description:
    "The amount is worked out by the bank (accrued through yesterday), as for a wallet repayment of the same mode. Answers " +
    "`pay_url`, the gateway's page for the payer; when the gateway confirms, the loan is repaid in the same transaction " +
    "that takes the money in (GET the loan to see it). If the loan owes less by then (repaid meanwhile), what it owes is " +
    "repaid and the rest stays in your wallet. After a failed attempt, this starts a new one. While an attempt is pending " +
    "or has been received, the other mode and a wallet repayment are 409 `invalid_state` naming `payment` (the " +
    "message says which payment). Nothing due now (`due`) is 409 naming `amount_fen`. 503 when the gateway cannot be " +
    "reached.",
  tags: TAGS,
  auth: "required",
  orgKinds: ["dealer", "core_enterprise"],
  action: "financing.repay",
  params: idParams,
  body: z.object({ mode: z.enum(["due", "payoff"]) }).strict(),
  response: z.object({
    payment_id: z.string(),
    pay_url: z.string().describe("Where to send the payer"),
    mode: z.enum(["due", "payoff"]),
    amount_fen: fen,
  }),
  successStatus: 201,
  errors: [503],
});

export const getPortfolio = defineEndpoint({
  method: "GET",
  path: "/api/v1/financing/portfolio",
  operationId: "getFinancingPortfolio",
  summary: "The bank's portfolio: outstanding principal by product, guarantor, overdue bucket and class; yesterday's accrual; this month's disbursements",
  tags: TAGS,
  auth: "required",
  orgKinds: ["bank"],
  response: z.object({
    outstanding_fen: fen,
    loans_open: z.number().int(),
    by_product: z.array(z.object({ kind: z.string(), loans: z.number().int(), outstanding_fen: fen })),
    by_guarantor: z.array(z.object({ guarantor_name: z.string().nullable(), loans: z.number().int(), outstanding_fen: fen })),
    by_bucket: z.array(z.object({ bucket: z.string(), loans: z.number().int(), outstanding_fen: fen })),
    by_class: z.array(z.object({ class: z.enum(LOAN_CLASSES), loans: z.number().int(), outstanding_fen: fen })),
    accrued: z.object({ business_date: businessDate, interest_fen: fen, penalty_fen: fen }),
    disbursed_this_month: z.object({ loans: z.number().int(), amount_fen: fen }),
    applications_waiting: z.number().int(),
  }),
});

export function portfolioJson(p: Portfolio) {
  return {
    outstanding_fen: p.outstandingFen,
    loans_open: p.loansOpen,
    by_product: p.byProduct.map((g) => ({ kind: g.kind, loans: g.loans, outstanding_fen: g.outstandingFen })),
    by_guarantor: p.byGuarantor.map((g) => ({ guarantor_name: g.guarantorName, loans: g.loans, outstanding_fen: g.outstandingFen })),
    by_bucket: p.byBucket.map((g) => ({ bucket: g.bucket, loans: g.loans, outstanding_fen: g.outstandingFen })),
    by_class: p.byClass.map((g) => ({ class: g.loanClass, loans: g.loans, outstanding_fen: g.outstandingFen })),
    accrued: { business_date: p.accruedToday.businessDate, interest_fen: p.accruedToday.interestFen, penalty_fen: p.accruedToday.penaltyFen },
    disbursed_this_month: { loans: p.disbursedThisMonth.loans, amount_fen: p.disbursedThisMonth.amountFen },
    applications_waiting: p.applicationsWaiting,
  };
}

export const endpoints = [
  listProducts,
  listFacilities,
  setFacility,
  createApplication,
  listApplications,
  getApplication,
  approveApplication,
  rejectApplication,
  withdrawApplication,
  createDraw,
  listLoans,
  getLoan,
  repayLoan,
  startLoanEpayRepayment,
  getPortfolio,
];
