import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { NeedsRole } from "~/components/needs-role";
import { ActionError, PaymentChoice, paymentChoiceField, useOrderProblem, type OrderFormFailure } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { RuleTag, SelectField, TextField } from "~/components/supply-ui";
import { formatFen, translate, type MessageKey } from "~/i18n";
import { resolveLocale } from "~/i18n/locale.server";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { getSku, getSkusByCodes, parseWholeNumber } from "~/domain/catalog";
import { getSupplierForDealer, listSuppliersForDealer } from "~/domain/dealers";
import { isDomainError, UUID_PATTERN } from "~/domain/shared";
import { mayMap } from "~/domain/identity";
import { cancelOrder, addToCart, submitOrder, updateCart, getOrder, listOrders } from "~/domain/orders";
import { domainFailure, formValues, requireDealer } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, getSession, requireCsrf, safeRedirectPath } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orders.cartTitle");

/** A dealer has a handful of suppliers, so a handful of carts (one draft per supplier). */
const MAX_CARTS = 100;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, roles } = await requireDealer(request, context);
  const { db } = context;
  const drafts = await listOrders(db, organizationId, { status: "draft", kind: "standard", limit: MAX_CARTS });
  const carts = [];
  for (const item of drafts.items) {
    const detail = await getOrder(db, organizationId, item.id);
    carts.push({
      id: detail.order.id,
      number: detail.order.number,
      supplierId: detail.order.core_enterprise_id,
      supplierName: detail.coreEnterpriseName,
      totalFen: detail.order.total_fen,
      lines: detail.lines.map((l) => ({
        skuId: l.sku_id,
        skuCode: l.sku_code,
        skuName: l.sku_name,
        spec: l.spec,
        unit: l.unit,
        quantity: l.quantity_ordered,
        unitPriceFen: l.unit_price_fen,
        amountFen: l.amount_fen,
        rule: l.price_rule,
      })),
    });
  }
  const links = await listSuppliersForDealer(db, organizationId);
  // The credit line with each supplier, shown next to the choice to put a cart on account.
  const credit = Object.fromEntries(links.map((s) => [s.coreEnterpriseId, { availableFen: s.credit.availableFen, limitFen: s.credit.limitFen }]));
  const suppliers = links.filter((s) => s.status === "active").map((s) => ({ id: s.coreEnterpriseId, name: s.coreName, nameEn: s.coreNameEn }));
  return {
    carts: carts.map((cart) => ({ ...cart, credit: credit[cart.supplierId] ?? null })),
    suppliers,
    // Which forms to show: a member who may not edit or submit the cart sees it read-only.
    may: mayMap(roles, "dealer", ["order.edit_cart", "order.submit", "order.create"]),
  };
}

// ---------------------------------------------------------------------------------------------

const quantityText = z
  .string({ required_error: "field.required", invalid_type_error: "field.required" })
  .trim()
  .min(1, "field.required")
  .refine((v) => {
    const n = parseWholeNumber(v);
    return n !== null && n >= 1 && n <= 1_000_000_000;
  }, "orders.problem.wholeNumber");

/**
 * Add to the cart, from this page (by SKU code) or from any other page (the shop's button sends
 * the SKU id), then back to where the dealer was.
 */
const AddForm = z
  .object({
    core_enterprise_id: z.string({ required_error: "orders.problem.chooseSupplier" }).regex(UUID_PATTERN, "orders.problem.chooseSupplier"),
    sku_id: z.string().regex(UUID_PATTERN, "orders.problem.unknownSkuPlain").optional().or(z.literal("")),
    sku_code: z.string().trim().max(64, "field.tooLong").optional(),
    quantity: quantityText,
    redirectTo: z.string().max(2000).optional(),
  })
  .refine((v) => Boolean(v.sku_id) || Boolean(v.sku_code), { message: "field.required", path: ["sku_code"] });

const OrderIdForm = z.object({ order_id: z.string().regex(UUID_PATTERN, "orders.problem.notFound") });

/** How a submitted cart is paid: after the supplier confirms (the default), or held on the credit line now. */
const PaymentChoiceForm = z.object({
  payment_method: paymentChoiceField,
});

const FIELDS = ["intent", "core_enterprise_id", "sku_id", "sku_code", "quantity", "order_id", "redirectTo", "payment_method"];

function zodErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) fields[String(issue.path[0] ?? "form")] ??= issue.message;
  return fields;
}

