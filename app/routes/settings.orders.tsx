import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { ActionError, useOrderProblem, type OrderFormFailure } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { TextField } from "~/components/supply-ui";
import { formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { fenToYuanText, parseWholeNumber, parseYuanToFen } from "~/domain/catalog";
import { getOrderSettings, updateOrderSettings } from "~/domain/orders";
import { domainFailure, formValues } from "~/web/supply-chain-access.server";
import { may } from "~/domain/identity";
import { notFound, requireMay, requireOrgContext } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orderSettings.title");

async function requireSettingsContext(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  const kind = ctx.organization.kind;
  if (kind !== "dealer" && kind !== "core_enterprise") notFound();
  return { ...ctx, kind, organizationId: ctx.organization.organizationId, canEdit: may(ctx.roles, "order_settings.update", kind) };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { kind, organizationId, canEdit } = await requireSettingsContext(request, context);
  const settings = await getOrderSettings(context.db, organizationId);
  return {
    side: kind,
    canEdit,
    autoReceiptDays: settings.autoReceiptDays,
    approvalThresholdFen: settings.approvalThresholdFen,
    approvalThresholdYuan: settings.approvalThresholdFen === null ? "" : fenToYuanText(settings.approvalThresholdFen),
  };
}

// Yuan as typed ("50,000", "¥1,234.50") → integer fen with string arithmetic; empty → no threshold.
const DealerForm = z.object({
  approval_threshold: z
    .string()
    .trim()
    .max(30, "orders.problem.moneyFormat")
    .transform((v, ctx) => {
      if (v === "") return null;
      const fen = parseYuanToFen(v);
      if (fen === null || fen <= 0) {
        ctx.addIssue({ code: "custom", message: "orders.problem.moneyFormat" });
        return z.NEVER;
      }
      return fen;
    }),
});

const CoreForm = z.object({
  auto_receipt_days: z
    .string({ required_error: "field.required" })
    .trim()
    .min(1, "field.required")
    .transform((v, ctx) => {
      const days = parseWholeNumber(v);
      if (days === null || days < 1 || days > 60) {
        ctx.addIssue({ code: "custom", message: "orders.problem.autoReceiptRange" });
        return z.NEVER;
      }
      return days;
    }),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const settingsContext = await requireSettingsContext(request, context);
  requireMay(settingsContext, "order_settings.update");
  const { kind, organizationId, actor } = settingsContext;
  const values = formValues(form, ["approval_threshold", "auto_receipt_days"]);
  const intent = "save";
  try {
    if (kind === "dealer") {
      const parsed = DealerForm.safeParse({ approval_threshold: values.approval_threshold ?? "" });
      if (!parsed.success) {
        return data<OrderFormFailure>({ intent, fieldErrors: { approval_threshold: parsed.error.issues[0].message }, formError: null, values }, { status: 422 });
      }
      await updateOrderSettings(context.db, actor, organizationId, { approvalThresholdFen: parsed.data.approval_threshold });
    } else {
      const parsed = CoreForm.safeParse(values);
      if (!parsed.success) {
        return data<OrderFormFailure>({ intent, fieldErrors: { auto_receipt_days: parsed.error.issues[0].message }, formError: null, values }, { status: 422 });
      }
      await updateOrderSettings(context.db, actor, organizationId, { autoReceiptDays: parsed.data.auto_receipt_days });
    }
  } catch (error) {
    const { failure, status } = domainFailure(error, intent, values);
    const fieldErrors: Record<string, string> = {};
    for (const [field, problem] of Object.entries(failure.fieldErrors)) {
      fieldErrors[field === "approval_threshold_fen" ? "approval_threshold" : field] = problem;
    }
    return data<OrderFormFailure>({ ...failure, fieldErrors }, { status });
  }
  return redirect("/settings/orders", { headers: { "Set-Cookie": await flashCookie(context, { key: "orderSettings.flash.saved" }) } });
}

export default function OrderSettings() {
  const { side, canEdit, autoReceiptDays, approvalThresholdFen, approvalThresholdYuan } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const errors = result?.fieldErrors ?? {};
  const unplaced = Object.entries(errors)
    .filter(([f]) => f !== "approval_threshold" && f !== "auto_receipt_days")
    .map(([, v]) => problem(v)!);
  if (result?.formError) unplaced.push(problem(result.formError)!);
  return (
    <div className="sc-page od-page">
      <p>
        <Link to="/orders">← {t("orders.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t(side === "dealer" ? "orders.eyebrowDealer" : "orders.eyebrowCore")}</p>
          <h1>{t("orderSettings.title")}</h1>
        </div>
      </div>
      <section className="panel">
        <h2>{side === "dealer" ? t("orderSettings.approvalTitle") : t("orderSettings.receiptTitle")}</h2>
        <p>{side === "dealer" ? t("orderSettings.approvalIntro") : t("orderSettings.receiptIntro")}</p>
        <p className="subtle" data-testid="current-setting">
          {side === "dealer"
            ? approvalThresholdFen === null
              ? t("orderSettings.approvalNone")
              : t("orderSettings.approvalNow", { amount: formatFen(approvalThresholdFen, locale) })
            : t("orderSettings.receiptNow", { days: autoReceiptDays })}
        </p>
        {canEdit ? (
          <Form method="post" noValidate>
            <CsrfInput />
            <ActionError problems={unplaced} />
            {side === "dealer" ? (
              <TextField
                name="approval_threshold"
                className="od-narrow"
                label={t("orderSettings.approvalField")}
                inputMode="decimal"
                maxLength={30}
                defaultValue={result ? result.values.approval_threshold : approvalThresholdYuan}
                error={problem(errors.approval_threshold)}
                hint={t("orderSettings.approvalHint")}
              />
            ) : (
              <TextField
                name="auto_receipt_days"
                className="od-narrow"
                label={t("orderSettings.receiptField")}
                required
                inputMode="numeric"
                maxLength={3}
                defaultValue={result ? result.values.auto_receipt_days : String(autoReceiptDays)}
                error={problem(errors.auto_receipt_days)}
                hint={t("orderSettings.receiptHint")}
              />
            )}
            <button type="submit" className="sc-button" disabled={navigation.state === "submitting"}>
              {t("catalog.form.save")}
            </button>
          </Form>
        ) : (
          <p className="notice">{t("orderSettings.ownerOnly")}</p>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
