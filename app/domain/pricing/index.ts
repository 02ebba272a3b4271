/**
 * The pricing context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { candidateQueries, candidatesFromRows, createOverride, createPriceList, createTier, deleteOverride, deletePriceList, getPriceList, listDealerCatalog, listOverrides, listPriceListItems, listPriceLists, listTiers, loadCandidatesForLinks, overrideFormSchema, previewFormSchema, priceListFormSchema, priceListItemFormSchema, quotePrices, removePriceListItem, resolvePrice, setPriceListItem, tierFormSchema, updatePriceList, updateTier } from "./pricing.server";
export type { CandidatesFor, LinkForPricing, PriceRule } from "./pricing.server";
