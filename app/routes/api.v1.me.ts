import { me } from "~/api/contracts/auth";
import { apiRoute, implement } from "~/api/handler.server";

/** `GET /api/v1/me` — who the credentials act as. */
export const { loader, action } = apiRoute(
  implement(me, async ({ principal }) => ({
    via: principal.via,
    user_id: principal.userId,
    api_key_id: principal.apiKeyId,
    organisation: { id: principal.organization.id, name: principal.organization.name, kind: principal.organization.kind },
    roles: principal.roles,
  })),
);
