import { randomUUID } from "node:crypto";
import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { LoanClassTag, LoanStatusTag } from "~/components/financing-ui";
import { AllocationCell, Fact, FieldProblem, Money, ProblemList, ScheduleTable, bucketText } from "~/components/financing-loan-ui";
import { RouteError } from "~/components/route-error";
import { PaymentInFlight, PaymentLastFailed } from "~/components/order-ui";
import { formatDate, formatDateTime, formatFen, formatRatePpm, translate, translateDynamic, type MessageKey } from "~/i18n";
import { resolveLocale } from "~/i18n/locale.server";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import * as Financing from "~/domain/financing";
import { parseYuanToFen } from "~/domain/catalog";
import { may, type ActionName } from "~/domain/identity";
import { EpayGatewayError, paymentsDepsForRequest } from "~/domain/payments";
import { isDomainError, shanghaiDate } from "~/domain/shared";
import { forbidden, notFound, requireMay, requireOrgContext, requireUuidParam, rolesOfRefusal, scoped, type OrgContext } from "~/web/tenancy.server";
import { flashCookie, getSession, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";
import ordersStyles from "~/styles/orders.css";

/**
 * /financing/loans/<loanId>: one loan, for the bank (every loan), its borrower and its guarantor;
 * anyone else gets a 404. The borrower (or, once the guarantee is called, the guarantor) repays
 * from its wallet or by e-Pay (the gateway's page, then back here: the payment in flight is shown
 * until the capture has repaid the loan); the bank's credit staff reclassify and write off.
 */

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.loan.pageTitle");

const REASON_MAX_CHARS = 500;
const ACCRUALS_SHOWN = 14;
const EPAY_TIMEOUT_MS = 5_000;
/** Asking the gateway about a pending payment while the page loads: short, the callback covers the rest. */
const EPAY_STATUS_TIMEOUT_MS = 2_000;

async function loanContext(request: Request, context: LoaderFunctionArgs["context"], loanId: string | undefined) {
  const ctx = await requireOrgContext(request, context);
  const organizationId = ctx.organization.organizationId;
  // Organisations with no part in financing get the same 404 as another tenant's loan.
  const scope = await scoped(async () => Financing.requireScopeFor(ctx.organization.kind, organizationId));
  const id = requireUuidParam(loanId);
  const now = new Date();
  const detail = await scoped(() => Financing.getLoan(context.db, scope, id, now));
  return { ctx, organizationId, scope, detail, now };
}

/** Who repays now: the borrower, or the guarantor once its guarantee is called. */
function payerOf(loan: Financing.LoanDetail["loan"]): string | null {
  return loan.status === "guarantee_called" ? loan.guarantor_organization_id : loan.borrower_organization_id;
}

function canRepay(ctx: OrgContext, detail: Financing.LoanDetail): boolean {
  return (
    Financing.OPEN_LOAN_STATUSES.includes(detail.loan.status as Financing.LoanStatus) &&
    payerOf(detail.loan) === ctx.organization.organizationId &&
    may(ctx.roles, "financing.repay", ctx.organization.kind)
  );
}

function bankMay(ctx: OrgContext, detail: Financing.LoanDetail, action: ActionName, event: Financing.LoanEvent): boolean {
  return (
    ctx.organization.kind === "bank" &&
    may(ctx.roles, action, ctx.organization.kind) &&
    Financing.availableLoanEvents(detail.loan.status as Financing.LoanStatus, "bank").includes(event)
  );
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const loaded = await loanContext(request, context, params.loanId);
  const { ctx, scope, now } = loaded;
  let { detail } = loaded;
  // The payer's e-Pay repayment: in flight (asked of the gateway, since the callback may be late),
  // or failed last. While one is in flight the page offers no other way to repay.
  const epay = canRepay(ctx, detail)
    ? await Financing.settleEpayRepaymentAttempts(
        context.db,
        ctx.organization.organizationId,
        detail.loan.id,
        paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_STATUS_TIMEOUT_MS, maxAttempts: 1 }),
      )
    : null;
  // The gateway's answer may have just repaid the loan (the capture applies it at once): read it again.
  if (epay?.changed) detail = await scoped(() => Financing.getLoan(context.db, scope, detail.loan.id, now));
  const { loan } = detail;
  return {
    today: shanghaiDate(now),
    loan: {
      id: loan.id,
      number: loan.number,
      status: loan.status,
      productName: loan.productName,
      productNameEn: loan.productNameEn,
      borrowerName: loan.borrowerName,
      guarantorName: loan.guarantorName,
      orderId: loan.order_id,
      orderNumber: loan.orderNumber,
      principalFen: loan.principal_fen,
      annualRatePpm: loan.annual_rate_ppm,
      penaltyRatePpm: loan.penalty_rate_ppm,
      method: loan.repayment_method,
      disbursedOn: loan.disbursed_on,
      maturityOn: loan.maturity_on,
      closedOn: loan.closed_on,
      daysPastDue: loan.days_past_due,
      ruleClass: loan.rule_class,
      officerClassReason: loan.officer_class_reason,
    },
    loanClass: detail.loanClass,
    bucket: detail.bucket,
    instalments: detail.instalments,
    balances: detail.balances,
    dueNow: detail.dueNow,
    dueNowFen: detail.dueNowFen,
    payoffFen: detail.payoffFen,
    // The last fortnight on the page; the totals cover every day accrued.
    accruals: detail.accruals.slice(0, ACCRUALS_SHOWN),
    accrualTotals: detail.accrualTotals,
    repayments: detail.repayments.map((r) => ({ id: r.id, source: r.source, amountFen: r.amountFen, allocation: r.allocation, paidOn: r.paidOn })),
    events: detail.events.map((e) => ({
      id: e.id,
      event: e.event,
      actorName: e.actorName,
      at: e.at.toISOString(),
      // What a reader needs from the event's detail: the money moved, the officer's reason.
      amountFen: typeof e.detail.amount_fen === "number" ? e.detail.amount_fen : typeof e.detail.principal_fen === "number" ? e.detail.principal_fen : null,
      reason: typeof e.detail.reason === "string" ? e.detail.reason : null,
    })),
    repay: canRepay(ctx, detail) ? { byGuarantor: loan.status === "guarantee_called" } : null,
    epay: {
      inFlight: epay?.inFlight
        ? {
            id: epay.inFlight.id,
            status: epay.inFlight.status,
            amountFen: epay.inFlight.amountFen,
            createdAt: epay.inFlight.createdAt.toISOString(),
            payUrl: epay.inFlight.payUrl,
          }
        : null,
      lastFailedAt: epay?.lastFailed?.failedAt ? epay.lastFailed.failedAt.toISOString() : null,
    },
    canReclassify: bankMay(ctx, detail, "financing.reclassify", "reclassify"),
    canWriteOff: bankMay(ctx, detail, "financing.write_off", "write_off"),
    // One key per rendering of the forms: the same form posted twice is one repayment.
    idempotencyKey: randomUUID(),
  };
}

