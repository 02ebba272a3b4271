import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { MarketStateTag, MarketTabs } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, Pager, SelectField, TextField, valuesFor, withParams } from "~/components/supply-ui";
import { formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { fenToYuanText } from "~/domain/catalog";
import { requireMarketOperator, requireOperatorMarket } from "~/web/market-access.server";
import { countStalls, createStall, createZone, dm2ToSquareMetresText, getMarket, getStall, listMarketMerchants, listMerchantApplications, listZones, MANUAL_STALL_EVENTS, MARKET_FORM_FIELDS, marketFormSchema, marketMerchantEvents, reasonSchema, STALL_FORM_FIELDS, stallEvents, stallFormSchema, transitionMarketMerchant, transitionStall, updateMarket, updateStall, zoneFormSchema } from "~/domain/market";
import { listStallsPage } from "~/api/market-venues-views.server";
import { badRequestOnValidation, domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import type { ActionName } from "~/domain/identity";
import { flashCookie, requireCsrf } from "~/session.server";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "market.settings");

/** Stalls per page: a market has hundreds; one screen of rows, then the pager. */
const STALLS_PER_PAGE = 25;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  // Scoped by the acting operator: another operator's market id is a 404.
  const { organizationId, canManage, market } = await requireOperatorMarket(request, context, params.marketId);
  const url = new URL(request.url);
  const editStallId = url.searchParams.get("editStall");
  const after = url.searchParams.get("after");
  const [zones, stallPage, stallCounts, merchants, pending] = [
    await listZones(context.db, organizationId, market.id),
    // A forged cursor is the caller's mistake: 400, not 500.
    await badRequestOnValidation(() => listStallsPage(context.db, organizationId, market.id, { after, limit: STALLS_PER_PAGE })),
    await countStalls(context.db, organizationId, market.id),
    await listMarketMerchants(context.db, organizationId, market.id),
    await listMerchantApplications(context.db, organizationId, market.id, { status: "submitted" }),
  ];
  const stalls = stallPage.items;
  // The stall being edited may be on another page than the one shown.
  const edited = canManage && editStallId ? (stalls.find((x) => x.id === editStallId) ?? (await scoped(() => getStall(context.db, organizationId, market.id, requireUuidParam(editStallId))))) : undefined;
  return {
    stallCounts,
    onFirstPage: !after,
    nextCursor: stallPage.nextCursor,
    canManage,
    market: {
      id: market.id,
      name: market.name,
      city: market.city,
      categories: market.categories,
      autoConfirmDays: market.autoConfirmDays,
      unpaidExpiryMinutes: market.unpaidExpiryMinutes,
      status: market.status,
    },
    zones,
    stalls: stalls.map((s) => ({
      id: s.id,
      code: s.code,
      zoneName: s.zoneName,
      areaM2: dm2ToSquareMetresText(s.areaDm2),
      monthlyRentFen: s.monthlyRentFen,
      status: s.status,
      merchantName: s.merchantName,
      events: stallEvents(s.status).filter((e) => MANUAL_STALL_EVENTS.includes(e)),
    })),
    merchants: merchants.map((m) => ({
      id: m.id,
      name: m.merchantName,
      uscc: m.merchantUscc,
      stallCode: m.stallCode,
      categories: m.categories,
      status: m.status,
      statusReason: m.statusReason,
      events: marketMerchantEvents(m.status),
    })),
    pendingCount: pending.length,
    editStall: edited
      ? { stallId: edited.id, code: edited.code, zoneId: edited.zoneId ?? "", area: dm2ToSquareMetresText(edited.areaDm2), monthlyRent: fenToYuanText(edited.monthlyRentFen) }
      : null,
  };
}

