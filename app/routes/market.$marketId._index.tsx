import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ListingThumb, listingProblemText, merchantLabel } from "~/components/market-listings-ui";
import { NeedsRole } from "~/components/needs-role";
import { RouteError } from "~/components/route-error";
import { FormError, Pager, withParams } from "~/components/supply-ui";
import { formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parseYuanToFen } from "~/domain/catalog";
import { isDomainError } from "~/domain/shared";
import { addToCart, cartLineSchema, countCartLines, getListingForBuyer, getOpenMarket, searchListings } from "~/domain/market";
import { requireBuyer } from "~/web/market-party-access.server";
import { mayMap } from "~/domain/identity";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf, safeRedirectPath } from "~/session.server";
import listingStyles from "~/styles/market-listings.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "shop.market.chooseTitle");

const PAGE_SIZE = 24;

/** Yuan typed in a filter box → fen; blank → null; anything else → a problem code. */
function yuanFilter(raw: string): { fen: number | null; problem: string | null } {
  if (raw.trim() === "") return { fen: null, problem: null };
  const fen = parseYuanToFen(raw);
  return fen === null ? { fen: null, problem: "money_format" } : { fen, problem: null };
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, roles } = await requireBuyer(request, context);
  const marketId = requireUuidParam(params.marketId);
  // A closed or unknown market is a 404 for buyers.
  const market = await scoped(() => getOpenMarket(context.db, marketId));
  const url = new URL(request.url);
  const filters = {
    q: (url.searchParams.get("q") ?? "").slice(0, 200),
    category: url.searchParams.get("category") ?? "",
    merchant: url.searchParams.get("merchant") ?? "",
    minPrice: (url.searchParams.get("minPrice") ?? "").slice(0, 20),
    maxPrice: (url.searchParams.get("maxPrice") ?? "").slice(0, 20),
  };
  const after = url.searchParams.get("after");
  const minPrice = yuanFilter(filters.minPrice);
  const maxPrice = yuanFilter(filters.maxPrice);
  const filterErrors: Record<string, string> = {};
  if (minPrice.problem) filterErrors.minPrice = minPrice.problem;
  if (maxPrice.problem) filterErrors.maxPrice = maxPrice.problem;
  let page: Awaited<ReturnType<typeof searchListings>> = { items: [], nextCursor: null };
  if (Object.keys(filterErrors).length === 0) {
    try {
      page = await searchListings(context.db, {
        marketId: market.id,
        q: filters.q,
        category: filters.category || null,
        merchantId: filters.merchant || null,
        minPriceFen: minPrice.fen,
        maxPriceFen: maxPrice.fen,
        after,
        limit: PAGE_SIZE,
      });
    } catch (error) {
      // A filter the model refuses (too long a query, a forged cursor) is named next to its box.
      if (!isDomainError(error) || error.code !== "validation") throw error;
      Object.assign(filterErrors, error.fields);
    }
  }
  const body = {
    may: mayMap(roles, "buyer", ["market_cart.edit"]),
    cartCount: await countCartLines(context.db, organizationId),
    market: { id: market.id, name: market.name, city: market.city, categories: market.categories },
    merchants: market.merchants.map((m) => ({ id: m.merchantId, name: m.name, nameEn: m.nameEn, stallCode: m.stallCode })),
    filters,
    filterErrors,
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    listings: page.items.map((l) => ({
      id: l.id,
      title: l.title,
      titleEn: l.titleEn,
      spec: l.spec,
      category: l.category,
      unit: l.unit,
      priceFen: l.priceFen,
      stockQty: l.stockQty,
      minOrderQty: l.minOrderQty,
      imageUrl: l.imageUrl,
      merchantName: l.merchantName,
      merchantNameEn: l.merchantNameEn,
      stallCode: l.stallCode,
    })),
  };
  return data(body, { status: Object.keys(filterErrors).length ? 400 : 200 });
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId } = await requireBuyer(request, context, { may: "market_cart.edit" });
  const marketId = requireUuidParam(params.marketId);
  const values = formValues(form, ["listingId", "quantity", "returnTo"]);
  const listingId = requireUuidParam(values.listingId);
  const intent = `add:${listingId}`;
  // Only a listing a buyer can see in this market: anything else is a 404.
  const listing = await scoped(() => getListingForBuyer(context.db, marketId, listingId));
  const parsed = cartLineSchema.safeParse({ listingId, quantity: values.quantity ?? "" });
  if (!parsed.success) return data<FormFailure>({ intent, fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
  try {
    const line = await addToCart(context.db, organizationId, parsed.data);
    const back = safeRedirectPath(values.returnTo, `/market/${marketId}`);
    return redirect(back.startsWith("/market/") ? back : `/market/${marketId}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "cart.flash.added", params: { title: listing.title, quantity: line.quantity } }) },
    });
  } catch (error) {
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function MarketSearch() {
  const { may, cartCount, market, merchants, filters, filterErrors, onFirstPage, nextCursor, listings } = useLoaderData<typeof loader>();
  const canBuy = may["market_cart.edit"];
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const returnTo = location.pathname + location.search;
  const problem = (code: string | undefined) => (code ? listingProblemText(locale, code) : null);
  const filterError = Object.entries(filterErrors).find(([field]) => !["minPrice", "maxPrice", "q"].includes(field));
  return (
    <div className="sc-page">
      <p>
        <Link to="/market?all=1">← {t("shop.market.otherMarkets")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {t("shop.market.eyebrow")} · {market.city}
          </p>
          <h1>{market.name}</h1>
          <p className="subtle">{market.categories.join("、")}</p>
        </div>
        <div className="sc-actions">
          <Link to="/market/cart" className="sc-button secondary" data-testid="cart-link">
            {t("shop.market.viewCart")}
            {cartCount ? ` (${cartCount})` : ""}
          </Link>
        </div>
      </div>
      {!canBuy ? <NeedsRole action="market_cart.edit" kind="buyer" /> : null}
      <section className="panel">
        <Form method="get" className="shop-filters" role="search">
          <div>
            <label htmlFor="q">{t("shop.market.search")}</label>
            <input
              id="q"
              name="q"
              type="search"
              defaultValue={filters.q}
              maxLength={100}
              placeholder={t("shop.market.searchPlaceholder")}
              aria-invalid={filterErrors.q ? true : undefined}
              aria-describedby={filterErrors.q ? "q-error" : undefined}
            />
            {filterErrors.q ? (
              <p className="sc-error" id="q-error">
                {problem(filterErrors.q)}
              </p>
            ) : null}
          </div>
          <div>
            <label htmlFor="category">{t("shop.market.category")}</label>
            <select id="category" name="category" defaultValue={filters.category}>
              <option value="">{t("shop.market.anyCategory")}</option>
              {market.categories.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="merchant">{t("shop.market.merchant")}</label>
            <select id="merchant" name="merchant" defaultValue={filters.merchant}>
              <option value="">{t("shop.market.anyMerchant")}</option>
              {merchants.map((m) => (
                <option key={m.id} value={m.id}>
                  {merchantLabel(locale, m.name, m.nameEn)}
                  {m.stallCode ? ` (${m.stallCode})` : ""}
                </option>
              ))}
            </select>
          </div>
          {(["minPrice", "maxPrice"] as const).map((field) => (
            <div key={field}>
              <label htmlFor={field}>{t(field === "minPrice" ? "shop.market.minPrice" : "shop.market.maxPrice")}</label>
              <input
                id={field}
                name={field}
                type="text"
                inputMode="decimal"
                defaultValue={filters[field]}
                maxLength={20}
                aria-invalid={filterErrors[field] ? true : undefined}
                aria-describedby={filterErrors[field] ? `${field}-error` : undefined}
              />
              {filterErrors[field] ? (
                <p className="sc-error" id={`${field}-error`}>
                  {problem(filterErrors[field])}
                </p>
              ) : null}
            </div>
          ))}
          <div className="shop-filter-actions">
            <button type="submit" className="sc-button">
              {t("shop.market.submit")}
            </button>
            <Link to={location.pathname}>{t("shop.market.reset")}</Link>
          </div>
        </Form>
        {filterError ? <FormError message={`${filterError[0]}: ${problem(filterError[1])}`} /> : null}
        {listings.length === 0 ? (
          <p className="empty">{t("shop.market.empty")}</p>
        ) : (
          <ul className="shop-results" data-testid="search-results">
            {listings.map((l) => {
              const href = `/market/${market.id}/listings/${l.id}`;
              const rowFailure = failure?.intent === `add:${l.id}` ? failure : null;
              const inStock = l.stockQty >= l.minOrderQty;
              const shownTitle = locale === "en" && l.titleEn ? l.titleEn : l.title;
              const otherTitle = locale === "en" && l.titleEn ? l.title : l.titleEn;
              return (
                <li key={l.id} className="shop-card" data-testid="listing-card">
                  <Link to={href} tabIndex={-1} aria-hidden="true">
                    <ListingThumb imageUrl={l.imageUrl} category={l.category} />
                  </Link>
                  <h3>
                    <Link to={href}>{shownTitle}</Link>
                  </h3>
                  {otherTitle ? <span className="listing-title-other">{otherTitle}</span> : null}
                  {l.spec ? <span className="listing-spec">{l.spec}</span> : null}
                  <div className="shop-price">
                    {formatFen(l.priceFen, locale)}
                    <small>{t("listing.perUnit", { unit: l.unit })}</small>
                  </div>
                  <div className="shop-meta">
                    <span>{t("listing.minOrder", { qty: formatInteger(l.minOrderQty, locale), unit: l.unit })}</span>
                    <span className={inStock ? undefined : "listing-low"}>
                      {inStock ? t("listing.stockOf", { qty: formatInteger(l.stockQty, locale), unit: l.unit }) : t("shop.market.outOfStock")}
                    </span>
                    <span>{l.category}</span>
                  </div>
                  <div className="shop-merchant">
                    {merchantLabel(locale, l.merchantName, l.merchantNameEn)}
                    {l.stallCode ? ` · ${t("shop.market.stall", { code: l.stallCode })}` : ""}
                  </div>
                  {canBuy ? (
                    <Form method="post" className="shop-add">
                      <CsrfInput />
                      <input type="hidden" name="listingId" value={l.id} />
                      <input type="hidden" name="returnTo" value={returnTo} />
                      <input
                        type="number"
                        name="quantity"
                        defaultValue={rowFailure?.values.quantity ?? l.minOrderQty}
                        min={l.minOrderQty}
                        max={Math.max(l.stockQty, l.minOrderQty)}
                        step={1}
                        aria-label={t("shop.market.quantityFor", { title: shownTitle })}
                        aria-invalid={rowFailure ? true : undefined}
                      />
                      <button type="submit" className="sc-button" disabled={!inStock}>
                        {t("shop.market.addToCart")}
                      </button>
                    </Form>
                  ) : null}
                  {rowFailure ? (
                    <p className="sc-error" role="alert">
                      {rowFailure.formError ?? Object.values(rowFailure.fieldErrors).map((c) => problem(c)).join(", ")}
                    </p>
                  ) : null}
                </li>
              );
            })}
          </ul>
        )}
        <Pager
          onFirstPage={onFirstPage}
          firstHref={withParams(location.pathname, params, { after: null })}
          nextHref={nextCursor ? withParams(location.pathname, params, { after: nextCursor }) : null}
        />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
