/**
 * The identity context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { ACTIONS, assertMay, may, mayMap, rolesFor } from "./permissions";
export type { ActionName } from "./permissions";
export { API_KEY_DEFAULT_ROLES, API_KEY_LIMITS, authenticateApiKey, createApiKey, listApiKeys, looksLikeApiKey, revokeApiKey } from "./api-keys.server";
export { authenticateApiToken, loginForApi, purgeExpiredApiRows } from "./api-tokens.server";
export type { ApiPrincipal } from "./api-tokens.server";
export { SESSION_TTL_MS, displayNames, hashToken, login, logout, newToken, purgeExpiredAuthRows, setUserLocale, switchSessionOrganization, tokensEqual } from "./auth.server";
export { INVITATION_LIMITS, acceptInvitationAsNewUser, acceptInvitationAsUser, acceptInvitationFormSchema, createInvitation, findInvitationByToken, pendingInvitationLink, reissueInvitation } from "./invitations.server";
export type { Invitation } from "./invitations.server";
export { addMembership, createOrganization, listMembershipsForUser, listOrganizationsOfKind } from "./organizations.server";
export type { OrganizationMembership } from "./organizations.server";
export { hashPassword } from "./passwords.server";
