import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { NeedsRole } from "~/components/needs-role";
import { MarkAllReadForm, NoticeItem } from "~/components/notice-ui";
import { RouteError } from "~/components/route-error";
import { formatDateTime, formatFen, formatInteger, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listAuditEvents, isDomainError } from "~/domain/shared";
import { displayNames, may } from "~/domain/identity";
import { listNamedAccounts, ledgerTotals, verifyLedger } from "~/domain/ledger";
import { countUnreadNotifications, listNotifications } from "~/domain/notifications";
import { listFailedJobs, rerunFailedJob } from "~/domain/outbox";
import { listPaymentsNeedingAttention } from "~/domain/payments";
import { requireOrgContext, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import { AccountBalancesTable } from "~/components/account-statement";

export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "dashboard.title");

const NOTIFICATIONS_SHOWN = 10;
const ACTIVITY_SHOWN = 15;
const FAILED_JOBS_SHOWN = 20;

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization, user } = await requireOrgContext(request, context);
  const organizationId = organization.organizationId;
  const { db } = context;

  const accounts = await listNamedAccounts(db, organizationId);
  const notifications = await listNotifications(db, { userId: user.id, organizationId, limit: NOTIFICATIONS_SHOWN });
  const unreadCount = await countUnreadNotifications(db, { userId: user.id, organizationId });
  const events = await listAuditEvents(db, organizationId, ACTIVITY_SHOWN);
  const names = await displayNames(
    db,
    events.flatMap((e) => (e.actor_user_id ? [e.actor_user_id] : [])),
  );

  // Platform-wide figures are the bank's business only; nobody else's dashboard runs these queries.
  const platform =
    organization.kind === "bank"
      ? {
          totals: await ledgerTotals(db),
          violations: await verifyLedger(db),
          paymentsAttention: await listPaymentsNeedingAttention(db),
          failedJobs: await listFailedJobs(db, FAILED_JOBS_SHOWN),
        }
      : null;

  return {
    mayRerunJobs: may(organization.roles, "jobs.rerun", organization.kind),
    organization: {
      id: organizationId,
      name: organization.name,
      nameEn: organization.nameEn,
      kind: organization.kind,
      uscc: organization.uscc,
      roles: organization.roles,
    },
    accounts: accounts.map((a) => ({
      id: a.id,
      naming: a.naming,
      kind: a.kind,
      balanceFen: a.balanceFen,
      pendingFen: a.pendingFen,
      availableFen: a.availableFen,
    })),
    notifications: notifications.map((n) => ({
      id: n.id,
      topic: n.topic,
      params: n.params as Record<string, string>,
      createdAt: n.createdAt,
      unread: n.readAt === null,
      href: n.href,
    })),
    unreadCount,
    activity: events.map((e) => ({
      id: String(e.id),
      at: e.at,
      action: e.action,
      actor: e.actor_user_id ? (names.get(e.actor_user_id) ?? null) : null,
    })),
    platform,
  };
}

/** The bank's console: run a background job given up on again, once its cause is fixed. */
export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { actor } = await requireOrgContext(request, context, { may: "jobs.rerun" });
  if (form.get("intent") !== "rerun") throw new Response("Unknown form", { status: 400 });
  const outboxId = Number(form.get("outboxId"));
  if (!Number.isSafeInteger(outboxId) || outboxId < 1) throw new Response("outboxId must be a job's number", { status: 400 });
  let key: "dashboard.failedJobs.flash.rerun" | "dashboard.failedJobs.flash.notFailed" = "dashboard.failedJobs.flash.rerun";
  try {
    await scoped(() => rerunFailedJob(context.db, actor, outboxId));
  } catch (error) {
    // A second click, or someone else was first: the job is already on its way again.
    if (!isDomainError(error) || error.code !== "invalid_state") throw error;
    key = "dashboard.failedJobs.flash.notFailed";
  }
  return redirect("/#failed-jobs", { headers: { "Set-Cookie": await flashCookie(context, { key }) } });
}

