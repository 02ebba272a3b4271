import type { AppLoadContext } from "@remix-run/node";
import type { z } from "zod";
import type { Role } from "../../db/schema";
import { isDomainError } from "../domain/shared";
import { rolesFor, type ActionName } from "../domain/identity";
import { forbidden, notFound, requireMay, requireOrgContext, rolesOfRefusal, type OrgContext } from "./tenancy.server";

/**
 * Access rules of the supply-chain pages, in one place:
 *  - the catalogue, pricing and network pages belong to a core enterprise: any other kind of
 *    organisation gets 404 (the page does not exist for it), like another tenant's id;
 *  - any member may read them; owner, admin and sales may change them; a viewer reads only;
 *  - /shop belongs to a dealer.
 */

/**
 * Who may change a seller's things, for the pages' `canManage` (which forms to show): the table's
 * roles for a seller's writes (app/domain/identity/permissions.ts). Actions check their own entry (`may:`).
 */
export const MANAGE_ROLES: readonly Role[] = rolesFor("catalog.sku_write", "core_enterprise");

export interface SupplyContext extends OrgContext {
  organizationId: string;
  canManage: boolean;
}

export async function requireCoreEnterprise(
  request: Request,
  context: AppLoadContext,
  options: { manage?: boolean; may?: ActionName } = {},
): Promise<SupplyContext> {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "core_enterprise") notFound();
  const canManage = ctx.roles.some((role) => MANAGE_ROLES.includes(role));
  if (options.manage && !canManage) forbidden(MANAGE_ROLES);
  if (options.may) requireMay(ctx, options.may);
  return { ...ctx, organizationId: ctx.organization.organizationId, canManage };
}

export async function requireDealer(request: Request, context: AppLoadContext, options: { may?: ActionName } = {}): Promise<SupplyContext> {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "dealer") notFound();
  if (options.may) requireMay(ctx, options.may);
  return { ...ctx, organizationId: ctx.organization.organizationId, canManage: false };
}

// ---------------------------------------------------------------------------------------------
// Forms: every error is a problem code per field (pages show `catalog.problem.<code>`), plus the
// values typed, so the page re-renders the form as it was sent.

export type FieldErrors = Record<string, string>;

export interface FormFailure {
  intent: string;
  fieldErrors: FieldErrors;
  /** A refusal no field explains: the domain's sentence (English), shown above the form. */
  formError: string | null;
  values: Record<string, string>;
}

export function formValues(form: FormData, fields: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of fields) {
    const value = form.get(field);
    // Cut to a sane size: the value only goes back into the form.
    if (typeof value === "string") values[field] = value.slice(0, 500);
  }
  return values;
}

export function zodFieldErrors(error: z.ZodError): FieldErrors {
  const fieldErrors: FieldErrors = {};
  for (const issue of error.issues) {
    const field = issue.path[0];
    if (typeof field === "string" && !fieldErrors[field]) fieldErrors[field] = issue.message;
  }
  return fieldErrors;
}

/**
 * A model's refusal as a form failure: validation and conflicts name fields; `not_found` from a
 * model means another tenant's (or no) id, so it stays a 404. Anything else is a bug: rethrown.
 */
export function domainFailure(error: unknown, intent: string, values: Record<string, string>): { failure: FormFailure; status: number } {
  if (!isDomainError(error)) throw error;
  if (error.code === "not_found") notFound();
  if (error.code === "forbidden") forbidden(rolesOfRefusal(error));
  const fieldErrors: FieldErrors = { ...error.fields };
  // Field codes are translated next to their fields; the English sentence is shown only when no
  // field explains the refusal.
  const formError = Object.keys(fieldErrors).length === 0 ? error.message : null;
  return { failure: { intent, fieldErrors, formError, values }, status: error.status };
}

/**
 * For loaders: a bad query parameter (a forged cursor) is a 400 naming it, a model's `not_found`
 * a 404 — never a 500.
 */
export async function badRequestOnValidation<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isDomainError(error) && error.code === "validation") {
      const field = Object.keys(error.fields)[0] ?? "query";
      throw new Response(`Bad ${field}: ${error.message}`, { status: 400, statusText: "Bad Request" });
    }
    if (isDomainError(error) && error.code === "not_found") notFound();
    throw error;
  }
}
