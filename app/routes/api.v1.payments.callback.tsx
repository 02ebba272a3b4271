import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { EPAY_LIMITS, EPAY_SIGNATURE_HEADER, EpayCallbackError, epayGatewayFromConfig, applyGatewayEvent } from "~/domain/payments";
import { isDomainError, readBodyLimited } from "~/domain/shared";

/**
 * `POST /api/v1/payments/callback` — the e-Pay gateway tells us what happened.
 *
 * Verified before anything is read into the database: signature over `t.body` with ±300 s
 * tolerance (missing/malformed/expired → 400, forged → 401), body ≤ 64 KiB (413), JSON event shape
 * (400 naming the field). Then applied in one transaction, deduplicated by event id: a duplicate
 * answers 200 and changes nothing. An event for no payment of ours is 400; an amount that differs
 * from ours is recorded and refused with 422. Any 2xx tells the gateway to stop retrying.
 */

function jsonError(status: number, code: string, message: string, fields: Record<string, string> = {}): Response {
  return Response.json({ error: { code, message, fields } }, { status, headers: { "Cache-Control": "no-store" } });
}

export async function action({ request, context }: ActionFunctionArgs) {
  if (request.method !== "POST") return jsonError(405, "method_not_allowed", "use POST");
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(contentType)) {
    return jsonError(415, "unsupported_media_type", "the body must be application/json", { "Content-Type": "must be application/json" });
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > EPAY_LIMITS.callbackBodyBytesMax) {
    return jsonError(413, "body_too_large", `the body is over ${EPAY_LIMITS.callbackBodyBytesMax} bytes`, { body: "too large" });
  }
  const body = await readBodyLimited(request.body, EPAY_LIMITS.callbackBodyBytesMax);
  if (body === null) return jsonError(413, "body_too_large", `the body is over ${EPAY_LIMITS.callbackBodyBytesMax} bytes`, { body: "too large" });

  const log = context.logger.child({ component: "epay-callback" });
  let event;
  try {
    event = epayGatewayFromConfig(context.config).parseCallback(body, request.headers.get(EPAY_SIGNATURE_HEADER), new Date());
  } catch (error) {
    if (error instanceof EpayCallbackError) {
      log.warn({ code: error.code, status: error.status }, "e-Pay callback refused");
      return jsonError(error.status, error.code, error.message, error.fields);
    }
    throw error;
  }

  try {
    const result = await applyGatewayEvent(context.db, event, "callback", { logger: log, now: new Date() });
    if (!result.duplicate && result.outcome === "refused_amount_mismatch") {
      return jsonError(422, "amount_mismatch", result.detail ?? "the amount differs from the payment's", { amount_fen: "differs from ours" });
    }
    return Response.json(
      { received: true, duplicate: result.duplicate, outcome: result.outcome, payment_status: result.payment.status },
      { status: 200, headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    if (isDomainError(error) && error.code === "not_found") {
      log.warn({ eventId: event.event_id, merchantReference: event.merchant_reference }, "e-Pay callback for an unknown payment or refund");
      return jsonError(400, "unknown_payment", error.message, error.fields);
    }
    throw error;
  }
}

export async function loader(_args: LoaderFunctionArgs) {
  return jsonError(405, "method_not_allowed", "the e-Pay callback accepts POST only");
}
