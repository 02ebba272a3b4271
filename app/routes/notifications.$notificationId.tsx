import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { RouteError } from "~/components/route-error";
import { notificationHref, openNotification } from "~/domain/notifications";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import { requireCsrf, safeRedirectPath } from "~/session.server";

/**
 * `/notifications/:id` — a notice's address. POST (the inbox's "open", a form, so it works without
 * JavaScript): marked read, then on to its subject, or back where the reader was when it has none.
 * GET: straight to the subject, nothing changed. Another user's or organisation's notice is a 404.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { user, organization } = await requireOrgContext(request, context);
  const id = requireUuidParam(params.notificationId);
  const { href } = await scoped(() => notificationHref(context.db, { userId: user.id, organizationId: organization.organizationId }, id));
  return redirect(href ?? "/notifications");
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { user, organization } = await requireOrgContext(request, context);
  const id = requireUuidParam(params.notificationId);
  const { href } = await scoped(() => openNotification(context.db, { userId: user.id, organizationId: organization.organizationId }, id, new Date()));
  return redirect(href ?? safeRedirectPath(form.get("redirectTo"), "/notifications"));
}

/** Never shown: the loader always redirects (or answers 404, which the error boundary renders). */
export default function NoticeAddress() {
  return null;
}

export function ErrorBoundary() {
  return <RouteError />;
}
