import { data, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { PriceExplanation } from "~/components/price-explanation";
import { RouteError } from "~/components/route-error";
import { RuleTag, SelectField, TextField } from "~/components/supply-ui";
import { formatFen, formatPercentBps } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getSkusByCodes, normalizeSkuCode } from "~/domain/catalog";
import { listDealerOptions } from "~/domain/dealers";
import { previewFormSchema, quotePrices, type PriceRule } from "~/domain/pricing";
import { requireCoreEnterprise, zodFieldErrors } from "~/web/supply-chain-access.server";
import styles from "~/styles/supply.css";
import { shanghaiDate } from "~/domain/shared";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "pricing.previewTitle");

const RULE_ORDER: PriceRule[] = ["dealer_override", "volume_break", "tier_price", "base_price"];

/**
 * A GET form: the preview changes nothing, so its answer is a page one can bookmark or share.
 * Bad input is shown next to its field, with the input kept (status 422).
 */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireCoreEnterprise(request, context);
  const url = new URL(request.url);
  const dealers = await listDealerOptions(context.db, organizationId);
  const today = shanghaiDate(new Date());
  const values = {
    dealerId: url.searchParams.get("dealerId")?.slice(0, 64) ?? dealers[0]?.dealerId ?? "",
    skuCode: url.searchParams.get("skuCode")?.slice(0, 64) ?? "",
    quantity: url.searchParams.get("quantity")?.slice(0, 20) ?? "1",
    on: url.searchParams.get("on")?.slice(0, 10) ?? today,
  };
  const base: { dealers: { value: string; label: string }[]; values: typeof values; fieldErrors: Record<string, string>; result: null } = {
    dealers: dealers.map((d) => ({ value: d.dealerId, label: d.name })),
    values,
    fieldErrors: {},
    result: null,
  };
  if (!url.searchParams.has("skuCode")) return base;

  const parsed = previewFormSchema.safeParse(values);
  const fieldErrors = parsed.success ? {} : zodFieldErrors(parsed.error);
  let sku = null;
  if (values.skuCode && !fieldErrors.skuCode) {
    sku = (await getSkusByCodes(context.db, organizationId, [values.skuCode])).get(normalizeSkuCode(values.skuCode)) ?? null;
    if (!sku) fieldErrors.skuCode = "unknown_sku";
  }
  // The dealer must be in this core enterprise's network: the select offers only those, and a
  // forged id is a field error here (never another tenant's data).
  if (!fieldErrors.dealerId && !dealers.some((d) => d.dealerId === values.dealerId)) fieldErrors.dealerId = "not_in_network";
  if (!parsed.success || !sku || Object.keys(fieldErrors).length) {
    return data({ ...base, fieldErrors }, { status: 422 });
  }
  const [quote] = await quotePrices(context.db, {
    coreEnterpriseId: organizationId,
    dealerId: parsed.data.dealerId,
    lines: [{ skuId: sku.id, quantity: parsed.data.quantity }],
    // Noon in Shanghai on the chosen business date.
    on: new Date(`${parsed.data.on}T12:00:00+08:00`),
  });
  const totalFen = quote.unitPriceFen * quote.quantity;
  return {
    ...base,
    result: {
      sku: { code: sku.code, name: sku.name, spec: sku.spec, unit: sku.unit, moq: sku.moq, packSize: sku.packSize },
      dealerName: dealers.find((d) => d.dealerId === parsed.data.dealerId)?.name ?? "",
      quantity: quote.quantity,
      on: parsed.data.on,
      unitPriceFen: quote.unitPriceFen,
      basePriceFen: quote.basePriceFen,
      taxRate: formatPercentBps(quote.taxRateBps),
      totalFen: Number.isSafeInteger(totalFen) ? totalFen : null,
      rule: quote.rule,
      explanation: quote.explanation,
    },
  };
}

export default function PricePreview() {
  const { dealers, values, fieldErrors, result } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="sc-page">
      <p>
        <Link to="/pricing">← {t("pricing.back")}</Link>
      </p>
      <h1>{t("pricing.previewTitle")}</h1>
      <p className="subtle">{t("pricing.previewIntro")}</p>
      <section className="panel">
        {dealers.length === 0 ? (
          <p className="empty">{t("pricing.previewNoDealers")}</p>
        ) : (
          <Form method="get" noValidate>
            <div className="sc-grid">
              <SelectField name="dealerId" label={t("pricing.dealer")} required options={dealers} defaultValue={values.dealerId} error={fieldErrors.dealerId} />
              <TextField name="skuCode" label={t("catalog.field.code")} required defaultValue={values.skuCode} error={fieldErrors.skuCode} maxLength={64} placeholder="HT-KFR-35GW-A1" />
              <TextField name="quantity" label={t("pricing.quantity")} required inputMode="numeric" defaultValue={values.quantity} error={fieldErrors.quantity} />
              <TextField name="on" label={t("pricing.onDate")} type="date" required defaultValue={values.on} error={fieldErrors.on} />
            </div>
            <button type="submit" className="sc-button">
              {t("pricing.previewSubmit")}
            </button>
          </Form>
        )}
      </section>

      {result ? (
        <section className="panel sc-why" aria-labelledby="result-heading" data-testid="preview-result">
          <h2 id="result-heading">
            {result.dealerName} · <span className="mono">{result.sku.code}</span> · {result.quantity} {result.sku.unit} · {result.on}
          </h2>
          <div className="figures">
            <div className="figure">
              <span className="figure-label">{t("pricing.unitPrice")}</span>
              <span className="figure-value num" data-testid="unit-price">
                {formatFen(result.unitPriceFen, locale)}
              </span>
            </div>
            <div className="figure">
              <span className="figure-label">{t("pricing.lineTotal")}</span>
              <span className="figure-value num">{result.totalFen === null ? "—" : formatFen(result.totalFen, locale)}</span>
            </div>
            <div className="figure">
              <span className="figure-label">{t("catalog.field.basePrice")}</span>
              <span className="figure-value num">{formatFen(result.basePriceFen, locale)}</span>
            </div>
            <div className="figure">
              <span className="figure-label">{t("catalog.field.taxRate")}</span>
              <span className="figure-value num">{result.taxRate}</span>
            </div>
          </div>
          <h3>{t("pricing.whyThisPrice")}</h3>
          <p>
            <RuleTag rule={result.rule} /> <PriceExplanation explanation={result.explanation} unit={result.sku.unit} />
          </p>
          <ol className="small">
            {RULE_ORDER.map((rule) => (
              <li key={rule} style={{ fontWeight: rule === result.rule ? 600 : 400, color: rule === result.rule ? undefined : "var(--ink-faint)" }}>
                {t(`pricing.rule.${rule}` as const)} {rule === result.rule ? `✓ ${t("pricing.applied")}` : null}
              </li>
            ))}
          </ol>
          <p className="sc-muted">{t("pricing.taxInclusive")}</p>
        </section>
      ) : null}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
