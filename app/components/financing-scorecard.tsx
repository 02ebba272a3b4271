import { SCORECARD_BANDS, type ScorecardFeatures, type ScoreRow } from "~/domain/financing";
import { formatFen, formatInteger, formatPercentBps, type Locale, type Translate } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/**
 * The dealer scorecard on a financing application (bank view): each feature with its value, the
 * band it falls in, the band's points, the weight and the contribution, then the score and the
 * proposed limit. Presentational: the loader passes `proposeLimit`'s answer as it is.
 */

export interface ScorecardData {
  /** YYYY-MM-DD, the Shanghai business day the history was read as of. */
  asOf: string;
  features: ScorecardFeatures;
  result: { rows: readonly ScoreRow[]; scoreHundredths: number; proposedLimitFen: number };
}

type Unit = (typeof SCORECARD_BANDS)[number]["unit"];

const FEATURE_LABEL = {
  orderVolume12mFen: "financing.scorecard.feature.orderVolume12mFen",
  onTimeRepaymentRatioBps: "financing.scorecard.feature.onTimeRepaymentRatioBps",
  longestOverdueDays: "financing.scorecard.feature.longestOverdueDays",
  tenureMonths: "financing.scorecard.feature.tenureMonths",
} as const;

/** Score points held as integer hundredths → "72.50", without a float. */
function hundredths(value: number): string {
  const whole = (value - (value % 100)) / 100;
  return `${whole}.${String(value % 100).padStart(2, "0")}`;
}

function formatValue(t: Translate, locale: Locale, unit: Unit, value: number): string {
  switch (unit) {
    case "fen":
      return formatFen(value, locale);
    case "bps":
      return formatPercentBps(value, locale);
    case "days":
      return t("financing.scorecard.days", { count: formatInteger(value, locale) });
    case "months":
      return t("financing.scorecard.months", { count: formatInteger(value, locale) });
  }
}

export function Scorecard({ data }: { data: ScorecardData }) {
  const t = useT();
  const locale = useLocale();
  const { features, result } = data;
  const noRepaymentHistory = features.onAccountOrders === 0;
  const overdueRefused = SCORECARD_BANDS.find((b) => b.feature === "longestOverdueDays")?.bands.find((b) => b.points === 0);
  return (
    <section className="fin-scorecard" data-testid="scorecard">
      <h2>{t("financing.scorecard.title")}</h2>
      <p className="sc-muted">{t("financing.scorecard.asOf", { date: data.asOf })}</p>
      <div className="table-wrap">
        <table className="data">
          <thead>
            <tr>
              <th scope="col">{t("financing.scorecard.col.feature")}</th>
              <th scope="col">{t("financing.scorecard.col.value")}</th>
              <th scope="col">{t("financing.scorecard.col.band")}</th>
              <th scope="col" className="num">
                {t("financing.scorecard.col.points")}
              </th>
              <th scope="col" className="num">
                {t("financing.scorecard.col.weight")}
              </th>
              <th scope="col" className="num">
                {t("financing.scorecard.col.contribution")}
              </th>
            </tr>
          </thead>
          <tbody>
            {result.rows.map((row) => {
              const spec = SCORECARD_BANDS.find((b) => b.feature === row.feature);
              if (!spec) return null;
              const isRatio = spec.feature === "onTimeRepaymentRatioBps";
              const neutral = isRatio && noRepaymentHistory;
              const band = neutral ? undefined : spec.bands.find((b) => row.value >= b.min && (b.max === null || row.value <= b.max));
              const label = spec.feature in FEATURE_LABEL ? t(FEATURE_LABEL[spec.feature as keyof typeof FEATURE_LABEL]) : spec.feature;
              return (
                <tr key={spec.feature} data-feature={spec.feature}>
                  <th scope="row">{label}</th>
                  <td data-value={row.value}>
                    {neutral ? t("financing.scorecard.noHistory") : formatValue(t, locale, spec.unit, row.value)}
                    {isRatio && !neutral ? (
                      <>
                        <br />
                        <span className="sc-muted">{t("financing.scorecard.onAccountOrders", { count: formatInteger(features.onAccountOrders, locale) })}</span>
                      </>
                    ) : null}
                  </td>
                  <td>
                    {band
                      ? band.max === null
                        ? t("financing.scorecard.bandFrom", { min: formatValue(t, locale, spec.unit, band.min) })
                        : t("financing.scorecard.bandRange", { min: formatValue(t, locale, spec.unit, band.min), max: formatValue(t, locale, spec.unit, band.max) })
                      : "—"}
                  </td>
                  <td className="num">{formatInteger(row.points, locale)}</td>
                  <td className="num">{formatPercentBps(row.weightBps, locale)}</td>
                  <td className="num">{hundredths(row.contribution)}</td>
                </tr>
              );
            })}
          </tbody>
          <tfoot>
            <tr data-testid="scorecard-score">
              <th scope="row" colSpan={5}>
                {t("financing.scorecard.score")}
              </th>
              <td className="num">{t("financing.scorecard.scoreOutOf", { score: hundredths(result.scoreHundredths) })}</td>
            </tr>
            <tr data-testid="scorecard-limit">
              <th scope="row" colSpan={5}>
                {t("financing.scorecard.proposedLimit")}
                <br />
                <span className="sc-muted">{t("financing.scorecard.limitRule")}</span>
              </th>
              <td className="num" data-fen={result.proposedLimitFen}>
                {formatFen(result.proposedLimitFen, locale)}
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
      {overdueRefused && features.longestOverdueDays >= overdueRefused.min ? (
        <p className="warn" data-testid="scorecard-refused">
          {t("financing.scorecard.refusedOverdue", { days: formatInteger(overdueRefused.min - 1, locale) })}
        </p>
      ) : null}
      <p className="sc-muted">{t("financing.scorecard.hint")}</p>
    </section>
  );
}
