import { LISTING_FIELD_NAMES, listingJson, unhideListing } from "~/api/contracts/market-listings";
import { apiRoute, implement } from "~/api/handler.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/listings/{id}/unhide` — contracts/market-Market.ts. */
export const { loader, action } = apiRoute(
  implement(
    unhideListing,
    async ({ principal, params, body, db, actor }) => {
      const operatorId = principal.organization.id;
      const listing = await Market.getListingForOperator(db, operatorId, null, params.id);
      return listingJson(await Market.unhideListing(db, actor, operatorId, listing.marketId, listing.id, { reason: body.reason }));
    },
    { fieldNames: LISTING_FIELD_NAMES },
  ),
);
