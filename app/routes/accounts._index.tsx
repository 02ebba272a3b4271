import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { listAllAccountsForBank } from "~/domain/ledger";
import { isDomainError } from "~/domain/shared";
import { requireOrgContext, scoped } from "~/web/tenancy.server";
import { AccountBalancesTable } from "~/components/account-statement";

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "accountList.title");

/** GET /accounts — every ledger account, for the bank's staff; anyone else gets 404. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const after = new URL(request.url).searchParams.get("after");
  try {
    const { accounts, nextAfter } = await scoped(() =>
      listAllAccountsForBank(context.db, { organizationId: organization.organizationId, organizationKind: organization.kind }, after),
    );
    return {
      accounts: accounts.map((a) => ({ id: a.id, naming: a.naming, balanceFen: a.balanceFen, pendingFen: a.pendingFen, availableFen: a.availableFen })),
      nextAfter,
      onFirstPage: !after,
    };
  } catch (error) {
    if (isDomainError(error) && error.code === "validation") throw new Response(error.message, { status: 400 });
    throw error;
  }
}

export default function AccountList() {
  const { accounts, nextAfter, onFirstPage } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <div>
      <p>
        <Link to="/">← {t("accountDetail.back")}</Link>
      </p>
      <h1>{t("accountList.title")}</h1>
      <section className="panel">
        <AccountBalancesTable accounts={accounts} testId="all-accounts" />
        <nav className="pager">
          {!onFirstPage ? <Link to="/accounts">{t("statement.first")}</Link> : <span />}
          {nextAfter ? <Link to={`?after=${nextAfter}`}>{t("statement.next")} →</Link> : null}
        </nav>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
