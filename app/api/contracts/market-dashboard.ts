import type { EndpointSpec } from "../endpoint";

/** Commodity-trading markets: market-dashboard. */
export const endpoints: readonly EndpointSpec[] = [];
