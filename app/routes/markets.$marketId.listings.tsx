import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { ListingStateTag, ListingThumb, ListingTitle, useListingErrors } from "~/components/market-listings-ui";
import { MarketTabs } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { FormError, Pager, withParams } from "~/components/supply-ui";
import { formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { requireMarketOperator, requireOperatorMarket } from "~/web/market-access.server";
import { getListingForOperator, hideListing, listMarketListingsForOperator, moderationEvents, moderationReasonSchema, unhideListing, listMarketMerchants } from "~/domain/market";
import { badRequestOnValidation, domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf, safeRedirectPath } from "~/session.server";
import listingStyles from "~/styles/market-listings.css";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "listing.moderation.title");

const PAGE_SIZE = 30;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  // Scoped by the acting operator: another operator's market id is a 404.
  const { organizationId, canManage, market } = await requireOperatorMarket(request, context, params.marketId);
  const url = new URL(request.url);
  const filters = {
    q: (url.searchParams.get("q") ?? "").slice(0, 100),
    category: url.searchParams.get("category") ?? "",
    merchant: url.searchParams.get("merchant") ?? "",
    moderation: url.searchParams.get("moderation") ?? "",
    status: url.searchParams.get("status") ?? "",
  };
  const after = url.searchParams.get("after");
  const page = await badRequestOnValidation(() =>
    listMarketListingsForOperator(context.db, organizationId, market.id, {
      q: filters.q,
      category: filters.category || null,
      merchantId: filters.merchant || null,
      moderation: filters.moderation === "visible" || filters.moderation === "hidden" ? filters.moderation : null,
      status: filters.status === "active" || filters.status === "inactive" ? filters.status : null,
      after,
      limit: PAGE_SIZE,
    }),
  );
  const merchants = await listMarketMerchants(context.db, organizationId, market.id);
  return {
    canManage,
    market: { id: market.id, name: market.name, categories: market.categories },
    merchants: merchants.map((m) => ({ id: m.merchantId, name: m.merchantName, stallCode: m.stallCode })),
    filters,
    onFirstPage: !after,
    nextCursor: page.nextCursor,
    listings: page.items.map((l) => ({
      id: l.id,
      title: l.title,
      titleEn: l.titleEn,
      spec: l.spec,
      category: l.category,
      unit: l.unit,
      priceFen: l.priceFen,
      stockQty: l.stockQty,
      imageUrl: l.imageUrl,
      merchantName: l.merchantName,
      stallCode: l.stallCode,
      status: l.status,
      moderationStatus: l.moderationStatus,
      moderationReason: l.moderationReason,
      events: moderationEvents(l.moderationStatus),
    })),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireMarketOperator(request, context, { may: "listing.moderate" });
  const marketId = requireUuidParam(params.marketId);
  const intent = String(form.get("intent") ?? "").slice(0, 20);
  const values = formValues(form, ["listingId", "reason", "returnTo"]);
  const listingId = requireUuidParam(values.listingId);
  const db = context.db;
  // Back to the page and filters the operator was on.
  const back = safeRedirectPath(values.returnTo, `/markets/${marketId}/listings`);
  const here = back.startsWith(`/markets/${marketId}/listings`) ? back : `/markets/${marketId}/listings`;
  try {
    if (intent === "hide") {
      const parsed = moderationReasonSchema.safeParse({ reason: values.reason ?? "" });
      if (!parsed.success) {
        // Another operator's listing stays a 404 even with an empty reason.
        await scoped(() => getListingForOperator(db, organizationId, marketId, listingId));
        return data<FormFailure>({ intent: `hide:${listingId}`, fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
      }
      const listing = await hideListing(db, actor, organizationId, marketId, listingId, parsed.data);
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "listing.flash.hidden", params: { title: listing.title } }) } });
    }
    if (intent === "unhide") {
      const listing = await unhideListing(db, actor, organizationId, marketId, listingId);
      return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "listing.flash.unhidden", params: { title: listing.title } }) } });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, `${intent}:${listingId}`, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function MarketListings() {
  const { canManage, market, merchants, filters, onFirstPage, nextCursor, listings } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const returnTo = location.pathname + location.search;
  const failureErrors = useListingErrors(failure?.fieldErrors ?? {});
  return (
    <div className="sc-page">
      <p>
        <Link to={`/markets/${market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{market.name}</p>
          <h1>{t("listing.moderation.title")}</h1>
          <p className="subtle">{t("listing.moderation.hint")}</p>
        </div>
      </div>
      <MarketTabs marketId={market.id} />
      {!canManage ? <p className="subtle">{t("market.readOnly")}</p> : null}
      <section className="panel">
        <Form method="get" className="sc-toolbar" role="search">
          <div>
            <label htmlFor="q">{t("catalog.search.label")}</label>
            <input id="q" name="q" type="search" defaultValue={filters.q} maxLength={100} placeholder={t("listing.moderation.searchPlaceholder")} />
          </div>
          <div>
            <label htmlFor="category">{t("listing.field.category")}</label>
            <select id="category" name="category" defaultValue={filters.category}>
              <option value="">{t("listing.moderation.anyCategory")}</option>
              {market.categories.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="merchant">{t("shop.market.merchant")}</label>
            <select id="merchant" name="merchant" defaultValue={filters.merchant}>
              <option value="">{t("listing.moderation.anyMerchant")}</option>
              {merchants.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                  {m.stallCode ? ` (${m.stallCode})` : ""}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="moderation">{t("listing.field.moderation")}</label>
            <select id="moderation" name="moderation" defaultValue={filters.moderation}>
              <option value="">{t("listing.filter.anyModeration")}</option>
              <option value="visible">{t("listing.state.visible")}</option>
              <option value="hidden">{t("listing.state.hidden")}</option>
            </select>
          </div>
          <div>
            <label htmlFor="status">{t("listing.field.status")}</label>
            <select id="status" name="status" defaultValue={filters.status}>
              <option value="">{t("listing.filter.anyStatus")}</option>
              <option value="active">{t("listing.state.active")}</option>
              <option value="inactive">{t("listing.state.inactive")}</option>
            </select>
          </div>
          <button type="submit" className="sc-button secondary">
            {t("listing.filter.submit")}
          </button>
        </Form>
        {listings.length === 0 ? (
          <p className="empty">{t("listing.moderation.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="moderation-table">
              <thead>
                <tr>
                  <th scope="col">{t("listing.field.title")}</th>
                  <th scope="col">{t("listing.moderation.merchant")}</th>
                  <th scope="col">{t("listing.field.category")}</th>
                  <th scope="col" className="num">
                    {t("listing.field.price")}
                  </th>
                  <th scope="col" className="num">
                    {t("listing.field.stockQty")}
                  </th>
                  <th scope="col">{t("listing.field.status")}</th>
                  <th scope="col">{t("listing.field.moderation")}</th>
                  {canManage ? (
                    <th scope="col">
                      <span className="visually-hidden">{t("listing.moderation.hide")}</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {listings.map((l) => {
                  const rowFailure = failure && failure.intent.endsWith(`:${l.id}`) ? failure : null;
                  return (
                    <tr key={l.id} className={l.moderationStatus === "hidden" || l.status === "inactive" ? "listing-row-off" : undefined}>
                      <td>
                        <span className="listing-cell">
                          <ListingThumb imageUrl={l.imageUrl} category={l.category} />
                          <ListingTitle title={l.title} titleEn={l.titleEn} spec={l.spec} />
                        </span>
                      </td>
                      <td className="moderation-merchant">
                        {l.merchantName}
                        {l.stallCode ? <div className="sc-muted mono">{l.stallCode}</div> : null}
                      </td>
                      <td className="nowrap">{l.category}</td>
                      <td className="num">
                        {formatFen(l.priceFen, locale)}
                        <span className="sc-muted">{t("listing.perUnit", { unit: l.unit })}</span>
                      </td>
                      <td className="num">
                        {formatInteger(l.stockQty, locale)} {l.unit}
                      </td>
                      <td>
                        <ListingStateTag state={l.status} />
                      </td>
                      <td>
                        <ListingStateTag state={l.moderationStatus} />
                        {l.moderationStatus === "hidden" ? <div className="listing-reason">{t("listing.hiddenShort", { reason: l.moderationReason })}</div> : null}
                      </td>
                      {canManage ? (
                        <td className="moderation-actions">
                          {rowFailure ? <FormError message={rowFailure.formError ?? Object.values(failureErrors).join(", ")} /> : null}
                          {l.events.map((event) => (
                            <Form method="post" key={event} className="sc-inline-form">
                              <CsrfInput />
                              <input type="hidden" name="intent" value={event} />
                              <input type="hidden" name="listingId" value={l.id} />
                              <input type="hidden" name="returnTo" value={returnTo} />
                              {event === "hide" ? (
                                <>
                                  <label className="visually-hidden" htmlFor={`reason-${l.id}`}>
                                    {t("listing.moderation.reason")}
                                  </label>
                                  <input
                                    id={`reason-${l.id}`}
                                    name="reason"
                                    type="text"
                                    maxLength={200}
                                    required
                                    placeholder={t("listing.moderation.reason")}
                                    defaultValue={rowFailure?.values.reason}
                                    aria-invalid={rowFailure?.fieldErrors.reason ? true : undefined}
                                  />
                                </>
                              ) : null}
                              <button type="submit" className={event === "hide" ? "sc-button danger small" : "sc-button secondary small"}>
                                {t(event === "hide" ? "listing.moderation.hide" : "listing.moderation.unhide")}
                              </button>
                            </Form>
                          ))}
                        </td>
                      ) : null}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
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
