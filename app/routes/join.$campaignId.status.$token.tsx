import {
  data,
  redirect,
  type ActionFunctionArgs,
  type HeadersFunction,
  type LinksFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ApplicationState, FileInput, FormProblem, formatBytes, TextArea, Timeline } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import type { Actor } from "~/domain/shared";
import { fieldFailure, formFailure, PRIVATE_PAGE_HEADERS, type FormFailure } from "~/web/recruitment-forms.server";
import { readFormWithFiles } from "~/web/recruitment-uploads.server";
import { getApplicationByToken, respondToInfoRequest, statusPath, withdrawApplication } from "~/domain/recruitment";
import { notFound, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => [...pageTitle(matches, "recruitment.status.pageTitle"), { name: "robots", content: "noindex" }];

// The token in the URL is the applicant's key: never sent on as a Referer, never cached.
export const headers: HeadersFunction = () => ({ ...PRIVATE_PAGE_HEADERS });

function tokenParam(value: string | undefined): string {
  if (!value || value.length > 64) notFound();
  return value;
}

/**
 * `GET|POST /join/:campaignId/status/:token` — the applicant's private status page: the state,
 * the timeline (reasons and questions included, reviewers' names not), the answer to an info
 * request, withdrawal, and after approval the invitation link and the deposit. The token opens this
 * one application and nothing else; a wrong one is a 404.
 */
export async function loader({ params, context }: LoaderFunctionArgs) {
  const campaignId = requireUuidParam(params.campaignId);
  const token = tokenParam(params.token);
  const view = await scoped(() => getApplicationByToken(context.db, campaignId, token, { serverSecret: context.config.sessionSecret, now: new Date() }));
  const a = view.application;
  return data(
    {
      statusUrl: `${context.config.publicUrl}${statusPath(campaignId, token)}`,
      campaign: {
        id: view.campaign.id,
        title: view.campaign.title,
        coreEnterpriseName: view.campaign.coreEnterpriseName,
        coreEnterpriseNameEn: view.campaign.coreEnterpriseNameEn,
      },
      application: {
        status: a.status,
        companyName: a.companyName,
        createdAt: a.createdAt,
        depositFen: a.depositFen,
        depositPaidAt: a.depositPaidAt,
        linkedExisting: (a.status === "approved" || a.status === "awaiting_deposit") && a.invitationId === null,
      },
      timeline: view.timeline,
      documents: view.documents,
      invitation: view.invitation
        ? { email: view.invitation.email, state: view.invitation.state, url: view.invitation.path ? `${context.config.publicUrl}${view.invitation.path}` : null }
        : null,
      events: view.events,
      openQuestion: view.openQuestion,
    },
    { headers: PRIVATE_PAGE_HEADERS },
  );
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const campaignId = requireUuidParam(params.campaignId);
  const token = tokenParam(params.token);
  const { form, documents, problem } = await readFormWithFiles(request, "documents");
  await requireCsrf(request, context, form);
  const intent = String(form.get("intent") ?? "");
  const message = String(form.get("message") ?? "").slice(0, 2_100);
  const values = { message };
  const here = statusPath(campaignId, token);
  const actor: Actor = { userId: null, organizationId: null, ip: context.ip, requestId: context.requestId };
  // The link must open an application before its forms can be wrong.
  await scoped(() => getApplicationByToken(context.db, campaignId, token, { serverSecret: context.config.sessionSecret, now: new Date() }));
  if (problem) return data<FormFailure>(fieldFailure(intent, { documents: problem }, values), { status: 422, headers: PRIVATE_PAGE_HEADERS });
  try {
    if (intent === "respond") {
      await respondToInfoRequest(context.db, actor, { campaignId, token, message, documents });
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.responded" }), ...PRIVATE_PAGE_HEADERS } });
    }
    if (intent === "withdraw") {
      await withdrawApplication(context.db, actor, { campaignId, token, reason: message });
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.withdrawn" }), ...PRIVATE_PAGE_HEADERS } });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = formFailure(error, intent, values, ["message", "documents"]);
    return data<FormFailure>(failure, { status, headers: PRIVATE_PAGE_HEADERS });
  }
}

export default function ApplicationStatus() {
  const { statusUrl, campaign, application: a, timeline, documents, invitation, events, openQuestion } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const coreName = locale === "en" && campaign.coreEnterpriseNameEn ? campaign.coreEnterpriseNameEn : campaign.coreEnterpriseName;
  const errorsOf = (intent: string) => (result && result.intent === intent ? result.fieldErrors : {});
  const approved = a.status === "approved" || a.status === "awaiting_deposit";
  return (
    <div className="rc-page rc-narrow">
      <p className="eyebrow">{t("recruitment.public.by", { name: coreName })}</p>
      <h1>{campaign.title}</h1>
      <div className="rc-split" style={{ marginBottom: "1rem" }}>
        <div>
          <strong>{a.companyName}</strong> · <ApplicationState status={a.status} />
        </div>
        <span className="subtle small">{t("recruitment.status.submittedAt", { at: formatDateTime(a.createdAt, locale) })}</span>
      </div>

      <section className="panel" aria-labelledby="link-heading">
        <h2 id="link-heading">{t("recruitment.status.saveLink")}</h2>
        <div className="rc-link-box" data-testid="status-link">
          {statusUrl}
        </div>
        <p className="subtle small" style={{ marginTop: "0.5rem", marginBottom: 0 }}>
          {t("recruitment.status.saveLinkHint")}
        </p>
      </section>

      {result && result.formProblem ? <FormProblem lead={t("recruitment.public.notSent")} problem={result.formProblem} message={result.formMessage} /> : null}

      {approved ? (
        <section className="rc-callout" aria-labelledby="approved-heading">
          <h2 id="approved-heading">{t("recruitment.status.approvedTitle")}</h2>
          {invitation?.url ? (
            <>
              <p>{t("recruitment.status.inviteIntro", { email: invitation.email })}</p>
              <p>
                <a className="rc-button" href={invitation.url} data-testid="invitation-link">
                  {t("recruitment.status.inviteOpen")}
                </a>
              </p>
            </>
          ) : invitation?.state === "accepted" ? (
            <p>
              {t("recruitment.status.inviteAccepted")} <Link to="/login">{t("login.submit")}</Link>
            </p>
          ) : invitation ? (
            <p>{t("recruitment.status.inviteExpired")}</p>
          ) : a.linkedExisting ? (
            <p>
              {t("recruitment.status.existingOrg")} <Link to="/login">{t("login.submit")}</Link>
            </p>
          ) : null}
          {a.depositFen > 0 ? (
            a.depositPaidAt ? (
              <p className="status-ok">{t("recruitment.status.depositPaid", { amount: formatFen(a.depositFen, locale) })}</p>
            ) : (
              <div className="rc-callout warn" style={{ marginBottom: 0 }}>
                <strong>{t("recruitment.status.depositDue", { amount: formatFen(a.depositFen, locale) })}</strong>
                <p className="small">{t("recruitment.status.depositDueHint", { name: coreName })}</p>
                <Link to={`/join/${campaign.id}/deposit`} className="rc-button secondary">
                  {t("recruitment.status.depositGo")}
                </Link>
              </div>
            )
          ) : null}
        </section>
      ) : a.status === "rejected" ? (
        <section className="rc-callout bad">
          <h2>{t("recruitment.status.rejectedTitle")}</h2>
        </section>
      ) : a.status === "withdrawn" ? (
        <section className="rc-callout warn">
          <h2>{t("recruitment.status.withdrawnTitle")}</h2>
        </section>
      ) : null}

      {events.includes("respond") ? (
        <section className="panel" aria-labelledby="question-heading">
          <h2 id="question-heading">{t("recruitment.status.question")}</h2>
          {openQuestion ? <blockquote className="rc-prose notice">{openQuestion}</blockquote> : null}
          <Form method="post" encType="multipart/form-data" noValidate>
            <CsrfInput />
            <input type="hidden" name="intent" value="respond" />
            <TextArea
              name="message"
              idPrefix="respond-"
              label={t("recruitment.status.answer")}
              required
              rows={4}
              maxLength={2000}
              defaultValue={result?.intent === "respond" ? result.values.message : undefined}
              error={errorsOf("respond").message}
            />
            <FileInput name="documents" idPrefix="respond-" label={t("recruitment.status.answerFiles")} multiple hint={t("recruitment.public.documentsHint")} error={errorsOf("respond").documents} />
            <button type="submit" className="rc-button" disabled={busy}>
              {t("recruitment.status.sendAnswer")}
            </button>
          </Form>
        </section>
      ) : null}

      <section className="panel">
        <h2>{t("recruitment.status.timeline")}</h2>
        <Timeline items={timeline} />
        {documents.length > 0 ? (
          <>
            <h3>{t("recruitment.status.yourDocuments")}</h3>
            <ul className="rc-doc-list">
              {documents.map((d) => (
                <li key={d.id}>
                  {d.fileName} <span className="subtle small">({formatBytes(d.sizeBytes)})</span>
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </section>

      {events.includes("withdraw") ? (
        <section className="panel">
          <h2>{t("recruitment.status.withdraw")}</h2>
          <p className="subtle small">{t("recruitment.status.withdrawHint")}</p>
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="withdraw" />
            <TextArea
              name="message"
              idPrefix="withdraw-"
              label={t("recruitment.status.withdrawReason")}
              rows={2}
              maxLength={2000}
              defaultValue={result?.intent === "withdraw" ? result.values.message : undefined}
              error={errorsOf("withdraw").message}
            />
            <button type="submit" className="rc-button danger" disabled={busy}>
              {t("recruitment.status.withdraw")}
            </button>
          </Form>
        </section>
      ) : null}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
