import type { LoaderFunctionArgs } from "@remix-run/node";
import { handleSandboxApi, sandboxGetPayment, sandboxJson } from "~/sandbox/epay/sandbox.server";

/** Sandbox e-Pay: `GET /sandbox/epay/api/payments/:id` — the payment's state and every event so far (signed). */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  return handleSandboxApi(request, context, async ({ deps }) => {
    const state = await sandboxGetPayment(deps, params.gatewayPaymentId ?? "");
    return sandboxJson(deps.config, 200, state);
  });
}
