import type { LinksFunction, LoaderFunctionArgs, MetaFunction, SerializeFrom } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { PortfolioChart } from "~/components/financing-charts";
import { ApplicationTable, applicationRowView, BreakdownTable, BucketTag, FacilityTable, LoanClassTag, LoanTable, productKindLabel, type FacilityRowView, type LoanRowView } from "~/components/financing-ui";
import { formatDate, formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { OPEN_LOAN_STATUSES, listApplications, listFacilities, listLoans, portfolio, portfolioHistory, type FacilitySummary, type LoanListItem } from "~/domain/financing";
import { listOrders } from "~/domain/orders";
import { may } from "~/domain/identity";
import { notFound, requireOrgContext } from "~/web/tenancy.server";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.title");

const LOANS_SHOWN = 50;
const APPLICATIONS_SHOWN = 20;

const loanRow = (l: LoanListItem): LoanRowView => ({
  id: l.id,
  number: l.number,
  status: l.status,
  borrowerName: l.borrowerName,
  guarantorName: l.guarantorName,
  principalOutstandingFen: l.principalOutstandingFen,
  annualRatePpm: l.annualRatePpm,
  nextDueOn: l.nextDueOn,
  nextDueFen: l.nextDueFen,
  daysPastDue: l.daysPastDue,
  bucket: l.bucket,
  loanClass: l.loanClass,
});

const applicationRow = applicationRowView;

/** The party a facility is for: the guarantor of an agreement, the borrower of a limit or sub-limit. */
function facilityRows(facilities: readonly FacilitySummary[]): FacilityRowView[] {
  return facilities.map((f) => {
    return {
      id: f.id,
      kind: f.kind,
      name: (f.kind === "guarantee" ? f.guarantorName : f.borrowerName) ?? "—",
      validTo: f.validTo,
      status: f.status,
      limitFen: f.limitFen,
      usedFen: f.usedFen,
      availableFen: f.availableFen,
    };
  });
}

/** `/financing`: the bank's portfolio console, a borrower's applications and loans, or a guarantor's exposure. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const organizationId = organization.organizationId;
  const { db } = context;
  const now = new Date();

  if (organization.kind === "bank") {
    const [book, loans, guarantees, history] = [
      await portfolio(db, now),
      await listLoans(db, { kind: "bank" }, { limit: LOANS_SHOWN, statuses: OPEN_LOAN_STATUSES }),
      await listFacilities(db, { kind: "guarantee" }),
      await portfolioHistory(db, { days: 60 }, now),
    ];
    return {
      view: "bank" as const,
      portfolio: book,
      history,
      loans: loans.map(loanRow),
      facilities: facilityRows(guarantees),
    };
  }
  if (organization.kind === "dealer") {
    const scope = { kind: "borrower" as const, organizationId };
    const [applications, loans, facilities] = [
      await listApplications(db, scope, { limit: APPLICATIONS_SHOWN }),
      await listLoans(db, scope, { limit: LOANS_SHOWN }),
      await listFacilities(db, { borrowerOrganizationId: organizationId }),
    ];
    // Confirmed orders waiting for payment: each can be financed from its own page (rate and schedule first).
    const confirmed = await listOrders(db, organizationId, { status: "confirmed", limit: 20 });
    return {
      view: "borrower" as const,
      financeable: may(organization.roles, "financing.apply", organization.kind)
        ? confirmed.items.filter((o) => o.kind !== "preorder").map((o) => ({ id: o.id, number: o.number, supplier: o.counterpartyName, totalFen: o.totalFen }))
        : [],
      applications: applications.map(applicationRow),
      loans: loans.map(loanRow),
      facilities: facilityRows(facilities),
    };
  }
  if (organization.kind === "core_enterprise") {
    const scope = { kind: "guarantor" as const, organizationId };
    const [loans, facilities] = [
      await listLoans(db, scope, { limit: LOANS_SHOWN }),
      await listFacilities(db, { guarantorOrganizationId: organizationId }),
    ];
    return {
      view: "guarantor" as const,
      loans: loans.map(loanRow),
      called: loans.filter((l) => l.status === "guarantee_called").length,
      // The agreement first, then its per-dealer sub-limits.
      facilities: facilityRows([...facilities].sort((x, y) => Number(x.kind !== "guarantee") - Number(y.kind !== "guarantee"))),
    };
  }
  notFound();
}

export default function FinancingIndex() {
  const data = useLoaderData<typeof loader>();
  const t = useT();
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t(data.view === "bank" ? "financing.eyebrow.bank" : data.view === "borrower" ? "financing.eyebrow.borrower" : "financing.eyebrow.guarantor")}</p>
          <h1>{t("financing.title")}</h1>
        </div>
      </div>
      {data.view === "bank" ? <BankConsole {...data} /> : null}
      {data.view === "borrower" ? <BorrowerOverview {...data} /> : null}
      {data.view === "guarantor" ? <GuarantorOverview {...data} /> : null}
    </div>
  );
}

type BankData = Extract<SerializeFrom<typeof loader>, { view: "bank" }>;
type BorrowerData = Extract<SerializeFrom<typeof loader>, { view: "borrower" }>;
type GuarantorData = Extract<SerializeFrom<typeof loader>, { view: "guarantor" }>;

function BankConsole({ portfolio: p, history, loans, facilities }: BankData) {
  const t = useT();
  const locale = useLocale();
  return (
    <>
      <section className="panel" aria-labelledby="portfolio-heading" data-testid="portfolio">
        <h2 id="portfolio-heading">{t("financing.portfolio.title")}</h2>
        <div className="figures">
          <div className="figure">
            <span className="figure-label">{t("financing.portfolio.outstanding")}</span>
            <span className="figure-value num" data-testid="outstanding">
              {formatFen(p.outstandingFen, locale)}
            </span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("financing.portfolio.loansOpen")}</span>
            <span className="figure-value num" data-testid="loans-open">
              {formatInteger(p.loansOpen, locale)}
            </span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("financing.portfolio.accrued", { date: formatDate(p.accruedToday.businessDate, locale) })}</span>
            <span className="figure-value num">{formatFen(p.accruedToday.interestFen, locale)}</span>
            <span className="sc-muted">{t("financing.portfolio.accruedPenalty", { amount: formatFen(p.accruedToday.penaltyFen, locale) })}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("financing.portfolio.disbursedThisMonth")}</span>
            <span className="figure-value num">{formatFen(p.disbursedThisMonth.amountFen, locale)}</span>
            <span className="sc-muted">{t("financing.portfolio.disbursedCount", { count: p.disbursedThisMonth.loans })}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("financing.portfolio.waiting")}</span>
            <span className="figure-value num" data-testid="applications-waiting">
              {formatInteger(p.applicationsWaiting, locale)}
            </span>
            <Link to="/financing/applications">{t("financing.portfolio.toQueue")} →</Link>
          </div>
        </div>
        <p className="sc-actions">
          <Link to="/financing/applications">{t("financing.applications.title")}</Link>
          {" · "}
          {/* Every bank member may follow the run; its start form is shown to operations and platform admins only. */}
          <Link to="/financing/runs">{t("financing.runs.link")}</Link>
          {" · "}
          <Link to="/financing/facilities">{t("financing.admin.facilities.link")}</Link>
          {" · "}
          <Link to="/financing/products">{t("financing.admin.products.link")}</Link>
        </p>
        <PortfolioChart history={history} />
        <div className="sc-cols">
          <BreakdownTable
            title={t("financing.portfolio.byProduct")}
            testId="by-product"
            rows={p.byProduct.map((r) => ({ key: r.kind, label: productKindLabel(locale, r.kind), loans: r.loans, outstandingFen: r.outstandingFen }))}
          />
          <BreakdownTable
            title={t("financing.portfolio.byGuarantor")}
            testId="by-guarantor"
            rows={p.byGuarantor.map((r) => ({ key: r.guarantorName ?? "", label: r.guarantorName ?? t("financing.portfolio.noGuarantor"), loans: r.loans, outstandingFen: r.outstandingFen }))}
          />
          <BreakdownTable
            title={t("financing.portfolio.byBucket")}
            testId="by-bucket"
            rows={p.byBucket.map((r) => ({ key: r.bucket, label: <BucketTag bucket={r.bucket} />, loans: r.loans, outstandingFen: r.outstandingFen }))}
          />
          <BreakdownTable
            title={t("financing.portfolio.byClass")}
            testId="by-class"
            rows={p.byClass.map((r) => ({ key: r.loanClass, label: <LoanClassTag loanClass={r.loanClass} />, loans: r.loans, outstandingFen: r.outstandingFen }))}
          />
        </div>
      </section>

      <section className="panel" aria-labelledby="loans-heading">
        <h2 id="loans-heading">{t("financing.loans.title")}</h2>
        <LoanTable loans={loans} testId="bank-loans" show={{ borrower: true, guarantor: true }} />
        <p className="small">
          <a href="/financing/loans.csv" download data-testid="loans-csv">
            {t("financing.loans.csv")}
          </a>
        </p>
      </section>

      <section className="panel" aria-labelledby="facilities-heading">
        <h2 id="facilities-heading">{t("financing.facilities.title")}</h2>
        <FacilityTable facilities={facilities} testId="guarantee-facilities" />
      </section>
    </>
  );
}

