import { Link } from "@remix-run/react";
import type { CSSProperties, ReactNode } from "react";
import { formatDateTime, formatFen, formatInteger, formatPercentBps, formatRatePpm, isMessageKey, translateDynamic, translateWithParams, type Locale } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";
import type { ApplicationView } from "~/domain/financing";

/**
 * Presentational pieces of the financing pages (the bank's console, the borrower's and the
 * guarantor's overviews, the loan and apply pages). Everything here renders server-side and needs
 * no client JS; labels are catalogue keys `financing.*`, with the raw code as the fallback.
 */

type Tone = "good" | "warn" | "bad" | "neutral";

const TONE_STYLE: Record<Tone, CSSProperties> = {
  good: { background: "#e6f4ea", color: "#1e6b34" },
  warn: { background: "#fff4e0", color: "#8a5300" },
  bad: { background: "#fde8e8", color: "#a61b1b" },
  neutral: {},
};

function Tag({ tone, kind, value, children }: { tone: Tone; kind: string; value: string; children: ReactNode }) {
  return (
    <span className={`tag fin-${kind} ${value}`} data-status={value} style={TONE_STYLE[tone]}>
      {children}
    </span>
  );
}

const APPLICATION_TONE: Record<string, Tone> = { applied: "warn", awaiting_second_approval: "warn", approved: "good", disbursed: "good", rejected: "bad", withdrawn: "neutral" };
const LOAN_TONE: Record<string, Tone> = { disbursed: "good", repaying: "good", overdue: "bad", repaid: "neutral", guarantee_called: "bad", written_off: "bad" };
const CLASS_TONE: Record<string, Tone> = { normal: "good", special_mention: "warn", substandard: "bad", doubtful: "bad", loss: "bad" };
const BUCKET_TONE: Record<string, Tone> = { current: "good", M1: "warn", M2: "bad", M3: "bad", "M3+": "bad" };

/** A state shown as a coloured tag: its words from `financing.<scope>.<value>`, its tone from `tones`. */
function StateTag({ tones, kind, scope, value }: { tones: Record<string, Tone>; kind: string; scope: string; value: string }) {
  const locale = useLocale();
  return (
    <Tag tone={tones[value] ?? "neutral"} kind={kind} value={value}>
      {translateDynamic(locale, `financing.${scope}.${value}`, value)}
    </Tag>
  );
}

export const ApplicationStatusTag = ({ status }: { status: string }) => <StateTag tones={APPLICATION_TONE} kind="application-status" scope="applicationStatus" value={status} />;

export const LoanStatusTag = ({ status }: { status: string }) => <StateTag tones={LOAN_TONE} kind="loan-status" scope="loanStatus" value={status} />;

/** The five-category class (五级分类): 正常/关注/次级/可疑/损失. */
export const LoanClassTag = ({ loanClass }: { loanClass: string }) => <StateTag tones={CLASS_TONE} kind="class" scope="class" value={loanClass} />;

export const BucketTag = ({ bucket }: { bucket: string }) => <StateTag tones={BUCKET_TONE} kind="bucket" scope="bucket" value={bucket} />;

export function productKindLabel(locale: Locale, kind: string): string {
  return translateDynamic(locale, `financing.productKind.${kind}`, kind);
}

export function checkLabel(locale: Locale, check: string): string {
  return translateDynamic(locale, `financing.check.${check}`, check);
}

export function MoneyCell({ fen }: { fen: number }) {
  const locale = useLocale();
  return <td className="num">{formatFen(fen, locale)}</td>;
}

export function CountCell({ value }: { value: number }) {
  const locale = useLocale();
  return <td className="num">{formatInteger(value, locale)}</td>;
}

/** "3 passed / 1 failed", from an application's checks. */
export function ChecksCount({ checks }: { checks: readonly { ok: boolean }[] }) {
  const t = useT();
  const ok = checks.filter((c) => c.ok).length;
  const failed = checks.length - ok;
  return <span className={failed > 0 ? "fin-checks has-failed" : "fin-checks"}>{t("financing.checksCount", { ok, failed })}</span>;
}

