import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { Fact, FieldProblem, Money, ScheduleTable } from "~/components/financing-loan-ui";
import { LoanTable, type LoanRowView } from "~/components/financing-ui";
import { RouteError } from "~/components/route-error";
import { formatDate, formatFen, formatRatePpm, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import * as Financing from "~/domain/financing";
import * as Orders from "~/domain/orders";
import { parseYuanToFen } from "~/domain/catalog";
import { may } from "~/domain/identity";
import { isDomainError } from "~/domain/shared";
import { domainFailure } from "~/web/supply-chain-access.server";
import { notFound, requireMay, requireOrgContext } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";
import ordersStyles from "~/styles/orders.css";

/**
 * /financing/credit-line: a dealer's revolving credit line (网贷通). The line as the ledger has it
 * (limit, used, available), the product's terms with an example schedule, a draw form (to the
 * wallet, or paying one of the dealer's confirmed orders), and the draws still owing.
 */

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.creditLine.title");

/** The schedule shown as an example: ¥1,000, a round figure whose rate and method read plainly. */
const EXAMPLE_PRINCIPAL_FEN = 100_000;

/** Only a dealer borrows: for any other kind of organisation the page does not exist. */
async function requireBorrower(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "dealer") notFound();
  return { ...ctx, organizationId: ctx.organization.organizationId };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const ctx = await requireBorrower(request, context);
  const { db } = context;
  const now = new Date();
  const line = await Financing.creditLineFor(db, ctx.organizationId, now);
  if (!line) return { line: null };
  const { facility, product } = line;
  let example: Financing.SchedulePreview | null = null;
  try {
    example = await Financing.previewSchedule(db, product, EXAMPLE_PRINCIPAL_FEN, now);
  } catch (error) {
    // An LPR product before the bank records an LPR: say so rather than fail the page.
    if (!(isDomainError(error) && error.fields.lpr)) throw error;
  }
  const confirmed = await Orders.listOrders(db, ctx.organizationId, { status: "confirmed" });
  const draws: LoanRowView[] = line.draws.map((l) => ({
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
  }));
  return {
    line: {
      limitFen: facility.limitFen,
      usedFen: facility.usedFen,
      availableFen: facility.availableFen,
      validTo: facility.validTo,
      status: facility.status,
      expired: line.expired,
    },
    product: {
      name: product.name,
      nameEn: product.name_en,
      method: product.repayment_method,
      termMonths: product.term_months,
      termDays: product.term_days,
      minAmountFen: product.min_amount_fen,
      maxAmountFen: product.max_amount_fen,
    },
    example: example
      ? {
          principalFen: EXAMPLE_PRINCIPAL_FEN,
          annualRatePpm: example.annualRatePpm,
          lprPpm: example.lprPpm,
          instalments: example.instalments.map((i) => ({ seq: i.seq, dueOn: i.dueOn, days: i.days, principalFen: i.principalFen, interestFen: i.interestFen })),
        }
      : null,
    // A preorder's deposit and balance are paid, not financed: not offered.
    orders: confirmed.items.filter((o) => o.kind !== "preorder").map((o) => ({ id: o.id, number: o.number, supplierName: o.counterpartyName, totalFen: o.totalFen })),
    draws,
    mayDraw: may(ctx.roles, "financing.apply", ctx.organization.kind),
  };
}

