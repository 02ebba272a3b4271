import {
  data,
  redirect,
  type ActionFunctionArgs,
  type HeadersFunction,
  type LinksFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { FormProblem, TextInput } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import type { Actor } from "~/domain/shared";
import { login, switchSessionOrganization, acceptInvitationAsNewUser, acceptInvitationAsUser, acceptInvitationFormSchema, findInvitationByToken, INVITATION_LIMITS } from "~/domain/identity";
import { fieldFailure, formFailure, keepValues, PRIVATE_PAGE_HEADERS, type FormFailure } from "~/web/recruitment-forms.server";
import { issuesToFields } from "~/domain/recruitment";
import { notFound } from "~/web/tenancy.server";
import { commitSessionCookie, flashCookie, getSession, requireCsrf, safeRedirectPath } from "~/session.server";
import { resolveLocale } from "~/i18n/locale.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => [...pageTitle(matches, "recruitment.invite.title"), { name: "robots", content: "noindex" }];
export const headers: HeadersFunction = () => ({ ...PRIVATE_PAGE_HEADERS });

function tokenParam(value: string | undefined): string {
  if (!value || value.length !== INVITATION_LIMITS.tokenChars) notFound();
  return value;
}

/**
 * `GET|POST /invite/:token` — accept an invitation. Without an account for the invited email: choose
 * a name and password, and be signed in. With one: sign in as that account and accept. The link
 * works once; an unknown token is a 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const token = tokenParam(params.token);
  const invitation = await findInvitationByToken(context.db, token, new Date());
  if (!invitation) notFound();
  const session = await getSession(request, context);
  const here = `/invite/${token}`;
  return data(
    {
      organizationName: invitation.organizationName,
      organizationNameEn: invitation.organizationNameEn,
      email: invitation.email,
      role: invitation.role,
      state: invitation.state,
      expiresAt: invitation.expiresAt,
      accountExists: invitation.accountExists,
      signedInAs: session?.user.email ?? null,
      signedInMatches: session ? session.user.email.toLowerCase() === invitation.email.toLowerCase() : false,
      loginHref: `/login?redirectTo=${encodeURIComponent(here)}`,
    },
    { headers: PRIVATE_PAGE_HEADERS },
  );
}

const FIELDS = ["displayName", "password", "passwordRepeat"] as const;

export async function action({ request, params, context }: ActionFunctionArgs) {
  const token = tokenParam(params.token);
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const intent = String(form.get("intent") ?? "");
  // Passwords never go back into the page.
  const values = keepValues(form, ["displayName"], 100);
  const actor: Actor = { userId: null, organizationId: null, ip: context.ip, requestId: context.requestId };
  const now = new Date();
  const invitation = await findInvitationByToken(context.db, token, now);
  if (!invitation) notFound();
  try {
    if (intent === "create") {
      const parsed = acceptInvitationFormSchema.safeParse(keepValues(form, FIELDS, 300));
      if (!parsed.success) return data<FormFailure>(fieldFailure("create", issuesToFields(parsed.error), values), { status: 422, headers: PRIVATE_PAGE_HEADERS });
      const session = await getSession(request, context);
      const locale = await resolveLocale(request, session?.user.locale);
      const accepted = await acceptInvitationAsNewUser(context.db, actor, { token, form: parsed.data, locale, now });
      // Sign in through the one login path (its audit and session rules), with the password just set.
      const result = await login(context.db, {
        email: accepted.email,
        password: parsed.data.password,
        ip: context.ip,
        userAgent: request.headers.get("User-Agent"),
        requestId: context.requestId,
        now,
      });
      if (!result.ok) throw new Response("Sign-in failed after accepting", { status: 409 });
      const headers = new Headers(PRIVATE_PAGE_HEADERS);
      headers.append("Set-Cookie", await commitSessionCookie(context, result.token));
      headers.append("Set-Cookie", await flashCookie(context, { key: "recruitment.invite.welcome", params: { name: invitation.organizationName } }));
      return redirect(safeRedirectPath(accepted.returnPath), { headers });
    }
    if (intent === "accept") {
      const session = await getSession(request, context);
      if (!session) return redirect(`/login?redirectTo=${encodeURIComponent(`/invite/${token}`)}`);
      const accepted = await acceptInvitationAsUser(context.db, { ...actor, userId: session.user.id }, { token, userId: session.user.id, now });
      // Act as the organisation just joined: the page after this is its.
      await switchSessionOrganization(context.db, { ...actor, userId: session.user.id }, {
        tokenHash: session.tokenHash,
        userId: session.user.id,
        fromOrganizationId: session.organizationId,
        toOrganizationId: accepted.organizationId,
      });
      const headers = new Headers(PRIVATE_PAGE_HEADERS);
      headers.append("Set-Cookie", await flashCookie(context, { key: "recruitment.invite.welcome", params: { name: invitation.organizationName } }));
      return redirect(safeRedirectPath(accepted.returnPath), { headers });
    }
    throw new Response("Unknown form", { status: 400 });
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = formFailure(error, intent, values, [...FIELDS]);
    return data<FormFailure>(failure, { status, headers: PRIVATE_PAGE_HEADERS });
  }
}

export default function AcceptInvitation() {
  const inv = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const name = locale === "en" && inv.organizationNameEn ? inv.organizationNameEn : inv.organizationName;
  const role = translateDynamic(locale, `role.${inv.role}`, inv.role);
  const e = result?.intent === "create" ? result.fieldErrors : {};
  return (
    <div className="rc-page rc-narrow" style={{ maxWidth: 560 }}>
      <p className="eyebrow">{t("recruitment.invite.title")}</p>
      <h1>{t("recruitment.invite.heading", { name })}</h1>
      {inv.state !== "pending" ? (
        <section className="rc-callout warn">
          <p style={{ margin: 0 }}>
            {t(inv.state === "accepted" ? "recruitment.invite.gone.accepted" : inv.state === "expired" ? "recruitment.invite.gone.expired" : "recruitment.invite.gone.revoked")}
          </p>
          {inv.state === "accepted" ? (
            <p style={{ margin: "0.5rem 0 0" }}>
              <Link to="/login">{t("login.submit")}</Link>
            </p>
          ) : null}
        </section>
      ) : (
        <section className="panel">
          <p>{t("recruitment.invite.intro", { name, role, email: inv.email })}</p>
          <p className="subtle small">{t("recruitment.invite.expires", { at: formatDateTime(inv.expiresAt, locale) })}</p>
          {result && (result.formProblem || (result.formMessage && Object.keys(result.fieldErrors).length === 0)) ? (
            <FormProblem lead={t("recruitment.form.notSaved")} problem={result.formProblem} message={result.formMessage} />
          ) : null}
          {inv.accountExists ? (
            inv.signedInMatches ? (
              <Form method="post">
                <CsrfInput />
                <input type="hidden" name="intent" value="accept" />
                <button type="submit" className="rc-button large" disabled={navigation.state !== "idle"}>
                  {t("recruitment.invite.accept")}
                </button>
              </Form>
            ) : inv.signedInAs ? (
              <p className="notice">{t("recruitment.invite.otherAccount", { current: inv.signedInAs, email: inv.email })}</p>
            ) : (
              <>
                <p className="notice">{t("recruitment.invite.accountExists", { email: inv.email })}</p>
                <Link to={inv.loginHref} className="rc-button">
                  {t("recruitment.invite.signIn")}
                </Link>
              </>
            )
          ) : (
            <Form method="post" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="create" />
              <h2>{t("recruitment.invite.createAccount")}</h2>
              <TextInput name="displayName" label={t("recruitment.invite.displayName")} required maxLength={50} autoComplete="name" defaultValue={result?.values.displayName} error={e.displayName} />
              <TextInput
                name="password"
                type="password"
                label={t("recruitment.invite.password")}
                required
                maxLength={200}
                autoComplete="new-password"
                hint={t("recruitment.invite.passwordHint")}
                error={e.password}
              />
              <TextInput name="passwordRepeat" type="password" label={t("recruitment.invite.passwordRepeat")} required maxLength={200} autoComplete="new-password" error={e.passwordRepeat} />
              <button type="submit" className="rc-button large" disabled={navigation.state !== "idle"}>
                {t("recruitment.invite.submit")}
              </button>
            </Form>
          )}
        </section>
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
