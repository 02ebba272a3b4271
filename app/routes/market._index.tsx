import { redirect, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listOpenMarkets } from "~/domain/market";
import { requireBuyer } from "~/web/market-party-access.server";
import listingStyles from "~/styles/market-listings.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "shop.market.chooseTitle");

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireBuyer(request, context);
  // Any buyer may shop in any active market (see market-listings.server.ts): no per-market gate.
  const markets = await listOpenMarkets(context.db);
  const url = new URL(request.url);
  // One market: straight in (unless the buyer asked to see the list, from a market's page).
  if (markets.length === 1 && url.searchParams.get("all") !== "1") throw redirect(`/market/${markets[0].id}`);
  return { markets };
}

export default function MarketChooser() {
  const { markets } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("shop.market.eyebrow")}</p>
          <h1>{t("shop.market.chooseTitle")}</h1>
          <p className="subtle">{t("shop.market.chooseHint")}</p>
        </div>
        <div className="sc-actions">
          <Link to="/market/cart" className="sc-button secondary">
            {t("shop.market.viewCart")}
          </Link>
        </div>
      </div>
      {markets.length === 0 ? (
        <p className="empty">{t("shop.market.none")}</p>
      ) : (
        <ul className="shop-market-list" data-testid="market-list">
          {markets.map((m) => (
            <li key={m.id}>
              <section className="panel">
                <h2>
                  <Link to={`/market/${m.id}`}>{m.name}</Link>
                </h2>
                <p className="subtle">
                  {m.city} · {t("shop.market.operator", { name: m.operatorName })}
                </p>
                <p>{m.categories.join("、")}</p>
                <p className="sc-muted">{t("shop.market.listingCount", { count: formatInteger(m.listingCount, locale) })}</p>
                <Link to={`/market/${m.id}`} className="sc-button">
                  {t("shop.market.enter")}
                </Link>
              </section>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
