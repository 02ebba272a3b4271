import { approveApplication as approveApplicationSpec } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, reviewParts, withProblemSentences } from "~/api/recruitment.server";
import { approveApplication, getApplicationForReview } from "~/domain/recruitment";

/**
 * `POST /api/v1/applications/{id}/approve` — one transaction (the request's): the campaign's lock,
 * the dealer, its link and credit, the invitation. The invitation link is logged: no email is sent.
 */
export const { loader, action } = apiRoute(
  implement(
    approveApplicationSpec,
    async ({ principal, params, body, db, actor, request, context, logger }) =>
      withProblemSentences(request, async () => {
        const coreId = principal.organization.id;
        const serverSecret = context.config.sessionSecret;
        const approved = await approveApplication(db, actor, coreId, params.id, { note: body.note, serverSecret, now: new Date() });
        if (approved.invitationPath) {
          logger.info(
            { applicationId: params.id, invitationUrl: `${context.config.publicUrl}${approved.invitationPath}` },
            "recruitment: invitation link for the new dealer's owner (no email is sent)",
          );
        }
        return applicationJson(reviewParts(await getApplicationForReview(db, coreId, params.id, { serverSecret, now: new Date() })), context.config.publicUrl);
      }),
    { fieldNames: { message: "note" } },
  ),
);
