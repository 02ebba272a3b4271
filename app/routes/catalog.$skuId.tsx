import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { SKU_FORM_FIELDS, SkuForm } from "~/components/sku-form";
import { StateTag } from "~/components/supply-ui";
import { formatDateTime, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getSku, parseSkuEntry, skuToEntry, taxRateOptions, updateSku } from "~/domain/catalog";
import { domainFailure, formValues, requireCoreEnterprise, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "catalog.editTitle");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const skuId = requireUuidParam(params.skuId);
  // Scoped by the acting core enterprise: another tenant's SKU id is a 404.
  const sku = await scoped(() => getSku(context.db, organizationId, skuId));
  return {
    canManage,
    taxRates: taxRateOptions(),
    entry: skuToEntry(sku),
    sku: {
      id: sku.id,
      code: sku.code,
      name: sku.name,
      status: sku.status,
      unit: sku.unit,
      stockOnHand: sku.stockOnHand,
      stockReserved: sku.stockReserved,
      stockAvailable: sku.stockAvailable,
      createdAt: sku.createdAt,
      updatedAt: sku.updatedAt,
    },
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: "catalog.sku_write" });
  const skuId = requireUuidParam(params.skuId);
  const values = formValues(form, SKU_FORM_FIELDS);
  const parsed = parseSkuEntry(values);
  if (!parsed.ok) {
    // Another tenant's id must still be a 404, even with a bad form.
    await scoped(() => getSku(context.db, organizationId, skuId));
    const fieldErrors = Object.fromEntries(parsed.problems.map((p) => [p.field, p.code]));
    return data<FormFailure>({ intent: "sku", fieldErrors, formError: null, values }, { status: 422 });
  }
  try {
    const sku = await updateSku(context.db, actor, organizationId, skuId, parsed.input);
    throw redirect(`/catalog/${sku.id}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "catalog.flash.updated", params: { code: sku.code } }) },
    });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, "sku", values);
    return data<FormFailure>(failure, { status });
  }
}

export default function EditSku() {
  const { canManage, taxRates, entry, sku } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="sc-page">
      <p>
        <Link to="/catalog">← {t("catalog.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow mono">{sku.code}</p>
          <h1>{sku.name}</h1>
          <p className="subtle small">
            {t("catalog.timestamps", { created: formatDateTime(sku.createdAt, locale), updated: formatDateTime(sku.updatedAt, locale) })}
          </p>
        </div>
        <StateTag state={sku.status} />
      </div>
      <section className="panel">
        <div className="figures">
          <div className="figure">
            <span className="figure-label">{t("catalog.field.stockOnHand")}</span>
            <span className="figure-value num">
              {formatInteger(sku.stockOnHand, locale)} {sku.unit}
            </span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("catalog.stockReserved")}</span>
            <span className="figure-value num">
              {formatInteger(sku.stockReserved, locale)} {sku.unit}
            </span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("catalog.stockAvailable")}</span>
            <span className="figure-value num" data-testid="stock-available">
              {formatInteger(sku.stockAvailable, locale)} {sku.unit}
            </span>
          </div>
        </div>
      </section>
      <section className="panel" aria-labelledby="edit-heading">
        <h2 id="edit-heading">{canManage ? t("catalog.editTitle") : t("catalog.viewTitle")}</h2>
        {canManage ? null : <p className="notice">{t("catalog.readOnly")}</p>}
        <SkuForm
          values={failure?.values ?? entry}
          fieldErrors={failure?.fieldErrors ?? {}}
          formError={failure?.formError ?? null}
          taxRates={taxRates}
          readOnly={!canManage}
          submitLabel={t("catalog.form.save")}
          reservedNote={sku.stockReserved > 0 ? t("catalog.hint.reserved", { reserved: sku.stockReserved, unit: sku.unit }) : undefined}
        />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
