import { announcementJson, listMarketAnnouncements, publishMarketAnnouncement } from "~/api/contracts/market-dashboard";
import { apiRoute, implement } from "~/api/handler.server";
import { listAnnouncementsForOperator, publishAnnouncement } from "~/domain/market";

/** `GET` and `POST /api/v1/markets/{marketId}/announcements` — contracts/market-dashboard.ts. */
export const { loader, action } = apiRoute(
  implement(listMarketAnnouncements, async ({ principal, params, query, db }) => {
    const page = await listAnnouncementsForOperator(db, principal.organization.id, params.marketId, { limit: query.limit, after: query.after });
    return { data: page.items.map(announcementJson), next_cursor: page.nextCursor };
  }),
  implement(publishMarketAnnouncement, async ({ principal, params, body, db, actor }) =>
    announcementJson(await publishAnnouncement(db, actor, principal.organization.id, params.marketId, body))
  )
);
