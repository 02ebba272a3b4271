import type { ReactNode } from "react";
import { formatDate, formatFen, translateDynamic } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/**
 * Building blocks of the order-financing page and the loan page: rates, tags, the schedule table
 * and a repayment's allocation. Presentational only: everything arrives from the loaders.
 */

export function Money({ fen, testId }: { fen: number; testId?: string }) {
  const locale = useLocale();
  return (
    <span className="num" data-testid={testId}>
      {formatFen(fen, locale)}
    </span>
  );
}

export function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** "current" is worded; M1…M3+ read the same in both languages. */
export function bucketText(locale: ReturnType<typeof useLocale>, bucket: string): string {
  return translateDynamic(locale, `financing.bucket.${bucket}`, bucket);
}

export type InstalmentState = "paid" | "due" | "overdue" | "upcoming";

export interface ScheduleRow {
  seq: number;
  dueOn: string;
  days: number;
  principalFen: number;
  interestFen: number;
  /** Absent on a preview (nothing can be paid yet). */
  principalPaidFen?: number;
  interestPaidFen?: number;
}

/** A row's state on `today` (a business date): paid in full, due today, past due with something unpaid, or later. */
export function instalmentState(row: ScheduleRow, today: string): InstalmentState {
  const unpaid = row.principalFen - (row.principalPaidFen ?? 0) + row.interestFen - (row.interestPaidFen ?? 0);
  if (unpaid <= 0) return "paid";
  if (row.dueOn < today) return "overdue";
  if (row.dueOn === today) return "due";
  return "upcoming";
}

/**
 * The schedule: one row an instalment with its total, and a totals row. With `today`, the
 * instalments' paid amounts and a state per row (the loan page); without, a preview.
 */
export function ScheduleTable({ rows, today, testId }: { rows: readonly ScheduleRow[]; today?: string; testId?: string }) {
  const t = useT();
  const locale = useLocale();
  const withPaid = today !== undefined;
  const sum = (pick: (r: ScheduleRow) => number) => rows.reduce((s, r) => s + pick(r), 0);
  const totalDays = sum((r) => r.days);
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col" className="num">
              {t("financing.loan.col.seq")}
            </th>
            <th scope="col">{t("financing.loan.col.dueOn")}</th>
            <th scope="col" className="num">
              {t("financing.loan.col.days")}
            </th>
            <th scope="col" className="num">
              {t("financing.loan.col.principal")}
            </th>
            <th scope="col" className="num">
              {t("financing.loan.col.interest")}
            </th>
            <th scope="col" className="num">
              {t("financing.loan.col.total")}
            </th>
            {withPaid ? (
              <>
                <th scope="col" className="num">
                  {t("financing.loan.col.paid")}
                </th>
                <th scope="col">{t("financing.loan.col.state")}</th>
              </>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const state = withPaid ? instalmentState(r, today) : null;
            return (
              <tr key={r.seq} data-state={state ?? undefined}>
                <td className="num">{r.seq}</td>
                <td className="nowrap">{formatDate(r.dueOn, locale)}</td>
                <td className="num">{r.days}</td>
                <td className="num">{formatFen(r.principalFen, locale)}</td>
                <td className="num">{formatFen(r.interestFen, locale)}</td>
                <td className="num">{formatFen(r.principalFen + r.interestFen, locale)}</td>
                {withPaid ? (
                  <>
                    <td className="num">{formatFen((r.principalPaidFen ?? 0) + (r.interestPaidFen ?? 0), locale)}</td>
                    <td>
                      <span className={`sc-state fl-instalment ${state}`}>{t(`financing.loan.instalment.${state!}`)}</span>
                    </td>
                  </>
                ) : null}
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={2}>
              {t("financing.loan.totals")}
            </th>
            <td className="num">{totalDays}</td>
            <td className="num">{formatFen(sum((r) => r.principalFen), locale)}</td>
            <td className="num" data-testid={testId ? `${testId}-interest-total` : undefined}>
              {formatFen(sum((r) => r.interestFen), locale)}
            </td>
            <td className="num">{formatFen(sum((r) => r.principalFen + r.interestFen), locale)}</td>
            {withPaid ? (
              <>
                <td className="num">{formatFen(sum((r) => (r.principalPaidFen ?? 0) + (r.interestPaidFen ?? 0)), locale)}</td>
                <td />
              </>
            ) : null}
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

/** A repayment's allocation: the components it paid, in the allocation order, zeros left out. */
export function AllocationCell({ allocation, order }: { allocation: Record<string, number>; order: readonly string[] }) {
  const locale = useLocale();
  const parts = order.filter((c) => (allocation[c] ?? 0) > 0);
  if (parts.length === 0) return <span>—</span>;
  return (
    <ul className="fl-allocation">
      {parts.map((c) => (
        <li key={c}>
          {translateDynamic(locale, `financing.loan.component.${c}`, c)} <span className="num">{formatFen(allocation[c]!, locale)}</span>
        </li>
      ))}
    </ul>
  );
}

/** Problems of a failed form, each a message key (or text shown as given), in one alert. */
export function ProblemList({ problems, testId }: { problems: readonly string[]; testId?: string }) {
  const locale = useLocale();
  if (problems.length === 0) return null;
  return (
    <div className="sc-form-error" role="alert" data-testid={testId}>
      <ul>
        {problems.map((p, i) => (
          <li key={i}>{translateDynamic(locale, p, p)}</li>
        ))}
      </ul>
    </div>
  );
}

/** A field's problem, shown under it (the key translated). */
export function FieldProblem({ id, problem }: { id: string; problem: string | undefined }) {
  const locale = useLocale();
  if (!problem) return null;
  return (
    <p className="field-error" id={id} data-testid={id}>
      {translateDynamic(locale, problem, problem)}
    </p>
  );
}
