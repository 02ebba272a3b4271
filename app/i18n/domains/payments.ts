import type { EnFor } from "./types";

/** Payments a person waits on: an e-Pay attempt in flight, a failed one, a second one refused. */
export const zhCN = {
  "payments.inFlight.title": "e-Pay 支付处理中",
  "payments.inFlight.pending": "已发起 e-Pay 支付 {amount}（{at}）。如您已付款，e-Pay 确认后本页会自动更新，无需再次支付。",
  "payments.inFlight.captured": "e-Pay 已收到您的付款 {amount}，正在入账，本页会自动更新。",
  "payments.inFlight.refreshing": "每 {seconds} 秒自动刷新，直到支付有结果。",
  "payments.inFlight.refresh": "立即刷新",
  "payments.inFlight.openEpay": "回到 e-Pay 付款页（尚未付款时可在该页付款或取消）",
  "payments.lastFailed": "上一次 e-Pay 支付未成功（{at}），可以重新支付。",
  "payments.action.epayRetry": "重新 e-Pay 支付",
  "payments.problem.pending": "这笔款项已有一笔 e-Pay 支付在处理中：请等待 e-Pay 确认或在 e-Pay 付款页取消后再换其他方式支付。",
  "payments.problem.alreadyPaid": "这笔款项已经付过了，正在入账，无需再次支付。",
  "payments.problem.tooManyAttempts": "支付尝试次数过多，请联系客服。",
  "orders.problem.financingUnavailable": "融资支付暂未开放，请使用钱包、e-Pay 或赊销支付。",
} as const;

export const en: EnFor<typeof zhCN> = {
  "payments.inFlight.title": "e-Pay payment in progress",
  "payments.inFlight.pending": "An e-Pay payment of {amount} was started ({at}). If you have paid, this page updates by itself once e-Pay confirms it: do not pay again.",
  "payments.inFlight.captured": "e-Pay has received your payment of {amount} and it is being applied: this page updates by itself.",
  "payments.inFlight.refreshing": "Refreshing every {seconds} seconds until the payment settles.",
  "payments.inFlight.refresh": "Refresh now",
  "payments.inFlight.openEpay": "Back to the e-Pay page (if you have not paid yet, pay or cancel there)",
  "payments.lastFailed": "The last e-Pay payment did not go through ({at}): you can pay again.",
  "payments.action.epayRetry": "Pay by e-Pay again",
  "payments.problem.pending": "An e-Pay payment of this is already in progress: wait until e-Pay confirms it, or cancel it on the e-Pay page, before paying another way.",
  "payments.problem.alreadyPaid": "This has already been paid and is being applied: no need to pay again.",
  "payments.problem.tooManyAttempts": "Too many payment attempts: please contact support.",
  "orders.problem.financingUnavailable": "Financing is not available yet: pay from the wallet, by e-Pay or on account.",
};
