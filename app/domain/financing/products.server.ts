import { inTransaction, type Db } from "../../../db";
import type { LoanProductKind, RepaymentMethodName } from "../../../db/schema";
import { type Actor, DomainError, recordAudit, isBusinessDate } from "../shared";
import { lprRatePpm, penaltyRatePpm } from "./rates";
import { ALLOCATION_COMPONENTS, DEFAULT_ALLOCATION_ORDER, type AllocationComponent } from "./allocation";
import { dateText, readProduct, type LoanProductRow } from "./internal.server";

/**
 * Loan products and the LPR they are priced from. The bank keeps the 1-year LPR with the date each
 * value takes effect; a loan's rate is fixed at its disbursement from the value in force that day
 * (decision 024). Rates are integers in parts per million a year (3.10% = 31,000 ppm).
 */

export const PRODUCT_LIMITS = {
  /** 100 million yuan: above any single trade-finance ticket on the platform. */
  maxAmountFen: 10_000_000_000,
  maxSpreadBps: 10_000,
} as const;

export interface LprRate {
  ratePpm: number;
  effectiveOn: string;
}

export async function listLprRates(db: Db, limit = 24): Promise<LprRate[]> {
  const rows = await db
    .selectFrom("lpr_rates")
    .select(["rate_ppm", dateText("effective_on").as("effective_on")])
    .orderBy("effective_on", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ratePpm: r.rate_ppm, effectiveOn: r.effective_on }));
}

/** The LPR in force on `date`: the latest value effective on or before it. */
export async function lprOn(db: Db, date: string): Promise<LprRate> {
  const row = await db
    .selectFrom("lpr_rates")
    .select(["rate_ppm", dateText("effective_on").as("effective_on")])
    .where("effective_on", "<=", date)
    .orderBy("effective_on", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!row) throw new DomainError("invalid_state", `No LPR is in force on ${date}: the bank records one first`, { lpr: "missing" });
  return { ratePpm: row.rate_ppm, effectiveOn: row.effective_on };
}

/** Record an LPR value (the 20th-of-the-month publication); a date already recorded is refused. */
export async function recordLpr(db: Db, actor: Actor, input: { ratePpm: number; effectiveOn: string }): Promise<LprRate> {
  if (!Number.isSafeInteger(input.ratePpm) || input.ratePpm <= 0 || input.ratePpm >= 1_000_000) {
    throw new DomainError("validation", "The LPR must be above 0% and below 100%", { rate_ppm: "out of range" });
  }
  if (!isBusinessDate(input.effectiveOn)) throw new DomainError("validation", "effective_on must be a date written YYYY-MM-DD", { effective_on: "invalid_date" });
  return inTransaction(db, async (trx) => {
    const inserted = await trx
      .insertInto("lpr_rates")
      .values({ rate_ppm: input.ratePpm, effective_on: input.effectiveOn, created_by_user_id: actor.userId })
      .onConflict((oc) => oc.column("effective_on").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!inserted) throw new DomainError("conflict", `An LPR for ${input.effectiveOn} is already recorded`, { effective_on: "already recorded" });
    await recordAudit(trx, actor, { action: "financing.lpr_recorded", entityType: "lpr_rate", entityId: inserted.id, after: input });
    return input;
  });
}

export interface ProductInput {
  code: string;
  name: string;
  nameEn: string;
  kind: LoanProductKind;
  rateBasis: "lpr" | "fixed";
  spreadBps?: number;
  fixedRatePpm?: number | null;
  repaymentMethod: RepaymentMethodName;
  termDays?: number | null;
  termMonths?: number | null;
  penaltyMarkupBps?: number;
  graceDays?: number;
  autoApproveLimitFen: number;
  secondApproverLimitFen: number;
  advanceRateBps?: number | null;
  minAmountFen: number;
  maxAmountFen: number;
  allocationOrder?: readonly AllocationComponent[];
}

