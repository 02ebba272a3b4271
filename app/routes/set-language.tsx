import { redirect, type ActionFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { LOCALES } from "~/i18n";
import { langCookie } from "~/i18n/locale.server";
import { setUserLocale } from "~/domain/identity";
import { flashCookie, getSession, requireCsrf, safeRedirectPath } from "~/session.server";

const SetLanguageForm = z.object({
  lang: z.enum(LOCALES),
  redirectTo: z.string().optional(),
});

export function loader() {
  return redirect("/");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const parsed = SetLanguageForm.safeParse(Object.fromEntries(form));
  if (!parsed.success) throw new Response("Unsupported language", { status: 400 });
  const { lang } = parsed.data;

  // Signed in: remember it on the account too, so it follows the user to other browsers.
  const session = await getSession(request, context);
  if (session) {
    await setUserLocale(
      context.db,
      { userId: session.user.id, organizationId: session.organizationId, ip: context.ip, requestId: context.requestId },
      session.user.id,
      lang,
    );
  }
  const headers = new Headers();
  headers.append("Set-Cookie", await langCookie(context.config.cookieSecure).serialize(lang));
  headers.append("Set-Cookie", await flashCookie(context, { key: "flash.languageChanged" }));
  return redirect(safeRedirectPath(parsed.data.redirectTo), { headers });
}
