import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ApplicationState, Back, formatBytes, FormProblem, TextArea, Timeline, useChannelLabel } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { formFailure, keepValues, requireRecruiter, type FormFailure } from "~/web/recruitment-forms.server";
import { approveApplication, getApplicationForReview, reissueApplicationInvitation, reviewApplication, type ReviewEvent } from "~/domain/recruitment";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "recruitment.review.title");

/** `GET|POST /campaigns/:campaignId/applications/:applicationId` — review one application. */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireRecruiter(request, context);
  const campaignId = requireUuidParam(params.campaignId);
  const applicationId = requireUuidParam(params.applicationId);
  const view = await scoped(() =>
    getApplicationForReview(context.db, organizationId, applicationId, { campaignId, serverSecret: context.config.sessionSecret, now: new Date() }),
  );
  const a = view.application;
  return {
    canManage,
    campaign: { id: view.campaign.id, title: view.campaign.title, depositFen: view.campaign.depositFen, approvedCount: view.campaign.approvedCount, quota: view.campaign.quota },
    application: {
      id: a.id,
      status: a.status,
      companyName: a.companyName,
      uscc: a.uscc,
      legalRepresentative: a.legalRepresentative,
      contactName: a.contactName,
      contactPhone: a.contactPhone,
      contactEmail: a.contactEmail,
      region: a.region,
      channels: a.channels,
      notes: a.notes,
      createdAt: a.createdAt,
      dealerLinkId: a.dealerLinkId,
      depositFen: a.depositFen,
      depositPaidAt: a.depositPaidAt,
      hasInvitation: a.invitationId !== null,
    },
    timeline: view.timeline,
    documents: view.documents.map((d) => ({ id: d.id, fileName: d.fileName, sizeBytes: d.sizeBytes, createdAt: d.createdAt })),
    existing: view.existingOrganization,
    invitation: view.invitation
      ? { ...view.invitation, url: view.invitation.path ? `${context.config.publicUrl}${view.invitation.path}` : null }
      : null,
    events: view.events,
  };
}

const FIELDS = ["message", "note"] as const;

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireRecruiter(request, context, { may: "application.review" });
  const campaignId = requireUuidParam(params.campaignId);
  const applicationId = requireUuidParam(params.applicationId);
  const here = `/campaigns/${campaignId}/applications/${applicationId}`;
  const intent = String(form.get("intent") ?? "");
  const values = keepValues(form, FIELDS, 2_100);
  // The application must be this campaign's (and this tenant's) before anything is done to it.
  await scoped(() => getApplicationForReview(context.db, organizationId, applicationId, { campaignId, serverSecret: context.config.sessionSecret, now: new Date() }));
  try {
    if (intent === "start_review" || intent === "request_info" || intent === "reject") {
      await reviewApplication(context.db, actor, organizationId, applicationId, intent as ReviewEvent, values.message ?? "", new Date());
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: `recruitment.flash.${intent}` }) } });
    }
    if (intent === "approve") {
      const approved = await approveApplication(context.db, actor, organizationId, applicationId, {
        note: values.note ?? "",
        serverSecret: context.config.sessionSecret,
        now: new Date(),
      });
      if (approved.invitationPath) {
        // No email leaves this machine: the link is shown to the reviewer and the applicant, and logged.
        context.logger.info(
          { applicationId, dealerOrganizationId: approved.dealerOrganizationId, invitationUrl: `${context.config.publicUrl}${approved.invitationPath}` },
          "recruitment: invitation link for the new dealer's owner (no email is sent)",
        );
      }
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.approved" }) } });
    }
    if (intent === "reissue") {
      const { invitationPath } = await reissueApplicationInvitation(context.db, actor, organizationId, applicationId, {
        serverSecret: context.config.sessionSecret,
        now: new Date(),
      });
      context.logger.info({ applicationId, invitationUrl: `${context.config.publicUrl}${invitationPath}` }, "recruitment: invitation link re-issued (no email is sent)");
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.reissued" }) } });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    // Each form has one text field: `message` (request info, reject) or `note` (approve).
    const { failure, status } = formFailure(error, intent, values, [intent === "approve" ? "note" : "message"], (f) =>
      f === "message" && intent === "approve" ? "note" : f,
    );
    return data<FormFailure>(failure, { status });
  }
}