function checkProduct(input: ProductInput): void {
  const fields: Record<string, string> = {};
  if (!/^[A-Z0-9_-]{2,40}$/.test(input.code)) fields.code = "2–40 capital letters, digits, - or _";
  if (input.rateBasis === "fixed" && (input.fixedRatePpm == null || input.fixedRatePpm < 0)) fields.fixed_rate_ppm = "required for a fixed rate";
  if ((input.termDays == null) === (input.termMonths == null)) fields.term_months = "give a term in days or in months";
  if (input.termDays != null && input.repaymentMethod !== "bullet") fields.term_days = "only a bullet loan runs in days";
  if (input.secondApproverLimitFen < input.autoApproveLimitFen) fields.second_approver_limit_fen = "below the auto-approval limit";
  if (input.maxAmountFen < input.minAmountFen || input.maxAmountFen > PRODUCT_LIMITS.maxAmountFen) fields.max_amount_fen = "out of range";
  if (input.kind === "receivables" && !input.advanceRateBps) fields.advance_rate_bps = "required for receivables";
  const order = input.allocationOrder ?? DEFAULT_ALLOCATION_ORDER;
  if (order.length !== ALLOCATION_COMPONENTS.length || new Set(order).size !== order.length || order.some((c) => !ALLOCATION_COMPONENTS.includes(c))) {
    fields.allocation_order = "each of the six components once";
  }
  if (Object.keys(fields).length > 0) throw new DomainError("validation", "The product is not complete", fields);
}

export async function createProduct(db: Db, actor: Actor, input: ProductInput): Promise<LoanProductRow> {
  checkProduct(input);
  return inTransaction(db, async (trx) => {
    const row = await trx
      .insertInto("loan_products")
      .values({
        code: input.code,
        name: input.name,
        name_en: input.nameEn,
        kind: input.kind,
        rate_basis: input.rateBasis,
        spread_bps: input.spreadBps ?? 0,
        fixed_rate_ppm: input.rateBasis === "fixed" ? input.fixedRatePpm! : null,
        repayment_method: input.repaymentMethod,
        term_days: input.termDays ?? null,
        term_months: input.termMonths ?? null,
        penalty_markup_bps: input.penaltyMarkupBps ?? 5_000,
        grace_days: input.graceDays ?? 0,
        auto_approve_limit_fen: input.autoApproveLimitFen,
        second_approver_limit_fen: input.secondApproverLimitFen,
        advance_rate_bps: input.advanceRateBps ?? null,
        min_amount_fen: input.minAmountFen,
        max_amount_fen: input.maxAmountFen,
        allocation_order: [...(input.allocationOrder ?? DEFAULT_ALLOCATION_ORDER)],
      })
      .onConflict((oc) => oc.column("code").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new DomainError("conflict", `A product with code ${input.code} exists`, { code: "taken" });
    await recordAudit(trx, actor, { action: "financing.product_created", entityType: "loan_product", entityId: row.id, after: { code: row.code, kind: row.kind } });
    return row;
  });
}

export async function listProducts(db: Db, options: { kind?: LoanProductKind; activeOnly?: boolean } = {}): Promise<LoanProductRow[]> {
  let q = db.selectFrom("loan_products").selectAll().orderBy("kind").orderBy("code");
  if (options.kind) q = q.where("kind", "=", options.kind);
  if (options.activeOnly) q = q.where("status", "=", "active");
  return q.execute();
}

export { readProduct as getProduct };

/** The product of a kind a borrower would use: the first active one (one per kind on this platform). */
export async function productOfKind(db: Db, kind: LoanProductKind): Promise<LoanProductRow> {
  const row = await db.selectFrom("loan_products").selectAll().where("kind", "=", kind).where("status", "=", "active").orderBy("created_at").limit(1).executeTakeFirst();
  if (!row) throw new DomainError("invalid_state", `The bank offers no ${kind.replace("_", " ")} product yet`, { product: "none" });
  return row;
}

/** The contract rates a loan of this product gets if disbursed on `date`. */
export async function contractRates(db: Db, product: LoanProductRow, date: string): Promise<{ annualRatePpm: number; penaltyRatePpm: number; lprPpm: number | null }> {
  let annualRatePpm: number;
  let lprPpm: number | null = null;
  if (product.rate_basis === "fixed") {
    annualRatePpm = product.fixed_rate_ppm!;
  } else {
    lprPpm = (await lprOn(db, date)).ratePpm;
    annualRatePpm = lprRatePpm(lprPpm, product.spread_bps);
  }
  if (annualRatePpm < 0) throw new DomainError("invalid_state", "The product's rate would be below zero", { spread_bps: "too low" });
  return { annualRatePpm, penaltyRatePpm: penaltyRatePpm(annualRatePpm, product.penalty_markup_bps), lprPpm };
}
