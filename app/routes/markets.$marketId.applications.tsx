import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { MarketStateTag, MarketTabs } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, TextField, useProblemText, valuesFor } from "~/components/supply-ui";
import { formatDateTime } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { requireMarketOperator, requireOperatorMarket } from "~/web/market-access.server";
import { APPLICATION_FORM_FIELDS, applicationEvents, applicationFormSchema, approveMerchantApplication, getMarket, getMerchantApplication, listMerchantApplications, listStalls, reasonSchema, rejectMerchantApplication, submitMerchantApplication } from "~/domain/market";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "market.applications.title");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  // Scoped by the acting operator: another operator's market id is a 404.
  const { organizationId, canManage, market } = await requireOperatorMarket(request, context, params.marketId);
  const [applications, vacant] = [
    await listMerchantApplications(context.db, organizationId, market.id),
    await listStalls(context.db, organizationId, market.id, { status: "vacant" }),
  ];
  return {
    canManage,
    market: { id: market.id, name: market.name, categories: market.categories },
    vacantStalls: vacant.map((s) => ({ value: s.id, label: s.zoneName ? `${s.code} · ${s.zoneName}` : s.code })),
    applications: applications.map((a) => ({
      id: a.id,
      uscc: a.uscc,
      companyName: a.companyName,
      legalRepresentative: a.legalRepresentative,
      contactName: a.contactName,
      contactPhone: a.contactPhone,
      stallWish: a.stallWish,
      categories: a.categories,
      status: a.status,
      decisionReason: a.decisionReason,
      assignedStallCode: a.assignedStallCode,
      createdAt: a.createdAt,
      events: applicationEvents(a.status),
    })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const intent = String(form.get("intent") ?? "").slice(0, 50);
  const { organizationId, actor } = await requireMarketOperator(request, context, {
    may: intent === "approve" || intent === "reject" ? "market.application_decide" : "market.application_write",
  });
  const marketId = requireUuidParam(params.marketId);
  const values = formValues(form, [...APPLICATION_FORM_FIELDS, "applicationId", "stallId", "reason"]);
  const here = `/markets/${marketId}/applications`;
  const db = context.db;
  const invalid = async (fieldErrors: Record<string, string>) => {
    await scoped(() => getMarket(db, organizationId, marketId));
    return data<FormFailure>({ intent, fieldErrors, formError: null, values }, { status: 422 });
  };
  try {
    if (intent === "submit") {
      const parsed = applicationFormSchema.safeParse(values);
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      const application = await submitMerchantApplication(db, actor, organizationId, marketId, parsed.data);
      return redirect(here, {
        headers: { "Set-Cookie": await flashCookie(context, { key: "market.flash.applicationSubmitted", params: { company: application.companyName } }) },
      });
    }
    if (intent === "approve" || intent === "reject") {
      const applicationId = requireUuidParam(values.applicationId);
      // The application must be this operator's before anything about the form is said.
      await scoped(() => getMerchantApplication(db, organizationId, marketId, applicationId));
      if (intent === "approve") {
        if (!values.stallId) return await invalid({ stallId: "required" });
        const { application } = await approveMerchantApplication(db, actor, organizationId, marketId, applicationId, { stallId: values.stallId });
        return redirect(here, {
          headers: {
            "Set-Cookie": await flashCookie(context, {
              key: "market.flash.approved",
              params: { company: application.companyName, stall: application.assignedStallCode ?? "" },
            }),
          },
        });
      }
      const parsed = reasonSchema.safeParse({ reason: values.reason ?? "" });
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      const application = await rejectMerchantApplication(db, actor, organizationId, marketId, applicationId, parsed.data.reason);
      return redirect(here, {
        headers: { "Set-Cookie": await flashCookie(context, { key: "market.flash.rejected", params: { company: application.companyName } }) },
      });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function MarketApplications() {
  const { canManage, market, vacantStalls, applications } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const problem = useProblemText();
  const errors = errorsFor(failure, "submit");
  const values = valuesFor(failure, "submit") ?? {};
  const decisionFailure = failure && (failure.intent === "approve" || failure.intent === "reject") ? failure : null;
  return (
    <div className="sc-page">
      <p>
        <Link to={`/markets/${market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{market.name}</p>
          <h1>{t("market.applications.title")}</h1>
        </div>
      </div>
      <MarketTabs marketId={market.id} />
      <section className="panel">
        {decisionFailure ? (
          <p className="sc-form-error" role="alert" data-testid="decision-error">
            <strong>{t("catalog.form.notSaved")}</strong>{" "}
            {decisionFailure.formError ??
              Object.entries(decisionFailure.fieldErrors)
                .map(([field, code]) => `${field}: ${problem(code) ?? code}`)
                .join("; ")}
          </p>
        ) : null}
        {applications.length === 0 ? (
          <p className="empty">{t("market.applications.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="application-table">
              <thead>
                <tr>
                  <th scope="col">{t("market.application.companyName")}</th>
                  <th scope="col">{t("market.application.contactName")}</th>
                  <th scope="col">{t("market.application.categories")}</th>
                  <th scope="col">{t("market.application.stallWish")}</th>
                  <th scope="col">{t("market.application.submittedAt")}</th>
                  <th scope="col">{t("market.field.status")}</th>
                  {canManage ? <th scope="col" /> : null}
                </tr>
              </thead>
              <tbody>
                {applications.map((a) => (
                  <tr key={a.id}>
                    <td>
                      {a.companyName}
                      <div className="sc-muted mono">{a.uscc}</div>
                      <div className="sc-muted">
                        {t("market.application.legalRepresentative")}：{a.legalRepresentative}
                      </div>
                    </td>
                    <td>
                      {a.contactName}
                      <div className="sc-muted mono">{a.contactPhone}</div>
                    </td>
                    <td>{a.categories.join("、")}</td>
                    <td>{a.stallWish || "—"}</td>
                    <td className="nowrap">{formatDateTime(a.createdAt, locale)}</td>
                    <td>
                      <MarketStateTag state={a.status} />
                      {a.assignedStallCode ? <div className="mono">{a.assignedStallCode}</div> : null}
                      {a.decisionReason ? <div className="sc-muted">{a.decisionReason}</div> : null}
                    </td>
                    {canManage ? (
                      <td>
                        {a.events.includes("approve") ? (
                          vacantStalls.length ? (
                            <Form method="post" className="sc-inline-form">
                              <CsrfInput />
                              <input type="hidden" name="intent" value="approve" />
                              <input type="hidden" name="applicationId" value={a.id} />
                              <label htmlFor={`stall-${a.id}`}>{t("market.application.assignStall")}</label>
                              <select id={`stall-${a.id}`} name="stallId" required defaultValue="">
                                <option value="" disabled>
                                  {t("market.application.chooseStall")}
                                </option>
                                {vacantStalls.map((s) => (
                                  <option key={s.value} value={s.value}>
                                    {s.label}
                                  </option>
                                ))}
                              </select>
                              <button type="submit" className="sc-button">
                                {t("market.application.approve")}
                              </button>
                            </Form>
                          ) : (
                            <p className="sc-muted">{t("market.application.noVacant")}</p>
                          )
                        ) : null}
                        {a.events.includes("reject") ? (
                          <Form method="post" className="sc-inline-form">
                            <CsrfInput />
                            <input type="hidden" name="intent" value="reject" />
                            <input type="hidden" name="applicationId" value={a.id} />
                            <label htmlFor={`reason-${a.id}`}>{t("market.application.reason")}</label>
                            <input id={`reason-${a.id}`} name="reason" maxLength={200} required />
                            <button type="submit" className="sc-button secondary">
                              {t("market.application.reject")}
                            </button>
                          </Form>
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {canManage ? (
        <section className="panel">
          <h2>{t("market.applications.newTitle")}</h2>
          <p className="subtle">{t("market.applications.newHint")}</p>
          <Form method="post" noValidate className="sc-form">
            <CsrfInput />
            <input type="hidden" name="intent" value="submit" />
            <FormError message={failure?.intent === "submit" ? failure.formError : null} />
            <TextField name="uscc" label={t("market.application.uscc")} required maxLength={18} defaultValue={values.uscc} error={errors.uscc} />
            <TextField name="companyName" label={t("market.application.companyName")} required maxLength={200} defaultValue={values.companyName} error={errors.companyName} />
            <TextField
              name="legalRepresentative"
              label={t("market.application.legalRepresentative")}
              required
              maxLength={50}
              defaultValue={values.legalRepresentative}
              error={errors.legalRepresentative}
            />
            <TextField name="contactName" label={t("market.application.contactName")} required maxLength={50} defaultValue={values.contactName} error={errors.contactName} />
            <TextField name="contactPhone" label={t("market.application.contactPhone")} required maxLength={30} defaultValue={values.contactPhone} error={errors.contactPhone} />
            <TextField name="stallWish" label={t("market.application.stallWish")} maxLength={200} defaultValue={values.stallWish} error={errors.stallWish} />
            <TextField
              name="categories"
              label={t("market.application.categories")}
              required
              maxLength={500}
              hint={market.categories.join("、")}
              defaultValue={values.categories}
              error={errors.categories}
            />
            <button type="submit" className="sc-button">
              {t("market.applications.submit")}
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