// ---------------------------------------------------------------------------------------------
// Forms. Problems are message keys, shown next to the field they name ("form": above the form).

const INTENTS = ["repay_due", "payoff", "epay", "reclassify", "write_off"] as const;
type Intent = (typeof INTENTS)[number];

/** Each form of the page → its action in the permission table (app/domain/identity/permissions.ts). */
const INTENT_ACTION: Readonly<Record<Intent, ActionName>> = {
  repay_due: "financing.repay",
  payoff: "financing.repay",
  epay: "financing.repay",
  reclassify: "financing.reclassify",
  write_off: "financing.write_off",
};

interface LoanFormFailure {
  intent: Intent;
  fieldErrors: Partial<Record<"amount" | "class" | "reason" | "confirm" | "form", string>>;
  values: Record<string, string>;
}

const reason = z.string({ required_error: "financing.loan.problem.required" }).trim().min(1, "financing.loan.problem.required").max(REASON_MAX_CHARS, "financing.loan.problem.tooLong");
const ReclassifyForm = z.object({
  class: z.enum(Financing.LOAN_CLASSES, { errorMap: () => ({ message: "financing.loan.problem.classUnknown" }) }),
  reason,
});
const WriteOffForm = z.object({
  reason,
  confirm: z.literal("yes", { errorMap: () => ({ message: "financing.loan.problem.confirm" }) }),
});
const IdempotencyKey = z.string().uuid();
const EpayMode = z.enum(["due", "payoff"]);

