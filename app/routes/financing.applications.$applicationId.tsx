import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { ApplicationStatusTag, CheckList, productKindLabel } from "~/components/financing-ui";
import { formatDateTime, formatFen, type MessageKey } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { APPLICATION_LIMITS, approveApplication, availableApplicationEvents, getApplication, proposeLimit, rejectApplication, requireScopeFor, withdrawApplication, type FinancingParty } from "~/domain/financing";
import { Scorecard } from "~/components/financing-scorecard";
import { may, type ActionName } from "~/domain/identity";
import { isDomainError } from "~/domain/shared";
import { notFound, requireMay, requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.application.title");

/**
 * The bank decides, the borrower withdraws, the guarantor reads; no other kind of organisation has
 * this page. A market merchant borrows on its escrow orders' proceeds (receivables advances).
 */
const PARTY_OF_KIND: Readonly<Record<string, FinancingParty | "guarantor">> = { bank: "bank", dealer: "borrower", core_enterprise: "guarantor", merchant: "borrower" };

async function requireApplicationParty(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  const party = PARTY_OF_KIND[ctx.organization.kind];
  if (!party) notFound();
  return { ...ctx, party, scope: requireScopeFor(ctx.organization.kind, ctx.organization.organizationId) };
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization, roles, user, party, scope } = await requireApplicationParty(request, context);
  const applicationId = requireUuidParam(params.applicationId);
  // Scoped: another borrower's (or guarantor's) application is a 404, like one that does not exist.
  const a = await scoped(() => getApplication(context.db, scope, applicationId));
  const events = party === "guarantor" ? [] : availableApplicationEvents(a.status, party);
  const canDecide = party === "bank" && may(roles, "financing.decide", organization.kind);
  const canWithdraw = party === "borrower" && may(roles, "financing.withdraw", organization.kind);
  // The officer sees what the platform's own trade history proposes for this dealer, feature by feature.
  const scorecard = party === "bank" && a.guarantorId ? await proposeLimit(context.db, { coreEnterpriseId: a.guarantorId, dealerId: a.borrowerId }, new Date()) : null;
  return {
    scorecard,
    application: {
      id: a.id,
      number: a.number,
      status: a.status,
      productName: a.productName,
      productNameEn: a.productNameEn,
      productKind: a.productKind,
      borrowerName: a.borrowerName,
      guarantorName: a.guarantorName,
      orderId: a.orderId,
      orderNumber: a.orderNumber,
      amountFen: a.amountFen,
      checks: a.checks,
      firstApproverName: a.firstApproverName,
      reason: a.reason,
      secondApproverLimitFen: a.secondApproverLimitFen,
      loanId: a.loanId,
      createdAt: a.createdAt.toISOString(),
    },
    // Only the order's parties have an order page; the bank sees the order number.
    orderLinked: party !== "bank",
    needsTwo: a.amountFen > a.secondApproverLimitFen,
    iSignedFirst: a.firstApproverUserId !== null && a.firstApproverUserId === user.id,
    canApprove: canDecide && (events.includes("approve") || events.includes("second_approve")),
    canReject: canDecide && events.includes("reject"),
    canWithdraw: canWithdraw && events.includes("withdraw"),
    reasonChars: APPLICATION_LIMITS.reasonChars,
  };
}

const INTENT_ACTION = { approve: "financing.decide", reject: "financing.decide", withdraw: "financing.withdraw" } as const satisfies Record<string, ActionName>;
type Intent = keyof typeof INTENT_ACTION;
const isIntent = (value: string): value is Intent => Object.hasOwn(INTENT_ACTION, value);

/** Built in the action: the limit comes from a server module, which the browser bundle does not have. */
function rejectForm(reasonChars: number) {
  return z.object({
    reason: z
      .string({ required_error: "field.required", invalid_type_error: "field.required" })
      .trim()
      .min(1, "field.required")
      .max(reasonChars, "field.tooLong"),
  });
}

