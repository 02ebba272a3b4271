import type { z } from "zod";
import {
  createPaymentResponseSchema,
  EPAY_LIMITS,
  EpayCallbackError,
  EpayGatewayError,
  gatewayErrorBodySchema,
  gatewayEventSchema,
  parseStatementCsv,
  paymentStateResponseSchema,
  payoutResponseSchema,
  refundResponseSchema,
  zodFields,
  type CreatePaymentRequest,
  type EpayGateway,
  type GatewayEvent,
  type PayoutRequest,
  type RefundRequest,
  type SandboxDirectives,
} from "./gateway.server";
import { isBusinessDate, readBodyLimited } from "../../shared";
import {
  EPAY_MERCHANT_HEADER,
  EPAY_SANDBOX_HEADER,
  EPAY_SIGNATURE_HEADER,
  requestSigningPayload,
  signPayload,
  unixSeconds,
  verifySignature,
  type SignatureProblem,
} from "./signing.server";

/**
 * The e-Pay adapter over HTTP. Every request is signed; every answer must carry a valid signature
 * too, because a status answer moves money on our side. Each call has a timeout; calls that fail
 * in a way that leaves the outcome unknown (network, timeout, 5xx, 429) are retried a capped number
 * of times with backoff, which is safe because every call is idempotent at the gateway (the
 * merchant reference, the merchant refund reference, or a read).
 */

