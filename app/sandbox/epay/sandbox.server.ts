import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { sql, type Selectable } from "kysely";
import type { z } from "zod";
import type { Db } from "../../../db";
import type { SandboxEpayPaymentsTable } from "../../../db/schema";
import type { AppConfig } from "../../config.server";
import type { Logger } from "../../logger.server";
import { createPaymentRequestSchema, EPAY_LIMITS, EPAY_MERCHANT_HEADER, EPAY_SANDBOX_HEADER, EPAY_SIGNATURE_HEADER, formatStatementCsv, refundRequestSchema, requestSigningPayload, sandboxDirectivesSchema, shanghaiDayBounds, signPayload, unixSeconds, verifySignature, zodFields, type CreatePaymentResponse, type GatewayEvent, type GatewayEventType, type PaymentStateResponse, type RefundResponse, type SandboxDirectives, type StatementRow } from "../../domain/payments";
import { applyRateBps, isBusinessDate, readBodyLimited } from "../../domain/shared";

/**
 * The sandbox e-Pay gateway: a stand-in for the bank's real gateway, built to behave like it — and
 * like another company's system. It has its own tables (`sandbox_epay_*`), is reached only over
 * HTTP under /sandbox/epay (EPAY_BASE_URL), and shares nothing with our side but the wire format
 * and the merchant secret.
 *
 * Like a real gateway it:
 *  - authenticates every API request by HMAC signature and merchant id, and signs every answer;
 *  - is idempotent on the merchant's references (payment and refund);
 *  - shows a pay page; on submit records the outcome, then POSTs a signed callback to notify_url
 *    and redirects the browser to return_url;
 *  - delivers callbacks at least once: retried (capped) on failure, and under EPAY_SANDBOX_CHAOS=1
 *    twice each with random delays, so duplicates arrive and later events overtake earlier ones;
 *  - serves a daily statement (CSV) of the money that moved, by Asia/Shanghai business day.
 *
 * Test directives (X-Epay-Sandbox, see sandboxDirectivesSchema) make the bad days reproducible.
 * Delays and retries run on timers in this process: fine for a sandbox (a lost timer is a lost
 * callback, which real gateways also produce and our status query repairs), never for our side.
 */

export interface SandboxConfig {
  merchantId: string;
  secret: string;
  /** The sandbox's own public base URL (pay pages live under it). */
  baseUrl: string;
  chaos: boolean;
}

export interface SandboxDeps {
  db: Db;
  config: SandboxConfig;
  logger: Logger;
}

export function sandboxConfigFrom(
  config: Pick<AppConfig, "epayMerchantId" | "epaySecret" | "epayBaseUrl" | "epaySandboxChaos">,
): SandboxConfig {
  return { merchantId: config.epayMerchantId, secret: config.epaySecret, baseUrl: config.epayBaseUrl, chaos: config.epaySandboxChaos };
}

export const SANDBOX_LIMITS = {
  requestBodyBytesMax: 64 * 1024,
  directivesCharsMax: 1_024,
  deliveryTimeoutMs: 10_000,
  deliveryAttemptsMax: 5,
  deliveryBackoffBaseMs: 1_000,
  chaosCopies: 2,
  chaosDelayMaxMs: 1_500,
  releaseBatchMax: 500,
} as const;

/** A refusal the sandbox answers with: `{ error: { code, message, fields } }`, signed. */
export class SandboxHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = "SandboxHttpError";
  }
}

type SandboxPaymentRow = Selectable<SandboxEpayPaymentsTable>;

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

// ---------------------------------------------------------------------------------------------
// HTTP plumbing for the API routes

function signedResponse(config: SandboxConfig, status: number, body: string, contentType: string): Response {
  return new Response(body, {
    status,
    headers: {
      "Content-Type": contentType,
      "Cache-Control": "no-store",
      [EPAY_SIGNATURE_HEADER]: signPayload(config.secret, body, unixSeconds(new Date())),
    },
  });
}

export function sandboxJson(config: SandboxConfig, status: number, data: unknown): Response {
  return signedResponse(config, status, JSON.stringify(data), "application/json; charset=utf-8");
}

function errorResponse(config: SandboxConfig, error: SandboxHttpError): Response {
  return sandboxJson(config, error.status, { error: { code: error.code, message: error.message, fields: error.fields } });
}

