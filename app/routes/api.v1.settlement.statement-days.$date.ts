import { getStatementDay, mismatchJson, statementDayJson } from "~/api/contracts/reconciliation";
import { apiRoute, implement } from "~/api/handler.server";
import * as Settlement from "~/domain/settlement";

/** `GET /api/v1/settlement/statement-days/{date}` — contracts/reconciliation.ts. */
export const { loader, action } = apiRoute(
  implement(getStatementDay, async ({ principal, params, db }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    const day = await Settlement.getStatementDay(db, who, params.date);
    const mismatches = await Settlement.listMismatches(db, who, params.date);
    return { day: statementDayJson(day), mismatches: mismatches.map(mismatchJson) };
  }),
);
