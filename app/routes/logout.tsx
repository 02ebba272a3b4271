import { redirect, type ActionFunctionArgs } from "@remix-run/node";
import { logout } from "~/domain/identity";
import { destroySessionCookie, flashCookie, getSession, requireCsrf } from "~/session.server";

// Logging out changes state, so it is a POST only; a GET (a link, a prefetch) just goes home.
export function loader() {
  return redirect("/");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const session = await getSession(request, context);
  const headers = new Headers();
  if (session) {
    await logout(
      context.db,
      { userId: session.user.id, organizationId: session.organizationId, ip: context.ip, requestId: context.requestId },
      session.tokenHash,
    );
    headers.append("Set-Cookie", await flashCookie(context, { key: "flash.loggedOut" }));
  }
  headers.append("Set-Cookie", await destroySessionCookie(context));
  return redirect("/login", { headers });
}
