import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { Field, FormError, LprTable, ProductTable, ariaFor, type FieldErrors, type ProductView } from "~/components/financing-admin-ui";
import { productKindLabel } from "~/components/financing-ui";
import { formatRatePpm, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { PRODUCT_LIMITS, createProduct, listLprRates, listProducts, lprOn, lprRatePpm, recordLpr, type LprRate, type ProductInput } from "~/domain/financing";
import { parsePercentToBps, parseWholeNumber, parseYuanToFen } from "~/domain/catalog";
import { may } from "~/domain/identity";
import { isBusinessDate, isDomainError, shanghaiDate } from "~/domain/shared";
import { requireMay, requireOrgOfKind } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import { LOAN_PRODUCT_KINDS, REPAYMENT_METHODS } from "../../db/schema";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.admin.products.title");

const LPR_SHOWN = 24;
const TEXT_MAX = 100;
/** Bounds of the form's whole numbers: a loan of up to 30 years, or of up to 10 years in days (bullet). */
const MAX_TERM_MONTHS = 360;
const MAX_TERM_DAYS = 3_650;
const MAX_GRACE_DAYS = 90;

const requireBank = (request: Request, context: LoaderFunctionArgs["context"]) => requireOrgOfKind(request, context, "bank");

/** `/financing/products`: the loan products with today's rate, the LPR history, and the forms that add to both. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireBank(request, context);
  const { db } = context;
  const today = shanghaiDate(new Date());
  const [products, rates] = [await listProducts(db), await listLprRates(db, LPR_SHOWN)];
  const lpr: LprRate | null = await lprOn(db, today).catch((e: unknown) => (isDomainError(e) ? null : Promise.reject(e)));
  const views: ProductView[] = products.map((p) => {
    let currentRatePpm: number | null = null;
    if (p.rate_basis === "fixed") currentRatePpm = p.fixed_rate_ppm;
    // A spread that would take today's LPR below zero has no rate today (the product refuses to lend).
    else if (lpr && lpr.ratePpm + p.spread_bps * 100 >= 0) currentRatePpm = lprRatePpm(lpr.ratePpm, p.spread_bps);
    return {
      id: p.id,
      code: p.code,
      name: p.name,
      nameEn: p.name_en,
      kind: p.kind,
      status: p.status,
      rateBasis: p.rate_basis,
      spreadBps: p.spread_bps,
      currentRatePpm,
      repaymentMethod: p.repayment_method,
      termMonths: p.term_months,
      termDays: p.term_days,
      graceDays: p.grace_days,
      autoApproveLimitFen: p.auto_approve_limit_fen,
      secondApproverLimitFen: p.second_approver_limit_fen,
      minAmountFen: p.min_amount_fen,
      maxAmountFen: p.max_amount_fen,
    };
  });
  return {
    products: views,
    rates,
    inForceOn: lpr?.effectiveOn ?? null,
    today,
    canWrite: may(organization.roles, "financing.product_write", organization.kind),
  };
}

/**
 * "3.05", "3.05%", "3.0525" → ppm (30,500; 30,525), by string arithmetic: the whole percent times
 * 10,000 plus the decimals padded to four places. More than four decimals is refused, not rounded.
 */
function parsePercentToPpm(raw: string): number | null {
  const text = raw.normalize("NFKC").trim().replace(/\s*%$/, "");
  const match = /^(\d{1,2})(?:\.(\d{1,4}))?$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 10_000 + Number((match[2] ?? "").padEnd(4, "0"));
}

const INTENTS = ["record_lpr", "create_product"] as const;
type Intent = (typeof INTENTS)[number];

const FIELDS = [
  "rate_percent",
  "effective_on",
  "code",
  "name",
  "name_en",
  "kind",
  "rate_basis",
  "spread_bps",
  "fixed_rate_percent",
  "repayment_method",
  "term_months",
  "term_days",
  "grace_days",
  "auto_approve_yuan",
  "second_approver_yuan",
  "min_amount_yuan",
  "max_amount_yuan",
  "advance_rate_percent",
] as const;

interface ProductFormFailure {
  intent: Intent | null;
  fieldErrors: FieldErrors;
  formError: string | null;
  values: Record<string, string>;
}

/** The product form's values → ProductInput, or the errors keyed by the domain's field names. */
function readProduct(v: Record<string, string>): { input: ProductInput | null; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const required = (name: string, field: string): string => {
    const value = v[name] ?? "";
    if (!value) errors[field] = "required";
    return value;
  };
  const yuan = (name: string, field: string): number => {
    const raw = required(name, field);
    const fen = raw ? parseYuanToFen(raw) : null;
    if (raw && fen === null) errors[field] = "invalid_amount";
    return fen ?? 0;
  };
  const whole = (name: string, field: string, min: number, max: number): number | null => {
    const raw = v[name] ?? "";
    if (!raw) return null;
    const n = parseWholeNumber(raw);
    if (n === null) errors[field] = "whole_number";
    else if (n < min || n > max) errors[field] = "out_of_range";
    return n;
  };
  const code = required("code", "code").toUpperCase();
  const name = required("name", "name");
  const nameEn = required("name_en", "name_en");
  const kind = LOAN_PRODUCT_KINDS.find((k) => k === v.kind);
  if (!kind) errors.kind = v.kind ? "unknown" : "required";
  const rateBasis = v.rate_basis === "lpr" || v.rate_basis === "fixed" ? v.rate_basis : null;
  if (!rateBasis) errors.rate_basis = v.rate_basis ? "unknown" : "required";
  let spreadBps = 0;
  if (v.spread_bps) {
    // Signed: a spread may be below the LPR.
    const m = /^([+-]?)(\d{1,5})$/.exec(v.spread_bps.normalize("NFKC"));
    if (!m) errors.spread_bps = "whole_number";
    else {
      spreadBps = (m[1] === "-" ? -1 : 1) * Number(m[2]);
      if (Math.abs(spreadBps) > PRODUCT_LIMITS.maxSpreadBps) errors.spread_bps = "out_of_range";
    }
  }
  let fixedRatePpm: number | null = null;
  if (v.fixed_rate_percent) {
    fixedRatePpm = parsePercentToPpm(v.fixed_rate_percent);
    if (fixedRatePpm === null) errors.fixed_rate_ppm = "invalid_rate";
  }
  const repaymentMethod = REPAYMENT_METHODS.find((m) => m === v.repayment_method);
  if (!repaymentMethod) errors.repayment_method = v.repayment_method ? "unknown" : "required";
  const termMonths = whole("term_months", "term_months", 1, MAX_TERM_MONTHS);
  const termDays = whole("term_days", "term_days", 1, MAX_TERM_DAYS);
  const graceDays = whole("grace_days", "grace_days", 0, MAX_GRACE_DAYS) ?? 0;
  const autoApproveLimitFen = yuan("auto_approve_yuan", "auto_approve_limit_fen");
  const secondApproverLimitFen = yuan("second_approver_yuan", "second_approver_limit_fen");
  const minAmountFen = yuan("min_amount_yuan", "min_amount_fen");
  const maxAmountFen = yuan("max_amount_yuan", "max_amount_fen");
  let advanceRateBps: number | null = null;
  if (v.advance_rate_percent) {
    advanceRateBps = parsePercentToBps(v.advance_rate_percent);
    if (advanceRateBps === null) errors.advance_rate_bps = "invalid_rate";
    else if (advanceRateBps < 1 || advanceRateBps > 10_000) errors.advance_rate_bps = "out_of_range";
  }
  if (Object.keys(errors).length > 0 || !kind || !rateBasis || !repaymentMethod) return { input: null, errors };
  return {
    input: {
      code,
      name,
      nameEn,
      kind,
      rateBasis,
      spreadBps: rateBasis === "lpr" ? spreadBps : 0,
      fixedRatePpm: rateBasis === "fixed" ? fixedRatePpm : null,
      repaymentMethod,
      termMonths,
      termDays,
      graceDays,
      autoApproveLimitFen,
      secondApproverLimitFen,
      advanceRateBps,
      minAmountFen,
      maxAmountFen,
    },
    errors,
  };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireBank(request, context);
  requireMay(ctx, "financing.product_write");
  const rawIntent = form.get("intent");
  const intent = INTENTS.find((i) => i === rawIntent) ?? null;
  const values: Record<string, string> = {};
  for (const name of FIELDS) {
    const raw = form.get(name);
    if (typeof raw === "string") values[name] = raw.trim().slice(0, TEXT_MAX);
  }
  const fail = (fieldErrors: FieldErrors, status: number, formError: string | null = null) => data<ProductFormFailure>({ intent, fieldErrors, formError, values }, { status });
  if (!intent) return fail({}, 400, "unknown intent");

  try {
    if (intent === "record_lpr") {
      const errors: Record<string, string> = {};
      const ratePpm = values.rate_percent ? parsePercentToPpm(values.rate_percent) : null;
      if (!values.rate_percent) errors.rate_ppm = "required";
      else if (ratePpm === null) errors.rate_ppm = "invalid_rate";
      const effectiveOn = values.effective_on ?? "";
      if (!effectiveOn) errors.effective_on = "required";
      else if (!isBusinessDate(effectiveOn)) errors.effective_on = "invalid_date";
      if (Object.keys(errors).length > 0 || ratePpm === null) return fail(errors, 422);
      const recorded = await recordLpr(context.db, ctx.actor, { ratePpm, effectiveOn });
      return redirect("/financing/products", {
        headers: { "Set-Cookie": await flashCookie(context, { key: "financing.admin.flash.lprRecorded", params: { rate: formatRatePpm(recorded.ratePpm), date: recorded.effectiveOn } }) },
      });
    }
    const { input, errors } = readProduct(values);
    if (!input) return fail(errors, 422);
    const product = await createProduct(context.db, ctx.actor, input);
    return redirect("/financing/products", {
      headers: { "Set-Cookie": await flashCookie(context, { key: "financing.admin.flash.productCreated", params: { code: product.code } }) },
    });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    const fieldErrors = { ...error.fields };
    return fail(fieldErrors, error.status, Object.keys(fieldErrors).length === 0 ? error.message : null);
  }
}

export default function FinancingProducts() {
  const { products, rates, inForceOn, canWrite } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <div className="sc-page">
      <p>
        <Link to="/financing">← {t("financing.title")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("financing.admin.eyebrow")}</p>
          <h1>{t("financing.admin.products.title")}</h1>
          <p className="sc-muted">{t("financing.admin.products.explain")}</p>
        </div>
      </div>

      <section className="panel" aria-labelledby="products-heading">
        <h2 id="products-heading">{t("financing.admin.products.list")}</h2>
        <ProductTable products={products} />
      </section>

      {/* Panels in columns lose their bottom margin: the wrapper gives it back before the next panel. */}
      <div className="sc-cols" style={{ marginBottom: "1.25rem" }}>
        <section className="panel" aria-labelledby="lpr-heading">
          <h2 id="lpr-heading">{t("financing.admin.lpr.title")}</h2>
          <LprTable rates={rates} inForceOn={inForceOn} />
        </section>
        {canWrite ? <LprForm /> : null}
      </div>

      {canWrite ? <ProductForm /> : null}
    </div>
  );
}

