import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import * as Settlement from "~/domain/settlement";
import { isBusinessDate } from "~/domain/shared";
import { badRequestOnValidation, domainFailure } from "~/web/supply-chain-access.server";
import { requireMay, requireOrgContext } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";

/**
 * /settlement/reconciliation: the bank's reconciliation of the gateway's daily statements
 * (decision 027). Without `?date`: the imported days with their mismatch counts; with it: that
 * day's mismatches, each open one with a form to resolve it with a note. Plain forms: they work
 * without JavaScript. Everyone but the bank's operations and platform admins gets 404.
 */

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "reconciliation.title");

async function requireReconciler(request: Request, context: LoaderFunctionArgs["context"], action: "reconciliation.view" | "reconciliation.resolve") {
  const ctx = await requireOrgContext(request, context);
  requireMay(ctx, "reconciliation.view");
  requireMay(ctx, action);
  const who: Settlement.ReconciliationActor = { organizationId: ctx.organization.organizationId, kind: ctx.organization.kind, roles: ctx.roles, userId: ctx.actor.userId ?? null };
  return { ...ctx, who };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { who } = await requireReconciler(request, context, "reconciliation.view");
  const date = new URL(request.url).searchParams.get("date");
  if (date === null) {
    const days = await badRequestOnValidation(() => Settlement.listStatementDays(context.db, who, { limit: Settlement.RECONCILIATION_LIMITS.daysPageMax }));
    return { days: days.map((d) => ({ ...d, importedAt: d.importedAt.toISOString(), closedAt: d.closedAt?.toISOString() ?? null })), day: null, mismatches: [] };
  }
  if (!isBusinessDate(date)) throw new Response("Bad date: YYYY-MM-DD", { status: 400 });
  const day = await badRequestOnValidation(() => Settlement.getStatementDay(context.db, who, date));
  const mismatches = await Settlement.listMismatches(context.db, who, date);
  return {
    days: [],
    day: { ...day, importedAt: day.importedAt.toISOString(), closedAt: day.closedAt?.toISOString() ?? null },
    mismatches: mismatches.map((m) => ({ ...m, oursAt: m.oursAt?.toISOString() ?? null, resolvedAt: m.resolvedAt?.toISOString() ?? null })),
  };
}

interface Failure {
  mismatchId: string;
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: Record<string, string>;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireReconciler(request, context, "reconciliation.resolve");
  if (String(form.get("intent") ?? "") !== "resolve") throw new Response("Unknown form", { status: 400 });
  const mismatchId = String(form.get("mismatch_id") ?? "");
  const values = { note: String(form.get("note") ?? "") };
  try {
    const { closed, date } = await Settlement.resolveMismatch(context.db, ctx.who, ctx.actor, { mismatchId, note: values.note }, new Date());
    const key = closed ? "reconciliation.flash.closed" : "reconciliation.flash.resolved";
    return redirect(`/settlement/reconciliation?date=${date}`, { headers: { "Set-Cookie": await flashCookie(context, { key }) } });
  } catch (error) {
    const { failure, status } = domainFailure(error, "resolve", values);
    return data<Failure>({ mismatchId, fieldErrors: failure.fieldErrors, formError: failure.formError, values }, { status });
  }
}

