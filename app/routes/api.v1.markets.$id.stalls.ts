import { createStall, listStalls } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { stallJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";
import { listStallsPage } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}/stalls`, `POST /api/v1/markets/{id}/stalls` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(listStalls, async ({ request, principal, params, query, db }) => {
    const page = await withMarketProblems(request, () =>
      listStallsPage(db, principal.organization.id, params.id, { status: query.status, zoneId: query.zone_id, after: query.after, limit: query.limit }),
    );
    return { data: page.items.map(stallJson), next_cursor: page.nextCursor };
  }),
  implement(createStall, async ({ request, principal, params, body, db, actor }) =>
    stallJson(
      await withMarketProblems(request, () =>
        Market.createStall(db, actor, principal.organization.id, params.id, {
          code: body.code,
          zoneId: body.zone_id ?? null,
          // Numbers reach the model as dm² and fen (strings would be read as m² and yuan).
          area: body.area_dm2,
          monthlyRent: body.monthly_rent_fen,
        }),
      ),
    ),
  ),
);
