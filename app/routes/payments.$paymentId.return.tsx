import { redirect, type LoaderFunctionArgs } from "@remix-run/node";
import { EpayGatewayError, getPaymentForOrganization, paymentsDepsForRequest, syncPaymentFromGateway } from "~/domain/payments";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";

/**
 * `GET /payments/:paymentId/return` — where the gateway sends the user after paying. The callback
 * may be late or lost, so ask the gateway now and apply what it says (idempotently: whatever the
 * callback already applied is a duplicate), then go on to the payment's own page.
 *
 * Only the paying organisation comes back here: any other organisation's id is a 404.
 */
const RETURN_QUERY_TIMEOUT_MS = 3_000;

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organization } = await requireOrgContext(request, context);
  const paymentId = requireUuidParam(params.paymentId);
  const payment = await scoped(() => getPaymentForOrganization(context.db, organization.organizationId, paymentId, { as: "payer" }));
  try {
    // A person is waiting: a short budget, and the callback covers whatever this misses.
    const deps = paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: RETURN_QUERY_TIMEOUT_MS, maxAttempts: 1 });
    await syncPaymentFromGateway(context.db, payment.id, deps);
  } catch (error) {
    // The gateway being unreachable must not strand the user: the callback (or the next visit) will tell.
    if (!(error instanceof EpayGatewayError)) throw error;
    context.logger.warn({ paymentId: payment.id, err: error }, "e-Pay status query on return failed");
  }
  return redirect(payment.returnPath, { headers: { "Cache-Control": "no-store" } });
}
