import { randomUUID } from "node:crypto";
import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { listingProblemText, ListingTitle, merchantLabel } from "~/components/market-listings-ui";
import { NeedsRole } from "~/components/needs-role";
import { RouteError } from "~/components/route-error";
import { FormError } from "~/components/supply-ui";
import { formatFen, formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { cartLineSchema, listCarts, removeCartItem, updateCartItem } from "~/domain/market";
import { requireBuyer } from "~/web/market-party-access.server";
import { mayMap } from "~/domain/identity";
import { domainFailure, formValues, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import listingStyles from "~/styles/market-listings.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: listingStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "cart.title");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, roles } = await requireBuyer(request, context);
  const carts = await listCarts(context.db, organizationId);
  return {
    may: mayMap(roles, "buyer", ["market_cart.edit", "market_checkout.create"]),
    carts: carts.map((c) => ({
      ...c,
      // One key per rendering of the checkout button: a double submit of this form places the
      // orders once (placeCheckout returns the first result for a key it has seen).
      checkoutKey: randomUUID(),
    })),
  };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId } = await requireBuyer(request, context, { may: "market_cart.edit" });
  const intent = String(form.get("intent") ?? "").slice(0, 20);
  const values = formValues(form, ["listingId", "quantity"]);
  const listingId = requireUuidParam(values.listingId);
  const db = context.db;
  const done = async (key: "cart.flash.updated" | "cart.flash.removed", flashParams: Record<string, string | number> = {}) =>
    redirect("/market/cart", { headers: { "Set-Cookie": await flashCookie(context, { key, params: flashParams }) } });
  try {
    if (intent === "update") {
      const parsed = cartLineSchema.safeParse({ listingId, quantity: values.quantity ?? "" });
      if (!parsed.success) {
        return data<FormFailure>({ intent: `line:${listingId}`, fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
      }
      const line = await updateCartItem(db, organizationId, parsed.data);
      return await done("cart.flash.updated", { title: line.title, quantity: line.quantity });
    }
    if (intent === "remove") {
      await removeCartItem(db, organizationId, listingId);
      return await done("cart.flash.removed");
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    // A line that is not in this buyer's cart is a 404, like another tenant's id.
    const { failure, status } = domainFailure(error, `line:${listingId}`, values);
    return data<FormFailure>(failure, { status });
  }
}

export default function Cart() {
  const { may, carts } = useLoaderData<typeof loader>();
  const canBuy = may["market_cart.edit"];
  const canCheckout = may["market_checkout.create"];
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const problemOf = (line: { problem: string | null; stockQty: number; minOrderQty: number; unit: string }) => {
    switch (line.problem) {
      case "not_orderable":
        return t("cart.problem.not_orderable");
      case "short_of_stock":
        return t("cart.problem.short_of_stock", { qty: formatInteger(line.stockQty, locale), unit: line.unit });
      case "below_min_order":
        return t("cart.problem.below_min_order", { qty: formatInteger(line.minOrderQty, locale), unit: line.unit });
      case "amount_too_large":
        return t("cart.problem.amount_too_large");
      default:
        return null;
    }
  };
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("shop.market.eyebrow")}</p>
          <h1>{t("cart.title")}</h1>
          <p className="subtle">{t("cart.hint")}</p>
        </div>
      </div>
      {!canBuy ? <NeedsRole action="market_cart.edit" kind="buyer" /> : null}
      {carts.length === 0 ? (
        <section className="panel">
          <p className="empty">{t("cart.empty")}</p>
          <p>
            <Link to="/market" className="sc-button">
              {t("cart.goShopping")}
            </Link>
          </p>
        </section>
      ) : null}
      {carts.map((cart) => (
        <section className="panel cart-market" key={cart.marketId} data-testid="cart-market">
          <h2>
            <Link to={`/market/${cart.marketId}`}>{t("cart.market", { name: cart.marketName })}</Link>
          </h2>
          {!cart.marketOpen ? <p className="notice">{t("cart.marketClosed")}</p> : null}
          {cart.problemCount ? <p className="notice">{t("cart.problems", { count: cart.problemCount })}</p> : null}
          {cart.groups.map((group) => (
            <div className="cart-group" key={group.merchantId}>
              <div className="cart-group-head">
                <span>
                  {merchantLabel(locale, group.merchantName, group.merchantNameEn)}
                  {group.stallCode ? <span className="sc-muted"> · {t("shop.market.stall", { code: group.stallCode })}</span> : null}
                </span>
              </div>
              <div className="table-wrap">
                <table className="data cart-table" data-testid="cart-lines">
                  <colgroup>
                    <col className="cart-col-item" />
                    <col className="cart-col-price" />
                    <col className="cart-col-qty" />
                    <col className="cart-col-amount" />
                  </colgroup>
                  <thead>
                    <tr>
                      <th scope="col">{t("cart.col.item")}</th>
                      <th scope="col" className="num">
                        {t("cart.col.unitPrice")}
                      </th>
                      <th scope="col">{t("cart.col.quantity")}</th>
                      <th scope="col" className="num">
                        {t("cart.col.amount")}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {group.lines.map((line) => {
                      const lineFailure = failure?.intent === `line:${line.listingId}` ? failure : null;
                      const lineProblem = problemOf(line);
                      return (
                        <tr key={line.listingId} className={line.problem ? "cart-line-problem" : undefined}>
                          <td>
                            <ListingTitle title={line.title} titleEn={line.titleEn} spec={line.spec} />
                            <div className="sc-muted">{t("cart.minOrder", { qty: formatInteger(line.minOrderQty, locale), unit: line.unit })}</div>
                            {lineProblem ? <span className="cart-problem">{lineProblem}</span> : null}
                          </td>
                          <td className="num">
                            {formatFen(line.unitPriceFen, locale)}
                            <span className="sc-muted">{t("listing.perUnit", { unit: line.unit })}</span>
                          </td>
                          <td>
                            {canBuy ? (
                              <Form method="post" className="cart-qty" noValidate>
                                <CsrfInput />
                                <input type="hidden" name="listingId" value={line.listingId} />
                                <input
                                  type="number"
                                  name="quantity"
                                  defaultValue={lineFailure?.values.quantity ?? line.quantity}
                                  min={1}
                                  step={1}
                                  aria-label={t("shop.market.quantityFor", { title: line.title })}
                                  aria-invalid={lineFailure ? true : undefined}
                                />
                                <span>{line.unit}</span>
                                <button type="submit" name="intent" value="update" className="sc-button secondary small">
                                  {t("cart.update")}
                                </button>
                                <button type="submit" name="intent" value="remove" className="sc-button danger small">
                                  {t("cart.remove")}
                                </button>
                              </Form>
                            ) : (
                              <span>
                                {formatInteger(line.quantity, locale)} {line.unit}
                              </span>
                            )}
                            {lineFailure ? (
                              <p className="sc-error" role="alert">
                                {lineFailure.formError ?? Object.values(lineFailure.fieldErrors).map((c) => listingProblemText(locale, c)).join(", ")}
                              </p>
                            ) : null}
                          </td>
                          <td className="num">{line.problem ? <s className="sc-muted">{formatFen(line.amountFen, locale)}</s> : formatFen(line.amountFen, locale)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                  <tfoot>
                    <tr>
                      <td colSpan={3} className="num">
                        {t("cart.subtotal")}
                      </td>
                      <td className="num">{formatFen(group.subtotalFen, locale)}</td>
                    </tr>
                  </tfoot>
                </table>
              </div>
            </div>
          ))}
          <div className="cart-checkout">
            <span className="sc-muted">{t("cart.checkoutHint")}</span>
            <span>
              {t("cart.total")}
              <span className="cart-total" data-testid="cart-total">{formatFen(cart.totalFen, locale)}</span>
            </span>
            {canCheckout ? (
              <Form method="post" action="/market/cart/checkout">
                <CsrfInput />
                <input type="hidden" name="marketId" value={cart.marketId} />
                <input type="hidden" name="idempotencyKey" value={cart.checkoutKey} />
                <button type="submit" className="sc-button" disabled={!cart.marketOpen || cart.totalFen === 0}>
                  {t("cart.checkout")}
                </button>
              </Form>
            ) : null}
          </div>
          {cart.totalFen === 0 ? <FormError message={t("cart.nothingOrderable")} /> : null}
        </section>
      ))}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
