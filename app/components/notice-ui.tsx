import { Form, useLocation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { formatDateTime, isMessageKey, translateDynamic, translateWithParams, type Locale } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/** A notice as a loader sends it (app/domain/notifications/notifications.server.ts `InboxEntry`, serialised). */
export interface NoticeView {
  id: string;
  topic: string;
  params: Record<string, string>;
  createdAt: string | Date;
  unread: boolean;
  href: string | null;
}

/** A notice's sentence in the reader's language; an unknown topic shows its code rather than nothing. */
export function noticeText(locale: Locale, topic: string, params: Record<string, string>): string {
  // A ruling reads differently by its outcome: one sentence per ruling.
  const key = topic === "market_dispute.ruled" ? `notification.${topic}.${params.ruling}` : `notification.${topic}`;
  if (!isMessageKey(key)) return topic;
  const shown: Record<string, string> = { ...params };
  // A role travels as its code; show it in the reader's language.
  if (params.role) shown.role = translateDynamic(locale, `role.${params.role}`, params.role);
  return translateWithParams(locale, key, shown);
}

/**
 * One notice. Opening it is a POST (it marks the notice read, then goes to its subject), so it
 * works without JavaScript and is CSRF-checked like every change; a notice with no page to open
 * offers "mark read" instead.
 */
export function NoticeItem({ notice }: { notice: NoticeView }) {
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const text = noticeText(locale, notice.topic, notice.params);
  return (
    <li className={notice.unread ? "unread" : undefined} data-testid="notice" data-topic={notice.topic}>
      <Form method="post" action={`/notifications/${notice.id}`} className="notice-open">
        <CsrfInput />
        <input type="hidden" name="redirectTo" value={location.pathname + location.search} />
        {notice.unread ? <span className="dot" title={t("dashboard.unread")} aria-label={t("dashboard.unread")} /> : null}
        {notice.href ? (
          <button type="submit" className="link-button" data-testid="notice-open">
            {text}
          </button>
        ) : (
          <>
            <span>{text}</span>
            {notice.unread ? (
              <button type="submit" className="link-button subtle small" data-testid="notice-mark-read">
                {t("inbox.markRead")}
              </button>
            ) : null}
          </>
        )}
      </Form>
      <time dateTime={new Date(notice.createdAt).toISOString()}>{formatDateTime(notice.createdAt, locale)}</time>
    </li>
  );
}

/** "Mark all read": a POST to the inbox that comes back to this page. */
export function MarkAllReadForm() {
  const t = useT();
  const location = useLocation();
  return (
    <Form method="post" action="/notifications" className="inline-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="markAllRead" />
      <input type="hidden" name="redirectTo" value={location.pathname + location.search} />
      <button type="submit" className="button-secondary small" data-testid="mark-all-read">
        {t("inbox.markAllRead")}
      </button>
    </Form>
  );
}
