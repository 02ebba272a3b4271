import type { Db } from "../../../db";
import { shanghaiDate } from "../shared";
import { dealerTradeHistory } from "../orders";
import { scoreDealer, type ScorecardFeatures } from "./scorecard";

export interface LimitProposal {
  /** The Shanghai business day the history was read as of. */
  asOf: string;
  features: ScorecardFeatures;
  result: ReturnType<typeof scoreDealer>;
}

/**
 * The scorecard's proposal for a dealer of a core enterprise, from its trade history on the
 * platform as of `now`'s Shanghai day. Read-only: the officer decides the limit.
 */
export async function proposeLimit(db: Db, scope: { coreEnterpriseId: string; dealerId: string }, now: Date): Promise<LimitProposal> {
  const asOf = shanghaiDate(now);
  const history = await dealerTradeHistory(db, scope, asOf);
  const features: ScorecardFeatures = {
    orderVolume12mFen: history.orderVolume12mFen,
    // Rounded down: a dealer at 94.99% on time must not reach the 95% band by rounding.
    onTimeRepaymentRatioBps: history.onAccountOrders === 0 ? 0 : Math.floor((history.onAccountRepaidOnTime * 10_000) / history.onAccountOrders),
    onAccountOrders: history.onAccountOrders,
    longestOverdueDays: history.longestOverdueDays,
    tenureMonths: history.tenureMonths,
  };
  return { asOf, features, result: scoreDealer(features) };
}