interface DrawFailure {
  intent: "draw";
  /** Each refused field or failed check → the domain's detail, English. */
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: { amount: string; order_id: string };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireBorrower(request, context);
  if (String(form.get("intent") ?? "") !== "draw") throw new Response("Unknown form", { status: 400 });
  requireMay(ctx, "financing.apply");
  const values = { amount: String(form.get("amount") ?? "").trim(), order_id: String(form.get("order_id") ?? "").trim() };
  const orderId = values.order_id === "" ? null : values.order_id;
  // With an order the draw is its total; an amount typed as well is ignored rather than compared.
  let amountFen: number | null = null;
  if (orderId === null) {
    amountFen = parseYuanToFen(values.amount);
    if (amountFen === null || amountFen <= 0) {
      return data<DrawFailure>({ intent: "draw", fieldErrors: { amount_fen: "invalid" }, formError: null, values }, { status: 400 });
    }
  }
  try {
    const application = await Financing.drawOnCreditLine(context.db, ctx.actor, { amountFen, orderId }, new Date());
    const key = application.status === "approved" ? "financing.creditLine.flash.approved" : "financing.creditLine.flash.applied";
    return redirect("/financing/credit-line", { headers: { "Set-Cookie": await flashCookie(context, { key, params: { amount: formatFen(application.amount_fen) } }) } });
  } catch (error) {
    if (error instanceof Response) throw error;
    // A refusal names each failed check or field; nothing was written (one transaction).
    const { failure, status } = domainFailure(error, "draw", values);
    return data<DrawFailure>({ intent: "draw", fieldErrors: failure.fieldErrors, formError: failure.formError, values }, { status });
  }
}

const FIELD_PROBLEMS = new Set(["amount_fen", "order_id"]);

function Refusal({ failure }: { failure: DrawFailure }) {
  const t = useT();
  const locale = useLocale();
  const checks = Object.keys(failure.fieldErrors).filter((k) => !FIELD_PROBLEMS.has(k));
  if (checks.length === 0 && !failure.formError) return null;
  return (
    <div className="sc-form-error" role="alert" data-testid="draw-refused">
      <p>
        <strong>{t("financing.creditLine.refused")}</strong>
      </p>
      {checks.length > 0 ? (
        <ul>
          {checks.map((check) => (
            <li key={check} data-check={check}>
              {translateDynamic(locale, `financing.creditLine.problem.${check}`, translateDynamic(locale, `financing.apply.check.${check}`, check.replaceAll("_", " ")))}
              <span className="sc-muted">（{failure.fieldErrors[check]}）</span>
            </li>
          ))}
        </ul>
      ) : (
        <p>{failure.formError}</p>
      )}
    </div>
  );
}

