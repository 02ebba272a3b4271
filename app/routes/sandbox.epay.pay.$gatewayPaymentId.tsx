import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, type Locale } from "~/i18n";
import { localeFromMatches } from "~/i18n/meta";
import { useLocale } from "~/i18n/react";
import { sandboxCompletePayment, sandboxConfigFrom, SandboxHttpError, sandboxPayPage } from "~/sandbox/epay/sandbox.server";

/**
 * The sandbox gateway's pay page (`/sandbox/epay/pay/:id`): the page a real gateway shows, reduced
 * to what a test needs — who is paid, how much, for what — and two outcomes. A plain form: it works
 * without JavaScript. Its texts are the gateway's own, not Rongtong's (it stands for another
 * company), in Chinese and English after the visitor's language.
 */

const TEXT = {
  "zh-CN": {
    title: "e-Pay 收银台",
    sandbox: "沙箱环境：模拟支付，不会真实扣款",
    merchant: "收款方",
    amount: "支付金额",
    description: "商品说明",
    reference: "商户订单号",
    transaction: "交易号",
    createdAt: "创建时间",
    succeeded: "支付成功",
    failed: "支付失败",
    back: "返回商户",
    formExpired: "付款表单已失效，请刷新页面后重试。",
    outcomeMissing: "请选择“确认支付”或“模拟失败”。",
    unexpected: "支付网关暂时无法处理，请稍后重试。",
    hint: "选择结果后，网关会通知商户并带您返回商户页面。",
  },
  en: {
    title: "e-Pay checkout",
    sandbox: "Sandbox: a simulated payment, no real money moves",
    merchant: "Merchant",
    amount: "Amount",
    description: "Description",
    reference: "Merchant reference",
    transaction: "Transaction",
    createdAt: "Created",
    succeeded: "Payment succeeded",
    failed: "Payment failed",
    back: "Return to merchant",
    formExpired: "This payment form is no longer valid; reload the page and try again.",
    outcomeMissing: "Choose Pay or Fail.",
    unexpected: "The gateway cannot handle this right now; try again shortly.",
    hint: "Once you choose, the gateway notifies the merchant and takes you back to it.",
  },
} as const satisfies Record<Locale, Record<string, string>>;

export const meta: MetaFunction = ({ matches }) => [{ title: TEXT[localeFromMatches(matches)].title }];

function notFound(): never {
  throw new Response("Not found", { status: 404, statusText: "Not Found" });
}

export async function loader({ params, context }: LoaderFunctionArgs) {
  if (!context.config.epaySandboxEnabled) notFound();
  const page = await sandboxPayPage(
    { db: context.db, config: sandboxConfigFrom(context.config), logger: context.logger },
    params.gatewayPaymentId ?? "",
  );
  if (!page) notFound();
  return { page };
}

type ActionError = { formError: "formExpired" | "outcomeMissing" | "unexpected" };

export async function action({ request, params, context }: ActionFunctionArgs) {
  if (!context.config.epaySandboxEnabled) notFound();
  const form = await request.formData();
  const outcome = form.get("outcome");
  const formToken = form.get("form_token");
  if (outcome !== "pay" && outcome !== "fail") {
    return data<ActionError>({ formError: "outcomeMissing" }, { status: 400 });
  }
  try {
    const result = await sandboxCompletePayment(
      { db: context.db, config: sandboxConfigFrom(context.config), logger: context.logger.child({ component: "epay-sandbox" }) },
      {
        gatewayPaymentId: params.gatewayPaymentId ?? "",
        outcome: outcome === "pay" ? "succeeded" : "failed",
        formToken: typeof formToken === "string" ? formToken : "",
      },
    );
    return redirect(result.returnUrl);
  } catch (error) {
    if (error instanceof SandboxHttpError) {
      if (error.status === 404) notFound();
      return data<ActionError>({ formError: error.status === 403 ? "formExpired" : "unexpected" }, { status: error.status });
    }
    throw error;
  }
}

