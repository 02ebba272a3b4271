import { submitApplication as submitApplicationSpec } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, withProblemSentences } from "~/api/recruitment.server";
import { getApplicationByToken, submitApplication } from "~/domain/recruitment";

/**
 * `POST /api/v1/campaigns/{id}/applications` — public, with an Idempotency-Key: a retried request
 * gets the stored answer (same token) instead of a second application.
 */
export const { loader, action } = apiRoute(
  implement(
    submitApplicationSpec,
    async ({ params, body, db, actor, request, context }) =>
      withProblemSentences(request, async () => {
        const submitted = await submitApplication(db, actor, {
          campaignId: params.id,
          input: {
            companyName: body.company_name,
            uscc: body.uscc,
            legalRepresentative: body.legal_representative,
            contactName: body.contact_name,
            contactPhone: body.contact_phone,
            contactEmail: body.contact_email,
            region: body.region,
            channels: body.channels,
            notes: body.notes,
          },
          now: new Date(),
        });
        const view = await getApplicationByToken(db, submitted.application.campaignId, submitted.token, { serverSecret: context.config.sessionSecret, now: new Date() });
        return {
          ...applicationJson(view, context.config.publicUrl, { statusUrl: `${context.config.publicUrl}${submitted.statusPath}` }),
          access_token: submitted.token,
        };
      }),
  ),
);