function BorrowerOverview({ financeable, applications, loans, facilities }: BorrowerData) {
  const t = useT();
  const locale = useLocale();
  return (
    <>
      <p>
        <Link to="/financing/credit-line">{t("financing.creditLine.link")} →</Link>
      </p>
      {financeable.length > 0 ? (
        <section className="panel" aria-labelledby="financeable-heading">
          <h2 id="financeable-heading">{t("financing.financeable.title")}</h2>
          <p className="sc-muted small">{t("financing.financeable.hint")}</p>
          <div className="table-wrap">
            <table className="data" data-testid="financeable-orders">
              <thead>
                <tr>
                  <th scope="col">{t("financing.financeable.order")}</th>
                  <th scope="col">{t("financing.financeable.supplier")}</th>
                  <th scope="col" className="num">
                    {t("financing.financeable.amount")}
                  </th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {financeable.map((o) => (
                  <tr key={o.id}>
                    <td>
                      <Link to={`/orders/${o.id}`}>{o.number}</Link>
                    </td>
                    <td>{o.supplier}</td>
                    <td className="num">{formatFen(o.totalFen, locale)}</td>
                    <td>
                      <Link to={`/financing/apply/${o.id}`}>{t("financing.financeable.apply")}</Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      <section className="panel" aria-labelledby="applications-heading">
        <h2 id="applications-heading">{t("financing.applications.mine")}</h2>
        <ApplicationTable applications={applications} testId="my-applications" show={{}} />
        <p className="small">
          <Link to="/financing/applications">{t("financing.applications.all")} →</Link>
        </p>
      </section>
      <section className="panel" aria-labelledby="loans-heading">
        <h2 id="loans-heading">{t("financing.loans.mine")}</h2>
        <LoanTable loans={loans} testId="my-loans" show={{ guarantor: true }} />
        <p className="small">
          <a href="/financing/loans.csv" download data-testid="loans-csv">
            {t("financing.loans.csv")}
          </a>
        </p>
      </section>
      <section className="panel" aria-labelledby="facilities-heading">
        <h2 id="facilities-heading">{t("financing.facilities.mine")}</h2>
        <FacilityTable facilities={facilities} testId="my-facilities" />
      </section>
    </>
  );
}

function GuarantorOverview({ loans, called, facilities }: GuarantorData) {
  const t = useT();
  return (
    <>
      <p>
        <Link to="/financing/receivables">{t("financing.receivables.link")} →</Link>
      </p>
      {called > 0 ? (
        <p className="notice" role="alert" data-testid="called-notice" style={{ borderColor: "var(--bad)" }}>
          <strong>{t("financing.loans.called")}</strong> {t("financing.loans.calledNotice", { count: called })}
        </p>
      ) : null}
      <section className="panel" aria-labelledby="facilities-heading">
        <h2 id="facilities-heading">{t("financing.facilities.agreement")}</h2>
        <FacilityTable facilities={facilities} testId="guarantee-facilities" />
      </section>
      <section className="panel" aria-labelledby="loans-heading">
        <h2 id="loans-heading">{t("financing.loans.guaranteed")}</h2>
        <LoanTable loans={loans} testId="guaranteed-loans" show={{ borrower: true }} />
        <p className="small">
          <a href="/financing/loans.csv" download data-testid="loans-csv">
            {t("financing.loans.csv")}
          </a>
        </p>
      </section>
    </>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
