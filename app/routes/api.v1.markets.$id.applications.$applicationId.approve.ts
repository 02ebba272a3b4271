import { approveApplication } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, merchantJson, withMarketProblems } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/markets/{id}/applications/{applicationId}/approve` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(approveApplication, async ({ request, principal, params, body, db, actor }) => {
    const approved = await withMarketProblems(request, () =>
      Market.approveMerchantApplication(db, actor, principal.organization.id, params.id, params.applicationId, { stallId: body.stall_id }),
    );
    return {
      ...applicationJson(approved.application),
      merchant: merchantJson(approved.merchant),
      organization_created: approved.createdOrganization,
    };
  }),
);
