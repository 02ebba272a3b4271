import { data, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { StatementSummary, StatementTable, rangeText } from "~/components/account-statement";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, isMessageKey, translateWithParams, type Locale, type MessageKey } from "~/i18n";
import { accountName } from "~/i18n/account-names";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getReadableAccount, getStatement, STATEMENT_LIMITS, statementQuery } from "~/domain/ledger";
import { isDomainError } from "~/domain/shared";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import statementStyles from "~/styles/statement.css";
import { DateField } from "~/components/date-field";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: statementStyles }];

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "accountDetail.title");

/**
 * An account and its statement (对账单): the account's name, balances, and its posted movements
 * in a range of business dates, page by page, with the balance after each line; CSV and a print
 * view for the same range. Who may see it is the domain's rule (getReadableAccount).
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const accountId = requireUuidParam(params.accountId);
  const reader = { organizationId: organization.organizationId, organizationKind: organization.kind };
  const url = new URL(request.url);
  const sent = statementQuery(url);
  try {
    const { account: _withCode, ...statement } = await scoped(() => getStatement(context.db, reader, accountId, sent, new Date()));
    return { statement, account: withoutCode(_withCode), limit: sent.limit, values: statement.range, fieldErrors: {} as Record<string, string>, maxRangeDays: STATEMENT_LIMITS.maxRangeDays, onFirstPage: !sent.cursor };
  } catch (error) {
    // A bad range is the reader's to fix: the form again, the field named, and a 400. The
    // account is checked first, so another organisation's id is still a 404 here.
    if (isDomainError(error) && error.code === "validation") {
      const account = withoutCode(await scoped(() => getReadableAccount(context.db, reader, accountId)));
      return data(
        { statement: null, account, limit: sent.limit, values: { from: sent.from, to: sent.to }, fieldErrors: error.fields, maxRangeDays: STATEMENT_LIMITS.maxRangeDays, onFirstPage: true },
        { status: 400 },
      );
    }
    throw error;
  }
}

/** The page shows an account by its name: its code (`wallet:<uuid>`) is not sent to the browser. */
function withoutCode<A extends { code: string }>(account: A): Omit<A, "code"> {
  const { code: _code, ...rest } = account;
  return rest;
}

function problemText(locale: Locale, code: string, maxRangeDays: number): string {
  const key = `statement.problem.${code}`;
  return isMessageKey(key) ? translateWithParams(locale, key as MessageKey, { max: maxRangeDays }) : code;
}

export default function AccountDetail() {
  const { statement, account, values, fieldErrors, maxRangeDays, onFirstPage, limit } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const errors: Record<string, string> = fieldErrors;
  const name = accountName(locale, account.naming);
  const rangeQuery = statement ? `from=${statement.range.from}&to=${statement.range.to}` : "";
  const pageQuery = `${rangeQuery}${limit ? `&limit=${encodeURIComponent(limit)}` : ""}`;
  const otherErrors = Object.entries(errors).filter(([field]) => field !== "from" && field !== "to");
  return (
    <div className="account-detail">
      <p className="no-print">
        <Link to="/">← {t("accountDetail.back")}</Link>
      </p>
      <section className="org-heading">
        <div>
          <p className="eyebrow">{t("statement.title")}</p>
          <h1 data-testid="account-name">{name}</h1>
        </div>
        <dl className="facts">
          <div>
            <dt>{t("accountDetail.opened")}</dt>
            <dd>{formatDateTime(account.createdAt, locale)}</dd>
          </div>
        </dl>
      </section>

      <section className="panel">
        <div className="figures">
          <div className="figure">
            <span className="figure-label">{t("table.balance")}</span>
            <span className="figure-value num" data-testid="balance">
              {formatFen(account.balanceFen, locale)}
            </span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("table.pending")}</span>
            <span className="figure-value num">{formatFen(account.pendingFen, locale)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("table.available")}</span>
            <span className="figure-value num">{formatFen(account.availableFen, locale)}</span>
          </div>
        </div>
      </section>

      <section className="panel" aria-labelledby="statement-heading">
        <h2 id="statement-heading">{t("statement.title")}</h2>
        <Form method="get" className="sc-form statement-range" aria-label={t("statement.range.legend")}>
          <fieldset>
            <legend>{t("statement.range.legend")}</legend>
            <div className="sc-row">
              <DateField name="from" label={t("statement.range.from")} value={values.from} errorText={errors.from ? problemText(locale, errors.from, maxRangeDays) : undefined} />
              <DateField name="to" label={t("statement.range.to")} value={values.to} errorText={errors.to ? problemText(locale, errors.to, maxRangeDays) : undefined} />
              <div className="sc-field">
                <span aria-hidden="true">&nbsp;</span>
                <button type="submit">{t("statement.range.apply")}</button>
              </div>
            </div>
          </fieldset>
        </Form>
        {statement === null ? (
          <div className="status-bad" role="alert">
            <p>{t("statement.range.invalid")}</p>
            {otherErrors.map(([field, code]) => (
              <p key={field}>{problemText(locale, code, maxRangeDays)}</p>
            ))}
          </div>
        ) : (
          <>
            <p className="subtle" data-testid="statement-range">
              {rangeText(locale, statement.range)} · {t("statement.onlyPosted")}
            </p>
            <p className="actions no-print">
              <a href={`/accounts/${account.id}/statement.csv?${rangeQuery}`} className="button-secondary" download>
                {t("statement.csv")}
              </a>{" "}
              <Link to={`/accounts/${account.id}/statement/print?${rangeQuery}`} className="button-secondary">
                {t("statement.print")}
              </Link>
            </p>
            <StatementSummary {...statement} />
            {account.pendingFen > 0 ? <p className="subtle">{t("statement.pendingNote", { amount: formatFen(account.pendingFen, locale) })}</p> : null}
            {statement.lines.length === 0 ? <p className="empty">{t("statement.empty")}</p> : <StatementTable lines={statement.lines} />}
            <nav className="pager no-print" aria-label={t("statement.title")}>
              {!onFirstPage ? <Link to={`?${pageQuery}`}>{t("statement.first")}</Link> : null}{" "}
              {statement.nextCursor ? (
                <Link to={`?${pageQuery}&cursor=${statement.nextCursor}`} rel="next" data-testid="next-page">
                  {t("statement.next")} →
                </Link>
              ) : null}
            </nav>
          </>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
