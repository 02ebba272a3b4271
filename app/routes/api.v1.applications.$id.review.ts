import { startReview } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, reviewParts, withProblemSentences } from "~/api/recruitment.server";
import { getApplicationForReview, reviewApplication } from "~/domain/recruitment";

/** `POST /api/v1/applications/{id}/review` — submitted → under_review. */
export const { loader, action } = apiRoute(
  implement(startReview, async ({ principal, params, db, actor, request, context }) =>
    withProblemSentences(request, async () => {
      const coreId = principal.organization.id;
      await reviewApplication(db, actor, coreId, params.id, "start_review", "", new Date());
      return applicationJson(reviewParts(await getApplicationForReview(db, coreId, params.id, { serverSecret: context.config.sessionSecret, now: new Date() })), context.config.publicUrl);
    }),
  ),
);
