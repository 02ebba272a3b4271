import { z } from "zod";
import { readConfig } from "../app/config.server";
import { epayGatewayFromConfig, type EpayGateway } from "../app/domain/payments";
import { importStatement, statementImported, yesterdayInShanghai } from "../app/domain/settlement";
import type { Step } from "./registry";

/**
 * Reconciliation's step (decision 027): fetch the gateway's statement of a day (yesterday in
 * Asia/Shanghai unless the payload names one) and import and match it. Asking is cheap and the
 * import is idempotent (the same file changes nothing), so the schedule asks every hour: a day the
 * gateway was down for is imported on the next try. The gateway is asked outside any transaction.
 */
export const RECONCILE_STATEMENT_JOB = "settlement.statement_import";

const payload = z.object({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional() }).strict();
export const parseReconcileStatementPayload = (data: unknown) => payload.parse(data ?? {});

export function createReconcileStatementStep(gatewayOf: () => EpayGateway = () => epayGatewayFromConfig(readConfig())): Step<z.infer<typeof payload>> {
  return async (deps, input) => {
    const now = deps.now?.() ?? new Date();
    const date = input.date ?? yesterdayInShanghai(now);
    if (await statementImported(deps.db, date)) return;
    const statement = await gatewayOf().statement(date);
    const outcome = await importStatement(deps.db, statement, now);
    if (outcome.imported) deps.logger.info(outcome, "gateway statement imported and matched");
  };
}

export const reconcileStatementStep = createReconcileStatementStep();
