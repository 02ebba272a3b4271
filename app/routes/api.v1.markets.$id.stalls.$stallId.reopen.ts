import { reopenStall } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { stallJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/markets/{id}/stalls/{stallId}/reopen` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(reopenStall, async ({ request, principal, params, db, actor }) =>
    stallJson(await withMarketProblems(request, () => Market.transitionStall(db, actor, principal.organization.id, params.id, params.stallId, "reopen"))),
  ),
);
