/**
 * The payments context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { gatewayEventSchema } from "./epay/gateway.server";
export { EPAY_LIMITS, EPAY_MERCHANT_HEADER, EPAY_SANDBOX_HEADER, EPAY_SIGNATURE_HEADER, EpayCallbackError, EpayGatewayError, STATEMENT_LINE_TYPES, createPaymentRequestSchema, epayGatewayFromConfig, formatStatementCsv, payoutRequestSchema, refundRequestSchema, requestSigningPayload, sandboxDirectivesSchema, shanghaiDayBounds, signPayload, unixSeconds, verifySignature, zodFields } from "./epay/index.server";
export type { CreatePaymentResponse, EpayGateway, GatewayEvent, GatewayEventType, GatewayPayoutInput, GatewayStatement, PaymentStateResponse, PayoutResponse, RefundResponse, SandboxDirectives, StatementLineType, StatementRow } from "./epay/index.server";
export { FULFIL_PAYMENT_JOB, PAYMENTS_QUEUE, QUERY_PENDING_PAYMENTS_JOB, applyGatewayEvent, createPayment, getPaymentForOrganization, isCaptured, listPaymentsAwaitingGateway, listPaymentsNeedingAttention, lockPaymentForFulfilment, paymentsDepsForRequest, paymentsDepsFromConfig, refuseWhilePaymentInFlight, settlePaymentAttempts, startPaymentAttempt, syncPaymentFromGateway } from "./payments.server";
export type { Payment, PaymentPurpose, PaymentsDeps } from "./payments.server";
export { PAYMENT_PURPOSE_HANDLERS, commitCaptureToPurpose } from "./purposes.server";
export type { PaymentPurposeHandler, PurposeContext, PurposeResult } from "./purposes.server";