export default function ReviewApplication() {
  const { canManage, campaign, application: a, timeline, documents, existing, invitation, events } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const channel = useChannelLabel();
  const base = `/campaigns/${campaign.id}`;
  const errorsOf = (intent: string) => (result && result.intent === intent ? result.fieldErrors : {});
  const valueOf = (intent: string, field: string) => (result && result.intent === intent ? result.values[field] : undefined);
  const kind = (k: string) => translateDynamic(locale, `kind.${k}`, k);
  const canApprove = events.includes("approve") && !(existing && (existing.inNetwork || existing.kind !== "dealer"));
  return (
    <div className="rc-page">
      <Back to={base} label={campaign.title} />
      <div className="rc-head">
        <div>
          <p className="eyebrow">{t("recruitment.review.title")}</p>
          <h1>{a.companyName}</h1>
          <ApplicationState status={a.status} />
        </div>
        {a.dealerLinkId ? (
          <Link to={`/dealers/${a.dealerLinkId}`} className="rc-button secondary">
            {t("recruitment.review.dealerLink")}
          </Link>
        ) : null}
      </div>

      {existing ? (
        <p className="notice" role="note">
          {existing.inNetwork
            ? t("recruitment.review.existingInNetwork", { name: existing.name })
            : existing.kind !== "dealer"
              ? t("recruitment.review.existingOtherKind", { name: existing.name, kind: kind(existing.kind) })
              : t("recruitment.review.existingOrg", { name: existing.name, kind: kind(existing.kind), members: existing.memberCount })}
        </p>
      ) : null}

      <div className="rc-cols">
        <div>
          <section className="panel">
            <h2>{t("recruitment.review.company")}</h2>
            <dl className="rc-dl">
              <dt>{t("recruitment.review.uscc")}</dt>
              <dd className="mono">{a.uscc}</dd>
              <dt>{t("recruitment.review.legalRepresentative")}</dt>
              <dd>{a.legalRepresentative}</dd>
              <dt>{t("recruitment.review.contact")}</dt>
              <dd>{a.contactName}</dd>
              <dt>{t("recruitment.review.phone")}</dt>
              <dd>{a.contactPhone}</dd>
              <dt>{t("recruitment.review.email")}</dt>
              <dd>{a.contactEmail}</dd>
              <dt>{t("recruitment.review.region")}</dt>
              <dd>{a.region}</dd>
              <dt>{t("recruitment.review.channels")}</dt>
              <dd>{a.channels.map(channel).join(locale === "en" ? ", " : "、")}</dd>
              {a.notes ? (
                <>
                  <dt>{t("recruitment.review.notes")}</dt>
                  <dd className="rc-prose">{a.notes}</dd>
                </>
              ) : null}
            </dl>
          </section>

          <section className="panel">
            <h2>{t("recruitment.review.documents")}</h2>
            {documents.length === 0 ? (
              <p className="empty">{t("recruitment.review.documentsEmpty")}</p>
            ) : (
              <ul className="rc-doc-list">
                {documents.map((d) => (
                  <li key={d.id}>
                    <a href={`${base}/files/${d.id}`}>{d.fileName}</a> <span className="subtle small">({formatBytes(d.sizeBytes)} · {formatDateTime(d.createdAt, locale)})</span>
                  </li>
                ))}
              </ul>
            )}
          </section>

          <section className="panel">
            <h2>{t("recruitment.review.timeline")}</h2>
            <Timeline items={timeline} />
          </section>
        </div>

        <div>
          {invitation || a.status === "approved" || a.status === "awaiting_deposit" ? (
            <section className="panel" aria-labelledby="invitation-heading">
              <h2 id="invitation-heading">{t("recruitment.review.invitation")}</h2>
              {!invitation ? (
                <p>{t("recruitment.review.noInvitation")}</p>
              ) : invitation.state === "accepted" ? (
                <p className="status-ok">{t("recruitment.review.invitationAccepted", { email: invitation.email })}</p>
              ) : invitation.url ? (
                <>
                  <p>{t("recruitment.review.invitationPending", { email: invitation.email, expires: formatDateTime(invitation.expiresAt, locale) })}</p>
                  <div className="rc-link-box" data-testid="invitation-link">
                    <a href={invitation.url}>{invitation.url}</a>
                  </div>
                  <p className="subtle small" style={{ marginTop: "0.5rem" }}>
                    {t("recruitment.review.invitationNoEmail")}
                  </p>
                </>
              ) : (
                <p className="notice">{t("recruitment.review.invitationExpired")}</p>
              )}
              {invitation && invitation.state !== "accepted" && canManage ? (
                <Form method="post">
                  <CsrfInput />
                  <input type="hidden" name="intent" value="reissue" />
                  <button type="submit" className="rc-button secondary" disabled={busy}>
                    {t("recruitment.review.reissue")}
                  </button>
                </Form>
              ) : null}
            </section>
          ) : null}

          {a.depositFen > 0 ? (
            <section className="panel">
              <h2>{t("recruitment.review.deposit")}</h2>
              {a.depositPaidAt ? (
                <p className="status-ok">{t("recruitment.review.depositPaid", { amount: formatFen(a.depositFen, locale), at: formatDateTime(a.depositPaidAt, locale) })}</p>
              ) : (
                <p>{t("recruitment.review.depositAwaiting", { amount: formatFen(a.depositFen, locale) })}</p>
              )}
            </section>
          ) : null}

          <section className="panel rc-decide" aria-labelledby="actions-heading">
            <h2 id="actions-heading">{t("recruitment.review.actions")}</h2>
            {result && result.formProblem ? <FormProblem lead={t("recruitment.form.notSaved")} problem={result.formProblem} message={result.formMessage} /> : null}
            {events.length === 0 ? <p className="empty">{t("recruitment.review.noActions")}</p> : null}
            {a.status === "info_requested" ? <p className="notice">{t("recruitment.review.waitingForAnswer")}</p> : null}
            {!canManage && events.length > 0 ? <p className="notice">{t("recruitment.readOnly")}</p> : null}
            {canManage && events.includes("start_review") ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="start_review" />
                <button type="submit" className="rc-button" disabled={busy}>
                  {t("recruitment.review.startReview")}
                </button>
              </Form>
            ) : null}
            {canManage && canApprove ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="approve" />
                <p className="small">{t("recruitment.review.approveExplain", { email: a.contactEmail })}</p>
                {campaign.depositFen > 0 ? <p className="small notice">{t("recruitment.review.approveDeposit", { amount: formatFen(campaign.depositFen, locale) })}</p> : null}
                <TextArea name="note" idPrefix="approve-" label={t("recruitment.review.approveNote")} rows={2} maxLength={2000} defaultValue={valueOf("approve", "note")} error={errorsOf("approve").note} />
                <button type="submit" className="rc-button" disabled={busy}>
                  {t("recruitment.review.approve")}
                </button>
              </Form>
            ) : null}
            {canManage && events.includes("request_info") ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="request_info" />
                <TextArea
                  name="message"
                  idPrefix="info-"
                  label={t("recruitment.review.requestInfoLabel")}
                  required
                  rows={3}
                  maxLength={2000}
                  defaultValue={valueOf("request_info", "message")}
                  error={errorsOf("request_info").message}
                />
                <button type="submit" className="rc-button secondary" disabled={busy}>
                  {t("recruitment.review.requestInfo")}
                </button>
              </Form>
            ) : null}
            {canManage && events.includes("reject") ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="reject" />
                <TextArea
                  name="message"
                  idPrefix="reject-"
                  label={t("recruitment.review.rejectReason")}
                  required
                  rows={2}
                  maxLength={2000}
                  defaultValue={valueOf("reject", "message")}
                  error={errorsOf("reject").message}
                />
                <button type="submit" className="rc-button danger" disabled={busy}>
                  {t("recruitment.review.reject")}
                </button>
              </Form>
            ) : null}
          </section>
        </div>
      </div>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
