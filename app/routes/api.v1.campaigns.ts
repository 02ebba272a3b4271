import { createCampaign as createCampaignSpec, listCampaigns as listCampaignsSpec } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { campaignJson, withProblemSentences } from "~/api/recruitment.server";
import { createCampaign, listCampaignsPage, transitionCampaign } from "~/domain/recruitment";

/** `GET /api/v1/campaigns` (cursor pages), `POST /api/v1/campaigns` — contracts/recruitment.ts. */
export const { loader, action } = apiRoute(
  implement(listCampaignsSpec, async ({ principal, query, db, context, request }) => {
    const page = await withProblemSentences(request, () =>
      listCampaignsPage(db, principal.organization.id, { status: query.status ?? null, after: query.after ?? null, limit: query.limit }),
    );
    return { data: page.items.map((c) => campaignJson(c, context.config.publicUrl)), next_cursor: page.nextCursor };
  }),
  implement(createCampaignSpec, async ({ principal, body, db, actor, request, context }) =>
    withProblemSentences(request, async () => {
      const coreId = principal.organization.id;
      // Create and (when asked) publish in the request's one transaction: both or neither.
      const campaign = await createCampaign(db, actor, coreId, {
        title: body.title,
        description: body.description,
        requirements: body.requirements,
        regions: body.regions,
        quota: body.quota,
        depositFen: body.deposit_fen ?? 0,
        closesOn: body.closes_on,
        tierId: body.tier_id ?? null,
        creditLimitFen: body.credit_limit_fen ?? 0,
        paymentTermsDays: body.payment_terms_days ?? 30,
      }, { now: new Date() });
      const result = body.publish ? await transitionCampaign(db, actor, coreId, campaign.id, "publish", { now: new Date() }) : campaign;
      return campaignJson(result, context.config.publicUrl);
    }),
  ),
);
