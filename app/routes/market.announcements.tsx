import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { formatDateTime } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listAnnouncementsForParty } from "~/domain/market";
import { badRequestOnValidation } from "~/web/supply-chain-access.server";
import { notFound, requireOrgContext } from "~/web/tenancy.server";
import dashboardStyles from "~/styles/market-dashboard.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: dashboardStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "announcement.party.title");

const PAGE_SIZE = 30;

/**
 * The announcements a merchant or a buyer organisation reads (the rules are in
 * market-announcements.server.ts); any other kind of organisation gets 404, as the page is not
 * theirs.
 */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const ctx = await requireOrgContext(request, context);
  const kind = ctx.organization.kind === "merchant" ? "merchant" : ctx.organization.kind === "buyer" ? "buyer" : null;
  if (!kind) notFound();
  const after = new URL(request.url).searchParams.get("after");
  const page = await badRequestOnValidation(() =>
    listAnnouncementsForParty(context.db, ctx.organization.organizationId, kind, { limit: PAGE_SIZE, after })
  );
  return {
    kind,
    isFirstPage: !after,
    announcements: page.items.map((a) => ({
      id: a.id,
      marketName: a.marketName,
      title: a.title,
      body: a.body,
      audience: a.audience,
      publishedAt: a.publishedAt,
    })),
    nextCursor: page.nextCursor,
  };
}

export default function PartyAnnouncements() {
  const { kind, announcements, nextCursor, isFirstPage } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <h1>{t("announcement.party.title")}</h1>
          <p className="subtle">{kind === "merchant" ? t("announcement.party.hintMerchant") : t("announcement.party.hintBuyer")}</p>
        </div>
      </div>
      <section className="panel">
        {announcements.length === 0 ? (
          <p className="empty">{t("announcement.party.empty")}</p>
        ) : (
          <ul className="an-list" data-testid="announcement-list">
            {announcements.map((a) => (
              <li key={a.id} className="an-item">
                <h3>{a.title}</h3>
                <p className="an-meta">
                  <span className="an-market">{a.marketName}</span>
                  {a.audience !== "all" ? <span className={`an-audience ${a.audience}`}>{t(`announcement.audience.${a.audience}`)}</span> : null}
                  <span>{t("announcement.publishedAt", { time: formatDateTime(a.publishedAt, locale) })}</span>
                </p>
                <p className="an-body">{a.body}</p>
              </li>
            ))}
          </ul>
        )}
        {nextCursor || !isFirstPage ? (
          <p className="sc-pager">
            {!isFirstPage ? <Link to=".">{t("announcement.newest")}</Link> : <span />}
            {nextCursor ? <Link to={`?after=${encodeURIComponent(nextCursor)}`}>{t("announcement.older")} →</Link> : null}
          </p>
        ) : null}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
