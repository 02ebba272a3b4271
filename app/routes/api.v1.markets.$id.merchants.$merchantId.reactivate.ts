import { reactivateMerchant } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { merchantJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/markets/{id}/merchants/{merchantId}/reactivate` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(reactivateMerchant, async ({ request, principal, params, body, db, actor }) =>
    merchantJson(
      await withMarketProblems(request, () =>
        Market.transitionMarketMerchant(db, actor, principal.organization.id, params.id, params.merchantId, "reactivate", body.reason),
      ),
    ),
  ),
);
