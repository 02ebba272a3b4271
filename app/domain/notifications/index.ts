/**
 * The notifications context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { DELIVER_NOTIFICATION_JOB, NOTIFICATIONS_QUEUE, countUnreadNotifications, deliverNotification, deliverNotificationPayload, listNotifications, listNotificationsPage, markNotificationsRead, notificationHref, openNotification, requestNotification, requestNotifications } from "./notifications.server";
export type { DeliverNotificationPayload, NotificationRequestInput } from "./notifications.server";
