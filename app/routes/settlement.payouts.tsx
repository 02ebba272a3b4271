import { randomUUID } from "node:crypto";
import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { Fact } from "~/components/financing-loan-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, formatPercentBps, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parseYuanToFen } from "~/domain/catalog";
import { may, rolesFor } from "~/domain/identity";
import * as Settlement from "~/domain/settlement";
import { badRequestOnValidation, domainFailure } from "~/web/supply-chain-access.server";
import { notFound, requireMay, requireOrgContext, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";

/**
 * /settlement/payouts: for an organisation that may be paid out, what it may pay out now with its
 * parts (balance, holds, reserve), a form to request a payout, and its history. For the bank's
 * operations staff, every organisation's payouts, the failed ones with the gateway's reason.
 * Plain forms and links: it works without JavaScript.
 */

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "payouts.title");

const STATUS_FILTERS = ["failed"] as const;

async function requirePayoutsContext(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  const bank = ctx.organization.kind === "bank";
  if (bank) requireMay(ctx, "payout.view_all");
  else if (rolesFor("payout.request", ctx.organization.kind).length === 0) notFound();
  return { ...ctx, bank, who: { organizationId: ctx.organization.organizationId, kind: ctx.organization.kind, roles: ctx.roles } };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const ctx = await requirePayoutsContext(request, context);
  const url = new URL(request.url);
  const statusParam = url.searchParams.get("status");
  const status = STATUS_FILTERS.find((s) => s === statusParam) ?? null;
  const page = await badRequestOnValidation(() => Settlement.listPayouts(context.db, ctx.who, { after: url.searchParams.get("after"), status, limit: 50 }));
  const payouts = page.items.map((p) => ({
    id: p.id,
    organizationName: p.organizationName,
    amountFen: p.amountFen,
    status: p.status,
    account: `${p.bankName} ${p.accountNumberMasked}`,
    failureReason: p.failureReason,
    lastFailureReason: p.lastFailureReason,
    attempts: p.attempts,
    requestedAt: p.requestedAt.toISOString(),
  }));
  if (ctx.bank) return { bank: true as const, status, payouts, nextCursor: page.nextCursor, available: null, accountVerified: false, mayRequest: false, idempotencyKey: "" };
  const available = await scoped(() => Settlement.getAvailableForPayout(context.db, ctx.who, new Date()));
  const account = await scoped(() => Settlement.getSettlementAccount(context.db, ctx.who, new Date()));
  return {
    bank: false as const,
    status,
    payouts,
    nextCursor: page.nextCursor,
    available,
    accountVerified: account?.status === "verified",
    mayRequest: may(ctx.roles, "payout.request", ctx.organization.kind),
    // One key per rendered form: submitting it twice (a double click, a resend) is one payout.
    idempotencyKey: randomUUID(),
  };
}

interface Failure {
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: Record<string, string>;
  availableFen: number | null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const base = await requireOrgContext(request, context);
  // The bank's console has no form: only a kind that may be paid out posts here.
  if (rolesFor("payout.request", base.organization.kind).length === 0) notFound();
  requireMay(base, "payout.request");
  const ctx = { ...base, who: { organizationId: base.organization.organizationId, kind: base.organization.kind, roles: base.roles } };
  if (String(form.get("intent") ?? "") !== "request") throw new Response("Unknown form", { status: 400 });
  const values = { amount: String(form.get("amount") ?? "").trim(), idempotency_key: String(form.get("idempotency_key") ?? "") };
  const amountFen = parseYuanToFen(values.amount);
  if (amountFen === null || amountFen < 1) {
    return data<Failure>({ fieldErrors: { amount_fen: "positive_integer" }, formError: null, values, availableFen: null }, { status: 422 });
  }
  try {
    await Settlement.requestPayout(context.db, ctx.actor, ctx.who, { amountFen, idempotencyKey: `page:${values.idempotency_key}` }, new Date());
  } catch (error) {
    const { failure, status } = domainFailure(error, "request", values);
    const availableFen = failure.fieldErrors.amount_fen === "exceeds_available" ? (await Settlement.getAvailableForPayout(context.db, ctx.who, new Date())).availableFen : null;
    return data<Failure>({ fieldErrors: failure.fieldErrors, formError: failure.formError, values, availableFen }, { status });
  }
  return redirect("/settlement/payouts", { headers: { "Set-Cookie": await flashCookie(context, { key: "payouts.flash.requested" }) } });
}

function Problem({ id, code, params }: { id: string; code: string | undefined; params?: Record<string, string | number> }) {
  const locale = useLocale();
  if (!code) return null;
  let text = translateDynamic(locale, `payouts.problem.${code}`, code);
  for (const [name, value] of Object.entries(params ?? {})) text = text.replaceAll(`{${name}}`, String(value));
  return (
    <p className="field-error" id={id} data-testid={id} data-problem={code}>
      {text}
    </p>
  );
}

