import { Link, useLocation, useRevalidator } from "@remix-run/react";
import { useEffect, useRef, type ReactNode } from "react";
import { z } from "zod";
import { formatDate, formatDateTime, formatFen, isMessageKey, translateDynamic, translateWithParams, type Locale } from "~/i18n";
import type { OrderListItem } from "~/domain/orders";
import { ORDER_STATUSES } from "~/domain/orders";
import { useLocale, useT } from "~/i18n/react";

/**
 * Building blocks of the order pages (list, detail, cart, quick order, returns, seasons,
 * settings). The order model refuses with English sentences per field (`lines.2.quantity`:
 * "HT-1: quantity is below the minimum order of 12 件"); `orderProblemText` turns the sentences it
 * knows into the reader's language and shows any other one as written, so nothing is ever hidden.
 */

type Pattern = [RegExp, string, readonly string[]];

// Each pattern: the model's sentence, the message key, and the names of the captured params.
const PATTERNS: readonly Pattern[] = [
  [/^payment_pending$/, "payments.problem.pending", []],
  [/^already_paid$/, "payments.problem.alreadyPaid", []],
  [/^too_many_attempts$/, "payments.problem.tooManyAttempts", []],
  [/^financing not available$/, "orders.problem.financingUnavailable", []],
  [/^unknown SKU\s*(.*)$/, "orders.problem.unknownSku", ["code"]],
  [/^SKU (\S+) is not on sale$/, "orders.problem.notOnSale", ["code"]],
  [/^SKU (\S+) appears twice/, "orders.problem.duplicateSku", ["code"]],
  [/^(\S+): quantity is below the minimum order of (\d+) (.+)$/, "orders.problem.belowMoq", ["code", "moq", "unit"]],
  [/^(\S+): quantity must be a multiple of the pack size (\d+) (.+)$/, "orders.problem.notWholePacks", ["code", "pack", "unit"]],
  [/^(\S+): quantity must be a whole number of at least 1$/, "orders.problem.wholeNumberSku", ["code"]],
  [/^(\S+): quantity must be at most (\d+)$/, "orders.problem.tooLarge", ["code", "max"]],
  [/^(\S+): between 0 and the (\d+) ordered$/, "orders.problem.confirmRange", ["code", "max"]],
  [/^(\S+): say why the quantity changes$/, "orders.problem.reasonNeeded", ["code"]],
  [/^(\S+): between 0 and the (\d+) still to ship$/, "orders.problem.shipRange", ["code", "max"]],
  [/^(\S+): between 0 and the (\d+) that can still be returned$/, "orders.problem.returnRange", ["code", "max"]],
  [/^only (\d+) (\S+) available$/, "orders.problem.stockShort", ["count", "unit"]],
  [/^Not enough stock of (\S+): (\d+) (\S+) wanted, (\d+) available/, "orders.problem.notEnoughStock", ["code", "wanted", "unit", "available"]],
  [/^not a line of this order$/, "orders.problem.notALine", []],
  [/^required$/, "field.required", []],
  [/^too_long$|^too long$/, "field.tooLong", []],
  [/^exceeds the available credit$/, "orders.problem.creditExceeded", []],
  [/^not for preorders$/, "orders.problem.onAccountNotPreorder", []],
  [/^on_account or nothing$/, "orders.problem.choosePayment", []],
  [/^wallet balance too low$/, "orders.problem.walletLow", []],
  [/^no active dealer relationship$/, "orders.problem.noLink", []],
  [/^not found$/, "orders.problem.notFound", []],
  [/^closed$/, "orders.problem.seasonClosed", []],
  [/^preorder only$/, "orders.problem.preorderOnly", []],
  [/^empty$/, "orders.problem.linesEmpty", []],
  [/^too_many$/, "orders.problem.linesTooMany", []],
  [/^all_rejected$/, "orders.problem.allRejected", []],
  [/^cart_exists$/, "orders.problem.cartExists", []],
  [/^total_too_large$/, "orders.problem.totalTooLarge", []],
  [/^nothing owed$/, "orders.problem.nothingOwed", []],
  [/^1 to 60$/, "orders.problem.autoReceiptRange", []],
  [/^positive amount or empty$/, "orders.problem.thresholdPositive", []],
  [/^0 to 10000$/, "orders.problem.depositRange", []],
  [/^refund not covered$/, "orders.problem.refundNotCovered", []],
  [/^retry$/, "orders.problem.retry", []],
  [/^not available$/, "orders.problem.notAvailable", []],
  [/^owner or admin$/, "orders.problem.approverOnly", []],
  [/^invalid_cursor$/, "catalog.problem.invalid_cursor", []],
];

const STATUS_WORDS: ReadonlySet<string> = new Set(ORDER_STATUSES);

