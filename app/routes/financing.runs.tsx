import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation, useNavigation, useRevalidator } from "@remix-run/react";
import { useEffect, useRef } from "react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { accrualDateFor, listAccrualRuns, startAccrualRun } from "~/domain/financing";
import { may } from "~/domain/identity";
import { isDomainError } from "~/domain/shared";
import { requireOrgContext, requireOrgOfKind } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.runs.title");

const RUNS_SHOWN = 30;
/** While a run is running: revalidate this often with JS, meta-refresh this often without. */
const POLL_MS = 2_000;
const REFRESH_SECONDS = 3;

const requireBank = (request: Request, context: LoaderFunctionArgs["context"]) => requireOrgOfKind(request, context, "bank");

/** `/financing/runs`: the daily accrual runs with their progress, and the form that starts one. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireBank(request, context);
  const runs = await listAccrualRuns(context.db, RUNS_SHOWN);
  return {
    runs: runs.map((r) => ({ ...r, startedAt: r.startedAt.toISOString(), finishedAt: r.finishedAt ? r.finishedAt.toISOString() : null })),
    running: runs.some((r) => r.status === "running"),
    defaultDate: accrualDateFor(new Date()),
    canRun: may(organization.roles, "financing.run_accrual", organization.kind),
  };
}

const StartForm = z.object({
  business_date: z
    .string({ required_error: "field.required", invalid_type_error: "field.required" })
    .trim()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "invalid_date"),
});

interface RunFormFailure {
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: { business_date?: string };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  await requireOrgContext(request, context, { may: "financing.run_accrual" });
  const raw = form.get("business_date");
  const values = { business_date: typeof raw === "string" ? raw.slice(0, 20) : undefined };
  const parsed = StartForm.safeParse({ business_date: raw });
  if (!parsed.success) {
    return data<RunFormFailure>({ fieldErrors: { business_date: parsed.error.issues[0]?.message ?? "field.required" }, formError: null, values }, { status: 422 });
  }
  try {
    const run = await startAccrualRun(context.db, parsed.data.business_date, new Date());
    return redirect("/financing/runs", { headers: { "Set-Cookie": await flashCookie(context, { key: "financing.flash.runStarted", params: { date: run.businessDate } }) } });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    const fieldErrors = { ...error.fields };
    return data<RunFormFailure>({ fieldErrors, formError: Object.keys(fieldErrors).length === 0 ? error.message : null, values }, { status: error.status });
  }
}

/** Mounted only while a run is running: asks the loader again every few seconds, stops once it is done. */
function LiveRefresh() {
  const t = useT();
  const location = useLocation();
  const revalidator = useRevalidator();
  const ref = useRef(revalidator);
  ref.current = revalidator;
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (ref.current.state === "idle" && document.visibilityState === "visible") ref.current.revalidate();
    }, POLL_MS);
    return () => window.clearInterval(timer);
  }, []);
  return (
    <p className="notice" role="status" aria-live="polite" data-testid="run-refreshing">
      <noscript>
        <meta httpEquiv="refresh" content={String(REFRESH_SECONDS)} />
      </noscript>
      {t("financing.runs.refreshing")}{" "}
      <Link to={`${location.pathname}${location.search}`} replace>
        {t("financing.runs.refresh")}
      </Link>
    </p>
  );
}

export default function FinancingRuns() {
  const { runs, running, defaultDate, canRun } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const dateError = failure?.fieldErrors.business_date;
  return (
    <div className="sc-page">
      <p>
        <Link to="/financing">← {t("financing.title")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("financing.eyebrow.bank")}</p>
          <h1>{t("financing.runs.title")}</h1>
          <p className="sc-muted">{t("financing.runs.explain")}</p>
        </div>
      </div>

      {running ? <LiveRefresh /> : null}

      {canRun ? (
        <section className="panel" aria-labelledby="start-heading">
          <h2 id="start-heading">{t("financing.runs.start")}</h2>
          <Form method="post" data-testid="start-run">
            <CsrfInput />
            <input type="hidden" name="intent" value="start" />
            {failure?.formError ? (
              <p className="sc-form-error" role="alert">
                {failure.formError}
              </p>
            ) : null}
            <div className="sc-field">
              <label htmlFor="business_date">{t("financing.runs.businessDate")}</label>
              <input
                id="business_date"
                name="business_date"
                type="date"
                required
                defaultValue={failure?.values.business_date ?? defaultDate}
                aria-invalid={dateError ? true : undefined}
                aria-describedby={dateError ? "business_date-error" : undefined}
              />
              {dateError ? (
                <p className="field-error" id="business_date-error" data-field="business_date">
                  {t("financing.runs.businessDate")}: {dateError === "field.required" ? t("field.required") : dateError}
                </p>
              ) : null}
            </div>
            <button type="submit" className="sc-button" disabled={busy}>
              {t("financing.runs.start")}
            </button>
          </Form>
        </section>
      ) : null}

      <section className="panel" aria-labelledby="runs-heading">
        <h2 id="runs-heading">{t("financing.runs.title")}</h2>
        {runs.length === 0 ? (
          <p className="empty">{t("financing.runs.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="runs">
              <thead>
                <tr>
                  <th scope="col">{t("financing.col.businessDate")}</th>
                  <th scope="col">{t("financing.col.status")}</th>
                  <th scope="col">{t("financing.col.batches")}</th>
                  <th scope="col" className="num">
                    {t("financing.col.loansDone")}
                  </th>
                  <th scope="col">{t("financing.col.startedAt")}</th>
                  <th scope="col">{t("financing.col.finishedAt")}</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.businessDate} data-run={r.businessDate} data-status={r.status}>
                    <td className="nowrap mono">{r.businessDate}</td>
                    <td>
                      <span className="tag" data-status={r.status}>
                        {t(r.status === "running" ? "financing.runs.status.running" : "financing.runs.status.done")}
                      </span>
                    </td>
                    <td>
                      <progress max={Math.max(r.batchesTotal, 1)} value={r.batchesTotal === 0 ? 1 : r.batchesDone} aria-hidden="true" />{" "}
                      <span data-testid="run-progress">{t("financing.runs.progress", { done: r.batchesDone, total: r.batchesTotal })}</span>
                    </td>
                    <td className="num">{t("financing.runs.loansProgress", { done: formatInteger(r.loansDone, locale), total: formatInteger(r.loansTotal, locale) })}</td>
                    <td className="nowrap">{formatDateTime(r.startedAt, locale)}</td>
                    <td className="nowrap">{r.finishedAt ? formatDateTime(r.finishedAt, locale) : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
