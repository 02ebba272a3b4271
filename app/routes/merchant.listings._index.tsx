import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useLocation } from "@remix-run/react";
import { ListingStateTag, ListingThumb, ListingTitle } from "~/components/market-listings-ui";
import { RouteError } from "~/components/route-error";
import { Pager, withParams } from "~/components/supply-ui";
import { formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { countMerchantListings, listMerchantListings, listMerchantTradingMarkets } from "~/domain/market";
import { requireMerchant } from "~/web/market-party-access.server";
import { badRequestOnValidation } from "~/web/supply-chain-access.server";
import listingStyles from "~/styles/market-listings.css";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "listing.title");

const PAGE_SIZE = 25;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireMerchant(request, context);
  const url = new URL(request.url);
  const filters = {
    market: url.searchParams.get("market") ?? "",
    status: url.searchParams.get("status") ?? "",
    moderation: url.searchParams.get("moderation") ?? "",
    q: (url.searchParams.get("q") ?? "").slice(0, 100),
  };
  const after = url.searchParams.get("after");
  const markets = await listMerchantTradingMarkets(context.db, organizationId);
  // Only the merchant's own listings are ever read: a foreign market id just filters to nothing.
  const page = await badRequestOnValidation(() =>
    listMerchantListings(context.db, organizationId, {
      marketId: filters.market || null,
      status: filters.status === "active" || filters.status === "inactive" ? filters.status : null,
      moderation: filters.moderation === "visible" || filters.moderation === "hidden" ? filters.moderation : null,
      q: filters.q,
      after,
      limit: PAGE_SIZE,
    }),
  );
  return {
    counts: await countMerchantListings(context.db, organizationId),
    canManage,
    canCreate: canManage && markets.some((m) => m.canTrade),
    markets: markets.map((m) => ({ id: m.marketId, name: m.marketName, canTrade: m.canTrade })),
    filters,
    filtered: Boolean(filters.market || filters.status || filters.moderation || filters.q),
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    listings: page.items.map((l) => ({
      id: l.id,
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
      status: l.status,
      moderationStatus: l.moderationStatus,
      moderationReason: l.moderationReason,
    })),
  };
}

export default function MerchantListings() {
  const { counts, canManage, canCreate, markets, filters, filtered, onFirstPage, nextCursor, listings } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("listing.eyebrow")}</p>
          <h1>{t("listing.title")}</h1>
          {counts.total ? <p className="subtle">{t("listing.count", counts)}</p> : null}
        </div>
        {canCreate ? (
          <div className="sc-actions">
            <Link to="/merchant/listings/new" className="sc-button">
              {t("listing.new")}
            </Link>
          </div>
        ) : null}
      </div>
      {markets.length === 0 ? <p className="notice">{t("listing.noMarket")}</p> : null}
      {markets.length > 0 && !markets.some((m) => m.canTrade) ? <p className="notice">{t("listing.noTradingMarket")}</p> : null}
      {!canManage ? <p className="subtle">{t("listing.readOnly")}</p> : null}
      <section className="panel">
        <Form method="get" className="sc-toolbar" role="search">
          {markets.length > 1 ? (
            <div>
              <label htmlFor="market">{t("listing.field.market")}</label>
              <select id="market" name="market" defaultValue={filters.market}>
                <option value="">{t("listing.filter.allMarkets")}</option>
                {markets.map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.name}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          <div>
            <label htmlFor="status">{t("listing.field.status")}</label>
            <select id="status" name="status" defaultValue={filters.status}>
              <option value="">{t("listing.filter.anyStatus")}</option>
              <option value="active">{t("listing.state.active")}</option>
              <option value="inactive">{t("listing.state.inactive")}</option>
            </select>
          </div>
          <div>
            <label htmlFor="moderation">{t("listing.field.moderation")}</label>
            <select id="moderation" name="moderation" defaultValue={filters.moderation}>
              <option value="">{t("listing.filter.anyModeration")}</option>
              <option value="visible">{t("listing.state.visible")}</option>
              <option value="hidden">{t("listing.state.hidden")}</option>
            </select>
          </div>
          <div>
            <label htmlFor="q">{t("catalog.search.label")}</label>
            <input id="q" name="q" type="search" defaultValue={filters.q} maxLength={100} placeholder={t("listing.filter.search")} />
          </div>
          <button type="submit" className="sc-button secondary">
            {t("listing.filter.submit")}
          </button>
        </Form>
        {listings.length === 0 ? (
          <p className="empty">{filtered ? t("listing.emptyFiltered") : t("listing.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="listing-table">
              <thead>
                <tr>
                  <th scope="col">{t("listing.field.title")}</th>
                  {markets.length > 1 ? <th scope="col">{t("listing.field.market")}</th> : null}
                  <th scope="col">{t("listing.field.category")}</th>
                  <th scope="col" className="num">
                    {t("listing.field.price")}
                  </th>
                  <th scope="col" className="num">
                    {t("listing.field.stockQty")}
                  </th>
                  <th scope="col" className="num">
                    {t("listing.field.minOrderQty")}
                  </th>
                  <th scope="col">{t("listing.field.status")}</th>
                  <th scope="col">{t("listing.field.moderation")}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t("listing.edit")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {listings.map((l) => (
                  <tr key={l.id} className={l.status === "inactive" || l.moderationStatus === "hidden" ? "listing-row-off" : undefined}>
                    <td>
                      <span className="listing-cell">
                        <ListingThumb imageUrl={l.imageUrl} category={l.category} />
                        <ListingTitle title={l.title} titleEn={l.titleEn} spec={l.spec} />
                      </span>
                    </td>
                    {markets.length > 1 ? <td>{l.marketName}</td> : null}
                    <td className="nowrap">{l.category}</td>
                    <td className="num">
                      {formatFen(l.priceFen, locale)}
                      <span className="sc-muted">{t("listing.perUnit", { unit: l.unit })}</span>
                    </td>
                    <td className={`num${l.stockQty < l.minOrderQty ? " listing-low" : ""}`}>
                      {formatInteger(l.stockQty, locale)} {l.unit}
                    </td>
                    <td className="num">
                      {formatInteger(l.minOrderQty, locale)} {l.unit}
                    </td>
                    <td>
                      <ListingStateTag state={l.status} />
                    </td>
                    <td>
                      <ListingStateTag state={l.moderationStatus} />
                      {l.moderationStatus === "hidden" ? <div className="listing-reason">{t("listing.hiddenShort", { reason: l.moderationReason })}</div> : null}
                    </td>
                    <td className="actions">
                      <Link to={`/merchant/listings/${l.id}`} className="sc-button secondary small">
                        {t("listing.edit")}
                      </Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
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