export default function CreditLinePage() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();

  const head = (eyebrow: string) => (
    <>
      <p>
        <Link to="/financing">← {t("financing.creditLine.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{eyebrow}</p>
          <h1>{t("financing.creditLine.title")}</h1>
        </div>
      </div>
    </>
  );

  if (!d.line) {
    return (
      <div className="sc-page" data-testid="credit-line">
        {head("")}
        <section className="panel" data-testid="credit-line-none">
          <p>{t("financing.creditLine.none")}</p>
          <p className="sc-muted">{t("financing.creditLine.noneHint")}</p>
        </section>
      </div>
    );
  }

  const { line, product, example } = d;
  const problems = failure?.fieldErrors ?? {};
  return (
    <div className="sc-page" data-testid="credit-line">
      {head(locale === "en" ? product.nameEn : product.name)}

      <section className="panel" aria-labelledby="line-heading">
        <h2 id="line-heading">{t("financing.creditLine.line")}</h2>
        <dl className="facts" data-testid="credit-line-facts">
          <Fact label={t("financing.creditLine.limit")}>
            <Money fen={line.limitFen} testId="line-limit" />
          </Fact>
          <Fact label={t("financing.creditLine.used")}>
            <Money fen={line.usedFen} testId="line-used" />
          </Fact>
          <Fact label={t("financing.creditLine.available")}>
            <Money fen={line.availableFen} testId="line-available" />
          </Fact>
          <Fact label={t("financing.creditLine.validTo")} testId="line-valid-to">
            {formatDate(line.validTo, locale)}
            {line.expired ? ` ${t("financing.creditLine.expired")}` : line.status === "suspended" ? ` ${t("financing.creditLine.suspended")}` : null}
          </Fact>
          {example ? (
            <Fact label={t("financing.creditLine.rate")} testId="line-rate">
              <strong>{formatRatePpm(example.annualRatePpm)}</strong>{" "}
              <span className="sc-muted">
                {example.lprPpm !== null
                  ? t("financing.creditLine.rateLpr", { lpr: formatRatePpm(example.lprPpm), spread: formatRatePpm(example.annualRatePpm - example.lprPpm) })
                  : t("financing.creditLine.rateFixed")}
              </span>
            </Fact>
          ) : null}
          <Fact label={t("financing.creditLine.method")} testId="line-method">
            {translateDynamic(locale, `financing.loan.method.${product.method}`, product.method)}
          </Fact>
          <Fact label={t("financing.creditLine.term")}>
            {product.termMonths !== null ? t("financing.creditLine.termMonths", { count: product.termMonths }) : t("financing.creditLine.termDays", { count: product.termDays ?? 0 })}
          </Fact>
        </dl>
        <p className="sc-muted">
          {t("financing.creditLine.range", { min: formatFen(product.minAmountFen, locale), max: formatFen(product.maxAmountFen, locale) })} · {t("financing.creditLine.revolving")}
        </p>
      </section>

      {example ? (
        <section className="panel" aria-labelledby="example-heading">
          <h2 id="example-heading">{t("financing.creditLine.example", { amount: formatFen(example.principalFen, locale) })}</h2>
          <ScheduleTable rows={example.instalments} testId="line-example-schedule" />
        </section>
      ) : (
        <section className="panel">
          <p data-testid="line-no-lpr">{t("financing.creditLine.noLpr")}</p>
        </section>
      )}

      <section className="panel" aria-labelledby="draw-heading">
        <h2 id="draw-heading">{t("financing.creditLine.draw")}</h2>
        {failure ? <Refusal failure={failure} /> : null}
        {d.mayDraw ? (
          <Form method="post" data-testid="draw-form">
            <CsrfInput />
            <input type="hidden" name="intent" value="draw" />
            <p>
              <label htmlFor="draw-amount">{t("financing.creditLine.amount")}</label>
              <br />
              <input
                id="draw-amount"
                name="amount"
                inputMode="decimal"
                autoComplete="off"
                defaultValue={failure?.values.amount ?? ""}
                aria-invalid={problems.amount_fen ? true : undefined}
                aria-describedby={problems.amount_fen ? "draw-amount-problem" : undefined}
              />
              <FieldProblem id="draw-amount-problem" problem={problems.amount_fen ? "financing.creditLine.problem.amount_fen" : undefined} />
            </p>
            {d.orders.length > 0 ? (
              <p>
                <label htmlFor="draw-order">{t("financing.creditLine.order")}</label>
                <br />
                <select id="draw-order" name="order_id" defaultValue={failure?.values.order_id ?? ""} aria-invalid={problems.order_id ? true : undefined}>
                  <option value="">{t("financing.creditLine.toWallet")}</option>
                  {d.orders.map((o) => (
                    <option key={o.id} value={o.id}>
                      {o.number} · {o.supplierName} · {formatFen(o.totalFen, locale)}
                    </option>
                  ))}
                </select>
                <br />
                <span className="sc-muted small">{t("financing.creditLine.amountHint")}</span>
              </p>
            ) : null}
            <FieldProblem id="draw-order-problem" problem={problems.order_id ? "financing.creditLine.problem.order_id" : undefined} />
            <button type="submit" className="sc-button" disabled={busy || line.expired || line.status !== "active"} data-intent="draw">
              {t("financing.creditLine.submit")}
            </button>
          </Form>
        ) : (
          <p className="sc-muted">{t("financing.creditLine.noPermission")}</p>
        )}
      </section>

      <section className="panel" aria-labelledby="draws-heading">
        <h2 id="draws-heading">{t("financing.creditLine.draws")}</h2>
        {d.draws.length > 0 ? <LoanTable loans={d.draws} testId="credit-line-draws" show={{}} /> : <p className="empty">{t("financing.creditLine.noDraws")}</p>}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
