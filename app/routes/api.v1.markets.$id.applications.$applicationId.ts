import { getApplication } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson } from "~/api/market-venues.server";
import * as market from "~/domain/market";

/** `GET /api/v1/markets/{id}/applications/{applicationId}` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(getApplication, async ({ principal, params, db }) =>
    applicationJson(await market.getMerchantApplication(db, principal.organization.id, params.id, params.applicationId)),
  ),
);
