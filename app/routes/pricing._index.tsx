import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { errorsFor, FormError, SelectField, StateTag, TextField, useProblemText, valuesFor } from "~/components/supply-ui";
import { formatFen, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listDealerOptions } from "~/domain/dealers";
import { createOverride, createPriceList, createTier, deleteOverride, listOverrides, listPriceLists, listTiers, overrideFormSchema, priceListFormSchema, tierFormSchema, updateTier } from "~/domain/pricing";
import { domainFailure, formValues, requireCoreEnterprise, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { notFound } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";
import { shanghaiDate } from "~/domain/shared";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "pricing.title");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const today = shanghaiDate(new Date());
  const [tiers, lists, overrides, dealers] = [
    await listTiers(context.db, organizationId),
    await listPriceLists(context.db, organizationId, { today }),
    await listOverrides(context.db, organizationId, { today }),
    await listDealerOptions(context.db, organizationId),
  ];
  return { canManage, today, tiers, lists, overrides, dealers };
}

const INTENTS = ["createTier", "updateTier", "createList", "createOverride", "deleteOverride"] as const;
type Intent = (typeof INTENTS)[number];

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: "pricing.write" });
  const intent = form.get("intent");
  if (typeof intent !== "string" || !(INTENTS as readonly string[]).includes(intent)) {
    throw new Response("Unknown form", { status: 400 });
  }
  const values = formValues(form, ["tierId", "name", "rank", "validFrom", "validTo", "linkId", "skuCode", "price", "note", "overrideId"]);
  const fail = (fieldErrors: Record<string, string>) => data<FormFailure>({ intent, fieldErrors, formError: null, values }, { status: 422 });
  const done = async (key: "pricing.flash.tierSaved" | "pricing.flash.overrideSaved" | "pricing.flash.overrideDeleted", to = "/pricing") =>
    redirect(to, { headers: { "Set-Cookie": await flashCookie(context, { key }) } });

  try {
    switch (intent as Intent) {
      case "createTier":
      case "updateTier": {
        const parsed = tierFormSchema.safeParse(values);
        if (!parsed.success) return fail(zodFieldErrors(parsed.error));
        if (intent === "createTier") await createTier(context.db, actor, organizationId, parsed.data);
        else await updateTier(context.db, actor, organizationId, values.tierId ?? "", parsed.data);
        return await done("pricing.flash.tierSaved");
      }
      case "createList": {
        const parsed = priceListFormSchema.safeParse(values);
        if (!parsed.success) return fail(zodFieldErrors(parsed.error));
        const list = await createPriceList(context.db, actor, organizationId, { ...parsed.data, validTo: parsed.data.validTo ?? null }, shanghaiDate(new Date()));
        return redirect(`/pricing/lists/${list.id}`, {
          headers: { "Set-Cookie": await flashCookie(context, { key: "pricing.flash.listCreated", params: { name: list.name } }) },
        });
      }
      case "createOverride": {
        const parsed = overrideFormSchema.safeParse(values);
        if (!parsed.success) return fail(zodFieldErrors(parsed.error));
        await createOverride(context.db, actor, organizationId, {
          linkId: parsed.data.linkId,
          skuCode: parsed.data.skuCode,
          priceFen: parsed.data.price,
          validFrom: parsed.data.validFrom,
          validTo: parsed.data.validTo ?? null,
          note: parsed.data.note,
        }, shanghaiDate(new Date()));
        return await done("pricing.flash.overrideSaved");
      }
      case "deleteOverride": {
        await deleteOverride(context.db, actor, organizationId, values.overrideId ?? "");
        return await done("pricing.flash.overrideDeleted");
      }
    }
  } catch (error) {
    const { failure, status } = domainFailure(error, intent, values);
    return data<FormFailure>(failure, { status });
  }
  notFound();
}