/** A problem (a message key of ours, a model sentence, or a bare order status) in the reader's language. */
export function orderProblemText(locale: Locale, text: string): string {
  if (isMessageKey(text)) return translateWithParams(locale, text);
  // A `status` field carries the order's status when an action no longer fits it.
  if (STATUS_WORDS.has(text)) {
    return translateWithParams(locale, "orders.problem.invalidState", { status: translateDynamic(locale, `orders.status.${text}`, text) });
  }
  for (const [pattern, key, names] of PATTERNS) {
    const match = pattern.exec(text);
    if (!match || !isMessageKey(key)) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = match[i + 1] ?? "";
    });
    return translateWithParams(locale, key, params);
  }
  return text;
}

// Notes the model writes on the timeline (people's own reasons are shown as they wrote them).
const NOTE_PATTERNS: readonly Pattern[] = [
  [/^adjusted: (.+)$/, "orders.note.adjusted", ["codes"]],
  [/^auto-receipt$/, "orders.note.autoReceipt", []],
  [/^e-Pay payment ([0-9a-f-]{36})$/, "orders.note.epayStarted", ["id"]],
  [/^e-Pay payment ([0-9a-f-]{36}) arrived when the order was (\w+); the money stays in the dealer's wallet$/, "orders.note.paymentNotApplied", ["id", "status"]],
];

/** A timeline note in the reader's language when the model wrote it; a person's words as written. */
export function orderNoteText(locale: Locale, note: string): string {
  const repaid = /^(\d+) fen repaid$/.exec(note);
  if (repaid) return translateWithParams(locale, "orders.note.repaid", { amount: formatFen(Number(repaid[1]), locale) });
  for (const [pattern, key, names] of NOTE_PATTERNS) {
    const match = pattern.exec(note);
    if (!match || !isMessageKey(key)) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      const value = match[i + 1] ?? "";
      params[name] = name === "status" ? translateDynamic(locale, `orders.status.${value}`, value) : name === "id" ? value.slice(0, 8) : value;
    });
    return translateWithParams(locale, key, params);
  }
  return note;
}

export function useOrderNote(): (note: string) => string {
  const locale = useLocale();
  return (note) => orderNoteText(locale, note);
}

export function useOrderProblem(): (text: string | null | undefined) => string | undefined {
  const locale = useLocale();
  return (text) => (text ? orderProblemText(locale, text) : undefined);
}

export function OrderStatusTag({ status }: { status: string }) {
  const locale = useLocale();
  return (
    <span className={`od-status ${status}`} data-status={status}>
      {translateDynamic(locale, `orders.status.${status}`, status)}
    </span>
  );
}

export function OrderKindTag({ kind }: { kind: string }) {
  const locale = useLocale();
  return <span className={`od-kind ${kind}`}>{translateDynamic(locale, `orders.kind.${kind}`, kind)}</span>;
}

/** The problems of a failed action that no field on the page shows, in one alert above its form. */
export function ActionError({ problems }: { problems: string[] }) {
  if (problems.length === 0) return null;
  return (
    <div className="sc-form-error od-action-error" role="alert">
      {problems.map((p, i) => (
        <p key={i}>{p}</p>
      ))}
    </div>
  );
}

/** What the order pages send back when a form fails: per-field problems, a sentence, the input. */
export interface OrderFormFailure {
  intent: string;
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: Record<string, string>;
}

/** An order list item as a loader hands it over (timestamps may arrive as text). */
export type OrderTableRow = Omit<OrderListItem, "createdAt" | "counterpartyName"> & { createdAt: Date | string; counterpartyName?: string };

/**
 * Orders as a table (the order list, a dealer's recent orders). `counterpartyHeading` adds the
 * other party's column; leave it out where the page is already about one counterparty.
 */
