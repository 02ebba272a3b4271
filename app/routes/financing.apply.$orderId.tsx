import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { Fact, Money, ScheduleTable } from "~/components/financing-loan-ui";
import { RouteError } from "~/components/route-error";
import { formatDate, formatFen, formatRatePpm, translateDynamic, type Locale } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import * as Financing from "~/domain/financing";
import * as Orders from "~/domain/orders";
import { may } from "~/domain/identity";
import { isDomainError } from "~/domain/shared";
import { domainFailure } from "~/web/supply-chain-access.server";
import { notFound, requireMay, requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";
import ordersStyles from "~/styles/orders.css";

/**
 * /financing/apply/<orderId>: a dealer finances one of its confirmed orders (融资支付). The terms
 * (amount, rate, penalty rate, repayment method, schedule, guarantor) are shown before the dealer
 * accepts; the bank then pays the supplier, and the dealer repays the bank.
 */

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "financing.apply.title");

/** Only a dealer borrows against its orders: for any other kind of organisation the page does not exist. */
async function requireBorrower(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "dealer") notFound();
  return { ...ctx, organizationId: ctx.organization.organizationId };
}

async function orderFinancingProduct(db: LoaderFunctionArgs["context"]["db"]) {
  try {
    return await Financing.productOfKind(db, "order_financing");
  } catch (error) {
    if (isDomainError(error) && error.code === "invalid_state") return null;
    throw error;
  }
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const ctx = await requireBorrower(request, context);
  const orderId = requireUuidParam(params.orderId);
  const { db } = context;
  // Another tenant's order is a 404, like an unknown id.
  const detail = await scoped(() => Orders.getOrder(db, ctx.organizationId, orderId));
  const { order } = detail;
  const canRequest = detail.party === "dealer" && detail.actions.includes("request_financing");
  const product = canRequest ? await orderFinancingProduct(db) : null;
  let preview: Financing.SchedulePreview | null = null;
  let noLpr = false;
  if (product) {
    try {
      preview = await Financing.previewSchedule(db, product, order.total_fen, new Date());
    } catch (error) {
      // An LPR product before the bank records an LPR: say so rather than fail the page.
      if (!(isDomainError(error) && error.fields.lpr)) throw error;
      noLpr = true;
    }
  }
  return {
    order: { id: order.id, number: order.number, status: order.status, totalFen: order.total_fen },
    supplierName: detail.coreEnterpriseName,
    canRequest,
    noProduct: canRequest && !product,
    noLpr,
    mayApply: may(ctx.roles, "financing.apply", ctx.organization.kind),
    product: product ? { name: product.name, nameEn: product.name_en, method: product.repayment_method } : null,
    terms: preview
      ? {
          annualRatePpm: preview.annualRatePpm,
          penaltyRatePpm: preview.penaltyRatePpm,
          lprPpm: preview.lprPpm,
          instalments: preview.instalments.map((i) => ({ seq: i.seq, dueOn: i.dueOn, days: i.days, principalFen: i.principalFen, interestFen: i.interestFen })),
        }
      : null,
  };
}

interface ApplyFailure {
  intent: "apply";
  /** Each failed check (or refused field) → the domain's detail, English. */
  fieldErrors: Record<string, string>;
  formError: string | null;
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireBorrower(request, context);
  const orderId = requireUuidParam(params.orderId);
  const { db } = context;
  const detail = await scoped(() => Orders.getOrder(db, ctx.organizationId, orderId));
  if (String(form.get("intent") ?? "") !== "apply") throw new Response("Unknown form", { status: 400 });
  requireMay(ctx, "financing.apply");
  try {
    const application = await Financing.applyForOrderFinancing(db, ctx.actor, detail.order.id, new Date());
    const key = application.status === "approved" ? "financing.apply.flash.approved" : "financing.apply.flash.applied";
    return redirect(`/orders/${detail.order.id}`, { headers: { "Set-Cookie": await flashCookie(context, { key, params: { number: detail.order.number } }) } });
  } catch (error) {
    if (error instanceof Response) throw error;
    // A refusal names each failed check; nothing was written (one transaction).
    const { failure, status } = domainFailure(error, "apply", {});
    return data<ApplyFailure>({ intent: "apply", fieldErrors: failure.fieldErrors, formError: failure.formError }, { status });
  }
}

/** A check's detail from the domain ("12345 fen available", "suspended", …) in the reader's words. */
function detailText(t: ReturnType<typeof useT>, locale: Locale, detail: string): string {
  const available = /^(\d+) fen available$/.exec(detail);
  if (available) return t("financing.apply.detail.available", { amount: formatFen(Number(available[1]), locale) });
  const expired = /^expired on (\d{4}-\d{2}-\d{2})$/.exec(detail);
  if (expired) return t("financing.apply.detail.expired", { date: formatDate(expired[1]!, locale) });
  if (detail === "suspended") return t("financing.apply.detail.suspended");
  if (/^no (limit|guarantee agreement|sub-limit)/.test(detail)) return t("financing.apply.detail.missing");
  return detail;
}

