import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { ApplicationTable, applicationRowView } from "~/components/financing-ui";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { listApplications, type ApplicationStatus } from "~/domain/financing";
import { notFound, requireOrgContext } from "~/web/tenancy.server";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.applications.title");

const WAITING: readonly ApplicationStatus[] = ["applied", "awaiting_second_approval"];
const DECIDED: readonly ApplicationStatus[] = ["approved", "rejected", "withdrawn", "disbursed"];
const QUEUE_SHOWN = 100;
const RECENT_SHOWN = 30;

const row = applicationRowView;

/** `/financing/applications`: the bank's approval queue (newest first) and recent decisions; a borrower's own applications. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const { db } = context;
  if (organization.kind === "bank") {
    const [queue, decided] = [
      await listApplications(db, { kind: "bank" }, { statuses: WAITING, limit: QUEUE_SHOWN }),
      await listApplications(db, { kind: "bank" }, { statuses: DECIDED, limit: RECENT_SHOWN }),
    ];
    return { view: "bank" as const, queue: queue.map(row), decided: decided.map(row) };
  }
  // A guarantor reads its exposure on /financing; the queue is the bank's and the borrowers'.
  if (organization.kind === "dealer") {
    const mine = await listApplications(db, { kind: "borrower", organizationId: organization.organizationId }, { limit: QUEUE_SHOWN });
    return { view: "borrower" as const, queue: mine.map(row), decided: [] };
  }
  notFound();
}

export default function FinancingApplications() {
  const { view, queue, decided } = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <div className="sc-page">
      <p>
        <Link to="/financing">← {t("financing.title")}</Link>
      </p>
      <div className="sc-head">
        <h1>{t(view === "bank" ? "financing.applications.title" : "financing.applications.mine")}</h1>
      </div>
      {view === "bank" ? (
        <>
          <section className="panel" aria-labelledby="queue-heading">
            <h2 id="queue-heading">{t("financing.applications.queue")}</h2>
            {queue.length === 0 ? <p className="empty">{t("financing.applications.queueEmpty")}</p> : <ApplicationTable applications={queue} testId="queue" show={{ borrower: true, firstApprover: true }} />}
          </section>
          <section className="panel" aria-labelledby="decided-heading">
            <h2 id="decided-heading">{t("financing.applications.recent")}</h2>
            {decided.length === 0 ? <p className="empty">{t("financing.applications.recentEmpty")}</p> : <ApplicationTable applications={decided} testId="decided" show={{ borrower: true }} />}
          </section>
        </>
      ) : (
        <section className="panel">
          <ApplicationTable applications={queue} testId="my-applications" show={{}} />
        </section>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
