import type { ReactNode } from "react";
import { formatFen, formatPercentBps, formatRatePpm, translateDynamic, type Locale } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";
import { MoneyCell, productKindLabel } from "~/components/financing-ui";

/**
 * Presentational pieces of the bank's credit administration pages (/financing/facilities and
 * /financing/products): the facility and product tables, the LPR history, and the form fields
 * with their errors. Server-rendered, no client JS needed; labels are `financing.admin.*` keys.
 */

/** Field errors are keyed by the domain's field names (limit_fen, effective_on…), values are codes or the domain's short detail. */
export type FieldErrors = Readonly<Record<string, string>>;

/** A code or a domain detail ("below what is in use") in the reader's words; unknown ones as written. */
export function adminErrorText(locale: Locale, code: string): string {
  return translateDynamic(locale, `financing.admin.error.${code.trim().replace(/[^a-z0-9]+/gi, "_")}`, code);
}

/** The aria attributes of an input whose error (if any) is rendered by `Field` under the same id. */
export function ariaFor(id: string, error: string | undefined): { "aria-invalid"?: true; "aria-describedby"?: string } {
  return error ? { "aria-invalid": true, "aria-describedby": `${id}-error` } : {};
}

/** A labelled field; its error, when there is one, names the domain field in `data-field`. */
export function Field({ id, label, field, error, hint, wide, children }: { id: string; label: string; field: string; error?: string; hint?: string; wide?: boolean; children: ReactNode }) {
  const locale = useLocale();
  return (
    <div className={wide ? "sc-field wide" : "sc-field"}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? <p className="hint">{hint}</p> : null}
      {error ? (
        <p className="field-error" id={`${id}-error`} data-field={field}>
          {label}: {adminErrorText(locale, error)}
        </p>
      ) : null}
    </div>
  );
}

export function FormError({ message, testId }: { message: string | null | undefined; testId: string }) {
  if (!message) return null;
  return (
    <p className="sc-form-error" role="alert" data-testid={testId}>
      {message}
    </p>
  );
}

/** A facility as the admin tables show it: the party's name, limit, used (reservations included), available. */
export interface AdminFacilityView {
  id: string;
  kind: string;
  name: string;
  productName: string | null;
  buyBackDays: number | null;
  validTo: string;
  status: string;
  limitFen: number;
  usedFen: number;
  availableFen: number;
}

export interface AgreementGroupView {
  agreement: AdminFacilityView;
  subs: readonly AdminFacilityView[];
}

function StatusText({ status }: { status: string }) {
  const locale = useLocale();
  return (
    <span className="tag" data-status={status}>
      {translateDynamic(locale, `financing.facilityStatus.${status}`, status)}
    </span>
  );
}

function FigureCells({ f }: { f: AdminFacilityView }) {
  return (
    <>
      <MoneyCell fen={f.limitFen} />
      <MoneyCell fen={f.usedFen} />
      <MoneyCell fen={f.availableFen} />
      <td className="nowrap mono">{f.validTo}</td>
      <td>
        <StatusText status={f.status} />
      </td>
    </>
  );
}

function FigureHeads() {
  const t = useT();
  return (
    <>
      <th scope="col" className="num">
        {t("financing.admin.col.limit")}
      </th>
      <th scope="col" className="num">
        {t("financing.admin.col.used")}
      </th>
      <th scope="col" className="num">
        {t("financing.admin.col.available")}
      </th>
      <th scope="col">{t("financing.admin.col.validTo")}</th>
      <th scope="col">{t("financing.admin.col.status")}</th>
    </>
  );
}

/** Each agreement on its own row, its dealers' sub-limits indented under it. */
export function AgreementTable({ groups }: { groups: readonly AgreementGroupView[] }) {
  const t = useT();
  if (groups.length === 0) return <p className="empty">{t("financing.admin.facilities.noAgreements")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid="agreements">
        <thead>
          <tr>
            <th scope="col">{t("financing.admin.col.party")}</th>
            <FigureHeads />
          </tr>
        </thead>
        {groups.map(({ agreement, subs }) => (
          <tbody key={agreement.id} data-agreement={agreement.id}>
            <tr data-facility={agreement.id} data-kind="guarantee">
              <th scope="rowgroup" style={{ textAlign: "left" }}>
                {agreement.name}
                {agreement.buyBackDays !== null ? <span className="sc-muted small"> · {t("financing.admin.facilities.buyBack", { days: agreement.buyBackDays })}</span> : null}
              </th>
              <FigureCells f={agreement} />
            </tr>
            {subs.length === 0 ? (
              <tr>
                <td colSpan={6} className="sc-muted small" style={{ paddingLeft: "1.5rem" }}>
                  {t("financing.admin.facilities.noSubs")}
                </td>
              </tr>
            ) : (
              subs.map((s) => (
                <tr key={s.id} data-facility={s.id} data-kind="guarantee_sub">
                  <td style={{ paddingLeft: "1.5rem" }}>↳ {s.name}</td>
                  <FigureCells f={s} />
                </tr>
              ))
            )}
          </tbody>
        ))}
      </table>
    </div>
  );
}

