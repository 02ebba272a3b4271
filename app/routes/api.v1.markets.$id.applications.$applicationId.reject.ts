import { rejectApplication } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/markets/{id}/applications/{applicationId}/reject` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(rejectApplication, async ({ request, principal, params, body, db, actor }) =>
    applicationJson(
      await withMarketProblems(request, () =>
        Market.rejectMerchantApplication(db, actor, principal.organization.id, params.id, params.applicationId, body.reason),
      ),
    ),
  ),
);
