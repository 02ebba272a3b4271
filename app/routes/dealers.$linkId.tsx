import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, SelectField, StateTag, TextField, valuesFor } from "~/components/supply-ui";
import { formatDateTime, formatFen, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { fenToYuanText } from "~/models/catalog.server";
import {
  dealerLinkEvents,
  dealerTermsFormSchema,
  getDealerLink,
  listDealerLinkHistory,
  transitionDealerLink,
  updateDealerLink,
  type DealerLinkEvent,
} from "~/models/dealers.server";
import { listOverrides, listTiers, shanghaiDate } from "~/models/pricing.server";
import { domainFailure, formValues, requireCoreEnterprise, zodFieldErrors, type FormFailure } from "~/models/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/models/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dealers.detailTitle");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const linkId = requireUuidParam(params.linkId);
  // Scoped by the acting core enterprise: another network's link id is a 404.
  const link = await scoped(() => getDealerLink(context.db, organizationId, linkId));
  const today = shanghaiDate(new Date());
  const [tiers, overrides, history] = [
    await listTiers(context.db, organizationId),
    await listOverrides(context.db, organizationId, { linkId: link.id, today }),
    await listDealerLinkHistory(context.db, organizationId, link.id),
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
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { manage: true });
  const linkId = requireUuidParam(params.linkId);
  const intent = String(form.get("intent") ?? "");
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
  const { canManage, link, creditLimitYuan, tiers, overrides, history } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const termErrors = errorsFor(result, "updateTerms");
  const termValues = valuesFor(result, "updateTerms");
  const statusResult = result && (result.intent === "suspend" || result.intent === "reactivate") ? result : null;
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

      {/* Orders and overdue amounts of this dealer: the orders module renders its section here. */}

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
                      {o.validFrom} – {o.validTo ?? t("pricing.openEnded")} <StateTag state={o.state} />
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
