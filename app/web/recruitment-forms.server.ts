import type { AppLoadContext } from "@remix-run/node";
import { isDomainError } from "../domain/shared";
import { requireCoreEnterprise, type SupplyContext } from "./supply-chain-access.server";
import type { ActionName } from "../domain/identity";
import { forbidden, notFound, rolesOfRefusal } from "./tenancy.server";

/**
 * The web side of recruitment's forms, in one place: who may use the campaign pages, and how a
 * model's refusal becomes what the page shows (problem codes next to fields, or above the form when
 * no field on it explains the refusal). Codes are translated by the page as `recruitment.problem.*`.
 */

/** Campaign pages belong to a core enterprise (any other kind: 404); owner/admin/sales may act. */
export function requireRecruiter(request: Request, context: AppLoadContext, options: { manage?: boolean; may?: ActionName } = {}): Promise<SupplyContext> {
  return requireCoreEnterprise(request, context, options);
}

export interface FormFailure {
  intent: string;
  fieldErrors: Record<string, string>;
  /** A problem code no field on this form explains (shown above the form). */
  formProblem: string | null;
  /** The model's English sentence, shown when the code has no translation. */
  formMessage: string | null;
  values: Record<string, string>;
}

/** Values as sent, to put back into the form; each cut to a sane size. */
export function keepValues(form: FormData, fields: readonly string[], maxChars = 5_000): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of fields) {
    const value = form.get(field);
    if (typeof value === "string") values[field] = value.slice(0, maxChars);
  }
  return values;
}

/**
 * A model refusal as a form failure and its status. `not_found` stays a 404 page (another tenant's
 * id reads like a missing one); `forbidden` a 403. Anything that is not a DomainError is a bug and
 * is rethrown.
 */
export function formFailure(
  error: unknown,
  intent: string,
  values: Record<string, string>,
  formFields: readonly string[],
  rename: (field: string) => string = (f) => f,
): { failure: FormFailure; status: number } {
  if (!isDomainError(error)) throw error;
  if (error.code === "not_found") notFound();
  if (error.code === "forbidden") forbidden(rolesOfRefusal(error));
  const fieldErrors: Record<string, string> = {};
  let formProblem: string | null = error.code === "rate_limited" ? "rate_limited" : null;
  for (const [field, code] of Object.entries(error.fields)) {
    const name = rename(field);
    if (formFields.includes(name)) fieldErrors[name] ??= code;
    else formProblem ??= code;
  }
  const formMessage = Object.keys(fieldErrors).length === 0 ? error.message : null;
  return { failure: { intent, fieldErrors, formProblem, formMessage, values }, status: error.status };
}

/** Field errors from a zod parse (first per field). */
export function fieldFailure(intent: string, fieldErrors: Record<string, string>, values: Record<string, string>): FormFailure {
  return { intent, fieldErrors, formProblem: null, formMessage: null, values };
}

/** Private pages (status link, invitation) must not leak their URL onwards nor be cached. */
export const PRIVATE_PAGE_HEADERS = {
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex",
} as const;
