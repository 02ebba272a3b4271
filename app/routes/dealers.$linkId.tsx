import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { OrderTable } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, SelectField, StateTag, TextField, valuesFor } from "~/components/supply-ui";
import { formatDateTime, formatFen, translateDynamic, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { fenToYuanText } from "~/domain/catalog";
import { dealerLinkEvents, dealerTermsFormSchema, getDealerLink, listDealerLinkHistory, transitionDealerLink, updateDealerLink, type DealerLinkEvent } from "~/domain/dealers";
import { onAccountPosition, listOrders } from "~/domain/orders";
import { listOverrides, listTiers } from "~/domain/pricing";
import { domainFailure, formValues, requireCoreEnterprise, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import styles from "~/styles/supply.css";
import { shanghaiDate } from "~/domain/shared";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dealers.detailTitle");

/** Orders shown on the page; the full list is one link away. */
const RECENT_ORDERS = 10;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const linkId = requireUuidParam(params.linkId);
  // Scoped by the acting core enterprise: another network's link id is a 404.
  const link = await scoped(() => getDealerLink(context.db, organizationId, linkId));
  const today = shanghaiDate(new Date());
  const [tiers, overrides, history, recent, position] = [
    await listTiers(context.db, organizationId),
    await listOverrides(context.db, organizationId, { linkId: link.id, today }),
    await listDealerLinkHistory(context.db, organizationId, link.id),
    // The dealer's orders with this core enterprise only: listOrders is scoped to the acting one.
    await listOrders(context.db, organizationId, { counterpartyId: link.dealerId, limit: RECENT_ORDERS }),
    await onAccountPosition(context.db, { coreEnterpriseId: organizationId, dealerId: link.dealerId, today }),
  ];
  return {
    canManage,
    link: {
      id: link.id,
      dealerName: link.dealerName,
      dealerNameEn: link.dealerNameEn,
      dealerUscc: link.dealerUscc,
      tierId: link.tierId,
      tierName: link.tierName,
      region: link.region,
      paymentTermsDays: link.paymentTermsDays,
      status: link.status,
      createdAt: link.createdAt,
      credit: link.credit,
      events: dealerLinkEvents(link.status),
    },
    creditLimitYuan: fenToYuanText(link.credit.limitFen),
    tiers: tiers.map((tier) => ({ value: tier.id, label: tier.name })),
    overrides: overrides.map((o) => ({ id: o.id, skuCode: o.skuCode, skuName: o.skuName, priceFen: o.priceFen, basePriceFen: o.basePriceFen, validFrom: o.validFrom, validTo: o.validTo, state: o.state })),
    history: history.map((h) => ({ id: h.id, at: h.at, action: h.action, actor: h.actor })),
    today,
    allOrdersHref: `/orders?counterparty=${link.dealerId}`,
    recentOrders: recent.items.map((o) => ({
      id: o.id,
      number: o.number,
      kind: o.kind,
      status: o.status,
      totalFen: o.totalFen,
      paidFen: o.paidFen,
      paymentMethod: o.paymentMethod,
      dueOn: o.dueOn,
      createdAt: new Date(o.createdAt).toISOString(),
    })),
    position,
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const intent = String(form.get("intent") ?? "");
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: intent === "updateTerms" ? "dealer_link.update" : "dealer_link.transition" });
  const linkId = requireUuidParam(params.linkId);
  const values = formValues(form, ["tierId", "region", "paymentTermsDays", "creditLimit", "reason"]);
  const here = `/dealers/${linkId}`;
  try {
    if (intent === "updateTerms") {
      const parsed = dealerTermsFormSchema.safeParse(values);
      if (!parsed.success) {
        await scoped(() => getDealerLink(context.db, organizationId, linkId));
        return data<FormFailure>({ intent, fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
      }
      await updateDealerLink(context.db, actor, organizationId, linkId, {
        tierId: parsed.data.tierId,
        region: parsed.data.region,
        paymentTermsDays: parsed.data.paymentTermsDays,
        creditLimitFen: parsed.data.creditLimit,
      });
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "dealers.flash.saved" }) } });
    }
    if (intent === "suspend" || intent === "reactivate") {
      await transitionDealerLink(context.db, actor, organizationId, linkId, intent as DealerLinkEvent, values.reason ?? "");
      return redirect(here, {
        headers: { "Set-Cookie": await flashCookie(context, { key: intent === "suspend" ? "dealers.flash.suspended" : "dealers.flash.reactivated" }) },
      });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function DealerDetail() {
  const { canManage, link, creditLimitYuan, tiers, overrides, history, today, allOrdersHref, recentOrders, position } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const termErrors = errorsFor(result, "updateTerms");
  const termValues = valuesFor(result, "updateTerms");
  const statusResult = result && (result.intent === "suspend" || result.intent === "reactivate") ? result : null;
  // Listed oldest due first: the first is the one overdue longest.
  const oldestOverdue = position.overdueOrders[0] ?? null;
  const orderCount = (count: number) => t(count === 1 ? "orders.money.countOne" : "orders.money.countMany", { count });
  return (
    <div className="sc-page">
      <p>
        <Link to="/dealers">← {t("dealers.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {link.tierName ?? t("dealers.noTier")} · {link.region}
          </p>
          <h1>{locale === "en" && link.dealerNameEn ? link.dealerNameEn : link.dealerName}</h1>
          <p className="subtle small">
            {link.dealerUscc ? <span className="mono">{link.dealerUscc}</span> : null} · {t("dealers.since", { date: formatDateTime(link.createdAt, locale) })}
          </p>
        </div>
        <StateTag state={link.status} scope="dealers" />
      </div>

      <section className="panel" aria-labelledby="credit-heading">
        <h2 id="credit-heading">{t("dealers.credit")}</h2>
        <div className="figures" data-testid="credit">
          <div className="figure">
            <span className="figure-label">{t("dealers.creditLimit")}</span>
            <span className="figure-value num">{formatFen(link.credit.limitFen, locale)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("dealers.openCredit")}</span>
            <span className="figure-value num">{formatFen(link.credit.usedFen, locale)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("dealers.creditAvailable")}</span>
            <span className="figure-value num">{formatFen(link.credit.availableFen, locale)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("dealers.terms")}</span>
            <span className="figure-value num">{t("dealers.termsDays", { days: link.paymentTermsDays })}</span>
          </div>
        </div>
        <p className="sc-muted">{t("dealers.creditFromLedger")}</p>
      </section>

      <section className="panel" aria-labelledby="orders-heading" data-testid="dealer-orders">
        <h2 id="orders-heading">{t("orders.position.title")}</h2>
        <div className="figures" data-testid="dealer-position">
          <div className="figure">
            <span className="figure-label">{t("orders.position.onAccount")}</span>
            <span className="figure-value num">{formatFen(position.outstandingFen, locale)}</span>
            <span className="sc-muted">{orderCount(position.outstandingCount)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("orders.position.notDue")}</span>
            <span className="figure-value num">{formatFen(position.outstandingFen - position.overdueFen, locale)}</span>
            <span className="sc-muted">{orderCount(position.outstandingCount - position.overdueCount)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("orders.position.overdue")}</span>
            <span className="figure-value num" style={position.overdueFen > 0 ? { color: "var(--bad)" } : undefined}>
              {formatFen(position.overdueFen, locale)}
            </span>
            <span className="sc-muted">{orderCount(position.overdueCount)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("orders.position.oldest")}</span>
            {oldestOverdue ? (
              <>
                <span className="figure-value num" style={{ color: "var(--bad)" }}>
                  {t("orders.position.days", { days: oldestOverdue.daysOverdue })}
                </span>
                <span className="sc-muted">{t("orders.position.dueSince", { date: formatDate(oldestOverdue.dueOn, locale) })}</span>
              </>
            ) : (
              <span className="figure-value num">—</span>
            )}
          </div>
        </div>
        <p className="sc-muted">{t("orders.position.asOf", { today })}</p>

        <h3>{t("orders.position.overdueTitle")}</h3>
        {position.overdueOrders.length === 0 ? (
          <p className="empty">{t("orders.position.noOverdue")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="overdue-orders">
              <thead>
                <tr>
                  <th scope="col">{t("orders.number")}</th>
                  <th scope="col">{t("orders.dueOn")}</th>
                  <th scope="col" className="num">
                    {t("orders.position.daysOverdue")}
                  </th>
                  <th scope="col" className="num">
                    {t("orders.position.owed")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {position.overdueOrders.map((o) => (
                  <tr key={o.id}>
                    <td>
                      <Link to={`/orders/${o.id}`} className="mono">
                        {o.number}
                      </Link>
                    </td>
                    <td className="nowrap">{formatDate(o.dueOn, locale)}</td>
                    <td className="num">{t("orders.position.days", { days: o.daysOverdue })}</td>
                    <td className="num">{formatFen(o.outstandingFen, locale)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {position.overdueCount > position.overdueOrders.length ? (
          <p className="sc-muted">{t("orders.position.overdueMore", { shown: position.overdueOrders.length, count: position.overdueCount })}</p>
        ) : null}

        <h3>{t("orders.position.recentTitle")}</h3>
        {recentOrders.length === 0 ? (
          <p className="empty">{t("orders.position.recentEmpty")}</p>
        ) : (
          <OrderTable items={recentOrders} testId="recent-orders" />
        )}
        {recentOrders.length > 0 ? (
          <p className="small">
            <Link to={allOrdersHref}>{t("orders.position.allOrders")} →</Link>
          </p>
        ) : null}
      </section>

      <div className="sc-cols">
        <section className="panel" aria-labelledby="terms-heading">
          <h2 id="terms-heading">{t("dealers.termsTitle")}</h2>
          <Form method="post" noValidate>
            <CsrfInput />
            <input type="hidden" name="intent" value="updateTerms" />
            {result?.intent === "updateTerms" ? <FormError message={result.formError} /> : null}
            <fieldset className="sc-fieldset" disabled={!canManage}>
              <div className="sc-grid">
                <SelectField
                  name="tierId"
                  label={t("pricing.tier")}
                  options={[{ value: "", label: t("dealers.noTier") }, ...tiers]}
                  defaultValue={termValues?.tierId ?? link.tierId ?? ""}
                  error={termErrors.tierId}
                />
                <TextField name="region" label={t("dealers.region")} required defaultValue={termValues?.region ?? link.region} error={termErrors.region} maxLength={100} />
                <TextField
                  name="paymentTermsDays"
                  label={t("dealers.termsField")}
                  required
                  inputMode="numeric"
                  defaultValue={termValues?.paymentTermsDays ?? String(link.paymentTermsDays)}
                  error={termErrors.paymentTermsDays}
                />
                <TextField
                  name="creditLimit"
                  label={t("dealers.creditLimitYuan")}
                  required
                  inputMode="decimal"
                  defaultValue={termValues?.creditLimit ?? creditLimitYuan}
                  error={termErrors.creditLimit}
                  hint={t("dealers.creditLimitHint")}
                />
              </div>
            </fieldset>
            {canManage ? (
              <button type="submit" className="sc-button" disabled={busy}>
                {t("catalog.form.save")}
              </button>
            ) : (
              <p className="notice">{t("catalog.readOnly")}</p>
            )}
          </Form>
        </section>

        <section className="panel" aria-labelledby="status-heading">
          <h2 id="status-heading">{t("dealers.statusTitle")}</h2>
          <p>
            {t("dealers.statusNow")} <StateTag state={link.status} scope="dealers" />
          </p>
          <p className="subtle small">{link.status === "active" ? t("dealers.suspendExplain") : t("dealers.reactivateExplain")}</p>
          {statusResult ? <FormError message={statusResult.formError ?? translateDynamic(locale, `catalog.problem.${Object.values(statusResult.fieldErrors)[0] ?? ""}`, "")} /> : null}
          {canManage
            ? link.events.map((event) => (
                <Form method="post" key={event}>
                  <CsrfInput />
                  <input type="hidden" name="intent" value={event} />
                  {event === "suspend" ? (
                    <TextField name="reason" label={t("dealers.reason")} maxLength={200} defaultValue={valuesFor(result, "suspend")?.reason} />
                  ) : null}
                  <button type="submit" className={`sc-button ${event === "suspend" ? "danger" : ""}`} disabled={busy}>
                    {t(event === "suspend" ? "dealers.suspend" : "dealers.reactivate")}
                  </button>
                </Form>
              ))
            : null}
        </section>
      </div>

      <section className="panel" aria-labelledby="overrides-heading" style={{ marginTop: "1.25rem" }}>
        <h2 id="overrides-heading">{t("dealers.overrides")}</h2>
        {overrides.length === 0 ? (
          <p className="empty">{t("dealers.overridesEmpty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">{t("catalog.field.code")}</th>
                  <th scope="col" className="num">
                    {t("pricing.overridePrice")}
                  </th>
                  <th scope="col" className="num">
                    {t("catalog.field.basePrice")}
                  </th>
                  <th scope="col">{t("pricing.validity")}</th>
                </tr>
              </thead>
              <tbody>
                {overrides.map((o) => (
                  <tr key={o.id}>
                    <td>
                      <span className="mono">{o.skuCode}</span>
                      <div className="sc-muted">{o.skuName}</div>
                    </td>
                    <td className="num sc-price">{formatFen(o.priceFen, locale)}</td>
                    <td className="num">{formatFen(o.basePriceFen, locale)}</td>
                    <td className="nowrap">
                      {formatDate(o.validFrom, locale)} – {o.validTo ? formatDate(o.validTo, locale) : t("pricing.openEnded")} <StateTag state={o.state} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p className="small">
          <Link to="/pricing">{t("dealers.manageOverrides")}</Link>
        </p>
      </section>

      <section className="panel" aria-labelledby="history-heading">
        <h2 id="history-heading">{t("dealers.history")}</h2>
        {history.length === 0 ? (
          <p className="empty">{t("dashboard.activityEmpty")}</p>
        ) : (
          <ul className="feed">
            {history.map((h) => (
              <li key={h.id}>
                <span>
                  {translateDynamic(locale, `audit.${h.action}`, h.action)}
                  <span className="subtle"> · {h.actor ?? t("audit.system")}</span>
                </span>
                <time dateTime={new Date(h.at).toISOString()}>{formatDateTime(h.at, locale)}</time>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
