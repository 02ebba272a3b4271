import { listMerchants } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { merchantJson, withMarketProblems } from "~/api/market-venues.server";
import { listMarketMerchantsPage } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}/merchants` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(listMerchants, async ({ request, principal, params, query, db }) => {
    const page = await withMarketProblems(request, () =>
      listMarketMerchantsPage(db, principal.organization.id, params.id, { status: query.status, after: query.after, limit: query.limit }),
    );
    return { data: page.items.map(merchantJson), next_cursor: page.nextCursor };
  }),
);