export default function PayoutsPage() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const problems = failure?.fieldErrors ?? {};
  const amountProblem = problems.amount_fen ?? problems.settlement_account ?? problems.idempotency_key;

  return (
    <div className="sc-page" data-testid="payouts">
      <div className="sc-head">
        <div>
          <h1>{d.bank ? t("payouts.consoleTitle") : t("payouts.title")}</h1>
        </div>
      </div>
      {d.available ? (
        <>
          <p className="sc-muted">
            {t("payouts.intro")} <Link to="/settlement/account">{t("payouts.toAccount")}</Link>
          </p>
          <section className="panel" aria-labelledby="available-heading">
            <h2 id="available-heading">{t("payouts.available.title")}</h2>
            <dl className="facts" data-testid="payouts-available">
              <Fact label={t("payouts.available.balance")} testId="payouts-balance">
                <span className="num" data-fen={d.available.balanceFen}>{formatFen(d.available.balanceFen, locale)}</span>
              </Fact>
              <Fact label={t("payouts.available.holds")} testId="payouts-holds">
                <span className="num" data-fen={d.available.holdsFen}>{formatFen(d.available.holdsFen, locale)}</span>
              </Fact>
              <Fact label={t("payouts.available.reserve")} testId="payouts-reserve">
                <span className="num" data-fen={d.available.reserveFen}>{formatFen(d.available.reserveFen, locale)}</span>
              </Fact>
              <Fact label={t("payouts.available.available")} testId="payouts-available-amount">
                <strong className="num" data-fen={d.available.availableFen}>{formatFen(d.available.availableFen, locale)}</strong>
              </Fact>
            </dl>
            <p className="sc-muted small" data-testid="payouts-reserve-rule" data-rule={d.available.reserve.rule}>
              {translateDynamic(locale, `payouts.reserve.${d.available.reserve.rule}`, d.available.reserve.rule)
                .replaceAll("{days}", String(d.available.reserve.windowDays))
                .replaceAll("{share}", formatPercentBps(d.available.reserve.shareBps, locale))
                .replaceAll("{base}", formatFen(d.available.reserve.baseFen, locale))}
            </p>
          </section>

          <section className="panel" aria-labelledby="request-heading">
            <h2 id="request-heading">{t("payouts.request.title")}</h2>
            {failure?.formError ? (
              <p className="sc-form-error" role="alert">
                {failure.formError}
              </p>
            ) : null}
            {!d.accountVerified ? (
              <p className="sc-muted" data-testid="payouts-no-account">
                {t("payouts.request.noAccount")} <Link to="/settlement/account">{t("payouts.toAccount")}</Link>
              </p>
            ) : d.mayRequest ? (
              <Form method="post" data-testid="payout-form">
                <CsrfInput />
                <input type="hidden" name="intent" value="request" />
                <input type="hidden" name="idempotency_key" value={failure?.values.idempotency_key || d.idempotencyKey} />
                <p>
                  <label htmlFor="payout-amount">{t("payouts.request.amount")}</label>
                  <br />
                  <input
                    id="payout-amount"
                    name="amount"
                    inputMode="decimal"
                    autoComplete="off"
                    required
                    placeholder="0.00"
                    defaultValue={failure?.values.amount ?? ""}
                    aria-invalid={amountProblem ? true : undefined}
                    aria-describedby={amountProblem ? "payout-amount-problem" : undefined}
                  />
                  <Problem id="payout-amount-problem" code={amountProblem} params={{ available: formatFen(failure?.availableFen ?? d.available.availableFen, locale) }} />
                </p>
                <button type="submit" className="sc-button" disabled={busy} data-intent="request">
                  {t("payouts.request.submit")}
                </button>
              </Form>
            ) : (
              <p className="sc-muted" data-testid="payouts-no-permission">
                {t("payouts.request.noPermission")}
              </p>
            )}
          </section>
        </>
      ) : (
        <p>
          <Link to="/settlement/payouts">{t("payouts.filter.all")}</Link> · <Link to="/settlement/payouts?status=failed">{t("payouts.filter.failed")}</Link>
        </p>
      )}

      <section className="panel" aria-labelledby="history-heading">
        <h2 id="history-heading">{t("payouts.history.title")}</h2>
        {d.payouts.length === 0 ? (
          <p className="empty" data-testid="payouts-empty">
            {t("payouts.history.empty")}
          </p>
        ) : (
          <div className="table-scroll">
            <table data-testid="payouts-table">
              <thead>
                <tr>
                  <th scope="col">{t("payouts.col.requestedAt")}</th>
                  {d.bank ? <th scope="col">{t("payouts.col.organization")}</th> : null}
                  <th scope="col" className="num">
                    {t("payouts.col.amount")}
                  </th>
                  <th scope="col">{t("payouts.col.account")}</th>
                  <th scope="col">{t("payouts.col.status")}</th>
                  <th scope="col" className="num">
                    {t("payouts.col.attempts")}
                  </th>
                  <th scope="col">{t("payouts.col.reason")}</th>
                </tr>
              </thead>
              <tbody>
                {d.payouts.map((p) => (
                  <tr key={p.id} data-payout-id={p.id} data-status={p.status}>
                    <td>{formatDateTime(p.requestedAt, locale)}</td>
                    {d.bank ? <td>{p.organizationName}</td> : null}
                    <td className="num">{formatFen(p.amountFen, locale)}</td>
                    <td>{p.account}</td>
                    <td>{translateDynamic(locale, `payouts.status.${p.status}`, p.status)}</td>
                    <td className="num">{p.attempts}</td>
                    <td data-testid="payout-reason">
                      {p.failureReason ?? (p.lastFailureReason && p.status !== "succeeded" ? t("payouts.retrying", { reason: p.lastFailureReason }) : "")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {d.nextCursor ? (
          <p>
            <Link to={`/settlement/payouts?${new URLSearchParams({ ...(d.status ? { status: d.status } : {}), after: d.nextCursor }).toString()}`} data-testid="payouts-more">
              {t("payouts.history.more")}
            </Link>
          </p>
        ) : null}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
