import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { MarketTabs } from "~/components/market-ui";
import { DisputeStatusTag } from "~/components/market-order-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listDisputes, getMarket } from "~/domain/market";
import { requireMarketParty } from "~/web/market-order-access.server";
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
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dispute.list.title");

const DISPUTE_FILTERS = ["open", "ruled"] as const;
type DisputeFilter = (typeof DISPUTE_FILTERS)[number];

/**
 * `/markets/:marketId/disputes` — the disputes of one of the operator's markets, those awaiting a
 * ruling first; each leads to its ruling page. Another operator's market is a 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireMarketParty(request, context, { kinds: ["market_operator"] });
  const marketId = requireUuidParam(params.marketId);
  const market = await scoped(() => getMarket(context.db, organizationId, marketId));
  const raw = new URL(request.url).searchParams.get("status") ?? "";
  if (raw !== "" && !(DISPUTE_FILTERS as readonly string[]).includes(raw)) throw new Response("Bad status: open or ruled", { status: 400 });
  const status = raw === "" ? null : (raw as DisputeFilter);
  const disputes = await scoped(() => listDisputes(context.db, organizationId, market.id, { status, limit: 200 }));
  return {
    market: { id: market.id, name: market.name },
    status: raw,
    disputes: disputes.map((d) => ({
      id: d.id,
      orderNo: d.orderNo,
      buyerName: d.buyerName,
      merchantName: d.merchantName,
      goodsTotalFen: d.goodsTotalFen,
      status: d.status,
      ruling: d.ruling,
      refundFen: d.refundFen,
      openedAt: d.openedAt.toISOString(),
    })),
  };
}

export default function MarketDisputes() {
  const d = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const base = `/markets/${d.market.id}/disputes`;
  return (
    <div className="sc-page mo-page">
      <p>
        <Link to={`/markets/${d.market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{d.market.name}</p>
          <h1>{t("dispute.list.title")}</h1>
          <p className="subtle">{t("dispute.list.hint")}</p>
        </div>
      </div>
      <MarketTabs marketId={d.market.id} />
      <section className="panel">
        <Form method="get" action={base} className="sc-toolbar">
          <div>
            <label htmlFor="status">{t("dispute.filter.status")}</label>
            <select id="status" name="status" defaultValue={d.status}>
              <option value="">{t("dispute.filter.any")}</option>
              {DISPUTE_FILTERS.map((s) => (
                <option key={s} value={s}>
                  {t(`dispute.status.${s}`)}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="sc-button secondary">
            {t("mo.filter.submit")}
          </button>
        </Form>
        {d.disputes.length === 0 ? (
          <p className="empty">{t("dispute.list.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="disputes">
              <thead>
                <tr>
                  <th scope="col">{t("dispute.col.order")}</th>
                  <th scope="col">{t("dispute.col.buyer")}</th>
                  <th scope="col">{t("dispute.col.merchant")}</th>
                  <th scope="col" className="num">
                    {t("dispute.col.amount")}
                  </th>
                  <th scope="col">{t("dispute.col.status")}</th>
                  <th scope="col">{t("dispute.col.ruling")}</th>
                  <th scope="col">{t("dispute.col.openedAt")}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t("dispute.col.view")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.disputes.map((x) => (
                  <tr key={x.id} data-dispute={x.id}>
                    <td>
                      <Link to={`${base}/${x.id}`} className="mono">
                        {x.orderNo}
                      </Link>
                    </td>
                    <td>{x.buyerName}</td>
                    <td>{x.merchantName}</td>
                    <td className="num">{formatFen(x.goodsTotalFen, locale)}</td>
                    <td>
                      <DisputeStatusTag status={x.status} />
                    </td>
                    <td>
                      {x.ruling ? t(`dispute.ruling.${x.ruling}`) : "—"}
                      {x.refundFen > 0 ? <span className="sc-muted small"> · {formatFen(x.refundFen, locale)}</span> : null}
                    </td>
                    <td className="nowrap">{formatDateTime(x.openedAt, locale)}</td>
                    <td>
                      <Link to={`${base}/${x.id}`} className={`sc-button small ${x.status === "open" ? "" : "secondary"}`}>
                        {x.status === "open" ? t("mo.toRuling") : t("table.view")}
                      </Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
