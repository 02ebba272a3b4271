import type { AppLoadContext } from "@remix-run/node";
import type { Role } from "../../db/schema";
import { MANAGE_ROLES, type SupplyContext } from "./supply-chain-access.server";
import { rolesFor, type ActionName } from "../domain/identity";
import { forbidden, notFound, requireMay, requireOrgContext } from "./tenancy.server";

/**
 * Access rules of the market's trading parties' pages (the operator's are market-access.server.ts):
 *  - /merchant/* belongs to a `merchant` organisation, /market/* (shopping, cart) to a `buyer`; any
 *    other kind gets 404, like another tenant's id;
 *  - any member reads; a merchant's owner, admin and sales change its listings; a buyer's owner,
 *    admin and purchaser fill the cart and check out. A viewer or finance member reads only (403
 *    on a change).
 * `canManage` says whether the acting member may change things, for the page to hide the forms.
 */

/** Who may buy for a buyer organisation. */
export const PURCHASE_ROLES: readonly Role[] = rolesFor("market_cart.edit", "buyer");

export async function requireMerchant(request: Request, context: AppLoadContext, options: { manage?: boolean; may?: ActionName } = {}): Promise<SupplyContext> {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "merchant") notFound();
  const canManage = ctx.roles.some((role) => MANAGE_ROLES.includes(role));
  if (options.manage && !canManage) forbidden(MANAGE_ROLES);
  if (options.may) requireMay(ctx, options.may);
  return { ...ctx, organizationId: ctx.organization.organizationId, canManage };
}

export async function requireBuyer(request: Request, context: AppLoadContext, options: { purchase?: boolean; may?: ActionName } = {}): Promise<SupplyContext> {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "buyer") notFound();
  const canManage = ctx.roles.some((role) => PURCHASE_ROLES.includes(role));
  if (options.purchase && !canManage) forbidden(PURCHASE_ROLES);
  if (options.may) requireMay(ctx, options.may);
  return { ...ctx, organizationId: ctx.organization.organizationId, canManage };
}