function useFailure(intent: Intent) {
  const failure = useActionData<typeof action>();
  return failure?.intent === intent ? failure : null;
}

function LprForm() {
  const failure = useFailure("record_lpr");
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const errors = failure?.fieldErrors ?? {};
  const values = failure?.values ?? {};
  return (
    <section className="panel" aria-labelledby="record-lpr-heading">
      <h2 id="record-lpr-heading">{t("financing.admin.form.recordLpr")}</h2>
      <Form method="post" data-testid="record-lpr">
        <CsrfInput />
        <input type="hidden" name="intent" value="record_lpr" />
        <FormError message={failure?.formError} testId="record-lpr-error" />
        <Field id="lpr-rate" label={t("financing.admin.field.ratePercent")} field="rate_ppm" error={errors.rate_ppm}>
          <input id="lpr-rate" name="rate_percent" inputMode="decimal" required placeholder="3.10" defaultValue={values.rate_percent ?? ""} {...ariaFor("lpr-rate", errors.rate_ppm)} />
        </Field>
        <Field id="lpr-date" label={t("financing.admin.field.effectiveOn")} field="effective_on" error={errors.effective_on}>
          <input id="lpr-date" name="effective_on" type="date" required defaultValue={values.effective_on ?? ""} {...ariaFor("lpr-date", errors.effective_on)} />
        </Field>
        <button type="submit" className="sc-button" disabled={busy}>
          {t("financing.admin.form.submit")}
        </button>
      </Form>
    </section>
  );
}