export interface SandboxApiRequest {
  deps: SandboxDeps;
  /** The raw body (empty for GET). */
  body: string;
  directives: SandboxDirectives;
}

/**
 * Every sandbox API route goes through here: the sandbox can be switched off (404), the request must
 * come from our merchant, be signed over method, path and body, and carry sane directives; any
 * refusal or failure is answered as signed JSON, never as an HTML error page.
 */
export async function handleSandboxApi(
  request: Request,
  context: { db: Db; config: AppConfig; logger: Logger },
  handler: (req: SandboxApiRequest) => Promise<Response>,
): Promise<Response> {
  if (!context.config.epaySandboxEnabled) return new Response("Not found", { status: 404 });
  const config = sandboxConfigFrom(context.config);
  const deps: SandboxDeps = { db: context.db, config, logger: context.logger.child({ component: "epay-sandbox" }) };
  try {
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > SANDBOX_LIMITS.requestBodyBytesMax) {
      throw new SandboxHttpError(413, "body_too_large", `the body is over ${SANDBOX_LIMITS.requestBodyBytesMax} bytes`);
    }
    const body = await readBodyLimited(request.body, SANDBOX_LIMITS.requestBodyBytesMax);
    if (body === null) throw new SandboxHttpError(413, "body_too_large", `the body is over ${SANDBOX_LIMITS.requestBodyBytesMax} bytes`);
    if (request.headers.get(EPAY_MERCHANT_HEADER) !== config.merchantId) {
      throw new SandboxHttpError(401, "unknown_merchant", "X-Epay-Merchant names no merchant of this gateway", { [EPAY_MERCHANT_HEADER]: "unknown" });
    }
    const url = new URL(request.url);
    const check = verifySignature(config.secret, requestSigningPayload(request.method, url.pathname + url.search, body), request.headers.get(EPAY_SIGNATURE_HEADER), { now: new Date() });
    if (!check.ok) {
      const status = check.problem === "mismatch" ? 401 : 400;
      throw new SandboxHttpError(status, `signature_${check.problem}`, `request signature ${check.problem}`, { [EPAY_SIGNATURE_HEADER]: check.problem });
    }
    const directives = parseDirectives(request.headers.get(EPAY_SANDBOX_HEADER));
    return await handler({ deps, body, directives });
  } catch (error) {
    if (error instanceof SandboxHttpError) return errorResponse(config, error);
    deps.logger.error({ err: error }, "sandbox e-Pay request failed");
    return errorResponse(config, new SandboxHttpError(500, "internal", "the sandbox gateway failed to handle the request"));
  }
}

function parseDirectives(header: string | null): SandboxDirectives {
  if (!header) return {};
  if (header.length > SANDBOX_LIMITS.directivesCharsMax) {
    throw new SandboxHttpError(400, "invalid_sandbox_directives", "X-Epay-Sandbox is too long", { [EPAY_SANDBOX_HEADER]: "too long" });
  }
  let json: unknown;
  try {
    json = JSON.parse(header);
  } catch {
    throw new SandboxHttpError(400, "invalid_sandbox_directives", "X-Epay-Sandbox must be JSON", { [EPAY_SANDBOX_HEADER]: "not JSON" });
  }
  const parsed = sandboxDirectivesSchema.safeParse(json);
  if (!parsed.success) {
    throw new SandboxHttpError(400, "invalid_sandbox_directives", "X-Epay-Sandbox has unknown or out-of-range directives", zodFields(parsed.error));
  }
  return parsed.data;
}

