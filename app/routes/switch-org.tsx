import { redirect, type ActionFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { switchSessionOrganization } from "~/domain/identity";
import { notFound, requireOrgContext, requireUuidParam } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";

const SwitchOrgForm = z.object({ orgId: z.string().max(100) });

export function loader() {
  return redirect("/");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const parsed = SwitchOrgForm.safeParse(Object.fromEntries(form));
  if (!parsed.success) notFound();
  const current = await requireOrgContext(request, context);
  // The scoping helper proves membership: any other organisation's id (or a made-up one) is a 404.
  const target = await requireOrgContext(request, context, { organizationId: requireUuidParam(parsed.data.orgId) });
  if (target.organization.organizationId !== current.organization.organizationId) {
    await switchSessionOrganization(context.db, current.actor, {
      tokenHash: current.session.tokenHash,
      userId: current.user.id,
      fromOrganizationId: current.organization.organizationId,
      toOrganizationId: target.organization.organizationId,
    });
  }
  // To the dashboard: the page the user was on may belong to the organisation just left.
  return redirect("/", {
    headers: { "Set-Cookie": await flashCookie(context, { key: "flash.switchedOrg", params: { name: target.organization.name } }) },
  });
}
