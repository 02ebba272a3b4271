import { deliverNotification, deliverNotificationPayload, type DeliverNotificationPayload } from "../app/domain/notifications";
import type { Step } from "./registry";

/**
 * Notifications workflow: `pending --deliver--> delivered`. One step; the state and its
 * transitions live in app/domain/notifications/notifications.server.ts, this file only drives them.
 */

export function parseDeliverNotificationPayload(data: unknown): DeliverNotificationPayload {
  return deliverNotificationPayload.parse(data);
}

/** Idempotent: a second run finds the request delivered and writes nothing. */
export const deliverNotificationStep: Step<DeliverNotificationPayload> = async (deps, payload) => {
  const result = await deliverNotification(deps.db, payload.requestId);
  deps.logger.debug({ requestId: payload.requestId, inserted: result.inserted, status: result.status }, "notification delivered");
};
