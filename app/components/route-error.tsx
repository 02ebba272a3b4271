import { isRouteErrorResponse, Link, useLocation, useRouteError } from "@remix-run/react";
import { translateWithParams, type Locale, type MessageKey } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";
import { roleNames } from "./needs-role";

function messageFor(status: number): MessageKey {
  switch (status) {
    case 400:
    case 405:
    case 413:
    case 422:
      return "error.badRequest";
    case 401:
      return "error.unauthorized";
    case 403:
      return "error.forbidden";
    case 404:
      return "error.notFound";
    case 429:
      return "error.tooMany";
    default:
      return "error.unexpected";
  }
}

/** A refused role (tenancy.server.ts `forbidden(roles)`): the roles that may, in the reader's language. */
function neededRoles(data: unknown, locale: Locale): string | null {
  const parsed = typeof data === "string" ? safeJson(data) : data;
  const roles = (parsed as { forbidden?: { roles?: unknown } } | null)?.forbidden?.roles;
  if (!Array.isArray(roles) || roles.length === 0) return null;
  return roleNames(roles.map(String), locale);
}

/** A failed form token (session.server.ts `csrfRefusal`), not a refused role. */
function isCsrfRefusal(data: unknown): boolean {
  const parsed = typeof data === "string" ? safeJson(data) : data;
  return (parsed as { refused?: unknown } | null)?.refused === "csrf";
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * What a user sees when a page cannot be shown: a sentence they can act on, never a stack trace.
 * Used as every route's ErrorBoundary and inside the root's.
 */
export function RouteError() {
  const error = useRouteError();
  const t = useT();
  const locale = useLocale();
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const needed = status === 403 && isRouteErrorResponse(error) ? neededRoles(error.data, locale) : null;
  const location = useLocation();
  if (status === 403 && isRouteErrorResponse(error) && isCsrfRefusal(error.data)) {
    // The form came from an older page (session expired or changed) or another site: nothing was
    // done. Reloading the page (a GET of the same address) gives a fresh form to send again.
    return (
      <section className="panel error-panel" role="alert" data-error-boundary={status} data-refusal="csrf">
        <h1>{t("error.csrfTitle")}</h1>
        <p>{t("error.csrf")}</p>
        <p>
          <a href={location.pathname + location.search}>{t("error.reload")}</a>
          {" · "}
          <Link to="/">{t("error.home")}</Link>
        </p>
      </section>
    );
  }
  return (
    // data-error-boundary: a stable marker (the status) for tests, whatever the language.
    <section className="panel error-panel" role="alert" data-error-boundary={status} data-refusal={status === 403 ? "forbidden" : undefined}>
      <h1>
        {status} · {t("error.title")}
      </h1>
      <p>{needed ? translateWithParams(locale, "error.needsRole", { roles: needed }) : translateWithParams(locale, messageFor(status))}</p>
      <p>
        <Link to="/">{t("error.home")}</Link>
      </p>
    </section>
  );
}
