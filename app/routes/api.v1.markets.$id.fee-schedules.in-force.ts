import { feeInForce } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { feeInForceJson, withMarketProblems } from "~/api/market-venues.server";
import { feeScheduleInForce } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}/fee-schedules/in-force?category=&on=` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(feeInForce, async ({ request, principal, params, query, db }) =>
    feeInForceJson(
      await withMarketProblems(request, () => feeScheduleInForce(db, principal.organization.id, params.id, { category: query.category, on: query.on })),
    ),
  ),
);
