import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, Pager, StateTag, TextField, valuesFor, withParams } from "~/components/supply-ui";
import { formatFen, formatPercentBps, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parseWholeNumber } from "~/domain/catalog";
import { deletePriceList, getPriceList, listPriceListItems, priceListItemFormSchema, removePriceListItem, setPriceListItem, updatePriceList } from "~/domain/pricing";
import { badRequestOnValidation, domainFailure, formValues, requireCoreEnterprise, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { notFound, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";
import { shanghaiDate } from "~/domain/shared";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "pricing.listTitle");

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const listId = requireUuidParam(params.listId);
  const list = await scoped(() => getPriceList(context.db, organizationId, listId, shanghaiDate(new Date())));
  const url = new URL(request.url);
  const search = url.searchParams.get("q")?.slice(0, 100) ?? "";
  const after = url.searchParams.get("after");
  const items = await badRequestOnValidation(() => listPriceListItems(context.db, organizationId, list.id, { search, after }));
  return { canManage, list, search, onFirstPage: !after, items: items.items, nextCursor: items.nextCursor };
}

const listFormSchema = z
  .object({
    name: z.string({ required_error: "required" }).trim().min(1, "required").max(100, "too_long"),
    validFrom: z.string({ required_error: "required" }).trim().min(1, "required"),
    validTo: z.string().trim().optional().transform((v) => (v ? v : null)),
  });

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: "pricing.write" });
  const listId = requireUuidParam(params.listId);
  const intent = String(form.get("intent") ?? "");
  const values = formValues(form, ["name", "validFrom", "validTo", "skuCode", "minQty", "price", "skuId"]);
  const here = `/pricing/lists/${listId}`;
  try {
    switch (intent) {
      case "updateList": {
        const parsed = listFormSchema.safeParse(values);
        if (!parsed.success) {
          await scoped(() => getPriceList(context.db, organizationId, listId, shanghaiDate(new Date())));
          return data<FormFailure>({ intent, fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
        }
        await updatePriceList(context.db, actor, organizationId, listId, parsed.data, shanghaiDate(new Date()));
        return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "pricing.flash.listSaved" }) } });
      }
      case "deleteList": {
        await deletePriceList(context.db, actor, organizationId, listId);
        return redirect("/pricing", { headers: { "Set-Cookie": await flashCookie(context, { key: "pricing.flash.listDeleted" }) } });
      }
      case "setItem": {
        const parsed = priceListItemFormSchema.safeParse(values);
        if (!parsed.success) {
          await scoped(() => getPriceList(context.db, organizationId, listId, shanghaiDate(new Date())));
          return data<FormFailure>({ intent, fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
        }
        await setPriceListItem(context.db, actor, organizationId, listId, { skuCode: parsed.data.skuCode, minQty: parsed.data.minQty, priceFen: parsed.data.price });
        return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "pricing.flash.itemSaved" }) } });
      }
      case "removeItem": {
        const minQty = parseWholeNumber(values.minQty ?? "");
        await removePriceListItem(context.db, actor, organizationId, listId, { skuId: values.skuId ?? "", minQty: minQty ?? -1 });
        return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "pricing.flash.itemRemoved" }) } });
      }
      default:
        throw new Response("Unknown form", { status: 400 });
    }
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
  notFound();
}

