import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { formatDate } from "~/i18n";
import { Link, useLoaderData } from "@remix-run/react";
import { CampaignState } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { requireRecruiter } from "~/web/recruitment-forms.server";
import { listCampaigns } from "~/domain/recruitment";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "recruitment.title");

/** `GET /campaigns` — the core enterprise's recruitment campaigns. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireRecruiter(request, context);
  const campaigns = await listCampaigns(context.db, organizationId);
  return {
    canManage,
    campaigns: campaigns.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      regions: c.regions,
      quota: c.quota,
      approvedCount: c.approvedCount,
      closesOn: c.closesOn,
      openApplications: c.openApplications,
      totalApplications: c.totalApplications,
    })),
  };
}

export default function Campaigns() {
  const { canManage, campaigns } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="rc-page">
      <div className="rc-head">
        <div>
          <p className="eyebrow">{t("recruitment.eyebrow")}</p>
          <h1>{t("recruitment.title")}</h1>
        </div>
        {canManage ? (
          <Link to="/campaigns/new" className="rc-button">
            {t("recruitment.new")}
          </Link>
        ) : null}
      </div>
      <p className="subtle">{t("recruitment.intro")}</p>
      <section className="panel">
        {campaigns.length === 0 ? (
          <p className="empty">{t("recruitment.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">{t("recruitment.col.campaign")}</th>
                  <th scope="col">{t("recruitment.col.status")}</th>
                  <th scope="col">{t("recruitment.col.regions")}</th>
                  <th scope="col" className="num">
                    {t("recruitment.col.places")}
                  </th>
                  <th scope="col">{t("recruitment.col.closesOn")}</th>
                  <th scope="col" className="num">
                    {t("recruitment.col.open")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {campaigns.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link to={`/campaigns/${c.id}`}>{c.title}</Link>
                    </td>
                    <td>
                      <CampaignState status={c.status} />
                    </td>
                    <td className="small">
                      {c.regions.slice(0, 3).join("、")}
                      {c.regions.length > 3 ? ` +${c.regions.length - 3}` : ""}
                    </td>
                    <td className="num">
                      {c.approvedCount} / {c.quota}
                    </td>
                    <td className="nowrap">{formatDate(c.closesOn, locale)}</td>
                    <td className="num">
                      {c.openApplications} / {c.totalApplications}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
