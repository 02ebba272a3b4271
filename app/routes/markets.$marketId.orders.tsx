import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useLocation } from "@remix-run/react";
import { MarketTabs } from "~/components/market-ui";
import { CursorPager, MARKET_ORDER_STATUS_LIST, MarketOrderTable, StatusFilter } from "~/components/market-order-ui";
import { RouteError } from "~/components/route-error";
import { withParams } from "~/components/supply-ui";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { listMarketOrders, getMarket } from "~/domain/market";
import { orderRowView, parseStatusParam, requireMarketParty } from "~/web/market-order-access.server";
import { badRequestOnValidation } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import marketStyles from "~/styles/market.css";
import marketOrderStyles from "~/styles/market-orders.css";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: marketStyles },
  { rel: "stylesheet", href: ordersStyles },
  { rel: "stylesheet", href: marketOrderStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "mo.title.market_operator");

/**
 * `/markets/:marketId/orders` — every escrow order of one of the operator's markets, newest first,
 * by status, a page at a time. Each links to the order's page (/market/orders/:id), which shows it
 * to the operator as a party. Another operator's market is a 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, viewer } = await requireMarketParty(request, context, { kinds: ["market_operator"] });
  const marketId = requireUuidParam(params.marketId);
  const market = await scoped(() => getMarket(context.db, organizationId, marketId));
  const url = new URL(request.url);
  const status = parseStatusParam(url.searchParams.get("status"));
  const after = url.searchParams.get("after");
  const page = await badRequestOnValidation(() => listMarketOrders(context.db, viewer, { marketId: market.id, status, after, limit: 25 }));
  return {
    market: { id: market.id, name: market.name },
    status: status ?? "",
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    orders: page.items.map((o) => orderRowView(o, "market_operator")),
  };
}

export default function MarketOrdersForOperator() {
  const d = useLoaderData<typeof loader>();
  const t = useT();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const nextHref = d.nextCursor ? withParams(location.pathname, params, { after: d.nextCursor }) : null;
  return (
    <div className="sc-page mo-page">
      <p>
        <Link to={`/markets/${d.market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{d.market.name}</p>
          <h1>{t("mo.title.market_operator")}</h1>
          <p className="subtle">{t("mo.hint.market_operator")}</p>
        </div>
      </div>
      <MarketTabs marketId={d.market.id} />
      <section className="panel">
        <StatusFilter action={`/markets/${d.market.id}/orders`} status={d.status} statuses={MARKET_ORDER_STATUS_LIST} />
        {d.orders.length === 0 ? (
          <p className="empty">{d.status || !d.onFirstPage ? t("mo.emptyFiltered") : t("mo.empty")}</p>
        ) : (
          <MarketOrderTable items={d.orders} side="market_operator" testId="market-orders" />
        )}
        <CursorPager nextHref={nextHref} firstHref={withParams(location.pathname, params, { after: null })} onFirstPage={d.onFirstPage} />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
