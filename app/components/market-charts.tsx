import { formatFen, formatPercentBps, type Locale } from "~/i18n";

/**
 * Charts of the market dashboard, drawn as SVG on the server: they need no JavaScript and no chart
 * library. Each chart is an image with a <title> and <desc> (role="img", aria-labelledby) and every
 * bar carries its exact figure in a <title> (a tooltip on hover); the page puts the same numbers in
 * a table beside it for screen readers and for copying.
 *
 * Amounts are integer fen throughout. Axis ticks are whole yuan (multiples of 100 fen), so a tick
 * label is exact; only the compact display ("1.2万", "12K") rounds, and it is a label, not a figure.
 * The viewBox scales with the page width (sizes below are in viewBox units) down to a minimum
 * width set in the stylesheet; below it the chart scrolls sideways rather than shrink its text.
 */

export interface DailyPoint {
  /** 'YYYY-MM-DD' */
  day: string;
  amountFen: number;
  count: number;
}

export interface RankedItem {
  label: string;
  amountFen: number;
}

/** The smallest "nice" step (1, 2 or 5 × 10^k, at least `minStep`) that covers `max` in about `ticks` steps. */
export function niceStep(max: number, ticks: number, minStep: number): number {
  if (max <= 0) return minStep;
  const raw = max / ticks;
  let magnitude = 1;
  while (magnitude * 10 <= raw) magnitude *= 10;
  for (const m of [1, 2, 5, 10]) {
    const step = m * magnitude;
    if (step >= raw) return Math.max(step, minStep);
  }
  return Math.max(10 * magnitude, minStep);
}

function intlLocale(locale: Locale): string {
  return locale === "en" ? "en-GB" : "zh-CN";
}

/** A tick amount (whole yuan) as a short label: "¥1.2万" in Chinese, "¥12K" in English. */
export function compactYuan(fen: number, locale: Locale): string {
  const yuan = Math.round(fen / 100);
  return `¥${new Intl.NumberFormat(intlLocale(locale), {
    notation: "compact",
    maximumFractionDigits: 1,
  }).format(yuan)}`;
}

/** A business day as a short axis label: "3月5日", "5 Mar". */
export function shortDay(day: string, locale: Locale): string {
  return new Intl.DateTimeFormat(intlLocale(locale), {
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  }).format(new Date(`${day}T00:00:00Z`));
}

/** A share as "45.2%" (display only). */
export function percentText(part: number, total: number): string {
  if (total <= 0) return formatPercentBps(0);
  const permille = Math.round((part * 1000) / total);
  return formatPercentBps(permille * 10);
}

/** Rough width of a label in viewBox units: CJK and full-width characters are about 1em, others about 0.6em. */
function textWidth(text: string, fontSize: number): number {
  let width = 0;
  for (const ch of text) width += /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/.test(ch) ? fontSize : fontSize * 0.6;
  return width;
}

function fitText(text: string, maxWidth: number, fontSize: number): string {
  if (textWidth(text, fontSize) <= maxWidth) return text;
  let out = "";
  for (const ch of text) {
    if (textWidth(`${out}${ch}…`, fontSize) > maxWidth) break;
    out += ch;
  }
  return `${out}…`;
}

const FONT = 12;

/**
 * Per-day amounts as bars (left axis, yuan) with the count per day as a line (right axis).
 * `labels.count(n)` words a count ("5 笔"); `emptyText` is drawn across an all-zero range.
 */
