import { isRouteErrorResponse, Link, useRouteError } from "@remix-run/react";
import { translateWithParams, type MessageKey } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

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

/**
 * What a user sees when a page cannot be shown: a sentence they can act on, never a stack trace.
 * Used as every route's ErrorBoundary and inside the root's.
 */
export function RouteError() {
  const error = useRouteError();
  const t = useT();
  const locale = useLocale();
  const status = isRouteErrorResponse(error) ? error.status : 500;
  return (
    <section className="panel error-panel" role="alert">
      <h1>
        {status} · {t("error.title")}
      </h1>
      <p>{translateWithParams(locale, messageFor(status))}</p>
      <p>
        <Link to="/">{t("error.home")}</Link>
      </p>
    </section>
  );
}
