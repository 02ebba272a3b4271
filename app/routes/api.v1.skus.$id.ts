import { getSku, SKU_FIELD_NAMES, skuJson, updateSku } from "~/api/contracts/catalog";
import { apiRoute, implement } from "~/api/handler.server";
import * as Catalog from "~/domain/catalog";

/** `GET /api/v1/skus/{id}`, `POST /api/v1/skus/{id}` (partial update) — contracts/Catalog.ts. */
export const { loader, action } = apiRoute(
  implement(getSku, async ({ principal, params, db }) => skuJson(await Catalog.getSku(db, principal.organization.id, params.id))),
  implement(
    updateSku,
    async ({ principal, params, body, db, actor }) => {
      // Read and write in the request's transaction: the model locks the row for the write, and
      // fields the caller left out are taken from the row as it is now.
      const current = await Catalog.getSku(db, principal.organization.id, params.id);
      const sku = await Catalog.updateSku(db, actor, principal.organization.id, params.id, {
        code: body.code ?? current.code,
        name: body.name ?? current.name,
        spec: body.spec ?? current.spec,
        unit: body.unit ?? current.unit,
        packSize: body.pack_size ?? current.packSize,
        moq: body.moq ?? current.moq,
        basePriceFen: body.base_price_fen ?? current.basePriceFen,
        taxRateBps: body.tax_rate_bps ?? current.taxRateBps,
        // Left out: untouched (never overwrite stock with a stale read).
        stockOnHand: body.stock_on_hand,
        status: body.status,
        productCode: body.product_code ?? current.productCode,
        productName: body.product_name,
        category: body.category,
      });
      return skuJson(sku);
    },
    { fieldNames: SKU_FIELD_NAMES },
  ),
);