export function DailyAmountChart(props: {
  id: string;
  title: string;
  description: string;
  points: readonly DailyPoint[];
  locale: Locale;
  labels: {
    amount: string;
    count: string;
    countValue: (n: number) => string;
    empty: string;
  };
}) {
  const { id, points, locale, labels } = props;
  const width = 960;
  const height = 310;
  const margin = { top: 34, right: 44, bottom: 40, left: 68 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const n = Math.max(points.length, 1);
  const maxAmount = points.reduce((m, p) => Math.max(m, p.amountFen), 0);
  const maxCount = points.reduce((m, p) => Math.max(m, p.count), 0);
  const amountStep = niceStep(maxAmount, 4, 100);
  const amountTop = Math.max(amountStep * Math.ceil(maxAmount / amountStep), amountStep * 4);
  const countStep = niceStep(maxCount, 4, 1);
  const countTop = Math.max(countStep * Math.ceil(maxCount / countStep), countStep * 4);
  const band = plotW / n;
  const barW = Math.max(Math.min(band * 0.72, 48), 1);
  const x0 = margin.left;
  const yBase = margin.top + plotH;
  const yAmount = (fen: number) => yBase - (fen / amountTop) * plotH;
  const yCount = (c: number) => yBase - (c / countTop) * plotH;
  const cx = (i: number) => x0 + band * i + band / 2;
  // About one label per 70 units, always the first day; the last one only when it has that room too.
  const labelGap = 70;
  const labelEvery = Math.max(1, Math.ceil(n / Math.floor(plotW / labelGap)));
  const labelled = new Set<number>();
  let lastLabelled = 0;
  for (let i = 0; i < n; i += labelEvery) {
    labelled.add(i);
    lastLabelled = i;
  }
  if ((n - 1 - lastLabelled) * band >= labelGap) labelled.add(n - 1);
  const amountTicks: number[] = [];
  for (let v = 0; v <= amountTop; v += amountStep) amountTicks.push(v);
  const countTicks: number[] = [];
  for (let v = 0; v <= countTop; v += countStep) countTicks.push(v);
  const linePoints = points.map((p, i) => `${cx(i).toFixed(1)},${yCount(p.count).toFixed(1)}`).join(" ");
  const empty = maxAmount === 0 && maxCount === 0;
  return (
    <div className="md-chart-scroll">
      <svg
        className="md-chart md-daily"
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        preserveAspectRatio="xMidYMid meet"
        data-testid="daily-chart"
      >
        <title id={`${id}-title`}>{props.title}</title>
        <desc id={`${id}-desc`}>{props.description}</desc>
        <g className="md-grid" aria-hidden="true">
          {amountTicks.map((v) => (
            <line key={v} x1={x0} x2={x0 + plotW} y1={yAmount(v)} y2={yAmount(v)} />
          ))}
        </g>
        <g className="md-axis md-axis-left" aria-hidden="true" fontSize={FONT}>
          {amountTicks.map((v) => (
            <text key={v} x={x0 - 8} y={yAmount(v)} textAnchor="end" dominantBaseline="middle">
              {compactYuan(v, locale)}
            </text>
          ))}
          <text x={x0 - 8} y={margin.top - 20} textAnchor="end" className="md-axis-title" fontSize={FONT - 1}>
            {labels.amount}
          </text>
        </g>
        <g className="md-axis md-axis-right" aria-hidden="true" fontSize={FONT}>
          {countTicks.map((v) => (
            <text key={v} x={x0 + plotW + 8} y={yCount(v)} textAnchor="start" dominantBaseline="middle">
              {v}
            </text>
          ))}
          <text x={x0 + plotW + 8} y={margin.top - 20} textAnchor="start" className="md-axis-title" fontSize={FONT - 1}>
            {labels.count}
          </text>
        </g>
        <g className="md-bars">
          {points.map((p, i) => {
            const y = yAmount(p.amountFen);
            return (
              <rect key={p.day} x={cx(i) - barW / 2} y={y} width={barW} height={Math.max(yBase - y, 0)} className="md-bar" fill="#1f4e79">
                <title>{`${p.day}: ${formatFen(p.amountFen, locale)}, ${labels.countValue(p.count)}`}</title>
              </rect>
            );
          })}
        </g>
        {points.length > 1 ? (
          <polyline className="md-line" points={linePoints} fill="none" stroke="#c8731e" strokeWidth={2} aria-hidden="true" />
        ) : null}
        {n <= 62
          ? points.map((p, i) => (
              <circle key={p.day} cx={cx(i)} cy={yCount(p.count)} r={n <= 31 ? 3.5 : 2.5} className="md-dot" fill="#c8731e" aria-hidden="true">
                <title>{`${p.day}: ${labels.countValue(p.count)}`}</title>
              </circle>
            ))
          : null}
        <line className="md-baseline" x1={x0} x2={x0 + plotW} y1={yBase} y2={yBase} aria-hidden="true" />
        <g className="md-axis md-axis-bottom" aria-hidden="true" fontSize={FONT}>
          {points.map((p, i) =>
            labelled.has(i) ? (
              <g key={p.day}>
                <line x1={cx(i)} x2={cx(i)} y1={yBase} y2={yBase + 4} className="md-tick" />
                <text x={cx(i)} y={yBase + 18} textAnchor="middle">
                  {shortDay(p.day, locale)}
                </text>
              </g>
            ) : null
          )}
        </g>
        {empty ? (
          <text x={x0 + plotW / 2} y={margin.top + plotH / 2} textAnchor="middle" className="md-empty" fontSize={FONT + 4}>
            {labels.empty}
          </text>
        ) : null}
      </svg>
    </div>
  );
}

/**
 * A ranking as horizontal bars: the name on the left (shortened with … when too long, in full in
 * the bar's <title>), the bar scaled to the first item, the amount and the share of `totalFen` on
 * the right.
 */
export function RankedBars(props: {
  id: string;
  title: string;
  description: string;
  items: readonly RankedItem[];
  totalFen: number;
  locale: Locale;
  testId?: string;
}) {
  const { id, items, totalFen, locale } = props;
  const width = 560;
  const rowH = 36;
  const labelW = 150;
  const valueW = 165;
  const gap = 8;
  const barX = labelW + gap;
  const barMaxW = width - barX - valueW - gap;
  const height = Math.max(items.length, 1) * rowH + 4;
  const maxAmount = items.reduce((m, it) => Math.max(m, it.amountFen), 0);
  return (
    <div className="md-chart-scroll">
      <svg
        className="md-chart md-ranked"
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        preserveAspectRatio="xMinYMin meet"
        data-testid={props.testId}
      >
        <title id={`${id}-title`}>{props.title}</title>
        <desc id={`${id}-desc`}>{props.description}</desc>
        {items.map((it, i) => {
          const y = i * rowH + 4;
          const w = maxAmount > 0 ? Math.max((it.amountFen / maxAmount) * barMaxW, 2) : 2;
          const value = `${formatFen(it.amountFen, locale)} · ${percentText(it.amountFen, totalFen)}`;
          return (
            <g key={`${i}-${it.label}`} className="md-row">
              <title>{`${it.label}: ${value}`}</title>
              <text x={labelW} y={y + rowH / 2 - 2} textAnchor="end" dominantBaseline="middle" fontSize={FONT + 2} className="md-label">
                {fitText(it.label, labelW - 4, FONT + 2)}
              </text>
              <rect x={barX} y={y + 6} width={w} height={rowH - 16} rx={3} className="md-hbar" fill="#1f4e79" opacity={1 - i * 0.12} />
              <text x={width - 2} y={y + rowH / 2 - 2} textAnchor="end" dominantBaseline="middle" fontSize={FONT + 1} className="md-value">
                {value}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
