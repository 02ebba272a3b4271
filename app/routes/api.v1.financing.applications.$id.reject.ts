import { applicationJson, rejectApplication } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `POST /api/v1/financing/applications/{id}/reject` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(rejectApplication, async ({ principal, params, body, db, actor }) => {
    void body;
    const scope = Financing.requireScopeFor(principal.organization.kind, principal.organization.id);
    // Another tenant's application is a 404 before anything is tried.
    await Financing.getApplication(db, scope, params.id);
    await Financing.rejectApplication(db, actor, params.id, body.reason, new Date());
    return applicationJson(await Financing.getApplication(db, scope, params.id));
  }),
);