export function parseJsonBody<S extends z.ZodTypeAny>(body: string, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new SandboxHttpError(400, "invalid_json", "the body is not valid JSON", { body: "not JSON" });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const fields = zodFields(parsed.error);
    const [field, problem] = Object.entries(fields)[0] ?? ["body", "invalid"];
    throw new SandboxHttpError(400, "invalid_request", `${field}: ${problem}`, fields);
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Payments

function payUrl(config: SandboxConfig, gatewayPaymentId: string): string {
  return `${config.baseUrl}/pay/${encodeURIComponent(gatewayPaymentId)}`;
}

export async function sandboxCreatePayment(
  deps: SandboxDeps,
  rawBody: string,
  directives: SandboxDirectives,
): Promise<{ status: 200 | 201; body: CreatePaymentResponse }> {
  const input = parseJsonBody(rawBody, createPaymentRequestSchema);
  const gatewayPaymentId = newId("ep");
  const inserted = await deps.db
    .insertInto("sandbox_epay_payments")
    .values({
      gateway_payment_id: gatewayPaymentId,
      merchant_id: deps.config.merchantId,
      merchant_reference: input.merchant_reference,
      amount_fen: input.amount_fen,
      currency: input.currency,
      description: input.description,
      merchant_display_name: input.merchant_display_name,
      notify_url: input.notify_url,
      return_url: input.return_url,
      directives: JSON.stringify(directives),
    })
    .onConflict((oc) => oc.columns(["merchant_id", "merchant_reference"]).doNothing())
    .returningAll()
    .executeTakeFirst();
  const row =
    inserted ??
    (await deps.db
      .selectFrom("sandbox_epay_payments")
      .selectAll()
      .where("merchant_id", "=", deps.config.merchantId)
      .where("merchant_reference", "=", input.merchant_reference)
      .executeTakeFirstOrThrow());
  if (row.amount_fen !== input.amount_fen || row.currency !== input.currency) {
    throw new SandboxHttpError(409, "merchant_reference_conflict", "merchant_reference was used for another amount", {
      merchant_reference: "already used with another amount_fen",
    });
  }
  return {
    status: inserted ? 201 : 200,
    body: {
      gateway_payment_id: row.gateway_payment_id,
      merchant_reference: row.merchant_reference,
      amount_fen: row.amount_fen,
      status: row.status,
      pay_url: payUrl(deps.config, row.gateway_payment_id),
    },
  };
}

async function findPayment(db: Db, merchantId: string, gatewayPaymentId: string): Promise<SandboxPaymentRow | undefined> {
  if (gatewayPaymentId.length > EPAY_LIMITS.idCharsMax) return undefined;
  return db
    .selectFrom("sandbox_epay_payments")
    .selectAll()
    .where("gateway_payment_id", "=", gatewayPaymentId)
    .where("merchant_id", "=", merchantId)
    .executeTakeFirst();
}

function eventFromRow(body: string): GatewayEvent {
  return JSON.parse(body) as GatewayEvent;
}

export async function sandboxGetPayment(deps: SandboxDeps, gatewayPaymentId: string): Promise<PaymentStateResponse> {
  const payment = await findPayment(deps.db, deps.config.merchantId, gatewayPaymentId);
  if (!payment) throw new SandboxHttpError(404, "payment_not_found", "no such payment", { gateway_payment_id: "not found" });
  const events = await deps.db
    .selectFrom("sandbox_epay_events")
    .select("body")
    .where("gateway_payment_id", "=", gatewayPaymentId)
    .orderBy("occurred_at")
    .orderBy("event_id")
    .limit(EPAY_LIMITS.eventsPerPaymentMax)
    .execute();
  return {
    gateway_payment_id: payment.gateway_payment_id,
    merchant_reference: payment.merchant_reference,
    amount_fen: payment.amount_fen,
    refunded_fen: payment.refunded_fen,
    status: payment.status,
    events: events.map((e) => eventFromRow(e.body)),
  };
}

/** The form token on the pay page: proves a submission came from a page this gateway rendered. */
export function payFormToken(config: SandboxConfig, gatewayPaymentId: string): string {
  return createHmac("sha256", config.secret).update(`pay-form:${gatewayPaymentId}`).digest("hex");
}

function formTokenValid(config: SandboxConfig, gatewayPaymentId: string, token: string): boolean {
  const expected = Buffer.from(payFormToken(config, gatewayPaymentId), "hex");
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(token) ? token : "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface PayPageData {
  gatewayPaymentId: string;
  merchantDisplayName: string;
  amountFen: number;
  description: string;
  merchantReference: string;
  status: SandboxPaymentRow["status"];
  returnUrl: string;
  formToken: string;
  createdAt: Date;
}

export async function sandboxPayPage(deps: SandboxDeps, gatewayPaymentId: string): Promise<PayPageData | null> {
  const payment = await findPayment(deps.db, deps.config.merchantId, gatewayPaymentId);
  if (!payment) return null;
  return {
    gatewayPaymentId: payment.gateway_payment_id,
    merchantDisplayName: payment.merchant_display_name,
    amountFen: payment.amount_fen,
    description: payment.description,
    merchantReference: payment.merchant_reference,
    status: payment.status,
    returnUrl: payment.return_url,
    formToken: payFormToken(deps.config, payment.gateway_payment_id),
    createdAt: payment.created_at,
  };
}

/**
 * The pay page's submit: record the outcome (once: a second submit finds the payment completed and
 * changes nothing), deliver the callback, and tell the page where to send the browser.
 */
export async function sandboxCompletePayment(
  deps: SandboxDeps,
  input: { gatewayPaymentId: string; outcome: "succeeded" | "failed"; formToken: string },
): Promise<{ returnUrl: string; status: SandboxPaymentRow["status"] }> {
  if (!formTokenValid(deps.config, input.gatewayPaymentId, input.formToken)) {
    throw new SandboxHttpError(403, "invalid_form_token", "the payment form has expired or was not issued by this gateway", { form_token: "invalid" });
  }
  const result = await deps.db.transaction().execute(async (trx) => {
    const payment = await trx
      .selectFrom("sandbox_epay_payments")
      .selectAll()
      .where("gateway_payment_id", "=", input.gatewayPaymentId)
      .where("merchant_id", "=", deps.config.merchantId)
      .forUpdate()
      .executeTakeFirst();
    if (!payment) throw new SandboxHttpError(404, "payment_not_found", "no such payment");
    if (payment.status !== "pending") return { payment, eventId: null };
    const at = new Date();
    await trx
      .updateTable("sandbox_epay_payments")
      .set({ status: input.outcome, completed_at: at })
      .where("gateway_payment_id", "=", payment.gateway_payment_id)
      .execute();
    const type: GatewayEventType = input.outcome === "succeeded" ? "payment.succeeded" : "payment.failed";
    const eventId = await recordEvent(trx, deps, payment, { type, amountFen: payment.amount_fen, at, refund: null });
    return { payment: { ...payment, status: input.outcome }, eventId };
  });
  if (result.eventId) await dispatchEventDeliveries(deps, result.eventId, { awaitImmediate: true });
  return { returnUrl: result.payment.return_url, status: result.payment.status };
}

// ---------------------------------------------------------------------------------------------
// Refunds

export async function sandboxRefund(
  deps: SandboxDeps,
  gatewayPaymentId: string,
  rawBody: string,
  requestDirectives: SandboxDirectives,
): Promise<{ body: RefundResponse; afterResponse: () => Promise<void> }> {
  const input = parseJsonBody(rawBody, refundRequestSchema);
  const { body, eventId, mode } = await deps.db.transaction().execute(async (trx) => {
    const payment = await trx
      .selectFrom("sandbox_epay_payments")
      .selectAll()
      .where("gateway_payment_id", "=", gatewayPaymentId)
      .where("merchant_id", "=", deps.config.merchantId)
      .forUpdate()
      .executeTakeFirst();
    if (!payment) throw new SandboxHttpError(404, "payment_not_found", "no such payment", { gateway_payment_id: "not found" });
    const directives = { ...storedDirectives(payment), ...requestDirectives };
    const mode = directives.refund_mode ?? (deps.config.chaos ? pick(["sync", "callback_first", "async"] as const) : "sync");

    const existing = await trx
      .selectFrom("sandbox_epay_refunds")
      .selectAll()
      .where("merchant_id", "=", deps.config.merchantId)
      .where("merchant_refund_reference", "=", input.merchant_refund_reference)
      .executeTakeFirst();
    if (existing) {
      if (existing.amount_fen !== input.amount_fen || existing.gateway_payment_id !== gatewayPaymentId) {
        throw new SandboxHttpError(409, "merchant_refund_reference_conflict", "merchant_refund_reference was used for another refund", {
          merchant_refund_reference: "already used",
        });
      }
      const event = await trx
        .selectFrom("sandbox_epay_events")
        .select("body")
        .where("gateway_refund_id", "=", existing.gateway_refund_id)
        .executeTakeFirst();
      const answer: RefundResponse = {
        gateway_refund_id: existing.gateway_refund_id,
        merchant_refund_reference: existing.merchant_refund_reference,
        amount_fen: existing.amount_fen,
        status: existing.status,
        event: event ? eventFromRow(event.body) : null,
      };
      return { body: answer, eventId: null, mode: "sync" as const };
    }
    if (payment.status !== "succeeded") {
      throw new SandboxHttpError(409, "payment_not_succeeded", `a ${payment.status} payment cannot be refunded`, { gateway_payment_id: payment.status });
    }
    const leftFen = payment.amount_fen - payment.refunded_fen;
    if (input.amount_fen > leftFen) {
      throw new SandboxHttpError(422, "amount_exceeds_refundable", `at most ${leftFen} fen can be refunded`, { amount_fen: `at most ${leftFen}` });
    }
    const outcome = directives.refund_outcome ?? "succeeded";
    const gatewayRefundId = newId("er");
    await trx
      .insertInto("sandbox_epay_refunds")
      .values({
        gateway_refund_id: gatewayRefundId,
        gateway_payment_id: payment.gateway_payment_id,
        merchant_id: deps.config.merchantId,
        merchant_refund_reference: input.merchant_refund_reference,
        amount_fen: input.amount_fen,
        reason: input.reason,
        status: outcome,
      })
      .execute();
    if (outcome === "succeeded") {
      await trx
        .updateTable("sandbox_epay_payments")
        .set({ refunded_fen: sql<number>`refunded_fen + ${input.amount_fen}` })
        .where("gateway_payment_id", "=", payment.gateway_payment_id)
        .execute();
    }
    const eventId = await recordEvent(trx, deps, payment, {
      type: outcome === "succeeded" ? "refund.succeeded" : "refund.failed",
      amountFen: input.amount_fen,
      at: new Date(),
      refund: { gatewayRefundId, merchantRefundReference: input.merchant_refund_reference },
      directives,
    });
    const event = await trx.selectFrom("sandbox_epay_events").select("body").where("event_id", "=", eventId).executeTakeFirstOrThrow();
    const answer: RefundResponse = {
      gateway_refund_id: gatewayRefundId,
      merchant_refund_reference: input.merchant_refund_reference,
      amount_fen: input.amount_fen,
      status: mode === "async" ? "pending" : outcome,
      event: mode === "async" ? null : eventFromRow(event.body),
    };
    return { body: answer, eventId, mode };
  });

  if (eventId && mode === "callback_first") {
    await dispatchEventDeliveries(deps, eventId, { awaitImmediate: true });
    return { body, afterResponse: async () => {} };
  }
  return { body, afterResponse: async () => (eventId ? dispatchEventDeliveries(deps, eventId, { awaitImmediate: false }) : undefined) };
}

// ---------------------------------------------------------------------------------------------
// Statement

/**
 * The gateway's charges (decision 027): 0.1% of each payment, half-even to the fen, taken from the
 * money paid in; a fixed fee per payout, charged on top; refunds free (the payment's fee is kept).
 */
export const SANDBOX_FEES = {
  paymentRateBps: 10,
  payoutFeeFen: 100,
  refundFeeFen: 0,
} as const;

export function sandboxFeeFen(type: StatementRow["type"], grossFen: number): number {
  if (type === "payment.succeeded") return applyRateBps(grossFen, SANDBOX_FEES.paymentRateBps);
  return type === "payout.succeeded" ? SANDBOX_FEES.payoutFeeFen : SANDBOX_FEES.refundFeeFen;
}

function statementRow(r: { gatewayId: string; gatewayPaymentId: string; merchantReference: string; type: StatementRow["type"]; amountFen: number; occurredAt: Date }): StatementRow {
  const feeFen = sandboxFeeFen(r.type, r.amountFen);
  return { ...r, feeFen, netFen: r.type === "payment.succeeded" ? r.amountFen - feeFen : r.amountFen + feeFen };
}

/** Every movement of the instants [from, to), in the gateway's order. */
async function movementsBetween(deps: SandboxDeps, from: Date, to: Date): Promise<StatementRow[]> {
  const events = await deps.db
    .selectFrom("sandbox_epay_events as e")
    .innerJoin("sandbox_epay_payments as p", "p.gateway_payment_id", "e.gateway_payment_id")
    .leftJoin("sandbox_epay_refunds as r", "r.gateway_refund_id", "e.gateway_refund_id")
    .select(["e.event_id", "e.gateway_payment_id", "e.gateway_refund_id", "p.merchant_reference", "r.merchant_refund_reference", "e.type", "e.amount_fen", "e.occurred_at"])
    .where("p.merchant_id", "=", deps.config.merchantId)
    .where("e.type", "in", ["payment.succeeded", "refund.succeeded"])
    .where("e.occurred_at", ">=", from)
    .where("e.occurred_at", "<", to)
    .orderBy("e.occurred_at")
    .orderBy("e.event_id")
    .limit(EPAY_LIMITS.statementRowsMax + 1)
    .execute();
  const payouts = await deps.db
    .selectFrom("sandbox_epay_payouts")
    .select(["gateway_payout_id", "merchant_payout_reference", "amount_fen", "created_at"])
    .where("merchant_id", "=", deps.config.merchantId)
    .where("status", "=", "succeeded")
    .where("created_at", ">=", from)
    .where("created_at", "<", to)
    .orderBy("created_at")
    .orderBy("gateway_payout_id")
    .limit(EPAY_LIMITS.statementRowsMax + 1)
    .execute();
  if (events.length + payouts.length > EPAY_LIMITS.statementRowsMax) {
    throw new SandboxHttpError(413, "statement_too_large", `more than ${EPAY_LIMITS.statementRowsMax} rows from ${from.toISOString()}`);
  }
  const rows = [
    ...events.map((e) =>
      statementRow({
        gatewayId: e.type === "refund.succeeded" ? (e.gateway_refund_id ?? e.event_id) : e.gateway_payment_id,
        gatewayPaymentId: e.gateway_payment_id,
        merchantReference: e.type === "refund.succeeded" ? (e.merchant_refund_reference ?? e.merchant_reference) : e.merchant_reference,
        type: e.type as StatementRow["type"],
        amountFen: Number(e.amount_fen),
        occurredAt: e.occurred_at,
      }),
    ),
    ...payouts.map((p) =>
      statementRow({ gatewayId: p.gateway_payout_id, gatewayPaymentId: "", merchantReference: p.merchant_payout_reference, type: "payout.succeeded", amountFen: Number(p.amount_fen), occurredAt: p.created_at }),
    ),
  ];
  return rows.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || (a.gatewayId < b.gatewayId ? -1 : a.gatewayId > b.gatewayId ? 1 : 0));
}

