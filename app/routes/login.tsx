import {
  data,
  redirect,
  type ActionFunctionArgs,
  type HeadersFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { isMessageKey, translateWithParams, type MessageKey } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { login, listMembershipsForUser } from "~/domain/identity";
import { commitSessionCookie, flashCookie, getSession, requireCsrf, safeRedirectPath } from "~/session.server";

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "login.title");

// A document POST only passes on the headers a route names: keep the throttle's Retry-After.
export const headers: HeadersFunction = ({ actionHeaders }) => {
  const headers = new Headers();
  const retryAfter = actionHeaders.get("Retry-After");
  if (retryAfter) headers.set("Retry-After", retryAfter);
  return headers;
};

// Messages are catalogue keys, translated when rendered, so the same schema serves both languages.
const LoginForm = z.object({
  email: z
    .string({ required_error: "field.required", invalid_type_error: "field.required" })
    .trim()
    .min(1, "field.required")
    .max(254, "field.tooLong")
    .email("field.email.invalid"),
  password: z
    .string({ required_error: "field.required", invalid_type_error: "field.required" })
    .min(1, "field.required")
    .max(200, "field.tooLong"),
  redirectTo: z.string().optional(),
});

type FieldName = "email" | "password";

interface LoginActionData {
  formError: { key: MessageKey; params?: Record<string, number> } | null;
  fieldErrors: Partial<Record<FieldName, MessageKey>>;
  values: { email: string };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const redirectTo = safeRedirectPath(new URL(request.url).searchParams.get("redirectTo"));
  const session = await getSession(request, context);
  // Already signed in (and still a member somewhere): nothing to do here.
  if (session && (await listMembershipsForUser(context.db, session.user.id)).length > 0) {
    throw redirect(redirectTo);
  }
  // The hint about printed demo logins only where the server seeds them.
  return { redirectTo, showDemoHint: context.config.seedDemo };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);

  const raw = Object.fromEntries(form);
  const emailEntered = typeof raw.email === "string" ? raw.email.slice(0, 254) : "";
  const parsed = LoginForm.safeParse(raw);
  if (!parsed.success) {
    const fieldErrors: LoginActionData["fieldErrors"] = {};
    for (const issue of parsed.error.issues) {
      const field = issue.path[0];
      if ((field === "email" || field === "password") && !fieldErrors[field] && isMessageKey(issue.message)) {
        fieldErrors[field] = issue.message;
      }
    }
    return data<LoginActionData>({ formError: null, fieldErrors, values: { email: emailEntered } }, { status: 422 });
  }

  const result = await login(context.db, {
    email: parsed.data.email,
    password: parsed.data.password,
    ip: context.ip,
    userAgent: request.headers.get("User-Agent"),
    requestId: context.requestId,
    now: new Date(),
  });

  if (!result.ok) {
    const values = { email: parsed.data.email };
    switch (result.reason) {
      case "throttled":
        return data<LoginActionData>(
          { formError: { key: "login.throttled", params: { minutes: result.retryAfterMinutes } }, fieldErrors: {}, values },
          { status: 429, headers: { "Retry-After": String(result.retryAfterMinutes * 60) } },
        );
      case "no_organization":
        return data<LoginActionData>({ formError: { key: "login.noOrganization" }, fieldErrors: {}, values }, { status: 403 });
      case "invalid":
        // One message for an unknown email and a wrong password: no hint which one it was.
        return data<LoginActionData>({ formError: { key: "login.invalid" }, fieldErrors: {}, values }, { status: 401 });
    }
  }

  const headers = new Headers();
  headers.append("Set-Cookie", await commitSessionCookie(context, result.token));
  headers.append("Set-Cookie", await flashCookie(context, { key: "flash.welcome", params: { name: result.displayName } }));
  throw redirect(safeRedirectPath(parsed.data.redirectTo), { headers });
}

export default function Login() {
  const { redirectTo, showDemoHint } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const busy = navigation.state === "submitting" && navigation.formAction?.startsWith("/login");
  const fieldErrors = actionData?.fieldErrors ?? {};
  const formError = actionData?.formError;

  return (
    <div className="login-layout">
      <section className="login-intro">
        <p className="eyebrow">{t("app.tagline")}</p>
        <h1>{t("login.heading")}</h1>
        <p>{t("login.intro")}</p>
      </section>
      <section className="panel login-panel">
        <Form method="post" action={`/login${redirectTo !== "/" ? `?redirectTo=${encodeURIComponent(redirectTo)}` : ""}`} noValidate>
          <CsrfInput />
          <input type="hidden" name="redirectTo" value={redirectTo} />
          {formError ? (
            <p className="form-error" role="alert" id="login-error">
              {translateWithParams(locale, formError.key, formError.params)}
            </p>
          ) : null}
          <div className="field">
            <label htmlFor="email">{t("login.email")}</label>
            <input
              id="email"
              name="email"
              type="email"
              autoComplete="username"
              required
              maxLength={254}
              defaultValue={actionData?.values.email ?? ""}
              aria-invalid={fieldErrors.email ? true : undefined}
              aria-describedby={fieldErrors.email ? "email-error" : undefined}
              autoFocus
            />
            {fieldErrors.email ? (
              <p className="field-error" id="email-error">
                {translateWithParams(locale, fieldErrors.email)}
              </p>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor="password">{t("login.password")}</label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              maxLength={200}
              aria-invalid={fieldErrors.password ? true : undefined}
              aria-describedby={fieldErrors.password ? "password-error" : undefined}
            />
            {fieldErrors.password ? (
              <p className="field-error" id="password-error">
                {translateWithParams(locale, fieldErrors.password)}
              </p>
            ) : null}
          </div>
          <button type="submit" className="button-primary" disabled={busy}>
            {t("login.submit")}
          </button>
        </Form>
        {showDemoHint ? <p className="subtle small">{t("login.demoHint")}</p> : null}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
