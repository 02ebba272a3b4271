import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { NeedsRole } from "~/components/needs-role";
import { OrderStatusTag } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { formatDate, formatFen, formatPercentBps, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { mayMap } from "~/domain/identity";
import { listSeasonsForDealer } from "~/domain/orders";
import { requireDealer } from "~/web/supply-chain-access.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dealerSeasons.title");

/**
 * The dealer's pre-order seasons (订货会): those its suppliers have open, and those it booked in,
 * with the deposit rate, when the balance falls due, its own bookings, and a way to book (the quick
 * order form, preset to the season).
 */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, roles } = await requireDealer(request, context);
  const seasons = await listSeasonsForDealer(context.db, organizationId);
  return {
    // Booking is placing a pre-order (the quick order form): offered only to those who may.
    may: mayMap(roles, "dealer", ["order.create"]),
    seasons: seasons.map((s) => ({
      id: s.id,
      name: s.name,
      status: s.status,
      depositRateBps: s.depositRateBps,
      supplierName: s.supplierName,
      releasedAt: s.releasedAt ? s.releasedAt.toISOString() : null,
      bookings: s.bookings,
    })),
  };
}

export default function DealerSeasons() {
  const { seasons, may } = useLoaderData<typeof loader>();
  const canBook = may["order.create"];
  const t = useT();
  const locale = useLocale();
  return (
    <div className="sc-page od-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("orders.eyebrowDealer")}</p>
          <h1>{t("dealerSeasons.title")}</h1>
          <p className="subtle">{t("dealerSeasons.intro")}</p>
        </div>
      </div>
      <section className="panel" aria-labelledby="seasons-heading">
        <h2 id="seasons-heading">{t("dealerSeasons.list")}</h2>
        {!canBook && seasons.some((s) => s.status === "open") ? <NeedsRole action="order.create" kind="dealer" /> : null}
        {seasons.length === 0 ? (
          <p className="empty" data-testid="no-seasons">
            {t("dealerSeasons.empty")}
          </p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="dealer-seasons">
              <thead>
                <tr>
                  <th scope="col">{t("dealerSeasons.season")}</th>
                  <th scope="col" className="num">
                    {t("seasons.deposit")}
                  </th>
                  <th scope="col">{t("dealerSeasons.balanceDue")}</th>
                  <th scope="col">{t("dealerSeasons.bookings")}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t("orders.actionsTitle")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {seasons.map((s) => (
                  <tr key={s.id} data-season={s.id}>
                    <td>
                      <strong>{s.name}</strong>
                      <div className="sc-muted">{s.supplierName}</div>
                      <span className={`od-status ${s.status === "open" ? "confirmed" : s.status === "released" ? "completed" : "cancelled"}`}>
                        {translateDynamic(locale, `seasons.status.${s.status}`, s.status)}
                      </span>
                    </td>
                    <td className="num" data-testid="deposit-rate">
                      {formatPercentBps(s.depositRateBps, locale)}
                    </td>
                    <td data-testid="balance-due">
                      {s.releasedAt ? t("dealerSeasons.balanceDueSince", { date: formatDate(s.releasedAt, locale) }) : t("dealerSeasons.balanceDueOnRelease")}
                    </td>
                    <td>
                      {s.bookings.length === 0 ? (
                        <span className="sc-muted">{t("dealerSeasons.noBookings")}</span>
                      ) : (
                        <ul className="od-returns">
                          {s.bookings.map((b) => (
                            <li key={b.id}>
                              <Link to={`/orders/${b.id}`} className="mono">
                                {b.number}
                              </Link>{" "}
                              <OrderStatusTag status={b.status} /> <span className="num">{formatFen(b.totalFen, locale)}</span>
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td className="actions">
                      {s.status === "open" && canBook ? (
                        <Link className="sc-button small" to={`/orders/quick?season=${s.id}`} data-testid="book">
                          {t("dealerSeasons.book")}
                        </Link>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p className="sc-muted small">{t("dealerSeasons.explain")}</p>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
