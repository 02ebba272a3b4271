import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { API_KEY_ROLES, type ApiKeyRole } from "../../db/schema";
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { formatDateTime, translateDynamic } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { API_KEY_DEFAULT_ROLES, API_KEY_LIMITS, createApiKey, listApiKeys, revokeApiKey } from "~/domain/identity";
import { isDomainError } from "~/domain/shared";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";

/**
 * `/settings/api-keys` — an organisation's owner or admin makes keys for its integrations (the key
 * is shown once, in the answer to the POST that made it: never stored, never in a cookie or a
 * redirect), sees them by name and prefix with their last use, and revokes them.
 */

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "apiKeys.title");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context, { may: "api_key.manage" });
  const keys = await listApiKeys(context.db, organization.organizationId);
  return {
    organizationName: organization.name,
    roles: API_KEY_ROLES,
    defaultRoles: API_KEY_DEFAULT_ROLES,
    // Sent to the page: limits live in a server module the browser bundle does not include.
    nameLength: API_KEY_LIMITS.nameLength,
    keys: keys.map((k) => ({
      id: k.id,
      name: k.name,
      prefix: k.prefix,
      roles: k.roles,
      createdAt: k.createdAt,
      createdByName: k.createdByName,
      lastUsedAt: k.lastUsedAt,
      revokedAt: k.revokedAt,
    })),
  };
}

type ActionResult =
  | { intent: "create"; ok: true; secret: string; name: string }
  | { intent: "create"; ok: false; fieldErrors: Record<string, string>; formError: string | null; values: { name: string; roles: string[] } };

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organization, actor } = await requireOrgContext(request, context, { may: "api_key.manage" });
  const orgId = organization.organizationId;
  const intent = String(form.get("intent") ?? "");

  if (intent === "revoke") {
    const keyId = requireUuidParam(String(form.get("keyId") ?? ""));
    await scoped(() => revokeApiKey(context.db, actor, orgId, keyId));
    return redirect("/settings/api-keys", { headers: { "Set-Cookie": await flashCookie(context, { key: "apiKeys.flash.revoked" }) } });
  }
  if (intent !== "create") throw new Response("Unknown form", { status: 400 });

  const name = String(form.get("name") ?? "").slice(0, API_KEY_LIMITS.nameLength + 50);
  const roles = form
    .getAll("roles")
    .map(String)
    .slice(0, API_KEY_ROLES.length + 1);
  try {
    const { secret, key } = await createApiKey(context.db, actor, orgId, { name, roles });
    return data<ActionResult>({ intent: "create", ok: true, secret, name: key.name }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    if (!isDomainError(error) || !["validation", "conflict"].includes(error.code)) throw error;
    const fieldErrors = { ...error.fields };
    return data<ActionResult>(
      { intent: "create", ok: false, fieldErrors, formError: Object.keys(fieldErrors).length ? null : error.message, values: { name, roles } },
      { status: error.status },
    );
  }
}

