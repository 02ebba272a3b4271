import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { SKU_FORM_FIELDS, SkuForm } from "~/components/sku-form";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { createSku, parseSkuEntry, taxRateOptions } from "~/domain/catalog";
import { domainFailure, formValues, requireCoreEnterprise, type FormFailure } from "~/web/supply-chain-access.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "catalog.newTitle");

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireCoreEnterprise(request, context, { may: "catalog.sku_write" });
  return { taxRates: taxRateOptions() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: "catalog.sku_write" });
  const values = formValues(form, SKU_FORM_FIELDS);
  const parsed = parseSkuEntry(values);
  if (!parsed.ok) {
    const fieldErrors = Object.fromEntries(parsed.problems.map((p) => [p.field, p.code]));
    return data<FormFailure>({ intent: "sku", fieldErrors, formError: null, values }, { status: 422 });
  }
  try {
    const sku = await createSku(context.db, actor, organizationId, parsed.input);
    throw redirect(`/catalog/${sku.id}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "catalog.flash.created", params: { code: sku.code } }) },
    });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, "sku", values);
    return data<FormFailure>(failure, { status });
  }
}

export default function NewSku() {
  const { taxRates } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  return (
    <div className="sc-page">
      <p>
        <Link to="/catalog">← {t("catalog.back")}</Link>
      </p>
      <h1>{t("catalog.newTitle")}</h1>
      <section className="panel">
        <SkuForm
          values={failure?.values ?? {}}
          fieldErrors={failure?.fieldErrors ?? {}}
          formError={failure?.formError ?? null}
          taxRates={taxRates}
          readOnly={false}
          submitLabel={t("catalog.form.create")}
        />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
