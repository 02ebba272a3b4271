import { getLoan, loanJson } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET /api/v1/financing/loans/{id}` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(getLoan, async ({ principal, params, db }) =>
    loanJson(await Financing.getLoan(db, Financing.requireScopeFor(principal.organization.kind, principal.organization.id), params.id, new Date())),
  ),
);
