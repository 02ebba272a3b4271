import type { LoaderFunctionArgs } from "@remix-run/node";
import * as Settlement from "~/domain/settlement";
import { isBusinessDate } from "~/domain/shared";
import { badRequestOnValidation } from "~/web/supply-chain-access.server";
import { requireMay, requireOrgContext } from "~/web/tenancy.server";

/** GET /settlement/reconciliation.csv?date=YYYY-MM-DD — a day's mismatches, for the bank's operations. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const ctx = await requireOrgContext(request, context);
  requireMay(ctx, "reconciliation.view");
  const date = new URL(request.url).searchParams.get("date") ?? "";
  if (!isBusinessDate(date)) throw new Response("Bad date: YYYY-MM-DD", { status: 400 });
  const who = { organizationId: ctx.organization.organizationId, kind: ctx.organization.kind, roles: ctx.roles };
  await badRequestOnValidation(() => Settlement.getStatementDay(context.db, who, date));
  const csv = await Settlement.mismatchesCsv(context.db, who, date);
  return new Response(csv, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="reconciliation-${date.replaceAll("-", "")}.csv"`,
      "Cache-Control": "private, no-store",
    },
  });
}
