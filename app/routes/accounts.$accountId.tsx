import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getAccountForOrganization, listTransfersForAccount } from "~/models/ledger.server";
import { requireOrgContext, requireUuidParam, scoped } from "~/models/tenancy.server";

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "accountDetail.title");

const TRANSFERS_SHOWN = 50;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const accountId = requireUuidParam(params.accountId);
  // Scoped by the acting organisation: another tenant's account id is "not found", never data.
  const account = await scoped(() => getAccountForOrganization(context.db, organization.organizationId, accountId));
  const transfers = await listTransfersForAccount(context.db, account.id, { limit: TRANSFERS_SHOWN });
  return { account, transfers, limit: TRANSFERS_SHOWN };
}

export default function AccountDetail() {
  const { account, transfers, limit } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="account-detail">
      <p>
        <Link to="/">← {t("accountDetail.back")}</Link>
      </p>
      <section className="org-heading">
        <div>
          <p className="eyebrow">{translateDynamic(locale, `account.${account.kind}`, account.kind)}</p>
          <h1 className="mono">{account.code}</h1>
        </div>
        <dl className="facts">
          <div>
            <dt>{t("accountDetail.normalSide")}</dt>
            <dd>{t(account.normalSide === "debit" ? "side.debit" : "side.credit")}</dd>
          </div>
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

      <section className="panel" aria-labelledby="transfers-heading">
        <h2 id="transfers-heading">{t("accountDetail.transfers")}</h2>
        {transfers.length === 0 ? (
          <p className="empty">{t("accountDetail.transfersEmpty")}</p>
        ) : (
          <>
            <div className="table-wrap">
              <table className="data">
                <thead>
                  <tr>
                    <th scope="col">{t("table.time")}</th>
                    <th scope="col">{t("table.kind")}</th>
                    <th scope="col">{t("table.reference")}</th>
                    <th scope="col">{t("table.counterparty")}</th>
                    <th scope="col">{t("table.direction")}</th>
                    <th scope="col">{t("table.phase")}</th>
                    <th scope="col" className="num">
                      {t("table.amount")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {transfers.map((tr) => (
                    <tr key={tr.id}>
                      <td className="nowrap">{formatDateTime(tr.createdAt, locale)}</td>
                      <td>{translateDynamic(locale, `transfer.${tr.kind}`, tr.kind)}</td>
                      <td className="mono">{tr.reference}</td>
                      <td className="mono">{tr.counterpartyCode}</td>
                      <td>{t(tr.direction === "debit" ? "side.debit" : "side.credit")}</td>
                      <td>{translateDynamic(locale, `phase.${tr.phase}`, tr.phase)}</td>
                      <td className={`num ${tr.direction === "debit" ? "amount-out" : "amount-in"}`}>
                        {formatFen(tr.amountFen, locale)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {transfers.length >= limit ? <p className="subtle">{t("accountDetail.limitNote", { count: limit })}</p> : null}
          </>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
