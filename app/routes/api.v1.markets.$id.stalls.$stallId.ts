import { getStall, updateStall } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { stallJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";
import { patchStall } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}/stalls/{stallId}`, `POST …/{stallId}` (partial update) — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(getStall, async ({ principal, params, db }) => stallJson(await Market.getStall(db, principal.organization.id, params.id, params.stallId))),
  implement(updateStall, async ({ request, principal, params, body, db, actor }) =>
    stallJson(
      await withMarketProblems(request, () =>
        patchStall(db, actor, principal.organization.id, params.id, params.stallId, {
          zoneId: body.zone_id,
          areaDm2: body.area_dm2,
          monthlyRentFen: body.monthly_rent_fen,
        }),
      ),
    ),
  ),
);
