import type { EndpointSpec } from "../endpoint";
import * as auth from "./auth";
import * as buying from "./buying";
import * as catalog from "./catalog";
import * as dealers from "./dealers";
import * as orders from "./orders";
import * as payments from "./payments";
import * as pricing from "./pricing";
import * as recruitment from "./recruitment";
import * as marketVenues from "./market-venues";
import * as marketListings from "./market-listings";
import * as marketTrade from "./market-trade";
import * as marketDashboard from "./market-dashboard";
import * as financing from "./financing";
import * as settlement from "./settlement";
import * as payouts from "./payouts";
import * as reconciliation from "./reconciliation";

/**
 * Every /api/v1 endpoint the OpenAPI document lists, by area. To add an area: create
 * `./<area>.ts` exporting `endpoints` (an array of `defineEndpoint` specs), import it here and add
 * it to `ENDPOINT_GROUPS`. A test fails when an `app/routes/api.v1.*` route has no spec here.
 */
export const ENDPOINT_GROUPS: readonly { endpoints: readonly EndpointSpec[] }[] = [auth, buying, catalog, pricing, dealers, orders, payments, recruitment, marketVenues, marketListings, marketTrade, marketDashboard, financing, settlement, payouts, reconciliation];

export function allEndpoints(): EndpointSpec[] {
  return ENDPOINT_GROUPS.flatMap((group) => group.endpoints);
}