function zodProblems(error: z.ZodError): LoanFormFailure["fieldErrors"] {
  const out: LoanFormFailure["fieldErrors"] = {};
  for (const issue of error.issues) {
    const field = issue.path[0];
    if (field === "class" || field === "reason" || field === "confirm") out[field] ??= issue.message;
  }
  return out;
}

/** The domain's refusal (fields named in English codes) → the form's field and a message key. */
function domainProblems(fields: Record<string, string>, message: string): LoanFormFailure["fieldErrors"] {
  const out: LoanFormFailure["fieldErrors"] = {};
  for (const [field, value] of Object.entries(fields)) {
    if (field === "amount_fen") {
      out.amount =
        value === "nothing due"
          ? "financing.loan.problem.nothingDue"
          : value === "must be positive"
            ? "financing.loan.problem.amountPositive"
            : value.startsWith("at most")
              ? "financing.loan.problem.amountTooMuch"
              : value === "wallet empty"
                ? "financing.loan.problem.walletEmpty"
                : value === "wallet balance too low"
                  ? "financing.loan.problem.walletLow"
                  : message;
    } else if (field === "class") {
      out.class = value === "unknown" ? "financing.loan.problem.classUnknown" : "financing.loan.problem.classBetter";
    } else if (field === "reason") {
      out.reason = "financing.loan.problem.required";
    } else if (field === "idempotency_key") {
      out.form = "financing.loan.problem.keyReused";
    } else if (field === "payment") {
      out.form = value === "already_paid" ? "financing.loan.problem.epayPaid" : value === "payment_pending" ? "financing.loan.problem.epayPending" : message;
    } else if (field === "status") {
      out.form = "financing.loan.problem.state";
    } else {
      out.form = message;
    }
  }
  if (Object.keys(out).length === 0) out.form = message;
  return out;
}

