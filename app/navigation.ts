import type { OrganizationKind } from "../db/schema";
import type { MessageKey, TArgs } from "./i18n";

/** A message that takes no parameters: what a navigation label can be. */
export type PlainMessageKey = { [K in MessageKey]: TArgs<K> extends [] ? K : never }[MessageKey];

/**
 * The top navigation, by the kind of the acting organisation. A page gets an entry here only once
 * it works: each context adds its own line.
 */
export interface NavEntry {
  to: string;
  label: PlainMessageKey;
  kinds: readonly OrganizationKind[];
}

export const NAV_ENTRIES: readonly NavEntry[] = [
  { to: "/", label: "nav.dashboard", kinds: ["bank", "core_enterprise", "dealer", "market_operator", "merchant", "buyer"] },
  { to: "/catalog", label: "nav.catalog", kinds: ["core_enterprise"] },
  { to: "/pricing", label: "nav.pricing", kinds: ["core_enterprise"] },
  { to: "/dealers", label: "nav.dealers", kinds: ["core_enterprise"] },
  { to: "/campaigns", label: "nav.campaigns", kinds: ["core_enterprise"] },
  { to: "/shop", label: "nav.shop", kinds: ["dealer"] },
  { to: "/orders", label: "nav.orders", kinds: ["core_enterprise", "dealer"] },
  { to: "/seasons", label: "nav.seasons", kinds: ["core_enterprise"] },
  { to: "/preorders", label: "nav.seasons", kinds: ["dealer"] },
  { to: "/markets", label: "nav.markets", kinds: ["market_operator"] },
  { to: "/market", label: "nav.marketBrowse", kinds: ["buyer"] },
  { to: "/market/cart", label: "nav.marketCart", kinds: ["buyer"] },
  { to: "/merchant/listings", label: "nav.merchantListings", kinds: ["merchant"] },
  { to: "/market/orders", label: "nav.marketOrders", kinds: ["buyer", "merchant"] },
  { to: "/market/announcements", label: "nav.marketAnnouncements", kinds: ["buyer", "merchant"] },
  { to: "/financing", label: "nav.financing", kinds: ["bank", "core_enterprise", "dealer"] },
  { to: "/settlement/account", label: "nav.settlement", kinds: ["core_enterprise", "dealer", "market_operator", "merchant"] },
  { to: "/settlement/payouts", label: "nav.payouts", kinds: ["bank"] },
  { to: "/settlement/reconciliation", label: "nav.reconciliation", kinds: ["bank"] },
];

export function navFor(kind: OrganizationKind | undefined): readonly NavEntry[] {
  return kind ? NAV_ENTRIES.filter((entry) => entry.kinds.includes(kind)) : [];
}

/**
 * The entry a path belongs to: the longest `to` that is the path or one of its ancestors, so
 * `/market/cart` is the cart's page, not the market's, while `/market/<id>` stays the market's.
 */
export function activeNavEntry(entries: readonly NavEntry[], pathname: string): NavEntry | undefined {
  let best: NavEntry | undefined;
  for (const entry of entries) {
    const matches = entry.to === "/" ? pathname === "/" : pathname === entry.to || pathname.startsWith(`${entry.to}/`);
    if (matches && (!best || entry.to.length > best.to.length)) best = entry;
  }
  return best;
}
