import type { ActionFunctionArgs } from "@remix-run/node";
import { EPAY_LIMITS, EPAY_SIGNATURE_HEADER, verifySignature, zodFields } from "~/domain/payments";
import { applyPayoutCallback, payoutCallbackSchema } from "~/domain/settlement";
import { isDomainError, readBodyLimited } from "~/domain/shared";

/**
 * `POST /api/v1/payouts/callback` — the e-Pay gateway tells us what happened to one try of a
 * payout (contracts/payouts.ts). Verified before anything is read into the database, like the
 * payments callback: signature over the raw body with ±300 s tolerance, body size, event shape.
 * Applied through the same function as the send step's own answer, so duplicates and late or
 * out-of-order notices are harmless. Any 2xx tells the gateway to stop retrying.
 */

const SIGNATURE_ERRORS = {
  missing: { status: 400, code: "signature_missing", message: "the X-Epay-Signature header is required" },
  malformed: { status: 400, code: "signature_malformed", message: "the X-Epay-Signature header must be t=<unix seconds>,v1=<hex>" },
  expired: { status: 400, code: "signature_expired", message: "the signature timestamp is outside the accepted window of ±300 s" },
  mismatch: { status: 401, code: "signature_invalid", message: "the signature does not match the body" },
} as const;

function jsonError(status: number, code: string, message: string, fields: Record<string, string> = {}): Response {
  return Response.json({ error: { code, message, fields } }, { status, headers: { "Cache-Control": "no-store" } });
}

export async function action({ request, context }: ActionFunctionArgs) {
  if (request.method !== "POST") return jsonError(405, "method_not_allowed", "use POST");
  if (!/^application\/json\b/i.test(request.headers.get("content-type") ?? "")) {
    return jsonError(415, "unsupported_media_type", "the body must be application/json", { "Content-Type": "must be application/json" });
  }
  if (Number(request.headers.get("content-length") ?? "0") > EPAY_LIMITS.callbackBodyBytesMax) {
    return jsonError(413, "body_too_large", `the body is over ${EPAY_LIMITS.callbackBodyBytesMax} bytes`, { body: "too large" });
  }
  const body = await readBodyLimited(request.body, EPAY_LIMITS.callbackBodyBytesMax);
  if (body === null) return jsonError(413, "body_too_large", `the body is over ${EPAY_LIMITS.callbackBodyBytesMax} bytes`, { body: "too large" });

  const log = context.logger.child({ component: "epay-payout-callback" });
  const check = verifySignature(context.config.epaySecret, body, request.headers.get(EPAY_SIGNATURE_HEADER), { now: new Date() });
  if (!check.ok) {
    const e = SIGNATURE_ERRORS[check.problem];
    log.warn({ problem: check.problem }, "e-Pay payout callback refused");
    return jsonError(e.status, e.code, e.message, { "X-Epay-Signature": check.problem });
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return jsonError(400, "invalid_json", "the body is not valid JSON", { body: "not JSON" });
  }
  const parsed = payoutCallbackSchema.safeParse(json);
  if (!parsed.success) {
    const fields = zodFields(parsed.error);
    const [field, problem] = Object.entries(fields)[0] ?? ["body", "invalid"];
    return jsonError(400, "invalid_event", `${field}: ${problem}`, fields);
  }
  try {
    const { outcome } = await applyPayoutCallback(context.db, parsed.data, new Date());
    return Response.json({ received: true, outcome }, { status: 200, headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    if (isDomainError(error) && error.code === "not_found") {
      log.warn({ eventId: parsed.data.event_id, reference: parsed.data.merchant_payout_reference }, "e-Pay payout callback for no payout of ours");
      return jsonError(400, "unknown_payout", error.message, error.fields);
    }
    if (isDomainError(error) && error.code === "validation") return jsonError(422, "amount_mismatch", error.message, error.fields);
    throw error;
  }
}