/** Every automatic check of an application: its translated name, passed or failed, and the detail the domain wrote. */
/** A stored check's result in the reader's words: the detail code with its figures. */
export function checkDetailText(locale: Locale, c: { check: string; detail: string; params?: Record<string, string | number> }): string {
  const p = c.params ?? {};
  const args: Record<string, string> = {};
  if (p.availableFen !== undefined) args.amount = formatFen(Number(p.availableFen), locale);
  if (p.date !== undefined) args.date = String(p.date);
  if (p.count !== undefined) args.count = String(p.count);
  if (p.number !== undefined) args.number = String(p.number);
  if (p.shareBps !== undefined) args.share = formatPercentBps(Number(p.shareBps), locale);
  if (p.maxBps !== undefined) args.max = formatPercentBps(Number(p.maxBps), locale);
  const key = c.detail === "missing" ? `financing.checkDetail.missing.${c.check}` : `financing.checkDetail.${c.detail}`;
  return isMessageKey(key) ? translateWithParams(locale, key, args) : c.detail;
}

export function CheckList({ checks }: { checks: readonly { check: string; ok: boolean; detail: string; params?: Record<string, string | number> }[] }) {
  const t = useT();
  const locale = useLocale();
  if (checks.length === 0) return <p className="empty">{t("financing.application.noChecks")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid="application-checks">
        <tbody>
          {checks.map((c) => (
            <tr key={c.check} data-check={c.check} data-ok={c.ok ? "true" : "false"}>
              <th scope="row">{checkLabel(locale, c.check)}</th>
              <td>
                <Tag tone={c.ok ? "good" : "bad"} kind="check" value={c.ok ? "ok" : "failed"}>
                  {t(c.ok ? "financing.check.ok" : "financing.check.failed")}
                </Tag>
              </td>
              <td className="sc-muted">{checkDetailText(locale, c)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A grouped portfolio figure (by product, guarantor, bucket or class) as a small table. */
export function BreakdownTable({ title, rows, testId }: { title: string; rows: readonly { key: string; label: ReactNode; loans: number; outstandingFen: number }[]; testId: string }) {
  const t = useT();
  return (
    <div>
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p className="empty">{t("financing.portfolio.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table className="data" data-testid={testId}>
            <thead>
              <tr>
                <th scope="col">{title}</th>
                <th scope="col" className="num">
                  {t("financing.col.loans")}
                </th>
                <th scope="col" className="num">
                  {t("financing.col.outstanding")}
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key}>
                  <td>{r.label}</td>
                  <CountCell value={r.loans} />
                  <MoneyCell fen={r.outstandingFen} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export interface FacilityRowView {
  id: string;
  kind: string;
  name: string;
  validTo: string;
  status: string;
  limitFen: number;
  usedFen: number;
  availableFen: number;
}

/** Limits with what is drawn (reservations included) and what is left. */
export function FacilityTable({ facilities, testId }: { facilities: readonly FacilityRowView[]; testId: string }) {
  const t = useT();
  const locale = useLocale();
  if (facilities.length === 0) return <p className="empty">{t("financing.facilities.empty")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("financing.col.kind")}</th>
            <th scope="col">{t("financing.col.party")}</th>
            <th scope="col" className="num">
              {t("financing.col.limit")}
            </th>
            <th scope="col" className="num">
              {t("financing.col.used")}
            </th>
            <th scope="col" className="num">
              {t("financing.col.available")}
            </th>
            <th scope="col">{t("financing.col.validTo")}</th>
          </tr>
        </thead>
        <tbody>
          {facilities.map((f) => (
            <tr key={f.id} data-facility={f.id}>
              <td>
                {translateDynamic(locale, `financing.facilityKind.${f.kind}`, f.kind)}
                {f.status !== "active" ? <span className="sc-muted"> · {translateDynamic(locale, `financing.facilityStatus.${f.status}`, f.status)}</span> : null}
              </td>
              <td>{f.name}</td>
              <MoneyCell fen={f.limitFen} />
              <MoneyCell fen={f.usedFen} />
              <MoneyCell fen={f.availableFen} />
              <td className="nowrap">{f.validTo}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface LoanRowView {
  id: string;
  number: string;
  status: string;
  borrowerName: string;
  guarantorName: string | null;
  principalOutstandingFen: number;
  annualRatePpm: number;
  nextDueOn: string | null;
  nextDueFen: number;
  daysPastDue: number;
  bucket: string;
  loanClass: string;
}

/** Loans, each linking to its page; `show` picks the party columns the reader needs. */
export function LoanTable({ loans, testId, show }: { loans: readonly LoanRowView[]; testId: string; show: { borrower?: boolean; guarantor?: boolean } }) {
  const t = useT();
  if (loans.length === 0) return <p className="empty">{t("financing.loans.empty")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("financing.col.number")}</th>
            {show.borrower ? <th scope="col">{t("financing.col.borrower")}</th> : null}
            {show.guarantor ? <th scope="col">{t("financing.col.guarantor")}</th> : null}
            <th scope="col" className="num">
              {t("financing.col.outstanding")}
            </th>
            <th scope="col" className="num">
              {t("financing.col.rate")}
            </th>
            <th scope="col">{t("financing.col.nextDue")}</th>
            <th scope="col" className="num">
              {t("financing.col.nextDueAmount")}
            </th>
            <th scope="col">{t("financing.col.status")}</th>
            <th scope="col" className="num">
              {t("financing.col.dpd")}
            </th>
            <th scope="col">{t("financing.col.class")}</th>
          </tr>
        </thead>
        <tbody>
          {loans.map((l) => (
            <tr key={l.id} data-loan={l.id} className={l.status === "guarantee_called" ? "fin-called" : undefined} style={l.status === "guarantee_called" ? { background: "#fde8e8" } : undefined}>
              <td>
                <Link to={`/financing/loans/${l.id}`} className="mono">
                  {l.number}
                </Link>
              </td>
              {show.borrower ? <td>{l.borrowerName}</td> : null}
              {show.guarantor ? <td>{l.guarantorName ?? "—"}</td> : null}
              <MoneyCell fen={l.principalOutstandingFen} />
              <td className="num">{formatRatePpm(l.annualRatePpm)}</td>
              <td className="nowrap">{l.nextDueOn ?? "—"}</td>
              {l.nextDueOn ? <MoneyCell fen={l.nextDueFen} /> : <td className="num">—</td>}
              <td>
                <LoanStatusTag status={l.status} />
              </td>
              <td className="num">
                {l.daysPastDue} <BucketTag bucket={l.bucket} />
              </td>
              <td>
                <LoanClassTag loanClass={l.loanClass} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface ApplicationRowView {
  id: string;
  number: string;
  status: string;
  amountFen: number;
  borrowerName: string;
  guarantorName: string | null;
  productName: string;
  productNameEn: string;
  checks: readonly { ok: boolean }[];
  firstApproverName: string | null;
  createdAt: string;
}

/** An application as a list row (what the loaders send: no more than the table shows). */
export function applicationRowView(a: ApplicationView): ApplicationRowView {
  return {
    id: a.id,
    number: a.number,
    status: a.status,
    amountFen: a.amountFen,
    borrowerName: a.borrowerName,
    guarantorName: a.guarantorName,
    productName: a.productName,
    productNameEn: a.productNameEn,
    checks: a.checks.map((c) => ({ ok: c.ok })),
    firstApproverName: a.firstApproverName,
    createdAt: a.createdAt.toISOString(),
  };
}

export function ApplicationTable({ applications, testId, show }: { applications: readonly ApplicationRowView[]; testId: string; show: { borrower?: boolean; firstApprover?: boolean } }) {
  const t = useT();
  const locale = useLocale();
  if (applications.length === 0) return <p className="empty">{t("financing.applications.empty")}</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("financing.col.number")}</th>
            <th scope="col" className="num">
              {t("financing.col.amount")}
            </th>
            {show.borrower ? <th scope="col">{t("financing.col.borrower")}</th> : null}
            <th scope="col">{t("financing.col.guarantor")}</th>
            <th scope="col">{t("financing.col.product")}</th>
            <th scope="col">{t("financing.col.checks")}</th>
            <th scope="col">{t("financing.col.status")}</th>
            {show.firstApprover ? <th scope="col">{t("financing.col.firstApprover")}</th> : null}
            <th scope="col">{t("financing.col.appliedAt")}</th>
          </tr>
        </thead>
        <tbody>
          {applications.map((a) => (
            <tr key={a.id} data-application={a.id}>
              <td>
                <Link to={`/financing/applications/${a.id}`} className="mono">
                  {a.number}
                </Link>
              </td>
              <MoneyCell fen={a.amountFen} />
              {show.borrower ? <td>{a.borrowerName}</td> : null}
              <td>{a.guarantorName ?? "—"}</td>
              <td>{locale === "en" ? a.productNameEn : a.productName}</td>
              <td>
                <ChecksCount checks={a.checks} />
              </td>
              <td>
                <ApplicationStatusTag status={a.status} />
              </td>
              {show.firstApprover ? <td>{a.firstApproverName ?? "—"}</td> : null}
              <td className="nowrap">{formatDateTime(a.createdAt, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
