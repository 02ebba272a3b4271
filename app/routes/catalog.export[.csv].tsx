import type { LoaderFunctionArgs } from "@remix-run/node";
import { exportSkusCsv } from "~/domain/catalog";
import { requireCoreEnterprise } from "~/web/supply-chain-access.server";
import { shanghaiDate } from "~/domain/shared";

/** GET /catalog/export.csv?headers=zh|en — every SKU, importable again as it is. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireCoreEnterprise(request, context);
  const headers = new URL(request.url).searchParams.get("headers") === "en" ? "en" : "zh";
  const csv = await exportSkusCsv(context.db, organizationId, { headers });
  const day = shanghaiDate(new Date()).replaceAll("-", "");
  return new Response(csv, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="catalog-${day}.csv"`,
      "Cache-Control": "private, no-store",
    },
  });
}
