import { getMarket, updateMarket } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { marketJson, withMarketProblems } from "~/api/market-venues.server";
import { getMarketView, patchMarket } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}`, `POST /api/v1/markets/{id}` (partial update) — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(getMarket, async ({ principal, params, db }) => marketJson(await getMarketView(db, principal.organization, params.id))),
  implement(updateMarket, async ({ request, principal, params, body, db, actor }) => {
    const updated = await withMarketProblems(request, () =>
      patchMarket(db, actor, principal.organization.id, params.id, {
        name: body.name,
        city: body.city,
        categories: body.categories,
        autoConfirmDays: body.auto_confirm_days,
        unpaidExpiryMinutes: body.unpaid_expiry_minutes,
      }),
    );
    return marketJson({ ...updated, membership: null });
  }),
);