const styles = {
  card: { maxWidth: "30rem", margin: "2rem auto", padding: 0, overflow: "hidden" },
  head: { background: "#0f5c4c", color: "#fff", padding: "1rem 1.5rem" },
  brand: { margin: 0, fontSize: "1.25rem", letterSpacing: "0.02em" },
  ribbon: { margin: "0.25rem 0 0", fontSize: "0.8125rem", opacity: 0.9 },
  body: { padding: "1.25rem 1.5rem 1.5rem" },
  amount: { fontSize: "2rem", fontWeight: 600, margin: "0.25rem 0 1rem", fontVariantNumeric: "tabular-nums" },
  facts: { display: "grid", gridTemplateColumns: "max-content 1fr", gap: "0.4rem 1rem", margin: "0 0 1.25rem" },
  dt: { color: "var(--ink-soft)" },
  dd: { margin: 0, overflowWrap: "anywhere" },
  buttons: { display: "flex", gap: "0.75rem", flexWrap: "wrap" },
  // Same height side by side and stacked (on a phone the two wrap onto their own lines).
  pay: { background: "#0f5c4c", borderColor: "#0f5c4c", flex: "1 1 10rem", minHeight: "2.75rem" },
  fail: { flex: "1 1 10rem", minHeight: "2.75rem" },
  hint: { marginTop: "0.75rem" },
  back: { background: "#0f5c4c", borderColor: "#0f5c4c" },
  result: { margin: "0 0 1rem", fontWeight: 600 },
} as const;

export default function SandboxPayPage() {
  const { page } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const navigation = useNavigation();
  const locale = useLocale();
  const t = TEXT[locale];
  const busy = navigation.state !== "idle";
  const done = page.status !== "pending";

  return (
    <section className="panel" style={styles.card} aria-labelledby="epay-title">
      <header style={styles.head}>
        <h1 id="epay-title" style={styles.brand}>
          {t.title}
        </h1>
        <p style={styles.ribbon}>{t.sandbox}</p>
      </header>
      <div style={styles.body}>
        <p className="figure-label">{t.amount}</p>
        <p style={styles.amount} data-testid="amount">
          {formatFen(page.amountFen, locale)}
        </p>
        <dl style={styles.facts}>
          <dt style={styles.dt}>{t.merchant}</dt>
          <dd style={styles.dd} data-testid="merchant">
            {page.merchantDisplayName}
          </dd>
          <dt style={styles.dt}>{t.description}</dt>
          <dd style={styles.dd}>{page.description}</dd>
          <dt style={styles.dt}>{t.reference}</dt>
          <dd style={styles.dd} className="mono small">
            {page.merchantReference}
          </dd>
          <dt style={styles.dt}>{t.transaction}</dt>
          <dd style={styles.dd} className="mono small">
            {page.gatewayPaymentId}
          </dd>
          <dt style={styles.dt}>{t.createdAt}</dt>
          <dd style={styles.dd}>{formatDateTime(page.createdAt, locale)}</dd>
        </dl>

        {actionData?.formError ? (
          <p className="form-error" role="alert">
            {t[actionData.formError]}
          </p>
        ) : null}

        {done ? (
          <>
            <p style={styles.result} className={page.status === "succeeded" ? "status-ok" : "status-bad"} role="status">
              {page.status === "succeeded" ? t.succeeded : t.failed}
            </p>
            <a className="button-primary" style={styles.back} href={page.returnUrl}>
              {t.back}
            </a>
          </>
        ) : (
          <Form method="post">
            <input type="hidden" name="form_token" value={page.formToken} />
            <div style={styles.buttons}>
              <button type="submit" name="outcome" value="pay" className="button-primary" style={styles.pay} disabled={busy}>
                确认支付 Pay
              </button>
              <button type="submit" name="outcome" value="fail" className="button-secondary" style={styles.fail} disabled={busy}>
                模拟失败 Fail
              </button>
            </div>
            <p className="subtle small" style={styles.hint}>
              {t.hint}
            </p>
          </Form>
        )}
      </div>
    </section>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
