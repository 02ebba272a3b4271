/**
 * The dealers context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { DEALER_LIMITS, activeDealerLinksQuery, countDealerLinks, createDealerLink, dealerLinkEvents, dealerLinkKey, dealerLinksByPair, dealerTermsFormSchema, findActiveDealerLink, findActiveDealerLinks, getDealerLink, getSupplierForDealer, listDealerLinkHistory, listDealerLinks, listDealerOptions, listSuppliersForDealer, transitionDealerLink, updateDealerLink } from "./dealers.server";
export type { DealerLink, DealerLinkEvent, DealerLinkWithCredit } from "./dealers.server";
