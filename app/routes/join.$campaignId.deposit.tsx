import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ApplicationState, FormProblem } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { EpayGatewayError, paymentsDepsForRequest } from "~/domain/payments";
import { formFailure, type FormFailure } from "~/web/recruitment-forms.server";
import { getDepositForDealer, startDepositPayment } from "~/domain/recruitment";
import { may } from "~/domain/identity";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import { requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "recruitment.deposit.title");


/**
 * `GET|POST /join/:campaignId/deposit` — the new dealer pays the campaign's deposit through e-Pay.
 * Signed in as the dealer (the invitation lands here): the gateway sends the payer back through
 * /payments/:id/return, which only the paying organisation may open, and then to this page.
 * Any other organisation — or a dealer without an approved application here — gets a 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const campaignId = requireUuidParam(params.campaignId);
  const view = await scoped(() => getDepositForDealer(context.db, organization.organizationId, campaignId, new Date()));
  const a = view.application;
  return {
    campaign: { id: view.campaign.id, title: view.campaign.title, coreEnterpriseName: view.campaign.coreEnterpriseName, coreEnterpriseNameEn: view.campaign.coreEnterpriseNameEn },
    application: { status: a.status, depositFen: a.depositFen, depositPaidAt: a.depositPaidAt, companyName: a.companyName },
    payment: view.payment,
    canPay: may(organization.roles, "recruitment.pay_deposit", organization.kind),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organization, actor } = await requireOrgContext(request, context, { may: "recruitment.pay_deposit" });
  const campaignId = requireUuidParam(params.campaignId);
  try {
    // A person is waiting: a short budget; asking again resumes the same payment.
    const deps = paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: 5_000, maxAttempts: 1 });
    const { payUrl } = await startDepositPayment(context.db, actor, { dealerOrganizationId: organization.organizationId, campaignId, now: new Date() }, deps);
    return redirect(payUrl);
  } catch (error) {
    if (error instanceof EpayGatewayError) {
      context.logger.warn({ err: error, campaignId }, "e-Pay unreachable while starting a recruitment deposit");
      return data<FormFailure>({ intent: "pay", fieldErrors: {}, formProblem: "gateway_down", formMessage: null, values: {} }, { status: 503 });
    }
    const { failure, status } = formFailure(error, "pay", {}, []);
    return data<FormFailure>(failure, { status });
  }
}

export default function Deposit() {
  const { campaign, application: a, payment, canPay } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const coreName = locale === "en" && campaign.coreEnterpriseNameEn ? campaign.coreEnterpriseNameEn : campaign.coreEnterpriseName;
  const processing = a.status === "awaiting_deposit" && payment !== null && payment.status !== "created" && payment.status !== "failed";
  return (
    <div className="rc-page rc-narrow">
      <p className="eyebrow">{t("recruitment.public.by", { name: coreName })}</p>
      <h1>{t("recruitment.deposit.title")}</h1>
      <section className="panel">
        <dl className="rc-dl">
          <dt>{t("recruitment.deposit.campaign")}</dt>
          <dd>{campaign.title}</dd>
          <dt>{t("recruitment.col.company")}</dt>
          <dd>
            {a.companyName} · <ApplicationState status={a.status} />
          </dd>
          <dt>{t("recruitment.deposit.amount")}</dt>
          <dd className="num" style={{ textAlign: "left", fontSize: "1.3rem", fontWeight: 600 }}>
            {formatFen(a.depositFen, locale)}
          </dd>
        </dl>
      </section>
      {result?.formProblem === "gateway_down" ? (
        <p className="rc-form-error" role="alert">
          {t("recruitment.deposit.gatewayDown")}
        </p>
      ) : result ? (
        <FormProblem lead={t("recruitment.form.notSaved")} problem={result.formProblem} message={result.formMessage} />
      ) : null}
      {a.depositPaidAt ? (
        <section className="rc-callout">
          <p style={{ margin: 0 }}>{t("recruitment.deposit.paid", { at: formatDateTime(a.depositPaidAt, locale) })}</p>
          <p style={{ margin: "0.6rem 0 0" }}>
            <Link to="/shop" className="rc-button">
              {t("recruitment.deposit.toShop")}
            </Link>
          </p>
        </section>
      ) : processing ? (
        <p className="notice" role="status">
          {t("recruitment.deposit.processing")}
        </p>
      ) : (
        <section className="panel">
          {payment?.status === "failed" ? <p className="notice">{t("recruitment.deposit.failed")}</p> : null}
          {canPay ? (
            <Form method="post">
              <CsrfInput />
              <button type="submit" className="rc-button large" disabled={navigation.state !== "idle"}>
                {t("recruitment.deposit.pay")}
              </button>
              <p className="subtle small" style={{ marginTop: "0.5rem" }}>
                {t("recruitment.deposit.payHint")}
              </p>
            </Form>
          ) : (
            <p className="notice">{t("recruitment.readOnly")}</p>
          )}
        </section>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
