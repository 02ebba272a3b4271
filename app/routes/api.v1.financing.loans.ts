import { listLoans, loanItemJson } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET /api/v1/financing/loans` — contracts/financing.ts. Cursor: the last loan's id of the page. */
export const { loader, action } = apiRoute(
  implement(listLoans, async ({ principal, query, db }) => {
    const scope = Financing.requireScopeFor(principal.organization.kind, principal.organization.id);
    const limit = query.limit ?? 50;
    const rows = await Financing.listLoans(db, scope, { statuses: query.status ? [query.status] : undefined, limit: limit + 1, after: query.after ?? null });
    const page = rows.slice(0, limit);
    return { data: page.map(loanItemJson), next_cursor: rows.length > limit ? page[page.length - 1]!.id : null };
  }),
);
