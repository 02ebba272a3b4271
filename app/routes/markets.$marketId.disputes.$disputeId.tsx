import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { MarketTabs } from "~/components/market-ui";
import {
  AutoConfirmFact,
  DisputeStatements,
  DisputeStatusTag,
  Fact,
  FormProblems,
  MarketOrderStatusTag,
  Money,
  StatementForm,
  TextArea,
  useFormProblems,
  type MarketFormFailure,
} from "~/components/market-order-ui";
import { RouteError } from "~/components/route-error";
import { TextField } from "~/components/supply-ui";
import { formatDateTime, formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { feeOnReleaseFen, reasonInputSchema, addDisputeStatement, getDisputeOrderId, getMarketOrder, getMarket } from "~/domain/market";
import { ruleMarketDisputeWithAssignment } from "~/domain/financing";
import { formText, marketFormFailure, orderDetailView, readMarketForm, requireMarketParty, yuanToFen } from "~/web/market-order-access.server";
import { notFound, requireMay, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import marketStyles from "~/styles/market.css";
import marketOrderStyles from "~/styles/market-orders.css";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: marketStyles },
  { rel: "stylesheet", href: ordersStyles },
  { rel: "stylesheet", href: marketOrderStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dispute.rule.pageTitle");

const RULINGS = ["release", "refund_full", "refund_partial"] as const;

/**
 * A ruling is final (the money moves at once and nothing undoes it): the form must carry the
 * ruler's explicit "I understand" — a checkbox, so the confirmation works without JavaScript.
 */
const rulingConfirmationSchema = z.object({
  confirmFinal: z.literal("on", { errorMap: () => ({ message: "dispute.rule.confirmRequired" }) }),
});
type Ruling = (typeof RULINGS)[number];
const isRuling = (value: string): value is Ruling => (RULINGS as readonly string[]).includes(value);

interface Split {
  ruling: Ruling;
  refundFen: number;
  netFen: number;
  feeFen: number;
}

/** Where the goods total goes under a ruling: the model's own pro-rata commission (E1: the parts sum to the total). */
function splitOf(order: { goodsTotalFen: number; feeFen: number }, ruling: Ruling, refundFen: number): Split {
  const refund = ruling === "release" ? 0 : ruling === "refund_full" ? order.goodsTotalFen : refundFen;
  const released = order.goodsTotalFen - refund;
  const fee = released === 0 ? 0 : feeOnReleaseFen({ goods_total_fen: order.goodsTotalFen, fee_fen: order.feeFen }, released);
  return { ruling, refundFen: refund, netFen: released - fee, feeFen: fee };
}

/** The dispute of one of this operator's markets, with its order as the operator sees it; else 404. */
async function load(request: Request, params: LoaderFunctionArgs["params"], context: LoaderFunctionArgs["context"], options: { act?: boolean } = {}) {
  const party = await requireMarketParty(request, context, { kinds: ["market_operator"], act: options.act });
  const marketId = requireUuidParam(params.marketId);
  const disputeId = requireUuidParam(params.disputeId);
  const market = await scoped(() => getMarket(context.db, party.organizationId, marketId));
  const orderId = await scoped(() => getDisputeOrderId(context.db, party.organizationId, disputeId));
  const order = await scoped(() => getMarketOrder(context.db, party.organizationId, orderId));
  // The dispute of another market of the same operator is not this page's.
  if (order.marketId !== market.id || !order.dispute || order.dispute.id !== disputeId) notFound();
  return { party, market, order, dispute: order.dispute };
}

/**
 * `/markets/:marketId/disputes/:disputeId` — the operator rules on a dispute: both sides'
 * statements and evidence, the order's amounts and commission, and the ruling form (release,
 * full refund, or a partial refund typed in yuan) with a preview of the split before it is final.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { party, market, order } = await load(request, params, context);
  const view = orderDetailView(order);
  return {
    market: { id: market.id, name: market.name },
    order: view,
    canAct: party.canAct,
    release: splitOf(order, "release", 0),
    refundFull: splitOf(order, "refund_full", 0),
  };
}

type RuleResult = MarketFormFailure & { preview?: Split };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { form, evidence, evidenceProblem } = await readMarketForm(request);
  await requireCsrf(request, context, form);
  const { party, market, order, dispute } = await load(request, params, context);
  const intent = formText(form, "intent", 50);
  // A statement is any side's say; a ruling (and its preview) the operator's decision on the money.
  requireMay(party, intent === "statement" ? "dispute.statement" : "market_order.rule_release");
  const values = {
    ruling: formText(form, "ruling", 50),
    refund: formText(form, "refund", 50),
    reason: formText(form, "reason", 1000),
    body: formText(form, "body", 4000),
    confirmFinal: formText(form, "confirmFinal", 10),
  };
  const here = `/markets/${market.id}/disputes/${dispute.id}`;
  const fail = (fieldErrors: Record<string, string>, status = 422) => data<RuleResult>({ intent, fieldErrors, formError: null, values }, { status });

  if (intent === "statement") {
    if (evidenceProblem) return fail({ evidence: evidenceProblem });
    try {
      await addDisputeStatement(context.db, party.actor, party.organizationId, dispute.id, { body: values.body, evidence }, new Date());
    } catch (error) {
      const { failure, status } = marketFormFailure(error, intent, values);
      return data<RuleResult>(failure, { status });
    }
    return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "dispute.flash.statement" }) } });
  }
  if (intent !== "preview" && intent !== "rule") throw new Response("Unknown form", { status: 400 });

  // The form's own checks first (the ruling chosen, the amount in yuan → fen exactly), then the
  // model's (the reason, the range, the state) — every problem named by its input at once.
  const fieldErrors: Record<string, string> = {};
  const ruling = isRuling(values.ruling) ? values.ruling : null;
  if (!ruling) fieldErrors.ruling = "mo.problem.rulingChoice";
  let refundFen = 0;
  if (ruling === "refund_partial") {
    const fen = yuanToFen(values.refund);
    if (fen === null) fieldErrors.refund = values.refund.trim() === "" ? "mo.problem.required" : "mo.problem.moneyFormat";
    else if (fen <= 0 || fen >= order.goodsTotalFen) fieldErrors.refund = `must be between 1 and ${order.goodsTotalFen - 1} fen`;
    else refundFen = fen;
  }
  if (intent === "preview") {
    if (Object.keys(fieldErrors).length > 0) return fail(fieldErrors);
    return data<RuleResult>({ intent, fieldErrors: {}, formError: null, values, preview: splitOf(order, ruling!, refundFen) });
  }
  const reason = reasonInputSchema.safeParse({ reason: values.reason });
  if (!reason.success) fieldErrors.reason = reason.error.issues[0]?.message ?? "is required";
  const confirmation = rulingConfirmationSchema.safeParse({ confirmFinal: values.confirmFinal });
  if (!confirmation.success) fieldErrors.confirmFinal = confirmation.error.issues[0]?.message ?? "dispute.rule.confirmRequired";
  if (Object.keys(fieldErrors).length > 0) return fail(fieldErrors);
  try {
    // What the ruling releases to a merchant that sold the order's proceeds goes to the bank first.
    await ruleMarketDisputeWithAssignment(context.db, party.actor, party.organizationId, dispute.id, {
      ruling: ruling!,
      ...(ruling === "refund_partial" ? { refundFen } : {}),
      reason: values.reason,
    }, new Date());
  } catch (error) {
    const { failure, status } = marketFormFailure(error, intent, values, { refundFen: "refund" });
    return data<RuleResult>(failure, { status });
  }
  const split = splitOf(order, ruling!, refundFen);
  const key = `dispute.flash.ruled.${ruling!}` as const;
  return redirect(here, {
    headers: { "Set-Cookie": await flashCookie(context, { key, params: { orderNo: order.orderNo, amount: formatFen(split.refundFen) } }) },
  });
}

// ---------------------------------------------------------------------------------------------
// Page

function SplitTable({ split, totalFen }: { split: Split; totalFen: number }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div className="mo-split" data-testid="split-preview" role="status">
      <h3>{t("dispute.preview.title", { ruling: t(`dispute.ruling.${split.ruling}`) })}</h3>
      <table className="data">
        <tbody>
          <tr>
            <th scope="row">{t("dispute.preview.refund")}</th>
            <td className="num" data-testid="split-refund">
              {formatFen(split.refundFen, locale)}
            </td>
          </tr>
          <tr>
            <th scope="row">{t("dispute.preview.merchantNet")}</th>
            <td className="num" data-testid="split-net">
              {formatFen(split.netFen, locale)}
            </td>
          </tr>
          <tr>
            <th scope="row">{t("dispute.preview.commission")}</th>
            <td className="num" data-testid="split-fee">
              {formatFen(split.feeFen, locale)}
            </td>
          </tr>
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">{t("dispute.preview.total")}</th>
            <td className="num od-total">{formatFen(totalFen, locale)}</td>
          </tr>
        </tfoot>
      </table>
      <p className="sc-muted small">{t("dispute.preview.note")}</p>
    </div>
  );
}

function RulingForm({ d, result, busy }: { d: ReturnType<typeof useLoaderData<typeof loader>>; result: RuleResult | undefined; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  const mine = result && (result.intent === "rule" || result.intent === "preview") ? result : undefined;
  const f = useFormProblems(mine, mine?.intent ?? "", ["ruling", "refund", "reason", "confirmFinal"]);
  const chosen = f.value("ruling") ?? "";
  const total = d.order.goodsTotalFen;
  const options: { value: Ruling; label: string }[] = [
    { value: "release", label: t("dispute.rule.releaseOption", { net: formatFen(d.release.netFen, locale), fee: formatFen(d.release.feeFen, locale) }) },
    { value: "refund_full", label: t("dispute.rule.refundFullOption", { amount: formatFen(d.refundFull.refundFen, locale) }) },
    { value: "refund_partial", label: t("dispute.rule.refundPartialOption") },
  ];
  return (
    <Form method="post" noValidate className="mo-rule-form" data-testid="ruling-form">
      <CsrfInput />
      <FormProblems problems={f.rest} />
      <fieldset className="mo-ruling-options" aria-invalid={f.field("ruling") ? true : undefined} aria-describedby={f.field("ruling") ? "ruling-error" : undefined}>
        <legend>
          {t("dispute.rule.choice")}
          <span className="req" aria-hidden="true">
            *
          </span>
        </legend>
        {options.map((o) => (
          <label key={o.value}>
            <input type="radio" name="ruling" value={o.value} defaultChecked={chosen === o.value} />
            <span>{o.label}</span>
          </label>
        ))}
        {f.field("ruling") ? (
          <p className="field-error" id="ruling-error">
            {f.field("ruling")}
          </p>
        ) : null}
      </fieldset>
      <TextField
        name="refund"
        idPrefix="rule-"
        label={t("dispute.rule.refund")}
        inputMode="decimal"
        maxLength={20}
        className="od-narrow"
        hint={t("dispute.rule.refundHint", { total: formatFen(total, locale) })}
        defaultValue={f.value("refund")}
        error={f.field("refund")}
      />
      <TextArea
        name="reason"
        idPrefix="rule-"
        label={t("dispute.rule.reason")}
        hint={t("dispute.rule.reasonHint")}
        required
        maxLength={500}
        defaultValue={f.value("reason")}
        error={f.field("reason")}
      />
      {mine?.preview ? <SplitTable split={mine.preview} totalFen={total} /> : null}
      <div className="mo-confirm-final">
        <label>
          <input
            type="checkbox"
            name="confirmFinal"
            data-testid="confirm-final"
            defaultChecked={f.value("confirmFinal") === "on"}
            aria-invalid={f.field("confirmFinal") ? true : undefined}
            aria-describedby={f.field("confirmFinal") ? "confirm-final-error" : undefined}
          />{" "}
          <span>{t("dispute.rule.confirmFinal")}</span>
        </label>
        {f.field("confirmFinal") ? (
          <p className="field-error" id="confirm-final-error">
            {f.field("confirmFinal")}
          </p>
        ) : null}
      </div>
      <div className="sc-actions">
        <button type="submit" name="intent" value="preview" className="sc-button secondary" disabled={busy} data-intent="preview">
          {t("dispute.rule.preview")}
        </button>
        <button
          type="submit"
          name="intent"
          value="rule"
          className="sc-button"
          disabled={busy}
          data-intent="rule"
          onClick={(event) => {
            // With JavaScript, a last word before the money moves; without it the checkbox is the confirmation.
            const ticked = event.currentTarget.form?.querySelector<HTMLInputElement>('input[name="confirmFinal"]')?.checked;
            if (ticked && !window.confirm(t("dispute.rule.confirmDialog"))) event.preventDefault();
          }}
        >
          {t("dispute.rule.submit")}
        </button>
      </div>
    </Form>
  );
}

export default function DisputeRuling() {
  const d = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const { order } = d;
  const dispute = order.dispute!;
  return (
    <div className="sc-page od-page mo-page">
      <p>
        <Link to={`/markets/${d.market.id}/disputes`}>← {t("dispute.rule.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {d.market.name} · {t("dispute.rule.pageTitle")}
          </p>
          <h1 className="mono od-number" data-testid="order-number">
            {order.orderNo}
          </h1>
          <p className="subtle small">
            {order.buyerName} → {order.merchantName} ·{" "}
            <Link to={`/market/orders/${order.id}`}>{t("dispute.rule.orderLink", { orderNo: order.orderNo })}</Link>
          </p>
        </div>
        <DisputeStatusTag status={dispute.status} />
      </div>
      <MarketTabs marketId={d.market.id} />

      <section className="panel" aria-label={t("mo.detailTitle")}>
        <dl className="od-facts">
          <Fact label={t("mo.fact.buyer")}>{order.buyerName}</Fact>
          <Fact label={t("mo.fact.merchant")}>{order.merchantName}</Fact>
          <Fact label={t("mo.fact.goodsTotal")} testId="goods-total">
            <Money fen={order.goodsTotalFen} />
          </Fact>
          <Fact label={t("mo.fact.commission")} testId="commission">
            <Money fen={order.feeFen ?? 0} />
          </Fact>
          <Fact label={t("mo.col.status")}>
            <MarketOrderStatusTag status={order.status} />
          </Fact>
          <AutoConfirmFact order={order} dispute={dispute} />
          {order.paidAt ? <Fact label={t("mo.fact.paidAt")}>{formatDateTime(order.paidAt, locale)}</Fact> : null}
          {order.trackingNo ? (
            <Fact label={t("mo.fact.shipping")}>
              {order.carrier} <span className="mono">{order.trackingNo}</span>
            </Fact>
          ) : null}
          {order.status === "settled" || order.status === "refunded" ? (
            <>
              <Fact label={t("mo.fact.refunded")} testId="refunded">
                <Money fen={order.refundedFen} />
              </Fact>
              <Fact label={t("mo.fact.settledNet")} testId="settled-net">
                <Money fen={order.settledNetFen} />
              </Fact>
              <Fact label={t("mo.fact.settledFee")} testId="settled-fee">
                <Money fen={order.settledFeeFen ?? 0} />
              </Fact>
            </>
          ) : null}
        </dl>
        <div className="table-wrap">
          <table className="data" data-testid="lines">
            <thead>
              <tr>
                <th scope="col">{t("mo.line.title")}</th>
                <th scope="col" className="num">
                  {t("mo.line.quantity")}
                </th>
                <th scope="col" className="num">
                  {t("mo.line.unitPrice")}
                </th>
                <th scope="col" className="num">
                  {t("mo.line.amount")}
                </th>
                <th scope="col">{t("mo.line.commissionRate")}</th>
              </tr>
            </thead>
            <tbody>
              {order.lines.map((l) => (
                <tr key={l.lineNo}>
                  <td>
                    {l.title} <span className="sc-muted small">{l.spec}</span>
                  </td>
                  <td className="num">
                    {l.quantity} {l.unit}
                  </td>
                  <td className="num">{formatFen(l.unitPriceFen, locale)}</td>
                  <td className="num">{formatFen(l.amountFen, locale)}</td>
                  <td className="nowrap">{t("mo.line.commissionRateValue", { rate: l.commissionRateText ?? "0", min: formatFen(l.minFeeFen ?? 0, locale) })}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section className="panel" aria-labelledby="dispute-heading">
        <h2 id="dispute-heading">{t("dispute.title")}</h2>
        <DisputeStatements dispute={dispute} orderStatus={order.status} />
      </section>

      {dispute.status === "open" ? (
        <section className="panel" aria-labelledby="rule-heading">
          <h2 id="rule-heading">{t("dispute.rule.title")}</h2>
          <p className="sc-muted">{t("dispute.rule.hint")}</p>
          {d.canAct ? <RulingForm d={d} result={result} busy={busy} /> : <p className="notice">{t("dispute.rule.readOnly")}</p>}
        </section>
      ) : null}

      {d.canAct && dispute.status === "open" ? (
        <section className="panel">
          <StatementForm result={result} busy={busy} />
        </section>
      ) : null}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
