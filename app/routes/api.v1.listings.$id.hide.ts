import { hideListing, LISTING_FIELD_NAMES, listingJson } from "~/api/contracts/market-listings";
import { apiRoute, implement } from "~/api/handler.server";
import * as listings from "~/domain/market";

/** `POST /api/v1/listings/{id}/hide` — contracts/market-listings.ts. */
export const { loader, action } = apiRoute(
  implement(
    hideListing,
    async ({ principal, params, body, db, actor }) => {
      const operatorId = principal.organization.id;
      // Another operator's listing is a 404 here, before any reason is looked at.
      const listing = await listings.getListingForOperator(db, operatorId, null, params.id);
      return listingJson(await listings.hideListing(db, actor, operatorId, listing.marketId, listing.id, { reason: body.reason }));
    },
    { fieldNames: LISTING_FIELD_NAMES },
  ),
);
