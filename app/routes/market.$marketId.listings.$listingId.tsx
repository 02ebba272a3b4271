import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ListingThumb, listingProblemText, merchantLabel } from "~/components/market-listings-ui";
import { NeedsRole } from "~/components/needs-role";
import { RouteError } from "~/components/route-error";
import { formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { addToCart, cartLineSchema, getListingForBuyer } from "~/domain/market";
import { requireBuyer } from "~/web/market-party-access.server";
import { mayMap } from "~/domain/identity";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import listingStyles from "~/styles/market-listings.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "shop.market.detail");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { roles } = await requireBuyer(request, context);
  const marketId = requireUuidParam(params.marketId);
  const listingId = requireUuidParam(params.listingId);
  // Hidden, off sale, another market's or unknown: the same 404.
  const l = await scoped(() => getListingForBuyer(context.db, marketId, listingId));
  return {
    may: mayMap(roles, "buyer", ["market_cart.edit"]),
    listing: {
      id: l.id,
      marketId: l.marketId,
      marketName: l.marketName,
      title: l.title,
      titleEn: l.titleEn,
      spec: l.spec,
      category: l.category,
      unit: l.unit,
      priceFen: l.priceFen,
      stockQty: l.stockQty,
      minOrderQty: l.minOrderQty,
      imageUrl: l.imageUrl,
      merchantId: l.merchantId,
      merchantName: l.merchantName,
      merchantNameEn: l.merchantNameEn,
      stallCode: l.stallCode,
    },
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId } = await requireBuyer(request, context, { may: "market_cart.edit" });
  const marketId = requireUuidParam(params.marketId);
  const listingId = requireUuidParam(params.listingId);
  const listing = await scoped(() => getListingForBuyer(context.db, marketId, listingId));
  const values = formValues(form, ["quantity"]);
  const parsed = cartLineSchema.safeParse({ listingId, quantity: values.quantity ?? "" });
  if (!parsed.success) return data<FormFailure>({ intent: "add", fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
  try {
    const line = await addToCart(context.db, organizationId, parsed.data);
    return redirect(`/market/${marketId}/listings/${listingId}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "cart.flash.added", params: { title: listing.title, quantity: line.quantity } }) },
    });
  } catch (error) {
    const { failure, status } = domainFailure(error, "add", values);
    return data<FormFailure>(failure, { status });
  }
}

export default function ListingDetail() {
  const { may, listing } = useLoaderData<typeof loader>();
  const canBuy = may["market_cart.edit"];
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const inStock = listing.stockQty >= listing.minOrderQty;
  const [main, other] = locale === "en" && listing.titleEn ? [listing.titleEn, listing.title] : [listing.title, listing.titleEn];
  const quantityError = failure?.fieldErrors.quantity ?? failure?.fieldErrors.listingId;
  return (
    <div className="sc-page">
      <p>
        <Link to={`/market/${listing.marketId}`}>← {t("shop.market.backToSearch")}</Link>
      </p>
      <section className="panel shop-detail">
        <ListingThumb imageUrl={listing.imageUrl} category={listing.category} large />
        <div>
          <p className="eyebrow">
            {listing.marketName} · {listing.category}
          </p>
          <h1>{main}</h1>
          {other ? <p className="subtle">{other}</p> : null}
          <dl className="shop-facts">
            <dt>{t("listing.field.spec")}</dt>
            <dd>{listing.spec || "—"}</dd>
            <dt>{t("shop.market.unitPrice")}</dt>
            <dd className="shop-price">
              {formatFen(listing.priceFen, locale)}
              <small>{t("listing.perUnit", { unit: listing.unit })}</small>
            </dd>
            <dt>{t("listing.field.minOrderQty")}</dt>
            <dd>
              {formatInteger(listing.minOrderQty, locale)} {listing.unit}
            </dd>
            <dt>{t("listing.field.stockQty")}</dt>
            <dd className={inStock ? undefined : "listing-low"}>
              {inStock ? `${formatInteger(listing.stockQty, locale)} ${listing.unit}` : t("shop.market.outOfStock")}
            </dd>
            <dt>{t("shop.market.soldBy")}</dt>
            <dd>
              <Link to={`/market/${listing.marketId}?merchant=${listing.merchantId}`}>{merchantLabel(locale, listing.merchantName, listing.merchantNameEn)}</Link>
              {listing.stallCode ? ` · ${t("shop.market.stall", { code: listing.stallCode })}` : ""}
            </dd>
          </dl>
          {canBuy ? (
            <Form method="post" className="cart-qty" noValidate>
              <CsrfInput />
              <label htmlFor="quantity">{t("shop.market.quantity")}</label>
              <input
                id="quantity"
                type="number"
                name="quantity"
                defaultValue={failure?.values.quantity ?? listing.minOrderQty}
                min={listing.minOrderQty}
                max={Math.max(listing.stockQty, listing.minOrderQty)}
                step={1}
                aria-invalid={quantityError ? true : undefined}
                aria-describedby={quantityError ? "quantity-error" : undefined}
              />
              <span>{listing.unit}</span>
              <button type="submit" className="sc-button" disabled={!inStock}>
                {t("shop.market.addToCart")}
              </button>
            </Form>
          ) : (
            <NeedsRole action="market_cart.edit" kind="buyer" />
          )}
          {quantityError || failure?.formError ? (
            <p className="sc-error" id="quantity-error" role="alert">
              {failure?.formError ?? listingProblemText(locale, quantityError ?? "")}
            </p>
          ) : null}
          <p className="shop-detail-cart">
            <Link to="/market/cart">{t("shop.market.viewCart")} →</Link>
          </p>
        </div>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
