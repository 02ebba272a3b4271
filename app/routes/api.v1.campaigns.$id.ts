import { getCampaign } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { publicCampaignJson } from "~/api/recruitment.server";
import { getPublicCampaign } from "~/domain/recruitment";

/** `GET /api/v1/campaigns/{id}` — public: a published or closed campaign; a draft is 404. */
export const { loader, action } = apiRoute(
  implement(getCampaign, async ({ params, db, context }) => publicCampaignJson(await getPublicCampaign(db, params.id, new Date()), context.config.publicUrl)),
);
