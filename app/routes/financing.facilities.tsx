import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction, type SerializeFrom } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { useState } from "react";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { AgreementTable, BorrowerLimitTable, Field, FormError, ariaFor, type AdminFacilityView, type AgreementGroupView, type FieldErrors } from "~/components/financing-admin-ui";
import { formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { getFacility, getProduct, listFacilities, listProducts, setFacility, type FacilityInput, type FacilitySummary } from "~/domain/financing";
import { parseWholeNumber, parseYuanToFen } from "~/domain/catalog";
import { findActiveDealerLink, listDealerOptions } from "~/domain/dealers";
import { listOrganizationsOfKind, may } from "~/domain/identity";
import { isBusinessDate, isDomainError, isUuid } from "~/domain/shared";
import { requireMay, requireOrgOfKind } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.admin.facilities.title");


/** A buy-back period above a year is not a trade-finance guarantee any more. */
const MAX_BUY_BACK_DAYS = 365;
const TEXT_MAX = 100;

const requireBank = (request: Request, context: LoaderFunctionArgs["context"]) => requireOrgOfKind(request, context, "bank");

/**
 * The organisations of one kind, for the pickers and for checking a submitted id. The identity
 * context's barrel has no lister yet (reported to the lead): until it has one, this single read
 * stands in, from the loader and the action only.
 */

function adminView(f: FacilitySummary, productNames: ReadonlyMap<string, string>): AdminFacilityView {
  return {
    id: f.id,
    kind: f.kind,
    name: (f.kind === "guarantee" ? f.guarantorName : f.borrowerName) ?? "—",
    productName: f.productId ? (productNames.get(f.productId) ?? null) : null,
    buyBackDays: f.buyBackDays,
    validTo: f.validTo,
    status: f.status,
    limitFen: f.limitFen,
    usedFen: f.usedFen,
    availableFen: f.availableFen,
  };
}

/** `/financing/facilities`: every facility with its figures; the forms that set them for credit staff. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireBank(request, context);
  const { db } = context;
  const [facilities, products] = [await listFacilities(db), await listProducts(db)];
  const productNames = new Map(products.map((p) => [p.id, `${p.code} · ${p.name}`]));
  const views = facilities.map((f) => adminView(f, productNames));
  const agreements = views.filter((f) => f.kind === "guarantee");
  const groups: AgreementGroupView[] = agreements.map((a) => ({ agreement: a, subs: views.filter((s, i) => s.kind === "guarantee_sub" && facilities[i]!.parentFacilityId === a.id) }));
  const canWrite = may(organization.roles, "financing.facility_write", organization.kind);
  if (!canWrite) return { groups, limits: views.filter((f) => f.kind === "borrower_limit"), canWrite, pickers: null };

  const [cores, dealers] = [await listOrganizationsOfKind(db, "core_enterprise"), await listOrganizationsOfKind(db, "dealer")];
  // The sub-limit form's dealers: per agreement, those with an active link to its core enterprise.
  const dealersByAgreement: Record<string, { id: string; name: string }[]> = {};
  for (const f of facilities) {
    if (f.kind !== "guarantee" || !f.guarantorOrganizationId) continue;
    const options = await listDealerOptions(db, f.guarantorOrganizationId);
    dealersByAgreement[f.id] = options.filter((o) => o.status === "active").map((o) => ({ id: o.dealerId, name: o.name }));
  }
  return {
    groups,
    limits: views.filter((f) => f.kind === "borrower_limit"),
    canWrite,
    pickers: {
      cores,
      dealers,
      agreements: agreements.map((a) => ({ id: a.id, name: a.name })),
      dealersByAgreement,
      products: products.filter((p) => p.status === "active").map((p) => ({ id: p.id, label: productNames.get(p.id)! })),
    },
  };
}

const INTENTS = ["set_agreement", "set_sub_limit", "set_borrower_limit"] as const;
type Intent = (typeof INTENTS)[number];

interface FacilityFormFailure {
  intent: Intent | null;
  fieldErrors: FieldErrors;
  formError: string | null;
  values: Record<string, string>;
}

const FIELDS = ["guarantor_id", "parent_facility_id", "borrower_id", "product_id", "buy_back_days", "valid_to", "limit_yuan"] as const;

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireBank(request, context);
  requireMay(ctx, "financing.facility_write");
  const { db } = context;
  const rawIntent = form.get("intent");
  const intent = INTENTS.find((i) => i === rawIntent) ?? null;
  const values: Record<string, string> = {};
  for (const name of FIELDS) {
    const raw = form.get(name);
    if (typeof raw === "string") values[name] = raw.trim().slice(0, TEXT_MAX);
  }
  const fail = (fieldErrors: FieldErrors, status: number, formError: string | null = null) => data<FacilityFormFailure>({ intent, fieldErrors, formError, values }, { status });
  if (!intent) return fail({}, 400, "unknown intent");

  // Every field read first, so that one answer names every problem.
  const errors: Record<string, string> = {};
  const limitFen = values.limit_yuan ? parseYuanToFen(values.limit_yuan) : null;
  if (!values.limit_yuan) errors.limit_fen = "required";
  else if (limitFen === null) errors.limit_fen = "invalid_amount";
  const validTo = values.valid_to ?? "";
  if (!validTo) errors.valid_to = "required";
  else if (!isBusinessDate(validTo)) errors.valid_to = "invalid_date";

  let input: Omit<FacilityInput, "validTo" | "limitFen"> | null = null;
  if (intent === "set_agreement") {
    const cores = await listOrganizationsOfKind(db, "core_enterprise");
    const guarantorId = values.guarantor_id ?? "";
    if (!guarantorId) errors.guarantor_id = "required";
    else if (!cores.some((c) => c.id === guarantorId)) errors.guarantor_id = "unknown";
    const days = values.buy_back_days ? parseWholeNumber(values.buy_back_days) : null;
    if (!values.buy_back_days) errors.buy_back_days = "required";
    else if (days === null) errors.buy_back_days = "whole_number";
    else if (days < 1 || days > MAX_BUY_BACK_DAYS) errors.buy_back_days = "out_of_range";
    input = { kind: "guarantee", guarantorOrganizationId: guarantorId, buyBackDays: days };
  } else if (intent === "set_sub_limit") {
    const agreementId = values.parent_facility_id ?? "";
    const dealerId = values.borrower_id ?? "";
    let agreement: FacilitySummary | null = null;
    if (!agreementId) errors.parent_facility_id = "required";
    else if (isUuid(agreementId)) agreement = await getFacility(db, agreementId).catch((e: unknown) => (isDomainError(e) && e.code === "not_found" ? null : Promise.reject(e)));
    if (agreementId && (!agreement || agreement.kind !== "guarantee")) errors.parent_facility_id = "unknown";
    if (!dealerId) errors.borrower_id = "required";
    else if (!isUuid(dealerId)) errors.borrower_id = "unknown";
    else if (agreement?.kind === "guarantee" && !(await findActiveDealerLink(db, agreement.guarantorOrganizationId!, dealerId))) errors.borrower_id = "not_linked";
    input = { kind: "guarantee_sub", parentFacilityId: agreementId, guarantorOrganizationId: agreement?.guarantorOrganizationId ?? null, borrowerOrganizationId: dealerId };
  } else {
    const productId = values.product_id ?? "";
    const borrowerId = values.borrower_id ?? "";
    if (!productId) errors.product_id = "required";
    else {
      const product = isUuid(productId) ? await getProduct(db, productId).catch((e: unknown) => (isDomainError(e) && e.code === "not_found" ? null : Promise.reject(e))) : null;
      if (!product || product.status !== "active") errors.product_id = "unknown";
    }
    const dealers = await listOrganizationsOfKind(db, "dealer");
    if (!borrowerId) errors.borrower_id = "required";
    else if (!dealers.some((d) => d.id === borrowerId)) errors.borrower_id = "unknown";
    input = { kind: "borrower_limit", productId, borrowerOrganizationId: borrowerId };
  }
  if (Object.keys(errors).length > 0 || limitFen === null) return fail(errors, 422);

  try {
    const saved = await setFacility(db, ctx.actor, { ...input, validTo, limitFen });
    const name = (saved.kind === "guarantee" ? saved.guarantorName : saved.borrowerName) ?? "";
    return redirect("/financing/facilities", {
      headers: { "Set-Cookie": await flashCookie(context, { key: "financing.admin.flash.facilitySet", params: { name, amount: formatFen(saved.limitFen) } }) },
    });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    const fieldErrors = { ...error.fields };
    return fail(fieldErrors, error.status, Object.keys(fieldErrors).length === 0 ? error.message : null);
  }
}

export default function FinancingFacilities() {
  const { groups, limits, pickers } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <div className="sc-page">
      <p>
        <Link to="/financing">← {t("financing.title")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("financing.admin.eyebrow")}</p>
          <h1>{t("financing.admin.facilities.title")}</h1>
          <p className="sc-muted">{t("financing.admin.facilities.explain")}</p>
        </div>
      </div>

      <section className="panel" aria-labelledby="agreements-heading">
        <h2 id="agreements-heading">{t("financing.admin.facilities.agreements")}</h2>
        <AgreementTable groups={groups} />
      </section>

      <section className="panel" aria-labelledby="limits-heading">
        <h2 id="limits-heading">{t("financing.admin.facilities.borrowerLimits")}</h2>
        <BorrowerLimitTable limits={limits} />
      </section>

      {pickers ? <FacilityForms pickers={pickers} /> : null}
    </div>
  );
}

type Pickers = NonNullable<SerializeFrom<typeof loader>["pickers"]>;

function Choose() {
  const t = useT();
  return <option value="">{t("financing.admin.form.choose")}</option>;
}

function FacilityForms({ pickers }: { pickers: Pickers }) {
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  // Each form shows only its own refusal (and keeps only its own values).
  const mine = (intent: Intent) => (failure?.intent === intent ? failure : null);
  const ag = mine("set_agreement");
  const sub = mine("set_sub_limit");
  const bl = mine("set_borrower_limit");
  // Without JS every agreement's dealers are listed (grouped by agreement); with JS only the chosen one's.
  const [agreementId, setAgreementId] = useState(sub?.values.parent_facility_id ?? "");
  const shownAgreements = pickers.agreements.filter((a) => !agreementId || a.id === agreementId);
  return (
    // Three narrow forms side by side: their fields stack, one under another.
    <div className="sc-cols">
      <section className="panel" aria-labelledby="set-agreement-heading">
        <h2 id="set-agreement-heading">{t("financing.admin.form.setAgreement")}</h2>
        <p className="sc-muted small">{t("financing.admin.form.setAgreementHint")}</p>
        <Form method="post" data-testid="set-agreement">
          <CsrfInput />
          <input type="hidden" name="intent" value="set_agreement" />
          <FormError message={ag?.formError} testId="set-agreement-error" />
          <div>
            <Field id="ag-guarantor" label={t("financing.admin.field.guarantor")} field="guarantor_id" error={ag?.fieldErrors.guarantor_id} wide>
              <select id="ag-guarantor" name="guarantor_id" required defaultValue={ag?.values.guarantor_id ?? ""} {...ariaFor("ag-guarantor", ag?.fieldErrors.guarantor_id)}>
                <Choose />
                {pickers.cores.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="ag-days" label={t("financing.admin.field.buyBackDays")} field="buy_back_days" error={ag?.fieldErrors.buy_back_days}>
              <input id="ag-days" name="buy_back_days" inputMode="numeric" required defaultValue={ag?.values.buy_back_days ?? "30"} {...ariaFor("ag-days", ag?.fieldErrors.buy_back_days)} />
            </Field>
            <Field id="ag-valid" label={t("financing.admin.field.validTo")} field="valid_to" error={ag?.fieldErrors.valid_to}>
              <input id="ag-valid" name="valid_to" type="date" required defaultValue={ag?.values.valid_to ?? ""} {...ariaFor("ag-valid", ag?.fieldErrors.valid_to)} />
            </Field>
            <Field id="ag-limit" label={t("financing.admin.field.limit")} field="limit_fen" error={ag?.fieldErrors.limit_fen}>
              <input id="ag-limit" name="limit_yuan" inputMode="decimal" required defaultValue={ag?.values.limit_yuan ?? ""} {...ariaFor("ag-limit", ag?.fieldErrors.limit_fen)} />
            </Field>
          </div>
          <button type="submit" className="sc-button" disabled={busy}>
            {t("financing.admin.form.submit")}
          </button>
        </Form>
      </section>

      <section className="panel" aria-labelledby="set-sub-heading">
        <h2 id="set-sub-heading">{t("financing.admin.form.setSub")}</h2>
        <p className="sc-muted small">{t("financing.admin.form.setSubHint")}</p>
        <Form method="post" data-testid="set-sub-limit">
          <CsrfInput />
          <input type="hidden" name="intent" value="set_sub_limit" />
          <FormError message={sub?.formError} testId="set-sub-limit-error" />
          <div>
            <Field id="sub-agreement" label={t("financing.admin.field.agreement")} field="parent_facility_id" error={sub?.fieldErrors.parent_facility_id} wide>
              <select
                id="sub-agreement"
                name="parent_facility_id"
                required
                value={agreementId}
                onChange={(e) => setAgreementId(e.currentTarget.value)}
                {...ariaFor("sub-agreement", sub?.fieldErrors.parent_facility_id)}
              >
                <Choose />
                {pickers.agreements.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="sub-dealer" label={t("financing.admin.field.dealer")} field="borrower_id" error={sub?.fieldErrors.borrower_id} wide>
              <select id="sub-dealer" name="borrower_id" required defaultValue={sub?.values.borrower_id ?? ""} key={agreementId} {...ariaFor("sub-dealer", sub?.fieldErrors.borrower_id)}>
                <Choose />
                {shownAgreements.map((a) => (
                  <optgroup key={a.id} label={a.name}>
                    {(pickers.dealersByAgreement[a.id] ?? []).map((d) => (
                      <option key={d.id} value={d.id}>
                        {d.name}
                      </option>
                    ))}
                  </optgroup>
                ))}
              </select>
            </Field>
            <Field id="sub-valid" label={t("financing.admin.field.validTo")} field="valid_to" error={sub?.fieldErrors.valid_to}>
              <input id="sub-valid" name="valid_to" type="date" required defaultValue={sub?.values.valid_to ?? ""} {...ariaFor("sub-valid", sub?.fieldErrors.valid_to)} />
            </Field>
            <Field id="sub-limit" label={t("financing.admin.field.limit")} field="limit_fen" error={sub?.fieldErrors.limit_fen}>
              <input id="sub-limit" name="limit_yuan" inputMode="decimal" required defaultValue={sub?.values.limit_yuan ?? ""} {...ariaFor("sub-limit", sub?.fieldErrors.limit_fen)} />
            </Field>
          </div>
          <button type="submit" className="sc-button" disabled={busy}>
            {t("financing.admin.form.submit")}
          </button>
        </Form>
      </section>

      <section className="panel" aria-labelledby="set-limit-heading">
        <h2 id="set-limit-heading">{t("financing.admin.form.setBorrowerLimit")}</h2>
        <Form method="post" data-testid="set-borrower-limit">
          <CsrfInput />
          <input type="hidden" name="intent" value="set_borrower_limit" />
          <FormError message={bl?.formError} testId="set-borrower-limit-error" />
          <div>
            <Field id="bl-product" label={t("financing.admin.field.product")} field="product_id" error={bl?.fieldErrors.product_id} wide>
              <select id="bl-product" name="product_id" required defaultValue={bl?.values.product_id ?? ""} {...ariaFor("bl-product", bl?.fieldErrors.product_id)}>
                <Choose />
                {pickers.products.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="bl-borrower" label={t("financing.admin.field.borrower")} field="borrower_id" error={bl?.fieldErrors.borrower_id} wide>
              <select id="bl-borrower" name="borrower_id" required defaultValue={bl?.values.borrower_id ?? ""} {...ariaFor("bl-borrower", bl?.fieldErrors.borrower_id)}>
                <Choose />
                {pickers.dealers.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="bl-valid" label={t("financing.admin.field.validTo")} field="valid_to" error={bl?.fieldErrors.valid_to}>
              <input id="bl-valid" name="valid_to" type="date" required defaultValue={bl?.values.valid_to ?? ""} {...ariaFor("bl-valid", bl?.fieldErrors.valid_to)} />
            </Field>
            <Field id="bl-limit" label={t("financing.admin.field.limit")} field="limit_fen" error={bl?.fieldErrors.limit_fen}>
              <input id="bl-limit" name="limit_yuan" inputMode="decimal" required defaultValue={bl?.values.limit_yuan ?? ""} {...ariaFor("bl-limit", bl?.fieldErrors.limit_fen)} />
            </Field>
          </div>
          <button type="submit" className="sc-button" disabled={busy}>
            {t("financing.admin.form.submit")}
          </button>
        </Form>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
