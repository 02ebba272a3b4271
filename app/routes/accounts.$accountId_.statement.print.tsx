import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { StatementSummary, StatementTable, rangeText } from "~/components/account-statement";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen } from "~/i18n";
import { accountName } from "~/i18n/account-names";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getWholeStatement, statementQuery } from "~/domain/ledger";
import { isDomainError } from "~/domain/shared";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import statementStyles from "~/styles/statement.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: statementStyles }];

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "statement.title");

/** The root layout leaves out the top bar and footer for this page: it is meant for paper. */
export const handle = { bare: true };

/**
 * GET /accounts/:id/statement/print?from=&to= — the whole range on one page: a header with the
 * account's name, the range, opening and closing balance; no navigation; print CSS for A4.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const accountId = requireUuidParam(params.accountId);
  const reader = { organizationId: organization.organizationId, organizationKind: organization.kind };
  const { from, to } = statementQuery(new URL(request.url));
  try {
    const { account, ...statement } = await scoped(() => getWholeStatement(context.db, reader, accountId, { from, to }, new Date()));
    // Shown by its name: the account's code is not sent to the browser.
    const { code: _code, ...shown } = account;
    return { statement: { ...statement, account: shown }, printedAt: new Date() };
  } catch (error) {
    if (isDomainError(error) && error.code === "validation") throw new Response(error.message, { status: 400 });
    throw error;
  }
}

export default function StatementPrint() {
  const { statement, printedAt } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const name = accountName(locale, statement.account.naming);
  const back = `/accounts/${statement.account.id}?from=${statement.range.from}&to=${statement.range.to}`;
  return (
    <div className="statement-print">
      <p className="no-print actions">
        <Link to={back}>← {t("statement.back")}</Link>{" "}
        {/* Without JavaScript the browser's own print command does the same. */}
        <button type="button" className="button-secondary" onClick={() => window.print()}>
          {t("statement.printNow")}
        </button>
      </p>
      <header className="statement-print-head">
        <p className="eyebrow">
          {t("app.fullName")} · {t("statement.title")}
        </p>
        <h1 data-testid="account-name">{name}</h1>
        <p data-testid="statement-range">{rangeText(locale, statement.range)}</p>
        <p className="subtle">{t("statement.printedAt", { time: formatDateTime(printedAt, locale) })}</p>
      </header>
      <StatementSummary {...statement} />
      {statement.account.pendingFen > 0 ? <p className="subtle">{t("statement.pendingNote", { amount: formatFen(statement.account.pendingFen, locale) })}</p> : null}
      {statement.lines.length === 0 ? <p className="empty">{t("statement.empty")}</p> : <StatementTable lines={statement.lines} links={false} />}
      <p className="subtle">{t("statement.onlyPosted")}</p>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
