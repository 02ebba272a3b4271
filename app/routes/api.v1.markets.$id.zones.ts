import { createZone, listZones } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { withMarketProblems, zoneJson } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/markets/{id}/zones`, `POST /api/v1/markets/{id}/zones` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(listZones, async ({ principal, params, db }) => {
    // At most MARKET_LIMITS.zonesMax (100) zones: one page.
    const zones = await Market.listZones(db, principal.organization.id, params.id);
    return { data: zones.map(zoneJson), next_cursor: null };
  }),
  implement(createZone, async ({ request, principal, params, body, db, actor }) =>
    zoneJson(await withMarketProblems(request, () => Market.createZone(db, actor, principal.organization.id, params.id, { name: body.name }))),
  ),
);
