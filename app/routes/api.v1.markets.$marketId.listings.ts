import { createMarketListing, LISTING_FIELD_NAMES, listingJson, listMarketListings } from "~/api/contracts/market-listings";
import { apiRoute, implement } from "~/api/handler.server";
import { DomainError } from "~/domain/shared";
import { createListing, listMarketListingsForOperator, listMerchantListings, listMerchantTradingMarkets, searchListings } from "~/domain/market";

/** `GET /api/v1/markets/{marketId}/listings` (by kind of caller), `POST` (a merchant lists) — contracts/market-listings.ts. */
export const { loader, action } = apiRoute(
  implement(
    listMarketListings,
    async ({ principal, params, query, db }) => {
      const filters = {
        q: query.q,
        category: query.category,
        merchantId: query.merchant_id,
        minPriceFen: query.min_price_fen,
        maxPriceFen: query.max_price_fen,
        after: query.after,
        limit: query.limit,
      };
      const orgId = principal.organization.id;
      const kind = principal.organization.kind;
      let page;
      if (kind === "market_operator") {
        page = await listMarketListingsForOperator(db, orgId, params.marketId, { ...filters, status: query.status, moderation: query.moderation });
      } else if (kind === "merchant") {
        // Its own listings, in a market it trades in; any other market reads as not there.
        const member = (await listMerchantTradingMarkets(db, orgId)).some((m) => m.marketId === params.marketId.toLowerCase());
        if (!member) throw new DomainError("not_found", "Market not found");
        page = await listMerchantListings(db, orgId, { ...filters, marketId: params.marketId, status: query.status, moderation: query.moderation });
      } else {
        page = await searchListings(db, { ...filters, marketId: params.marketId });
      }
      return { data: page.items.map(listingJson), next_cursor: page.nextCursor };
    },
    { fieldNames: LISTING_FIELD_NAMES },
  ),
  implement(
    createMarketListing,
    async ({ principal, params, body, db, actor }) =>
      listingJson(
        await createListing(db, actor, principal.organization.id, params.marketId, {
          title: body.title,
          titleEn: body.title_en,
          category: body.category,
          spec: body.spec,
          unit: body.unit,
          // Numbers are fen and counts as they are (a form's strings would be yuan).
          price: body.price_fen,
          stockQty: body.stock_qty,
          minOrderQty: body.min_order_qty,
          imageUrl: body.image_url,
        }),
      ),
    { fieldNames: LISTING_FIELD_NAMES },
  ),
);
