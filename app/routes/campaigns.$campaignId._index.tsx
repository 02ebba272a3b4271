import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ApplicationState, Back, CampaignState, FormProblem } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, translateDynamic, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { isDomainError } from "~/domain/shared";
import { formFailure, requireRecruiter, type FormFailure } from "~/web/recruitment-forms.server";
import { campaignEvents, countApplicationsByStatus, getCampaign, listApplications, notAccepting, transitionCampaign, type CampaignEvent } from "~/domain/recruitment";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
// The status tabs render in the browser: the list comes from the schema module, not a .server one.
import { APPLICATION_STATUSES, type ApplicationStatus } from "../../db/schema";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "recruitment.title");

function isStatus(value: string | null): value is ApplicationStatus {
  return value !== null && (APPLICATION_STATUSES as readonly string[]).includes(value);
}

/** `GET /campaigns/:campaignId` — one campaign: its terms, public link, state and applications. */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireRecruiter(request, context);
  const campaignId = requireUuidParam(params.campaignId);
  const campaign = await scoped(() => getCampaign(context.db, organizationId, campaignId));
  const url = new URL(request.url);
  const statusParam = url.searchParams.get("status");
  const status = isStatus(statusParam) ? statusParam : null;
  const after = url.searchParams.get("after");
  let page;
  try {
    page = await listApplications(context.db, organizationId, campaign.id, { status, after, limit: 25 });
  } catch (error) {
    // A forged cursor is the caller's mistake: 400, not 500.
    if (isDomainError(error) && error.code === "validation") throw new Response("Bad cursor", { status: 400 });
    throw error;
  }
  return {
    canManage,
    campaign: { ...campaign, events: campaignEvents(campaign.status), notAccepting: notAccepting(campaign, new Date()) },
    publicUrl: `${context.config.publicUrl}/join/${campaign.id}`,
    counts: await countApplicationsByStatus(context.db, organizationId, campaign.id),
    status,
    onFirstPage: !after,
    applications: page.items,
    nextCursor: page.nextCursor,
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireRecruiter(request, context, { may: "campaign.transition" });
  const campaignId = requireUuidParam(params.campaignId);
  const intent = String(form.get("intent") ?? "");
  if (intent !== "publish" && intent !== "close") throw new Response("Unknown form", { status: 400 });
  try {
    await transitionCampaign(context.db, actor, organizationId, campaignId, intent as CampaignEvent, { now: new Date() });
    return redirect(`/campaigns/${campaignId}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: intent === "publish" ? "recruitment.flash.published" : "recruitment.flash.closed" }) },
    });
  } catch (error) {
    const { failure, status } = formFailure(error, intent, {}, []);
    return data<FormFailure>(failure, { status });
  }
}

export default function CampaignDetail() {
  const { canManage, campaign, publicUrl, counts, status, onFirstPage, applications, nextCursor } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const base = `/campaigns/${campaign.id}`;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const tab = (s: ApplicationStatus | null) => (s ? `${base}?status=${s}` : base);
  return (
    <div className="rc-page">
      <Back to="/campaigns" label={t("recruitment.back")} />
      <div className="rc-head">
        <div>
          <p className="eyebrow">{t("recruitment.eyebrow")}</p>
          <h1>{campaign.title}</h1>
          <CampaignState status={campaign.status} />
        </div>
        {canManage ? (
          <div className="rc-actions">
            {campaign.status !== "closed" ? (
              <Link to={`${base}/edit`} className="rc-button secondary">
                {t("recruitment.detail.edit")}
              </Link>
            ) : null}
            {campaign.events.map((event) => (
              <Form method="post" key={event}>
                <CsrfInput />
                <input type="hidden" name="intent" value={event} />
                <button type="submit" className={`rc-button ${event === "close" ? "danger" : ""}`} disabled={navigation.state === "submitting"}>
                  {t(event === "publish" ? "recruitment.detail.publish" : "recruitment.detail.close")}
                </button>
              </Form>
            ))}
          </div>
        ) : null}
      </div>
      {result ? <FormProblem lead={t("recruitment.form.notSaved")} problem={result.formProblem} message={result.formMessage} /> : null}

      <section className="panel">
        <h2>{t("recruitment.detail.publicLink")}</h2>
        <div className="rc-link-box" data-testid="public-link">
          {campaign.status === "draft" ? <span>{publicUrl}</span> : <a href={publicUrl}>{publicUrl}</a>}
        </div>
        <p className="subtle small" style={{ marginTop: "0.5rem" }}>
          {campaign.status === "draft" ? t("recruitment.detail.draftLinkHint") : t("recruitment.detail.publicLinkHint")}
        </p>
        {campaign.status === "published" && (campaign.notAccepting === "past_closing" || campaign.notAccepting === "full") ? (
          <p className="notice">{t(`recruitment.detail.notAccepting.${campaign.notAccepting}`)}</p>
        ) : null}
        {campaign.status === "published" ? <p className="subtle small">{t("recruitment.detail.closeHint")}</p> : null}
      </section>

      <section className="panel">
        <dl className="rc-facts">
          <div>
            <dt>{t("recruitment.detail.approved")}</dt>
            <dd>
              {campaign.approvedCount} / {campaign.quota}
            </dd>
          </div>
          <div>
            <dt>{t("recruitment.detail.closesOn")}</dt>
            <dd>{formatDate(campaign.closesOn, locale)}</dd>
          </div>
          <div>
            <dt>{t("recruitment.detail.deposit")}</dt>
            <dd>{campaign.depositFen > 0 ? formatFen(campaign.depositFen, locale) : t("recruitment.detail.noDeposit")}</dd>
          </div>
          <div>
            <dt>{t("recruitment.detail.tier")}</dt>
            <dd>{campaign.tierName ?? t("recruitment.field.noTier")}</dd>
          </div>
          <div>
            <dt>{t("recruitment.detail.credit")}</dt>
            <dd>{formatFen(campaign.creditLimitFen, locale)}</dd>
          </div>
          <div>
            <dt>{t("recruitment.detail.terms")}</dt>
            <dd>{t("recruitment.detail.termsDays", { days: campaign.paymentTermsDays })}</dd>
          </div>
        </dl>
        <h3>{t("recruitment.field.regions")}</h3>
        <ul className="rc-regions">
          {campaign.regions.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      </section>

      <section className="panel" aria-labelledby="applications-heading">
        <h2 id="applications-heading">{t("recruitment.detail.applications")}</h2>
        <ul className="rc-tabs">
          <li>
            <Link to={tab(null)} aria-current={status === null ? "page" : undefined}>
              {t("recruitment.status.all")}
              <span className="rc-count">{total}</span>
            </Link>
          </li>
          {APPLICATION_STATUSES.map((s) => (
            <li key={s}>
              <Link to={tab(s)} aria-current={status === s ? "page" : undefined}>
                {translateDynamic(locale, `recruitment.status.${s}`, s)}
                <span className="rc-count">{counts[s]}</span>
              </Link>
            </li>
          ))}
        </ul>
        {applications.length === 0 ? (
          <p className="empty">{t("recruitment.detail.applicationsEmpty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">{t("recruitment.col.company")}</th>
                  <th scope="col">{t("recruitment.col.region")}</th>
                  <th scope="col">{t("recruitment.col.contact")}</th>
                  <th scope="col">{t("recruitment.col.status")}</th>
                  <th scope="col">{t("recruitment.col.received")}</th>
                  <th scope="col">{t("recruitment.col.updated")}</th>
                </tr>
              </thead>
              <tbody>
                {applications.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <Link to={`${base}/applications/${a.id}`}>{a.companyName}</Link>
                      <div className="mono subtle small">{a.uscc}</div>
                    </td>
                    <td>{a.region}</td>
                    <td>{a.contactName}</td>
                    <td>
                      <ApplicationState status={a.status} />
                    </td>
                    <td className="nowrap small">{formatDateTime(a.createdAt, locale)}</td>
                    <td className="nowrap small">{formatDateTime(a.updatedAt, locale)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {nextCursor || !onFirstPage ? (
          <nav className="rc-pager">
            {onFirstPage ? <span /> : <Link to={tab(status)}>← {t("recruitment.pager.first")}</Link>}
            {nextCursor ? (
              <Link to={`${tab(status)}${status ? "&" : "?"}after=${encodeURIComponent(nextCursor)}`} rel="next">
                {t("recruitment.pager.next")} →
              </Link>
            ) : null}
          </nav>
        ) : null}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
