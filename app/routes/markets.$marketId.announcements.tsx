import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import type { ReactNode } from "react";
import { CsrfInput } from "~/components/csrf-input";
import { MarketTabs } from "~/components/market-ui";
import { RouteError } from "~/components/route-error";
import { FormError } from "~/components/supply-ui";
import { formatDateTime, isMessageKey, translateDynamic, translateWithParams } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { requireMarketOperator, requireOperatorMarket } from "~/web/market-access.server";
import { ANNOUNCEMENT_AUDIENCES, ANNOUNCEMENT_LIMITS, announcementFormSchema, listAnnouncementsForOperator, publishAnnouncement, getMarket } from "~/domain/market";
import { badRequestOnValidation, domainFailure, zodFieldErrors, type FormFailure } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import dashboardStyles from "~/styles/market-dashboard.css";
import marketStyles from "~/styles/market.css";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "stylesheet", href: marketStyles },
  { rel: "stylesheet", href: dashboardStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "announcement.title");

const PAGE_SIZE = 30;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  // Scoped by the acting operator: another operator's market id is a 404.
  const { organizationId, canManage, market } = await requireOperatorMarket(request, context, params.marketId);
  const after = new URL(request.url).searchParams.get("after");
  const page = await badRequestOnValidation(() => listAnnouncementsForOperator(context.db, organizationId, market.id, { limit: PAGE_SIZE, after }));
  return {
    canManage,
    // The model module is empty in the browser: what the form needs of it comes from here.
    form: { audiences: [...ANNOUNCEMENT_AUDIENCES], titleLength: ANNOUNCEMENT_LIMITS.titleLength, bodyLength: ANNOUNCEMENT_LIMITS.bodyLength },
    market: { id: market.id, name: market.name },
    isFirstPage: !after,
    announcements: page.items.map((a) => ({
      id: a.id,
      title: a.title,
      body: a.body,
      audience: a.audience,
      publishedAt: a.publishedAt,
      publishedByName: a.publishedByName,
    })),
    nextCursor: page.nextCursor,
  };
}

function sentValues(form: FormData): Record<string, string> {
  // What goes back into the form when it is refused: the text as typed, cut to a sane size.
  const get = (name: string, max: number) => {
    const v = form.get(name);
    return typeof v === "string" ? v.slice(0, max) : "";
  };
  return {
    title: get("title", ANNOUNCEMENT_LIMITS.titleLength * 2),
    body: get("body", ANNOUNCEMENT_LIMITS.bodyLength + 1_000),
    audience: get("audience", 20),
  };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireMarketOperator(request, context, { may: "market.announcement_write" });
  const marketId = requireUuidParam(params.marketId);
  const raw = { title: form.get("title") ?? undefined, body: form.get("body") ?? undefined, audience: form.get("audience") ?? undefined };
  const values = sentValues(form);
  const parsed = announcementFormSchema.safeParse(raw);
  if (!parsed.success) {
    // Another operator's market is a 404 whatever the input; only then is the input judged.
    await scoped(() => getMarket(context.db, organizationId, marketId));
    return data<FormFailure>({ intent: "publish", fieldErrors: zodFieldErrors(parsed.error), formError: null, values }, { status: 422 });
  }
  try {
    const announcement = await publishAnnouncement(context.db, actor, organizationId, marketId, parsed.data);
    return redirect(`/markets/${marketId}/announcements`, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "announcement.flash.published", params: { title: announcement.title } }) },
    });
  } catch (error) {
    const { failure, status } = domainFailure(error, "publish", values);
    return data<FormFailure>(failure, { status });
  }
}

/** A problem code as words: this page's own (`announcement.problem.*`) or the shared ones. */
function useProblem(): (code: string | undefined) => string | null {
  const locale = useLocale();
  return (code) => {
    if (!code) return null;
    const own = `announcement.problem.${code}`;
    return isMessageKey(own) ? translateWithParams(locale, own) : translateDynamic(locale, `catalog.problem.${code}`, code);
  };
}

