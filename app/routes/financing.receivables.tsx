import {
  data,
  redirect,
  type ActionFunctionArgs,
  type LinksFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import {
  Form,
  Link,
  useActionData,
  useLoaderData,
  useNavigation,
} from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { Money } from "~/components/financing-loan-ui";
import { RouteError } from "~/components/route-error";
import {
  formatDate,
  formatFen,
  formatPercentBps,
  formatRatePpm,
  translateDynamic,
  type Locale,
  type MessageKey,
} from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import * as Financing from "~/domain/financing";
import { may } from "~/domain/identity";
import { isDomainError, isUuid, shanghaiDate } from "~/domain/shared";
import { domainFailure } from "~/web/supply-chain-access.server";
import { notFound, requireMay, requireOrgContext } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import supplyStyles from "~/styles/supply.css";
import ordersStyles from "~/styles/orders.css";

/**
 * /financing/receivables: receivables advances (应收账款融资). A core enterprise sees the
 * on-account orders it may sell today, each with the advance at the product's rate and a sell
 * form, and the receivables it has sold with what the bank has been repaid on each. A market
 * merchant (reached from its money panel on /market/orders) sees the same for its shipped escrow
 * orders: the advance on what settlement will pay it, and what it sold, repaid from settlements.
 */

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) =>
  pageTitle(matches, "financing.receivables.title");

/** A core enterprise or a market merchant sells receivables: for any other kind the page does not exist. */
async function requireSeller(
  request: Request,
  context: LoaderFunctionArgs["context"]
) {
  const ctx = await requireOrgContext(request, context);
  const kind = ctx.organization.kind;
  if (kind !== "core_enterprise" && kind !== "merchant") notFound();
  return { ...ctx, side: kind as "core_enterprise" | "merchant", organizationId: ctx.organization.organizationId };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const ctx = await requireSeller(request, context);
  const { db } = context;
  const now = new Date();
  const merchant =
    ctx.side === "merchant"
      ? await Financing.marketReceivablesForSale(db, ctx.organizationId)
      : null;
  const core =
    ctx.side === "core_enterprise"
      ? await Financing.receivablesForSale(db, ctx.organizationId, now)
      : null;
  const product = merchant?.product ?? core?.product ?? null;
  let annualRatePpm: number | null = null;
  let lprPpm: number | null = null;
  if (product) {
    try {
      const full = await Financing.getProduct(db, product.id);
      const rates = await Financing.contractRates(db, full, shanghaiDate(now));
      annualRatePpm = rates.annualRatePpm;
      lprPpm = rates.lprPpm;
    } catch (error) {
      // An LPR product before the bank records an LPR: the page still lists, without a rate.
      if (!(isDomainError(error) && error.fields.lpr)) throw error;
    }
  }
  const sold = core ? await Financing.receivablesSold(db, ctx.organizationId) : [];
  const market = merchant
    ? {
        forSale: merchant.receivables.map((r) => ({
          orderId: r.orderId,
          orderNo: r.orderNo,
          marketName: r.marketName,
          buyerName: r.buyerName,
          status: r.status,
          proceedsFen: r.proceedsFen,
          commissionFen: r.commissionFen,
          advanceFen: r.advanceFen,
        })),
        sold: await Financing.marketReceivablesSold(db, ctx.organizationId),
      }
    : null;
  return {
    side: ctx.side,
    market,
    product: product
      ? {
          name: product.name,
          nameEn: product.nameEn,
          advanceRateBps: product.advanceRateBps,
          graceDays: product.graceDays,
          termDays: product.termDays,
          annualRatePpm,
          lprPpm,
        }
      : null,
    receivables: core?.receivables ?? [],
    sold,
    maySell: may(ctx.roles, "financing.sell_receivable", ctx.organization.kind),
  };
}

