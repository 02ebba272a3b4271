import { publishCampaign } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { campaignJson, withProblemSentences } from "~/api/recruitment.server";
import { transitionCampaign } from "~/domain/recruitment";

/** `POST /api/v1/campaigns/{id}/publish` — by the campaign state machine; another tenant's id is 404. */
export const { loader, action } = apiRoute(
  implement(publishCampaign, async ({ principal, params, db, actor, request, context }) =>
    withProblemSentences(request, async () =>
      campaignJson(await transitionCampaign(db, actor, principal.organization.id, params.id, "publish", { now: new Date() }), context.config.publicUrl),
    ),
  ),
);