const FLASH: Record<Intent, MessageKey> = {
  repay_due: "financing.loan.flash.repaid",
  payoff: "financing.loan.flash.paidOff",
  // Never shown: e-Pay redirects to the gateway's page.
  epay: "financing.loan.flash.repaid",
  reclassify: "financing.loan.flash.reclassified",
  write_off: "financing.loan.flash.writtenOff",
};

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  // Who may see the loan first: another tenant's id is a 404 for every intent.
  const { ctx, detail } = await loanContext(request, context, params.loanId);
  const { loan } = detail;
  const rawIntent = String(form.get("intent") ?? "");
  if (!(INTENTS as readonly string[]).includes(rawIntent)) throw new Response("Unknown form", { status: 400 });
  const intent = rawIntent as Intent;
  // Then the permission table: 404 when the action is not this kind of organisation's, 403 naming the roles.
  requireMay(ctx, INTENT_ACTION[intent]);
  const { db } = context;
  const text = (name: string) => {
    const v = form.get(name);
    return typeof v === "string" ? v.slice(0, REASON_MAX_CHARS * 2) : "";
  };
  const values = { amount: text("amount").slice(0, 40), class: text("class").slice(0, 40), reason: text("reason") };
  const fail = (fieldErrors: LoanFormFailure["fieldErrors"], status = 422) => data<LoanFormFailure>({ intent, fieldErrors, values }, { status });
  const here = `/financing/loans/${loan.id}`;
  const done = async (key: MessageKey) => redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key, params: { number: loan.number } }) } });

  try {
    switch (intent) {
      case "repay_due":
      case "payoff": {
        // The guarantor sees the loan but repays only once its guarantee is called.
        if (payerOf(loan) !== ctx.organization.organizationId) return fail({ form: "financing.loan.problem.state" }, 409);
        const key = IdempotencyKey.safeParse(text("idempotency_key"));
        if (!key.success) throw new Response("Missing or malformed idempotency_key", { status: 400 });
        let amountFen: number | undefined;
        if (intent === "repay_due" && values.amount.trim() !== "") {
          const parsed = parseYuanToFen(values.amount);
          if (parsed === null) return fail({ amount: "financing.loan.problem.amountFormat" });
          if (parsed <= 0) return fail({ amount: "financing.loan.problem.amountPositive" });
          amountFen = parsed;
        }
        const result = await Financing.repayLoan(
          db,
          ctx.actor,
          loan.id,
          { mode: intent === "payoff" ? "payoff" : "due", ...(amountFen !== undefined ? { amountFen } : {}), source: "wallet", idempotencyKey: key.data },
          new Date(),
        );
        return done(result.loanStatus === "repaid" ? "financing.loan.flash.paidOff" : FLASH.repay_due);
      }
      case "epay": {
        if (payerOf(loan) !== ctx.organization.organizationId) return fail({ form: "financing.loan.problem.state" }, 409);
        const mode = EpayMode.safeParse(text("mode"));
        if (!mode.success) throw new Response("Missing or malformed mode", { status: 400 });
        const session = await getSession(request, context);
        const locale = await resolveLocale(request, session?.user.locale);
        let started;
        try {
          // Over HTTP to the gateway, outside any transaction: resumes the attempt pending for this
          // loan, or starts a new one after a failure; the amount is worked out by the domain.
          started = await Financing.startEpayRepayment(
            db,
            ctx.actor,
            loan.id,
            { mode: mode.data, description: translate(locale, "financing.loan.epay.description", { number: loan.number }) },
            // A person is waiting on the answer: a shorter budget than a background step's.
            paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 2 }),
            new Date(),
          );
        } catch (error) {
          if (error instanceof EpayGatewayError) {
            context.logger.warn({ loanId: loan.id, err: error }, "e-Pay repayment could not be started");
            return fail({ form: "financing.loan.problem.epayUnavailable" }, 503);
          }
          throw error;
        }
        return redirect(started.payUrl);
      }
      case "reclassify": {
        const parsed = ReclassifyForm.safeParse({ class: values.class, reason: values.reason });
        if (!parsed.success) return fail(zodProblems(parsed.error));
        await Financing.reclassifyLoan(db, ctx.actor, loan.id, parsed.data.class, parsed.data.reason, new Date());
        return done(FLASH.reclassify);
      }
      case "write_off": {
        const parsed = WriteOffForm.safeParse({ reason: values.reason, confirm: text("confirm") });
        if (!parsed.success) return fail(zodProblems(parsed.error));
        await Financing.writeOffLoan(db, ctx.actor, loan.id, parsed.data.reason, new Date());
        return done(FLASH.write_off);
      }
    }
  } catch (error) {
    if (error instanceof Response) throw error;
    if (!isDomainError(error)) throw error;
    if (error.code === "not_found") notFound();
    if (error.code === "forbidden") forbidden(rolesOfRefusal(error));
    return fail(domainProblems(error.fields, error.message), error.status);
  }
}

// ---------------------------------------------------------------------------------------------
// Page

type LoaderData = ReturnType<typeof useLoaderData<typeof loader>>;

function problemsOf(failure: LoanFormFailure | undefined, intents: readonly Intent[]) {
  const mine = failure && intents.includes(failure.intent) ? failure : undefined;
  return {
    form: mine?.fieldErrors.form ? [mine.fieldErrors.form] : [],
    field: (name: "amount" | "class" | "reason" | "confirm") => mine?.fieldErrors[name],
    value: (name: string) => mine?.values[name],
  };
}

