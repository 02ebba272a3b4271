import type { LoaderFunctionArgs } from "@remix-run/node";
import { handleSandboxApi, sandboxCsv, sandboxStatement } from "~/sandbox/epay/sandbox.server";

/**
 * Sandbox e-Pay: `GET /sandbox/epay/api/statements/:date` — the day's statement file (signed CSV:
 * gateway_payment_id, merchant_reference, type, amount_fen, occurred_at), by Asia/Shanghai day.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  return handleSandboxApi(request, context, async ({ deps }) => {
    const date = params.date ?? "";
    const csv = await sandboxStatement(deps, date);
    return sandboxCsv(deps.config, csv, `epay-statement-${date}.csv`);
  });
}
