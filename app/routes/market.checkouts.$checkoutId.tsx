import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { CheckoutStatusTag, FormProblems, MarketOrderStatusTag, useFormProblems, type MarketFormFailure } from "~/components/market-order-ui";
import { PaymentInFlight, PaymentLastFailed } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { EpayGatewayError, isCaptured, paymentsDepsForRequest, settlePaymentAttempts } from "~/domain/payments";
import { cancelCheckout, payCheckoutFromWallet, startCheckoutPayment, getCheckout } from "~/domain/market";
import { listAccountsForOrganization } from "~/domain/ledger";
import { formText, marketFormFailure, readMarketForm, requireMarketParty } from "~/web/market-order-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import marketOrderStyles from "~/styles/market-orders.css";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
  { rel: "stylesheet", href: marketOrderStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "checkout.title");

const EPAY_TIMEOUT_MS = 5_000;
const EPAY_STATUS_TIMEOUT_MS = 2_000;

/**
 * `/market/checkouts/:checkoutId` — the buyer pays a checkout (one order per merchant) at once:
 * through e-Pay (off to the gateway's pay page, back here by the payment's return path) or from
 * its wallet; or cancels it. After payment it shows the orders paid and held in escrow. Only the
 * buyer that placed it sees it; anyone else gets 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, canPay, canAct } = await requireMarketParty(request, context, { kinds: ["buyer"] });
  const checkoutId = requireUuidParam(params.checkoutId);
  let loaded = await scoped(() => getCheckout(context.db, organizationId, checkoutId));
  // The e-Pay attempts at this checkout (asked of the gateway while one is pending: the callback may be late).
  const attempts =
    loaded.checkout.status === "placed"
      ? await settlePaymentAttempts(
          context.db,
          organizationId,
          `market_checkout:${loaded.checkout.id}`,
          paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_STATUS_TIMEOUT_MS, maxAttempts: 1 }),
        )
      : null;
  // The gateway's answer may have just held the checkout (the capture does it at once): read it again.
  if (attempts?.changed) loaded = await scoped(() => getCheckout(context.db, organizationId, checkoutId));
  const { checkout, orders, marketName } = loaded;
  const wallet = (await listAccountsForOrganization(context.db, organizationId)).find((a) => a.kind === "wallet");
  const inFlight = attempts?.inFlight ?? null;
  const now = Date.now();
  // What the page says: the checkout's own status, refined by its e-Pay payment while placed. While
  // an attempt is in flight there is nothing to pay: the page waits for it (epay_pending).
  let phase: "open" | "epay_pending" | "paying" | "lapsed" | "paid" | "expired" | "cancelled" = checkout.status === "placed" ? "open" : checkout.status;
  if (phase === "open" && inFlight && isCaptured(inFlight.status)) phase = "paying";
  else if (phase === "open" && checkout.expiresAt.getTime() <= now) phase = "lapsed";
  else if (phase === "open" && inFlight) phase = "epay_pending";
  return {
    checkout: {
      id: checkout.id,
      marketId: checkout.marketId,
      status: checkout.status,
      totalFen: checkout.totalFen,
      expiresAt: checkout.expiresAt.toISOString(),
      createdAt: checkout.createdAt.toISOString(),
    },
    marketName,
    phase,
    orders: orders.map((o) => ({ id: o.id, orderNo: o.orderNo, merchantName: o.merchantName, status: o.status, goodsTotalFen: o.goodsTotalFen })),
    walletAvailableFen: wallet?.availableFen ?? 0,
    payment: {
      inFlight: inFlight
        ? { id: inFlight.id, status: inFlight.status, amountFen: inFlight.amountFen, createdAt: inFlight.createdAt.toISOString(), payUrl: inFlight.payUrl }
        : null,
      lastFailedAt: attempts?.lastFailed?.failedAt ? attempts.lastFailed.failedAt.toISOString() : null,
    },
    canPay,
    canCancel: canAct,
  };
}

const INTENTS = ["epay", "wallet", "cancel"] as const;
type Intent = (typeof INTENTS)[number];
const isIntent = (value: string): value is Intent => (INTENTS as readonly string[]).includes(value);

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { form } = await readMarketForm(request);
  await requireCsrf(request, context, form);
  const rawIntent = formText(form, "intent", 50);
  // Paying the checkout is the market machine's `pay`; cancelling it, its `cancel` (app/domain/identity/permissions.ts).
  const { organizationId, actor } = await requireMarketParty(request, context, {
    kinds: ["buyer"],
    may: rawIntent === "cancel" ? "market_order.cancel" : "market_order.pay",
  });
  const checkoutId = requireUuidParam(params.checkoutId);
  const { db } = context;
  const { checkout } = await scoped(() => getCheckout(db, organizationId, checkoutId));
  if (!isIntent(rawIntent)) throw new Response("Unknown form", { status: 400 });
  const intent: Intent = rawIntent;
  const here = `/market/checkouts/${checkout.id}`;
  try {
    switch (intent) {
      case "epay": {
        let started;
        try {
          // Over HTTP to the gateway, outside any transaction; the same checkout gives the same payment.
          started = await startCheckoutPayment(db, actor, organizationId, checkout.id, paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 2 }), new Date());
        } catch (error) {
          if (!(error instanceof EpayGatewayError)) throw error;
          context.logger.warn({ checkoutId: checkout.id, err: error }, "e-Pay payment could not be started");
          return data<MarketFormFailure>({ intent, fieldErrors: {}, formError: "checkout.epayUnavailable", values: {} }, { status: 503 });
        }
        return redirect(started.payUrl);
      }
      case "wallet": {
        const paid = await payCheckoutFromWallet(db, actor, organizationId, checkout.id, new Date());
        return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "checkout.flash.paid", params: { amount: formatFen(paid.totalFen) } }) } });
      }
      case "cancel":
        await cancelCheckout(db, actor, organizationId, checkout.id, new Date());
        return redirect(here, { headers: { "Set-Cookie": await flashCookie(context, { key: "checkout.flash.cancelled" }) } });
    }
  } catch (error) {
    const { failure, status } = marketFormFailure(error, intent, {});
    return data<MarketFormFailure>(failure, { status });
  }
}

export default function CheckoutPage() {
  const d = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const { checkout } = d;
  const epay = useFormProblems(result, "epay", []);
  const wallet = useFormProblems(result, "wallet", ["wallet"]);
  const cancel = useFormProblems(result, "cancel", []);
  const payable = d.phase === "open";
  // Withdrawing stays possible while an attempt is pending: a payment that lands later stays in the wallet.
  const cancellable = payable || d.phase === "epay_pending";
  const walletCovers = d.walletAvailableFen >= checkout.totalFen;
  return (
    <div className="sc-page mo-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("checkout.eyebrow")}</p>
          <h1>{t("checkout.title")}</h1>
          <p className="subtle">{t("checkout.intro", { market: d.marketName, count: d.orders.length })}</p>
        </div>
        <CheckoutStatusTag status={checkout.status} />
      </div>

      {d.phase === "paid" ? (
        <p className="mo-notice ok" role="status" data-testid="paid">
          {t("checkout.paidNotice", { amount: formatFen(checkout.totalFen, locale) })}
        </p>
      ) : null}
      {(d.phase === "paying" || d.phase === "epay_pending") && d.payment.inFlight ? <PaymentInFlight payment={d.payment.inFlight} /> : null}
      {/* A form sent from a stale tab while the page no longer offers it: say why it was refused. */}
      {!payable ? <FormProblems problems={[...epay.rest, ...wallet.rest]} /> : null}
      {d.phase === "expired" || d.phase === "lapsed" ? <p className="mo-notice closed">{t("checkout.expiredNotice")}</p> : null}
      {d.phase === "cancelled" ? <p className="mo-notice closed">{t("checkout.cancelledNotice")}</p> : null}

      <section className="panel" aria-labelledby="orders-heading">
        <h2 id="orders-heading">{t("checkout.ordersTitle")}</h2>
        <div className="table-wrap">
          <table className="data" data-testid="checkout-orders">
            <thead>
              <tr>
                <th scope="col">{t("mo.col.orderNo")}</th>
                <th scope="col">{t("mo.col.merchant")}</th>
                <th scope="col">{t("mo.col.status")}</th>
                <th scope="col" className="num">
                  {t("mo.col.goodsTotal")}
                </th>
              </tr>
            </thead>
            <tbody>
              {d.orders.map((o) => (
                <tr key={o.id}>
                  <td>
                    <Link to={`/market/orders/${o.id}`} className="mono">
                      {o.orderNo}
                    </Link>
                  </td>
                  <td>{o.merchantName}</td>
                  <td>
                    <MarketOrderStatusTag status={o.status} />
                  </td>
                  <td className="num">{formatFen(o.goodsTotalFen, locale)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={3} className="num">
                  {t("checkout.total")}
                </th>
                <td className="num mo-total" data-testid="checkout-total">
                  {formatFen(checkout.totalFen, locale)}
                </td>
              </tr>
            </tfoot>
          </table>
        </div>
        <p className="sc-muted small">{t("checkout.createdAt", { at: formatDateTime(checkout.createdAt, locale) })}</p>
      </section>

      {payable && d.canPay ? (
        <section className="panel" aria-labelledby="pay-heading" data-testid="pay">
          <h2 id="pay-heading">{t("checkout.payTitle")}</h2>
          <p className="mo-notice wait" data-testid="expires">
            {t("checkout.expiresAt", { at: formatDateTime(checkout.expiresAt, locale) })}
          </p>
          <FormProblems problems={[...epay.rest, ...wallet.rest]} />
          {d.payment.lastFailedAt ? <PaymentLastFailed failedAt={d.payment.lastFailedAt} /> : null}
          <div className="mo-pay-options">
            <Form method="post" className="mo-pay-option">
              <CsrfInput />
              <input type="hidden" name="intent" value="epay" />
              <button type="submit" className="sc-button" disabled={busy} data-intent="epay">
                {d.payment.lastFailedAt ? t("payments.action.epayRetry") : t("checkout.payEpay")}
              </button>
              <p className="sc-muted small">{t("checkout.payEpayHint")}</p>
            </Form>
            <Form method="post" className="mo-pay-option">
              <CsrfInput />
              <input type="hidden" name="intent" value="wallet" />
              <button type="submit" className={`sc-button ${walletCovers ? "" : "secondary"}`} disabled={busy} data-intent="wallet">
                {t("checkout.payWallet", { amount: formatFen(checkout.totalFen, locale) })}
              </button>
              <p className="small" data-testid="wallet-available">
                {t("checkout.walletAvailable", { amount: formatFen(d.walletAvailableFen, locale) })}
              </p>
              {wallet.field("wallet") ? (
                <p className="field-error" id="wallet-error">
                  {wallet.field("wallet")}
                </p>
              ) : !walletCovers ? (
                <p className="sc-muted small">{t("checkout.walletShort")}</p>
              ) : null}
            </Form>
          </div>
        </section>
      ) : null}

      {cancellable && d.canCancel ? (
        <section className="panel" aria-labelledby="cancel-heading">
          <h2 id="cancel-heading">{t("checkout.cancelTitle")}</h2>
          <FormProblems problems={cancel.rest} />
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="cancel" />
            <p className="sc-muted small">{t("checkout.cancelHint")}</p>
            <button type="submit" className="sc-button danger" disabled={busy} data-intent="cancel">
              {t("checkout.cancel")}
            </button>
          </Form>
        </section>
      ) : null}

      <p className="sc-actions">
        <Link to="/market/orders">{t("checkout.toOrders")}</Link>
        <span className="sc-muted">·</span>
        <Link to={`/market/${checkout.marketId}`}>{t("checkout.backToMarket")}</Link>
      </p>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
