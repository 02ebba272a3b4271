import { Form, Link } from "@remix-run/react";
import type { ReactNode } from "react";
import { CsrfInput } from "~/components/csrf-input";
import { formatDateTime, formatFen, isMessageKey, translateDynamic, translateWithParams, type Locale } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";
import { autoConfirmTimer } from "~/domain/market";
import type { MarketOrderStatus } from "../../db/schema";

/**
 * Building blocks of the escrow order pages (orders, checkout, disputes, rulings). The model
 * refuses in English per field (escrow/model.server.ts: `trackingNo: "letters, digits and '-' only"`,
 * `status: "shipped"` when an action no longer fits); `marketProblemText` puts the sentences it
 * knows into the reader's language and shows any other one as written, so nothing is hidden.
 * Loaders hand over plain data (the `*View` shapes here, timestamps as ISO strings).
 */

// ---------------------------------------------------------------------------------------------
// Views (what loaders send)

export type PartySide = "buyer" | "merchant" | "operator";

export interface OrderRowView {
  id: string;
  orderNo: string;
  checkoutId: string;
  marketName: string;
  buyerName: string;
  merchantName: string;
  status: string;
  goodsTotalFen: number;
  feeFen: number;
  placedAt: string;
}

export interface TimelineEntryView {
  id: number;
  event: string;
  from: string | null;
  to: string;
  actor: PartySide | "system";
  note: string;
  at: string;
}

export interface StatementView {
  id: string;
  party: PartySide;
  body: string;
  evidence: { filename: string; contentType: string } | null;
  createdAt: string;
}

export interface DisputeView {
  id: string;
  status: "open" | "ruled";
  openedFromStatus: string;
  ruling: "release" | "refund_full" | "refund_partial" | null;
  refundFen: number;
  rulingReason: string;
  ruledAt: string | null;
  openedAt: string;
  statements: StatementView[];
}

/** A failed form: per-field problems (model sentences or message keys), a sentence, the input. */
export interface MarketFormFailure {
  intent: string;
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Problems

type Pattern = [RegExp, string, readonly string[]];

// Each: the model's sentence, the message key, the names of the captured params.
const PATTERNS: readonly Pattern[] = [
  [/^payment_pending$/, "payments.problem.pending", []],
  [/^already_paid$/, "payments.problem.alreadyPaid", []],
  [/^too_many_attempts$/, "payments.problem.tooManyAttempts", []],
  [/^is required$/, "mo.problem.required", []],
  [/^must be at most (\d+) characters$/, "mo.problem.tooLong", ["max"]],
  [/^letters, digits and '-' only$/, "mo.problem.trackingFormat", []],
  [/^must be a whole number of fen$/, "mo.problem.moneyFormat", []],
  [/^Number must be greater than or equal to 0$/, "mo.problem.moneyFormat", []],
  [/^must be between 1 and (\d+) fen$/, "mo.problem.refundRange", ["total"]],
  [/^larger than 2 MiB$/, "mo.problem.evidenceTooLarge", []],
  [/^not a PNG, JPEG or PDF$/, "mo.problem.evidenceType", []],
  [/^not enough available$/, "mo.problem.walletShort", []],
  [/^must be release, refund_full or refund_partial$/, "mo.problem.rulingChoice", []],
  [/^invalid cursor$/, "catalog.problem.invalid_cursor", []],
  [/^ruled$/, "mo.problem.disputeRuled", []],
  [/^paying$/, "mo.problem.paying", []],
];

/** The escrow order's statuses in the order of its life (db/schema/market.ts MARKET_ORDER_STATUSES). */
export const MARKET_ORDER_STATUS_LIST = ["placed", "paid", "shipped", "received", "disputed", "settled", "refunded", "expired", "cancelled"] as const;

const ORDER_STATUS_WORDS: ReadonlySet<string> = new Set(MARKET_ORDER_STATUS_LIST);

export function marketProblemText(locale: Locale, text: string): string {
  if (isMessageKey(text)) return translateWithParams(locale, text);
  // A `status` field carries the order's (or checkout's) status when an action no longer fits it.
  if (ORDER_STATUS_WORDS.has(text)) {
    return translateWithParams(locale, "mo.problem.invalidState", { status: translateDynamic(locale, `mo.status.${text}`, text) });
  }
  for (const [pattern, key, names] of PATTERNS) {
    const match = pattern.exec(text);
    if (!match || !isMessageKey(key)) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      const value = match[i + 1] ?? "";
      // The range of a partial refund is 1 … total-1 fen: say it as "less than the total".
      params[name] = name === "total" ? formatFen(Number(value) + 1, locale) : value;
    });
    return translateWithParams(locale, key, params);
  }
  return text;
}

