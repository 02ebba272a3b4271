import type { EndpointSpec } from "../endpoint";

/** Commodity-trading markets: market-venues. */
export const endpoints: readonly EndpointSpec[] = [];
