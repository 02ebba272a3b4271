import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { recordAudit, type Actor, DomainError, divideHalfEven, isUuid, isBusinessDate, shanghaiDate } from "../shared";
import { isUniqueViolation, parsePercentToBps, parseYuanToFen } from "../catalog";
import { type Fen } from "../ledger";
import { getMarket, parseOrRefuse } from "./venues.server";

/**
 * Fee schedules of a market: per category, a commission rate in basis points with a minimum per
 * order in fen, in force from an Asia/Shanghai business date.
 *
 * Invariants:
 *  - schedules are append-only (no update, no delete): a change is a new schedule;
 *  - the schedule in force for (market, category) on a date is the one with the latest
 *    effective_from ≤ that date (one per day: UNIQUE (market, category, effective_from));
 *  - a new schedule starts today or later, never in the past, so adding one never changes what an
 *    earlier date resolves to (the escrow slice also copies the fee onto each order at placement).
 */

export const FEE_LIMITS = {
  /** 50%: a higher commission is a typo. */
  maxRateBps: 5_000,
  /** ¥1,000,000 per order. */
  maxMinFeeFen: 100_000_000,
  historyMax: 500,
} as const;

export interface FeeSchedule {
  id: string;
  marketId: string;
  category: string;
  commissionRateBps: number;
  minFeeFen: Fen;
  /** 'YYYY-MM-DD', Asia/Shanghai. */
  effectiveFrom: string;
  createdAt: Date;
}

const effectiveFromText = sql<string>`to_char(effective_from, 'YYYY-MM-DD')`;

function scheduleQuery(db: Db) {
  return db
    .selectFrom("fee_schedules")
    .select(["id", "market_id", "category", "commission_rate_bps", "min_fee_fen", effectiveFromText.as("effective_from"), "created_at"]);
}
type ScheduleRow = Awaited<ReturnType<ReturnType<typeof scheduleQuery>["executeTakeFirstOrThrow"]>>;

function toSchedule(r: ScheduleRow): FeeSchedule {
  return {
    id: r.id,
    marketId: r.market_id,
    category: r.category,
    commissionRateBps: r.commission_rate_bps,
    minFeeFen: r.min_fee_fen,
    effectiveFrom: r.effective_from,
    createdAt: r.created_at,
  };
}

export const feeScheduleFormSchema = z.object({
  category: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform((v) => v.normalize("NFKC").trim())
    .pipe(z.string().min(1, "required").max(20, "too_long")),
  commissionRate: z
    .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "rate_format" })
    .transform((raw, ctx) => {
      const bps = typeof raw === "number" ? (Number.isSafeInteger(raw) && raw >= 0 ? raw : null) : raw.trim() === "" ? undefined : parsePercentToBps(raw);
      if (bps === undefined || bps === null || bps > FEE_LIMITS.maxRateBps) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: bps === undefined ? "required" : bps === null ? "rate_format" : "out_of_range" });
        return z.NEVER;
      }
      return bps;
    }),
  minFee: z
    .union([z.string(), z.number()], { invalid_type_error: "money_format" })
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || (typeof raw === "string" && raw.trim() === "")) return 0;
      const fen = typeof raw === "number" ? (Number.isSafeInteger(raw) && raw >= 0 ? raw : null) : parseYuanToFen(raw);
      if (fen === null || fen > FEE_LIMITS.maxMinFeeFen) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: fen === null ? "money_format" : "out_of_range" });
        return z.NEVER;
      }
      return fen;
    }),
  effectiveFrom: z
    .string({ required_error: "required", invalid_type_error: "date_format" })
    .trim()
    .min(1, "required")
    .refine(isBusinessDate, "date_format"),
});
/** From a form: commissionRate in percent ("2.5"), minFee in yuan ("5"); from code: bps and fen as numbers. */
export type FeeScheduleInput = z.input<typeof feeScheduleFormSchema>;
export const FEE_FORM_FIELDS = ["category", "commissionRate", "minFee", "effectiveFrom"] as const;