export default function Dashboard() {
  const { organization, accounts, notifications, unreadCount, activity, platform, mayRerunJobs } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  const kindKey = `kind.${organization.kind}` as const;
  const nextKey = `dashboard.next.${organization.kind}` as const;

  return (
    <div className="dashboard">
      <section className="org-heading">
        <div>
          <p className="eyebrow">{t(kindKey)}</p>
          <h1>{locale === "en" && organization.nameEn ? organization.nameEn : organization.name}</h1>
          {locale === "en" && organization.nameEn ? <p className="subtle">{organization.name}</p> : null}
        </div>
        <dl className="facts">
          <div>
            <dt>{t("dashboard.uscc")}</dt>
            <dd className="mono">{organization.uscc ?? t("dashboard.noUscc")}</dd>
          </div>
          <div>
            <dt>{t("dashboard.yourRoles")}</dt>
            <dd>
              {organization.roles.map((role) => (
                <span key={role} className="tag">
                  {translateDynamic(locale, `role.${role}`, role)}
                </span>
              ))}
            </dd>
          </div>
        </dl>
      </section>

      <p className="notice">
        <strong>{t("dashboard.comingSoon")}</strong> {t(nextKey)}
      </p>

      {platform ? (
        <section className="panel" aria-labelledby="platform-heading">
          <h2 id="platform-heading">{t("dashboard.platform")}</h2>
          <div className="figures">
            <div className="figure">
              <span className="figure-label">{t("dashboard.accountCount")}</span>
              <span className="figure-value num">{formatInteger(platform.totals.accountCount, locale)}</span>
            </div>
            <div className="figure">
              <span className="figure-label">{t("dashboard.transferCount")}</span>
              <span className="figure-value num">{formatInteger(platform.totals.transferCount, locale)}</span>
            </div>
            <div className="figure">
              <span className="figure-label">{t("dashboard.walletLiabilities")}</span>
              <span className="figure-value num">{formatFen(platform.totals.walletLiabilitiesFen, locale)}</span>
            </div>
            <div className="figure">
              <span className="figure-label">{t("dashboard.pendingTotal")}</span>
              <span className="figure-value num">{formatFen(platform.totals.pendingFen, locale)}</span>
            </div>
          </div>
          <p>
            <Link to="/accounts">{t("accountList.open")}</Link>
          </p>
          <h3>{t("dashboard.ledgerCheck")}</h3>
          {platform.violations.length === 0 ? (
            <p className="status-ok" data-testid="ledger-ok">
              ✓ {t("dashboard.ledgerOk")}
            </p>
          ) : (
            <div className="status-bad" role="alert">
              <p>{t("dashboard.ledgerViolations", { count: platform.violations.length })}</p>
              <ul>
                {platform.violations.map((v, i) => (
                  <li key={i}>
                    <code>{v.check}</code> {v.detail}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <h3 id="payments-attention">{t("dashboard.paymentsAttention")}</h3>
          {platform.paymentsAttention.total === 0 ? (
            <p className="status-ok" data-testid="payments-attention-none">
              ✓ {t("dashboard.paymentsAttentionNone")}
            </p>
          ) : (
            <div data-testid="payments-attention">
              <p className="status-bad" role="alert">
                {t("dashboard.paymentsAttentionCount", { count: platform.paymentsAttention.total })}
              </p>
              <div className="table-wrap">
                <table className="data">
                  <thead>
                    <tr>
                      <th>{t("dashboard.paymentsAttention.since")}</th>
                      <th>{t("dashboard.paymentsAttention.payer")}</th>
                      <th>{t("dashboard.paymentsAttention.purpose")}</th>
                      <th className="num">{t("dashboard.paymentsAttention.amount")}</th>
                      <th>{t("dashboard.paymentsAttention.reason")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {platform.paymentsAttention.rows.map((p) => (
                      <tr key={p.id} data-payment-id={p.id}>
                        <td className="nowrap">{formatDateTime(p.since, locale)}</td>
                        <td>{p.payerName}</td>
                        <td>
                          {translateDynamic(locale, `payment.purpose.${p.purpose}`, p.purpose)} <code>{p.reference}</code>
                        </td>
                        <td className="num">{formatFen(p.amountFen, locale)}</td>
                        <td>{p.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          )}
          <h3 id="failed-jobs">{t("dashboard.failedJobs")}</h3>
          {platform.failedJobs.total === 0 ? (
            <p className="status-ok" data-testid="failed-jobs-none">
              ✓ {t("dashboard.failedJobsNone")}
            </p>
          ) : (
            <div data-testid="failed-jobs">
              <p className="status-bad" role="alert">
                {t("dashboard.failedJobsCount", { count: platform.failedJobs.total })}
              </p>
              <div className="table-wrap">
                <table className="data">
                  <thead>
                    <tr>
                      <th>{t("dashboard.failedJobs.failedAt")}</th>
                      <th>{t("dashboard.failedJobs.job")}</th>
                      <th className="num">{t("dashboard.failedJobs.runs")}</th>
                      <th>{t("dashboard.failedJobs.error")}</th>
                      {mayRerunJobs ? <th>{t("dashboard.failedJobs.action")}</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {platform.failedJobs.rows.map((j) => (
                      <tr key={j.id} data-job-id={j.jobId}>
                        <td className="nowrap">{formatDateTime(j.failedAt, locale)}</td>
                        <td className="wrap-any">
                          <code>{j.jobId}</code>
                        </td>
                        <td className="num">{formatInteger(j.attempts, locale)}</td>
                        <td className="wrap-any">{j.lastError}</td>
                        {mayRerunJobs ? (
                          <td className="row-actions">
                            <Form method="post" action="/?index">
                              <CsrfInput />
                              <input type="hidden" name="outboxId" value={j.id} />
                              <button type="submit" name="intent" value="rerun" className="secondary">
                                {t("dashboard.failedJobs.rerun")}
                              </button>
                            </Form>
                          </td>
                        ) : null}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {mayRerunJobs ? null : <NeedsRole action="jobs.rerun" kind="bank" />}
            </div>
          )}
        </section>
      ) : null}

      <section className="panel" aria-labelledby="balances-heading">
        <h2 id="balances-heading">{t("dashboard.balances")}</h2>
        {accounts.length === 0 ? (
          <p className="empty">{t("dashboard.balancesEmpty")}</p>
        ) : (
          <AccountBalancesTable accounts={accounts} testId="balances" showKind />
        )}
      </section>

      <div className="columns">
        <section className="panel" aria-labelledby="inbox-heading">
          <div className="panel-head">
            <h2 id="inbox-heading">
              {t("dashboard.notifications")}{" "}
              {unreadCount > 0 ? (
                <span className="count-badge" data-testid="dashboard-unread">
                  {t("inbox.unreadCount", { count: unreadCount })}
                </span>
              ) : null}
            </h2>
            {unreadCount > 0 ? <MarkAllReadForm /> : null}
          </div>
          {notifications.length === 0 ? (
            <p className="empty">{t("dashboard.notificationsEmpty")}</p>
          ) : (
            <ul className="feed" data-testid="dashboard-notices">
              {notifications.map((n) => (
                <NoticeItem key={n.id} notice={n} />
              ))}
            </ul>
          )}
          <p className="panel-foot">
            <Link to="/notifications">{t("inbox.seeAll")} →</Link>
          </p>
        </section>

        <section className="panel" aria-labelledby="activity-heading">
          <h2 id="activity-heading">{t("dashboard.activity")}</h2>
          {activity.length === 0 ? (
            <p className="empty">{t("dashboard.activityEmpty")}</p>
          ) : (
            <ul className="feed">
              {activity.map((e) => (
                <li key={e.id}>
                  <span>
                    {translateDynamic(locale, `audit.${e.action}`, e.action)}
                    <span className="subtle"> · {e.actor ?? t("audit.system")}</span>
                  </span>
                  <time dateTime={new Date(e.at).toISOString()}>{formatDateTime(e.at, locale)}</time>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
