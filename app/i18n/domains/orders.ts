import type { EnFor } from "./types";

export const zhCN = {
  "nav.orders": "订单",
} as const;

export const en: EnFor<typeof zhCN> = {
  "nav.orders": "Orders",
};
