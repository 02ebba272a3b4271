import { data, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { DailyAmountChart, percentText, RankedBars } from "~/components/market-charts";
import { MarketTabs } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { formatDate, formatDateTime, formatFen, formatInteger, isMessageKey, translateDynamic, translateWithParams, type Locale } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { isDomainError, addDays, shanghaiDate } from "~/domain/shared";
import { requireOperatorMarket } from "~/web/market-access.server";
import { DASHBOARD_LIMITS, marketDashboard, resolveDashboardRange } from "~/domain/market";
import { scoped } from "~/web/tenancy.server";
import dashboardStyles from "~/styles/market-dashboard.css";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";
import { DateField } from "~/components/date-field";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
  { rel: "stylesheet", href: dashboardStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dashboard.market.title");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  // Scoped by the acting operator: another operator's market id is a 404.
  const { organizationId, market } = await requireOperatorMarket(request, context, params.marketId);
  const url = new URL(request.url);
  const sent = { from: (url.searchParams.get("from") ?? "").slice(0, 20), to: (url.searchParams.get("to") ?? "").slice(0, 20) };
  // One instant for "today", the default range and the figures' as-of time.
  const now = new Date();
  const today = shanghaiDate(now);
  const presets = DASHBOARD_LIMITS.presetDays.map((days) => ({ days, from: addDays(today, -(days - 1)), to: today }));
  const head = { market: { id: market.id, name: market.name }, presets, maxRangeDays: DASHBOARD_LIMITS.maxRangeDays };
  let range;
  try {
    range = resolveDashboardRange(sent, now);
  } catch (error) {
    // A bad range is the user's to fix: the form again with the field named, and a 400.
    if (isDomainError(error) && error.code === "validation") {
      return data({ ...head, values: sent, fieldErrors: error.fields, dashboard: null }, { status: 400 });
    }
    throw error;
  }
  const dashboard = await scoped(() => marketDashboard(context.db, organizationId, market.id, range, now));
  return { ...head, values: range, fieldErrors: {} as Record<string, string>, dashboard };
}

function problemText(locale: Locale, code: string, maxRangeDays: number): string {
  const own = `dashboard.market.problem.${code}`;
  if (isMessageKey(own)) return translateWithParams(locale, own, { max: maxRangeDays });
  return translateDynamic(locale, `catalog.problem.${code}`, code);
}

export default function MarketDashboardPage() {
  const { market, presets, maxRangeDays, values, fieldErrors, dashboard } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const errors: Record<string, string> = fieldErrors;
  return (
    <div className="sc-page md-page">
      <p>
        <Link to={`/markets/${market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{market.name}</p>
          <h1>{t("dashboard.market.title")}</h1>
          <p className="subtle">{t("dashboard.market.hint")}</p>
        </div>
      </div>
      <MarketTabs marketId={market.id} />

      <section className="panel md-range-panel" aria-labelledby="range-legend">
        <Form method="get" className="md-range" noValidate>
          <h2 id="range-legend" className="md-range-title">
            {t("dashboard.market.range.legend")}
          </h2>
          <DateField name="from" label={t("dashboard.market.range.from")} value={values.from} errorText={errors.from ? problemText(locale, errors.from, maxRangeDays) : undefined} />
          <DateField name="to" label={t("dashboard.market.range.to")} value={values.to} errorText={errors.to ? problemText(locale, errors.to, maxRangeDays) : undefined} />
          <button type="submit" className="sc-button">
            {t("dashboard.market.range.apply")}
          </button>
          <nav className="md-presets" aria-label={t("dashboard.market.range.presets")}>
            {presets.map((p) => {
              const current = dashboard !== null && values.from === p.from && values.to === p.to;
              return (
                <Link
                  key={p.days}
                  to={`?from=${p.from}&to=${p.to}`}
                  className={current ? "md-preset current" : "md-preset"}
                  aria-current={current ? "true" : undefined}
                >
                  {t("dashboard.market.range.preset", { days: p.days })}
                </Link>
              );
            })}
          </nav>
        </Form>
        {dashboard ? (
          <p className="subtle md-range-summary">
            {t("dashboard.market.range.summary", { from: formatDate(dashboard.range.from, locale), to: formatDate(dashboard.range.to, locale), days: dashboard.range.days })} ·{" "}
            {t("dashboard.market.asOf", { time: formatDateTime(dashboard.asOf, locale) })}
          </p>
        ) : (
          <p className="sc-form-error" role="alert">
            {t("dashboard.market.range.invalid")}
          </p>
        )}
      </section>

      {dashboard ? <DashboardBody dashboard={dashboard} /> : null}

      <section className="panel md-help" aria-labelledby="md-help-title">
        <h2 id="md-help-title">{t("dashboard.market.help.title")}</h2>
        <ul>
          <li>{t("dashboard.market.help.gmv")}</li>
          <li>{t("dashboard.market.help.orders")}</li>
          <li>{t("dashboard.market.help.escrow")}</li>
          <li>{t("dashboard.market.help.fees")}</li>
          <li>{t("dashboard.market.help.refunds")}</li>
          <li>{t("dashboard.market.help.top")}</li>
        </ul>
      </section>
    </div>
  );
}

type Dashboard = NonNullable<ReturnType<typeof useLoaderData<typeof loader>>["dashboard"]>;

function Figure(props: { label: string; value: string; note?: string | null; extra?: string | null; now?: boolean; testId: string }) {
  const t = useT();
  return (
    <article className={props.now ? "md-card now" : "md-card"} data-testid={props.testId}>
      <h3 className="md-card-label">
        {props.label}
        {props.now ? <span className="md-now">{t("dashboard.market.figure.now")}</span> : null}
      </h3>
      <p className="md-card-value num">{props.value}</p>
      {props.note ? <p className="md-card-note">{props.note}</p> : null}
      {props.extra ? <p className="md-card-note">{props.extra}</p> : null}
    </article>
  );
}

function DashboardBody({ dashboard: d }: { dashboard: Dashboard }) {
  const t = useT();
  const locale = useLocale();
  const money = (fen: number) => formatFen(fen, locale);
  const int = (n: number) => formatInteger(n, locale);
  return (
    <>
      <section aria-label={t("dashboard.market.figures")} className="md-cards">
        <Figure
          testId="figure-gmv"
          label={t("dashboard.market.figure.gmv")}
          value={money(d.gmvFen)}
          note={t("dashboard.market.figure.gmvNet", { amount: money(d.gmvNetFen) })}
        />
        <Figure
          testId="figure-orders"
          label={t("dashboard.market.figure.orders")}
          value={int(d.orderCount)}
          note={t("dashboard.market.figure.ordersNote")}
        />
        <Figure
          testId="figure-aov"
          label={t("dashboard.market.figure.aov")}
          value={money(d.averageOrderFen)}
          note={t("dashboard.market.figure.aovNote")}
        />
        <Figure
          testId="figure-fees"
          label={t("dashboard.market.figure.fees")}
          value={money(d.feesEarnedFen)}
          note={t("dashboard.market.figure.feesNote", { count: int(d.settledOrderCount) })}
          extra={
            d.feeAccountBalanceFen === null
              ? t("dashboard.market.figure.feeAccountNone")
              : t("dashboard.market.figure.feeAccount", { amount: money(d.feeAccountBalanceFen) })
          }
        />
        <Figure
          testId="figure-refunds"
          label={t("dashboard.market.figure.refunds")}
          value={money(d.refundsFen)}
          note={t("dashboard.market.figure.refundCount", { count: int(d.refundCount) })}
        />
        <Figure
          testId="figure-escrow"
          now
          label={t("dashboard.market.figure.escrowHeld")}
          value={money(d.escrowHeldFen)}
          note={t("dashboard.market.figure.escrowHolds", { count: int(d.escrowHoldCount) })}
        />
        <Figure
          testId="figure-disputes"
          now
          label={t("dashboard.market.figure.disputesOpen")}
          value={int(d.disputesOpenCount)}
          note={t("dashboard.market.figure.disputesOpened", { count: int(d.disputesOpenedCount) })}
        />
      </section>

      <section className="panel" aria-labelledby="md-daily-title">
        <h2 id="md-daily-title">{t("dashboard.market.chart.daily")}</h2>
        <ul className="md-legend" aria-hidden="true">
          <li>
            <span className="md-key bar" /> {t("dashboard.market.chart.gmv")}
          </li>
          <li>
            <span className="md-key line" /> {t("dashboard.market.chart.orders")}
          </li>
        </ul>
        <DailyAmountChart
          id="md-daily"
          title={t("dashboard.market.chart.daily")}
          description={t("dashboard.market.chart.dailyDesc", { from: formatDate(d.range.from, locale), to: formatDate(d.range.to, locale), gmv: money(d.gmvFen), orders: int(d.orderCount) })}
          points={d.series.map((p) => ({ day: p.day, amountFen: p.gmvFen, count: p.orderCount }))}
          locale={locale}
          labels={{
            amount: t("dashboard.market.chart.gmv"),
            count: t("dashboard.market.chart.orders"),
            countValue: (n) => t("dashboard.market.chart.ordersValue", { count: n }),
            empty: t("dashboard.market.chart.empty"),
          }}
        />
        <details className="md-table">
          <summary>{t("dashboard.market.chart.showTable")}</summary>
          <div className="table-wrap">
            <table className="data" data-testid="daily-table">
              <thead>
                <tr>
                  <th scope="col">{t("dashboard.market.chart.day")}</th>
                  <th scope="col" className="num">
                    {t("dashboard.market.chart.gmv")}
                  </th>
                  <th scope="col" className="num">
                    {t("dashboard.market.chart.orders")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.series.map((p) => (
                  <tr key={p.day}>
                    <th scope="row" className="nowrap">
                      {formatDate(p.day, locale)}
                    </th>
                    <td className="num">{money(p.gmvFen)}</td>
                    <td className="num">{int(p.orderCount)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </section>

      <div className="columns md-columns">
        <TopPanel
          id="md-merchants"
          title={t("dashboard.market.topMerchants")}
          nameHeader={t("dashboard.market.col.merchant")}
          rows={d.topMerchants.map((m) => ({ key: m.merchantId, name: m.name, gmvFen: m.gmvFen, orderCount: m.orderCount }))}
          totalFen={d.gmvFen}
          testId="top-merchants"
        />
        <TopPanel
          id="md-categories"
          title={t("dashboard.market.topCategories")}
          nameHeader={t("dashboard.market.col.category")}
          rows={d.topCategories.map((c) => ({ key: c.category, name: c.category, gmvFen: c.gmvFen, orderCount: c.orderCount }))}
          totalFen={d.gmvFen}
          testId="top-categories"
        />
      </div>
    </>
  );
}

function TopPanel(props: {
  id: string;
  title: string;
  nameHeader: string;
  rows: { key: string; name: string; gmvFen: number; orderCount: number }[];
  totalFen: number;
  testId: string;
}) {
  const t = useT();
  const locale = useLocale();
  return (
    <section className="panel" aria-labelledby={`${props.id}-heading`}>
      <h2 id={`${props.id}-heading`}>{props.title}</h2>
      {props.rows.length === 0 ? (
        <p className="empty">{t("dashboard.market.topEmpty")}</p>
      ) : (
        <>
          <RankedBars
            id={props.id}
            title={props.title}
            description={t("dashboard.market.chart.barsDesc", { count: props.rows.length, total: formatFen(props.totalFen, locale) })}
            items={props.rows.map((r) => ({ label: r.name, amountFen: r.gmvFen }))}
            totalFen={props.totalFen}
            locale={locale}
            testId={`${props.testId}-chart`}
          />
          <details className="md-table">
            <summary>{t("dashboard.market.chart.showTable")}</summary>
            <div className="table-wrap">
              <table className="data" data-testid={`${props.testId}-table`}>
                <thead>
                  <tr>
                    <th scope="col" className="num">
                      {t("dashboard.market.col.rank")}
                    </th>
                    <th scope="col">{props.nameHeader}</th>
                    <th scope="col" className="num">
                      {t("dashboard.market.col.gmv")}
                    </th>
                    <th scope="col" className="num">
                      {t("dashboard.market.col.orders")}
                    </th>
                    <th scope="col" className="num">
                      {t("dashboard.market.col.share")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {props.rows.map((r, i) => (
                    <tr key={r.key}>
                      <td className="num">{i + 1}</td>
                      <th scope="row">{r.name}</th>
                      <td className="num">{formatFen(r.gmvFen, locale)}</td>
                      <td className="num">{formatInteger(r.orderCount, locale)}</td>
                      <td className="num">{percentText(r.gmvFen, props.totalFen)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      )}
    </section>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