/**
 * The problems of the failed form `intent`: `field(name)` for those shown next to a field of the
 * form, `rest` for the others (a `status`, a refusal no field explains) shown above it.
 */
export function useFormProblems(result: MarketFormFailure | undefined | null, intent: string, fields: readonly string[]) {
  const locale = useLocale();
  if (!result || result.intent !== intent) {
    return { field: (_: string): string | undefined => undefined, value: (_: string): string | undefined => undefined, rest: [] as string[] };
  }
  const rest = Object.entries(result.fieldErrors)
    .filter(([name]) => !fields.includes(name))
    .map(([, text]) => marketProblemText(locale, text));
  if (rest.length === 0 && Object.keys(result.fieldErrors).length === 0 && result.formError) rest.push(marketProblemText(locale, result.formError));
  return {
    field: (name: string) => (result.fieldErrors[name] ? marketProblemText(locale, result.fieldErrors[name]) : undefined),
    value: (name: string) => result.values[name],
    rest,
  };
}

export function FormProblems({ problems }: { problems: readonly string[] }) {
  if (problems.length === 0) return null;
  return (
    <div className="sc-form-error mo-form-error" role="alert">
      {problems.map((p, i) => (
        <p key={i}>{p}</p>
      ))}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Small pieces

export function Money({ fen, className }: { fen: number; className?: string }) {
  const locale = useLocale();
  return <span className={`num ${className ?? ""}`}>{formatFen(fen, locale)}</span>;
}

export function MarketOrderStatusTag({ status }: { status: string }) {
  const locale = useLocale();
  return (
    <span className={`mo-status ${status}`} data-status={status}>
      {translateDynamic(locale, `mo.status.${status}`, status)}
    </span>
  );
}

export function CheckoutStatusTag({ status }: { status: string }) {
  const locale = useLocale();
  return (
    <span className={`mo-status checkout-${status}`} data-status={status}>
      {translateDynamic(locale, `checkout.status.${status}`, status)}
    </span>
  );
}

export function DisputeStatusTag({ status }: { status: string }) {
  const locale = useLocale();
  return (
    <span className={`mo-status dispute-${status}`} data-status={status}>
      {translateDynamic(locale, `dispute.status.${status}`, status)}
    </span>
  );
}

export function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** A multi-line text field (the shared TextField is one line), with its problem under it. */
export function TextArea(props: {
  name: string;
  label: string;
  idPrefix: string;
  error?: string;
  hint?: string;
  defaultValue?: string;
  maxLength: number;
  required?: boolean;
  rows?: number;
}) {
  const id = `${props.idPrefix}${props.name}`;
  const described = [props.error ? `${id}-error` : null, props.hint ? `${id}-hint` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="sc-field mo-textarea">
      <label htmlFor={id}>
        {props.label}
        {props.required ? (
          <span className="req" aria-hidden="true">
            *
          </span>
        ) : null}
      </label>
      <textarea
        id={id}
        name={props.name}
        rows={props.rows ?? 3}
        maxLength={props.maxLength}
        required={props.required}
        defaultValue={props.defaultValue}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described}
      />
      {props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** The evidence file input: PNG, JPEG or PDF up to 2 MiB (the model checks the bytes). */
export function EvidenceField({ idPrefix, error }: { idPrefix: string; error?: string }) {
  const t = useT();
  const id = `${idPrefix}evidence`;
  return (
    <div className="sc-field">
      <label htmlFor={id}>{t("dispute.evidenceField")}</label>
      <input
        id={id}
        name="evidence"
        type="file"
        accept="image/png,image/jpeg,application/pdf"
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint${error ? ` ${id}-error` : ""}`}
      />
      <p className="hint" id={`${id}-hint`}>
        {t("dispute.evidenceHint")}
      </p>
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Order list

export function MarketOrderTable({
  items,
  side,
  testId,
  orderHref = (id) => `/market/orders/${id}`,
}: {
  items: readonly OrderRowView[];
  side: "buyer" | "merchant" | "market_operator";
  testId: string;
  orderHref?: (id: string) => string;
}) {
  const t = useT();
  const locale = useLocale();
  const showFee = side !== "buyer";
  return (
    <div className="table-wrap">
      <table className="data" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{t("mo.col.orderNo")}</th>
            {side !== "market_operator" ? <th scope="col">{t("mo.col.market")}</th> : null}
            {side !== "buyer" ? <th scope="col">{t("mo.col.buyer")}</th> : null}
            {side !== "merchant" ? <th scope="col">{t("mo.col.merchant")}</th> : null}
            <th scope="col">{t("mo.col.status")}</th>
            <th scope="col" className="num">
              {t("mo.col.goodsTotal")}
            </th>
            {showFee ? (
              <th scope="col" className="num">
                {t("mo.col.commission")}
              </th>
            ) : null}
            <th scope="col">{t("mo.col.placedAt")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((o) => (
            <tr key={o.id} data-order={o.orderNo}>
              <td>
                <Link to={orderHref(o.id)} className="mono">
                  {o.orderNo}
                </Link>
                {side === "buyer" && o.status === "placed" ? (
                  <>
                    {" "}
                    <Link to={`/market/checkouts/${o.checkoutId}`} className="mo-pay-link">
                      {t("mo.payNow")}
                    </Link>
                  </>
                ) : null}
              </td>
              {side !== "market_operator" ? <td>{o.marketName}</td> : null}
              {side !== "buyer" ? <td>{o.buyerName}</td> : null}
              {side !== "merchant" ? <td>{o.merchantName}</td> : null}
              <td>
                <MarketOrderStatusTag status={o.status} />
              </td>
              <td className="num">{formatFen(o.goodsTotalFen, locale)}</td>
              {showFee ? <td className="num">{formatFen(o.feeFen, locale)}</td> : null}
              <td className="nowrap">{formatDateTime(o.placedAt, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** "More" by cursor, and back to the first page when not on it. */
export function CursorPager({ nextHref, firstHref, onFirstPage }: { nextHref: string | null; firstHref: string; onFirstPage: boolean }) {
  const t = useT();
  if (!nextHref && onFirstPage) return null;
  return (
    <nav className="sc-pager" aria-label={t("catalog.pager.label")}>
      {onFirstPage ? <span /> : <Link to={firstHref}>← {t("mo.firstPage")}</Link>}
      {nextHref ? (
        <Link to={nextHref} rel="next" className="sc-button secondary" data-testid="more">
          {t("mo.more")} →
        </Link>
      ) : (
        <span className="sc-muted">{t("mo.end")}</span>
      )}
    </nav>
  );
}

/** The status filter of an order list (a GET form: the URL is the state, works without JS). */
export function StatusFilter({ action, status, statuses }: { action: string; status: string; statuses: readonly string[] }) {
  const t = useT();
  const locale = useLocale();
  return (
    <Form method="get" action={action} className="sc-toolbar mo-filter">
      <div>
        <label htmlFor="status">{t("mo.filter.status")}</label>
        <select id="status" name="status" defaultValue={status}>
          <option value="">{t("mo.filter.anyStatus")}</option>
          {statuses.map((s) => (
            <option key={s} value={s}>
              {translateDynamic(locale, `mo.status.${s}`, s)}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="sc-button secondary">
        {t("mo.filter.submit")}
      </button>
    </Form>
  );
}

// ---------------------------------------------------------------------------------------------
// Timeline

function noteText(locale: Locale, note: string): string {
  if (note === "wallet") return translateWithParams(locale, "mo.note.wallet");
  const epay = /^e-Pay ([0-9a-f-]{36})$/.exec(note);
  if (epay) return translateWithParams(locale, "mo.note.epay", { id: epay[1].slice(0, 8) });
  return note;
}

export function MarketOrderTimeline({ events }: { events: readonly TimelineEntryView[] }) {
  const t = useT();
  const locale = useLocale();
  return (
    <ol className="od-timeline" data-testid="timeline">
      {events.map((e) => (
        <li key={e.id} data-event={e.event}>
          <time dateTime={e.at}>{formatDateTime(e.at, locale)}</time>
          <div>
            <strong>{translateDynamic(locale, `mo.event.${e.event}`, e.event)}</strong>
            {e.from && e.from !== e.to ? (
              <span className="sc-muted">
                {" "}
                {translateDynamic(locale, `mo.status.${e.from}`, e.from)} → {translateDynamic(locale, `mo.status.${e.to}`, e.to)}
              </span>
            ) : null}
            <div className="sc-muted">
              {t(`mo.actor.${e.actor}`)}
              {e.note ? <span className="od-note"> · {noteText(locale, e.note)}</span> : null}
            </div>
          </div>
        </li>
      ))}
    </ol>
  );
}

// ---------------------------------------------------------------------------------------------
// Disputes

/**
 * The auto-confirm fact of an order page: when the timer runs out (shipped), that it is paused
 * (an open dispute), or that a ruling ended it (market-order-states.ts `autoConfirmTimer`).
 */
export function AutoConfirmFact({ order, dispute }: { order: { status: string; autoConfirmAt: string | null }; dispute: DisputeView | null }) {
  const t = useT();
  const locale = useLocale();
  const timer = autoConfirmTimer({ status: order.status as MarketOrderStatus, autoConfirmAt: order.autoConfirmAt }, dispute);
  if (timer.state === "none") return null;
  return (
    <Fact label={t("mo.fact.autoConfirmAt")} testId="auto-confirm">
      <span data-timer={timer.state}>
        {timer.state === "running"
          ? formatDateTime(timer.dueAt, locale)
          : timer.state === "paused"
            ? t("mo.timer.paused", { since: formatDateTime(timer.since, locale) })
            : t("mo.timer.ended", { at: formatDateTime(timer.at, locale) })}
      </span>
    </Fact>
  );
}

/** What an open (or ruled) dispute does to the auto-confirm timer, said where the dispute is shown. */
export function DisputeTimerNote({ dispute, orderStatus }: { dispute: DisputeView; orderStatus: string }) {
  const t = useT();
  const timer = autoConfirmTimer({ status: orderStatus as MarketOrderStatus, autoConfirmAt: null }, dispute);
  if (timer.state === "paused") {
    return (
      <p className="notice mo-timer-note" data-testid="dispute-timer" data-timer="paused">
        {timer.wasRunning ? t("mo.timer.noteShipped") : t("mo.timer.noteOther")}
      </p>
    );
  }
  if (timer.state === "ended_by_ruling") {
    return (
      <p className="sc-muted small mo-timer-note" data-testid="dispute-timer" data-timer="ended_by_ruling">
        {t("mo.timer.noteEnded")}
      </p>
    );
  }
  return null;
}

/** The dispute's state, its ruling when ruled, and every statement with its evidence link. */
export function DisputeStatements({ dispute, orderStatus }: { dispute: DisputeView; orderStatus?: string }) {
  const t = useT();
  const locale = useLocale();
  return (
    <div className="mo-dispute" data-testid="dispute">
      <p className="mo-dispute-head">
        <DisputeStatusTag status={dispute.status} />{" "}
        <span className="sc-muted">
          {t("dispute.openedAt", {
            at: formatDateTime(dispute.openedAt, locale),
            status: translateDynamic(locale, `mo.status.${dispute.openedFromStatus}`, dispute.openedFromStatus),
          })}
        </span>
      </p>
      {orderStatus ? <DisputeTimerNote dispute={dispute} orderStatus={orderStatus} /> : null}
      {dispute.status === "ruled" && dispute.ruling && dispute.ruledAt ? (
        <div className="mo-ruling" data-testid="ruling">
          <p>
            <strong>
              {t("dispute.ruledAt", { at: formatDateTime(dispute.ruledAt, locale), ruling: t(`dispute.ruling.${dispute.ruling}`) })}
            </strong>
            {dispute.refundFen > 0 ? <> · {t("dispute.ruledRefund", { amount: formatFen(dispute.refundFen, locale) })}</> : null}
          </p>
          <p>{t("dispute.rulingReason", { reason: dispute.rulingReason })}</p>
        </div>
      ) : null}
      <h3>{t("dispute.statementsTitle")}</h3>
      {dispute.statements.length === 0 ? (
        <p className="empty">{t("dispute.noStatements")}</p>
      ) : (
        <ol className="mo-statements" data-testid="statements">
          {dispute.statements.map((s) => (
            <li key={s.id} className={`mo-statement ${s.party}`} data-party={s.party}>
              <p className="mo-statement-head">
                <strong>{t(`dispute.party.${s.party}`)}</strong> <time dateTime={s.createdAt}>{formatDateTime(s.createdAt, locale)}</time>
              </p>
              <p className="mo-statement-body">{s.body}</p>
              {s.evidence ? (
                <p className="mo-evidence">
                  <a href={`/market/disputes/evidence/${s.id}`} download={s.evidence.filename} data-testid="evidence-link">
                    {t("dispute.evidenceDownload", { filename: s.evidence.filename })}
                  </a>{" "}
                  <span className="sc-muted small">{s.evidence.contentType}</span>
                </p>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

/** A party adds a statement (and optional evidence) to an open dispute: a multipart form. */
export function StatementForm({ result, action, busy }: { result: MarketFormFailure | undefined | null; action?: string; busy: boolean }) {
  const t = useT();
  const f = useFormProblems(result, "statement", ["body", "evidence"]);
  return (
    <Form method="post" action={action} encType="multipart/form-data" noValidate className="mo-statement-form" data-testid="statement-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="statement" />
      <h3>{t("dispute.add.title")}</h3>
      <FormProblems problems={f.rest} />
      <TextArea name="body" idPrefix="statement-" label={t("dispute.add.body")} required maxLength={2000} defaultValue={f.value("body")} error={f.field("body")} />
      <EvidenceField idPrefix="statement-" error={f.field("evidence")} />
      <button type="submit" className="sc-button secondary" disabled={busy} data-intent="statement">
        {t("dispute.add.submit")}
      </button>
    </Form>
  );
}
