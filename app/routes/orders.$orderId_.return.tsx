import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { ActionError, OrderStatusTag, useOrderProblem, type OrderFormFailure } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parseWholeNumber } from "~/domain/catalog";
import { isDomainError } from "~/domain/shared";
import { getOrder, requestReturn } from "~/domain/orders";
import { domainFailure, formValues, requireDealer } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orders.returnTitle");

/** Only the dealer asks for a return: for a core enterprise (or anyone else) this page does not exist. */
async function load(request: Request, context: LoaderFunctionArgs["context"], orderIdParam: string | undefined) {
  // Asking for a return is the only thing this page does: its form and its action need the role.
  const ctx = await requireDealer(request, context, { may: "order.request_return" });
  const orderId = requireUuidParam(orderIdParam);
  const detail = await scoped(() => getOrder(context.db, ctx.organizationId, orderId));
  return { ctx, detail };
}

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { detail } = await load(request, context, params.orderId);
  const { order } = detail;
  return {
    order: { id: order.id, number: order.number, status: order.status, kind: order.kind },
    supplier: detail.coreEnterpriseName,
    open: order.kind !== "return" && ["received", "completed"].includes(order.status),
    lines: detail.lines.map((l) => ({
      id: l.id,
      skuCode: l.sku_code,
      skuName: l.sku_name,
      unit: l.unit,
      unitPriceFen: l.unit_price_fen,
      shipped: l.quantity_shipped,
      returned: l.quantity_returned,
      returnable: l.quantity_shipped - l.quantity_returned,
    })),
  };
}

const ReturnForm = z.object({
  reason: z.string({ required_error: "field.required" }).trim().min(1, "field.required").max(500, "field.tooLong"),
});

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { ctx, detail } = await load(request, context, params.orderId);
  const lineFields = detail.lines.map((l) => `return.${l.id}`);
  const values = formValues(form, ["reason", ...lineFields]);
  const fieldErrors: Record<string, string> = {};
  const parsed = ReturnForm.safeParse(values);
  if (!parsed.success) fieldErrors.reason = parsed.error.issues[0]?.message ?? "field.required";
  const picks: { lineId: string; quantity: number }[] = [];
  for (const line of detail.lines) {
    const text = (values[`return.${line.id}`] ?? "").trim();
    if (text === "" || text === "0") continue;
    const n = parseWholeNumber(text);
    if (n === null || n > 1_000_000_000) fieldErrors[`return.${line.id}`] = "orders.problem.wholeNumber";
    else picks.push({ lineId: line.id, quantity: n });
  }
  if (picks.length === 0 && Object.keys(fieldErrors).length === 0) fieldErrors.lines = "orders.problem.returnNothing";
  if (Object.keys(fieldErrors).length || !parsed.success) {
    return data<OrderFormFailure>({ intent: "return", fieldErrors, formError: null, values }, { status: 422 });
  }
  try {
    const rma = await requestReturn(context.db, ctx.actor, { originalOrderId: detail.order.id, lines: picks, reason: parsed.data.reason }, new Date());
    return redirect(`/orders/${rma.id}`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "orders.flash.returnRequested", params: { number: rma.number } }) },
    });
  } catch (error) {
    if (isDomainError(error) && error.code === "validation") {
      // The model counts the lines it was given (zero lines left out): back to each line's input.
      const mapped: Record<string, string> = {};
      for (const [key, value] of Object.entries(error.fields)) {
        const match = /^lines\.(\d+)\.\w+$/.exec(key);
        const lineId = match ? picks[Number(match[1])]?.lineId : undefined;
        mapped[lineId ? `return.${lineId}` : key] = value;
      }
      return data<OrderFormFailure>({ intent: "return", fieldErrors: mapped, formError: null, values }, { status: 422 });
    }
    const { failure, status } = domainFailure(error, "return", values);
    return data<OrderFormFailure>(failure, { status });
  }
}

export default function RequestReturn() {
  const { order, supplier, open, lines } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const errors = result?.fieldErrors ?? {};
  const values = result?.values ?? {};
  const unplaced = Object.entries(errors)
    .filter(([field]) => field !== "reason" && !field.startsWith("return."))
    .map(([, text]) => problem(text)!);
  if (result?.formError && unplaced.length === 0 && Object.keys(errors).length === 0) unplaced.push(problem(result.formError)!);
  const reasonError = problem(errors.reason);
  return (
    <div className="sc-page od-page">
      <p>
        <Link to={`/orders/${order.id}`}>← {t("orders.backToOrder", { number: order.number })}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{supplier}</p>
          <h1>{t("orders.returnTitle")}</h1>
          <p className="subtle">{t("orders.returnIntro", { number: order.number })}</p>
        </div>
        <OrderStatusTag status={order.status} />
      </div>
      {!open ? (
        <p className="notice">{t("orders.returnNotOpen")}</p>
      ) : (
        <section className="panel">
          <Form method="post" noValidate data-testid="return-form">
            <CsrfInput />
            <ActionError problems={unplaced} />
            <div className="table-wrap">
              <table className="data od-form-table">
                <thead>
                  <tr>
                    <th scope="col">{t("orders.line.sku")}</th>
                    <th scope="col" className="num">
                      {t("orders.line.shipped")}
                    </th>
                    <th scope="col" className="num">
                      {t("orders.line.returned")}
                    </th>
                    <th scope="col" className="num">
                      {t("orders.line.unitPrice")}
                    </th>
                    <th scope="col">{t("orders.return.quantity")}</th>
                  </tr>
                </thead>
                <tbody>
                  {lines.map((l) => {
                    const error = problem(errors[`return.${l.id}`]);
                    return (
                      <tr key={l.id}>
                        <td>
                          <span className="mono">{l.skuCode}</span>
                          <div className="sc-muted">{l.skuName}</div>
                        </td>
                        <td className="num">
                          {l.shipped} {l.unit}
                        </td>
                        <td className="num">{l.returned}</td>
                        <td className="num">{formatFen(l.unitPriceFen, locale)}</td>
                        <td>
                          <label className="visually-hidden" htmlFor={`return.${l.id}`}>
                            {t("orders.return.quantityFor", { code: l.skuCode })}
                          </label>
                          <input
                            id={`return.${l.id}`}
                            name={`return.${l.id}`}
                            type="text"
                            inputMode="numeric"
                            disabled={l.returnable <= 0}
                            defaultValue={values[`return.${l.id}`] ?? "0"}
                            aria-invalid={error ? true : undefined}
                            aria-describedby={error ? `return.${l.id}-error` : undefined}
                          />{" "}
                          <span className="sc-muted">{t("orders.return.upTo", { count: l.returnable })}</span>
                          {error ? (
                            <p className="field-error sc-error" id={`return.${l.id}-error`}>
                              {error}
                            </p>
                          ) : null}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <div className="sc-field od-after-table">
              <label htmlFor="reason">
                {t("orders.return.reason")}
                <span className="req" aria-hidden="true">
                  *
                </span>
              </label>
              <textarea
                id="reason"
                name="reason"
                rows={3}
                maxLength={500}
                required
                defaultValue={values.reason}
                aria-invalid={reasonError ? true : undefined}
                aria-describedby={reasonError ? "reason-error" : undefined}
              />
              {reasonError ? (
                <p className="field-error" id="reason-error">
                  {reasonError}
                </p>
              ) : null}
            </div>
            <button type="submit" className="sc-button" disabled={navigation.state === "submitting"}>
              {t("orders.return.submit")}
            </button>
          </Form>
        </section>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