/** Fewest genuine lines a day needs before chaos spoils it: one line for each fault, one clean. */
export const STATEMENT_CHAOS_MIN_LINES = 5;

/**
 * Which genuine lines chaos spoils (EPAY_SANDBOX_CHAOS=1), chosen by rank of gateway id within the
 * day, so the same day's statement is the same file every time it is asked for (a re-import must
 * find nothing new) and a test can say in advance which line suffers what.
 *  - first: left off (missing on theirs); second: gross one fen higher; third: listed twice;
 *  - last: left off today and listed on the next day's statement (a day late);
 *  - and one made-up payment nobody made (missing on ours).
 */
export function statementChaosPlan(dayRows: readonly StatementRow[]): { dropped?: string; inflated?: string; duplicated?: string; late?: string } {
  if (dayRows.length < STATEMENT_CHAOS_MIN_LINES) return {};
  const ids = dayRows.map((r) => r.gatewayId).sort();
  return { dropped: ids[0], inflated: ids[1], duplicated: ids[2], late: ids[ids.length - 1] };
}

/** The made-up line chaos adds to a day: a payment with a reference that is none of ours. */
export function statementChaosPhantom(date: string): StatementRow {
  const { from } = shanghaiDayBounds(date);
  const digits = date.replaceAll("-", "");
  return statementRow({
    gatewayId: `ep_chaos${digits}`,
    gatewayPaymentId: `ep_chaos${digits}`,
    merchantReference: `chaos-${digits}`,
    type: "payment.succeeded",
    amountFen: 4_321,
    occurredAt: new Date(from.getTime() + 12 * 3600 * 1000),
  });
}

