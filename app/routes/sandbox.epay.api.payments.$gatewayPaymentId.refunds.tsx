import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { handleSandboxApi, sandboxJson, sandboxRefund, SandboxHttpError } from "~/sandbox/epay/sandbox.server";

/** Sandbox e-Pay: `POST /sandbox/epay/api/payments/:id/refunds` — refund (signed; idempotent on merchant_refund_reference). */
export async function action({ request, params, context }: ActionFunctionArgs) {
  return handleSandboxApi(request, context, async ({ deps, body, directives }) => {
    if (request.method !== "POST") throw new SandboxHttpError(405, "method_not_allowed", "use POST");
    const result = await sandboxRefund(deps, params.gatewayPaymentId ?? "", body, directives);
    // Like a real gateway, the callback may go out while (or before) the answer travels back.
    void result.afterResponse();
    return sandboxJson(deps.config, 200, result.body);
  });
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  return handleSandboxApi(request, context, async () => {
    throw new SandboxHttpError(405, "method_not_allowed", "use POST to ask for a refund");
  });
}
