import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, type Locale } from "~/i18n";
import { localeFromMatches } from "~/i18n/meta";
import { useLocale } from "~/i18n/react";
import { bankStatementTokenValid, sandboxBankStatement } from "~/sandbox/epay/payouts.server";
import { sandboxConfigFrom } from "~/sandbox/epay/sandbox.server";

/**
 * The sandbox's stand-in for the receiving bank's account statement
 * (`/sandbox/epay/bank-statement/:accountNumber?t=…`): what the gateway paid into an account,
 * newest first. An organisation reads its verification deposit here. The link is signed with the
 * gateway secret (our settlement page shows it only to the account's finance people); a wrong or
 * missing token is a 404, like an account that does not exist. Texts are the bank's own.
 */

const TEXT = {
  "zh-CN": {
    title: "沙箱银行 · 账户明细",
    sandbox: "沙箱环境：模拟的收款银行账户明细",
    account: "账号",
    none: "该账户暂无入账记录。",
    at: "时间",
    amount: "金额",
    payer: "附言",
    status: "状态",
    succeeded: "已入账",
    failed: "已退回",
  },
  en: {
    title: "Sandbox bank · account statement",
    sandbox: "Sandbox: a simulated statement of the receiving bank account",
    account: "Account",
    none: "Nothing has arrived on this account yet.",
    at: "Time",
    amount: "Amount",
    payer: "Remark",
    status: "Status",
    succeeded: "Credited",
    failed: "Returned",
  },
} as const satisfies Record<Locale, Record<string, string>>;

export const meta: MetaFunction = ({ matches }) => [{ title: TEXT[localeFromMatches(matches)].title }];

function notFound(): never {
  throw new Response("Not found", { status: 404, statusText: "Not Found" });
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  if (!context.config.epaySandboxEnabled) notFound();
  const accountNumber = params.accountNumber ?? "";
  const token = new URL(request.url).searchParams.get("t") ?? "";
  if (!/^[0-9]{8,30}$/.test(accountNumber) || !bankStatementTokenValid(sandboxConfigFrom(context.config), accountNumber, token)) notFound();
  const lines = await sandboxBankStatement(context.db, accountNumber);
  return {
    accountNumber,
    lines: lines.map((l) => ({ id: l.gatewayPayoutId, amountFen: l.amountFen, remark: l.remark, status: l.status, failureReason: l.failureReason, at: l.at.toISOString() })),
  };
}

export default function SandboxBankStatement() {
  const { accountNumber, lines } = useLoaderData<typeof loader>();
  const locale = useLocale();
  const t = TEXT[locale];
  return (
    <section className="panel" aria-labelledby="bank-statement-title" data-testid="sandbox-bank-statement">
      <h1 id="bank-statement-title">{t.title}</h1>
      <p className="sc-muted">{t.sandbox}</p>
      <p>
        {t.account}: <span className="num">{accountNumber}</span>
      </p>
      {lines.length === 0 ? (
        <p className="empty">{t.none}</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t.at}</th>
              <th scope="col" className="num">
                {t.amount}
              </th>
              <th scope="col">{t.payer}</th>
              <th scope="col">{t.status}</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((l) => (
              <tr key={l.id} data-testid="bank-statement-line" data-amount-fen={l.amountFen}>
                <td>{formatDateTime(new Date(l.at), locale)}</td>
                <td className="num">{formatFen(l.amountFen, locale)}</td>
                <td>{l.remark}</td>
                <td>{l.status === "succeeded" ? t.succeeded : `${t.failed}${l.failureReason ? `（${l.failureReason}）` : ""}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