export interface HttpEpayGatewayOptions {
  /** e.g. `https://epay.example.com` or, for the sandbox, `http://localhost:3000/sandbox/epay`. */
  baseUrl: string;
  merchantId: string;
  secret: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts in all, first included. */
  maxAttempts?: number;
  /** Sent as X-Epay-Sandbox on every request; the real gateway ignores it. */
  sandboxDirectives?: SandboxDirectives;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export const HTTP_CLIENT_DEFAULTS = {
  timeoutMs: 10_000,
  maxAttempts: 3,
  maxAttemptsCap: 5,
  backoffBaseMs: 200,
  backoffCapMs: 2_000,
} as const;

const CALLBACK_ERRORS: Record<SignatureProblem, { status: number; code: string; message: string }> = {
  missing: { status: 400, code: "signature_missing", message: "the X-Epay-Signature header is required" },
  malformed: { status: 400, code: "signature_malformed", message: "the X-Epay-Signature header must be t=<unix seconds>,v1=<hex>" },
  expired: { status: 400, code: "signature_expired", message: "the signature timestamp is outside the accepted window of ±300 s" },
  mismatch: { status: 401, code: "signature_invalid", message: "the signature does not match the body" },
};

/** Verify a callback's signature and parse its body into an event. */
export function parseSignedCallback(secret: string, rawBody: string, signatureHeader: string | null, now: Date): GatewayEvent {
  if (Buffer.byteLength(rawBody, "utf8") > EPAY_LIMITS.callbackBodyBytesMax) {
    throw new EpayCallbackError(413, "body_too_large", `the body is over ${EPAY_LIMITS.callbackBodyBytesMax} bytes`);
  }
  const check = verifySignature(secret, rawBody, signatureHeader, { now });
  if (!check.ok) {
    const e = CALLBACK_ERRORS[check.problem];
    throw new EpayCallbackError(e.status, e.code, e.message, { "X-Epay-Signature": check.problem });
  }
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw new EpayCallbackError(400, "invalid_json", "the body is not valid JSON", { body: "not JSON" });
  }
  const parsed = gatewayEventSchema.safeParse(json);
  if (!parsed.success) {
    const fields = zodFields(parsed.error);
    const [field, problem] = Object.entries(fields)[0] ?? ["body", "invalid"];
    throw new EpayCallbackError(400, "invalid_event", `${field}: ${problem}`, fields);
  }
  return parsed.data;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function createHttpEpayGateway(options: HttpEpayGatewayOptions): EpayGateway {
  const base = new URL(options.baseUrl.replace(/\/+$/, "") + "/");
  const timeoutMs = options.timeoutMs ?? HTTP_CLIENT_DEFAULTS.timeoutMs;
  const maxAttempts = Math.min(Math.max(options.maxAttempts ?? HTTP_CLIENT_DEFAULTS.maxAttempts, 1), HTTP_CLIENT_DEFAULTS.maxAttemptsCap);
  const doFetch = options.fetch ?? fetch;
  const directives = options.sandboxDirectives ? JSON.stringify(options.sandboxDirectives) : null;
  if (!options.secret) throw new Error("epay: the gateway secret (EPAY_SECRET) is empty");

  async function once(method: "GET" | "POST", url: URL, body: string, maxBytes: number) {
    const headers: Record<string, string> = {
      Accept: "application/json",
      [EPAY_MERCHANT_HEADER]: options.merchantId,
      // Signed per attempt with the wall clock: the wire timestamp is when this request leaves, so a retry gets a fresh one.
      [EPAY_SIGNATURE_HEADER]: signPayload(options.secret, requestSigningPayload(method, url.pathname + url.search, body), unixSeconds(new Date())),
    };
    if (method === "POST") headers["Content-Type"] = "application/json";
    if (directives) headers[EPAY_SANDBOX_HEADER] = directives;
    const response = await doFetch(url, {
      method,
      headers,
      body: method === "POST" ? body : undefined,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
    const text = await readBodyLimited(response.body, maxBytes);
    return { response, text };
  }

  /** One call with capped retries; returns the verified body text of a 2xx answer. */
  async function call(method: "GET" | "POST", path: string, payload: object | null, maxBytes: number): Promise<string> {
    const url = new URL(path.replace(/^\//, ""), base);
    const body = payload ? JSON.stringify(payload) : "";
    let lastError: EpayGatewayError | null = null;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) {
        await sleep(Math.min(HTTP_CLIENT_DEFAULTS.backoffCapMs, HTTP_CLIENT_DEFAULTS.backoffBaseMs * 2 ** (attempt - 2)));
      }
      let result: Awaited<ReturnType<typeof once>>;
      try {
        result = await once(method, url, body, maxBytes);
      } catch (error) {
        lastError = new EpayGatewayError("unavailable", `e-Pay ${method} ${url.pathname}: ${(error as Error).message}`, { cause: error });
        continue;
      }
      const { response, text } = result;
      if (text === null) {
        throw new EpayGatewayError("protocol", `e-Pay ${method} ${url.pathname}: answer over ${maxBytes} bytes`, { status: response.status });
      }
      if (response.status >= 500 || response.status === 429) {
        lastError = new EpayGatewayError("unavailable", `e-Pay ${method} ${url.pathname}: HTTP ${response.status}`, { status: response.status });
        continue;
      }
      // Refusals are signed too: a refused refund releases the merchant's hold, so a forged
      // refusal must not be believed any more than a forged success.
      // The answer's wire timestamp is checked against this server's clock as it arrives.
      const check = verifySignature(options.secret, text, response.headers.get(EPAY_SIGNATURE_HEADER), { now: new Date() });
      if (!check.ok) {
        throw new EpayGatewayError("protocol", `e-Pay answer to ${method} ${url.pathname} failed signature check (${check.problem})`, {
          status: response.status,
        });
      }
      if (response.status >= 400) {
        let code = "refused";
        let message = `e-Pay refused ${method} ${url.pathname} with HTTP ${response.status}`;
        let fields: Record<string, string> = {};
        try {
          const parsed = gatewayErrorBodySchema.safeParse(JSON.parse(text));
          if (parsed.success) {
            code = parsed.data.error.code;
            message = parsed.data.error.message;
            fields = parsed.data.error.fields ?? {};
          }
        } catch {
          // not JSON: keep the generic message
        }
        throw new EpayGatewayError("refused", message, { status: response.status, code, fields });
      }
      return text;
    }
    throw lastError ?? new EpayGatewayError("unavailable", `e-Pay ${method} ${url.pathname}: no attempt made`);
  }

  function parseJson<S extends z.ZodTypeAny>(schema: S, text: string, what: string): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new EpayGatewayError("protocol", `e-Pay ${what}: answer is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new EpayGatewayError("protocol", `e-Pay ${what}: unexpected answer (${JSON.stringify(zodFields(parsed.error))})`);
    }
    return parsed.data;
  }

  const pathId = (id: string) => encodeURIComponent(id);

  return {
    async createPayment(input) {
      const request: CreatePaymentRequest = {
        merchant_reference: input.merchantReference,
        amount_fen: input.amountFen,
        currency: "CNY",
        description: input.description,
        merchant_display_name: input.merchantDisplayName,
        notify_url: input.notifyUrl,
        return_url: input.returnUrl,
      };
      const text = await call("POST", "api/payments", request, EPAY_LIMITS.responseBodyBytesMax);
      const answer = parseJson(createPaymentResponseSchema, text, "create payment");
      if (answer.merchant_reference !== input.merchantReference || answer.amount_fen !== input.amountFen) {
        throw new EpayGatewayError("protocol", "e-Pay create payment: the answer is for another payment or amount");
      }
      return answer;
    },

    async getPayment(gatewayPaymentId) {
      const text = await call("GET", `api/payments/${pathId(gatewayPaymentId)}`, null, EPAY_LIMITS.responseBodyBytesMax);
      const answer = parseJson(paymentStateResponseSchema, text, "get payment");
      if (answer.gateway_payment_id !== gatewayPaymentId) {
        throw new EpayGatewayError("protocol", "e-Pay get payment: the answer is for another payment");
      }
      return answer;
    },

    async refund(input) {
      const request: RefundRequest = {
        merchant_refund_reference: input.merchantRefundReference,
        amount_fen: input.amountFen,
        reason: input.reason,
      };
      const text = await call("POST", `api/payments/${pathId(input.gatewayPaymentId)}/refunds`, request, EPAY_LIMITS.responseBodyBytesMax);
      const answer = parseJson(refundResponseSchema, text, "refund");
      if (answer.merchant_refund_reference !== input.merchantRefundReference || answer.amount_fen !== input.amountFen) {
        throw new EpayGatewayError("protocol", "e-Pay refund: the answer is for another refund or amount");
      }
      return answer;
    },

    async payout(input) {
      const request: PayoutRequest = {
        merchant_payout_reference: input.merchantPayoutReference,
        amount_fen: input.amountFen,
        currency: "CNY",
        bank_name: input.bankName,
        account_number: input.accountNumber,
        account_name: input.accountName,
        remark: input.remark,
      };
      const text = await call("POST", "api/payouts", request, EPAY_LIMITS.responseBodyBytesMax);
      const answer = parseJson(payoutResponseSchema, text, "payout");
      if (answer.merchant_payout_reference !== input.merchantPayoutReference || answer.amount_fen !== input.amountFen) {
        throw new EpayGatewayError("protocol", "e-Pay payout: the answer is for another payout or amount");
      }
      return answer;
    },

    async statement(date) {
      if (!isBusinessDate(date)) throw new EpayGatewayError("refused", `statement date ${date} must be YYYY-MM-DD`, { fields: { date: "YYYY-MM-DD" } });
      const csv = await call("GET", `api/statements/${date}`, null, EPAY_LIMITS.statementBytesMax);
      try {
        return { date, csv, rows: parseStatementCsv(csv) };
      } catch (error) {
        throw new EpayGatewayError("protocol", `e-Pay statement ${date}: ${(error as Error).message}`, { cause: error });
      }
    },

    parseCallback(rawBody, signatureHeader, now) {
      return parseSignedCallback(options.secret, rawBody, signatureHeader, now);
    },
  };
}