/** A refused form: the field it concerns (code per field), or a sentence when no field explains it. */
interface ApplicationFormFailure {
  intent: Intent;
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: { reason?: string };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireApplicationParty(request, context);
  const applicationId = requireUuidParam(params.applicationId);
  const intent = String(form.get("intent") ?? "");
  if (!isIntent(intent)) throw new Response("Unknown form", { status: 400 });
  requireMay(ctx, INTENT_ACTION[intent]);
  // The application must be within this organisation's sight before anything is done to it.
  const app = await scoped(() => getApplication(context.db, ctx.scope, applicationId));
  const here = `/financing/applications/${app.id}`;
  const reasonValue = typeof form.get("reason") === "string" ? String(form.get("reason")).slice(0, APPLICATION_LIMITS.reasonChars * 2) : undefined;
  const now = new Date();
  try {
    if (intent === "approve") {
      const updated = await approveApplication(context.db, ctx.actor, app.id, now);
      const key: MessageKey = updated.status === "awaiting_second_approval" ? "financing.flash.firstApproved" : "financing.flash.approved";
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key, params: { number: app.number } }) } });
    }
    if (intent === "reject") {
      const parsed = rejectForm(APPLICATION_LIMITS.reasonChars).safeParse({ reason: form.get("reason") });
      if (!parsed.success) {
        return data<ApplicationFormFailure>({ intent, fieldErrors: { reason: parsed.error.issues[0]?.message ?? "field.required" }, formError: null, values: { reason: reasonValue } }, { status: 422 });
      }
      await rejectApplication(context.db, ctx.actor, app.id, parsed.data.reason, now);
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "financing.flash.rejected", params: { number: app.number } }) } });
    }
    await withdrawApplication(context.db, ctx.actor, app.id, now);
    return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "financing.flash.withdrawn", params: { number: app.number } }) } });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    if (error.code === "not_found") notFound();
    // A refusal by the domain (four eyes, a state that moved on, a reason it will not take) is
    // shown next to the form that was sent, with the status the domain gave it.
    const fieldErrors = { ...error.fields };
    return data<ApplicationFormFailure>(
      { intent, fieldErrors, formError: Object.keys(fieldErrors).length === 0 ? error.message : null, values: { reason: reasonValue } },
      { status: error.status },
    );
  }
}

function FormProblem({ failure, intent }: { failure: ApplicationFormFailure | undefined; intent: Intent }) {
  const t = useT();
  if (!failure || failure.intent !== intent) return null;
  const lines: string[] = [];
  if (failure.formError) lines.push(failure.formError);
  for (const [field, problem] of Object.entries(failure.fieldErrors)) {
    if (field === "reason") continue;
    lines.push(field === "approver" ? t("financing.application.sameApprover") : `${field}: ${problem}`);
  }
  if (lines.length === 0) return null;
  return (
    <div className="sc-form-error" role="alert" data-testid={`${intent}-error`}>
      <strong>{t("financing.application.problem")}</strong>
      {lines.map((line, i) => (
        <p key={i}>{line}</p>
      ))}
    </div>
  );
}