export async function sandboxStatement(deps: SandboxDeps, date: string): Promise<string> {
  if (!isBusinessDate(date)) throw new SandboxHttpError(400, "invalid_date", "date must be a calendar date YYYY-MM-DD", { date: "YYYY-MM-DD" });
  const { from, to } = shanghaiDayBounds(date);
  const today = await movementsBetween(deps, from, to);
  if (!deps.config.chaos) return formatStatementCsv(today);

  const yesterday = await movementsBetween(deps, new Date(from.getTime() - 24 * 3600 * 1000), from);
  const plan = statementChaosPlan(today);
  const lateFromYesterday = statementChaosPlan(yesterday).late;
  const lines: StatementRow[] = [];
  for (const row of today) {
    if (row.gatewayId === plan.dropped || row.gatewayId === plan.late) continue;
    if (row.gatewayId === plan.inflated) {
      lines.push(statementRow({ ...row, amountFen: row.amountFen + 1 }));
      continue;
    }
    lines.push(row);
    if (row.gatewayId === plan.duplicated) lines.push(row);
  }
  const late = yesterday.find((r) => r.gatewayId === lateFromYesterday);
  if (late) lines.push(late);
  if (today.length > 0) lines.push(statementChaosPhantom(date));
  return formatStatementCsv(lines);
}

