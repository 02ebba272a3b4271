/**
 * The market context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { MARKET_ORDER_EVENT_ROLES, autoConfirmTimer, marketOrderStatesMarkdown } from "./order-states";
export type { MarketOrderEvent } from "./order-states";
export { ANNOUNCEMENT_AUDIENCES, ANNOUNCEMENT_LIMITS, announcementFormSchema, listAnnouncementsForOperator, listAnnouncementsForParty, publishAnnouncement } from "./announcements.server";
export type { Announcement } from "./announcements.server";
export { addToCart, cartLineSchema, checkoutCart, countCartLines, listCarts, removeCartItem, updateCartItem } from "./cart.server";
export { DASHBOARD_LIMITS, marketDashboard, resolveDashboardRange } from "./dashboard.server";
export type { MarketDashboard } from "./dashboard.server";
export { applyCapturedMarketPayment, cancelCheckout, expireUnpaidCheckouts, payCheckoutFromWallet, placeCheckout, startCheckoutPayment } from "./escrow/checkout.server";
export { addDisputeStatement, openDispute, ruleDispute } from "./escrow/disputes.server";
export { ADVANCE_LIMITS, advanceableMarketOrders, isAdvanceable, lockAdvanceableMarketOrder, lockMarketOrderStatus, marketOrderOutcomes } from "./escrow/advances.server";
export type { AdvanceableOrder, MarketOrderOutcome } from "./escrow/advances.server";
export { autoConfirmShippedOrders, cancelPaidMarketOrder, receiveMarketOrder, shipMarketOrder } from "./escrow/fulfilment.server";
export { AUTO_CONFIRM_JOB, ESCROW_LIMITS, EXPIRE_CHECKOUTS_JOB, MARKET_ORDER_QUEUE, SETTLE_MARKET_ORDERS_JOB, feeOnReleaseFen, reasonInputSchema } from "./escrow/model.server";
export type { Checkout, DisputeView, EvidenceInput, MarketOrderDetail, MarketOrderSummary, MarketPartyKind, MarketViewer } from "./escrow/model.server";
export { getCheckout, getDisputeEvidence, getDisputeOrderId, getMarketOrder, listDisputes, listMarketOrders, merchantMoney } from "./escrow/queries.server";
export { awaitsSettlement, continueSettlement, settleReceivedOrders } from "./escrow/settlement.server";
export { FEE_FORM_FIELDS, addFeeSchedule, feeInForce, feeScheduleFormSchema, listFeeSchedules } from "./fees.server";
export type { FeeSchedule } from "./fees.server";
export { LISTING_DETAILS_FIELDS, LISTING_FORM_FIELDS, adjustListingStock, countMerchantListings, createListing, getListingForBuyer, getListingForOperator, getMerchantListing, getOpenMarket, hideListing, listMarketListingsForOperator, listMerchantListings, listMerchantTradingMarkets, listOpenMarkets, listingDetailsSchema, listingFormSchema, moderationEvents, moderationReasonSchema, searchListings, setListingStatus, setListingStock, stockFormSchema, unhideListing, updateListing } from "./listings.server";
export type { Listing, ListingInput } from "./listings.server";
export { APPLICATION_FORM_FIELDS, MANUAL_STALL_EVENTS, MARKET_FORM_FIELDS, STALL_FORM_FIELDS, applicationEvents, applicationFormSchema, applicationQuery, approveMerchantApplication, countStalls, createMarket, createStall, createZone, dm2ToSquareMetresText, getMarket, getMarketMerchant, getMerchantApplication, getStall, listMarketMerchants, listMarkets, listMerchantApplications, listStalls, listZones, marketFormSchema, marketMerchantEvents, merchantQuery, reasonSchema, rejectMerchantApplication, stallEvents, stallFormSchema, submitMerchantApplication, toApplication, toMarket, toMerchant, transitionMarketMerchant, transitionStall, updateMarket, updateStall, zoneFormSchema } from "./venues.server";
export type { Market, MarketMerchant, MarketStall, MarketZone, MerchantApplication } from "./venues.server";
