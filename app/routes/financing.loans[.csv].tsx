import type { LoaderFunctionArgs } from "@remix-run/node";
import { exportLoansCsv, requireScopeFor } from "~/domain/financing";
import { shanghaiDate } from "~/domain/shared";
import { requireOrgContext, scoped } from "~/web/tenancy.server";

/** GET /financing/loans.csv?headers=zh|en — the loans the organisation may see (the bank: all). */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const scope = await scoped(async () => requireScopeFor(organization.kind, organization.organizationId));
  const headers = new URL(request.url).searchParams.get("headers") === "en" ? "en" : "zh";
  const csv = await exportLoansCsv(context.db, scope, { headers });
  const day = shanghaiDate(new Date()).replaceAll("-", "");
  return new Response(csv, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="loans-${day}.csv"`,
      "Cache-Control": "private, no-store",
    },
  });
}
