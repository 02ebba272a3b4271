import { createSku, listSkus, SKU_FIELD_NAMES, skuJson } from "~/api/contracts/catalog";
import { apiRoute, implement } from "~/api/handler.server";
import * as Catalog from "~/domain/catalog";

/** `GET /api/v1/skus`, `POST /api/v1/skus` — contracts/Catalog.ts. */
export const { loader, action } = apiRoute(
  implement(listSkus, async ({ principal, query, db }) => {
    const page = await Catalog.listSkus(db, principal.organization.id, {
      search: query.search,
      status: query.status,
      after: query.after,
      limit: query.limit,
    });
    return { data: page.items.map(skuJson), next_cursor: page.nextCursor };
  }),
  implement(
    createSku,
    async ({ principal, body, db, actor }) => {
      const sku = await Catalog.createSku(db, actor, principal.organization.id, {
        code: body.code,
        name: body.name,
        spec: body.spec ?? "",
        unit: body.unit,
        packSize: body.pack_size,
        moq: body.moq,
        basePriceFen: body.base_price_fen,
        taxRateBps: body.tax_rate_bps,
        stockOnHand: body.stock_on_hand,
        status: body.status,
        productCode: body.product_code,
        productName: body.product_name,
        category: body.category,
      });
      return skuJson(sku);
    },
    { fieldNames: SKU_FIELD_NAMES },
  ),
);
