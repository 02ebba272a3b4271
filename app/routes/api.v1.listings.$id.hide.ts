import { hideListing, LISTING_FIELD_NAMES, listingJson } from "~/api/contracts/market-listings";
import { apiRoute, implement } from "~/api/handler.server";
import * as Market from "~/domain/market";

/** `POST /api/v1/listings/{id}/hide` — contracts/market-Market.ts. */
export const { loader, action } = apiRoute(
  implement(
    hideListing,
    async ({ principal, params, body, db, actor }) => {
      const operatorId = principal.organization.id;
      // Another operator's listing is a 404 here, before any reason is looked at.
      const listing = await Market.getListingForOperator(db, operatorId, null, params.id);
      return listingJson(await Market.hideListing(db, actor, operatorId, listing.marketId, listing.id, { reason: body.reason }));
    },
    { fieldNames: LISTING_FIELD_NAMES },
  ),
);