interface SellFailure {
  intent: "sell";
  orderId: string;
  fieldErrors: Record<string, string>;
  /** The domain's codes for the refused fields (`sold`, `overdue`, …), translated on the page. */
  codes: Record<string, string>;
  formError: string | null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const ctx = await requireSeller(request, context);
  if (String(form.get("intent") ?? "") !== "sell")
    throw new Response("Unknown form", { status: 400 });
  requireMay(ctx, "financing.sell_receivable");
  // A core enterprise sells an on-account dealer order; a merchant the proceeds of an escrow order.
  const sellOne =
    ctx.side === "merchant"
      ? (id: string) => Financing.sellMarketReceivable(context.db, ctx.actor, { marketOrderId: id }, new Date())
      : (id: string) => Financing.sellReceivable(context.db, ctx.actor, { orderId: id }, new Date());
  return sell(form, ctx.side === "merchant" ? "market_order_id" : "order_id", sellOne, context);
}

/** One sale from the form's `field`; a refusal names each failed check or field, nothing written. */
async function sell(
  form: FormData,
  field: "order_id" | "market_order_id",
  sellOne: (orderId: string) => Promise<{ status: string; amount_fen: number }>,
  context: ActionFunctionArgs["context"]
) {
  const orderId = String(form.get(field) ?? "").trim();
  // A form that names no order is the form's mistake (422), not a missing order (404).
  if (!isUuid(orderId))
    return data<SellFailure>(
      { intent: "sell", orderId, fieldErrors: { [field]: "required" }, codes: { [field]: "required" }, formError: null },
      { status: 422 }
    );
  try {
    const application = await sellOne(orderId);
    const key = application.status === "approved" ? "financing.receivables.flash.approved" : "financing.receivables.flash.applied";
    return redirect("/financing/receivables", {
      headers: { "Set-Cookie": await flashCookie(context, { key, params: { amount: formatFen(application.amount_fen) } }) },
    });
  } catch (error) {
    if (error instanceof Response) throw error;
    const codes = isDomainError(error) ? { ...error.fieldCodes } : {};
    const { failure, status } = domainFailure(error, "sell", { [field]: orderId });
    return data<SellFailure>({ intent: "sell", orderId, fieldErrors: failure.fieldErrors, codes, formError: failure.formError }, { status });
  }
}

/** The product's terms as both views state them: advance share, rate and term. */
function termsParams(product: NonNullable<PageData["product"]>, locale: Locale) {
  return {
    advance: formatPercentBps(product.advanceRateBps, locale),
    rate: product.annualRatePpm !== null ? formatRatePpm(product.annualRatePpm) : "—",
    days: product.termDays ?? 0,
  };
}

/** The back link, the product's name and the page title, for either seller's view. */
function ReceivablesHead({ product, back, backKey, titleKey }: { product: PageData["product"]; back: string; backKey: MessageKey; titleKey: MessageKey }) {
  const t = useT();
  const locale = useLocale();
  return (
    <>
      <p>
        <Link to={back}>← {t(backKey)}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{product ? (locale === "en" ? product.nameEn : product.name) : ""}</p>
          <h1>{t(titleKey)}</h1>
        </div>
      </div>
    </>
  );
}

function Refusal({ failure }: { failure: SellFailure }) {
  const t = useT();
  const locale = useLocale();
  const fields = Object.keys(failure.fieldErrors);
  return (
    <div className="sc-form-error" role="alert" data-testid="sell-refused">
      <p>
        <strong>{t("financing.receivables.refused")}</strong>
      </p>
      {fields.length > 0 ? (
        <ul>
          {fields.map((field) => {
            const code = failure.codes[field];
            const words =
              field === "order_id" || field === "market_order_id"
                ? translateDynamic(
                    locale,
                    `financing.receivables.problem.${code ?? "order_id"}`,
                    translateDynamic(
                      locale,
                      "financing.receivables.problem.order_id",
                      field
                    )
                  )
                : translateDynamic(
                    locale,
                    `financing.apply.check.${field}`,
                    field.replaceAll("_", " ")
                  );
            return (
              <li key={field} data-check={field} data-code={code}>
                {words}
                <span className="sc-muted">
                  （{failure.fieldErrors[field]}）
                </span>
              </li>
            );
          })}
        </ul>
      ) : (
        <p>{failure.formError}</p>
      )}
    </div>
  );
}

