import { rejectApplication } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, reviewParts, withProblemSentences } from "~/api/recruitment.server";
import { getApplicationForReview, reviewApplication } from "~/domain/recruitment";

/** `POST /api/v1/applications/{id}/reject` — with the reason the applicant reads. */
export const { loader, action } = apiRoute(
  implement(
    rejectApplication,
    async ({ principal, params, body, db, actor, request, context }) =>
      withProblemSentences(request, async () => {
        const coreId = principal.organization.id;
        await reviewApplication(db, actor, coreId, params.id, "reject", body.reason, new Date());
        return applicationJson(reviewParts(await getApplicationForReview(db, coreId, params.id, { serverSecret: context.config.sessionSecret, now: new Date() })), context.config.publicUrl);
      }),
    // The model names the reason `message`; this endpoint calls it `reason`.
    { fieldNames: { message: "reason" } },
  ),
);
