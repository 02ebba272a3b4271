import { useRouteLoaderData } from "@remix-run/react";
import type { loader as rootLoader } from "~/root";

/** Field name the actions read; kept in step with CSRF_FIELD in session.server.ts. */
export const CSRF_FIELD_NAME = "csrf";

export function useCsrfToken(): string {
  return useRouteLoaderData<typeof rootLoader>("root")?.csrf ?? "";
}

/**
 * Put this inside every mutating <Form>. The token comes from the root loader: the session's token
 * when signed in, or the anonymous double-submit token (whose signed twin is in a cookie).
 */
export function CsrfInput() {
  return <input type="hidden" name={CSRF_FIELD_NAME} value={useCsrfToken()} />;
}