export default function ReceivablesPage() {
  const d = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const { product } = d;
  if (d.market) return <MerchantReceivables d={{ ...d, market: d.market }} failure={failure} busy={busy} />;

  return (
    <div className="sc-page" data-testid="receivables">
      <ReceivablesHead product={product} back="/financing" backKey="financing.receivables.back" titleKey="financing.receivables.title" />

      <section className="panel" aria-labelledby="for-sale-heading">
        <h2 id="for-sale-heading">{t("financing.receivables.forSale")}</h2>
        {product ? (
          <>
            <p data-testid="receivables-terms">
              {t("financing.receivables.terms", termsParams(product, locale))}
              {product.lprPpm !== null && product.annualRatePpm !== null ? (
                <span className="sc-muted">
                  {" "}
                  （
                  {t("financing.receivables.rateLpr", {
                    spread: formatRatePpm(
                      product.annualRatePpm - product.lprPpm
                    ),
                  })}
                  ）
                </span>
              ) : null}
            </p>
            <p className="sc-muted">
              {t("financing.receivables.forSaleHint", {
                days: product.graceDays,
              })}
            </p>
          </>
        ) : (
          <p data-testid="receivables-no-product">
            {t("financing.receivables.noProduct")}
          </p>
        )}
        {failure ? <Refusal failure={failure} /> : null}
        {d.receivables.length > 0 ? (
          <div className="table-wrap">
            <table className="sc-table" data-testid="receivables-for-sale">
              <thead>
                <tr>
                  <th scope="col">{t("financing.receivables.order")}</th>
                  <th scope="col">{t("financing.receivables.dealer")}</th>
                  <th scope="col">{t("financing.receivables.dueOn")}</th>
                  <th scope="col" className="num">
                    {t("financing.receivables.outstanding")}
                  </th>
                  <th scope="col" className="num">
                    {t("financing.receivables.advance")}
                  </th>
                  {d.maySell ? (
                    <th scope="col">
                      <span className="visually-hidden">
                        {t("financing.receivables.sell")}
                      </span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {d.receivables.map((r) => (
                  <tr key={r.orderId} data-order={r.orderId}>
                    <td>
                      <Link to={`/orders/${r.orderId}`}>{r.orderNumber}</Link>
                    </td>
                    <td>{r.dealerName}</td>
                    <td>
                      {formatDate(r.dueOn, locale)}
                      {r.daysOverdue > 0 ? (
                        <span className="sc-muted">
                          {" "}
                          {t("financing.receivables.overdueDays", {
                            count: r.daysOverdue,
                          })}
                        </span>
                      ) : null}
                    </td>
                    <td className="num">
                      <Money fen={r.outstandingFen} />
                    </td>
                    <td className="num">
                      <Money
                        fen={r.advanceFen}
                        testId={`advance-${r.orderId}`}
                      />
                    </td>
                    {d.maySell ? (
                      <td>
                        <Form method="post">
                          <CsrfInput />
                          <input type="hidden" name="intent" value="sell" />
                          <input
                            type="hidden"
                            name="order_id"
                            value={r.orderId}
                          />
                          <button
                            type="submit"
                            className="sc-button"
                            disabled={busy}
                            data-intent="sell"
                          >
                            {t("financing.receivables.sell")}
                          </button>
                        </Form>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="empty" data-testid="receivables-none">
            {t("financing.receivables.none")}
          </p>
        )}
        {!d.maySell && d.receivables.length > 0 ? (
          <p className="sc-muted">{t("financing.receivables.noPermission")}</p>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="sold-heading">
        <h2 id="sold-heading">{t("financing.receivables.sold")}</h2>
        {d.sold.length > 0 ? (
          <div className="table-wrap">
            <table className="sc-table" data-testid="receivables-sold">
              <thead>
                <tr>
                  <th scope="col">{t("financing.receivables.loan")}</th>
                  <th scope="col">{t("financing.receivables.order")}</th>
                  <th scope="col">{t("financing.receivables.dealer")}</th>
                  <th scope="col">{t("financing.receivables.status")}</th>
                  <th scope="col" className="num">
                    {t("financing.receivables.principal")}
                  </th>
                  <th scope="col">{t("financing.receivables.maturityOn")}</th>
                  <th scope="col" className="num">
                    {t("financing.receivables.repaid")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.sold.map((s) => (
                  <tr key={s.loanId} data-loan={s.loanId}>
                    <td>
                      <Link to={`/financing/loans/${s.loanId}`}>
                        {s.loanNumber}
                      </Link>
                    </td>
                    <td>
                      <Link to={`/orders/${s.orderId}`}>{s.orderNumber}</Link>
                    </td>
                    <td>{s.dealerName}</td>
                    <td data-testid={`sold-status-${s.loanId}`}>
                      {translateDynamic(
                        locale,
                        `financing.loanStatus.${s.status}`,
                        s.status
                      )}
                    </td>
                    <td className="num">
                      <Money fen={s.principalFen} />
                    </td>
                    <td>{formatDate(s.maturityOn, locale)}</td>
                    <td className="num">
                      <Money
                        fen={s.repaidFen}
                        testId={`sold-repaid-${s.loanId}`}
                      />
                      {s.fromDebtorFen > 0 ? (
                        <span className="sc-muted small">
                          {" "}
                          {t("financing.receivables.fromDebtor")}{" "}
                          {formatFen(s.fromDebtorFen, locale)}
                        </span>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="empty">{t("financing.receivables.noneSold")}</p>
        )}
      </section>
    </div>
  );
}

type PageData = ReturnType<typeof useLoaderData<typeof loader>>;

/**
 * The merchant's view: its shipped and received escrow orders with the advance on each and a sell
 * form (a plain POST, CSRF-checked, no script needed), then what it has sold with each loan's
 * status and what the settlements repaid.
 */
function MerchantReceivables({
  d,
  failure,
  busy,
}: {
  d: PageData & { market: NonNullable<PageData["market"]> };
  failure: SellFailure | undefined;
  busy: boolean;
}) {
  const t = useT();
  const locale = useLocale();
  const { product, market } = d;
  return (
    <div className="sc-page" data-testid="receivables">
      <ReceivablesHead product={product} back="/market/orders" backKey="financing.receivables.market.back" titleKey="financing.receivables.market.title" />

      <section className="panel" aria-labelledby="for-sale-heading">
        <h2 id="for-sale-heading">{t("financing.receivables.market.forSale")}</h2>
        {product ? (
          <>
            <p data-testid="receivables-terms">
              {t("financing.receivables.market.terms", termsParams(product, locale))}
            </p>
            <p className="sc-muted">{t("financing.receivables.market.forSaleHint")}</p>
          </>
        ) : (
          <p data-testid="receivables-no-product">
            {t("financing.receivables.noProduct")}
          </p>
        )}
        {failure ? <Refusal failure={failure} /> : null}
        {market.forSale.length > 0 ? (
          <div className="table-wrap">
            <table className="sc-table" data-testid="market-receivables-for-sale">
              <thead>
                <tr>
                  <th scope="col">{t("financing.receivables.order")}</th>
                  <th scope="col">{t("financing.receivables.market.buyer")}</th>
                  <th scope="col">{t("financing.receivables.status")}</th>
                  <th scope="col" className="num">
                    {t("financing.receivables.market.proceeds")}
                  </th>
                  <th scope="col" className="num">
                    {t("financing.receivables.advance")}
                  </th>
                  {d.maySell ? (
                    <th scope="col">
                      <span className="visually-hidden">
                        {t("financing.receivables.sell")}
                      </span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {market.forSale.map((r) => (
                  <tr key={r.orderId} data-order={r.orderId}>
                    <td>
                      <Link to={`/market/orders/${r.orderId}`}>{r.orderNo}</Link>
                      <span className="sc-muted small"> {r.marketName}</span>
                    </td>
                    <td>{r.buyerName}</td>
                    <td>{translateDynamic(locale, `mo.status.${r.status}`, r.status)}</td>
                    <td className="num">
                      <Money fen={r.proceedsFen} />
                      <span className="sc-muted small">
                        {" "}
                        {t("financing.receivables.market.afterCommission", {
                          amount: formatFen(r.commissionFen, locale),
                        })}
                      </span>
                    </td>
                    <td className="num">
                      <Money fen={r.advanceFen} testId={`advance-${r.orderId}`} />
                    </td>
                    {d.maySell ? (
                      <td>
                        <Form method="post">
                          <CsrfInput />
                          <input type="hidden" name="intent" value="sell" />
                          <input type="hidden" name="market_order_id" value={r.orderId} />
                          <button type="submit" className="sc-button" disabled={busy} data-intent="sell">
                            {t("financing.receivables.sell")}
                          </button>
                        </Form>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="empty" data-testid="receivables-none">
            {t("financing.receivables.market.none")}
          </p>
        )}
        {!d.maySell && market.forSale.length > 0 ? (
          <p className="sc-muted" data-needs-role="financing.sell_receivable">
            {t("financing.receivables.noPermission")}
          </p>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="sold-heading">
        <h2 id="sold-heading">{t("financing.receivables.sold")}</h2>
        {market.sold.length > 0 ? (
          <div className="table-wrap">
            <table className="sc-table" data-testid="market-receivables-sold">
              <thead>
                <tr>
                  <th scope="col">{t("financing.receivables.loan")}</th>
                  <th scope="col">{t("financing.receivables.order")}</th>
                  <th scope="col">{t("financing.receivables.status")}</th>
                  <th scope="col" className="num">
                    {t("financing.receivables.principal")}
                  </th>
                  <th scope="col">{t("financing.receivables.maturityOn")}</th>
                  <th scope="col" className="num">
                    {t("financing.receivables.repaid")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {market.sold.map((s) => (
                  <tr key={s.applicationId} data-application={s.applicationId}>
                    <td>
                      {s.loanId ? (
                        <Link to={`/financing/loans/${s.loanId}`}>{s.loanNumber}</Link>
                      ) : (
                        <Link to={`/financing/applications/${s.applicationId}`}>{s.applicationNumber}</Link>
                      )}
                    </td>
                    <td>
                      <Link to={`/market/orders/${s.marketOrderId}`}>{s.orderNo}</Link>
                      <span className="sc-muted small">
                        {" "}
                        {translateDynamic(locale, `mo.status.${s.orderStatus}`, s.orderStatus)}
                      </span>
                    </td>
                    <td data-testid={`sold-status-${s.applicationId}`}>
                      {s.loanStatus
                        ? translateDynamic(locale, `financing.loanStatus.${s.loanStatus}`, s.loanStatus)
                        : translateDynamic(locale, `financing.applicationStatus.${s.applicationStatus}`, s.applicationStatus)}
                    </td>
                    <td className="num">
                      <Money fen={s.amountFen} />
                    </td>
                    <td>{s.maturityOn ? formatDate(s.maturityOn, locale) : "—"}</td>
                    <td className="num">
                      <Money fen={s.repaidFen} testId={`sold-repaid-${s.applicationId}`} />
                      {s.fromSettlementFen > 0 ? (
                        <span className="sc-muted small">
                          {" "}
                          {t("financing.receivables.market.fromSettlement")}{" "}
                          {formatFen(s.fromSettlementFen, locale)}
                        </span>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="empty">{t("financing.receivables.noneSold")}</p>
        )}
        <p className="sc-muted">{t("financing.receivables.market.refundNote")}</p>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