function RepayForms({ d, failure, busy }: { d: LoaderData; failure: LoanFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  const p = problemsOf(failure, ["repay_due", "payoff", "epay"]);
  const amountError = p.field("amount");
  if (d.epay.inFlight) {
    return (
      <section className="panel" aria-labelledby="repay-heading" data-testid="repay">
        <h2 id="repay-heading">{t("financing.loan.repay.title")}</h2>
        <ProblemList problems={p.form} testId="repay-problems" />
        <PaymentInFlight payment={d.epay.inFlight} />
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="repay-heading" data-testid="repay">
      <h2 id="repay-heading">{t("financing.loan.repay.title")}</h2>
      {d.repay?.byGuarantor ? <p>{t("financing.loan.repay.byGuarantor")}</p> : null}
      {d.epay.lastFailedAt ? <PaymentLastFailed failedAt={d.epay.lastFailedAt} /> : null}
      <ProblemList problems={p.form} testId="repay-problems" />
      {d.dueNowFen > 0 ? (
        <Form method="post" className="od-reason-form" noValidate>
          <CsrfInput />
          <input type="hidden" name="intent" value="repay_due" />
          <input type="hidden" name="idempotency_key" value={d.idempotencyKey} />
          <div className="sc-field">
            <label htmlFor="repay-amount">{t("financing.loan.repay.amount")}</label>
            <input
              id="repay-amount"
              name="amount"
              inputMode="decimal"
              maxLength={20}
              defaultValue={p.value("amount")}
              aria-invalid={amountError ? true : undefined}
              aria-describedby={amountError ? "repay-amount-error" : "repay-amount-hint"}
            />
            <p className="hint" id="repay-amount-hint">
              {t("financing.loan.repay.amountHint", { amount: formatFen(d.dueNowFen, locale) })}
            </p>
            <FieldProblem id="repay-amount-error" problem={amountError} />
          </div>
          <button type="submit" className="sc-button" disabled={busy} data-intent="repay_due">
            {t("financing.loan.repay.due")}
          </button>
        </Form>
      ) : (
        <p className="sc-muted">{t("financing.loan.repay.nothingDue")}</p>
      )}
      {d.payoffFen > 0 ? (
        <Form method="post" className="od-inline">
          <CsrfInput />
          <input type="hidden" name="intent" value="payoff" />
          <input type="hidden" name="idempotency_key" value={d.idempotencyKey} />
          <button type="submit" className="sc-button secondary" disabled={busy} data-intent="payoff">
            {t("financing.loan.repay.payoff", { amount: formatFen(d.payoffFen, locale) })}
          </button>
        </Form>
      ) : null}
      {d.dueNowFen > 0 || d.payoffFen > 0 ? (
        <div className="sc-actions" data-testid="repay-epay">
          {d.dueNowFen > 0 ? <EpayButton mode="due" label={t("financing.loan.repay.epayDue", { amount: formatFen(d.dueNowFen, locale) })} busy={busy} /> : null}
          {d.payoffFen > 0 ? <EpayButton mode="payoff" label={t("financing.loan.repay.epayPayoff", { amount: formatFen(d.payoffFen, locale) })} busy={busy} /> : null}
          <p className="sc-muted small">{t("financing.loan.repay.epayHint")}</p>
        </div>
      ) : null}
    </section>
  );
}

function EpayButton({ mode, label, busy }: { mode: "due" | "payoff"; label: string; busy: boolean }) {
  return (
    <Form method="post" className="od-inline">
      <CsrfInput />
      <input type="hidden" name="intent" value="epay" />
      <input type="hidden" name="mode" value={mode} />
      <button type="submit" className="sc-button secondary" disabled={busy} data-intent="epay" data-mode={mode}>
        {label}
      </button>
    </Form>
  );
}

function ReasonField({ idPrefix, label, error, defaultValue }: { idPrefix: string; label: string; error: string | undefined; defaultValue: string | undefined }) {
  const id = `${idPrefix}-reason`;
  return (
    <div className="sc-field">
      <label htmlFor={id}>
        {label}
        <span className="req" aria-hidden="true">
          *
        </span>
      </label>
      <input id={id} name="reason" required maxLength={REASON_MAX_CHARS} defaultValue={defaultValue} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : undefined} />
      <FieldProblem id={`${id}-error`} problem={error} />
    </div>
  );
}

function ReclassifyFormView({ d, failure, busy }: { d: LoaderData; failure: LoanFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const p = problemsOf(failure, ["reclassify"]);
  const classError = p.field("class");
  return (
    <Form method="post" className="od-reason-form" noValidate data-testid="reclassify">
      <h3>{t("financing.loan.reclassify.title")}</h3>
      <p className="sc-muted">{t("financing.loan.reclassify.rule", { class: t(`financing.class.${d.loan.ruleClass as Financing.LoanClass}`) })}</p>
      <CsrfInput />
      <input type="hidden" name="intent" value="reclassify" />
      <ProblemList problems={p.form} />
      <div className="sc-field">
        <label htmlFor="reclassify-class">{t("financing.loan.reclassify.class")}</label>
        <select id="reclassify-class" name="class" defaultValue={p.value("class") ?? d.loanClass} aria-invalid={classError ? true : undefined} aria-describedby={classError ? "reclassify-class-error" : undefined}>
          {Financing.LOAN_CLASSES.map((c) => (
            <option key={c} value={c}>
              {t(`financing.class.${c}`)}
            </option>
          ))}
        </select>
        <FieldProblem id="reclassify-class-error" problem={classError} />
      </div>
      <ReasonField idPrefix="reclassify" label={t("financing.loan.reclassify.reason")} error={p.field("reason")} defaultValue={p.value("reason")} />
      <button type="submit" className="sc-button secondary" disabled={busy} data-intent="reclassify">
        {t("financing.loan.reclassify.submit")}
      </button>
    </Form>
  );
}

function WriteOffFormView({ failure, busy }: { failure: LoanFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const p = problemsOf(failure, ["write_off"]);
  const confirmError = p.field("confirm");
  return (
    <Form method="post" className="od-reason-form" noValidate data-testid="write-off">
      <h3>{t("financing.loan.writeOff.title")}</h3>
      <CsrfInput />
      <input type="hidden" name="intent" value="write_off" />
      <ProblemList problems={p.form} />
      <ReasonField idPrefix="write-off" label={t("financing.loan.writeOff.reason")} error={p.field("reason")} defaultValue={p.value("reason")} />
      <div className="sc-field">
        <label>
          <input type="checkbox" name="confirm" value="yes" required aria-invalid={confirmError ? true : undefined} aria-describedby={confirmError ? "write-off-confirm-error" : undefined} /> {t("financing.loan.writeOff.confirm")}
        </label>
        <FieldProblem id="write-off-confirm-error" problem={confirmError} />
      </div>
      <button type="submit" className="sc-button danger" disabled={busy} data-intent="write_off">
        {t("financing.loan.writeOff.submit")}
      </button>
    </Form>
  );
}

export default function LoanPage() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const { loan } = d;
  const components = Financing.ALLOCATION_COMPONENTS;
  return (
    <div className="sc-page" data-testid="loan-page">
      <p>
        <Link to="/financing">← {t("financing.loan.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{locale === "en" ? loan.productNameEn : loan.productName}</p>
          <h1 className="mono">{t("financing.loan.heading", { number: loan.number })}</h1>
        </div>
        <div>
          <LoanStatusTag status={loan.status} /> <LoanClassTag loanClass={d.loanClass} />
        </div>
      </div>

      <section className="panel" data-testid="loan-facts">
        <dl className="facts">
          <Fact label={t("financing.loan.borrower")}>{loan.borrowerName}</Fact>
          <Fact label={t("financing.loan.guarantor")}>{loan.guarantorName ?? t("financing.loan.noGuarantor")}</Fact>
          <Fact label={t("financing.loan.order")}>
            {loan.orderId && loan.orderNumber ? (
              <Link to={`/orders/${loan.orderId}`} className="mono">
                {loan.orderNumber}
              </Link>
            ) : (
              "—"
            )}
          </Fact>
          <Fact label={t("financing.loan.principal")} testId="loan-principal">
            <Money fen={loan.principalFen} />
          </Fact>
          <Fact label={t("financing.loan.rate")} testId="loan-rate">
            {formatRatePpm(loan.annualRatePpm)}
          </Fact>
          <Fact label={t("financing.loan.penaltyRate")}>{formatRatePpm(loan.penaltyRatePpm)}</Fact>
          <Fact label={t("financing.loan.method")}>{translateDynamic(locale, `financing.loan.method.${loan.method}`, loan.method)}</Fact>
          <Fact label={t("financing.loan.disbursedOn")}>{formatDate(loan.disbursedOn, locale)}</Fact>
          <Fact label={t("financing.loan.maturityOn")}>{formatDate(loan.maturityOn, locale)}</Fact>
          {loan.closedOn ? <Fact label={t("financing.loan.closedOn")}>{formatDate(loan.closedOn, locale)}</Fact> : null}
          <Fact label={t("financing.loan.dpd")} testId="loan-dpd">
            {t("financing.loan.dpdValue", { days: loan.daysPastDue, bucket: bucketText(locale, d.bucket) })}
          </Fact>
          <Fact label={t("financing.loan.class")}>
            <LoanClassTag loanClass={d.loanClass} />
            {loan.officerClassReason ? <span className="sc-muted"> {t("financing.loan.officerClass", { reason: loan.officerClassReason })}</span> : null}
          </Fact>
        </dl>
        <p>
          <a href={`/financing/loans/${loan.id}/contract.pdf`} download data-testid="loan-contract-pdf">
            {t("financing.loan.contractPdf")}
          </a>
        </p>
      </section>

      <section className="panel" aria-labelledby="balances-heading">
        <h2 id="balances-heading">{t("financing.loan.balances")}</h2>
        <div className="figures" data-testid="loan-balances">
          <div className="figure">
            <span className="figure-label">{t("financing.loan.balance.principal")}</span>
            <span className="figure-value num">{formatFen(d.balances.principalFen, locale)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("financing.loan.balance.interest")}</span>
            <span className="figure-value num">{formatFen(d.balances.interestFen, locale)}</span>
          </div>
          <div className="figure">
            <span className="figure-label">{t("financing.loan.balance.penalty")}</span>
            <span className="figure-value num">{formatFen(d.balances.penaltyFen, locale)}</span>
          </div>
        </div>
      </section>

      <section className="panel" aria-labelledby="due-heading">
        <h2 id="due-heading">{t("financing.loan.dueNow")}</h2>
        <div className="table-wrap">
          <table className="data" data-testid="loan-due">
            <tbody>
              {components.map((c) => (
                <tr key={c}>
                  <th scope="row">{t(`financing.loan.component.${c}`)}</th>
                  <td className="num">{formatFen(d.dueNow[c], locale)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">{t("financing.loan.dueTotal")}</th>
                <td className="num" data-testid="loan-due-total">
                  {formatFen(d.dueNowFen, locale)}
                </td>
              </tr>
              <tr>
                <th scope="row">{t("financing.loan.payoff")}</th>
                <td className="num" data-testid="loan-payoff">
                  {formatFen(d.payoffFen, locale)}
                </td>
              </tr>
            </tfoot>
          </table>
        </div>
      </section>

      {d.repay ? <RepayForms d={d} failure={failure} busy={busy} /> : null}

      {d.canReclassify || d.canWriteOff ? (
        <section className="panel" data-testid="bank-actions">
          {d.canReclassify ? <ReclassifyFormView d={d} failure={failure} busy={busy} /> : null}
          {d.canWriteOff ? <WriteOffFormView failure={failure} busy={busy} /> : null}
        </section>
      ) : null}

      <section className="panel" aria-labelledby="schedule-heading">
        <h2 id="schedule-heading">{t("financing.loan.schedule")}</h2>
        <ScheduleTable rows={d.instalments} today={d.today} testId="loan-schedule" />
      </section>

      <section className="panel" aria-labelledby="accruals-heading">
        <h2 id="accruals-heading">{t("financing.loan.accruals")}</h2>
        {d.accruals.length === 0 ? (
          <p className="empty">{t("financing.loan.accrualsNone")}</p>
        ) : (
          <>
            <div className="table-wrap">
              <table className="data" data-testid="loan-accruals">
                <thead>
                  <tr>
                    <th scope="col">{t("financing.loan.col.date")}</th>
                    <th scope="col" className="num">
                      {t("financing.loan.col.interest")}
                    </th>
                    <th scope="col" className="num">
                      {t("financing.loan.col.penalty")}
                    </th>
                    <th scope="col" className="num">
                      {t("financing.loan.col.compound")}
                    </th>
                    <th scope="col" className="num">
                      {t("financing.loan.col.dpd")}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {d.accruals.map((a) => (
                    <tr key={a.businessDate}>
                      <td className="nowrap">{formatDate(a.businessDate, locale)}</td>
                      <td className="num">{formatFen(a.interestFen, locale)}</td>
                      <td className="num">{formatFen(a.penaltyFen, locale)}</td>
                      <td className="num">{formatFen(a.compoundFen, locale)}</td>
                      <td className="num">{a.daysPastDue}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row">{t("financing.loan.totals")}</th>
                    <td className="num">{formatFen(d.accrualTotals.interestFen, locale)}</td>
                    <td className="num">{formatFen(d.accrualTotals.penaltyFen, locale)}</td>
                    <td className="num">{formatFen(d.accrualTotals.compoundFen, locale)}</td>
                    <td />
                  </tr>
                </tfoot>
              </table>
            </div>
            <p className="sc-muted">{t("financing.loan.accrualsNote", { count: d.accruals.length })}</p>
          </>
        )}
      </section>

      <section className="panel" aria-labelledby="repayments-heading">
        <h2 id="repayments-heading">{t("financing.loan.repayments")}</h2>
        {d.repayments.length === 0 ? (
          <p className="empty">{t("financing.loan.repaymentsNone")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="loan-repayments">
              <thead>
                <tr>
                  <th scope="col">{t("financing.loan.col.date")}</th>
                  <th scope="col">{t("financing.loan.col.source")}</th>
                  <th scope="col" className="num">
                    {t("financing.loan.col.amount")}
                  </th>
                  <th scope="col">{t("financing.loan.col.allocation")}</th>
                </tr>
              </thead>
              <tbody>
                {d.repayments.map((r) => (
                  <tr key={r.id}>
                    <td className="nowrap">{formatDate(r.paidOn, locale)}</td>
                    <td>{translateDynamic(locale, `financing.loan.source.${r.source}`, r.source)}</td>
                    <td className="num">{formatFen(r.amountFen, locale)}</td>
                    <td>
                      <AllocationCell allocation={r.allocation} order={components} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="panel" aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">{t("financing.loan.timeline")}</h2>
        <ol className="od-timeline" data-testid="loan-timeline">
          {d.events.map((e) => (
            <li key={e.id} data-event={e.event}>
              <time dateTime={e.at}>{formatDateTime(e.at, locale)}</time>
              <div>
                <strong>{translateDynamic(locale, `financing.loan.event.${e.event}`, e.event)}</strong>
                {e.amountFen !== null ? <span className="num"> {formatFen(e.amountFen, locale)}</span> : null}
                {e.reason ? <span className="sc-muted"> · {e.reason}</span> : null}
                <div className="sc-muted">{e.actorName ?? t("financing.loan.system")}</div>
              </div>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
