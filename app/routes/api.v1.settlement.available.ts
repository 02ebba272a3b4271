import { availableJson, getAvailableForPayout } from "~/api/contracts/payouts";
import { apiRoute, implement } from "~/api/handler.server";
import * as Settlement from "~/domain/settlement";

/** `GET /api/v1/settlement/available` — contracts/payouts.ts. */
export const { loader, action } = apiRoute(
  implement(getAvailableForPayout, async ({ principal, db }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    return availableJson(await Settlement.getAvailableForPayout(db, who, new Date()));
  }),
);
