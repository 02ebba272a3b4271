import { LISTING_FIELD_NAMES, listingJson, unhideListing } from "~/api/contracts/market-listings";
import { apiRoute, implement } from "~/api/handler.server";
import * as listings from "~/domain/market";

/** `POST /api/v1/listings/{id}/unhide` — contracts/market-listings.ts. */
export const { loader, action } = apiRoute(
  implement(
    unhideListing,
    async ({ principal, params, body, db, actor }) => {
      const operatorId = principal.organization.id;
      const listing = await listings.getListingForOperator(db, operatorId, null, params.id);
      return listingJson(await listings.unhideListing(db, actor, operatorId, listing.marketId, listing.id, { reason: body.reason }));
    },
    { fieldNames: LISTING_FIELD_NAMES },
  ),
);
