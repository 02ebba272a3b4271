import { getMerchant } from "~/api/contracts/market-venues";
import { apiRoute, implement } from "~/api/handler.server";
import { merchantJson } from "~/api/market-venues.server";
import * as Market from "~/domain/market";

/** `GET /api/v1/markets/{id}/merchants/{merchantId}` — contracts/market-venues.ts. */
export const { loader, action } = apiRoute(
  implement(getMerchant, async ({ principal, params, db }) =>
    merchantJson(await Market.getMarketMerchant(db, principal.organization.id, params.id, params.merchantId)),
  ),
);
