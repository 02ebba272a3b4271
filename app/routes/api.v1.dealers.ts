import { dealerLinkJson, listDealers } from "~/api/contracts/dealers";
import { apiRoute, implement } from "~/api/handler.server";
import { listDealerLinks } from "~/domain/dealers";

/** `GET /api/v1/dealers` — contracts/dealers.ts. */
export const { loader, action } = apiRoute(
  implement(listDealers, async ({ principal, query, db }) => {
    const page = await listDealerLinks(db, principal.organization.id, {
      search: query.search,
      status: query.status,
      tierId: query.tier_id,
      after: query.after,
      limit: query.limit,
    });
    return { data: page.items.map(dealerLinkJson), next_cursor: page.nextCursor };
  }),
);
