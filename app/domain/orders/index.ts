/**
 * The orders context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { ORDER_EVENTS, ORDER_EVENT_ROLES, ORDER_KINDS, ORDER_STATUSES } from "./states";
export type { OrderEvent, OrderKind } from "./states";
export { orderStatesMarkdown } from "./states-doc";
export { cancelOrder } from "./cancel.server";
export { addToCart, approveOrder, isOwnApprovalRequest, submitOrder, updateCart } from "./cart.server";
export { autoReceiveDueOrders, receiveOrder, shipOrder } from "./fulfilment.server";
export { ORDERS_QUEUE, ORDER_NOTICE_JOB, orderNoticePayload, sendOrderNotice } from "./notices.server";
export type { OrderNoticePayload } from "./notices.server";
export { ORDER_LIMITS } from "./orders.server";
export { amountDue, applyCapturedOrderPayment, markAwaitingEpay, markFinancingDisbursed, onAccountOutstanding, orderForFinancing, orderPaymentReference, payFromWallet, payOnAccount, repayOnAccount, requestFinancing, returnFromFinancing } from "./payment.server";
export { createOrder } from "./placement.server";
export { onAccountPosition, orderMoneySummary } from "./position.server";
export type { MoneyFigure } from "./position.server";
export { getOrder, listOrders } from "./queries.server";
export type { OrderDetail, OrderListItem } from "./queries.server";
export { decideReturn, receiveReturnedGoods, refundReturn, requestReturn } from "./returns.server";
export { confirmOrder, rejectOrder } from "./review.server";
export { createSeason, listSeasons, listSeasonsForDealer, releaseSeason } from "./seasons.server";
export { getOrderSettings, updateOrderSettings } from "./settings.server";
export { dealerTradeHistory } from "./history.server";
export { latestOnAccountRepaymentId, lockOnAccountReceivable, onAccountReceivables, type OnAccountReceivable } from "./receivables.server";
