import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { useListingErrors } from "~/components/market-listings-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, SelectField, TextField, valuesFor } from "~/components/supply-ui";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { createListing, LISTING_FORM_FIELDS, listingFormSchema, listMerchantTradingMarkets } from "~/domain/market";
import { requireMerchant } from "~/web/market-party-access.server";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { flashCookie, requireCsrf } from "~/session.server";
import listingStyles from "~/styles/market-listings.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "listing.newTitle");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireMerchant(request, context, { may: "listing.write" });
  const markets = (await listMerchantTradingMarkets(context.db, organizationId)).filter((m) => m.canTrade);
  // Categories depend on the market: without JavaScript the market is chosen first (?market=).
  const wanted = new URL(request.url).searchParams.get("market");
  const market = markets.find((m) => m.marketId === wanted) ?? markets[0] ?? null;
  return {
    markets: markets.map((m) => ({ id: m.marketId, name: m.marketName })),
    market: market ? { id: market.marketId, name: market.marketName, categories: market.categories } : null,
  };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireMerchant(request, context, { may: "listing.write" });
  const values = formValues(form, [...LISTING_FORM_FIELDS, "marketId"]);
  const parsed = listingFormSchema.safeParse(values);
  const fieldErrors = parsed.success ? {} : zodFieldErrors(parsed.error);
  if (!values.marketId) fieldErrors.marketId = "required";
  if (!parsed.success || fieldErrors.marketId) {
    return data<FormFailure>({ intent: "create", fieldErrors, formError: null, values }, { status: 422 });
  }
  try {
    // Another market's id (not the merchant's) is a 404 from the model, like any other tenant's id.
    const listing = await createListing(context.db, actor, organizationId, values.marketId, parsed.data);
    return redirect(`/merchant/listings/${listing.id}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "listing.flash.created", params: { title: listing.title } }) },
    });
  } catch (error) {
    const { failure, status } = domainFailure(error, "create", values);
    return data<FormFailure>(failure, { status });
  }
}

export default function NewListing() {
  const { markets, market } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const errors = useListingErrors(errorsFor(failure, "create"));
  const values = valuesFor(failure, "create") ?? { minOrderQty: "1" };
  const marketId = values.marketId ?? market?.id ?? "";
  const chosen = markets.find((m) => m.id === marketId) ? marketId : market?.id;
  return (
    <div className="sc-page">
      <p>
        <Link to="/merchant/listings">← {t("listing.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("listing.eyebrow")}</p>
          <h1>{t("listing.newTitle")}</h1>
        </div>
      </div>
      {!market ? (
        <p className="notice">{t("listing.noTradingMarket")}</p>
      ) : (
        <>
          {markets.length > 1 ? (
            <Form method="get" className="sc-toolbar">
              <div>
                <label htmlFor="market">{t("listing.chooseMarket")}</label>
                <select id="market" name="market" defaultValue={chosen}>
                  {markets.map((m) => (
                    <option key={m.id} value={m.id}>
                      {m.name}
                    </option>
                  ))}
                </select>
              </div>
              <button type="submit" className="sc-button secondary">
                {t("listing.chooseMarketSubmit")}
              </button>
            </Form>
          ) : null}
          <section className="panel">
            <h2>{market.name}</h2>
            <p className="subtle">{t("listing.categoriesHere", { categories: market.categories.join("、") })}</p>
            <Form method="post" noValidate className="listing-form">
              <CsrfInput />
              <input type="hidden" name="marketId" value={market.id} />
              <div className="wide">
                <FormError message={failure?.formError ?? errors.marketId} />
              </div>
              <TextField name="title" label={t("listing.field.title")} required maxLength={100} defaultValue={values.title} error={errors.title} className="wide" />
              <TextField name="titleEn" label={t("listing.field.titleEn")} maxLength={150} hint={t("listing.field.titleEnHint")} defaultValue={values.titleEn} error={errors.titleEn} className="wide" />
              <SelectField
                name="category"
                label={t("listing.field.category")}
                required
                defaultValue={values.category ?? market.categories[0]}
                options={market.categories.map((c) => ({ value: c, label: c }))}
                error={errors.category}
              />
              <TextField name="spec" label={t("listing.field.spec")} maxLength={200} hint={t("listing.field.specHint")} defaultValue={values.spec} error={errors.spec} />
              <TextField name="unit" label={t("listing.field.unit")} required maxLength={10} hint={t("listing.field.unitHint")} defaultValue={values.unit ?? "件"} error={errors.unit} />
              <TextField name="price" label={t("listing.field.price")} required inputMode="decimal" defaultValue={values.price} error={errors.price} />
              <TextField name="stockQty" label={t("listing.field.stockQty")} required inputMode="numeric" defaultValue={values.stockQty} error={errors.stockQty} />
              <TextField name="minOrderQty" label={t("listing.field.minOrderQty")} inputMode="numeric" defaultValue={values.minOrderQty} error={errors.minOrderQty} />
              <TextField name="imageUrl" label={t("listing.field.imageUrl")} maxLength={500} hint={t("listing.field.imageUrlHint")} defaultValue={values.imageUrl} error={errors.imageUrl} className="wide" />
              <div className="form-actions">
                <button type="submit" className="sc-button">
                  {t("listing.create")}
                </button>
                <Link to="/merchant/listings">{t("listing.cancel")}</Link>
              </div>
            </Form>
          </section>
        </>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
