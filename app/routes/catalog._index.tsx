import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useLocation } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { Pager, StateTag, withParams } from "~/components/supply-ui";
import { formatFen, formatInteger, formatPercentBps } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { countSkus, listSkus } from "~/domain/catalog";
import { badRequestOnValidation, requireCoreEnterprise } from "~/web/supply-chain-access.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "catalog.title");

const PAGE_SIZE = 25;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const url = new URL(request.url);
  const search = url.searchParams.get("q")?.slice(0, 100) ?? "";
  const statusParam = url.searchParams.get("status");
  const status = statusParam === "active" || statusParam === "inactive" ? statusParam : null;
  const after = url.searchParams.get("after");
  const page = await badRequestOnValidation(() => listSkus(context.db, organizationId, { search, status, after, limit: PAGE_SIZE }));
  const counts = await countSkus(context.db, organizationId);
  return {
    canManage,
    search,
    status,
    onFirstPage: !after,
    counts,
    nextCursor: page.nextCursor,
    skus: page.items.map((s) => ({
      id: s.id,
      code: s.code,
      name: s.name,
      spec: s.spec,
      productName: s.productName,
      category: s.category,
      unit: s.unit,
      packSize: s.packSize,
      moq: s.moq,
      basePriceFen: s.basePriceFen,
      taxRateText: formatPercentBps(s.taxRateBps),
      stockOnHand: s.stockOnHand,
      stockReserved: s.stockReserved,
      stockAvailable: s.stockAvailable,
      status: s.status,
    })),
  };
}

export default function CatalogIndex() {
  const { canManage, search, status, onFirstPage, counts, nextCursor, skus } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("catalog.eyebrow")}</p>
          <h1>{t("catalog.title")}</h1>
          <p className="subtle">{t("catalog.counts", { total: formatInteger(counts.total, locale), active: formatInteger(counts.active, locale) })}</p>
        </div>
        <div className="sc-actions">
          {canManage ? (
            <>
              <Link to="/catalog/new" className="sc-button">
                {t("catalog.new")}
              </Link>
              <Link to="/catalog/import" className="sc-button secondary">
                {t("catalog.import")}
              </Link>
            </>
          ) : null}
          <a href={`/catalog/export.csv?headers=${locale === "en" ? "en" : "zh"}`} className="sc-button secondary" download>
            {t("catalog.export")}
          </a>
        </div>
      </div>

      <section className="panel">
        <Form method="get" className="sc-toolbar" role="search">
          <div>
            <label htmlFor="q">{t("catalog.search.label")}</label>
            <input id="q" name="q" type="search" defaultValue={search} maxLength={100} placeholder={t("catalog.search.placeholder")} />
          </div>
          <div>
            <label htmlFor="status">{t("catalog.field.status")}</label>
            <select id="status" name="status" defaultValue={status ?? ""}>
              <option value="">{t("catalog.search.anyStatus")}</option>
              <option value="active">{t("catalog.state.active")}</option>
              <option value="inactive">{t("catalog.state.inactive")}</option>
            </select>
          </div>
          <button type="submit" className="sc-button secondary">
            {t("catalog.search.submit")}
          </button>
        </Form>

        {skus.length === 0 ? (
          <p className="empty">{search || status ? t("catalog.emptySearch") : t("catalog.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="sku-table">
              <thead>
                <tr>
                  <th scope="col">{t("catalog.field.code")}</th>
                  <th scope="col">{t("catalog.field.name")}</th>
                  <th scope="col">{t("catalog.field.category")}</th>
                  <th scope="col">{t("catalog.column.packMoq")}</th>
                  <th scope="col" className="num">
                    {t("catalog.field.basePrice")}
                  </th>
                  <th scope="col" className="num">
                    {t("catalog.field.taxRate")}
                  </th>
                  <th scope="col" className="num">
                    {t("catalog.column.stock")}
                  </th>
                  <th scope="col">{t("catalog.field.status")}</th>
                </tr>
              </thead>
              <tbody>
                {skus.map((s) => (
                  <tr key={s.id}>
                    <td className="nowrap">
                      <Link to={`/catalog/${s.id}`} className="mono">
                        {s.code}
                      </Link>
                    </td>
                    <td>
                      {s.name}
                      {s.spec ? <div className="sc-muted">{s.spec}</div> : null}
                    </td>
                    <td>
                      {s.category ?? "—"}
                      <div className="sc-muted">{s.productName}</div>
                    </td>
                    <td className="pack-moq">{t("catalog.packMoq", { pack: s.packSize, moq: s.moq, unit: s.unit })}</td>
                    <td className="num">{formatFen(s.basePriceFen, locale)}</td>
                    <td className="num">{s.taxRateText}</td>
                    <td className="num nowrap">
                      {formatInteger(s.stockAvailable, locale)}
                      <div className="sc-muted">{t("catalog.stockDetail", { onHand: formatInteger(s.stockOnHand, locale), reserved: formatInteger(s.stockReserved, locale) })}</div>
                    </td>
                    <td>
                      <StateTag state={s.status} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          onFirstPage={onFirstPage}
          firstHref={withParams("/catalog", params, { after: null })}
          nextHref={nextCursor ? withParams("/catalog", params, { after: nextCursor }) : null}
        />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