export default function Pricing() {
  const { canManage, today, tiers, lists, overrides, dealers } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const problem = useProblemText();
  const tierOptions = tiers.map((tier) => ({ value: tier.id, label: tier.name }));
  const listErrors = errorsFor(result, "createList");
  const listValues = valuesFor(result, "createList");
  const overrideErrors = errorsFor(result, "createOverride");
  const overrideValues = valuesFor(result, "createOverride");
  const tierErrors = errorsFor(result, "createTier");
  const tierValues = valuesFor(result, "createTier");
  const updateTierErrors = errorsFor(result, "updateTier");
  const updatedTierId = valuesFor(result, "updateTier")?.tierId;

  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("catalog.eyebrow")}</p>
          <h1>{t("pricing.title")}</h1>
          <p className="subtle">{t("pricing.intro")}</p>
        </div>
        <div className="sc-actions">
          <Link to="/pricing/preview" className="sc-button">
            {t("pricing.preview")}
          </Link>
        </div>
      </div>

      <div className="sc-cols">
        <section className="panel" aria-labelledby="tiers-heading">
          <h2 id="tiers-heading">{t("pricing.tiers")}</h2>
          {tiers.length === 0 ? (
            <p className="empty">{t("pricing.tiersEmpty")}</p>
          ) : (
            <div className="table-wrap">
              <table className="data" data-testid="tiers">
                <thead>
                  <tr>
                    <th scope="col">{t("pricing.tierName")}</th>
                    <th scope="col" className="num">
                      {t("pricing.tierRank")}
                    </th>
                    <th scope="col" className="num">
                      {t("pricing.tierDealers")}
                    </th>
                    <th scope="col" className="num">
                      {t("pricing.tierLists")}
                    </th>
                    {canManage ? <th scope="col" /> : null}
                  </tr>
                </thead>
                <tbody>
                  {tiers.map((tier) => {
                    const errors = updatedTierId === tier.id ? updateTierErrors : {};
                    return (
                      <tr key={tier.id}>
                        <td>
                          {canManage ? (
                            <>
                              <input
                                type="text"
                                name="name"
                                form={`tier-${tier.id}`}
                                defaultValue={tier.name}
                                maxLength={50}
                                aria-label={t("pricing.tierName")}
                                aria-invalid={errors.name ? true : undefined}
                              />
                              {errors.name ? <p className="sc-error">{problem(errors.name)}</p> : null}
                            </>
                          ) : (
                            tier.name
                          )}
                        </td>
                        <td className="num">
                          {canManage ? (
                            <input type="number" name="rank" form={`tier-${tier.id}`} defaultValue={tier.rank} min={0} max={1000} aria-label={t("pricing.tierRank")} />
                          ) : (
                            tier.rank
                          )}
                        </td>
                        <td className="num">{tier.dealerCount}</td>
                        <td className="num">{tier.priceListCount}</td>
                        {canManage ? (
                          <td className="actions">
                            <Form method="post" id={`tier-${tier.id}`} className="sc-row-form">
                              <CsrfInput />
                              <input type="hidden" name="intent" value="updateTier" />
                              <input type="hidden" name="tierId" value={tier.id} />
                              <button type="submit" className="sc-button secondary small" disabled={busy}>
                                {t("catalog.form.save")}
                              </button>
                            </Form>
                          </td>
                        ) : null}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {canManage ? (
            <Form method="post" className="sc-toolbar" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="createTier" />
              <TextField name="name" idPrefix="tier-" label={t("pricing.newTier")} defaultValue={tierValues?.name} error={tierErrors.name} maxLength={50} />
              <TextField name="rank" idPrefix="tier-" label={t("pricing.tierRank")} type="number" defaultValue={tierValues?.rank ?? String(tiers.length + 1)} error={tierErrors.rank} />
              <button type="submit" className="sc-button secondary" disabled={busy}>
                {t("pricing.addTier")}
              </button>
            </Form>
          ) : null}
        </section>

        <section className="panel" aria-labelledby="lists-heading">
          <h2 id="lists-heading">{t("pricing.lists")}</h2>
          {lists.length === 0 ? (
            <p className="empty">{t("pricing.listsEmpty")}</p>
          ) : (
            <div className="table-wrap">
              <table className="data" data-testid="price-lists">
                <thead>
                  <tr>
                    <th scope="col">{t("pricing.listName")}</th>
                    <th scope="col">{t("pricing.tier")}</th>
                    <th scope="col">{t("pricing.validity")}</th>
                    <th scope="col" className="num">
                      {t("pricing.items")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {lists.map((list) => (
                    <tr key={list.id}>
                      <td>
                        <Link to={`/pricing/lists/${list.id}`}>{list.name}</Link>
                      </td>
                      <td className="nowrap">{list.tierName}</td>
                      <td className="nowrap">
                        {formatDate(list.validFrom, locale)} – {list.validTo ? formatDate(list.validTo, locale) : t("pricing.openEnded")} <StateTag state={list.state} />
                      </td>
                      <td className="num">{list.itemCount}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {canManage && tiers.length > 0 ? (
            <Form method="post" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="createList" />
              <h3>{t("pricing.newList")}</h3>
              {result?.intent === "createList" ? <FormError message={result.formError} /> : null}
              <div className="sc-grid">
                <SelectField name="tierId" idPrefix="list-" label={t("pricing.tier")} required options={tierOptions} defaultValue={listValues?.tierId} error={listErrors.tierId} />
                <TextField name="name" idPrefix="list-" label={t("pricing.listName")} required defaultValue={listValues?.name} error={listErrors.name} maxLength={100} />
                <TextField name="validFrom" idPrefix="list-" label={t("pricing.validFrom")} type="date" required defaultValue={listValues?.validFrom ?? today} error={listErrors.validFrom} />
                <TextField name="validTo" idPrefix="list-" label={t("pricing.validTo")} type="date" defaultValue={listValues?.validTo} error={listErrors.validTo} hint={t("pricing.validToHint")} />
              </div>
              <button type="submit" className="sc-button secondary" disabled={busy}>
                {t("pricing.createList")}
              </button>
            </Form>
          ) : null}
        </section>
      </div>

      <section className="panel" aria-labelledby="overrides-heading" style={{ marginTop: "1.25rem" }}>
        <h2 id="overrides-heading">{t("pricing.overrides")}</h2>
        <p className="subtle small">{t("pricing.overridesIntro")}</p>
        {overrides.length === 0 ? (
          <p className="empty">{t("pricing.overridesEmpty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="overrides">
              <thead>
                <tr>
                  <th scope="col">{t("pricing.dealer")}</th>
                  <th scope="col">{t("catalog.field.code")}</th>
                  <th scope="col" className="num">
                    {t("pricing.overridePrice")}
                  </th>
                  <th scope="col" className="num">
                    {t("catalog.field.basePrice")}
                  </th>
                  <th scope="col">{t("pricing.validity")}</th>
                  <th scope="col">{t("pricing.note")}</th>
                  {canManage ? <th scope="col" /> : null}
                </tr>
              </thead>
              <tbody>
                {overrides.map((o) => (
                  <tr key={o.id}>
                    <td>
                      <Link to={`/dealers/${o.linkId}`}>{o.dealerName}</Link>
                    </td>
                    <td>
                      <span className="mono">{o.skuCode}</span>
                      <div className="sc-muted">{o.skuName}</div>
                    </td>
                    <td className="num sc-price">{formatFen(o.priceFen, locale)}</td>
                    <td className="num">{formatFen(o.basePriceFen, locale)}</td>
                    <td className="nowrap">
                      {formatDate(o.validFrom, locale)} – {o.validTo ? formatDate(o.validTo, locale) : t("pricing.openEnded")} <StateTag state={o.state} />
                    </td>
                    <td>{o.note}</td>
                    {canManage ? (
                      <td className="actions">
                        <Form method="post" className="sc-row-form">
                          <CsrfInput />
                          <input type="hidden" name="intent" value="deleteOverride" />
                          <input type="hidden" name="overrideId" value={o.id} />
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
        {canManage && dealers.length > 0 ? (
          <Form method="post" noValidate>
            <CsrfInput />
            <input type="hidden" name="intent" value="createOverride" />
            <h3>{t("pricing.newOverride")}</h3>
            {result?.intent === "createOverride" ? <FormError message={result.formError} /> : null}
            <div className="sc-grid">
              <SelectField
                name="linkId"
                idPrefix="ov-"
                label={t("pricing.dealer")}
                required
                options={dealers.map((d) => ({ value: d.linkId, label: d.name }))}
                defaultValue={overrideValues?.linkId}
                error={overrideErrors.linkId}
              />
              <TextField name="skuCode" idPrefix="ov-" label={t("catalog.field.code")} required defaultValue={overrideValues?.skuCode} error={overrideErrors.skuCode} maxLength={64} />
              <TextField name="price" idPrefix="ov-" label={t("pricing.priceYuan")} required inputMode="decimal" defaultValue={overrideValues?.price} error={overrideErrors.price} />
              <TextField name="validFrom" idPrefix="ov-" label={t("pricing.validFrom")} type="date" required defaultValue={overrideValues?.validFrom ?? today} error={overrideErrors.validFrom} />
              <TextField name="validTo" idPrefix="ov-" label={t("pricing.validTo")} type="date" defaultValue={overrideValues?.validTo} error={overrideErrors.validTo} hint={t("pricing.validToHint")} />
              <TextField name="note" idPrefix="ov-" label={t("pricing.note")} defaultValue={overrideValues?.note} error={overrideErrors.note} maxLength={200} />
            </div>
            <button type="submit" className="sc-button secondary" disabled={busy}>
              {t("pricing.createOverride")}
            </button>
          </Form>
        ) : null}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
