import { z } from "zod";
import { autoReceiveDueOrders, ORDER_NOTICE_JOB, ORDERS_QUEUE, orderNoticePayload, sendOrderNotice, type OrderNoticePayload, ORDER_LIMITS } from "../app/domain/orders";
import type { Step } from "./registry";

export { ORDER_NOTICE_JOB, ORDERS_QUEUE };
export const AUTO_RECEIPT_JOB = "orders.auto_receipt";

const autoReceiptPayload = z.object({}).strict();
export type AutoReceiptPayload = z.infer<typeof autoReceiptPayload>;
export const parseAutoReceiptPayload = (data: unknown): AutoReceiptPayload => autoReceiptPayload.parse(data ?? {});

/** Most orders one run receives; the next run (minutes later) takes the rest. */
const MAX_BATCHES_PER_RUN = 10;

/**
 * Orders shipped longer ago than their supplier's auto-receipt days count as received. Each order
 * is re-checked under its own lock, so overlapping runs (two workers, a retry) receive it once.
 */
export const autoReceiptStep: Step<AutoReceiptPayload> = async (deps) => {
  const now = deps.now?.() ?? new Date();
  const batch = ORDER_LIMITS.pageSize * 4;
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const received = await autoReceiveDueOrders(deps.db, now, batch);
    total += received.length;
    if (received.length < batch) break;
  }
  if (total > 0) deps.logger.info({ received: total }, "orders auto-received");
};

export const parseOrderNoticePayload = (data: unknown): OrderNoticePayload => orderNoticePayload.parse(data);

/** An order's notice to the other party, asked for once however often the job runs. */
export const orderNoticeStep: Step<OrderNoticePayload> = async (deps, payload) => {
  const { requestId, created } = await sendOrderNotice(deps.db, payload);
  deps.logger.info({ orderId: payload.orderId, topic: payload.topic, requestId, created }, "order notice requested");
};
