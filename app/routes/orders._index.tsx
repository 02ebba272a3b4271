import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useLocation } from "@remix-run/react";
import { OrderTable } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { Pager, withParams } from "~/components/supply-ui";
import { formatFen, translateDynamic, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { ORDER_KINDS, ORDER_STATUSES, type OrderKind, orderMoneySummary, type MoneyFigure, listOrders } from "~/domain/orders";
import { may } from "~/domain/identity";
import { badRequestOnValidation } from "~/web/supply-chain-access.server";
import { notFound, requireOrgContext } from "~/web/tenancy.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";
import { shanghaiDate, isUuid } from "~/domain/shared";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orders.title");

const PAGE_SIZE = 25;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  // Orders are between a dealer and a core enterprise; for any other organisation there is no such page.
  if (organization.kind !== "dealer" && organization.kind !== "core_enterprise") notFound();
  const url = new URL(request.url);
  // Filters are choices from a list: anything else is no filter, never an error.
  const statusParam = url.searchParams.get("status") ?? "";
  const kindParam = url.searchParams.get("kind") ?? "";
  const counterpartyParam = url.searchParams.get("counterparty") ?? "";
  const status = (ORDER_STATUSES as readonly string[]).includes(statusParam) ? statusParam : null;
  const kind = (ORDER_KINDS as readonly string[]).includes(kindParam) ? (kindParam as OrderKind) : null;
  const counterpartyId = isUuid(counterpartyParam) ? counterpartyParam : null;
  const after = url.searchParams.get("after");
  const page = await badRequestOnValidation(() =>
    listOrders(context.db, organization.organizationId, { status, kind, counterpartyId, after, limit: PAGE_SIZE }),
  );
  // The supplier's pipeline in money, whatever the filters: what the list below is part of.
  const today = shanghaiDate(new Date());
  const money = organization.kind === "core_enterprise" ? await orderMoneySummary(context.db, organization.organizationId, today) : null;
  return {
    side: organization.kind,
    // The quick order form is offered to those who may place orders (the cart opens for all, read-only).
    canCreate: may(organization.roles, "order.create", organization.kind),
    status,
    kind,
    counterpartyId,
    // Every row is with that counterparty, so any row names it.
    counterpartyName: counterpartyId ? (page.items[0]?.counterpartyName ?? null) : null,
    today,
    money,
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    items: page.items.map((o) => ({
      id: o.id,
      number: o.number,
      kind: o.kind,
      status: o.status,
      counterpartyName: o.counterpartyName,
      totalFen: o.totalFen,
      paidFen: o.paidFen,
      paymentMethod: o.paymentMethod,
      dueOn: o.dueOn,
      createdAt: new Date(o.createdAt).toISOString(),
    })),
  };
}

export default function Orders() {
  const { side, canCreate, status, kind, counterpartyId, counterpartyName, today, money, onFirstPage, nextCursor, items } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const dealer = side === "dealer";
  const filtered = Boolean(status || kind || counterpartyId);
  const figure = (label: string, value: MoneyFigure, testId: string, alarm = false) => (
    <div className="figure" data-testid={testId}>
      <span className="figure-label">
        {label} · {t(value.count === 1 ? "orders.money.countOne" : "orders.money.countMany", { count: value.count })}
      </span>
      <span className="figure-value num" style={alarm && value.amountFen > 0 ? { color: "var(--bad)" } : undefined}>
        {formatFen(value.amountFen, locale)}
      </span>
    </div>
  );
  return (
    <div className="sc-page od-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t(dealer ? "orders.eyebrowDealer" : "orders.eyebrowCore")}</p>
          <h1>{t("orders.title")}</h1>
          <p className="subtle">{t(dealer ? "orders.introDealer" : "orders.introCore")}</p>
        </div>
        <div className="sc-actions">
          {dealer ? (
            <>
              {canCreate ? (
                <Link to="/orders/quick" className="sc-button">
                  {t("orders.quickOrder")}
                </Link>
              ) : null}
              <Link to="/cart" className="sc-button secondary">
                {t("orders.cart")}
              </Link>
            </>
          ) : (
            <Link to="/seasons" className="sc-button secondary">
              {t("nav.seasons")}
            </Link>
          )}
          <Link to="/settings/orders" className="sc-button secondary">
            {t("orders.settings")}
          </Link>
        </div>
      </div>
      {money ? (
        <section className="panel" aria-label={t("orders.money.title")} data-testid="order-money">
          <div className="figures">
            {figure(t("orders.money.awaitingPayment"), money.awaitingPayment, "money-awaiting")}
            {figure(t("orders.money.paid", { days: money.paid.windowDays }), money.paid, "money-paid")}
            {figure(t("orders.money.onCredit"), money.onCredit, "money-credit")}
            {figure(t("orders.money.overdue"), money.overdue, "money-overdue", true)}
            {figure(t("orders.money.financing"), money.financingRequested, "money-financing")}
          </div>
          <p className="sc-muted">{t("orders.money.note", { since: formatDate(money.paid.sinceOn, locale), today: formatDate(today, locale) })}</p>
        </section>
      ) : null}
      <section className="panel">
        <Form method="get" className="sc-toolbar" aria-label={t("orders.filters")}>
          {counterpartyId ? <input type="hidden" name="counterparty" value={counterpartyId} /> : null}
          <div>
            <label htmlFor="status">{t("orders.status")}</label>
            <select id="status" name="status" defaultValue={status ?? ""}>
              <option value="">{t("orders.anyStatus")}</option>
              {ORDER_STATUSES.filter((s) => dealer || s !== "draft").map((s) => (
                <option key={s} value={s}>
                  {translateDynamic(locale, `orders.status.${s}`, s)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="kind">{t("orders.kind")}</label>
            <select id="kind" name="kind" defaultValue={kind ?? ""}>
              <option value="">{t("orders.anyKind")}</option>
              {ORDER_KINDS.map((k) => (
                <option key={k} value={k}>
                  {translateDynamic(locale, `orders.kind.${k}`, k)}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="sc-button secondary">
            {t("orders.filter")}
          </button>
          {filtered ? <Link to="/orders">{t("orders.clearFilters")}</Link> : null}
        </Form>
        {counterpartyId ? (
          <p className="sc-muted" data-testid="counterparty-filter">
            {counterpartyName ? t("orders.onlyCounterparty", { name: counterpartyName }) : t("orders.onlyCounterpartyUnnamed")}
          </p>
        ) : null}
        {items.length === 0 ? (
          <p className="empty">{filtered ? t("orders.emptyFiltered") : t(dealer ? "orders.emptyDealer" : "orders.emptyCore")}</p>
        ) : (
          <OrderTable items={items} counterpartyHeading={dealer ? t("orders.supplier") : t("orders.dealer")} testId="orders" />
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
