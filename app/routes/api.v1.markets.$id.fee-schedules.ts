import { createFeeSchedule, listFeeSchedules } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { feeScheduleJson, withMarketProblems } from "~/api/market-venues.server";
import { addFeeSchedule } from "~/domain/market";
import { getFeeScheduleView, listFeeSchedulesPage } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}/fee-schedules`, `POST /api/v1/markets/{id}/fee-schedules` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(listFeeSchedules, async ({ request, principal, params, query, db }) => {
    const page = await withMarketProblems(request, () =>
      listFeeSchedulesPage(db, principal.organization.id, params.id, { category: query.category, after: query.after, limit: query.limit }),
    );
    return { data: page.items.map(feeScheduleJson), next_cursor: page.nextCursor };
  }),
  implement(createFeeSchedule, async ({ request, principal, params, body, db, actor }) => {
    const operatorId = principal.organization.id;
    const added = await withMarketProblems(request, () =>
      // Numbers reach the model as basis points and fen (strings would be read as % and yuan).
      addFeeSchedule(db, actor, operatorId, params.id, {
        category: body.category,
        commissionRate: body.commission_rate_bps,
        minFee: body.min_fee_fen ?? 0,
        effectiveFrom: body.effective_from,
      }, new Date()),
    );
    return feeScheduleJson(await getFeeScheduleView(db, operatorId, params.id, added.id));
  }),
);
