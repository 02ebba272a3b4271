import { getPayout, payoutJson } from "~/api/contracts/payouts";
import { apiRoute, implement } from "~/api/handler.server";
import * as Settlement from "~/domain/settlement";

/** `GET /api/v1/settlement/payouts/{id}` — contracts/payouts.ts. */
export const { loader, action } = apiRoute(
  implement(getPayout, async ({ principal, params, db }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    return payoutJson(await Settlement.getPayout(db, who, params.id));
  }),
);
