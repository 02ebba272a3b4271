import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useLocation } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { Pager, StateTag, withParams } from "~/components/supply-ui";
import { formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { countDealerLinks, listDealerLinks } from "~/domain/dealers";
import { listTiers } from "~/domain/pricing";
import { badRequestOnValidation, requireCoreEnterprise } from "~/web/supply-chain-access.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dealers.title");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireCoreEnterprise(request, context);
  const url = new URL(request.url);
  const search = url.searchParams.get("q")?.slice(0, 100) ?? "";
  const statusParam = url.searchParams.get("status");
  const status = statusParam === "active" || statusParam === "suspended" ? statusParam : null;
  const tierId = url.searchParams.get("tier") || null;
  const after = url.searchParams.get("after");
  const page = await badRequestOnValidation(() => listDealerLinks(context.db, organizationId, { search, status, tierId, after }));
  const [counts, tiers] = [await countDealerLinks(context.db, organizationId), await listTiers(context.db, organizationId)];
  return {
    search,
    status,
    tierId,
    onFirstPage: !after,
    counts,
    tiers: tiers.map((tier) => ({ id: tier.id, name: tier.name })),
    nextCursor: page.nextCursor,
    dealers: page.items.map((l) => ({
      id: l.id,
      dealerName: l.dealerName,
      dealerUscc: l.dealerUscc,
      tierName: l.tierName,
      region: l.region,
      paymentTermsDays: l.paymentTermsDays,
      status: l.status,
      credit: l.credit,
    })),
  };
}

export default function Dealers() {
  const { search, status, tierId, onFirstPage, counts, tiers, nextCursor, dealers } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("catalog.eyebrow")}</p>
          <h1>{t("dealers.title")}</h1>
          <p className="subtle">{t("dealers.counts", { total: formatInteger(counts.total, locale), active: formatInteger(counts.active, locale) })}</p>
        </div>
      </div>
      <section className="panel">
        <Form method="get" className="sc-toolbar" role="search">
          <div>
            <label htmlFor="q">{t("catalog.search.label")}</label>
            <input id="q" name="q" type="search" defaultValue={search} maxLength={100} placeholder={t("dealers.searchPlaceholder")} />
          </div>
          <div>
            <label htmlFor="tier">{t("pricing.tier")}</label>
            <select id="tier" name="tier" defaultValue={tierId ?? ""}>
              <option value="">{t("dealers.anyTier")}</option>
              {tiers.map((tier) => (
                <option key={tier.id} value={tier.id}>
                  {tier.name}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="status">{t("catalog.field.status")}</label>
            <select id="status" name="status" defaultValue={status ?? ""}>
              <option value="">{t("catalog.search.anyStatus")}</option>
              <option value="active">{t("dealers.state.active")}</option>
              <option value="suspended">{t("dealers.state.suspended")}</option>
            </select>
          </div>
          <button type="submit" className="sc-button secondary">
            {t("catalog.search.submit")}
          </button>
        </Form>
        {dealers.length === 0 ? (
          <p className="empty">{search || status || tierId ? t("catalog.emptySearch") : t("dealers.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="dealer-table">
              <thead>
                <tr>
                  <th scope="col">{t("pricing.dealer")}</th>
                  <th scope="col">{t("pricing.tier")}</th>
                  <th scope="col">{t("dealers.region")}</th>
                  <th scope="col" className="num">
                    {t("dealers.creditLimit")}
                  </th>
                  <th scope="col" className="num">
                    {t("dealers.creditUsed")}
                  </th>
                  <th scope="col" className="num">
                    {t("dealers.creditAvailable")}
                  </th>
                  <th scope="col" className="num">
                    {t("dealers.terms")}
                  </th>
                  <th scope="col">{t("catalog.field.status")}</th>
                </tr>
              </thead>
              <tbody>
                {dealers.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <Link to={`/dealers/${d.id}`}>{d.dealerName}</Link>
                      {d.dealerUscc ? <div className="sc-muted mono">{d.dealerUscc}</div> : null}
                    </td>
                    <td>{d.tierName ?? <span className="sc-muted">{t("dealers.noTier")}</span>}</td>
                    <td>{d.region}</td>
                    <td className="num">{formatFen(d.credit.limitFen, locale)}</td>
                    <td className="num">{formatFen(d.credit.usedFen, locale)}</td>
                    <td className="num">{formatFen(d.credit.availableFen, locale)}</td>
                    <td className="num nowrap">{t("dealers.termsDays", { days: d.paymentTermsDays })}</td>
                    <td>
                      <StateTag state={d.status} scope="dealers" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          onFirstPage={onFirstPage}
          firstHref={withParams("/dealers", params, { after: null })}
          nextHref={nextCursor ? withParams("/dealers", params, { after: nextCursor }) : null}
        />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
