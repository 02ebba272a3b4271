import { listLoans, loanItemJson } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET /api/v1/financing/loans` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(listLoans, async ({ principal, query, db }) => {
    const scope = Financing.requireScopeFor(principal.organization.kind, principal.organization.id);
    const page = await Financing.listLoansPage(db, scope, { statuses: query.status ? [query.status] : undefined, limit: query.limit ?? 50, after: query.after ?? null });
    return { data: page.items.map(loanItemJson), next_cursor: page.nextCursor };
  }),
);
