import { getMarketDashboard, marketDashboardJson } from "~/api/contracts/market-dashboard";
import { apiRoute, implement } from "~/api/handler.server";
import { marketDashboard, resolveDashboardRange } from "~/domain/market";

/** `GET /api/v1/markets/{marketId}/dashboard?from&to` — contracts/market-dashboard.ts. */
export const { loader, action } = apiRoute(
  implement(getMarketDashboard, async ({ principal, params, query, db }) => {
    const now = new Date();
    const range = resolveDashboardRange({ from: query.from, to: query.to }, now);
    return marketDashboardJson(await marketDashboard(db, principal.organization.id, params.marketId, range, now));
  })
);