export default function PriceListPage() {
  const { canManage, list, search, onFirstPage, items, nextCursor } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const t = useT();
  const locale = useLocale();
  const listErrors = errorsFor(result, "updateList");
  const listValues = valuesFor(result, "updateList");
  const itemErrors = errorsFor(result, "setItem");
  const itemValues = valuesFor(result, "setItem");
  const here = `/pricing/lists/${list.id}`;

  return (
    <div className="sc-page">
      <p>
        <Link to="/pricing">← {t("pricing.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {t("pricing.tier")}: {list.tierName}
          </p>
          <h1>{list.name}</h1>
          <p className="subtle">
            {formatDate(list.validFrom, locale)} – {list.validTo ? formatDate(list.validTo, locale) : t("pricing.openEnded")} <StateTag state={list.state} />
          </p>
        </div>
        {canManage ? (
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="deleteList" />
            <button type="submit" className="sc-button danger" disabled={busy}>
              {t("pricing.deleteList")}
            </button>
          </Form>
        ) : null}
      </div>

      {canManage ? (
        <div className="sc-cols">
          <section className="panel" aria-labelledby="list-heading">
            <h2 id="list-heading">{t("pricing.editList")}</h2>
            <Form method="post" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="updateList" />
              {result?.intent === "updateList" ? <FormError message={result.formError} /> : null}
              <div className="sc-grid">
                <TextField name="name" idPrefix="list-" label={t("pricing.listName")} required defaultValue={listValues?.name ?? list.name} error={listErrors.name} maxLength={100} />
                <TextField name="validFrom" idPrefix="list-" label={t("pricing.validFrom")} type="date" required defaultValue={listValues?.validFrom ?? list.validFrom} error={listErrors.validFrom} />
                <TextField
                  name="validTo"
                  idPrefix="list-"
                  label={t("pricing.validTo")}
                  type="date"
                  defaultValue={listValues?.validTo ?? list.validTo ?? ""}
                  error={listErrors.validTo}
                  hint={t("pricing.validToHint")}
                />
              </div>
              <button type="submit" className="sc-button secondary" disabled={busy}>
                {t("catalog.form.save")}
              </button>
            </Form>
          </section>
          <section className="panel" aria-labelledby="item-heading">
            <h2 id="item-heading">{t("pricing.setItem")}</h2>
            <p className="subtle small">{t("pricing.setItemIntro")}</p>
            <Form method="post" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="setItem" />
              {result?.intent === "setItem" ? <FormError message={result.formError} /> : null}
              <div className="sc-grid">
                <TextField name="skuCode" idPrefix="item-" label={t("catalog.field.code")} required defaultValue={itemValues?.skuCode} error={itemErrors.skuCode} maxLength={64} />
                <TextField name="minQty" idPrefix="item-" label={t("pricing.minQty")} inputMode="numeric" defaultValue={itemValues?.minQty ?? "1"} error={itemErrors.minQty} />
                <TextField name="price" idPrefix="item-" label={t("pricing.priceYuan")} required inputMode="decimal" defaultValue={itemValues?.price} error={itemErrors.price} />
              </div>
              <button type="submit" className="sc-button secondary" disabled={busy}>
                {t("catalog.form.save")}
              </button>
            </Form>
          </section>
        </div>
      ) : null}

      <section className="panel" aria-labelledby="items-heading" style={{ marginTop: "1.25rem" }}>
        <h2 id="items-heading">{t("pricing.items")}</h2>
        <Form method="get" className="sc-toolbar" role="search">
          <div>
            <label htmlFor="q">{t("catalog.search.label")}</label>
            <input id="q" name="q" type="search" defaultValue={search} maxLength={100} placeholder={t("catalog.search.placeholder")} />
          </div>
          <button type="submit" className="sc-button secondary">
            {t("catalog.search.submit")}
          </button>
        </Form>
        {items.length === 0 ? (
          <p className="empty">{t("pricing.itemsEmpty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="list-items">
              <thead>
                <tr>
                  <th scope="col">{t("catalog.field.code")}</th>
                  <th scope="col">{t("catalog.field.name")}</th>
                  <th scope="col" className="num">
                    {t("pricing.minQty")}
                  </th>
                  <th scope="col" className="num">
                    {t("pricing.listPrice")}
                  </th>
                  <th scope="col" className="num">
                    {t("catalog.field.basePrice")}
                  </th>
                  <th scope="col" className="num">
                    {t("pricing.discount")}
                  </th>
                  {canManage ? <th scope="col" /> : null}
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <tr key={`${item.skuId}-${item.minQty}`}>
                    <td className="mono">{item.skuCode}</td>
                    <td>
                      {item.skuName}
                      <div className="sc-muted">{item.spec}</div>
                    </td>
                    <td className="num">{item.minQty === 1 ? t("pricing.tierPriceRow") : `≥ ${item.minQty} ${item.unit}`}</td>
                    <td className="num sc-price">{formatFen(item.priceFen, locale)}</td>
                    <td className="num">{formatFen(item.basePriceFen, locale)}</td>
                    {/* Whole-percent display of price / base: presentation only, never stored. */}
                    <td className="num">{formatPercentBps(Math.round((item.priceFen * 100) / item.basePriceFen) * 100)}</td>
                    {canManage ? (
                      <td className="actions">
                        <Form method="post" className="sc-row-form">
                          <CsrfInput />
                          <input type="hidden" name="intent" value="removeItem" />
                          <input type="hidden" name="skuId" value={item.skuId} />
                          <input type="hidden" name="minQty" value={item.minQty} />
                          <button type="submit" className="sc-button danger small" disabled={busy}>
                            {t("pricing.delete")}
                          </button>
                        </Form>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager onFirstPage={onFirstPage} firstHref={withParams(here, params, { after: null })} nextHref={nextCursor ? withParams(here, params, { after: nextCursor }) : null} />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
