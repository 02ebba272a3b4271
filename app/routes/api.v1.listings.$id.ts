import { getListing, LISTING_FIELD_NAMES, listingJson, updateListing } from "~/api/contracts/market-listings";
import { apiRoute, implement } from "~/api/handler.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/listings/{id}` (as the caller may see it), `POST /api/v1/listings/{id}` (partial update) — contracts/market-Market.ts. */
export const { loader, action } = apiRoute(
  implement(getListing, async ({ principal, params, db }) => {
    const orgId = principal.organization.id;
    switch (principal.organization.kind) {
      case "merchant":
        return listingJson(await Market.getMerchantListing(db, orgId, params.id));
      case "market_operator":
        return listingJson(await Market.getListingForOperator(db, orgId, null, params.id));
      default:
        return listingJson(await Market.getListingForBuyer(db, null, params.id));
    }
  }),
  implement(
    updateListing,
    async ({ principal, params, body, db, actor }) => {
      const merchantId = principal.organization.id;
      // All in the request's transaction: details, stock and status commit together or not at all.
      const current = await Market.getMerchantListing(db, merchantId, params.id);
      const detailsTouched = ["title", "title_en", "category", "spec", "unit", "price_fen", "min_order_qty", "image_url"].some((f) => f in body);
      if (detailsTouched) {
        await Market.updateListing(db, actor, merchantId, current.id, {
          title: body.title ?? current.title,
          titleEn: body.title_en ?? current.titleEn,
          category: body.category ?? current.category,
          spec: body.spec ?? current.spec,
          unit: body.unit ?? current.unit,
          price: body.price_fen ?? current.priceFen,
          minOrderQty: body.min_order_qty ?? current.minOrderQty,
          imageUrl: body.image_url ?? current.imageUrl,
        });
      }
      if (body.stock_qty !== undefined) {
        await Market.setListingStock(db, actor, merchantId, current.id, { stockQty: body.stock_qty, expectedStockQty: body.expected_stock_qty });
      }
      if (body.stock_delta_qty !== undefined) {
        await Market.adjustListingStock(db, actor, merchantId, current.id, { deltaQty: body.stock_delta_qty });
      }
      if (body.status !== undefined) await Market.setListingStatus(db, actor, merchantId, current.id, body.status);
      return listingJson(await Market.getMerchantListing(db, merchantId, current.id));
    },
    { fieldNames: LISTING_FIELD_NAMES },
  ),
);