function Refusal({ failure }: { failure: ApplyFailure }) {
  const t = useT();
  const locale = useLocale();
  const checks = Object.entries(failure.fieldErrors);
  return (
    <div className="sc-form-error" role="alert" data-testid="apply-refused">
      <p>
        <strong>{t("financing.apply.refused")}</strong>
      </p>
      {checks.length > 0 ? (
        <ul>
          {checks.map(([check, detail]) => (
            <li key={check} data-check={check}>
              {translateDynamic(locale, `financing.apply.check.${check}`, check.replaceAll("_", " "))}
              {detail ? <span className="sc-muted">（{detailText(t, locale, detail)}）</span> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p>{failure.formError}</p>
      )}
    </div>
  );
}

export default function ApplyForOrderFinancing() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const back = `/orders/${d.order.id}`;
  const productName = d.product ? (locale === "en" ? d.product.nameEn : d.product.name) : "";
  return (
    <div className="sc-page" data-testid="financing-apply">
      <p>
        <Link to={back}>← {t("financing.apply.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{productName}</p>
          <h1>{t("financing.apply.title")}</h1>
          <p className="subtle small mono">{d.order.number}</p>
        </div>
      </div>

      {!d.canRequest ? (
        <section className="panel" data-testid="apply-unavailable">
          <p>{t("financing.apply.cannot", { number: d.order.number, status: translateDynamic(locale, `orders.status.${d.order.status}`, d.order.status) })}</p>
          <p>
            <Link to={back}>{t("financing.apply.back")}</Link>
          </p>
        </section>
      ) : d.noProduct ? (
        <section className="panel" data-testid="apply-unavailable">
          <p>{t("financing.apply.noProduct")}</p>
          <p>
            <Link to={back}>{t("financing.apply.back")}</Link>
          </p>
        </section>
      ) : d.noLpr || !d.terms || !d.product ? (
        <section className="panel" data-testid="apply-unavailable">
          <p>{t("financing.apply.noLpr")}</p>
          <p>
            <Link to={back}>{t("financing.apply.back")}</Link>
          </p>
        </section>
      ) : (
        <>
          <p>{t("financing.apply.intro", { supplier: d.supplierName, number: d.order.number })}</p>
          <section className="panel" aria-labelledby="terms-heading">
            <h2 id="terms-heading">{t("financing.apply.terms")}</h2>
            <dl className="facts" data-testid="apply-terms">
              <Fact label={t("financing.apply.amount")} testId="apply-amount">
                <Money fen={d.order.totalFen} />
              </Fact>
              <Fact label={t("financing.apply.rate")} testId="apply-rate">
                <strong>{formatRatePpm(d.terms.annualRatePpm)}</strong>{" "}
                <span className="sc-muted">
                  {d.terms.lprPpm !== null
                    ? t("financing.apply.rateLpr", { lpr: formatRatePpm(d.terms.lprPpm), spread: formatRatePpm(d.terms.annualRatePpm - d.terms.lprPpm) })
                    : t("financing.apply.rateFixed")}
                </span>
              </Fact>
              <Fact label={t("financing.apply.penaltyRate")} testId="apply-penalty-rate">
                {formatRatePpm(d.terms.penaltyRatePpm)}
              </Fact>
              <Fact label={t("financing.apply.method")}>{translateDynamic(locale, `financing.loan.method.${d.product.method}`, d.product.method)}</Fact>
              <Fact label={t("financing.apply.guarantor")} testId="apply-guarantor">
                {d.supplierName}
              </Fact>
            </dl>
            <p className="sc-muted">{t("financing.apply.guarantorNote")}</p>
          </section>

          <section className="panel" aria-labelledby="schedule-heading">
            <h2 id="schedule-heading">{t("financing.apply.schedule")}</h2>
            <ScheduleTable rows={d.terms.instalments} testId="apply-schedule" />
            <p className="sc-muted">{t("financing.apply.rateNote")}</p>
          </section>

          <section className="panel">
            {failure ? <Refusal failure={failure} /> : null}
            {d.mayApply ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="apply" />
                <button type="submit" className="sc-button" disabled={busy} data-intent="apply">
                  {t("financing.apply.submit")}
                </button>
              </Form>
            ) : (
              <p className="sc-muted">{t("financing.apply.noPermission")}</p>
            )}
          </section>
        </>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
