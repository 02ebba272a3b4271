import type { ActionFunctionArgs } from "@remix-run/node";
import { handleSandboxApi, sandboxCreatePayment, sandboxJson, SandboxHttpError } from "~/sandbox/epay/sandbox.server";

/** Sandbox e-Pay: `POST /sandbox/epay/api/payments` — create a payment (signed; idempotent on merchant_reference). */
export async function action({ request, context }: ActionFunctionArgs) {
  return handleSandboxApi(request, context, async ({ deps, body, directives }) => {
    if (request.method !== "POST") throw new SandboxHttpError(405, "method_not_allowed", "use POST");
    const created = await sandboxCreatePayment(deps, body, directives);
    return sandboxJson(deps.config, created.status, created.body);
  });
}

export async function loader({ request, context }: ActionFunctionArgs) {
  return handleSandboxApi(request, context, async () => {
    throw new SandboxHttpError(405, "method_not_allowed", "use POST to create a payment");
  });
}
