import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { Fact } from "~/components/financing-loan-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parseYuanToFen } from "~/domain/catalog";
import { may, rolesFor } from "~/domain/identity";
import { paymentsDepsForRequest } from "~/domain/payments";
import * as Settlement from "~/domain/settlement";
import { bankStatementUrl } from "~/sandbox/epay/payouts.server";
import { sandboxConfigFrom } from "~/sandbox/epay/sandbox.server";
import { domainFailure } from "~/web/supply-chain-access.server";
import { notFound, requireMay, requireOrgContext, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";

/**
 * /settlement/account: the organisation's settlement bank account (对公账户) — register or change
 * it, and prove it by entering the small random deposit the platform sent (小额打款验证). The
 * number is shown in full only to the roles of `settlement_account.read_number`; in sandbox mode
 * they also get a link to the simulated bank statement where the deposit shows. Plain forms: they
 * work without JavaScript.
 */

export const links: LinksFunction = () => [{ rel: "stylesheet", href: supplyStyles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "settlement.title");

/** The gateway call behind a form submit: one attempt, short, the page offers a resend. */
const EPAY_TIMEOUT_MS = 5_000;

async function requireSettlementOrg(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  if (rolesFor("settlement_account.write", ctx.organization.kind).length === 0) notFound();
  return { ...ctx, who: { organizationId: ctx.organization.organizationId, kind: ctx.organization.kind, roles: ctx.roles } };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const ctx = await requireSettlementOrg(request, context);
  const { db, config } = context;
  const account = await scoped(() => Settlement.getSettlementAccount(db, ctx.who, new Date()));
  const org = await db.selectFrom("organizations").select("name").where("id", "=", ctx.who.organizationId).executeTakeFirstOrThrow();
  return {
    organizationName: org.name,
    account: account
      ? {
          bankName: account.bankName,
          branchName: account.branchName,
          accountNumber: account.accountNumber,
          accountNumberMasked: account.accountNumberMasked,
          accountName: account.accountName,
          status: account.status,
          depositSentAt: account.depositSentAt?.toISOString() ?? null,
          depositFailure: account.depositFailure,
          attemptsLeft: account.attemptsLeft,
          lockedUntil: account.lockedUntil?.toISOString() ?? null,
          verifiedAt: account.verifiedAt?.toISOString() ?? null,
        }
      : null,
    sandboxStatementUrl: config.epaySandboxEnabled && account?.accountNumber ? bankStatementUrl(sandboxConfigFrom(config), account.accountNumber) : null,
    mayWrite: may(ctx.roles, "settlement_account.write", ctx.organization.kind),
    mayVerify: may(ctx.roles, "settlement_account.verify", ctx.organization.kind),
  };
}

const SAVE_FIELDS = ["bank_name", "branch_name", "account_number", "account_name"] as const;

interface Failure {
  intent: "save" | "verify";
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: Record<string, string>;
}

const DEPOSIT_FLASH = {
  sent: "settlement.flash.registered",
  already_sent: "settlement.flash.registered",
  unavailable: "settlement.flash.pending",
  failed: "settlement.flash.failed",
} as const;

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireSettlementOrg(request, context);
  const intent = String(form.get("intent") ?? "");
  const gateway = () => paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 1 }).gateway;
  const done = async (key: Parameters<typeof flashCookie>[1]["key"]) => redirect("/settlement/account", { headers: { "Set-Cookie": await flashCookie(context, { key }) } });

  if (intent === "save") {
    requireMay(ctx, "settlement_account.write");
    const values = Object.fromEntries(SAVE_FIELDS.map((f) => [f, String(form.get(f) ?? "")]));
    try {
      const { changed, account } = await Settlement.registerSettlementAccount(
        context.db,
        ctx.actor,
        ctx.who,
        { bankName: values.bank_name, branchName: values.branch_name, accountNumber: values.account_number, accountName: values.account_name },
        new Date(),
      );
      // The same details while the deposit is still pending: the submit is the retry.
      if (!changed && account.status !== "pending_deposit") return done("settlement.flash.unchanged");
    } catch (error) {
      const { failure, status } = domainFailure(error, "save", values);
      return data<Failure>({ intent: "save", fieldErrors: failure.fieldErrors, formError: failure.formError, values }, { status });
    }
    const outcome = await Settlement.sendVerificationDeposit(context.db, gateway(), ctx.who.organizationId, new Date());
    return done(DEPOSIT_FLASH[outcome]);
  }

  if (intent === "resend") {
    requireMay(ctx, "settlement_account.write");
    const outcome = await scoped(() => Settlement.sendVerificationDeposit(context.db, gateway(), ctx.who.organizationId, new Date()));
    return done(DEPOSIT_FLASH[outcome]);
  }

  if (intent === "verify") {
    requireMay(ctx, "settlement_account.verify");
    const values = { amount: String(form.get("amount") ?? "").trim() };
    const amountFen = parseYuanToFen(values.amount);
    if (amountFen === null || amountFen < 1 || amountFen > 99) {
      return data<Failure>({ intent: "verify", fieldErrors: { amount_fen: "range" }, formError: null, values }, { status: 400 });
    }
    try {
      await Settlement.confirmVerificationDeposit(context.db, ctx.actor, ctx.who, amountFen, new Date());
    } catch (error) {
      const { failure, status } = domainFailure(error, "verify", values);
      return data<Failure>({ intent: "verify", fieldErrors: failure.fieldErrors, formError: failure.formError, values }, { status });
    }
    return done("settlement.flash.verified");
  }

  throw new Response("Unknown form", { status: 400 });
}