function ProductForm() {
  const failure = useFailure("create_product");
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const e = failure?.fieldErrors ?? {};
  const v = failure?.values ?? {};
  const text = (id: string, name: string, field: string, label: string, options: { required?: boolean; inputMode?: "decimal" | "numeric"; placeholder?: string; fallback?: string; wide?: boolean } = {}) => (
    <Field id={id} label={label} field={field} error={e[field]} wide={options.wide}>
      <input id={id} name={name} required={options.required} inputMode={options.inputMode} placeholder={options.placeholder} defaultValue={v[name] ?? options.fallback ?? ""} {...ariaFor(id, e[field])} />
    </Field>
  );
  return (
    <section className="panel" aria-labelledby="create-product-heading">
      <h2 id="create-product-heading">{t("financing.admin.form.createProduct")}</h2>
      <Form method="post" data-testid="create-product">
        <CsrfInput />
        <input type="hidden" name="intent" value="create_product" />
        <FormError message={failure?.formError} testId="create-product-error" />
        <div className="sc-grid">
          {text("p-code", "code", "code", t("financing.admin.field.code"), { required: true, placeholder: "OF-90D" })}
          {text("p-name", "name", "name", t("financing.admin.field.name"), { required: true })}
          {text("p-name-en", "name_en", "name_en", t("financing.admin.field.nameEn"), { required: true })}
          <Field id="p-kind" label={t("financing.admin.field.kind")} field="kind" error={e.kind}>
            <select id="p-kind" name="kind" required defaultValue={v.kind ?? ""} {...ariaFor("p-kind", e.kind)}>
              <option value="">{t("financing.admin.form.choose")}</option>
              {LOAN_PRODUCT_KINDS.map((k) => (
                <option key={k} value={k}>
                  {productKindLabel(locale, k)}
                </option>
              ))}
            </select>
          </Field>
          <Field id="p-basis" label={t("financing.admin.field.rateBasis")} field="rate_basis" error={e.rate_basis}>
            <select id="p-basis" name="rate_basis" required defaultValue={v.rate_basis ?? "lpr"} {...ariaFor("p-basis", e.rate_basis)}>
              <option value="lpr">{t("financing.admin.basisOption.lpr")}</option>
              <option value="fixed">{t("financing.admin.basisOption.fixed")}</option>
            </select>
          </Field>
          {text("p-spread", "spread_bps", "spread_bps", t("financing.admin.field.spreadBps"), { inputMode: "numeric", fallback: "0" })}
          {text("p-fixed", "fixed_rate_percent", "fixed_rate_ppm", t("financing.admin.field.fixedRate"), { inputMode: "decimal" })}
          <Field id="p-method" label={t("financing.admin.field.method")} field="repayment_method" error={e.repayment_method}>
            <select id="p-method" name="repayment_method" required defaultValue={v.repayment_method ?? "bullet"} {...ariaFor("p-method", e.repayment_method)}>
              {REPAYMENT_METHODS.map((m) => (
                <option key={m} value={m}>
                  {translateDynamic(locale, `financing.loan.method.${m}`, m)}
                </option>
              ))}
            </select>
          </Field>
          {text("p-months", "term_months", "term_months", t("financing.admin.field.termMonths"), { inputMode: "numeric" })}
          {text("p-days", "term_days", "term_days", t("financing.admin.field.termDays"), { inputMode: "numeric" })}
          {text("p-grace", "grace_days", "grace_days", t("financing.admin.field.graceDays"), { inputMode: "numeric", fallback: "0" })}
          {text("p-auto", "auto_approve_yuan", "auto_approve_limit_fen", t("financing.admin.field.autoApprove"), { required: true, inputMode: "decimal" })}
          {text("p-second", "second_approver_yuan", "second_approver_limit_fen", t("financing.admin.field.secondApprover"), { required: true, inputMode: "decimal" })}
          {text("p-min", "min_amount_yuan", "min_amount_fen", t("financing.admin.field.minAmount"), { required: true, inputMode: "decimal" })}
          {text("p-max", "max_amount_yuan", "max_amount_fen", t("financing.admin.field.maxAmount"), { required: true, inputMode: "decimal" })}
          {text("p-advance", "advance_rate_percent", "advance_rate_bps", t("financing.admin.field.advanceRate"), { inputMode: "decimal" })}
        </div>
        <button type="submit" className="sc-button" disabled={busy}>
          {t("financing.admin.form.createProduct")}
        </button>
      </Form>
    </section>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
