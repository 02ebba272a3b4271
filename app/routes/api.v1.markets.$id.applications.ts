import { createApplication, listApplications } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";
import { listMerchantApplicationsPage } from "~/api/market-venues-views.server";

/** `GET /api/v1/markets/{id}/applications`, `POST /api/v1/markets/{id}/applications` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(listApplications, async ({ request, principal, params, query, db }) => {
    const page = await withMarketProblems(request, () =>
      listMerchantApplicationsPage(db, principal.organization.id, params.id, { status: query.status, after: query.after, limit: query.limit }),
    );
    return { data: page.items.map(applicationJson), next_cursor: page.nextCursor };
  }),
  implement(createApplication, async ({ request, principal, params, body, db, actor }) =>
    applicationJson(
      await withMarketProblems(request, () =>
        Market.submitMerchantApplication(db, actor, principal.organization.id, params.id, {
          uscc: body.uscc,
          companyName: body.company_name,
          legalRepresentative: body.legal_representative,
          contactName: body.contact_name,
          contactPhone: body.contact_phone,
          stallWish: body.stall_wish,
          categories: body.categories,
        }),
      ),
    ),
  ),
);
