import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useLocation } from "@remix-run/react";
import { CursorPager, MARKET_ORDER_STATUS_LIST, MarketOrderTable, StatusFilter } from "~/components/market-order-ui";
import { RouteError } from "~/components/route-error";
import { withParams } from "~/components/supply-ui";
import { formatFen, translate } from "~/i18n";
import { localeFromMatches } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listMarketOrders, merchantMoney } from "~/domain/market";
import { orderRowView, parseStatusParam, requireMarketParty } from "~/web/market-order-access.server";
import { badRequestOnValidation } from "~/web/supply-chain-access.server";
import marketOrderStyles from "~/styles/market-orders.css";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
  { rel: "stylesheet", href: marketOrderStyles },
];

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => {
  const locale = localeFromMatches(matches);
  const kind = data?.side ?? "buyer";
  return [{ title: `${translate(locale, `mo.title.${kind}`)} · ${translate(locale, "app.fullName")}` }];
};

/**
 * `/market/orders` — a buyer's purchases or a merchant's sales (an operator's whole-market list is
 * /markets/:id/orders, but it may look here too), newest first, filtered by status, a page at a
 * time by cursor. The merchant also sees its money: held in escrow, settled, commission paid.
 */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { viewer } = await requireMarketParty(request, context);
  const url = new URL(request.url);
  const status = parseStatusParam(url.searchParams.get("status"));
  const after = url.searchParams.get("after");
  // A forged cursor is a 400 naming it, never a 500.
  const page = await badRequestOnValidation(() => listMarketOrders(context.db, viewer, { status, after, limit: 25 }));
  const money = viewer.kind === "merchant" ? await merchantMoney(context.db, viewer.organizationId) : null;
  return {
    side: viewer.kind,
    status: status ?? "",
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    orders: page.items.map((o) => orderRowView(o, viewer.kind)),
    money,
  };
}

function MoneyPanel({ money }: { money: NonNullable<ReturnType<typeof useLoaderData<typeof loader>>["money"]> }) {
  const t = useT();
  const locale = useLocale();
  const figures = [
    { key: "held", label: t("mo.money.held"), note: t("mo.money.heldNote"), fen: money.heldFen },
    { key: "settled", label: t("mo.money.settled"), note: t("mo.money.settledNote"), fen: money.settledNetFen },
    { key: "commission", label: t("mo.money.commission"), note: t("mo.money.commissionNote"), fen: money.commissionFen },
    { key: "available", label: t("mo.money.available"), note: t("mo.money.availableNote"), fen: money.walletAvailableFen },
  ];
  return (
    <section className="panel" aria-labelledby="money-heading" data-testid="money">
      <h2 id="money-heading">{t("mo.money.title")}</h2>
      <dl className="mo-money">
        {figures.map((f) => (
          <div key={f.key} data-testid={`money-${f.key}`}>
            <dt>{f.label}</dt>
            <dd>
              {formatFen(f.fen, locale)}
              <small>{f.note}</small>
            </dd>
          </div>
        ))}
      </dl>
      {/* Cash before escrow releases: an advance on shipped orders, repaid from their settlement. */}
      <p>
        <Link to="/financing/receivables" data-testid="money-advance">
          {t("financing.receivables.market.link")}
        </Link>
      </p>
    </section>
  );
}

export default function MarketOrders() {
  const d = useLoaderData<typeof loader>();
  const t = useT();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const nextHref = d.nextCursor ? withParams(location.pathname, params, { after: d.nextCursor }) : null;
  return (
    <div className="sc-page mo-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t(`mo.eyebrow.${d.side}`)}</p>
          <h1>{t(`mo.title.${d.side}`)}</h1>
          <p className="subtle">{t(`mo.hint.${d.side}`)}</p>
        </div>
      </div>
      {d.money ? <MoneyPanel money={d.money} /> : null}
      <section className="panel">
        <StatusFilter action="/market/orders" status={d.status} statuses={MARKET_ORDER_STATUS_LIST} />
        {d.orders.length === 0 ? (
          <p className="empty">{d.status || !d.onFirstPage ? t("mo.emptyFiltered") : t("mo.empty")}</p>
        ) : (
          <MarketOrderTable items={d.orders} side={d.side} testId="market-orders" />
        )}
        <CursorPager nextHref={nextHref} firstHref={withParams(location.pathname, params, { after: null })} onFirstPage={d.onFirstPage} />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
