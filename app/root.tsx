import { data, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import {
  Form,
  Link,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  useLocation,
  useMatches,
  useRouteLoaderData,
  type ShouldRevalidateFunction,
} from "@remix-run/react";
import type { ReactNode } from "react";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { DEFAULT_LOCALE, translate, translateWithParams, type Locale } from "~/i18n";
import { resolveLocale } from "~/i18n/locale.server";
import { LocaleProvider, useT } from "~/i18n/react";
import { countUnreadNotifications } from "~/domain/notifications";
import { listMembershipsForUser, may } from "~/domain/identity";
import { activeNavEntry, navFor } from "~/navigation";
import { csrfForRequest, getSession, readFlash } from "~/session.server";
import type { OrganizationKind } from "../db/schema";
import styles from "~/styles/app.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "icon", href: "/favicon.ico", sizes: "any" },
];

export const meta: MetaFunction = () => [{ title: "融通 Rongtong" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const session = await getSession(request, context);
  const locale = await resolveLocale(request, session?.user.locale);
  const headers = new Headers();

  const csrf = await csrfForRequest(request, context);
  if (csrf.setCookie) headers.append("Set-Cookie", csrf.setCookie);

  const { flash, clear } = await readFlash(request, context);
  if (clear) headers.append("Set-Cookie", clear);

  let organizations: { id: string; name: string; kind: OrganizationKind }[] = [];
  let activeOrganizationId: string | null = null;
  let mayManageApiKeys = false;
  if (session) {
    const memberships = await listMembershipsForUser(context.db, session.user.id);
    organizations = memberships.map((m) => ({ id: m.organizationId, name: m.name, kind: m.kind }));
    // Same fallback as requireOrgContext: a session whose org the user left acts as the first one.
    activeOrganizationId =
      memberships.find((m) => m.organizationId === session.organizationId)?.organizationId ??
      memberships[0]?.organizationId ??
      null;
    const active = memberships.find((m) => m.organizationId === activeOrganizationId);
    // The API keys page is for those who may manage keys: a link others would follow only to a 403 is not shown.
    mayManageApiKeys = active ? may(active.roles, "api_key.manage", active.kind) : false;
  }
  // The unread count is shown on every page, in the top bar (one indexed count).
  const unreadNotices = session && activeOrganizationId ? await countUnreadNotifications(context.db, { userId: session.user.id, organizationId: activeOrganizationId }) : 0;

  return data(
    {
      locale,
      csrf: csrf.token,
      user: session ? { displayName: session.user.displayName, email: session.user.email } : null,
      organizations,
      activeOrganizationId,
      unreadNotices,
      mayManageApiKeys,
      flash: flash ? translateWithParams(locale, flash.key, flash.params) : null,
    },
    { headers },
  );
}

// The root holds the session-dependent chrome (user, org list, flash): refresh it on every
// navigation, so a flash shows once and a session ended elsewhere shows at the next click.
export const shouldRevalidate: ShouldRevalidateFunction = () => true;

function LanguageSwitch() {
  const t = useT();
  const location = useLocation();
  return (
    <Form method="post" action="/set-language" className="inline-form">
      <CsrfInput />
      <input type="hidden" name="lang" value={t("nav.switchToOtherLang")} />
      <input type="hidden" name="redirectTo" value={location.pathname + location.search} />
      <button type="submit" className="button-link" aria-label={t("nav.language")}>
        {t("nav.switchToOther")}
      </button>
    </Form>
  );
}

function OrgSwitcher({ organizations, activeId }: { organizations: { id: string; name: string }[]; activeId: string | null }) {
  const t = useT();
  return (
    <Form method="post" action="/switch-org" className="inline-form org-switcher">
      <CsrfInput />
      <label htmlFor="org-switcher">{t("nav.switchOrgLabel")}</label>
      <select id="org-switcher" name="orgId" defaultValue={activeId ?? undefined} key={activeId}>
        {organizations.map((org) => (
          <option key={org.id} value={org.id}>
            {org.name}
          </option>
        ))}
      </select>
      <button type="submit" className="button-secondary">
        {t("nav.switchOrg")}
      </button>
    </Form>
  );
}

function TopBar() {
  const location = useLocation();
  const root = useRouteLoaderData<typeof loader>("root");
  const t = useT();
  const active = root?.organizations.find((o) => o.id === root.activeOrganizationId);
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            融
          </span>
          <span className="brand-name">融通</span>
          <span className="brand-latin">Rongtong</span>
        </Link>
        {root?.user && active ? (
          <nav className="topnav" aria-label={t("nav.dashboard")}>
            {navFor(active.kind).map((entry, _i, entries) => {
              const current = activeNavEntry(entries, location.pathname) === entry;
              return (
                <Link key={entry.to} to={entry.to} className={current ? "active" : undefined} aria-current={current ? "page" : undefined}>
                  {t(entry.label)}
                </Link>
              );
            })}
          </nav>
        ) : null}
        <div className="topbar-tools">
          {root?.user && root.organizations.length > 1 ? (
            <OrgSwitcher organizations={root.organizations} activeId={root.activeOrganizationId} />
          ) : active ? (
            <span className="org-name">{active.name}</span>
          ) : null}
          <LanguageSwitch />
          {root?.user && active ? (
            <Link
              to={root.unreadNotices > 0 ? "/notifications?unread=1" : "/notifications"}
              className="inbox-link"
              data-testid="inbox-link"
              aria-label={root.unreadNotices > 0 ? t("nav.inboxUnread", { count: root.unreadNotices }) : t("nav.inbox")}
            >
              {t("nav.inbox")}
              {root.unreadNotices > 0 ? (
                <span className="count-badge" data-testid="unread-badge">
                  {root.unreadNotices > 99 ? "99+" : root.unreadNotices}
                </span>
              ) : null}
            </Link>
          ) : null}
          {root?.user && active && root.mayManageApiKeys ? (
            <Link to="/settings/api-keys" className="inbox-link" data-testid="api-keys-link" aria-current={location.pathname === "/settings/api-keys" ? "page" : undefined}>
              {t("nav.apiKeys")}
            </Link>
          ) : null}
          {root?.user ? (
            <>
              <span className="user-name" title={root.user.email}>
                {root.user.displayName}
              </span>
              <Form method="post" action="/logout" className="inline-form">
                <CsrfInput />
                <button type="submit" className="button-secondary">
                  {t("nav.logout")}
                </button>
              </Form>
            </>
          ) : null}
        </div>
      </div>
    </header>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  // Undefined when the root loader itself failed: the error page still renders, in zh-CN.
  const root = useRouteLoaderData<typeof loader>("root");
  const locale: Locale = root?.locale ?? DEFAULT_LOCALE;
  // A page for paper (handle.bare: a printable statement) goes without the top bar and footer.
  const bare = useMatches().some((m) => (m.handle as { bare?: boolean } | undefined)?.bare === true);
  return (
    <html lang={locale}>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <LocaleProvider locale={locale}>
          {bare ? null : <TopBar />}
          <main id="main" className="page">
            {root?.flash ? (
              <p className="flash" role="status">
                {root.flash}
              </p>
            ) : null}
            {children}
          </main>
          {bare ? null : (
            <footer className="footer">
              <span>{translate(locale, "app.fullName")}</span>
              <span aria-hidden="true">·</span>
              <span>{translate(locale, "app.tagline")}</span>
            </footer>
          )}
        </LocaleProvider>
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function ErrorBoundary() {
  return <RouteError />;
}
