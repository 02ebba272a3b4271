import { getMarketDashboard, marketDashboardJson } from "~/api/contracts/market-dashboard";
import { apiRoute, implement } from "~/api/handler.server";
import { marketDashboard, resolveDashboardRange } from "~/domain/market/dashboard.server";

/** `GET /api/v1/markets/{marketId}/dashboard?from&to` — contracts/market-dashboard.ts. */
export const { loader, action } = apiRoute(
  implement(getMarketDashboard, async ({ principal, params, query, db }) => {
    const range = resolveDashboardRange({ from: query.from, to: query.to });
    return marketDashboardJson(await marketDashboard(db, principal.organization.id, params.marketId, range));
  })
);