async function flashRedirect(context: ActionFunctionArgs["context"], to: string, key: MessageKey, params: Record<string, string | number>) {
  return redirect(to, { headers: { "Set-Cookie": await flashCookie(context, { key, params }) } });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const rawIntent = String(form.get("intent") ?? "");
  const { organizationId, actor } = await requireDealer(request, context, { may: rawIntent === "submit" ? "order.submit" : "order.edit_cart" });
  const { db } = context;
  // Per-line quantities of the cart being edited: `quantity.<skuId>`.
  const lineFields = [...form.keys()].filter((k) => /^quantity\.[0-9a-f-]{36}$/i.test(k)).slice(0, 200);
  const values = formValues(form, [...FIELDS, ...lineFields]);
  const removeMatch = /^remove:([0-9a-f-]{36})$/i.exec(rawIntent);
  const intent = removeMatch ? "remove" : rawIntent;
  const fail = (fieldErrors: Record<string, string>, formError: string | null = null, status = 422) =>
    data<OrderFormFailure>({ intent, fieldErrors, formError, values }, { status });

  try {
    if (intent === "add") {
      const parsed = AddForm.safeParse(values);
      if (!parsed.success) return fail(zodErrors(parsed.error));
      const { core_enterprise_id: coreEnterpriseId, quantity } = parsed.data;
      // Only a supplier of this dealer: any other id reads the same as one that does not exist.
      const supplier = await getSupplierForDealer(db, organizationId, coreEnterpriseId).catch((error: unknown) => {
        if (isDomainError(error) && error.code === "not_found") return null;
        throw error;
      });
      if (!supplier) return fail({ core_enterprise_id: "no active dealer relationship" });
      let skuId = parsed.data.sku_id || null;
      let code = parsed.data.sku_code ?? "";
      if (skuId) {
        // From the shop's row: the code goes back into this page's add form if anything is wrong.
        const found = await getSku(db, coreEnterpriseId, skuId).catch((error: unknown) => {
          if (isDomainError(error) && error.code === "not_found") return null;
          throw error;
        });
        if (!found) return fail({ sku_code: "orders.problem.unknownSkuPlain" });
        code = found.code;
        values.sku_code = code;
      } else {
        const found = [...(await getSkusByCodes(db, coreEnterpriseId, [code])).values()][0];
        if (!found) return fail({ sku_code: `unknown SKU ${code}` });
        skuId = found.id;
        code = found.code;
      }
      const n = parseWholeNumber(quantity)!;
      let cart;
      try {
        cart = await addToCart(db, actor, { dealerId: organizationId, coreEnterpriseId, skuId, quantity: n }, new Date());
      } catch (error) {
        if (!isDomainError(error)) throw error;
        // The added SKU is the cart's last line; a problem there belongs to the add form's fields.
        if (error.code === "not_found" && error.fields.core_enterprise_id) return fail({ core_enterprise_id: error.fields.core_enterprise_id });
        if (error.code === "validation" || error.code === "conflict") {
          const mapped: Record<string, string> = {};
          for (const [key, value] of Object.entries(error.fields)) {
            const match = /^lines\.\d+\.(sku|quantity)$/.exec(key);
            mapped[match ? (match[1] === "sku" ? "sku_code" : "quantity") : key] = value;
          }
          return fail(mapped, null, error.status);
        }
        throw error;
      }
      const target = safeRedirectPath(parsed.data.redirectTo, "/cart");
      const line = (await getOrder(db, organizationId, cart.id)).lines.find((l) => l.sku_id === skuId);
      return flashRedirect(context, target, "orders.flash.addedToCart", { code: line?.sku_code ?? code, quantity: n });
    }

    if (intent === "update" || intent === "remove" || intent === "submit" || intent === "discard") {
      const parsed = OrderIdForm.safeParse(values);
      if (!parsed.success) return fail(zodErrors(parsed.error));
      const orderId = requireUuidParam(parsed.data.order_id);
      const detail = await scoped(() => getOrder(db, organizationId, orderId));
      const lines = detail.lines;

      if (intent === "submit") {
        const choice = PaymentChoiceForm.safeParse(values);
        if (!choice.success) return fail(zodErrors(choice.error));
        const onAccount = choice.data.payment_method === "on_account";
        // Refused (over the credit available): the cart stays as it was, the choice as made.
        const submitted = await submitOrder(db, actor, orderId, new Date(), { paymentMethod: onAccount ? "on_account" : null });
        const pending = submitted.status === "pending_approval";
        const key: MessageKey = onAccount
          ? pending
            ? "orders.flash.sentForApprovalOnAccount"
            : "orders.flash.submittedOnAccount"
          : pending
            ? "orders.flash.sentForApproval"
            : "orders.flash.submitted";
        return flashRedirect(context, `/orders/${orderId}`, key, { number: submitted.number });
      }
      if (intent === "discard") {
        const session = await getSession(request, context);
        const locale = await resolveLocale(request, session?.user.locale);
        await cancelOrder(db, actor, orderId, translate(locale, "orders.cartDiscardedReason"), new Date());
        return flashRedirect(context, "/cart", "orders.flash.cartDiscarded", { supplier: detail.coreEnterpriseName });
      }

      let wanted: { skuId: string; quantity: number }[];
      if (intent === "remove") {
        const skuId = removeMatch![1].toLowerCase();
        wanted = lines.filter((l) => l.sku_id !== skuId).map((l) => ({ skuId: l.sku_id, quantity: l.quantity_ordered }));
      } else {
        const fieldErrors: Record<string, string> = {};
        wanted = [];
        for (const line of lines) {
          const text = (values[`quantity.${line.sku_id}`] ?? String(line.quantity_ordered)).trim();
          const n = parseWholeNumber(text);
          if (n === null || n > 1_000_000_000) fieldErrors[`quantity.${line.sku_id}`] = "orders.problem.wholeNumber";
          else if (n > 0) wanted.push({ skuId: line.sku_id, quantity: n });
        }
        if (Object.keys(fieldErrors).length) return fail(fieldErrors);
      }
      try {
        await updateCart(db, actor, { dealerId: organizationId, orderId, lines: wanted }, new Date());
      } catch (error) {
        if (!isDomainError(error) || !["validation", "conflict"].includes(error.code)) throw error;
        // Back to each line's input: the model counts the lines it was given.
        const mapped: Record<string, string> = {};
        for (const [key, value] of Object.entries(error.fields)) {
          const match = /^lines\.(\d+)\.\w+$/.exec(key);
          const skuId = match ? wanted[Number(match[1])]?.skuId : undefined;
          mapped[skuId ? `quantity.${skuId}` : key] = value;
        }
        return fail(mapped, Object.keys(mapped).length ? null : error.message, error.status);
      }
      return flashRedirect(context, "/cart", intent === "remove" ? "orders.flash.cartLineRemoved" : "orders.flash.cartUpdated", {
        supplier: detail.coreEnterpriseName,
      });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<OrderFormFailure>(failure, { status });
  }
}

// ---------------------------------------------------------------------------------------------

type Cart = ReturnType<typeof useLoaderData<typeof loader>>["carts"][number];

function CartPanel(props: { cart: Cart; result: OrderFormFailure | undefined; busy: boolean; canEdit: boolean; canSubmit: boolean }) {
  const { cart, result, busy, canEdit, canSubmit } = props;
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const mine = result && result.values.order_id === cart.id && ["update", "remove", "submit", "discard"].includes(result.intent) ? result : undefined;
  const errors = mine?.fieldErrors ?? {};
  const unplaced = Object.entries(errors)
    .filter(([field]) => !field.startsWith("quantity.") && field !== "payment_method")
    .map(([, text]) => problem(text)!);
  if (mine?.formError && unplaced.length === 0 && Object.keys(errors).length === 0) unplaced.push(problem(mine.formError)!);
  const updateFormId = `cart-${cart.id}`;
  return (
    <section className="panel" aria-labelledby={`cart-${cart.id}-heading`} data-testid="cart">
      <div className="sc-supplier">
        <div>
          <h2 id={`cart-${cart.id}-heading`} className="od-cart-title">
            {cart.supplierName}
          </h2>
          <p className="sc-muted">
            {t("orders.cartNumber")} <span className="mono">{cart.number}</span>
          </p>
        </div>
        <p className="od-cart-total">
          {t("orders.total")} <strong className="num">{formatFen(cart.totalFen, locale)}</strong>
        </p>
      </div>
      <ActionError problems={unplaced} />
      {cart.lines.length === 0 ? (
        <p className="empty">{t("orders.cartEmptyLines")}</p>
      ) : (
        <>
          {canEdit ? (
            <Form method="post" id={updateFormId} noValidate>
              <CsrfInput />
              <input type="hidden" name="order_id" value={cart.id} />
            </Form>
          ) : null}
          {(canEdit ? cart.lines : []).map((l) => (
            <Form method="post" key={l.skuId} id={`remove-${cart.id}-${l.skuId}`} className="od-hidden-form">
              <CsrfInput />
              <input type="hidden" name="order_id" value={cart.id} />
            </Form>
          ))}
          <div className="table-wrap">
            <table className="data od-form-table">
              <thead>
                <tr>
                  <th scope="col">{t("orders.line.sku")}</th>
                  <th scope="col" className="num">
                    {t("orders.line.unitPrice")}
                  </th>
                  <th scope="col">{t("orders.line.rule")}</th>
                  <th scope="col">{t("orders.line.quantity")}</th>
                  <th scope="col" className="num">
                    {t("orders.line.amount")}
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">{t("orders.cartRemove")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {cart.lines.map((l) => {
                  const field = `quantity.${l.skuId}`;
                  const error = problem(errors[field]);
                  return (
                    <tr key={l.skuId}>
                      <td>
                        <span className="mono">{l.skuCode}</span>
                        <div>{l.skuName}</div>
                        {l.spec ? <div className="sc-muted">{l.spec}</div> : null}
                      </td>
                      <td className="num">{formatFen(l.unitPriceFen, locale)}</td>
                      <td>
                        <RuleTag rule={l.rule} />
                      </td>
                      {canEdit ? (
                        <td>
                          <label className="visually-hidden" htmlFor={`${cart.id}-${field}`}>
                            {t("orders.confirm.quantityFor", { code: l.skuCode })}
                          </label>
                          <input
                            // A quantity changed by the server (an add to the same SKU) shows, not the old one.
                            key={`${field}-${l.quantity}`}
                            id={`${cart.id}-${field}`}
                            name={field}
                            form={updateFormId}
                            type="text"
                            inputMode="numeric"
                            defaultValue={mine?.values[field] ?? String(l.quantity)}
                            aria-invalid={error ? true : undefined}
                            aria-describedby={error ? `${cart.id}-${field}-error` : undefined}
                          />{" "}
                          <span className="sc-muted">{l.unit}</span>
                          {error ? (
                            <p className="field-error sc-error" id={`${cart.id}-${field}-error`}>
                              {error}
                            </p>
                          ) : null}
                        </td>
                      ) : (
                        <td>
                          <span className="num">{l.quantity}</span> <span className="sc-muted">{l.unit}</span>
                        </td>
                      )}
                      <td className="num">{formatFen(l.amountFen, locale)}</td>
                      <td className="actions">
                        {canEdit ? (
                          <button
                            type="submit"
                            form={`remove-${cart.id}-${l.skuId}`}
                            name="intent"
                            value={`remove:${l.skuId}`}
                            className="sc-button danger small"
                            disabled={busy}
                          >
                            {t("orders.cartRemove")}
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {canEdit ? <p className="sc-muted small">{t("orders.cartHint")}</p> : null}
          {canSubmit ? (
            <Form method="post" id={`submit-${cart.id}`} noValidate data-testid="submit-form">
              <CsrfInput />
              <input type="hidden" name="order_id" value={cart.id} />
              <PayChoice
                idPrefix={cart.id}
                chosen={mine?.intent === "submit" ? mine.values.payment_method : undefined}
                error={mine?.intent === "submit" ? errors.payment_method : undefined}
                totalFen={cart.totalFen}
                credit={cart.credit}
              />
            </Form>
          ) : null}
        </>
      )}
      <div className="sc-actions">
        {cart.lines.length && canEdit ? (
          <button type="submit" form={updateFormId} name="intent" value="update" className="sc-button secondary" disabled={busy}>
            {t("orders.cartUpdate")}
          </button>
        ) : null}
        {cart.lines.length && canSubmit ? (
          <button type="submit" form={`submit-${cart.id}`} name="intent" value="submit" className="sc-button" disabled={busy} data-intent="submit-cart">
            {t("orders.cartSubmit")}
          </button>
        ) : null}
        {canEdit ? (
          <Form method="post" className="od-inline">
            <CsrfInput />
            <input type="hidden" name="order_id" value={cart.id} />
            <button type="submit" name="intent" value="discard" className="sc-button danger" disabled={busy}>
              {t("orders.cartDiscard")}
            </button>
          </Form>
        ) : null}
      </div>
    </section>
  );
}

/**
 * Pay after the supplier confirms (default), or put the cart on account now: its total held on the
 * credit line with this supplier, shown here with what is available.
 */
function PayChoice(props: {
  idPrefix: string;
  chosen: string | undefined;
  error: string | undefined;
  totalFen: number;
  credit: { availableFen: number; limitFen: number } | null;
}) {
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const available = props.credit?.availableFen ?? 0;
  const error =
    props.error === "exceeds the available credit"
      ? t("orders.payChoice.refused", { total: formatFen(props.totalFen, locale), available: formatFen(available, locale) })
      : problem(props.error);
  return (
    <PaymentChoice
      idPrefix={props.idPrefix}
      chosen={props.chosen}
      error={error}
      onAccountHint={t("orders.payChoice.onAccountHint")}
      credit={
        <>
          {t("orders.payChoice.credit", { available: formatFen(available, locale), limit: formatFen(props.credit?.limitFen ?? 0, locale) })}
          {available < props.totalFen && !error ? <> · {t("orders.payChoice.creditShort")}</> : null}
        </>
      }
    />
  );
}

export default function CartPage() {
  const { carts, suppliers, may } = useLoaderData<typeof loader>();
  const canEdit = may["order.edit_cart"];
  const canSubmit = may["order.submit"];
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const location = useLocation();
  const add = result?.intent === "add" ? result : undefined;
  const addErrors = add?.fieldErrors ?? {};
  const addUnplaced = Object.entries(addErrors)
    .filter(([field]) => !["core_enterprise_id", "sku_code", "quantity", "sku_id"].includes(field))
    .map(([, text]) => problem(text)!);
  if (add?.formError && Object.keys(addErrors).length === 0) addUnplaced.push(problem(add.formError)!);
  return (
    <div className="sc-page od-page">
      <p>
        <Link to="/orders">← {t("orders.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("orders.eyebrowDealer")}</p>
          <h1>{t("orders.cartTitle")}</h1>
          <p className="subtle">{t(canEdit ? "orders.cartIntro" : "orders.cartIntroReadOnly")}</p>
        </div>
        <div className="sc-actions">
          <Link to="/shop" className="sc-button secondary">
            {t("orders.toShop")}
          </Link>
          {may["order.create"] ? (
            <Link to="/orders/quick" className="sc-button secondary">
              {t("orders.quickOrder")}
            </Link>
          ) : null}
        </div>
      </div>

      <section className="panel" aria-labelledby="add-heading">
        <h2 id="add-heading">{t("orders.addTitle")}</h2>
        {!canEdit ? (
          <NeedsRole action="order.edit_cart" kind="dealer" />
        ) : suppliers.length === 0 ? (
          <p className="empty">{t("orders.noSuppliers")}</p>
        ) : (
          // A fresh form after each successful add (a redirect is a new location); kept as typed on a refusal.
          <Form method="post" noValidate data-testid="add-form" key={location.key}>
            <CsrfInput />
            <input type="hidden" name="intent" value="add" />
            <ActionError problems={addUnplaced} />
            <div className="sc-grid">
              <SelectField
                name="core_enterprise_id"
                label={t("orders.supplier")}
                required
                options={suppliers.map((s) => ({ value: s.id, label: locale === "en" && s.nameEn ? s.nameEn : s.name }))}
                defaultValue={add?.values.core_enterprise_id ?? suppliers[0]?.id}
                error={problem(addErrors.core_enterprise_id)}
              />
              <TextField
                name="sku_code"
                label={t("orders.skuCode")}
                required
                maxLength={64}
                placeholder="HT-KFR-35GW-A1"
                defaultValue={add?.values.sku_code}
                error={problem(addErrors.sku_code ?? addErrors.sku_id)}
                hint={t("orders.skuCodeHint")}
              />
              <TextField
                name="quantity"
                label={t("orders.line.quantity")}
                required
                inputMode="numeric"
                defaultValue={add?.values.quantity ?? "1"}
                error={problem(addErrors.quantity)}
              />
            </div>
            <button type="submit" className="sc-button" disabled={busy} data-intent="add">
              {t("orders.addSubmit")}
            </button>
          </Form>
        )}
      </section>

      {carts.length === 0 ? (
        <section className="panel">
          <p className="empty">{t("orders.cartEmpty")}</p>
        </section>
      ) : (
        carts.map((cart) => <CartPanel key={cart.id} cart={cart} result={result} busy={busy} canEdit={canEdit} canSubmit={canSubmit} />)
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