export default function ReconciliationPage() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const tr = (key: string, fallback: string) => translateDynamic(locale, key, fallback);

  return (
    <div className="sc-page" data-testid="reconciliation">
      <div className="sc-head">
        <div>
          <h1>{t("reconciliation.title")}</h1>
        </div>
      </div>
      <p className="sc-muted">{t("reconciliation.intro")}</p>

      {d.day === null ? (
        <section className="panel" aria-labelledby="days-heading">
          <h2 id="days-heading">{t("reconciliation.days")}</h2>
          {d.days.length === 0 ? (
            <p data-testid="reconciliation-none">{t("reconciliation.none")}</p>
          ) : (
            <table className="sc-table" data-testid="reconciliation-days">
              <thead>
                <tr>
                  <th>{t("reconciliation.col.date")}</th>
                  <th className="num">{t("reconciliation.col.lines")}</th>
                  <th className="num">{t("reconciliation.col.gross")}</th>
                  <th className="num">{t("reconciliation.col.fee")}</th>
                  <th className="num">{t("reconciliation.col.open")}</th>
                  <th className="num">{t("reconciliation.col.resolved")}</th>
                  <th>{t("reconciliation.col.state")}</th>
                </tr>
              </thead>
              <tbody>
                {d.days.map((day) => (
                  <tr key={day.date} data-testid={`reconciliation-day-${day.date}`} data-open={day.open}>
                    <td>
                      <Link to={`?date=${day.date}`}>{day.date}</Link>
                    </td>
                    <td className="num">{day.lineCount}</td>
                    <td className="num">{formatFen(day.grossFen, locale)}</td>
                    <td className="num">{formatFen(day.feeFen, locale)}</td>
                    <td className="num">{day.open}</td>
                    <td className="num">{day.resolved}</td>
                    <td>{day.closedAt ? t("reconciliation.closed") : t("reconciliation.open")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : (
        <section className="panel" aria-labelledby="day-heading">
          <h2 id="day-heading">{t("reconciliation.dayTitle", { date: d.day.date })}</h2>
          <p>
            <Link to="/settlement/reconciliation">{t("reconciliation.back")}</Link> ·{" "}
            <a href={`/settlement/reconciliation.csv?date=${d.day.date}`} data-testid="reconciliation-csv" download>
              {t("reconciliation.csv")}
            </a>{" "}
            · {d.day.closedAt ? `${t("reconciliation.closed")} ${formatDateTime(d.day.closedAt, locale)}` : t("reconciliation.open")}
          </p>
          {d.mismatches.length === 0 ? (
            <p data-testid="reconciliation-clean">{t("reconciliation.clean")}</p>
          ) : (
            <table className="sc-table" data-testid="reconciliation-mismatches">
              <thead>
                <tr>
                  <th>{t("reconciliation.col.kind")}</th>
                  <th>{t("reconciliation.col.type")}</th>
                  <th>{t("reconciliation.col.reference")}</th>
                  <th>{t("reconciliation.col.gatewayId")}</th>
                  <th className="num">{t("reconciliation.col.theirs")}</th>
                  <th className="num">{t("reconciliation.col.ours")}</th>
                  <th>{t("reconciliation.col.note")}</th>
                </tr>
              </thead>
              <tbody>
                {d.mismatches.map((m) => {
                  const mine = failure?.mismatchId === m.id ? failure : null;
                  const problem = mine?.fieldErrors.note ?? mine?.fieldErrors.mismatch_id;
                  return (
                    <tr key={m.id} data-testid={`mismatch-${m.kind}`} data-status={m.status}>
                      <td>{tr(`reconciliation.kind.${m.kind}`, m.kind)}</td>
                      <td>{tr(`reconciliation.type.${m.lineType}`, m.lineType)}</td>
                      <td>{m.merchantReference}</td>
                      <td>{m.gatewayId ?? "—"}</td>
                      <td className="num">{m.theirsFen === null ? "—" : formatFen(m.theirsFen, locale)}{m.theirsLines > 1 ? ` ×${m.theirsLines}` : ""}</td>
                      <td className="num">{m.oursFen === null ? "—" : formatFen(m.oursFen, locale)}</td>
                      <td>
                        {m.status === "open" ? (
                          <Form method="post">
                            <CsrfInput />
                            <input type="hidden" name="intent" value="resolve" />
                            <input type="hidden" name="mismatch_id" value={m.id} />
                            <label htmlFor={`note-${m.id}`} className="visually-hidden">
                              {t("reconciliation.note")}
                            </label>
                            <input
                              id={`note-${m.id}`}
                              name="note"
                              required
                              maxLength={Settlement.RECONCILIATION_LIMITS.noteCharsMax}
                              defaultValue={mine?.values.note ?? ""}
                              aria-invalid={problem ? true : undefined}
                              aria-describedby={problem ? `note-${m.id}-problem` : undefined}
                            />{" "}
                            <button type="submit" disabled={busy}>
                              {t("reconciliation.resolve")}
                            </button>
                            {problem ? (
                              <p className="field-error" id={`note-${m.id}-problem`} data-testid="reconciliation-problem" data-problem={problem}>
                                {tr(`reconciliation.problem.${problem}`, mine?.formError ?? problem)}
                              </p>
                            ) : null}
                          </Form>
                        ) : (
                          <span data-testid="mismatch-note">
                            {m.note} {m.resolvedAt ? `(${formatDateTime(m.resolvedAt, locale)})` : ""}
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
