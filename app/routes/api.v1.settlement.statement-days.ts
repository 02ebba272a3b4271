import { listStatementDays, statementDayJson } from "~/api/contracts/reconciliation";
import { apiRoute, implement } from "~/api/handler.server";
import * as Settlement from "~/domain/settlement";

/** `GET /api/v1/settlement/statement-days` — contracts/reconciliation.ts. */
export const { loader, action } = apiRoute(
  implement(listStatementDays, async ({ principal, query, db }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    const days = await Settlement.listStatementDays(db, who, { limit: query.limit ?? 30 });
    return { data: days.map(statementDayJson) };
  }),
);
