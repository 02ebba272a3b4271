import type { LoaderFunctionArgs } from "@remix-run/node";
import { stringify } from "csv-stringify/sync";
import { referenceText } from "~/components/account-statement";
import { formatDate, formatDateTime, translateWithParams, type MessageKey } from "~/i18n";
import { accountName, transferKindName } from "~/i18n/account-names";
import { resolveLocale } from "~/i18n/locale.server";
import { getWholeStatement, statementQuery } from "~/domain/ledger";
import { fenToYuanText } from "~/domain/catalog";
import { isDomainError } from "~/domain/shared";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";

/** Plain yuan a spreadsheet can sum, sign first ("-12.50"): balances of some books go below zero. */
function yuan(fen: number): string {
  return (fen < 0 ? "-" : "") + fenToYuanText(Math.abs(fen));
}

/** Text a spreadsheet would run as a formula (=, +, -, @ first) is kept as text. */
function cell(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/**
 * GET /accounts/:id/statement.csv?from=&to= — the whole statement of the range, in the reader's
 * language, UTF-8 with a BOM so Excel opens Chinese correctly. Amounts are plain yuan ("1234.56")
 * a spreadsheet can sum; the opening and closing balances are the first and last rows.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization, user } = await requireOrgContext(request, context);
  const accountId = requireUuidParam(params.accountId);
  const locale = await resolveLocale(request, user.locale);
  const reader = { organizationId: organization.organizationId, organizationKind: organization.kind };
  const { from, to } = statementQuery(new URL(request.url));
  let statement;
  try {
    statement = await scoped(() => getWholeStatement(context.db, reader, accountId, { from, to }, new Date()));
  } catch (error) {
    if (isDomainError(error) && error.code === "validation") {
      return new Response(`${error.message}\n${JSON.stringify({ fields: error.fields })}\n`, {
        status: 400,
        headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "private, no-store" },
      });
    }
    throw error;
  }
  const t = (key: MessageKey) => translateWithParams(locale, key);
  const header = [
    t("statement.col.time"),
    t("statement.col.kind"),
    t("statement.col.counterparty"),
    t("statement.col.reference"),
    t("statement.col.in"),
    t("statement.col.out"),
    t("statement.col.balance"),
    t("statement.csv.transferId"),
  ];
  const rows: string[][] = [
    [t("statement.csv.account"), cell(accountName(locale, statement.account.naming)), "", "", "", "", "", ""],
    [t("statement.csv.range"), `${formatDate(statement.range.from, locale)} – ${formatDate(statement.range.to, locale)}`, "", "", "", "", "", ""],
    header,
    [formatDate(statement.range.from, locale), t("statement.opening"), "", "", "", "", yuan(statement.openingFen), ""],
    ...statement.lines.map((line) => [
      formatDateTime(line.at, locale),
      transferKindName(locale, line.kind),
      cell(accountName(locale, line.counterparty)),
      cell(referenceText(locale, line.reference)),
      line.amountFen > 0 ? yuan(line.amountFen) : "",
      line.amountFen < 0 ? yuan(-line.amountFen) : "",
      yuan(line.balanceAfterFen),
      line.transferId,
    ]),
    [formatDate(statement.range.to, locale), t("statement.closing"), "", "", yuan(statement.inFen), yuan(statement.outFen), yuan(statement.closingFen), ""],
  ];
  const csv = "\uFEFF" + stringify(rows, { record_delimiter: "\r\n" });
  return new Response(csv, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="statement-${statement.range.from}-${statement.range.to}.csv"`,
      "Cache-Control": "private, no-store",
    },
  });
}
