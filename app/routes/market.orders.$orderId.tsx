import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import {
  AutoConfirmFact,
  DisputeStatements,
  EvidenceField,
  Fact,
  FormProblems,
  MarketOrderStatusTag,
  MarketOrderTimeline,
  Money,
  StatementForm,
  TextArea,
  useFormProblems,
  type MarketFormFailure,
} from "~/components/market-order-ui";
import { RouteError } from "~/components/route-error";
import { TextField } from "~/components/supply-ui";
import { formatDateTime, formatFen, isMessageKey, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { cancelPaidMarketOrder, receiveMarketOrder, shipMarketOrder, addDisputeStatement, openDispute, getMarketOrder } from "~/domain/market";
import { formText, marketFormFailure, orderDetailView, readMarketForm, requireMarketParty } from "~/web/market-order-access.server";
import type { ActionName } from "~/domain/identity";
import { notFound, requireMay, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import marketOrderStyles from "~/styles/market-orders.css";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
  { rel: "stylesheet", href: marketOrderStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "mo.detailTitle");

/**
 * `/market/orders/:orderId` — one escrow order for whichever party looks: the buyer (pay, confirm
 * receipt, dispute), the merchant (ship, cancel) or the market's operator (read, and go to the
 * ruling). The actions offered are the model's (`actions`, from the state machine); any other
 * organisation's order id is a 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canAct } = await requireMarketParty(request, context);
  const orderId = requireUuidParam(params.orderId);
  const detail = await scoped(() => getMarketOrder(context.db, organizationId, orderId));
  // The receipt is confirmed in two steps without JavaScript: the button leads here with ?confirm.
  const confirmReceive = new URL(request.url).searchParams.get("confirm") === "receive" && detail.actions.includes("receive");
  return { order: orderDetailView(detail), canAct, confirmReceive };
}

const INTENTS = ["ship", "cancel", "receive", "dispute", "statement"] as const;
type Intent = (typeof INTENTS)[number];
const isIntent = (value: string): value is Intent => (INTENTS as readonly string[]).includes(value);
const INTENT_ACTION: Readonly<Record<Intent, ActionName>> = {
  ship: "market_order.ship",
  cancel: "market_order.cancel",
  receive: "market_order.receive",
  dispute: "market_order.dispute",
  statement: "dispute.statement",
};

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { form, evidence, evidenceProblem } = await readMarketForm(request);
  await requireCsrf(request, context, form);
  const party = await requireMarketParty(request, context);
  const { organizationId, actor } = party;
  const orderId = requireUuidParam(params.orderId);
  const { db } = context;
  // Who may see the order first: another organisation's id is a 404 for every intent.
  const order = await scoped(() => getMarketOrder(db, organizationId, orderId));
  const here = `/market/orders/${order.id}`;
  const rawIntent = formText(form, "intent", 50);
  if (!isIntent(rawIntent)) throw new Response("Unknown form", { status: 400 });
  const intent: Intent = rawIntent;
  // Then who may do it (app/domain/identity/permissions.ts): another side's action is a 404, a missing role a 403.
  // Cancelling here is the merchant's (a paid order it cannot fulfil); the buyer cancels its checkout.
  if (intent === "cancel" && party.organization.kind !== "merchant") notFound();
  requireMay(party, INTENT_ACTION[intent]);
  const values = {
    carrier: formText(form, "carrier", 200),
    trackingNo: formText(form, "trackingNo", 200),
    reason: formText(form, "reason", 1000),
    statement: formText(form, "statement", 4000),
    body: formText(form, "body", 4000),
  };
  const done = async (key: "mo.flash.shipped" | "mo.flash.cancelled" | "mo.flash.received" | "dispute.flash.opened" | "dispute.flash.statement") =>
    redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key, params: { orderNo: order.orderNo } }) } });
  const fileRefused = () => data<MarketFormFailure>({ intent, fieldErrors: { evidence: evidenceProblem! }, formError: null, values }, { status: 422 });

  try {
    switch (intent) {
      case "ship":
        await shipMarketOrder(db, actor, organizationId, order.id, { carrier: values.carrier, trackingNo: values.trackingNo }, new Date());
        return done("mo.flash.shipped");
      case "cancel":
        await cancelPaidMarketOrder(db, actor, organizationId, order.id, { reason: values.reason }, new Date());
        return done("mo.flash.cancelled");
      case "receive":
        // The money moves for good: only with the confirmation step's own field.
        if (formText(form, "confirmed", 10) !== "yes") return redirect(`${here}?confirm=receive`, 303);
        await receiveMarketOrder(db, actor, organizationId, order.id, new Date());
        return done("mo.flash.received");
      case "dispute":
        if (evidenceProblem) return fileRefused();
        await openDispute(db, actor, organizationId, order.id, { statement: values.statement, evidence }, new Date());
        return done("dispute.flash.opened");
      case "statement":
        if (evidenceProblem) return fileRefused();
        if (!order.dispute) return data<MarketFormFailure>({ intent, fieldErrors: {}, formError: "mo.problem.unknownForm", values }, { status: 409 });
        await addDisputeStatement(db, actor, organizationId, order.dispute.id, { body: values.body, evidence }, new Date());
        return done("dispute.flash.statement");
    }
  } catch (error) {
    // The dispute form calls its statement `statement`; the model calls it `body`.
    const { failure, status } = marketFormFailure(error, intent, values, intent === "dispute" ? { body: "statement" } : {});
    return data<MarketFormFailure>(failure, { status });
  }
}

// ---------------------------------------------------------------------------------------------
// Page

type LoaderData = ReturnType<typeof useLoaderData<typeof loader>>;
type Order = LoaderData["order"];

function ShipForm({ result, busy }: { result: MarketFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const f = useFormProblems(result, "ship", ["carrier", "trackingNo"]);
  return (
    <Form method="post" noValidate className="mo-action-form" data-testid="ship-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="ship" />
      <h3>{t("mo.ship.title")}</h3>
      <FormProblems problems={f.rest} />
      <div className="sc-grid">
        <TextField name="carrier" idPrefix="ship-" label={t("mo.ship.carrier")} required maxLength={50} defaultValue={f.value("carrier")} error={f.field("carrier")} />
        <TextField
          name="trackingNo"
          idPrefix="ship-"
          label={t("mo.ship.trackingNo")}
          required
          maxLength={50}
          hint={t("mo.ship.trackingHint")}
          defaultValue={f.value("trackingNo")}
          error={f.field("trackingNo")}
        />
      </div>
      <button type="submit" className="sc-button" disabled={busy} data-intent="ship">
        {t("mo.ship.submit")}
      </button>
    </Form>
  );
}

function CancelForm({ result, busy }: { result: MarketFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const f = useFormProblems(result, "cancel", ["reason"]);
  return (
    <Form method="post" noValidate className="mo-action-form" data-testid="cancel-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="cancel" />
      <h3>{t("mo.cancel.title")}</h3>
      <p className="sc-muted small">{t("mo.cancel.hint")}</p>
      <FormProblems problems={f.rest} />
      <TextField name="reason" idPrefix="cancel-" label={t("mo.cancel.reason")} required maxLength={500} defaultValue={f.value("reason")} error={f.field("reason")} />
      <button type="submit" className="sc-button danger" disabled={busy} data-intent="cancel">
        {t("mo.cancel.submit")}
      </button>
    </Form>
  );
}

function ReceiveConfirm({ order, busy }: { order: Order; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  return (
    <Form method="post" className="mo-confirm" data-testid="receive-confirm">
      <CsrfInput />
      <input type="hidden" name="intent" value="receive" />
      <input type="hidden" name="confirmed" value="yes" />
      <h3>{t("mo.receive.confirmTitle")}</h3>
      <p>{t("mo.receive.confirmText", { amount: formatFen(order.goodsTotalFen, locale) })}</p>
      <div className="sc-actions">
        <button type="submit" className="sc-button" disabled={busy} data-intent="receive">
          {t("mo.receive.confirmSubmit")}
        </button>
        <Link to={`/market/orders/${order.id}`} className="sc-button secondary">
          {t("mo.receive.notYet")}
        </Link>
      </div>
    </Form>
  );
}

function DisputeForm({ result, busy }: { result: MarketFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const f = useFormProblems(result, "dispute", ["statement", "evidence"]);
  return (
    <Form method="post" encType="multipart/form-data" noValidate className="mo-action-form" data-testid="dispute-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="dispute" />
      <h3>{t("dispute.open.title")}</h3>
      <p className="sc-muted small">{t("dispute.open.hint")}</p>
      <FormProblems problems={f.rest} />
      <TextArea
        name="statement"
        idPrefix="dispute-"
        label={t("dispute.open.statement")}
        hint={t("dispute.open.statementHint")}
        required
        maxLength={2000}
        defaultValue={f.value("statement")}
        error={f.field("statement")}
      />
      <EvidenceField idPrefix="dispute-" error={f.field("evidence")} />
      <button type="submit" className="sc-button danger" disabled={busy} data-intent="dispute">
        {t("dispute.open.submit")}
      </button>
    </Form>
  );
}

function Actions({ d, result, busy }: { d: LoaderData; result: MarketFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  const { order } = d;
  const a = new Set(order.actions);
  const nextKey = `mo.next.${order.role}.${order.status}`;
  const canAct = d.canAct;
  const isBuyer = order.role === "buyer";
  const isOperator = order.role === "operator";
  // A failure of a form the order's new state no longer shows is told at the top of the panel.
  const shown = new Set<string>();
  if (canAct && a.has("ship")) shown.add("ship");
  if (canAct && a.has("cancel")) shown.add("cancel");
  if (canAct && a.has("dispute")) shown.add("dispute");
  if (canAct && order.dispute?.status === "open") shown.add("statement");
  const orphan = useFormProblems(result, result && !shown.has(result.intent) ? result.intent : "", []);
  const ruling = isOperator && order.dispute?.status === "open";
  const nothing = !canAct || (a.size === 0 && !(isBuyer && order.status === "placed") && !ruling);

  return (
    <section className="panel od-actions" aria-labelledby="actions-heading" data-testid="actions">
      <h2 id="actions-heading">{t("mo.actionsTitle")}</h2>
      {isMessageKey(nextKey) ? <p className="od-next">{translateDynamic(locale, nextKey, "")}</p> : null}
      <FormProblems problems={orphan.rest} />
      {isBuyer && order.status === "placed" ? (
        <p>
          <Link to={`/market/checkouts/${order.checkoutId}`} className="sc-button">
            {t("mo.payNow")}
          </Link>
        </p>
      ) : null}
      {ruling ? (
        <p>
          <Link to={`/markets/${order.marketId}/disputes/${order.dispute!.id}`} className="sc-button">
            {t("mo.toRuling")}
          </Link>
        </p>
      ) : null}
      {canAct && a.has("receive") ? (
        d.confirmReceive ? (
          <ReceiveConfirm order={order} busy={busy} />
        ) : (
          <p>
            <Link to={`/market/orders/${order.id}?confirm=receive`} className="sc-button" data-intent="receive-start">
              {t("mo.receive.button")}
            </Link>
          </p>
        )
      ) : null}
      <div className="mo-action-forms">
        {canAct && a.has("ship") ? <ShipForm result={result} busy={busy} /> : null}
        {canAct && a.has("cancel") ? <CancelForm result={result} busy={busy} /> : null}
        {canAct && a.has("dispute") && !d.confirmReceive ? <DisputeForm result={result} busy={busy} /> : null}
      </div>
      {nothing && !isMessageKey(nextKey) ? <p className="empty">{t("mo.noActions")}</p> : null}
    </section>
  );
}

export default function MarketOrderPage() {
  const d = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const { order } = d;
  const seesFee = order.feeFen !== null;
  const counterpart = order.role === "buyer" ? order.merchantName : order.role === "merchant" ? order.buyerName : `${order.buyerName} → ${order.merchantName}`;
  const final = ["settled", "refunded", "cancelled", "expired"].includes(order.status);
  const backTo = order.role === "operator" ? `/markets/${order.marketId}/orders` : "/market/orders";
  return (
    <div className="sc-page od-page mo-page">
      <p>
        <Link to={backTo}>← {order.role === "operator" ? t("mo.backToMarket") : t("mo.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {order.marketName} · {counterpart}
          </p>
          <h1 className="mono od-number" data-testid="order-number">
            {order.orderNo}
          </h1>
          <p className="subtle small">{t("mo.placedAt", { at: formatDateTime(order.placedAt, locale) })}</p>
        </div>
        <MarketOrderStatusTag status={order.status} />
      </div>

      <section className="panel" aria-label={t("mo.detailTitle")}>
        {order.held ? (
          <p className="mo-held" data-testid="held">
            {t("mo.held", { amount: formatFen(order.goodsTotalFen, locale) })}
          </p>
        ) : null}
        <dl className="od-facts">
          <Fact label={t("mo.fact.buyer")}>{order.buyerName}</Fact>
          <Fact label={t("mo.fact.merchant")}>{order.merchantName}</Fact>
          <Fact label={t("mo.fact.goodsTotal")} testId="goods-total">
            <Money fen={order.goodsTotalFen} />
          </Fact>
          {seesFee && !final ? (
            <>
              <Fact label={t("mo.fact.commission")} testId="commission">
                <Money fen={order.feeFen!} />
              </Fact>
              <Fact label={t("mo.fact.merchantNet")}>
                <Money fen={order.goodsTotalFen - order.feeFen!} />
              </Fact>
            </>
          ) : null}
          {final && order.refundedFen > 0 ? (
            <Fact label={t("mo.fact.refunded")} testId="refunded">
              <Money fen={order.refundedFen} />
            </Fact>
          ) : null}
          {order.status === "settled" || (order.status === "refunded" && seesFee) ? (
            <>
              <Fact label={t("mo.fact.settledNet")} testId="settled-net">
                <Money fen={order.settledNetFen} />
              </Fact>
              {seesFee ? (
                <Fact label={t("mo.fact.settledFee")} testId="settled-fee">
                  <Money fen={order.settledFeeFen!} />
                </Fact>
              ) : null}
            </>
          ) : null}
          {order.role === "buyer" ? (
            <Fact label={t("mo.fact.checkout")}>
              <Link to={`/market/checkouts/${order.checkoutId}`}>{t("mo.fact.checkoutLink")}</Link>
            </Fact>
          ) : null}
          {order.paidAt ? <Fact label={t("mo.fact.paidAt")}>{formatDateTime(order.paidAt, locale)}</Fact> : null}
          {order.shippedAt ? <Fact label={t("mo.fact.shippedAt")}>{formatDateTime(order.shippedAt, locale)}</Fact> : null}
          {order.trackingNo ? (
            <Fact label={t("mo.fact.shipping")} testId="tracking">
              {order.carrier} <span className="mono">{order.trackingNo}</span>
            </Fact>
          ) : null}
          <AutoConfirmFact order={order} dispute={order.dispute} />
          {order.receivedAt ? <Fact label={t("mo.fact.receivedAt")}>{formatDateTime(order.receivedAt, locale)}</Fact> : null}
          {order.settledAt ? <Fact label={t("mo.fact.settledAt")}>{formatDateTime(order.settledAt, locale)}</Fact> : null}
          {order.closedAt && !order.settledAt ? <Fact label={t("mo.fact.closedAt")}>{formatDateTime(order.closedAt, locale)}</Fact> : null}
        </dl>
      </section>

      <Actions d={d} result={result} busy={busy} />

      {order.dispute ? (
        <section className="panel" aria-labelledby="dispute-heading">
          <h2 id="dispute-heading">{t("dispute.title")}</h2>
          <DisputeStatements dispute={order.dispute} orderStatus={order.status} />
          {d.canAct && order.dispute.status === "open" ? <StatementForm result={result} busy={busy} /> : null}
        </section>
      ) : null}

      <section className="panel" aria-labelledby="lines-heading">
        <h2 id="lines-heading">{t("mo.linesTitle")}</h2>
        <div className="table-wrap">
          <table className="data" data-testid="lines">
            <thead>
              <tr>
                <th scope="col">#</th>
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
                {seesFee ? <th scope="col">{t("mo.line.commissionRate")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {order.lines.map((l) => (
                <tr key={l.lineNo}>
                  <td className="num">{l.lineNo}</td>
                  <td>
                    <div>{l.title}</div>
                    <div className="sc-muted small">
                      {l.category}
                      {l.spec ? ` · ${l.spec}` : ""}
                    </div>
                  </td>
                  <td className="num">
                    {l.quantity} {l.unit}
                  </td>
                  <td className="num">{formatFen(l.unitPriceFen, locale)}</td>
                  <td className="num">{formatFen(l.amountFen, locale)}</td>
                  {seesFee ? (
                    <td className="nowrap">
                      {t("mo.line.commissionRateValue", { rate: l.commissionRateText ?? "0", min: formatFen(l.minFeeFen ?? 0, locale) })}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={4} className="num">
                  {t("mo.line.total")}
                </th>
                <td className="num od-total">{formatFen(order.goodsTotalFen, locale)}</td>
                {seesFee ? <td /> : null}
              </tr>
            </tfoot>
          </table>
        </div>
      </section>

      <section className="panel" aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">{t("mo.timelineTitle")}</h2>
        <MarketOrderTimeline events={order.events} />
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