function Field(props: { name: string; label: string; error?: string; hint?: string; children: ReactNode }) {
  const problem = useProblem();
  return (
    <div className="sc-field">
      <label htmlFor={props.name}>
        {props.label}
        <span className="req" aria-hidden="true">
          *
        </span>
      </label>
      {props.children}
      {props.hint ? (
        <p className="hint" id={`${props.name}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${props.name}-error`}>
          {problem(props.error)}
        </p>
      ) : null}
    </div>
  );
}

function describedBy(name: string, error: string | undefined, hint?: boolean): string | undefined {
  const ids = [error ? `${name}-error` : null, hint ? `${name}-hint` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export default function MarketAnnouncements() {
  const { canManage, form, market, announcements, nextCursor, isFirstPage } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const t = useT();
  const locale = useLocale();
  const errors = failure?.intent === "publish" ? failure.fieldErrors : {};
  const values = failure?.intent === "publish" ? failure.values : { title: "", body: "", audience: "all" };
  return (
    <div className="sc-page">
      <p>
        <Link to={`/markets/${market.id}`}>← {t("market.backToMarket")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{market.name}</p>
          <h1>{t("announcement.title")}</h1>
          <p className="subtle">{t("announcement.hint")}</p>
        </div>
      </div>
      <MarketTabs marketId={market.id} />
      {canManage ? (
        <section className="panel" aria-labelledby="publish-title">
          <h2 id="publish-title">{t("announcement.publishTitle")}</h2>
          <Form method="post" noValidate className="sc-form an-form">
            <CsrfInput />
            <FormError message={failure?.formError} />
            <Field name="title" label={t("announcement.field.title")} error={errors.title}>
              <input
                id="title"
                name="title"
                type="text"
                required
                maxLength={form.titleLength}
                defaultValue={values.title}
                aria-invalid={errors.title ? true : undefined}
                aria-describedby={describedBy("title", errors.title)}
              />
            </Field>
            <Field name="audience" label={t("announcement.field.audience")} error={errors.audience}>
              <select
                id="audience"
                name="audience"
                required
                defaultValue={values.audience || "all"}
                aria-invalid={errors.audience ? true : undefined}
                aria-describedby={describedBy("audience", errors.audience)}
              >
                {form.audiences.map((a) => (
                  <option key={a} value={a}>
                    {t(`announcement.audience.${a}`)}
                  </option>
                ))}
              </select>
            </Field>
            <Field name="body" label={t("announcement.field.body")} error={errors.body}>
              <textarea
                id="body"
                name="body"
                required
                rows={8}
                maxLength={form.bodyLength}
                defaultValue={values.body}
                aria-invalid={errors.body ? true : undefined}
                aria-describedby={describedBy("body", errors.body)}
              />
            </Field>
            <button type="submit" className="sc-button">
              {t("announcement.publish")}
            </button>
          </Form>
        </section>
      ) : (
        <p className="notice">{t("market.readOnly")}</p>
      )}
      <section className="panel" aria-labelledby="list-title">
        <h2 id="list-title">{t("announcement.list")}</h2>
        {announcements.length === 0 ? (
          <p className="empty">{t("announcement.empty")}</p>
        ) : (
          <ul className="an-list" data-testid="announcement-list">
            {announcements.map((a) => (
              <li key={a.id} className="an-item">
                <h3>{a.title}</h3>
                <p className="an-meta">
                  <span className={`an-audience ${a.audience}`}>{t(`announcement.audience.${a.audience}`)}</span>
                  <span>{t("announcement.publishedAt", { time: formatDateTime(a.publishedAt, locale) })}</span>
                  {a.publishedByName ? <span>{t("announcement.publishedBy", { name: a.publishedByName })}</span> : null}
                </p>
                <p className="an-body">{a.body}</p>
              </li>
            ))}
          </ul>
        )}
        {nextCursor || !isFirstPage ? (
          <p className="sc-pager">
            {!isFirstPage ? <Link to=".">{t("announcement.newest")}</Link> : <span />}
            {nextCursor ? <Link to={`?after=${encodeURIComponent(nextCursor)}`}>{t("announcement.older")} →</Link> : null}
          </p>
        ) : null}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
