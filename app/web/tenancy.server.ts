import { redirect, type AppLoadContext } from "@remix-run/node";
import type { OrganizationKind, Role } from "../../db/schema";
import { getSession, type CurrentSession, type SessionUser } from "../session.server";
import type { Actor } from "../domain/shared";
import { isDomainError, isUuid } from "../domain/shared";
import { assertMay, type ActionName, listMembershipsForUser, type OrganizationMembership } from "../domain/identity";

/**
 * THE scoping helper. Every loader and action that touches tenant data starts here and passes
 * `organization.organizationId` to the model functions it calls; the models filter by it. So an id
 * from another organisation, in a URL or a form, meets a query that cannot see it, and the answer
 * is 404 — the same answer as for an id that does not exist, so nothing leaks about other tenants.
 */

export interface UserContext {
  session: CurrentSession;
  user: SessionUser;
  actor: Actor;
}

export interface OrgContext extends UserContext {
  /** The acting organisation: the session's, or the one asked for (and proved) via `organizationId`. */
  organization: OrganizationMembership;
  roles: Role[];
  memberships: OrganizationMembership[];
}

export function notFound(): never {
  throw new Response("Not found", { status: 404, statusText: "Not Found" });
}

/**
 * 403. With `roles` (who may do it), the body says so as JSON (`{ forbidden: { roles } }`), and
 * the page's error boundary names them in the reader's language.
 */
export function forbidden(roles?: readonly string[]): never {
  if (roles && roles.length > 0) {
    throw new Response(JSON.stringify({ forbidden: { roles } }), {
      status: 403,
      statusText: "Forbidden",
      headers: { "Content-Type": "application/json; charset=utf-8" },
    });
  }
  throw new Response("Forbidden", { status: 403, statusText: "Forbidden" });
}

/** The roles a `forbidden` DomainError names (`fields.roles`, comma-separated). */
export function rolesOfRefusal(error: { fields: Record<string, string> }): string[] {
  return (error.fields.roles ?? "").split(",").map((r) => r.trim()).filter(Boolean);
}

/**
 * The page side of the one permission table (app/domain/identity/permissions.ts): 404 when the action
 * does not exist for this kind of organisation, 403 naming the roles when the member lacks them.
 */
export function requireMay(ctx: { roles: readonly Role[]; organization: { kind: OrganizationKind } }, action: ActionName): void {
  try {
    assertMay(ctx.roles, action, ctx.organization.kind);
  } catch (error) {
    if (isDomainError(error) && error.code === "not_found") notFound();
    if (isDomainError(error) && error.code === "forbidden") forbidden(rolesOfRefusal(error));
    throw error;
  }
}

function loginRedirect(request: Request): never {
  const url = new URL(request.url);
  const target = url.pathname + url.search;
  // A GET to the page the user wanted is where they go back after logging in; after a POST
  // there is no page to return to, so the dashboard.
  const redirectTo = request.method === "GET" && target !== "/" ? target : null;
  throw redirect(redirectTo ? `/login?redirectTo=${encodeURIComponent(redirectTo)}` : "/login");
}

function actorFor(context: AppLoadContext, userId: string, organizationId: string | null): Actor {
  return { userId, organizationId, ip: context.ip, requestId: context.requestId };
}

/** A signed-in user, or a redirect to /login?redirectTo=… */
export async function requireUser(request: Request, context: AppLoadContext): Promise<UserContext> {
  const session = await getSession(request, context);
  if (!session) loginRedirect(request);
  return { session, user: session.user, actor: actorFor(context, session.user.id, session.organizationId) };
}

export interface OrgContextOptions {
  /** At least one of these roles in the acting organisation, else 403. */
  roles?: readonly Role[];
  /**
   * Act as this organisation instead of the session's (e.g. the target of an org switch). Any id
   * the user is not a member of — another tenant's, or one that does not exist — is a 404.
   */
  organizationId?: string;
  /** The action about to be done (app/domain/identity/permissions.ts): 404 if not this kind's, 403 naming the roles if not allowed. */
  may?: ActionName;
}

export async function requireOrgContext(
  request: Request,
  context: AppLoadContext,
  options: OrgContextOptions = {},
): Promise<OrgContext> {
  const { session, user } = await requireUser(request, context);
  const memberships = await listMembershipsForUser(context.db, user.id);
  const wanted = options.organizationId ?? session.organizationId;
  let organization = memberships.find((m) => m.organizationId === wanted);
  if (!organization) {
    if (options.organizationId !== undefined) notFound();
    // The session points at an organisation the user has since left: act as the first one the
    // user still belongs to (switching persists a choice). With none left, nothing is allowed.
    organization = memberships[0];
    if (!organization) loginRedirect(request);
  }
  if (options.roles && !organization.roles.some((role) => options.roles?.includes(role))) forbidden(options.roles);
  if (options.may) requireMay({ roles: organization.roles, organization }, options.may);
  return {
    session,
    user,
    organization,
    roles: organization.roles,
    memberships,
    actor: actorFor(context, user.id, organization.organizationId),
  };
}

/** The acting organisation, which must be of one of `kinds`: another kind's page does not exist (404). */
export async function requireOrgOfKind(request: Request, context: AppLoadContext, ...kinds: OrganizationKind[]): Promise<OrgContext> {
  const ctx = await requireOrgContext(request, context);
  if (!kinds.includes(ctx.organization.kind)) notFound();
  return ctx;
}

/**
 * An id from a URL or form: anything that is not a UUID cannot name a row, so 404 at once
 * (rather than letting PostgreSQL reject the cast with a 500).
 */
export function requireUuidParam(value: string | undefined | null): string {
  if (!value || !isUuid(value)) notFound();
  return value.toLowerCase();
}

/** Runs a model call scoped to the organisation; the model's `not_found` becomes a 404 page. */
export async function scoped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isDomainError(error) && error.code === "not_found") notFound();
    if (isDomainError(error) && error.code === "forbidden") forbidden(rolesOfRefusal(error));
    throw error;
  }
}