export function OrderTable({
  items,
  counterpartyHeading,
  testId,
}: {
  items: readonly OrderTableRow[];
  counterpartyHeading?: string;
  testId: string;
}) {
  const t = useT();
  const locale = useLocale();
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("orders.number")}</th>
            <th scope="col">{t("orders.kind")}</th>
            <th scope="col">{t("orders.status")}</th>
            {counterpartyHeading ? <th scope="col">{counterpartyHeading}</th> : null}
            <th scope="col" className="num">
              {t("orders.total")}
            </th>
            <th scope="col" className="num">
              {t("orders.paid")}
            </th>
            <th scope="col">{t("orders.paymentMethod")}</th>
            <th scope="col">{t("orders.dueOn")}</th>
            <th scope="col">{t("orders.created")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((o) => (
            <tr key={o.id}>
              <td>
                <Link to={`/orders/${o.id}`} className="mono">
                  {o.number}
                </Link>
              </td>
              <td>
                <OrderKindTag kind={o.kind} />
              </td>
              <td>
                <OrderStatusTag status={o.status} />
              </td>
              {counterpartyHeading ? <td>{o.counterpartyName}</td> : null}
              <td className="num">{formatFen(o.totalFen, locale)}</td>
              <td className="num">{formatFen(o.paidFen, locale)}</td>
              <td>{o.paymentMethod ? translateDynamic(locale, `orders.method.${o.paymentMethod}`, o.paymentMethod) : "—"}</td>
              <td className="nowrap">{o.dueOn ? formatDate(o.dueOn, locale) : "—"}</td>
              <td className="nowrap">{formatDateTime(o.createdAt, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * How a dealer's order is paid when it is submitted: after the supplier confirms (the default), or
 * on account now, its total held on the credit line. `credit` is what the line shows (one
 * supplier's, or a list for a form that picks the supplier); `error` is the text to show.
 */
export function PaymentChoice(props: {
  idPrefix: string;
  chosen: string | null | undefined;
  error: string | undefined;
  onAccountHint: string;
  credit: ReactNode;
}) {
  const t = useT();
  const creditId = `${props.idPrefix}-payment-credit`;
  const errorId = `${props.idPrefix}-payment-error`;
  const onAccount = props.chosen === "on_account";
  return (
    <div className="od-pay">
      <fieldset
        className="sc-fieldset"
        data-testid="pay-choice"
        aria-invalid={props.error ? true : undefined}
        aria-describedby={`${creditId}${props.error ? ` ${errorId}` : ""}`}
      >
        <legend>{t("orders.payChoice.legend")}</legend>
        <label className="od-pay-option">
          <input type="radio" name="payment_method" value="after_confirmation" defaultChecked={!onAccount} />
          <span>
            {t("orders.payChoice.later")} <span className="sc-muted">{t("orders.payChoice.laterHint")}</span>
          </span>
        </label>
        <label className="od-pay-option">
          <input type="radio" name="payment_method" value="on_account" defaultChecked={onAccount} />
          <span>
            {t("orders.payChoice.onAccount")} <span className="sc-muted">{props.onAccountHint}</span>
          </span>
        </label>
        <div className="sc-muted small od-pay-credit" id={creditId} data-testid="credit-available">
          {props.credit}
        </div>
        {props.error ? (
          <p className="field-error sc-error" id={errorId} role="alert">
            {props.error}
          </p>
        ) : null}
      </fieldset>
    </div>
  );
}

/** The form field of that choice, as the three forms that offer it parse it. */
export const paymentChoiceField = z
  .enum(["after_confirmation", "on_account"], { errorMap: () => ({ message: "orders.problem.choosePayment" }) })
  .default("after_confirmation");

// ---------------------------------------------------------------------------------------------
// An e-Pay payment a person is waiting on (order pages and the checkout page)

/** How often the page asks again while a payment is in flight: polling with JS, meta refresh without. */
export const PAYMENT_POLL_MS = 3_000;
const PAYMENT_REFRESH_SECONDS = 5;

export interface InFlightPaymentView {
  id: string;
  /** `created`: pending at the gateway; otherwise captured and being applied. */
  status: string;
  amountFen: number;
  createdAt: string;
  payUrl: string | null;
}

/**
 * Instead of the pay buttons while an e-Pay payment is in flight: says so, and refreshes until it
 * settles — with JS by revalidating every few seconds (the loader asks the gateway), without it by
 * a meta refresh and a refresh link. The pay buttons come back only once the payment failed.
 */
export function PaymentInFlight({ payment }: { payment: InFlightPaymentView }) {
  const t = useT();
  const locale = useLocale();
  const location = useLocation();
  const revalidator = useRevalidator();
  const revalidatorRef = useRef(revalidator);
  revalidatorRef.current = revalidator;
  useEffect(() => {
    // Mounted only while the payment is in flight: once the loader says it settled, this unmounts and stops.
    const timer = window.setInterval(() => {
      if (revalidatorRef.current.state === "idle" && document.visibilityState === "visible") revalidatorRef.current.revalidate();
    }, PAYMENT_POLL_MS);
    return () => window.clearInterval(timer);
  }, [payment.id]);
  const captured = payment.status !== "created";
  const amount = formatFen(payment.amountFen, locale);
  return (
    <div className="od-pay od-pay-pending" role="status" aria-live="polite" data-testid="payment-in-flight" data-payment-id={payment.id}>
      <noscript>
        <meta httpEquiv="refresh" content={String(PAYMENT_REFRESH_SECONDS)} />
      </noscript>
      <p>
        <strong>{t("payments.inFlight.title")}</strong>
      </p>
      <p>
        {captured
          ? t("payments.inFlight.captured", { amount })
          : t("payments.inFlight.pending", { amount, at: formatDateTime(payment.createdAt, locale) })}
      </p>
      <p className="sc-muted small">{t("payments.inFlight.refreshing", { seconds: PAYMENT_REFRESH_SECONDS })}</p>
      <p className="sc-actions">
        <Link to={`${location.pathname}${location.search}`} replace className="sc-button secondary" data-testid="payment-refresh">
          {t("payments.inFlight.refresh")}
        </Link>
        {!captured && payment.payUrl ? (
          <a href={payment.payUrl} className="small" data-testid="payment-open-epay">
            {t("payments.inFlight.openEpay")}
          </a>
        ) : null}
      </p>
    </div>
  );
}

/** Next to the pay buttons after a failed attempt. */
export function PaymentLastFailed({ failedAt }: { failedAt: string }) {
  const t = useT();
  const locale = useLocale();
  return (
    <p className="notice" data-testid="payment-last-failed">
      {t("payments.lastFailed", { at: formatDateTime(failedAt, locale) })}
    </p>
  );
}