export default function FinancingApplication() {
  const { application: a, orderLinked, needsTwo, iSignedFirst, canApprove, canReject, canWithdraw, reasonChars, scorecard } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const reasonError = failure?.intent === "reject" ? failure.fieldErrors.reason : undefined;
  const reasonText = (code: string) => (code === "field.tooLong" ? t("field.tooLong") : t("field.required"));
  return (
    <div className="sc-page">
      <p>
        <Link to="/financing/applications">← {t("financing.application.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("financing.application.title")}</p>
          <h1 className="mono">{a.number}</h1>
        </div>
        <ApplicationStatusTag status={a.status} />
      </div>

      {a.status === "awaiting_second_approval" && a.firstApproverName ? (
        <p className="notice" role="note" data-testid="four-eyes">
          {t("financing.application.firstApproval", { name: a.firstApproverName })}
        </p>
      ) : a.status === "applied" && needsTwo ? (
        <p className="notice" role="note" data-testid="four-eyes">
          {t("financing.application.needsTwo", { limit: formatFen(a.secondApproverLimitFen, locale) })}
        </p>
      ) : null}

      <div className="sc-cols">
        <section className="panel" aria-labelledby="details-heading">
          <h2 id="details-heading">{t("financing.application.details")}</h2>
          <dl className="facts" data-testid="application-details">
            <div>
              <dt>{t("financing.col.amount")}</dt>
              <dd className="num">{formatFen(a.amountFen, locale)}</dd>
            </div>
            <div>
              <dt>{t("financing.col.product")}</dt>
              <dd>
                {locale === "en" ? a.productNameEn : a.productName} <span className="sc-muted">({productKindLabel(locale, a.productKind)})</span>
              </dd>
            </div>
            <div>
              <dt>{t("financing.col.borrower")}</dt>
              <dd>{a.borrowerName}</dd>
            </div>
            <div>
              <dt>{t("financing.col.guarantor")}</dt>
              <dd>{a.guarantorName ?? "—"}</dd>
            </div>
            {a.orderId ? (
              <div>
                <dt>{t("financing.col.order")}</dt>
                <dd>
                  {orderLinked ? (
                    <Link to={`/orders/${a.orderId}`} className="mono">
                      {a.orderNumber ?? a.orderId}
                    </Link>
                  ) : (
                    <span className="mono">{a.orderNumber ?? a.orderId}</span>
                  )}
                </dd>
              </div>
            ) : null}
            <div>
              <dt>{t("financing.col.status")}</dt>
              <dd>
                <ApplicationStatusTag status={a.status} />
              </dd>
            </div>
            <div>
              <dt>{t("financing.col.firstApprover")}</dt>
              <dd>{a.firstApproverName ?? "—"}</dd>
            </div>
            <div>
              <dt>{t("financing.application.appliedAt")}</dt>
              <dd>{formatDateTime(a.createdAt, locale)}</dd>
            </div>
            {a.reason ? (
              <div>
                <dt>{t("financing.application.reason")}</dt>
                <dd data-testid="reject-reason">{a.reason}</dd>
              </div>
            ) : null}
          </dl>
          {a.loanId ? (
            <p>
              <Link to={`/financing/loans/${a.loanId}`} className="sc-button" data-testid="loan-link">
                {t("financing.application.loan")} →
              </Link>
            </p>
          ) : null}
        </section>

        <section className="panel" aria-labelledby="checks-heading">
          <h2 id="checks-heading">{t("financing.application.checks")}</h2>
          <CheckList checks={a.checks} />
          {scorecard ? <Scorecard data={scorecard} /> : null}
        </section>
      </div>

      {canApprove || canReject ? (
        <section className="panel" aria-labelledby="decide-heading">
          <h2 id="decide-heading">{t("financing.application.decide")}</h2>
          {canApprove ? (
            <Form method="post" data-testid="approve-form">
              <CsrfInput />
              <input type="hidden" name="intent" value="approve" />
              <FormProblem failure={failure} intent="approve" />
              {iSignedFirst ? <p className="sc-muted">{t("financing.application.sameApprover")}</p> : null}
              <button type="submit" className="sc-button" disabled={busy}>
                {t(a.status === "awaiting_second_approval" ? "financing.application.secondApprove" : "financing.application.approve")}
              </button>
            </Form>
          ) : null}
          {canReject ? (
            <Form method="post" data-testid="reject-form" style={{ marginTop: "1rem" }}>
              <CsrfInput />
              <input type="hidden" name="intent" value="reject" />
              <FormProblem failure={failure} intent="reject" />
              <div className="sc-field">
                <label htmlFor="reason">
                  {t("financing.application.rejectReason")}
                  <span className="req" aria-hidden="true">
                    *
                  </span>
                </label>
                <textarea
                  id="reason"
                  name="reason"
                  rows={3}
                  required
                  maxLength={reasonChars}
                  defaultValue={failure?.intent === "reject" ? failure.values.reason : undefined}
                  aria-invalid={reasonError ? true : undefined}
                  aria-describedby={reasonError ? "reason-error" : undefined}
                />
                {reasonError ? (
                  <p className="field-error" id="reason-error" data-field="reason">
                    {t("financing.application.field.reason")}: {reasonText(reasonError)}
                  </p>
                ) : null}
              </div>
              <button type="submit" className="sc-button danger" disabled={busy}>
                {t("financing.application.reject")}
              </button>
            </Form>
          ) : null}
        </section>
      ) : null}

      {canWithdraw ? (
        <section className="panel" aria-labelledby="withdraw-heading">
          <h2 id="withdraw-heading">{t("financing.application.withdraw")}</h2>
          <p className="sc-muted">{t("financing.application.withdrawExplain")}</p>
          <Form method="post" data-testid="withdraw-form">
            <CsrfInput />
            <input type="hidden" name="intent" value="withdraw" />
            <FormProblem failure={failure} intent="withdraw" />
            <button type="submit" className="sc-button danger" disabled={busy}>
              {t("financing.application.withdraw")}
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
