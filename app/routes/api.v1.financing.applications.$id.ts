import { applicationJson, getApplication } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET /api/v1/financing/applications/{id}` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(getApplication, async ({ principal, params, db }) =>
    applicationJson(await Financing.getApplication(db, Financing.requireScopeFor(principal.organization.kind, principal.organization.id), params.id)),
  ),
);
