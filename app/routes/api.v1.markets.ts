import { createMarket, listMarkets, MARKET_DEFAULTS } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { marketJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";
import { listMarketsPage } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets`, `POST /api/v1/markets` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(listMarkets, async ({ request, principal, query, db }) => {
    const page = await withMarketProblems(request, () =>
      listMarketsPage(db, principal.organization, { status: query.status, after: query.after, limit: query.limit }),
    );
    return { data: page.items.map(marketJson), next_cursor: page.nextCursor };
  }),
  implement(createMarket, async ({ request, principal, body, db, actor }) => {
    const created = await withMarketProblems(request, () =>
      Market.createMarket(db, actor, principal.organization.id, {
        name: body.name,
        city: body.city,
        categories: body.categories,
        autoConfirmDays: body.auto_confirm_days ?? MARKET_DEFAULTS.autoConfirmDays,
        unpaidExpiryMinutes: body.unpaid_expiry_minutes ?? MARKET_DEFAULTS.unpaidExpiryMinutes,
      }),
    );
    return marketJson({ ...created, membership: null });
  }),
);