export function BorrowerLimitTable({ limits }: { limits: readonly AdminFacilityView[] }) {
  const t = useT();
  if (limits.length === 0) return <p className="empty">{t("financing.admin.facilities.noBorrowerLimits")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid="borrower-limits">
        <thead>
          <tr>
            <th scope="col">{t("financing.admin.col.party")}</th>
            <th scope="col">{t("financing.admin.col.product")}</th>
            <FigureHeads />
          </tr>
        </thead>
        <tbody>
          {limits.map((f) => (
            <tr key={f.id} data-facility={f.id} data-kind="borrower_limit">
              <td>{f.name}</td>
              <td>{f.productName ?? "—"}</td>
              <FigureCells f={f} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface ProductView {
  id: string;
  code: string;
  name: string;
  nameEn: string;
  kind: string;
  status: string;
  rateBasis: "lpr" | "fixed";
  spreadBps: number;
  /** The LPR in force today plus the spread, or the fixed rate; null when no LPR is in force. */
  currentRatePpm: number | null;
  repaymentMethod: string;
  termMonths: number | null;
  termDays: number | null;
  graceDays: number;
  autoApproveLimitFen: number;
  secondApproverLimitFen: number;
  minAmountFen: number;
  maxAmountFen: number;
}

/** "+1.25%" / "-0.2%": the spread's sign always written. */
function signedBps(bps: number, locale: Locale): string {
  return `${bps >= 0 ? "+" : ""}${formatPercentBps(bps, locale)}`;
}

export function ProductTable({ products }: { products: readonly ProductView[] }) {
  const t = useT();
  const locale = useLocale();
  if (products.length === 0) return <p className="empty">{t("financing.admin.products.empty")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid="products">
        <thead>
          <tr>
            <th scope="col">{t("financing.admin.col.code")}</th>
            <th scope="col">{t("financing.admin.col.name")}</th>
            <th scope="col">{t("financing.admin.col.kind")}</th>
            <th scope="col">{t("financing.admin.col.rateBasis")}</th>
            <th scope="col" className="num">
              {t("financing.admin.col.currentRate")}
            </th>
            <th scope="col">{t("financing.admin.col.method")}</th>
            <th scope="col">{t("financing.admin.col.term")}</th>
            <th scope="col" className="num">
              {t("financing.admin.col.grace")}
            </th>
            <th scope="col" className="num">
              {t("financing.admin.col.autoApprove")}
            </th>
            <th scope="col" className="num">
              {t("financing.admin.col.secondApprover")}
            </th>
            <th scope="col" className="num">
              {t("financing.admin.col.amountRange")}
            </th>
          </tr>
        </thead>
        <tbody>
          {products.map((p) => (
            <tr key={p.id} data-product={p.code} data-status={p.status}>
              <td className="mono nowrap">{p.code}</td>
              <td>
                {locale === "en" ? p.nameEn : p.name}
                {p.status !== "active" ? <span className="sc-muted small"> · {t("financing.admin.products.retired")}</span> : null}
              </td>
              <td>{productKindLabel(locale, p.kind)}</td>
              <td className="nowrap">{p.rateBasis === "lpr" ? t("financing.admin.basis.lpr", { spread: signedBps(p.spreadBps, locale) }) : t("financing.admin.basis.fixed")}</td>
              <td className="num" data-testid="current-rate">
                {p.currentRatePpm === null ? <span className="sc-muted">{t("financing.admin.products.noLpr")}</span> : formatRatePpm(p.currentRatePpm, locale)}
              </td>
              <td>{translateDynamic(locale, `financing.loan.method.${p.repaymentMethod}`, p.repaymentMethod)}</td>
              <td className="nowrap">
                {p.termMonths !== null ? t("financing.admin.term.months", { count: p.termMonths }) : p.termDays !== null ? t("financing.admin.term.days", { count: p.termDays }) : "—"}
              </td>
              <td className="num nowrap">{t("financing.admin.days", { count: p.graceDays })}</td>
              <MoneyCell fen={p.autoApproveLimitFen} />
              <MoneyCell fen={p.secondApproverLimitFen} />
              <td className="num">
                {/* Two lines: the table is wide enough already. */}
                {formatFen(p.minAmountFen, locale)}
                <br />– {formatFen(p.maxAmountFen, locale)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The LPR values newest first; the one in force today marked. */
export function LprTable({ rates, inForceOn }: { rates: readonly { ratePpm: number; effectiveOn: string }[]; inForceOn: string | null }) {
  const t = useT();
  const locale = useLocale();
  if (rates.length === 0) return <p className="empty">{t("financing.admin.lpr.empty")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid="lpr-rates">
        <thead>
          <tr>
            <th scope="col">{t("financing.admin.col.effectiveOn")}</th>
            <th scope="col" className="num">
              {t("financing.admin.col.rate")}
            </th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {rates.map((r) => (
            <tr key={r.effectiveOn} data-lpr={r.effectiveOn} data-rate-ppm={r.ratePpm}>
              <td className="mono nowrap">{r.effectiveOn}</td>
              <td className="num">{formatRatePpm(r.ratePpm, locale)}</td>
              <td>{r.effectiveOn === inForceOn ? <span className="tag" data-status="active">{t("financing.admin.lpr.inForce")}</span> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
