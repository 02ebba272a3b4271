import { login } from "~/api/contracts/auth";
import { ApiError, apiRoute, implement } from "~/api/handler.server";
import { loginForApi } from "~/domain/identity";

/** `POST /api/v1/auth/login` — see contracts/auth.ts. */
export const { loader, action } = apiRoute(
  implement(
    login,
    async ({ body, context, request }) => {
      const result = await loginForApi(context.db, {
        email: body.email,
        password: body.password,
        organisation: body.organisation ?? null,
        ip: context.ip,
        userAgent: request.headers.get("user-agent"),
        requestId: context.requestId,
        now: new Date(),
      });
      if (result.ok) {
        return {
          token: result.token,
          token_type: "Bearer" as const,
          expires_at: result.expiresAt.toISOString(),
          organisation: result.organization,
        };
      }
      switch (result.reason) {
        case "throttled":
          throw new ApiError(429, "rate_limited", `Too many failed attempts: try again in ${result.retryAfterMinutes} minutes`, {}, {
            "Retry-After": String(result.retryAfterMinutes * 60),
          });
        case "organisation_required":
        case "unknown_organisation":
          throw new ApiError(
            422,
            "validation",
            `${result.reason === "organisation_required" ? "You belong to several organisations" : "You are not a member of that organisation"}: ` +
              `name one in organisation (${result.choices.map((c) => `${c.id} ${c.name}`).join("; ")})`,
            { organisation: result.reason === "organisation_required" ? "required" : "not_a_member" },
            {},
            { choices: result.choices },
          );
        case "no_organization":
          throw new ApiError(403, "forbidden", "This account belongs to no organisation yet");
        default:
          throw new ApiError(401, "unauthenticated", "Wrong email or password", {});
      }
    },
  ),
);
