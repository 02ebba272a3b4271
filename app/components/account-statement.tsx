import { Link } from "@remix-run/react";
import { accountName, transferKindName, type AccountNaming } from "~/i18n/account-names";
import { formatDate, formatDateTime, formatFen, translateDynamic, translateWithParams, type Locale, type MessageKey } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/** A statement line as the loader sends it (see app/domain/ledger/statements.server.ts). */
export interface StatementLineView {
  transferId: string;
  at: Date | string;
  kind: string;
  amountFen: number;
  balanceAfterFen: number;
  counterparty: AccountNaming;
  reference: { type: string; label: string; href: string | null };
}

export function referenceText(locale: Locale, reference: StatementLineView["reference"]): string {
  if (reference.type === "opening") return translateWithParams(locale, "statement.openingLine");
  if (reference.type === "other") return reference.label;
  return translateWithParams(locale, `statement.ref.${reference.type}` as MessageKey, { label: reference.label });
}

export function rangeText(locale: Locale, range: { from: string; to: string }): string {
  return translateWithParams(locale, "statement.range.summary", { from: formatDate(range.from, locale), to: formatDate(range.to, locale) });
}

export function StatementSummary(props: { openingFen: number; closingFen: number; inFen: number; outFen: number; lineCount: number }) {
  const t = useT();
  const locale = useLocale();
  const figures: [MessageKey, string, string][] = [
    ["statement.opening", formatFen(props.openingFen, locale), "opening"],
    ["statement.in", formatFen(props.inFen, locale), "in"],
    ["statement.out", formatFen(props.outFen, locale), "out"],
    ["statement.closing", formatFen(props.closingFen, locale), "closing"],
    ["statement.lineCount", String(props.lineCount), "count"],
  ];
  return (
    <div className="figures statement-figures">
      {figures.map(([label, value, id]) => (
        <div className="figure" key={id}>
          <span className="figure-label">{t(label)}</span>
          <span className="figure-value num" data-testid={`statement-${id}`}>
            {value}
          </span>
        </div>
      ))}
    </div>
  );
}

/** The lines, oldest first, with the balance after each; references link where the reader may go. */
export function StatementTable({ lines, links = true }: { lines: readonly StatementLineView[]; links?: boolean }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div className="table-wrap">
      <table className="data statement" data-testid="statement">
        <thead>
          <tr>
            <th scope="col">{t("statement.col.time")}</th>
            <th scope="col">{t("statement.col.kind")}</th>
            <th scope="col">{t("statement.col.counterparty")}</th>
            <th scope="col">{t("statement.col.reference")}</th>
            <th scope="col" className="num">
              {t("statement.col.in")}
            </th>
            <th scope="col" className="num">
              {t("statement.col.out")}
            </th>
            <th scope="col" className="num">
              {t("statement.col.balance")}
            </th>
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => {
            const ref = referenceText(locale, line.reference);
            return (
              <tr key={line.transferId}>
                <td className="nowrap">{formatDateTime(line.at, locale)}</td>
                <td>{transferKindName(locale, line.kind)}</td>
                <td>{accountName(locale, line.counterparty)}</td>
                <td>{links && line.reference.href ? <Link to={line.reference.href}>{ref}</Link> : ref}</td>
                <td className="num amount-in">{line.amountFen > 0 ? formatFen(line.amountFen, locale) : ""}</td>
                <td className="num amount-out">{line.amountFen < 0 ? formatFen(-line.amountFen, locale) : ""}</td>
                <td className="num" data-testid="balance-after">
                  {formatFen(line.balanceAfterFen, locale)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export interface AccountBalanceView {
  id: string;
  naming: AccountNaming;
  /** Shown in its own column when given (the dashboard); the bank's list names it in the account's name only. */
  kind?: string;
  balanceFen: number;
  pendingFen: number;
  availableFen: number;
}

/** Accounts with their balances, each linking to its statement: the dashboard's and the bank's list. */
export function AccountBalancesTable({ accounts, testId, showKind = false }: { accounts: readonly AccountBalanceView[]; testId: string; showKind?: boolean }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("table.account")}</th>
            {showKind ? <th scope="col">{t("table.kind")}</th> : null}
            <th scope="col" className="num">
              {t("table.balance")}
            </th>
            <th scope="col" className="num">
              {t("table.pending")}
            </th>
            <th scope="col" className="num">
              {t("table.available")}
            </th>
          </tr>
        </thead>
        <tbody>
          {accounts.map((a) => (
            <tr key={a.id}>
              <td>
                <Link to={`/accounts/${a.id}`}>{accountName(locale, a.naming)}</Link>
              </td>
              {showKind ? <td>{a.kind ? translateDynamic(locale, `account.${a.kind}`, a.kind) : "—"}</td> : null}
              <td className="num">{formatFen(a.balanceFen, locale)}</td>
              <td className="num">{formatFen(a.pendingFen, locale)}</td>
              <td className="num">{formatFen(a.availableFen, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
