import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ListingStateTag, ListingThumb, useListingErrors } from "~/components/market-listings-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, SelectField, TextField, valuesFor } from "~/components/supply-ui";
import { formatDateTime, formatFen, formatInteger, type MessageKey } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { fenToYuanText } from "~/domain/catalog";
import { getMerchantListing, LISTING_DETAILS_FIELDS, listingDetailsSchema, listMerchantTradingMarkets, setListingStatus, setListingStock, stockFormSchema, updateListing } from "~/domain/market";
import { requireMerchant } from "~/web/market-party-access.server";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import listingStyles from "~/styles/market-listings.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "listing.editTitle");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireMerchant(request, context);
  const listingId = requireUuidParam(params.listingId);
  // Scoped by the acting merchant: another merchant's listing id is a 404.
  const listing = await scoped(() => getMerchantListing(context.db, organizationId, listingId));
  const market = (await listMerchantTradingMarkets(context.db, organizationId)).find((m) => m.marketId === listing.marketId);
  const categories = market?.categories ?? [];
  return {
    canManage,
    canTrade: market?.canTrade ?? false,
    // The current category stays choosable even if the merchant's approval has since changed.
    categories: categories.includes(listing.category) ? categories : [listing.category, ...categories],
    listing: {
      id: listing.id,
      marketName: listing.marketName,
      stallCode: listing.stallCode,
      title: listing.title,
      titleEn: listing.titleEn,
      category: listing.category,
      spec: listing.spec,
      unit: listing.unit,
      priceFen: listing.priceFen,
      // The form's notation, made here: catalog.server is empty in the browser bundle.
      priceYuan: fenToYuanText(listing.priceFen),
      stockQty: listing.stockQty,
      minOrderQty: listing.minOrderQty,
      imageUrl: listing.imageUrl,
      status: listing.status,
      moderationStatus: listing.moderationStatus,
      moderationReason: listing.moderationReason,
      updatedAt: listing.updatedAt.toISOString(),
    },
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireMerchant(request, context, { may: "listing.write" });
  const listingId = requireUuidParam(params.listingId);
  const db = context.db;
  const intent = String(form.get("intent") ?? "").slice(0, 20);
  const values = formValues(form, [...LISTING_DETAILS_FIELDS, "stockQty", "expectedStockQty", "status"]);
  const here = `/merchant/listings/${listingId}`;
  const invalid = async (fieldErrors: Record<string, string>) => {
    // A bad form about another merchant's listing is still a 404, never a hint that it exists.
    await scoped(() => getMerchantListing(db, organizationId, listingId));
    return data<FormFailure>({ intent, fieldErrors, formError: null, values }, { status: 422 });
  };
  const done = async (key: MessageKey, flashParams: Record<string, string | number>) =>
    redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key, params: flashParams }) } });
  try {
    if (intent === "update") {
      const parsed = listingDetailsSchema.safeParse(values);
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      const listing = await updateListing(db, actor, organizationId, listingId, parsed.data);
      return await done("listing.flash.saved", { title: listing.title });
    }
    if (intent === "stock") {
      const parsed = stockFormSchema.safeParse(values);
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      const listing = await setListingStock(db, actor, organizationId, listingId, parsed.data);
      return await done("listing.flash.stockSet", { title: listing.title, qty: listing.stockQty });
    }
    if (intent === "status" && (values.status === "active" || values.status === "inactive")) {
      const listing = await setListingStatus(db, actor, organizationId, listingId, values.status);
      return await done(listing.status === "active" ? "listing.flash.activated" : "listing.flash.deactivated", { title: listing.title });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function EditListing() {
  const { canManage, canTrade, categories, listing } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const errors = useListingErrors(errorsFor(failure, "update"));
  const stockErrors = useListingErrors(errorsFor(failure, "stock"));
  const statusErrors = useListingErrors(errorsFor(failure, "status"));
  const values = valuesFor(failure, "update") ?? {
    title: listing.title,
    titleEn: listing.titleEn,
    category: listing.category,
    spec: listing.spec,
    unit: listing.unit,
    price: listing.priceYuan,
    minOrderQty: String(listing.minOrderQty),
    imageUrl: listing.imageUrl,
  };
  const stockValue = valuesFor(failure, "stock")?.stockQty ?? String(listing.stockQty);
  const formErrorOf = (f: typeof failure, intent: string, e: Record<string, string>) =>
    f?.intent === intent ? (f.formError ?? e.marketId ?? e.status ?? null) : null;
  return (
    <div className="sc-page">
      <p>
        <Link to="/merchant/listings">← {t("listing.back")}</Link>
      </p>
      <div className="sc-head">
        <div className="listing-cell">
          <ListingThumb imageUrl={listing.imageUrl} category={listing.category} />
          <div>
            <p className="eyebrow">
              {listing.marketName}
              {listing.stallCode ? ` · ${t("shop.market.stall", { code: listing.stallCode })}` : ""}
            </p>
            <h1>
              {listing.title} <ListingStateTag state={listing.status} /> <ListingStateTag state={listing.moderationStatus} />
            </h1>
            <p className="subtle">
              {formatFen(listing.priceFen, locale)}
              {t("listing.perUnit", { unit: listing.unit })} · {t("listing.stockOf", { qty: formatInteger(listing.stockQty, locale), unit: listing.unit })} ·{" "}
              {t("listing.field.updatedAt")} {formatDateTime(listing.updatedAt, locale)}
            </p>
          </div>
        </div>
      </div>
      {listing.moderationStatus === "hidden" ? (
        <p className="notice" role="status" data-testid="hidden-notice">
          {t("listing.hiddenNotice", { reason: listing.moderationReason })}
        </p>
      ) : null}
      {!canManage ? <p className="subtle">{t("listing.readOnly")}</p> : null}
      {canManage && !canTrade ? <p className="notice">{t("listing.problem.merchant_not_active")}</p> : null}
      <div className="sc-cols">
        <section className="panel">
          <h2>{t("listing.editTitle")}</h2>
          <Form method="post" noValidate className="listing-form">
            <CsrfInput />
            <input type="hidden" name="intent" value="update" />
            <div className="wide">
              <FormError message={formErrorOf(failure, "update", errors)} />
            </div>
            <TextField name="title" label={t("listing.field.title")} required maxLength={100} defaultValue={values.title} error={errors.title} className="wide" disabled={!canManage} />
            <TextField
              name="titleEn"
              label={t("listing.field.titleEn")}
              maxLength={150}
              hint={t("listing.field.titleEnHint")}
              defaultValue={values.titleEn}
              error={errors.titleEn}
              className="wide"
              disabled={!canManage}
            />
            <SelectField
              name="category"
              label={t("listing.field.category")}
              required
              defaultValue={values.category}
              options={categories.map((c) => ({ value: c, label: c }))}
              error={errors.category}
              disabled={!canManage}
            />
            <TextField name="spec" label={t("listing.field.spec")} maxLength={200} defaultValue={values.spec} error={errors.spec} disabled={!canManage} />
            <TextField name="unit" label={t("listing.field.unit")} required maxLength={10} defaultValue={values.unit} error={errors.unit} disabled={!canManage} />
            <TextField name="price" label={t("listing.field.price")} required inputMode="decimal" defaultValue={values.price} error={errors.price} disabled={!canManage} />
            <TextField name="minOrderQty" label={t("listing.field.minOrderQty")} inputMode="numeric" defaultValue={values.minOrderQty} error={errors.minOrderQty} disabled={!canManage} />
            <TextField
              name="imageUrl"
              label={t("listing.field.imageUrl")}
              maxLength={500}
              hint={t("listing.field.imageUrlHint")}
              defaultValue={values.imageUrl}
              error={errors.imageUrl}
              className="wide"
              disabled={!canManage}
            />
            {canManage ? (
              <div className="form-actions">
                <button type="submit" className="sc-button">
                  {t("listing.save")}
                </button>
              </div>
            ) : null}
          </Form>
        </section>
        <div className="listing-side">
          <section className="panel">
            <h2>{t("listing.stockTitle")}</h2>
            <p className="subtle small">{t("listing.stockHint")}</p>
            <Form method="post" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="stock" />
              {/* The count the merchant is looking at: if orders took some meanwhile, the model refuses. */}
              <input type="hidden" name="expectedStockQty" value={listing.stockQty} />
              <FormError message={formErrorOf(failure, "stock", stockErrors)} />
              <TextField name="stockQty" label={`${t("listing.field.stockQty")}（${listing.unit}）`} required inputMode="numeric" defaultValue={stockValue} error={stockErrors.stockQty} disabled={!canManage} />
              {canManage ? (
                <button type="submit" className="sc-button secondary">
                  {t("listing.stockSave")}
                </button>
              ) : null}
            </Form>
          </section>
          <section className="panel">
            <h2>{t("listing.statusTitle")}</h2>
            <p>
              {listing.status === "inactive"
                ? t("listing.statusOffSale")
                : listing.moderationStatus === "hidden"
                  ? t("listing.statusOnSaleHidden")
                  : t("listing.statusOnSale")}
            </p>
            <FormError message={formErrorOf(failure, "status", statusErrors)} />
            {canManage ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="status" />
                <input type="hidden" name="status" value={listing.status === "active" ? "inactive" : "active"} />
                <button type="submit" className={listing.status === "active" ? "sc-button danger" : "sc-button"}>
                  {listing.status === "active" ? t("listing.deactivate") : t("listing.activate")}
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
