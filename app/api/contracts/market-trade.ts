import type { EndpointSpec } from "../endpoint";

/** Commodity-trading markets: market-trade. */
export const endpoints: readonly EndpointSpec[] = [];
