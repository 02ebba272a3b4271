import type { EndpointSpec } from "../endpoint";

/** Commodity-trading markets: market-listings. */
export const endpoints: readonly EndpointSpec[] = [];
