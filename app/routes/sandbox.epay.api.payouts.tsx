import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { sandboxPayout } from "~/sandbox/epay/payouts.server";
import { handleSandboxApi, sandboxJson, SandboxHttpError } from "~/sandbox/epay/sandbox.server";

/** Sandbox e-Pay: `POST /sandbox/epay/api/payouts` — pay out to a bank account (signed; idempotent on merchant_payout_reference). */
export async function action({ request, context }: ActionFunctionArgs) {
  return handleSandboxApi(request, context, async ({ deps, body }) => {
    if (request.method !== "POST") throw new SandboxHttpError(405, "method_not_allowed", "use POST");
    const paid = await sandboxPayout(deps, body);
    return sandboxJson(deps.config, paid.status, paid.body);
  });
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  return handleSandboxApi(request, context, async () => {
    throw new SandboxHttpError(405, "method_not_allowed", "use POST to create a payout");
  });
}
