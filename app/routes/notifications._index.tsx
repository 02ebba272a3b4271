import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { MarkAllReadForm, NoticeItem } from "~/components/notice-ui";
import { RouteError } from "~/components/route-error";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { countUnreadNotifications, listNotificationsPage, markNotificationsRead } from "~/domain/notifications";
import { requireOrgContext, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf, safeRedirectPath } from "~/session.server";
import { isDomainError } from "~/domain/shared";

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "inbox.title");

const PAGE_SIZE = 30;

/** `/notifications` — the user's notices in the acting organisation, newest first, paged; `?unread=1` for the unread only. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { user, organization } = await requireOrgContext(request, context);
  const url = new URL(request.url);
  const unreadOnly = url.searchParams.get("unread") === "1";
  const after = url.searchParams.get("after");
  const scope = { userId: user.id, organizationId: organization.organizationId };
  let page;
  try {
    page = await scoped(() => listNotificationsPage(context.db, { ...scope, limit: PAGE_SIZE, after, unreadOnly }));
  } catch (error) {
    // A cursor this list did not give out: start again from the newest rather than fail.
    if (isDomainError(error) && error.code === "validation") throw redirect(unreadOnly ? "/notifications?unread=1" : "/notifications");
    throw error;
  }
  const unread = await countUnreadNotifications(context.db, scope);
  return {
    unreadOnly,
    onFirstPage: !after,
    unread,
    nextCursor: page.nextCursor,
    notices: page.items.map((n) => ({
      id: n.id,
      topic: n.topic,
      params: n.params as Record<string, string>,
      createdAt: n.createdAt,
      unread: n.readAt === null,
      href: n.href,
    })),
  };
}

/** "Mark all read" (intent `markAllRead`), from this page, the dashboard or anywhere with the form. */
export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { user, organization } = await requireOrgContext(request, context);
  if (form.get("intent") !== "markAllRead") throw new Response("Unknown form", { status: 400 });
  const count = await markNotificationsRead(context.db, { userId: user.id, organizationId: organization.organizationId }, new Date());
  return redirect(safeRedirectPath(form.get("redirectTo"), "/notifications"), {
    headers: { "Set-Cookie": await flashCookie(context, { key: "inbox.flash.allRead", params: { count } }) },
  });
}

export default function Inbox() {
  const d = useLoaderData<typeof loader>();
  const t = useT();
  const base = d.unreadOnly ? "/notifications?unread=1" : "/notifications";
  return (
    <div className="inbox-page">
      <div className="inbox-head">
        <div>
          <p className="eyebrow">{t("inbox.eyebrow")}</p>
          <h1>{t("inbox.title")}</h1>
          <p className="subtle" data-testid="unread-count">
            {d.unread > 0 ? t("inbox.unreadCount", { count: d.unread }) : t("inbox.allRead")}
          </p>
        </div>
        {d.unread > 0 ? <MarkAllReadForm /> : null}
      </div>
      <nav className="inbox-filter" aria-label={t("inbox.title")}>
        <Link to="/notifications" aria-current={!d.unreadOnly ? "page" : undefined} className={!d.unreadOnly ? "active" : undefined}>
          {t("inbox.filter.all")}
        </Link>
        <Link to="/notifications?unread=1" aria-current={d.unreadOnly ? "page" : undefined} className={d.unreadOnly ? "active" : undefined}>
          {t("inbox.filter.unread")}
        </Link>
      </nav>
      <section className="panel">
        {d.notices.length === 0 ? (
          <p className="empty">{t("inbox.empty")}</p>
        ) : (
          <ul className="feed" data-testid="inbox">
            {d.notices.map((n) => (
              <NoticeItem key={n.id} notice={n} />
            ))}
          </ul>
        )}
        <p className="inbox-pager">
          {!d.onFirstPage ? <Link to={base}>{t("inbox.newest")}</Link> : null}
          {d.nextCursor ? <Link to={`${base}${base.includes("?") ? "&" : "?"}after=${encodeURIComponent(d.nextCursor)}`}>{t("inbox.older")} →</Link> : null}
        </p>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