/** Each form of the page → its action in the permission table (app/domain/identity/permissions.ts). */
const MARKET_INTENT_ACTION: Readonly<Record<string, ActionName>> = {
  updateMarket: "market.write",
  addZone: "market.zone_write",
  addStall: "market.stall_write",
  updateStall: "market.stall_write",
  close: "market.stall_write",
  reopen: "market.stall_write",
  suspend: "market.merchant_transition",
  reactivate: "market.merchant_transition",
};

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const intent = String(form.get("intent") ?? "").slice(0, 50);
  const { organizationId, actor } = await requireMarketOperator(request, context, { may: MARKET_INTENT_ACTION[intent] ?? "market.write" });
  const marketId = requireUuidParam(params.marketId);
  // Built here, not at module level: market.server is empty in the browser bundle.
  const values = formValues(form, [...MARKET_FORM_FIELDS, ...STALL_FORM_FIELDS, "zoneName", "stallId", "marketMerchantId", "reason"]);
  const here = `/markets/${marketId}`;
  const db = context.db;
  const invalid = async (fieldErrors: Record<string, string>) => {
    // A bad form on another operator's market is still a 404, never a hint that it exists.
    await scoped(() => getMarket(db, organizationId, marketId));
    return data<FormFailure>({ intent, fieldErrors, formError: null, values }, { status: 422 });
  };
  const flash = async (key: Parameters<typeof flashCookie>[1]["key"], flashParams?: Record<string, string>) =>
    redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key, params: flashParams }) } });
  try {
    if (intent === "updateMarket") {
      const parsed = marketFormSchema.safeParse(values);
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      await updateMarket(db, actor, organizationId, marketId, parsed.data);
      return await flash("market.flash.saved");
    }
    if (intent === "addZone") {
      const parsed = zoneFormSchema.safeParse({ name: values.zoneName });
      if (!parsed.success) return await invalid({ zoneName: zodFieldErrors(parsed.error).name ?? "required" });
      const zone = await createZone(db, actor, organizationId, marketId, parsed.data);
      return await flash("market.flash.zoneAdded", { name: zone.name });
    }
    if (intent === "addStall") {
      const parsed = stallFormSchema.safeParse(values);
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      const stall = await createStall(db, actor, organizationId, marketId, parsed.data);
      return await flash("market.flash.stallAdded", { code: stall.code });
    }
    if (intent === "updateStall") {
      const stallId = requireUuidParam(values.stallId);
      const parsed = stallFormSchema.omit({ code: true }).safeParse(values);
      if (!parsed.success) {
        await scoped(() => getStall(db, organizationId, marketId, stallId));
        return await invalid(zodFieldErrors(parsed.error));
      }
      const stall = await scoped(() => updateStall(db, actor, organizationId, marketId, stallId, parsed.data));
      return await flash("market.flash.stallChanged", { code: stall.code });
    }
    if (intent === "close" || intent === "reopen") {
      const stall = await scoped(() => transitionStall(db, actor, organizationId, marketId, requireUuidParam(values.stallId), intent));
      return await flash("market.flash.stallChanged", { code: stall.code });
    }
    if (intent === "suspend" || intent === "reactivate") {
      const marketMerchantId = requireUuidParam(values.marketMerchantId);
      const parsed = reasonSchema.safeParse({ reason: values.reason ?? "" });
      if (!parsed.success) return await invalid(zodFieldErrors(parsed.error));
      await scoped(() => transitionMarketMerchant(db, actor, organizationId, marketId, marketMerchantId, intent, parsed.data.reason));
      return await flash("market.flash.merchantChanged");
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function MarketPage() {
  const { canManage, market, zones, stalls, stallCounts, onFirstPage, nextCursor, merchants, pendingCount, editStall } = useLoaderData<typeof loader>();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const settingsErrors = errorsFor(failure, "updateMarket");
  const settings = valuesFor(failure, "updateMarket") ?? {
    name: market.name,
    city: market.city,
    categories: market.categories.join("、"),
    autoConfirmDays: String(market.autoConfirmDays),
    unpaidExpiryMinutes: String(market.unpaidExpiryMinutes),
  };
  const zoneErrors = errorsFor(failure, "addZone");
  const stallErrors = errorsFor(failure, "addStall");
  const stallValues = valuesFor(failure, "addStall") ?? {};
  const editErrors = errorsFor(failure, "updateStall");
  const editValues: Record<string, string> | null = valuesFor(failure, "updateStall") ?? editStall;
  const editingCode = editValues?.stallId ? (stalls.find((s) => s.id === editValues.stallId)?.code ?? (editStall?.stallId === editValues.stallId ? editStall.code : undefined)) : undefined;
  const editing = editValues?.stallId && editingCode ? { id: editValues.stallId, code: editingCode } : undefined;
  const rowFailure = failure && (failure.intent === "suspend" || failure.intent === "reactivate") ? failure : null;
  return (
    <div className="sc-page">
      <p>
        <Link to="/markets">← {t("market.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("market.eyebrow")}</p>
          <h1>
            {market.name} <MarketStateTag state={market.status} />
          </h1>
          <p className="subtle">
            {t("market.counts", { stalls: stallCounts.total, occupied: stallCounts.occupied, merchants: merchants.length, pending: pendingCount })}
          </p>
        </div>
      </div>
      <MarketTabs marketId={market.id} />
      {!canManage ? <p className="subtle">{t("market.readOnly")}</p> : null}

      <section className="panel">
        <h2>{t("market.merchants")}</h2>
        {rowFailure ? <FormError message={rowFailure.formError ?? Object.values(rowFailure.fieldErrors).join(", ")} /> : null}
        {merchants.length === 0 ? (
          <p className="empty">{t("market.merchant.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="merchant-table">
              <thead>
                <tr>
                  <th scope="col">{t("market.merchant.name")}</th>
                  <th scope="col">{t("market.merchant.stall")}</th>
                  <th scope="col">{t("market.merchant.categories")}</th>
                  <th scope="col">{t("market.field.status")}</th>
                  <th scope="col">{t("market.merchant.reason")}</th>
                  {canManage ? <th scope="col" /> : null}
                </tr>
              </thead>
              <tbody>
                {merchants.map((m) => (
                  <tr key={m.id}>
                    <td>
                      {m.name}
                      {m.uscc ? <div className="sc-muted mono">{m.uscc}</div> : null}
                    </td>
                    <td className="mono">{m.stallCode ?? "—"}</td>
                    <td>{m.categories.join("、")}</td>
                    <td>
                      <MarketStateTag state={m.status} />
                    </td>
                    <td>{m.statusReason}</td>
                    {canManage ? (
                      <td className="row-actions">
                        {m.events.map((event) => (
                          <Form method="post" key={event} className="sc-inline-form">
                            <CsrfInput />
                            <input type="hidden" name="intent" value={event} />
                            <input type="hidden" name="marketMerchantId" value={m.id} />
                            <label className="visually-hidden" htmlFor={`reason-${m.id}`}>
                              {t("market.merchant.reason")}
                            </label>
                            <input id={`reason-${m.id}`} name="reason" maxLength={200} required placeholder={t("market.merchant.reason")} />
                            <button type="submit" className="sc-button secondary">
                              {t(event === "suspend" ? "market.merchant.suspend" : "market.merchant.reactivate")}
                            </button>
                          </Form>
                        ))}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="panel">
        <h2>{t("market.stalls")}</h2>
        {stalls.length === 0 ? (
          <p className="empty">{t("market.stall.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="stall-table">
              <thead>
                <tr>
                  <th scope="col">{t("market.stall.code")}</th>
                  <th scope="col">{t("market.stall.zone")}</th>
                  <th scope="col" className="num">
                    {t("market.stall.area")}
                  </th>
                  <th scope="col" className="num">
                    {t("market.stall.rent")}
                  </th>
                  <th scope="col">{t("market.field.status")}</th>
                  <th scope="col">{t("market.stall.merchant")}</th>
                  {canManage ? <th scope="col" /> : null}
                </tr>
              </thead>
              <tbody>
                {stalls.map((s) => (
                  <tr key={s.id}>
                    <td className="mono">{s.code}</td>
                    <td>{s.zoneName ?? "—"}</td>
                    <td className="num">{s.areaM2}</td>
                    <td className="num">{formatFen(s.monthlyRentFen, locale)}</td>
                    <td>
                      <MarketStateTag state={s.status} />
                    </td>
                    <td>{s.merchantName ?? ""}</td>
                    {canManage ? (
                      <td className="row-actions">
                        <Link to={withParams(location.pathname, params, { editStall: s.id })} className="sc-button secondary small" preventScrollReset>
                          {t("market.stall.edit")}
                        </Link>
                        {s.events.map((event) => (
                          <Form method="post" key={event} className="sc-inline-form">
                            <CsrfInput />
                            <input type="hidden" name="intent" value={event} />
                            <input type="hidden" name="stallId" value={s.id} />
                            <button type="submit" className="sc-button secondary small">
                              {t(event === "close" ? "market.stall.close" : "market.stall.reopen")}
                            </button>
                          </Form>
                        ))}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          onFirstPage={onFirstPage}
          firstHref={withParams(location.pathname, params, { after: null, editStall: null })}
          nextHref={nextCursor ? withParams(location.pathname, params, { after: nextCursor, editStall: null }) : null}
        />
        {canManage && editing && editValues ? (
          <Form method="post" noValidate className="sc-form" id="edit-stall">
            <h3>{t("market.stall.editTitle", { code: editing.code })}</h3>
            <CsrfInput />
            <input type="hidden" name="intent" value="updateStall" />
            <input type="hidden" name="stallId" value={editing.id} />
            <FormError message={failure?.intent === "updateStall" ? failure.formError : null} />
            <SelectField
              name="zoneId"
              idPrefix="edit-"
              label={t("market.stall.zone")}
              defaultValue={editValues.zoneId ?? ""}
              options={[{ value: "", label: t("market.zone.none") }, ...zones.map((z) => ({ value: z.id, label: z.name }))]}
              error={editErrors.zoneId}
            />
            <TextField name="area" idPrefix="edit-" label={t("market.stall.area")} required inputMode="decimal" defaultValue={editValues.area} error={editErrors.area} />
            <TextField
              name="monthlyRent"
              idPrefix="edit-"
              label={t("market.stall.rent")}
              required
              inputMode="decimal"
              defaultValue={editValues.monthlyRent}
              error={editErrors.monthlyRent}
            />
            <button type="submit" className="sc-button">
              {t("market.stall.save")}
            </button>{" "}
            <Link to=".">{t("market.stall.cancel")}</Link>
          </Form>
        ) : null}
        {canManage ? (
          <Form method="post" noValidate className="sc-form">
            <h3>{t("market.stall.add")}</h3>
            <CsrfInput />
            <input type="hidden" name="intent" value="addStall" />
            <FormError message={failure?.intent === "addStall" ? failure.formError : null} />
            <TextField name="code" label={t("market.stall.code")} required maxLength={20} defaultValue={stallValues.code} error={stallErrors.code} />
            <SelectField
              name="zoneId"
              label={t("market.stall.zone")}
              defaultValue={stallValues.zoneId ?? ""}
              options={[{ value: "", label: t("market.zone.none") }, ...zones.map((z) => ({ value: z.id, label: z.name }))]}
              error={stallErrors.zoneId}
            />
            <TextField name="area" label={t("market.stall.area")} required inputMode="decimal" defaultValue={stallValues.area} error={stallErrors.area} />
            <TextField name="monthlyRent" label={t("market.stall.rent")} required inputMode="decimal" defaultValue={stallValues.monthlyRent} error={stallErrors.monthlyRent} />
            <button type="submit" className="sc-button">
              {t("market.stall.add")}
            </button>
          </Form>
        ) : null}
      </section>

      <section className="panel">
        <h2>{t("market.zones")}</h2>
        <p>{zones.length ? zones.map((z) => z.name).join(" · ") : "—"}</p>
        {canManage ? (
          <Form method="post" noValidate className="sc-form">
            <CsrfInput />
            <input type="hidden" name="intent" value="addZone" />
            <FormError message={failure?.intent === "addZone" ? failure.formError : null} />
            <TextField name="zoneName" label={t("market.zone.name")} required maxLength={50} defaultValue={valuesFor(failure, "addZone")?.zoneName} error={zoneErrors.zoneName ?? zoneErrors.name} />
            <button type="submit" className="sc-button secondary">
              {t("market.zone.add")}
            </button>
          </Form>
        ) : null}
      </section>

      <section className="panel">
        <h2>{t("market.settings")}</h2>
        <Form method="post" noValidate className="sc-form">
          <CsrfInput />
          <input type="hidden" name="intent" value="updateMarket" />
          <FormError message={failure?.intent === "updateMarket" ? failure.formError : null} />
          <TextField name="name" label={t("market.field.name")} required maxLength={100} defaultValue={settings.name} error={settingsErrors.name} disabled={!canManage} />
          <TextField name="city" label={t("market.field.city")} required maxLength={50} defaultValue={settings.city} error={settingsErrors.city} disabled={!canManage} />
          <TextField
            name="categories"
            label={t("market.field.categories")}
            required
            maxLength={500}
            hint={t("market.field.categoriesHint")}
            defaultValue={settings.categories}
            error={settingsErrors.categories}
            disabled={!canManage}
          />
          <TextField
            name="autoConfirmDays"
            label={t("market.field.autoConfirmDays")}
            required
            inputMode="numeric"
            defaultValue={settings.autoConfirmDays}
            error={settingsErrors.autoConfirmDays}
            disabled={!canManage}
          />
          <TextField
            name="unpaidExpiryMinutes"
            label={t("market.field.unpaidExpiryMinutes")}
            required
            inputMode="numeric"
            defaultValue={settings.unpaidExpiryMinutes}
            error={settingsErrors.unpaidExpiryMinutes}
            disabled={!canManage}
          />
          {canManage ? (
            <button type="submit" className="sc-button">
              {t("market.save")}
            </button>
          ) : null}
        </Form>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