export function sandboxCsv(config: SandboxConfig, csv: string, filename: string): Response {
  const response = signedResponse(config, 200, csv, "text/csv; charset=utf-8");
  response.headers.set("Content-Disposition", `attachment; filename="${filename}"`);
  return response;
}

// ---------------------------------------------------------------------------------------------
// Events and callback delivery

/** Directives remembered with the payment; the row was written from a parsed header, so this only guards old rows. */
function storedDirectives(payment: SandboxPaymentRow): SandboxDirectives {
  const parsed = sandboxDirectivesSchema.safeParse(payment.directives);
  return parsed.success ? parsed.data : {};
}

function pick<T>(options: readonly T[]): T {
  return options[Math.floor(Math.random() * options.length)];
}

async function recordEvent(
  trx: Db,
  deps: SandboxDeps,
  payment: SandboxPaymentRow,
  input: {
    type: GatewayEventType;
    amountFen: number;
    at: Date;
    refund: { gatewayRefundId: string; merchantRefundReference: string } | null;
    directives?: SandboxDirectives;
  },
): Promise<string> {
  const eventId = newId("evt");
  const event: GatewayEvent = {
    event_id: eventId,
    type: input.type,
    gateway_payment_id: payment.gateway_payment_id,
    merchant_reference: payment.merchant_reference,
    amount_fen: input.amountFen,
    occurred_at: input.at.toISOString(),
    gateway_refund_id: input.refund?.gatewayRefundId ?? null,
    merchant_refund_reference: input.refund?.merchantRefundReference ?? null,
  };
  const body = JSON.stringify(event);
  await trx
    .insertInto("sandbox_epay_events")
    .values({
      event_id: eventId,
      gateway_payment_id: payment.gateway_payment_id,
      gateway_refund_id: input.refund?.gatewayRefundId ?? null,
      type: input.type,
      amount_fen: input.amountFen,
      occurred_at: input.at,
      body,
    })
    .execute();

  const directives = input.directives ?? storedDirectives(payment);
  const copies = directives.callback_copies ?? (deps.config.chaos ? SANDBOX_LIMITS.chaosCopies : 1);
  const rows = Array.from({ length: copies }, (_, i) => {
    const delayMs = directives.callback_delay_ms ?? (deps.config.chaos ? Math.floor(Math.random() * SANDBOX_LIMITS.chaosDelayMaxMs) : 0);
    return {
      event_id: eventId,
      copy_no: i + 1,
      url: payment.notify_url,
      status: directives.hold_callbacks ? ("held" as const) : ("pending" as const),
      deliver_after: new Date(input.at.getTime() + delayMs),
    };
  });
  await trx.insertInto("sandbox_epay_deliveries").values(rows).execute();
  return eventId;
}