function Problem({ id, code, params }: { id: string; code: string | undefined; params?: Record<string, string | number> }) {
  const t = useT();
  const locale = useLocale();
  if (!code) return null;
  let text = translateDynamic(locale, `settlement.problem.${code}`, code);
  for (const [name, value] of Object.entries(params ?? {})) text = text.replaceAll(`{${name}}`, String(value));
  return (
    <p className="field-error" id={id} data-testid={id} data-problem={code}>
      {text || t("settlement.problem.required")}
    </p>
  );
}

export default function SettlementAccountPage() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const account = d.account;
  const saveFailure = failure?.intent === "save" ? failure : null;
  const verifyFailure = failure?.intent === "verify" ? failure : null;
  const problems = saveFailure?.fieldErrors ?? {};

  const input = (field: (typeof SAVE_FIELDS)[number], extra: { inputMode?: "numeric"; hint?: string; defaultValue: string }) => (
    <p>
      <label htmlFor={`settlement-${field}`}>{t(`settlement.field.${field}`)}</label>
      <br />
      <input
        id={`settlement-${field}`}
        name={field}
        inputMode={extra.inputMode}
        autoComplete="off"
        required
        defaultValue={saveFailure?.values[field] ?? extra.defaultValue}
        aria-invalid={problems[field] ? true : undefined}
        aria-describedby={problems[field] ? `settlement-${field}-problem` : undefined}
      />
      {extra.hint ? (
        <>
          <br />
          <span className="sc-muted small">{extra.hint}</span>
        </>
      ) : null}
      <Problem id={`settlement-${field}-problem`} code={problems[field]} params={{ name: d.organizationName }} />
    </p>
  );

  return (
    <div className="sc-page" data-testid="settlement-account">
      <div className="sc-head">
        <div>
          <h1>{t("settlement.title")}</h1>
        </div>
      </div>
      <p className="sc-muted">
        {t("settlement.intro")} <Link to="/settlement/payouts" data-testid="settlement-payouts-link">{t("payouts.toPayouts")}</Link>
      </p>

      <section className="panel" aria-labelledby="current-heading">
        <h2 id="current-heading">{t("settlement.current")}</h2>
        {account ? (
          <>
            <dl className="facts" data-testid="settlement-facts">
              <Fact label={t("settlement.field.bank_name")}>{account.bankName}</Fact>
              <Fact label={t("settlement.field.branch_name")}>{account.branchName}</Fact>
              <Fact label={t("settlement.field.account_number")} testId="settlement-number">
                <span className="num">{account.accountNumber ?? account.accountNumberMasked}</span>
              </Fact>
              <Fact label={t("settlement.field.account_name")}>{account.accountName}</Fact>
              <Fact label={t("settlement.status")} testId="settlement-status">
                <span data-status={account.status}>{translateDynamic(locale, `settlement.status.${account.status}`, account.status)}</span>
              </Fact>
              {account.depositSentAt ? <Fact label={t("settlement.depositSentAt")}>{formatDateTime(account.depositSentAt, locale)}</Fact> : null}
              {account.verifiedAt ? <Fact label={t("settlement.verifiedAt")}>{formatDateTime(account.verifiedAt, locale)}</Fact> : null}
            </dl>
            {account.accountNumber === null ? <p className="sc-muted small">{t("settlement.numberMasked")}</p> : null}
            {account.status === "deposit_failed" ? (
              <p className="sc-form-error" role="alert" data-testid="settlement-deposit-failed">
                {t("settlement.depositFailure", { reason: account.depositFailure ?? "" })}
              </p>
            ) : null}
            {account.status === "pending_deposit" ? (
              <div data-testid="settlement-pending">
                <p>{t("settlement.pendingHint")}</p>
                {d.mayWrite ? (
                  <Form method="post">
                    <CsrfInput />
                    <input type="hidden" name="intent" value="resend" />
                    <button type="submit" className="sc-button" disabled={busy} data-intent="resend">
                      {t("settlement.resend")}
                    </button>
                  </Form>
                ) : null}
              </div>
            ) : null}
          </>
        ) : (
          <p className="empty" data-testid="settlement-none">
            {t("settlement.none")}
          </p>
        )}
      </section>

      {account && account.status === "verified" ? (
        <section className="panel" data-testid="settlement-verified">
          <p>{t("settlement.verify.done")}</p>
        </section>
      ) : null}

      {account && account.status === "awaiting_confirmation" ? (
        <section className="panel" aria-labelledby="verify-heading" data-testid="settlement-verify">
          <h2 id="verify-heading">{t("settlement.verify.title")}</h2>
          <p>{t("settlement.verify.hint")}</p>
          {d.sandboxStatementUrl ? (
            <p>
              <a href={d.sandboxStatementUrl} data-testid="sandbox-statement-link" target="_blank" rel="noreferrer">
                {t("settlement.sandboxStatement")}
              </a>
            </p>
          ) : null}
          {account.lockedUntil ? (
            <p className="sc-form-error" role="alert" data-testid="settlement-locked">
              {t("settlement.verify.lockedUntil", { until: formatDateTime(account.lockedUntil, locale) })}
            </p>
          ) : d.mayVerify ? (
            <Form method="post" data-testid="verify-form">
              <CsrfInput />
              <input type="hidden" name="intent" value="verify" />
              <p>
                <label htmlFor="settlement-amount">{t("settlement.verify.amount")}</label>
                <br />
                <input
                  id="settlement-amount"
                  name="amount"
                  inputMode="decimal"
                  autoComplete="off"
                  required
                  placeholder="0.00"
                  defaultValue={verifyFailure?.values.amount ?? ""}
                  aria-invalid={verifyFailure?.fieldErrors.amount_fen ? true : undefined}
                  aria-describedby={verifyFailure?.fieldErrors.amount_fen ? "settlement-amount-problem" : "settlement-attempts"}
                />
                <Problem id="settlement-amount-problem" code={verifyFailure?.fieldErrors.amount_fen} params={{ count: account.attemptsLeft }} />
              </p>
              <p className="sc-muted small" id="settlement-attempts" data-testid="settlement-attempts">
                {t("settlement.verify.attemptsLeft", { count: account.attemptsLeft })}
              </p>
              <button type="submit" className="sc-button" disabled={busy} data-intent="verify">
                {t("settlement.verify.submit")}
              </button>
            </Form>
          ) : (
            <p className="sc-muted">{t("settlement.noPermission")}</p>
          )}
        </section>
      ) : null}

      <section className="panel" aria-labelledby="save-heading">
        <h2 id="save-heading">{account ? t("settlement.change") : t("settlement.register")}</h2>
        {account ? <p className="sc-muted">{t("settlement.changeHint")}</p> : null}
        {saveFailure?.formError ? (
          <p className="sc-form-error" role="alert">
            {saveFailure.formError}
          </p>
        ) : null}
        {d.mayWrite ? (
          <Form method="post" data-testid="settlement-form">
            <CsrfInput />
            <input type="hidden" name="intent" value="save" />
            {input("bank_name", { defaultValue: account?.bankName ?? "" })}
            {input("branch_name", { defaultValue: account?.branchName ?? "" })}
            {input("account_number", { inputMode: "numeric", hint: t("settlement.field.account_numberHint"), defaultValue: account?.accountNumber ?? "" })}
            {input("account_name", { hint: t("settlement.field.account_nameHint", { name: d.organizationName }), defaultValue: account?.accountName ?? d.organizationName })}
            <button type="submit" className="sc-button" disabled={busy} data-intent="save">
              {t("settlement.submit")}
            </button>
          </Form>
        ) : (
          <p className="sc-muted" data-testid="settlement-no-permission">
            {t("settlement.noPermission")}
          </p>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