/**
 * Add a schedule for one of the market's categories from `effectiveFrom` (today or later in
 * Asia/Shanghai as of the caller's `now`). A second schedule for the same category
 * and day is a conflict.
 */
export async function addFeeSchedule(
  db: Db,
  actor: Actor,
  operatorId: string,
  marketId: string,
  raw: FeeScheduleInput,
  now: Date,
): Promise<FeeSchedule> {
  const input = parseOrRefuse(feeScheduleFormSchema, raw, "Fee schedule");
  if (input.effectiveFrom < shanghaiDate(now)) {
    throw new DomainError("validation", "A fee schedule starts today or later", { effectiveFrom: "in_the_past" });
  }
  return inTransaction(db, async (trx) => {
    const market = await getMarket(trx, operatorId, marketId);
    // Serialise schedule changes of one market (the market row is the lock).
    await trx.selectFrom("markets").select("id").where("id", "=", market.id).forUpdate().execute();
    if (!market.categories.includes(input.category)) {
      throw new DomainError("validation", `Not a category of this market: ${input.category}`, { category: "unknown_category" });
    }
    let id: string;
    try {
      const row = await trx
        .insertInto("fee_schedules")
        .values({
          market_id: market.id,
          operator_id: operatorId,
          category: input.category,
          commission_rate_bps: input.commissionRate,
          min_fee_fen: input.minFee,
          effective_from: input.effectiveFrom,
          created_by: actor.userId,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      id = row.id;
    } catch (error) {
      if (isUniqueViolation(error, "fee_schedules_market_category_from")) {
        throw new DomainError("conflict", "A schedule for this category already starts that day", { effectiveFrom: "already_in_use" });
      }
      throw error;
    }
    const schedule = toSchedule(await scheduleQuery(trx).where("id", "=", id).executeTakeFirstOrThrow());
    await recordAudit(trx, actor, {
      action: "fee_schedule.created",
      entityType: "fee_schedule",
      entityId: id,
      organizationId: operatorId,
      after: {
        market_id: market.id,
        category: schedule.category,
        commission_rate_bps: schedule.commissionRateBps,
        min_fee_fen: schedule.minFeeFen,
        effective_from: schedule.effectiveFrom,
      },
    });
    return schedule;
  });
}

/** Every schedule of one of the operator's markets: by category, newest start first (at most 500). */
export async function listFeeSchedules(db: Db, operatorId: string, marketId: string): Promise<FeeSchedule[]> {
  const market = await getMarket(db, operatorId, marketId);
  const rows = await scheduleQuery(db)
    .where("market_id", "=", market.id)
    .where("operator_id", "=", operatorId)
    .orderBy("category")
    .orderBy("effective_from", "desc")
    .limit(FEE_LIMITS.historyMax)
    .execute();
  return rows.map(toSchedule);
}

/**
 * The schedule in force for a category of a market at an instant (its Asia/Shanghai date): the
 * latest effective_from ≤ that date, or null when none has started. Not scoped by operator: the
 * escrow slice calls it for an order already tied to its market.
 */
export async function feeInForce(db: Db, marketId: string, category: string, on: Date): Promise<FeeSchedule | null> {
  if (!isUuid(marketId) || Number.isNaN(on.getTime())) return null;
  const row = await scheduleQuery(db)
    .where("market_id", "=", marketId)
    .where("category", "=", category)
    .where("effective_from", "<=", shanghaiDate(on))
    .orderBy("effective_from", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? toSchedule(row) : null;
}


/**
 * The commission on an order of `amountFen` under a schedule: rate × amount rounded half-even to
 * the fen, at least the schedule's minimum, never more than the amount itself.
 */
export function commissionFen(amountFen: Fen, schedule: Pick<FeeSchedule, "commissionRateBps" | "minFeeFen">): Fen {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw new RangeError(`amountFen must be a non-negative integer, got ${amountFen}`);
  const byRate = Number(divideHalfEven(BigInt(amountFen) * BigInt(schedule.commissionRateBps), 10_000n));
  return Math.min(amountFen, Math.max(byRate, schedule.minFeeFen));
}
