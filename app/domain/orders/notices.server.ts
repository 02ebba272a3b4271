import { z } from "zod";
import { type Db, inTransaction } from "../../../db";
import type { Actor } from "../shared";
import { formatFen } from "../../i18n";
import { DomainError } from "../shared";
import { type NotificationRequestInput, requestNotification } from "../notifications";
import { type OutboxJob, outboxJobId, type Trx } from "../outbox";
import type { OrderRow } from "./orders.server";

/** The notice an order change sends to the other party, as an outbox job of the orders workflow. */

/** The orders workflow's queue, and the job that makes an order's notice to the other party. */
export const ORDERS_QUEUE = "orders";
export const ORDER_NOTICE_JOB = "orders.notice";

const ORDER_NOTICE_TOPICS = [
  "order.submitted",
  "order.confirmed",
  "order.shipped",
  "order.balance_due",
  "order.return_requested",
  "order.return_approved",
  "order.return_refunded",
] as const;
export type OrderNoticeTopic = (typeof ORDER_NOTICE_TOPICS)[number];

/** Notices the dealer sends to its supplier; every other order notice goes from the supplier to the dealer. */
const DEALER_TO_SUPPLIER: readonly OrderNoticeTopic[] = ["order.submitted", "order.return_requested"];

/** Ids only: the notice is made from the order when the job runs. `occurrence` tells repeated events apart (a shipment's id). */
export const orderNoticePayload = z
  .object({
    orderId: z.string().uuid(),
    topic: z.enum(ORDER_NOTICE_TOPICS),
    occurrence: z.string().regex(/^[^:]{1,100}$/),
    actorUserId: z.string().uuid().nullable(),
    actorOrganizationId: z.string().uuid().nullable(),
  })
  .strict();
export type OrderNoticePayload = z.infer<typeof orderNoticePayload>;

export function orderNoticeJob(orderId: string, topic: OrderNoticeTopic, occurrence: string, actor: Actor): OutboxJob {
  const payload: OrderNoticePayload = { orderId, topic, occurrence, actorUserId: actor.userId, actorOrganizationId: actor.organizationId };
  return { queue: ORDERS_QUEUE, name: ORDER_NOTICE_JOB, jobId: outboxJobId("orders", orderId, `${topic}.${occurrence}`), payload };
}

/**
 * The notice step: the request to notify the other party of the order (the supplier of a
 * submission, the dealer of a confirmation or shipment), from the order and the parties' names as
 * they are now. Its dedupe key (topic, order, occurrence) makes a second run ask nothing more.
 */
export async function sendOrderNotice(db: Db, payload: OrderNoticePayload): Promise<{ requestId: string; created: boolean }> {
  return inTransaction(db, async (trx) => {
    const order = await trx
      .selectFrom("orders as o")
      .innerJoin("organizations as d", "d.id", "o.dealer_id")
      .innerJoin("organizations as c", "c.id", "o.core_enterprise_id")
      .leftJoin("seasons as s", "s.id", "o.season_id")
      .select([
        "o.id",
        "o.number",
        "o.core_enterprise_id",
        "o.dealer_id",
        "o.status",
        "o.total_fen",
        "o.paid_fen",
        "d.name as dealer_name",
        "c.name as core_enterprise_name",
        "s.name as season_name",
      ])
      .where("o.id", "=", payload.orderId)
      .executeTakeFirst();
    if (!order) throw new DomainError("not_found", "order not found", { orderId: "not found" });
    const fromName = DEALER_TO_SUPPLIER.includes(payload.topic) ? order.dealer_name : order.core_enterprise_name;
    const actor: Actor = { userId: payload.actorUserId, organizationId: payload.actorOrganizationId, ip: null, requestId: null };
    const notice = orderNotice(order, payload.topic, fromName, payload.occurrence);
    // Display figures for the dealer, from the order as it is when the step runs.
    if (payload.topic === "order.balance_due") {
      notice.params = { ...notice.params, seasonName: order.season_name ?? order.number, amountDisplay: formatFen(order.total_fen - order.paid_fen) };
    } else if (payload.topic === "order.return_refunded") {
      notice.params = { ...notice.params, amountDisplay: formatFen(order.total_fen) };
    }
    return requestNotification(trx as Trx, actor, notice);
  });
}

function orderNotice(order: Pick<OrderRow, "id" | "number" | "core_enterprise_id" | "dealer_id" | "status">, topic: OrderNoticeTopic, fromName: string, occurrence: string = order.status): NotificationRequestInput {
  const to = DEALER_TO_SUPPLIER.includes(topic) ? order.core_enterprise_id : order.dealer_id;
  return {
    organizationId: to,
    topic,
    params: { orderId: order.id, number: order.number, counterparty: fromName },
    dedupeKey: `${topic}:${order.id}:${occurrence}`,
  };
}
