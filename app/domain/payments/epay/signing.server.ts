import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * e-Pay message signing, both directions (our requests, the gateway's answers and callbacks).
 *
 *   X-Epay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>
 *
 * For a callback or an answer the payload is the raw body. For a request to the gateway it is
 * `<METHOD> <path?query>\n<body>`, so a signed GET for one statement cannot be replayed as another,
 * and a signed body cannot be sent to another endpoint. The timestamp bounds replay to the
 * tolerance window; event ids (deduplicated) and merchant references (idempotent at the gateway)
 * make a replay inside the window harmless.
 *
 * Only node:crypto primitives: createHmac to sign, timingSafeEqual to compare.
 */

export const EPAY_SIGNATURE_HEADER = "x-epay-signature";
export const EPAY_MERCHANT_HEADER = "x-epay-merchant";
/** Sandbox-only test directives (JSON); a real gateway ignores the header. */
export const EPAY_SANDBOX_HEADER = "x-epay-sandbox";

/** ±5 minutes: clocks drift, but an intercepted message must not stay usable for long. */
export const SIGNATURE_TOLERANCE_S = 300;
/** A header longer than this is not ours (a few signatures at most during a secret rotation). */
const SIGNATURE_HEADER_CHARS_MAX = 1_024;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

export type SignatureProblem = "missing" | "malformed" | "expired" | "mismatch";

export type SignatureCheck = { ok: true; timestampS: number } | { ok: false; problem: SignatureProblem };

export function unixSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

function hmacHex(secret: string, timestampS: number, payload: string): string {
  return createHmac("sha256", secret).update(`${timestampS}.${payload}`, "utf8").digest("hex");
}

/** The payload signed for a request to the gateway. */
export function requestSigningPayload(method: string, pathWithQuery: string, body: string): string {
  return `${method.toUpperCase()} ${pathWithQuery}\n${body}`;
}

/** The header value for `payload` signed at `timestampS` (the sender's clock, in unix seconds). */
export function signPayload(secret: string, payload: string, timestampS: number): string {
  if (!secret) throw new Error("epay: signing secret is empty");
  return `t=${timestampS},v1=${hmacHex(secret, timestampS, payload)}`;
}

/**
 * Check a signature header against the payload. The window is checked before the HMAC: a message
 * outside it is refused as `expired` whatever it says, so an old capture earns nothing.
 */
export function verifySignature(
  secret: string,
  payload: string,
  header: string | null | undefined,
  options: { now: Date; toleranceS?: number },
): SignatureCheck {
  if (!header) return { ok: false, problem: "missing" };
  if (header.length > SIGNATURE_HEADER_CHARS_MAX) return { ok: false, problem: "malformed" };
  let timestampS: number | null = null;
  const candidates: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 1) return { ok: false, problem: "malformed" };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (!/^\d{1,12}$/.test(value)) return { ok: false, problem: "malformed" };
      timestampS = Number(value);
    } else if (key === "v1") {
      if (!HEX_SHA256.test(value)) return { ok: false, problem: "malformed" };
      candidates.push(value);
    }
    // Other schemes (v0, future versions) are ignored, as their senders expect.
  }
  if (timestampS === null || candidates.length === 0) return { ok: false, problem: "malformed" };
  const toleranceS = options.toleranceS ?? SIGNATURE_TOLERANCE_S;
  if (Math.abs(unixSeconds(options.now) - timestampS) > toleranceS) return { ok: false, problem: "expired" };
  const expected = Buffer.from(hmacHex(secret, timestampS, payload), "hex");
  // Compare against every candidate (no early exit), so timing says nothing about which matched.
  let matched = false;
  for (const candidate of candidates) {
    const given = Buffer.from(candidate, "hex");
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched ? { ok: true, timestampS } : { ok: false, problem: "mismatch" };
}
