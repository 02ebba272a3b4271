import { listSuppliers } from "~/api/contracts/buying";
import { apiRoute, implement } from "~/api/handler.server";
import { pageOfList } from "~/domain/shared";
import { listSuppliersForDealer } from "~/domain/dealers";

/** `GET /api/v1/suppliers` — contracts/buying.ts. */
export const { loader, action } = apiRoute(
  implement(listSuppliers, async ({ principal, query, db }) => {
    const active = (await listSuppliersForDealer(db, principal.organization.id)).filter((s) => s.status === "active");
    const page = pageOfList(active, (s) => s.coreEnterpriseId, { after: query.after, limit: query.limit ?? 50 });
    return {
      data: page.items.map((s) => ({
        id: s.coreEnterpriseId,
        name: s.coreName,
        name_en: s.coreNameEn,
        tier: s.tierName,
        region: s.region,
        payment_terms_days: s.paymentTermsDays,
        credit_limit_fen: s.credit.limitFen,
        credit_available_fen: s.credit.availableFen,
      })),
      next_cursor: page.nextCursor,
    };
  }),
);
