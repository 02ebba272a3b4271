import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { MarketStateTag } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, TextField, valuesFor } from "~/components/supply-ui";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { requireMarketOperator } from "~/web/market-access.server";
import { createMarket, listMarkets, MARKET_FORM_FIELDS, marketFormSchema } from "~/domain/market";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { flashCookie, requireCsrf } from "~/session.server";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "market.title");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireMarketOperator(request, context);
  const markets = await listMarkets(context.db, organizationId);
  return {
    canManage,
    markets: markets.map((m) => ({
      id: m.id,
      name: m.name,
      city: m.city,
      categories: m.categories,
      autoConfirmDays: m.autoConfirmDays,
      unpaidExpiryMinutes: m.unpaidExpiryMinutes,
      status: m.status,
    })),
  };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireMarketOperator(request, context, { may: "market.write" });
  const values = formValues(form, MARKET_FORM_FIELDS);
  const parsed = marketFormSchema.safeParse(values);
  if (!parsed.success) return data<FormFailure>({ intent: "create", fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
  try {
    const market = await createMarket(context.db, actor, organizationId, parsed.data);
    return redirect(`/markets/${market.id}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "market.flash.created", params: { name: market.name } }) },
    });
  } catch (error) {
    const { failure, status } = domainFailure(error, "create", values);
    return data<FormFailure>(failure, { status });
  }
}

export default function Markets() {
  const { canManage, markets } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const errors = errorsFor(failure, "create");
  const values = valuesFor(failure, "create") ?? { autoConfirmDays: "7", unpaidExpiryMinutes: "30" };
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("market.eyebrow")}</p>
          <h1>{t("market.title")}</h1>
        </div>
      </div>
      <section className="panel">
        {markets.length === 0 ? (
          <p className="empty">{t("market.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="market-table">
              <thead>
                <tr>
                  <th scope="col">{t("market.field.name")}</th>
                  <th scope="col">{t("market.field.city")}</th>
                  <th scope="col">{t("market.field.categories")}</th>
                  <th scope="col" className="num">
                    {t("market.field.autoConfirmDays")}
                  </th>
                  <th scope="col" className="num">
                    {t("market.field.unpaidExpiryMinutes")}
                  </th>
                  <th scope="col">{t("market.field.status")}</th>
                </tr>
              </thead>
              <tbody>
                {markets.map((m) => (
                  <tr key={m.id}>
                    <td>
                      <Link to={`/markets/${m.id}`}>{m.name}</Link>
                    </td>
                    <td>{m.city}</td>
                    <td>{m.categories.join("、")}</td>
                    <td className="num">{m.autoConfirmDays}</td>
                    <td className="num">{m.unpaidExpiryMinutes}</td>
                    <td>
                      <MarketStateTag state={m.status} />
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
          <h2>{t("market.newTitle")}</h2>
          <Form method="post" noValidate className="sc-form">
            <CsrfInput />
            <FormError message={failure?.intent === "create" ? failure.formError : null} />
            <TextField name="name" label={t("market.field.name")} required maxLength={100} defaultValue={values.name} error={errors.name} />
            <TextField name="city" label={t("market.field.city")} required maxLength={50} defaultValue={values.city} error={errors.city} />
            <TextField
              name="categories"
              label={t("market.field.categories")}
              required
              maxLength={500}
              hint={t("market.field.categoriesHint")}
              defaultValue={values.categories}
              error={errors.categories}
            />
            <TextField name="autoConfirmDays" label={t("market.field.autoConfirmDays")} required inputMode="numeric" defaultValue={values.autoConfirmDays} error={errors.autoConfirmDays} />
            <TextField
              name="unpaidExpiryMinutes"
              label={t("market.field.unpaidExpiryMinutes")}
              required
              inputMode="numeric"
              defaultValue={values.unpaidExpiryMinutes}
              error={errors.unpaidExpiryMinutes}
            />
            <button type="submit" className="sc-button">
              {t("market.create")}
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
