import { applicationJson, createApplication, listApplications } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET` and `POST /api/v1/financing/applications` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(listApplications, async ({ principal, query, db }) => {
    const scope = Financing.requireScopeFor(principal.organization.kind, principal.organization.id);
    const rows = await Financing.listApplications(db, scope, { statuses: query.status ? [query.status] : undefined, limit: query.limit });
    return { data: rows.map(applicationJson) };
  }),
  implement(createApplication, async ({ principal, body, db, actor }) => {
    const app = await Financing.applyForOrderFinancing(db, actor, body.order_id, new Date());
    return applicationJson(await Financing.getApplication(db, { kind: "borrower", organizationId: principal.organization.id }, app.id));
  }),
);
