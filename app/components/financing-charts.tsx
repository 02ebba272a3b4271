import type { PortfolioHistory } from "~/domain/financing";
import { formatDate, formatFen } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";
import { compactYuan, niceStep } from "./market-charts";

/**
 * The bank's portfolio over time, drawn as SVG on the server in the manner of market-charts.tsx
 * (no JavaScript, no chart library): outstanding principal at each day's end as a line, the overdue
 * part of it as a filled area under it, one shared axis in yuan. The image has a <title> and <desc>
 * naming the range and the last day's figures, every day's dot carries its exact figures in a
 * <title>, and a visually hidden table gives every day for screen readers.
 *
 * Amounts are integer fen; ticks are whole yuan (niceStep's minimum of 100 fen), so only the
 * compact tick text rounds. Colours are attributes, so the chart draws without any stylesheet.
 */

const FONT = 12;
const OUTSTANDING_COLOUR = "#1f4e79";
const OVERDUE_COLOUR = "#b42318";

export function PortfolioChart(props: {
  history: PortfolioHistory;
  id?: string;
}) {
  const { history } = props;
  const id = props.id ?? "portfolio-history";
  const locale = useLocale();
  const t = useT();
  const points = history.points;
  const width = 960;
  const height = 320;
  const margin = { top: 44, right: 28, bottom: 40, left: 72 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const n = points.length;
  const maxFen = points.reduce((m, p) => Math.max(m, p.outstandingFen), 0);
  const step = niceStep(maxFen, 4, 100);
  const top = Math.max(step * Math.ceil(maxFen / step), step * 4);
  const x0 = margin.left;
  const yBase = margin.top + plotH;
  const x = (i: number) =>
    n <= 1 ? x0 + plotW / 2 : x0 + (plotW * i) / (n - 1);
  const y = (fen: number) => yBase - (fen / top) * plotH;
  const ticks: number[] = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  // A full date is about 10 characters in either language: one label per ~120 units, the first
  // always, the last only when it has that room too.
  const labelGap = 120;
  const labelEvery = Math.max(
    1,
    Math.ceil(n / Math.max(1, Math.floor(plotW / labelGap)))
  );
  const labelled = new Set<number>();
  let lastLabelled = 0;
  for (let i = 0; i < n; i += labelEvery) {
    labelled.add(i);
    lastLabelled = i;
  }
  if (n > 1 && x(n - 1) - x(lastLabelled) >= labelGap) labelled.add(n - 1);
  const line = (value: (i: number) => number) =>
    points
      .map((_, i) => `${x(i).toFixed(1)},${y(value(i)).toFixed(1)}`)
      .join(" ");
  const outstandingLine = line((i) => points[i]!.outstandingFen);
  const overdueLine = line((i) => points[i]!.overdueFen);
  const overdueArea =
    n > 0
      ? `${x(0).toFixed(1)},${yBase.toFixed(1)} ${overdueLine} ${x(
          n - 1
        ).toFixed(1)},${yBase.toFixed(1)}`
      : "";
  const last = points[n - 1];
  const empty = maxFen === 0;
  const description = t("financing.chart.desc", {
    from: formatDate(history.from, locale),
    to: formatDate(history.through, locale),
    outstanding: formatFen(last?.outstandingFen ?? 0, locale),
    overdue: formatFen(last?.overdueFen ?? 0, locale),
  });
  return (
    <div className="financing-chart">
      <div className="md-chart-scroll">
        <svg
          className="md-chart financing-history-chart"
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby={`${id}-title ${id}-desc`}
          preserveAspectRatio="xMidYMid meet"
          data-testid="portfolio-chart"
          style={{ width: "100%", height: "auto" }}
        >
          <title id={`${id}-title`}>{t("financing.chart.title")}</title>
          <desc id={`${id}-desc`}>{description}</desc>
          <g className="md-legend" aria-hidden="true" fontSize={FONT}>
            <line
              x1={x0}
              x2={x0 + 18}
              y1={12}
              y2={12}
              stroke={OUTSTANDING_COLOUR}
              strokeWidth={2.5}
            />
            <text x={x0 + 24} y={12} dominantBaseline="middle">
              {t("financing.chart.outstanding")}
            </text>
            <rect
              x={x0 + 140}
              y={6}
              width={18}
              height={12}
              fill={OVERDUE_COLOUR}
              opacity={0.35}
              stroke={OVERDUE_COLOUR}
            />
            <text x={x0 + 164} y={12} dominantBaseline="middle">
              {t("financing.chart.overdue")}
            </text>
          </g>
          <g
            className="md-grid"
            aria-hidden="true"
            stroke="#d0d7de"
            strokeWidth={1}
          >
            {ticks.map((v) => (
              <line key={v} x1={x0} x2={x0 + plotW} y1={y(v)} y2={y(v)} />
            ))}
          </g>
          <g
            className="md-axis md-axis-left"
            aria-hidden="true"
            fontSize={FONT}
            fill="#57606a"
          >
            {ticks.map((v) => (
              <text
                key={v}
                x={x0 - 8}
                y={y(v)}
                textAnchor="end"
                dominantBaseline="middle"
              >
                {compactYuan(v, locale)}
              </text>
            ))}
            {/* From the left edge: anchored at the axis, a longer title (English) ran off the image. */}
            <text
              x={4}
              y={margin.top - 16}
              textAnchor="start"
              className="md-axis-title"
              fontSize={FONT - 1}
            >
              {t("financing.chart.amountAxis")}
            </text>
          </g>
          {n > 0 ? (
            <polygon
              className="financing-overdue-area"
              points={overdueArea}
              fill={OVERDUE_COLOUR}
              opacity={0.35}
              aria-hidden="true"
            />
          ) : null}
          {n > 1 ? (
            <>
              <polyline
                className="financing-overdue-line"
                points={overdueLine}
                fill="none"
                stroke={OVERDUE_COLOUR}
                strokeWidth={1.5}
                aria-hidden="true"
              />
              <polyline
                className="financing-outstanding-line"
                points={outstandingLine}
                fill="none"
                stroke={OUTSTANDING_COLOUR}
                strokeWidth={2.5}
                aria-hidden="true"
              />
            </>
          ) : null}
          {n <= 62
            ? points.map((p, i) => (
                <circle
                  key={p.businessDate}
                  cx={x(i)}
                  cy={y(p.outstandingFen)}
                  r={n <= 31 ? 3.5 : 2.5}
                  fill={OUTSTANDING_COLOUR}
                  className="financing-dot"
                  aria-hidden="true"
                >
                  <title>{`${formatDate(p.businessDate, locale)}: ${t(
                    "financing.chart.outstanding"
                  )} ${formatFen(p.outstandingFen, locale)}, ${t(
                    "financing.chart.overdue"
                  )} ${formatFen(p.overdueFen, locale)}, ${t(
                    "financing.chart.interest"
                  )} ${formatFen(p.interestFen, locale)}`}</title>
                </circle>
              ))
            : null}
          <line
            className="md-baseline"
            x1={x0}
            x2={x0 + plotW}
            y1={yBase}
            y2={yBase}
            stroke="#57606a"
            aria-hidden="true"
          />
          <g
            className="md-axis md-axis-bottom"
            aria-hidden="true"
            fontSize={FONT}
            fill="#57606a"
          >
            {points.map((p, i) =>
              labelled.has(i) ? (
                <g key={p.businessDate}>
                  <line
                    x1={x(i)}
                    x2={x(i)}
                    y1={yBase}
                    y2={yBase + 4}
                    stroke="#57606a"
                  />
                  <text
                    x={x(i)}
                    y={yBase + 18}
                    textAnchor={
                      i === 0 && n > 1
                        ? "start"
                        : i === n - 1 && n > 1
                        ? "end"
                        : "middle"
                    }
                  >
                    {formatDate(p.businessDate, locale)}
                  </text>
                </g>
              ) : null
            )}
          </g>
          {empty ? (
            <text
              x={x0 + plotW / 2}
              y={margin.top + plotH / 2}
              textAnchor="middle"
              className="md-empty"
              fontSize={FONT + 4}
              fill="#57606a"
            >
              {t("financing.chart.empty")}
            </text>
          ) : null}
        </svg>
      </div>
      {/* A table ignores width: 1px; its box is what is hidden (otherwise it widens a phone's page). */}
      <div className="visually-hidden">
        <table data-testid="portfolio-chart-table">
          <caption>{t("financing.chart.tableCaption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("financing.chart.date")}</th>
              <th scope="col">{t("financing.chart.outstanding")}</th>
              <th scope="col">{t("financing.chart.overdue")}</th>
              <th scope="col">{t("financing.chart.interest")}</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.businessDate}>
                <th scope="row">{formatDate(p.businessDate, locale)}</th>
                <td>{formatFen(p.outstandingFen, locale)}</td>
                <td>{formatFen(p.overdueFen, locale)}</td>
                <td>{formatFen(p.interestFen, locale)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
