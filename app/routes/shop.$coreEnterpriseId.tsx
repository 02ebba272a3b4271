import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useLocation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { PriceExplanation } from "~/components/price-explanation";
import { RouteError } from "~/components/route-error";
import { Pager, RuleTag, withParams } from "~/components/supply-ui";
import { formatFen, formatInteger, formatPercentBps } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getSupplierForDealer } from "~/domain/dealers";
import { listDealerCatalog } from "~/domain/pricing";
import { may } from "~/domain/identity";
import { badRequestOnValidation, requireDealer } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "shop.catalogTitle");

const PAGE_SIZE = 25;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, roles } = await requireDealer(request, context);
  // Adding to the cart is a purchaser's (the permission table): a viewer browses without the form.
  const canOrder = may(roles, "order.edit_cart", "dealer");
  const coreEnterpriseId = requireUuidParam(params.coreEnterpriseId);
  // Only a core enterprise this dealer is linked to: any other id is a 404.
  const supplier = await scoped(() => getSupplierForDealer(context.db, organizationId, coreEnterpriseId));
  const url = new URL(request.url);
  const search = url.searchParams.get("q")?.slice(0, 100) ?? "";
  const after = url.searchParams.get("after");
  const header = {
    id: coreEnterpriseId,
    coreName: supplier.coreName,
    coreNameEn: supplier.coreNameEn,
    tierName: supplier.tierName,
    status: supplier.status,
    creditAvailableFen: supplier.credit.availableFen,
    paymentTermsDays: supplier.paymentTermsDays,
  };
  // A suspended dealer sees why it cannot buy, not prices it cannot order at.
  if (supplier.status !== "active") return { supplier: header, canOrder, search, onFirstPage: true, items: [], nextCursor: null };
  const page = await badRequestOnValidation(() =>
    listDealerCatalog(context.db, { coreEnterpriseId, dealerId: organizationId, on: new Date(), search, after, limit: PAGE_SIZE }),
  );
  return {
    supplier: header,
    canOrder,
    search,
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    items: page.items.map((i) => ({
      skuId: i.skuId,
      code: i.code,
      name: i.name,
      spec: i.spec,
      unit: i.unit,
      packSize: i.packSize,
      moq: i.moq,
      category: i.category,
      taxRate: formatPercentBps(i.taxRateBps),
      stockAvailable: i.stockAvailable,
      basePriceFen: i.basePriceFen,
      unitPriceFen: i.price.unitPriceFen,
      rule: i.price.rule,
      explanation: i.price.explanation,
      breaks: i.breaks.filter((b) => b.minQty > 1),
    })),
  };
}

export default function ShopCatalog() {
  const { supplier, canOrder, search, onFirstPage, nextCursor, items } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  return (
    <div className="sc-page">
      <p>
        <Link to="/shop">← {t("shop.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {t("shop.yourTier")}: {supplier.tierName ?? t("dealers.noTier")} · {t("dealers.termsDays", { days: supplier.paymentTermsDays })}
          </p>
          <h1>{locale === "en" && supplier.coreNameEn ? supplier.coreNameEn : supplier.coreName}</h1>
          <p className="subtle">{t("shop.creditAvailable", { amount: formatFen(supplier.creditAvailableFen, locale) })}</p>
        </div>
      </div>
      {supplier.status !== "active" ? (
        <p className="notice">{t("shop.suspended")}</p>
      ) : (
        <section className="panel">
          <Form method="get" className="sc-toolbar" role="search">
            <div>
              <label htmlFor="q">{t("catalog.search.label")}</label>
              <input id="q" name="q" type="search" defaultValue={search} maxLength={100} placeholder={t("catalog.search.placeholder")} />
            </div>
            <button type="submit" className="sc-button secondary">
              {t("catalog.search.submit")}
            </button>
          </Form>
          <p className="sc-muted">{t("shop.priceNote")}</p>
          {items.length === 0 ? (
            <p className="empty">{search ? t("catalog.emptySearch") : t("shop.catalogEmpty")}</p>
          ) : (
            <div className="table-wrap">
              <table className="data shop-table" data-testid="shop-table">
                <thead>
                  <tr>
                    <th scope="col">{t("catalog.field.code")}</th>
                    <th scope="col">{t("catalog.field.name")}</th>
                    <th scope="col">{t("catalog.column.packMoq")}</th>
                    <th scope="col" className="num">
                      {t("shop.yourPrice")}
                    </th>
                    <th scope="col">{t("shop.volumeBreaks")}</th>
                    <th scope="col" className="num">
                      {t("catalog.field.taxRate")}
                    </th>
                    <th scope="col">{t("shop.stock")}</th>
                    <th scope="col">
                      <span className="visually-hidden">{t("shop.addToCart")}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((i) => (
                    <tr key={i.skuId}>
                      <td className="mono nowrap">{i.code}</td>
                      <td className="shop-name">
                        {i.name}
                        {i.spec ? <div className="sc-muted">{i.spec}</div> : null}
                      </td>
                      <td className="shop-pack">{t("catalog.packMoq", { pack: i.packSize, moq: i.moq, unit: i.unit })}</td>
                      <td className="num">
                        <div className="sc-price" data-testid="your-price">
                          {formatFen(i.unitPriceFen, locale)}
                        </div>
                        {i.unitPriceFen !== i.basePriceFen ? (
                          <div className="sc-muted">
                            <s>{formatFen(i.basePriceFen, locale)}</s>
                          </div>
                        ) : null}
                        <div title={undefined}>
                          <RuleTag rule={i.rule} />
                        </div>
                        <details className="sc-muted small">
                          <summary>{t("pricing.whyThisPrice")}</summary>
                          <PriceExplanation explanation={i.explanation} unit={i.unit} />
                        </details>
                      </td>
                      <td>
                        {i.breaks.length === 0 ? (
                          <span className="sc-muted">—</span>
                        ) : (
                          <ul className="sc-breaks">
                            {i.breaks.map((b) => (
                              <li key={b.minQty}>
                                ≥ {b.minQty} {i.unit}: {formatFen(b.priceFen, locale)}
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                      <td className="num">{i.taxRate}</td>
                      <td className="nowrap">
                        {i.stockAvailable <= 0
                          ? t("shop.outOfStock")
                          : i.stockAvailable < i.moq * 5
                            ? t("shop.lowStock", { count: formatInteger(i.stockAvailable, locale), unit: i.unit })
                            : t("shop.inStock")}
                      </td>
                      <td className="nowrap">
                        {/* Adds to this supplier's cart and comes back here (the cart page does the work). */}
                        {canOrder ? (
                          <Form method="post" action="/cart" className="shop-add">
                            <CsrfInput />
                            <input type="hidden" name="intent" value="add" />
                            <input type="hidden" name="core_enterprise_id" value={supplier.id} />
                            <input type="hidden" name="sku_id" value={i.skuId} />
                            <input type="hidden" name="redirectTo" value={location.pathname + location.search} />
                            <input
                              type="number"
                              name="quantity"
                              defaultValue={i.moq}
                              min={i.moq}
                              step={i.packSize}
                              aria-label={t("shop.quantityFor", { code: i.code })}
                            />
                            <button type="submit" className="button-secondary" disabled={i.stockAvailable <= 0}>
                              {t("shop.addToCart")}
                            </button>
                          </Form>
                        ) : null}
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
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
