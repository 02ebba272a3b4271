import { getApplication } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/markets/{id}/applications/{applicationId}` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(getApplication, async ({ principal, params, db }) =>
    applicationJson(await Market.getMerchantApplication(db, principal.organization.id, params.id, params.applicationId)),
  ),
);
