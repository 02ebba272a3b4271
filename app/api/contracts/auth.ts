import { z } from "zod";
import { ORGANIZATION_KINDS, ROLES } from "../../../db/schema";
import { defineEndpoint } from "../endpoint";
import { isoTimestamp } from "../schemas";

const organisation = z.object({ id: z.string(), name: z.string(), kind: z.enum(ORGANIZATION_KINDS) });

export const login = defineEndpoint({
  method: "POST",
  path: "/api/v1/auth/login",
  operationId: "login",
  summary: "Exchange email and password for a bearer token acting for one organisation",
  description:
    "The token lasts 12 hours (`expires_at`); send it as `Authorization: Bearer <token>`. A user of several organisations " +
    "names one in `organisation` (its id); without it the answer is 422 naming `organisation` and listing the choices in " +
    "`error.choices`. Wrong credentials are 401 whatever was wrong; repeated failures are throttled (429) like the web login. " +
    "No Idempotency-Key: a retried login only issues another token, and a stored response would keep a live token in the database.",
  tags: ["auth"],
  auth: "none",
  idempotency: "none",
  body: z
    .object({
      email: z.string().min(1).max(254),
      password: z.string().min(1).max(1024),
      organisation: z.string().min(1).max(64).optional().describe("Organisation id; required when the user belongs to several"),
    })
    .strict(),
  response: z.object({
    token: z.string(),
    token_type: z.literal("Bearer"),
    expires_at: isoTimestamp,
    organisation,
  }),
  errors: [401, 422, 429],
});

export const me = defineEndpoint({
  method: "GET",
  path: "/api/v1/me",
  operationId: "whoAmI",
  summary: "The organisation and roles the credentials act with",
  description: "Handy to check a token or API key. `user_id` is null for an API key.",
  tags: ["auth"],
  auth: "required",
  response: z.object({
    via: z.enum(["token", "api_key"]),
    user_id: z.string().nullable(),
    api_key_id: z.string().nullable(),
    organisation,
    roles: z.array(z.enum(ROLES)),
  }),
});

export const endpoints = [login, me];
