import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { MarketTabs } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, SelectField, TextField, valuesFor } from "~/components/supply-ui";
import { formatFen, formatPercentBps, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { requireMarketOperator, requireOperatorMarket } from "~/web/market-access.server";
import { addFeeSchedule, FEE_FORM_FIELDS, feeScheduleFormSchema, listFeeSchedules, getMarket } from "~/domain/market";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";
import { shanghaiDate } from "~/domain/shared";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "market.fees.title");

type FeeState = "inForce" | "scheduled" | "past";

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  // Scoped by the acting operator: another operator's market id is a 404.
  const { organizationId, canManage, market } = await requireOperatorMarket(request, context, params.marketId);
  const schedules = await listFeeSchedules(context.db, organizationId, market.id);
  const today = shanghaiDate(new Date());
  // Listed by category, newest start first: the first one started on or before today is in force.
  const inForce = new Set<string>();
  const rows = schedules.map((s) => {
    let state: FeeState;
    if (s.effectiveFrom > today) state = "scheduled";
    else if (!inForce.has(s.category)) {
      inForce.add(s.category);
      state = "inForce";
    } else state = "past";
    return { id: s.id, category: s.category, commissionRateText: formatPercentBps(s.commissionRateBps), minFeeFen: s.minFeeFen, effectiveFrom: s.effectiveFrom, state };
  });
  return { canManage, today, market: { id: market.id, name: market.name, categories: market.categories }, schedules: rows };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireMarketOperator(request, context, { may: "market.fee_write" });
  const marketId = requireUuidParam(params.marketId);
  const values = formValues(form, FEE_FORM_FIELDS);
  const parsed = feeScheduleFormSchema.safeParse(values);
  if (!parsed.success) {
    await scoped(() => getMarket(context.db, organizationId, marketId));
    return data<FormFailure>({ intent: "addFee", fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
  }
  try {
    const schedule = await addFeeSchedule(context.db, actor, organizationId, marketId, parsed.data, new Date());
    return redirect(`/markets/${marketId}/fees`, {
      headers: {
        "Set-Cookie": await flashCookie(context, { key: "market.flash.feeAdded", params: { category: schedule.category, date: schedule.effectiveFrom } }),
      },
    });
  } catch (error) {
    const { failure, status } = domainFailure(error, "addFee", values);
    return data<FormFailure>(failure, { status });
  }
}

const STATE_LABEL = { inForce: "market.fees.inForce", scheduled: "market.fees.scheduled", past: "market.fees.past" } as const;

export default function MarketFees() {
  const { canManage, today, market, schedules } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const errors = errorsFor(failure, "addFee");
  const values = valuesFor(failure, "addFee") ?? { effectiveFrom: today };
  return (
    <div className="sc-page">
      <p>
        <Link to={`/markets/${market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{market.name}</p>
          <h1>{t("market.fees.title")}</h1>
          <p className="subtle">{t("market.fees.hint")}</p>
        </div>
      </div>
      <MarketTabs marketId={market.id} />
      <section className="panel">
        {schedules.length === 0 ? (
          <p className="empty">{t("market.fees.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="fee-table">
              <thead>
                <tr>
                  <th scope="col">{t("market.fee.category")}</th>
                  <th scope="col" className="num">
                    {t("market.fee.commissionRate")}
                  </th>
                  <th scope="col" className="num">
                    {t("market.fee.minFee")}
                  </th>
                  <th scope="col">{t("market.fee.effectiveFrom")}</th>
                  <th scope="col">{t("market.fee.state")}</th>
                </tr>
              </thead>
              <tbody>
                {schedules.map((s) => (
                  <tr key={s.id}>
                    <td>{s.category}</td>
                    <td className="num">{s.commissionRateText}</td>
                    <td className="num">{formatFen(s.minFeeFen, locale)}</td>
                    <td className="nowrap">{formatDate(s.effectiveFrom, locale)}</td>
                    <td>
                      <span className={`sc-state ${s.state === "inForce" ? "active" : s.state === "scheduled" ? "submitted" : "inactive"}`}>{t(STATE_LABEL[s.state])}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {canManage ? (
        <section className="panel">
          <h2>{t("market.fees.add")}</h2>
          <Form method="post" noValidate className="sc-form">
            <CsrfInput />
            <FormError message={failure?.formError} />
            <SelectField
              name="category"
              label={t("market.fee.category")}
              required
              defaultValue={values.category ?? market.categories[0]}
              options={market.categories.map((c) => ({ value: c, label: c }))}
              error={errors.category}
            />
            <TextField name="commissionRate" label={t("market.fee.commissionRate")} required inputMode="decimal" defaultValue={values.commissionRate} error={errors.commissionRate} />
            <TextField name="minFee" label={t("market.fee.minFee")} inputMode="decimal" defaultValue={values.minFee} error={errors.minFee} />
            <TextField name="effectiveFrom" label={t("market.fee.effectiveFrom")} type="date" required defaultValue={values.effectiveFrom} error={errors.effectiveFrom} />
            <button type="submit" className="sc-button">
              {t("market.fees.add")}
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
