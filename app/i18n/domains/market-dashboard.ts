import type { EnFor } from "./types";

/** Commodity-trading markets: market-dashboard. */
export const zhCN = {} as const;

export const en: EnFor<typeof zhCN> = {};