/**
 * Deliver the pending copies of one event: those due now concurrently (awaited when asked, so the
 * browser is redirected after the merchant heard), later ones on a timer.
 */
async function dispatchEventDeliveries(deps: SandboxDeps, eventId: string, options: { awaitImmediate: boolean }): Promise<void> {
  const deliveries = await deps.db
    .selectFrom("sandbox_epay_deliveries")
    .select(["id", "deliver_after"])
    .where("event_id", "=", eventId)
    .where("status", "=", "pending")
    .execute();
  const now = Date.now();
  const immediate: Promise<void>[] = [];
  for (const d of deliveries) {
    const waitMs = d.deliver_after.getTime() - now;
    if (waitMs > 0) schedule(() => deliverOnce(deps, d.id), waitMs);
    else immediate.push(deliverOnce(deps, d.id));
  }
  const all = Promise.all(immediate).then(() => undefined);
  if (options.awaitImmediate) await all;
}

function schedule(work: () => Promise<void>, delayMs: number): void {
  const timer = setTimeout(() => void work(), delayMs);
  // A sandbox timer must not keep a stopping process alive.
  timer.unref();
}

/** One delivery attempt; on failure a capped number of retries with backoff, then `failed`. */
async function deliverOnce(deps: SandboxDeps, deliveryId: number): Promise<void> {
  try {
    const delivery = await deps.db
      .selectFrom("sandbox_epay_deliveries as d")
      .innerJoin("sandbox_epay_events as e", "e.event_id", "d.event_id")
      .select(["d.id", "d.url", "d.status", "d.attempts", "e.body", "e.event_id"])
      .where("d.id", "=", deliveryId)
      .executeTakeFirst();
    if (!delivery || delivery.status === "delivered" || delivery.status === "failed") return;
    let statusCode: number | null = null;
    let problem: string | null = null;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", [EPAY_SIGNATURE_HEADER]: signPayload(deps.config.secret, delivery.body, unixSeconds(new Date())) },
        body: delivery.body,
        signal: AbortSignal.timeout(SANDBOX_LIMITS.deliveryTimeoutMs),
        redirect: "manual",
      });
      statusCode = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status >= 300) problem = `HTTP ${response.status}`;
    } catch (error) {
      problem = (error as Error).message;
    }
    const attempts = delivery.attempts + 1;
    const givenUp = problem !== null && attempts >= SANDBOX_LIMITS.deliveryAttemptsMax;
    await deps.db
      .updateTable("sandbox_epay_deliveries")
      .set({
        attempts,
        last_status_code: statusCode,
        last_error: problem?.slice(0, 500) ?? null,
        status: problem === null ? "delivered" : givenUp ? "failed" : "pending",
        delivered_at: problem === null ? new Date() : null,
      })
      .where("id", "=", deliveryId)
      .execute();
    if (problem !== null) {
      deps.logger.warn({ eventId: delivery.event_id, attempts, problem }, "sandbox e-Pay callback not accepted");
      if (!givenUp) schedule(() => deliverOnce(deps, deliveryId), SANDBOX_LIMITS.deliveryBackoffBaseMs * 2 ** (attempts - 1));
    }
  } catch (error) {
    // The sandbox's own database went away (a test finished, the server stops): nothing to retry into.
    deps.logger.warn({ err: error, deliveryId }, "sandbox e-Pay delivery abandoned");
  }
}

