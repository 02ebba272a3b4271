import { APPLICATION_TOKEN_HEADER, getApplication } from "~/api/contracts/recruitment";
import { apiRoute, implement } from "~/api/handler.server";
import { applicationJson, reviewParts } from "~/api/recruitment.server";
import { DomainError } from "~/domain/shared";
import { getApplicationByToken, getApplicationForReview } from "~/domain/recruitment";

/**
 * `GET /api/v1/applications/{id}` — for the core enterprise it was sent to (bearer token or API key),
 * or for the applicant with `X-Application-Token`. Everyone else: 404, as for an id that does not exist.
 */
export const { loader, action } = apiRoute(
  implement(getApplication, async ({ principal, params, db, request, context }) => {
    const serverSecret = context.config.sessionSecret;
    if (principal && principal.organization.kind === "core_enterprise") {
      return applicationJson(reviewParts(await getApplicationForReview(db, principal.organization.id, params.id, { serverSecret, now: new Date() })), context.config.publicUrl);
    }
    const token = request.headers.get(APPLICATION_TOKEN_HEADER);
    if (!token || token.length > 100) throw new DomainError("not_found", "Application not found");
    return applicationJson(await getApplicationByToken(db, { applicationId: params.id }, token, { serverSecret, now: new Date() }), context.config.publicUrl);
  }),
);
