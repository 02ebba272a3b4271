import { listSupplierSkus } from "~/api/contracts/buying";
import { apiRoute, implement } from "~/api/handler.server";
import { getSupplierForDealer } from "~/domain/dealers";
import { DomainError } from "~/domain/shared";
import { listDealerCatalog } from "~/domain/pricing";

/** `GET /api/v1/suppliers/{id}/skus` — contracts/buying.ts. */
export const { loader, action } = apiRoute(
  implement(listSupplierSkus, async ({ principal, params, query, db }) => {
    const dealerId = principal.organization.id;
    // Before any SKU is read: a core enterprise this dealer is not linked to is a 404.
    const supplier = await getSupplierForDealer(db, dealerId, params.id);
    if (supplier.status !== "active") {
      throw new DomainError("invalid_state", `Your dealer link with ${supplier.coreName} is ${supplier.status}: nothing can be ordered`, { id: supplier.status });
    }
    // The shop page's own read: the same price resolution as the page and order placement.
    const page = await listDealerCatalog(db, {
      coreEnterpriseId: supplier.coreEnterpriseId,
      dealerId,
      on: new Date(),
      search: query.search,
      after: query.after,
      limit: query.limit,
    });
    return {
      data: page.items.map((i) => ({
        id: i.skuId,
        code: i.code,
        name: i.name,
        spec: i.spec,
        unit: i.unit,
        pack_size: i.packSize,
        moq: i.moq,
        product_name: i.productName,
        category: i.category,
        tax_rate_bps: i.taxRateBps,
        unit_price_fen: i.price.unitPriceFen,
        price_rule: i.price.rule,
        volume_breaks: i.breaks.map((b) => ({ min_qty: b.minQty, unit_price_fen: b.priceFen })),
        stock_available: i.stockAvailable,
        in_stock: i.stockAvailable >= i.moq,
      })),
      next_cursor: page.nextCursor,
    };
  }),
);
