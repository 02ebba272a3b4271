import type { AppLoadContext } from "@remix-run/node";
import { MANAGE_ROLES, type SupplyContext } from "./supply-chain-access.server";
import { getMarket, type Market } from "../domain/market";
import type { ActionName } from "../domain/identity";
import { forbidden, notFound, requireMay, requireOrgContext, requireUuidParam, scoped } from "./tenancy.server";

/**
 * Access rules of the market operator's pages: they belong to a `market_operator` organisation
 * (any other kind gets 404, like another tenant's id); any member reads them; owner, admin and
 * sales change them; a viewer reads only. Form helpers are the supply-chain ones
 * (supply-chain-access.server.ts): problem codes per field, the values typed kept.
 */
export async function requireMarketOperator(
  request: Request,
  context: AppLoadContext,
  options: { manage?: boolean; may?: ActionName } = {},
): Promise<SupplyContext> {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "market_operator") notFound();
  const canManage = ctx.roles.some((role) => MANAGE_ROLES.includes(role));
  if (options.manage && !canManage) forbidden(MANAGE_ROLES);
  if (options.may) requireMay(ctx, options.may);
  return { ...ctx, organizationId: ctx.organization.organizationId, canManage };
}

/**
 * One of the acting operator's markets, named by the route's `marketId`, with the operator's
 * context: another operator's market, or an id that is not one, is a 404.
 */
export async function requireOperatorMarket(
  request: Request,
  context: AppLoadContext,
  marketIdParam: string | undefined,
  options: { manage?: boolean; may?: ActionName } = {},
): Promise<SupplyContext & { market: Market }> {
  const ctx = await requireMarketOperator(request, context, options);
  const market = await scoped(() => getMarket(context.db, ctx.organizationId, requireUuidParam(marketIdParam)));
  return { ...ctx, market };
}
