import type { EnFor } from "./types";

/** Commodity-trading markets: market-trade. */
export const zhCN = {} as const;

export const en: EnFor<typeof zhCN> = {};