/**
 * Release held callbacks (directive hold_callbacks) of one payment, in the order they were recorded
 * or reversed, one after another: the way a test makes a refund's callback overtake the payment's.
 * Returns how many deliveries were attempted.
 */
export async function releaseHeldDeliveries(
  deps: SandboxDeps,
  input: { gatewayPaymentId: string; order?: "recorded" | "reversed"; types?: readonly GatewayEventType[] },
): Promise<number> {
  let query = deps.db
    .selectFrom("sandbox_epay_deliveries as d")
    .innerJoin("sandbox_epay_events as e", "e.event_id", "d.event_id")
    .select(["d.id"])
    .where("e.gateway_payment_id", "=", input.gatewayPaymentId)
    .where("d.status", "=", "held");
  if (input.types && input.types.length > 0) query = query.where("e.type", "in", [...input.types]);
  const direction = input.order === "reversed" ? "desc" : "asc";
  const held = await query.orderBy("e.occurred_at", direction).orderBy("d.id", direction).limit(SANDBOX_LIMITS.releaseBatchMax).execute();
  for (const d of held) {
    await deps.db.updateTable("sandbox_epay_deliveries").set({ status: "pending" }).where("id", "=", d.id).where("status", "=", "held").execute();
    await deliverOnce(deps, d.id);
  }
  return held.length;
}

/** Deliveries not yet finished (pending or held), for tests and the sandbox's own diagnostics. */
export async function countUnfinishedDeliveries(db: Db, gatewayPaymentId?: string): Promise<{ pending: number; held: number }> {
  let query = db
    .selectFrom("sandbox_epay_deliveries as d")
    .innerJoin("sandbox_epay_events as e", "e.event_id", "d.event_id")
    .select([
      sql<number>`count(*) filter (where d.status = 'pending')::int`.as("pending"),
      sql<number>`count(*) filter (where d.status = 'held')::int`.as("held"),
    ]);
  if (gatewayPaymentId) query = query.where("e.gateway_payment_id", "=", gatewayPaymentId);
  const row = await query.executeTakeFirstOrThrow();
  return { pending: Number(row.pending), held: Number(row.held) };
}
