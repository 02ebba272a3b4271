import { requestInfo } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, reviewParts, withProblemSentences } from "~/api/recruitment.server";
import { getApplicationForReview, reviewApplication } from "~/domain/recruitment";

/** `POST /api/v1/applications/{id}/request-info` — under_review → info_requested, with the question. */
export const { loader, action } = apiRoute(
  implement(requestInfo, async ({ principal, params, body, db, actor, request, context }) =>
    withProblemSentences(request, async () => {
      const coreId = principal.organization.id;
      await reviewApplication(db, actor, coreId, params.id, "request_info", body.message, new Date());
      return applicationJson(reviewParts(await getApplicationForReview(db, coreId, params.id, { serverSecret: context.config.sessionSecret, now: new Date() })), context.config.publicUrl);
    }),
  ),
);