export default function ApiKeysPage() {
  const { organizationName, roles, defaultRoles, nameLength, keys } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT();
  const locale = useLocale();
  const failed = result && !result.ok ? result : null;
  const created = result && result.ok ? result : null;
  const problem = (code: string | undefined) => (code ? translateDynamic(locale, `apiKeys.problem.${code}`, code) : null);
  const checkedRoles: readonly string[] = failed ? failed.values.roles : defaultRoles;
  const roleLabel = (role: ApiKeyRole | string) => translateDynamic(locale, `apiKeys.role.${role}`, role);

  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            {t("apiKeys.eyebrow")} · {organizationName}
          </p>
          <h1>{t("apiKeys.title")}</h1>
          <p className="subtle">{t("apiKeys.intro")}</p>
          <p className="small">
            <a href="/api/v1/openapi.json">{t("apiKeys.docsLink")}</a>
          </p>
        </div>
      </div>

      {created ? (
        <section className="panel" aria-labelledby="created-heading" data-testid="new-key">
          <h2 id="created-heading">{t("apiKeys.createdTitle")}</h2>
          <p className="notice" role="status">
            {t("apiKeys.createdOnce")}
          </p>
          <p>
            <strong>{created.name}</strong>
          </p>
          <input
            className="mono"
            readOnly
            value={created.secret}
            aria-label={t("apiKeys.createdTitle")}
            style={{ width: "100%" }}
            onFocus={(e) => e.currentTarget.select()}
          />
        </section>
      ) : null}

      <section className="panel" aria-labelledby="create-heading">
        <h2 id="create-heading">{t("apiKeys.createTitle")}</h2>
        {/* A new key resets the form (with JavaScript the inputs would otherwise keep what was typed). */}
        <Form method="post" noValidate key={created?.secret ?? "new"}>
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          {failed?.formError ? (
            <p className="sc-form-error" role="alert">
              <strong>{t("apiKeys.notSaved")}</strong> {failed.formError}
            </p>
          ) : null}
          <div className="sc-field">
            <label htmlFor="key-name">
              {t("apiKeys.name")}
              <span className="req" aria-hidden="true">
                *
              </span>
            </label>
            <input
              id="key-name"
              name="name"
              required
              maxLength={nameLength}
              defaultValue={failed?.values.name ?? ""}
              aria-invalid={failed?.fieldErrors.name ? true : undefined}
              aria-describedby={failed?.fieldErrors.name ? "key-name-error key-name-hint" : "key-name-hint"}
            />
            <p className="hint" id="key-name-hint">
              {t("apiKeys.nameHint")}
            </p>
            {failed?.fieldErrors.name ? (
              <p className="field-error" id="key-name-error">
                {problem(failed.fieldErrors.name)}
              </p>
            ) : null}
          </div>
          <fieldset className="sc-fieldset" aria-describedby="key-roles-hint">
            <legend>{t("apiKeys.roles")}</legend>
            {roles.map((role) => (
              <label key={role} style={{ marginRight: "1rem" }}>
                <input type="checkbox" name="roles" value={role} defaultChecked={checkedRoles.includes(role)} /> {roleLabel(role)}
              </label>
            ))}
            <p className="hint" id="key-roles-hint">
              {t("apiKeys.rolesHint")}
            </p>
            {failed?.fieldErrors.roles ? <p className="field-error">{problem(failed.fieldErrors.roles)}</p> : null}
          </fieldset>
          <button type="submit" className="sc-button" disabled={busy}>
            {t("apiKeys.create")}
          </button>
        </Form>
      </section>

      <section className="panel" aria-labelledby="list-heading" style={{ marginTop: "1.25rem" }}>
        <h2 id="list-heading">{t("apiKeys.listTitle")}</h2>
        {keys.length === 0 ? (
          <p className="empty">{t("apiKeys.empty")}</p>
        ) : (
          <div className="table-wrap">
            <table className="data" data-testid="api-keys">
              <thead>
                <tr>
                  <th scope="col">{t("apiKeys.col.name")}</th>
                  <th scope="col">{t("apiKeys.col.prefix")}</th>
                  <th scope="col">{t("apiKeys.col.roles")}</th>
                  <th scope="col">{t("apiKeys.col.createdBy")}</th>
                  <th scope="col">{t("apiKeys.col.createdAt")}</th>
                  <th scope="col">{t("apiKeys.col.lastUsed")}</th>
                  <th scope="col">{t("apiKeys.col.status")}</th>
                  <th scope="col" aria-label={t("apiKeys.revoke")} />
                </tr>
              </thead>
              <tbody>
                {keys.map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td>
                    <td className="mono">{`rt_live_${key.prefix}_…`}</td>
                    <td>{key.roles.map(roleLabel).join(", ")}</td>
                    <td>{key.createdByName ?? "—"}</td>
                    <td className="nowrap">{formatDateTime(key.createdAt, locale)}</td>
                    <td className="nowrap">{key.lastUsedAt ? formatDateTime(key.lastUsedAt, locale) : t("apiKeys.never")}</td>
                    <td>{key.revokedAt ? t("apiKeys.revokedAt", { date: formatDateTime(key.revokedAt, locale) }) : t("apiKeys.live")}</td>
                    <td>
                      {key.revokedAt ? null : (
                        <Form method="post">
                          <CsrfInput />
                          <input type="hidden" name="intent" value="revoke" />
                          <input type="hidden" name="keyId" value={key.id} />
                          <button type="submit" className="sc-button danger" title={t("apiKeys.revokeConfirm")} disabled={busy}>
                            {t("apiKeys.revoke")}
                          </button>
                        </Form>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
