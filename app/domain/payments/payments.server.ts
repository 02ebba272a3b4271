import { randomUUID } from "node:crypto";
import { sql, type Selectable } from "kysely";
import { z } from "zod";
import type { Db } from "../../../db";
import {
  PAYMENT_PURPOSES,
  type PaymentEventOutcome,
  type PaymentEventSource,
  type PaymentPurpose,
  type PaymentPurposeOutcome,
  type PaymentRefundsTable,
  type PaymentsTable,
  type PaymentStatus,
  type RefundStatus,
} from "../../../db/schema";
import { publicUrlFor, readConfig, type AppConfig } from "../../config.server";
import { logger as rootLogger, type Logger } from "../../logger.server";
import { recordAudit, SYSTEM_ACTOR, type Actor, DomainError, isDomainError, isUuid } from "../shared";
import {
  EPAY_LIMITS,
  epayGatewayFromConfig,
  EpayGatewayError,
  type EpayGateway,
  type GatewayEvent,
  type HttpEpayGatewayOptions,
} from "./epay/index.server";
import { ensureAccount, MAX_TRANSFER_FEN, postPending, transfer, voidPending, type AccountView } from "../ledger";
import { enqueue, outboxJobId, type Trx } from "../outbox";
import { commitCaptureToPurpose } from "./purposes.server";

/**
 * Payments through e-Pay, our side.
 *
 * A payment is asked of the gateway (createPayment), the user pays on the gateway's page, and the
 * gateway tells us what happened by signed callback; when the user comes back we also ask it
 * (syncPaymentFromGateway), because callbacks are late, duplicated, reordered or lost. Both roads
 * end in applyGatewayEvent, which in ONE transaction:
 *   1. locks the payment row (every change to a payment and its refunds queues here);
 *   2. records the event under the gateway's event id (primary key: a duplicate is a no-op);
 *   3. consults the state machine below; an event it does not allow from the current state is
 *      recorded as stale and changes nothing, so state never regresses;
 *   4. refuses an amount that differs from ours (recorded, logged at error level);
 *   5. moves the money: on success gateway_clearing → payer wallet (`epay:<payment>:captured`)
 *      and, still in this transaction, on to its purpose (payment-purposes.server.ts: a checkout's
 *      escrow hold, an order's part, a deposit), so the payer's free balance never holds money
 *      that belongs to one order (decision 021); a refund's hold (payer wallet → gateway_clearing,
 *      placed when it was asked for) is posted on success or voided on failure — each under its
 *      own idempotency key, so exactly once;
 *   6. on success writes the outbox row `payments:<id>:fulfil`; its step (workflows/payments.ts)
 *      finds the outcome recorded and does nothing, or applies a payment captured before 0018.
 *
 * Invariants (the CHECKs of 0004_payments hold the status shapes; verifyPayments checks all three
 * in one query, and the tests run it after every case):
 *  P1 refunded_fen = sum of succeeded refunds ≤ amount_fen, and the status says the same;
 *  P2 sum of refunds not failed ≤ amount_fen (checked under the payment lock before asking);
 *  P3 a succeeded payment has exactly one capture transfer; a succeeded refund one posted hold.
 *
 * Functions that call the gateway (createPayment, refundPayment, syncPaymentFromGateway) refuse to
 * run inside a transaction: an HTTP call must not hold row locks (nor, in embedded mode, PGlite's
 * only connection, which the sandbox on the same server needs to answer).
 */

export { PAYMENT_PURPOSES, type PaymentPurpose, type PaymentStatus, type RefundStatus };

export const PAYMENTS_QUEUE = "payments";
export const FULFIL_PAYMENT_JOB = "payments.fulfil";
/** The sweep that asks the gateway about payments whose outcome never reached us (schedule). */
export const QUERY_PENDING_PAYMENTS_JOB = "payments.query-pending";

/**
 * Which `created` payments the query sweep asks the gateway about: old enough that the callback
 * or the payer's return should have told us (a payer still on the pay page is left alone), young
 * enough that the gateway still answers for them, and a bounded number per run.
 */
export const PENDING_QUERY_LIMITS = {
  olderThanMs: 2 * 60_000,
  withinMs: 48 * 3600_000,
  perRunMax: 100,
} as const;

/**
 * Payments still `created` at the gateway's end of the line, oldest first: the callback was lost
 * (our web process died while the gateway was delivering, a network fault) and the payer did not
 * come back through the return page. Their money may already be captured; only a status query
 * (syncPaymentFromGateway) tells.
 */
export async function listPaymentsAwaitingGateway(db: Db, now: Date, limit: number = PENDING_QUERY_LIMITS.perRunMax): Promise<string[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > PENDING_QUERY_LIMITS.perRunMax) throw new Error(`limit must be in 1..${PENDING_QUERY_LIMITS.perRunMax}`);
  const rows = await db
    .selectFrom("payments")
    .select("id")
    .where("status", "=", "created")
    .where("gateway_payment_id", "is not", null)
    .where("created_at", "<", new Date(now.getTime() - PENDING_QUERY_LIMITS.olderThanMs))
    .where("created_at", ">", new Date(now.getTime() - PENDING_QUERY_LIMITS.withinMs))
    .orderBy("created_at")
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}
export const CALLBACK_PATH = "/api/v1/payments/callback";

export type PaymentTransitionEvent = "succeed" | "fail" | "refund_part" | "refund_all";

/** The payment state machine: from → event → to. Anything not listed is refused or ignored. */
export const PAYMENT_TRANSITIONS: Readonly<Record<PaymentStatus, Readonly<Partial<Record<PaymentTransitionEvent, PaymentStatus>>>>> = {
  created: { succeed: "succeeded", fail: "failed" },
  succeeded: { refund_part: "partially_refunded", refund_all: "refunded" },
  partially_refunded: { refund_part: "partially_refunded", refund_all: "refunded" },
  failed: {},
  refunded: {},
};

export type RefundTransitionEvent = "succeed" | "fail";

export const REFUND_TRANSITIONS: Readonly<Record<RefundStatus, Readonly<Partial<Record<RefundTransitionEvent, RefundStatus>>>>> = {
  requested: { succeed: "succeeded", fail: "failed" },
  succeeded: {},
  failed: {},
};

/** A payment may be refunded while its machine still accepts a refund. */
export function isRefundable(status: PaymentStatus): boolean {
  return PAYMENT_TRANSITIONS[status].refund_part !== undefined;
}

/** The money came in (whatever happened to it since). */
export function isCaptured(status: PaymentStatus): boolean {
  return status === "succeeded" || status === "partially_refunded" || status === "refunded";
}

export interface Payment {
  id: string;
  payerOrganizationId: string;
  payeeOrganizationId: string;
  purpose: PaymentPurpose;
  reference: string;
  amountFen: number;
  refundedFen: number;
  currency: string;
  description: string;
  returnPath: string;
  status: PaymentStatus;
  idempotencyKey: string;
  gatewayPaymentId: string | null;
  payUrl: string | null;
  createdAt: Date;
  succeededAt: Date | null;
  failedAt: Date | null;
  fulfilledAt: Date | null;
  /** What the capture did with the money (decision 021); null until captured. */
  purposeOutcome: PaymentPurposeOutcome | null;
  /** Why the purpose could not take it; set exactly when purposeOutcome is `needs_attention`. */
  attentionReason: string | null;
  attentionAt: Date | null;
}

export interface Refund {
  id: string;
  paymentId: string;
  amountFen: number;
  reason: string;
  status: RefundStatus;
  idempotencyKey: string;
  gatewayRefundId: string | null;
  holdTransferId: string;
  failureReason: string | null;
  createdAt: Date;
  succeededAt: Date | null;
  failedAt: Date | null;
}

export interface PaymentEventRecord {
  eventId: string;
  type: GatewayEvent["type"];
  amountFen: number;
  occurredAt: Date;
  source: PaymentEventSource;
  outcome: PaymentEventOutcome;
  detail: string | null;
  refundId: string | null;
  receivedAt: Date;
}

type PaymentRow = Selectable<PaymentsTable>;
type RefundRow = Selectable<PaymentRefundsTable>;

function paymentView(row: PaymentRow): Payment {
  return {
    id: row.id,
    payerOrganizationId: row.payer_organization_id,
    payeeOrganizationId: row.payee_organization_id,
    purpose: row.purpose,
    reference: row.reference,
    amountFen: row.amount_fen,
    refundedFen: row.refunded_fen,
    currency: row.currency,
    description: row.description,
    returnPath: row.return_path,
    status: row.status,
    idempotencyKey: row.idempotency_key,
    gatewayPaymentId: row.gateway_payment_id,
    payUrl: row.pay_url,
    createdAt: row.created_at,
    succeededAt: row.succeeded_at,
    failedAt: row.failed_at,
    fulfilledAt: row.fulfilled_at,
    purposeOutcome: row.purpose_outcome,
    attentionReason: row.attention_reason,
    attentionAt: row.attention_at,
  };
}

function refundView(row: RefundRow): Refund {
  return {
    id: row.id,
    paymentId: row.payment_id,
    amountFen: row.amount_fen,
    reason: row.reason,
    status: row.status,
    idempotencyKey: row.idempotency_key,
    gatewayRefundId: row.gateway_refund_id,
    holdTransferId: row.hold_transfer_id,
    failureReason: row.failure_reason,
    createdAt: row.created_at,
    succeededAt: row.succeeded_at,
    failedAt: row.failed_at,
  };
}

// ---------------------------------------------------------------------------------------------
// Dependencies

export interface PaymentsDeps {
  gateway: EpayGateway;
  /** Our public base URL: the gateway calls back to it and sends the user back to it. */
  publicUrl: string;
  logger: Logger;
  /** When a gateway answer arrived: events it carries are applied at this time (a workflow passes its own clock). */
  now: () => Date;
}

export function paymentsDepsFromConfig(
  config: Pick<AppConfig, "epayBaseUrl" | "epayMerchantId" | "epaySecret" | "publicUrl">,
  logger: Logger = rootLogger,
  /** e.g. a shorter timeout where a person is waiting on the answer. */
  gatewayOverrides: Partial<HttpEpayGatewayOptions> = {},
): PaymentsDeps {
  // The wall clock, kept here with the HTTP gateway it times: an answer's arrival is an I/O fact.
  return { gateway: epayGatewayFromConfig(config, gatewayOverrides), publicUrl: config.publicUrl, logger, now: () => new Date() };
}

/**
 * The dependencies for a payment a person starts from a page: the gateway calls back to, and sends
 * the user back to, the host this request came in on (unless PUBLIC_URL says otherwise).
 */
export function paymentsDepsForRequest(
  request: Request,
  config: Pick<AppConfig, "epayBaseUrl" | "epayMerchantId" | "epaySecret" | "publicUrl" | "publicUrlFromEnv" | "trustProxy">,
  logger: Logger = rootLogger,
  gatewayOverrides: Partial<HttpEpayGatewayOptions> = {},
): PaymentsDeps {
  return paymentsDepsFromConfig({ ...config, publicUrl: publicUrlFor(request, config) }, logger, gatewayOverrides);
}

function defaultDeps(): PaymentsDeps {
  return paymentsDepsFromConfig(readConfig());
}

function refuseTransaction(db: Db, what: string): void {
  if (db.isTransaction) {
    throw new Error(`${what} calls the payment gateway over HTTP; call it outside a transaction`);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

// A same-site path: "/" then anything but a second slash or a backslash (browsers read those as a
// host), with no whitespace or control characters (a redirect header must not be split).
const RETURN_PATH = /^\/(?![/\\])\S*$/;
const hasControlCharacter = (value: string) => [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

function validationError(error: z.ZodError): DomainError {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? "input");
    fields[field] ??= issue.message;
  }
  const message = Object.entries(fields)
    .map(([field, problem]) => `${field}: ${problem}`)
    .join("; ");
  return new DomainError("validation", message, fields);
}

function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

const amountFen = z
  .number({ invalid_type_error: "must be a whole number of fen" })
  .int("must be a whole number of fen")
  .positive("must be at least 1 fen")
  .max(MAX_TRANSFER_FEN, `must be at most ${MAX_TRANSFER_FEN} fen`);
const text = (max: number) => z.string().trim().min(1, "is required").max(max, `must be at most ${max} characters`);
const uuid = z.string().refine(isUuid, "must be an id (UUID)");

const createPaymentSchema = z.object({
  payerOrganizationId: uuid,
  payeeOrganizationId: uuid,
  purpose: z.enum(PAYMENT_PURPOSES, { errorMap: () => ({ message: `must be one of ${PAYMENT_PURPOSES.join(", ")}` }) }),
  reference: text(EPAY_LIMITS.referenceCharsMax),
  amountFen,
  description: text(EPAY_LIMITS.descriptionCharsMax),
  returnPath: z
    .string()
    .max(500, "must be at most 500 characters")
    .regex(RETURN_PATH, "must be a path on this site starting with /")
    .refine((value) => !hasControlCharacter(value), "must not contain control characters"),
  idempotencyKey: text(200),
});

export type CreatePaymentInput = z.input<typeof createPaymentSchema>;

const refundPaymentSchema = z.object({
  paymentId: uuid,
  amountFen,
  reason: text(EPAY_LIMITS.reasonCharsMax),
  idempotencyKey: text(200),
});

export type RefundPaymentInput = z.input<typeof refundPaymentSchema>;

// ---------------------------------------------------------------------------------------------
// Accounts

/** The bank's clearing account for money in flight through e-Pay (created on first use). */
export async function gatewayClearingAccount(db: Db): Promise<AccountView> {
  const bank = await db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
  if (!bank) throw new Error("payments: no bank organisation exists to own the gateway clearing account");
  return ensureAccount(db, { kind: "gateway_clearing", organizationId: bank.id, code: "gateway_clearing" });
}

// ---------------------------------------------------------------------------------------------
// Reading

async function findPaymentRow(db: Db, paymentId: string): Promise<PaymentRow | undefined> {
  if (!isUuid(paymentId)) return undefined;
  return db.selectFrom("payments").selectAll().where("id", "=", paymentId).executeTakeFirst();
}

export async function getPayment(db: Db, paymentId: string): Promise<Payment> {
  const row = await findPaymentRow(db, paymentId);
  if (!row) throw new DomainError("not_found", "payment not found");
  return paymentView(row);
}

/**
 * The tenancy rule: a payment is visible to its payer and its payee; any other organisation's
 * request for it — or for an id that does not exist — is the same `not_found`.
 */
export async function getPaymentForOrganization(
  db: Db,
  organizationId: string,
  paymentId: string,
  options: { as?: "payer" | "payee" | "either" } = {},
): Promise<Payment> {
  const row = await findPaymentRow(db, paymentId);
  const as = options.as ?? "either";
  const visible =
    row &&
    ((as !== "payee" && row.payer_organization_id === organizationId) ||
      (as !== "payer" && row.payee_organization_id === organizationId));
  if (!row || !visible) throw new DomainError("not_found", "payment not found");
  return paymentView(row);
}

export async function listRefunds(db: Db, paymentId: string): Promise<Refund[]> {
  const rows = await db
    .selectFrom("payment_refunds")
    .selectAll()
    .where("payment_id", "=", paymentId)
    .orderBy("created_at")
    .orderBy("id")
    .limit(EPAY_LIMITS.eventsPerPaymentMax)
    .execute();
  return rows.map(refundView);
}

export async function listPaymentEvents(db: Db, paymentId: string): Promise<PaymentEventRecord[]> {
  const rows = await db
    .selectFrom("payment_events")
    .selectAll()
    .where("payment_id", "=", paymentId)
    .orderBy("received_at")
    .orderBy("event_id")
    .limit(EPAY_LIMITS.eventsPerPaymentMax)
    .execute();
  return rows.map((r) => ({
    eventId: r.event_id,
    type: r.type,
    amountFen: r.amount_fen,
    occurredAt: r.occurred_at,
    source: r.source,
    outcome: r.outcome,
    detail: r.detail,
    refundId: r.refund_id,
    receivedAt: r.received_at,
  }));
}

// ---------------------------------------------------------------------------------------------
// Creating a payment

export interface CreatePaymentResult {
  payment: Payment;
  /** Where to send the user to pay. */
  payUrl: string;
  /** False when the idempotency key named an existing payment. */
  created: boolean;
}

/**
 * Ask for a payment and get the gateway's pay page. Three steps, none holding a lock across the
 * network: (1) our row, idempotent on (payer, idempotency key); (2) the gateway, idempotent on our
 * payment id; (3) the gateway's ids stored. A crash or timeout between them is repaired by calling
 * again with the same key.
 *
 * The actor acts for the payer (or is the system): another organisation cannot start a payment on
 * the payer's behalf.
 */
export async function createPayment(
  db: Db,
  actor: Actor,
  input: CreatePaymentInput,
  deps: PaymentsDeps = defaultDeps(),
): Promise<CreatePaymentResult> {
  refuseTransaction(db, "createPayment");
  const data = parseInput(createPaymentSchema, input);
  if (actor.organizationId !== null && actor.organizationId !== data.payerOrganizationId) {
    throw new DomainError("forbidden", "only the paying organisation may start its payment", { payerOrganizationId: "not yours" });
  }

  const { row, created, payeeName } = await db.transaction().execute(async (trx) => {
    const orgs = await trx
      .selectFrom("organizations")
      .select(["id", "name", "status"])
      .where("id", "in", [data.payerOrganizationId, data.payeeOrganizationId])
      .execute();
    const payer = orgs.find((o) => o.id === data.payerOrganizationId);
    const payee = orgs.find((o) => o.id === data.payeeOrganizationId);
    if (!payer) throw new DomainError("not_found", "paying organisation not found", { payerOrganizationId: "not found" });
    if (!payee) throw new DomainError("not_found", "receiving organisation not found", { payeeOrganizationId: "not found" });
    if (payer.status !== "active") throw new DomainError("invalid_state", "the paying organisation is suspended", { payerOrganizationId: "suspended" });
    if (payee.status !== "active") throw new DomainError("invalid_state", "the receiving organisation is suspended", { payeeOrganizationId: "suspended" });

    // One open payment per purpose: a new key while another attempt is pending or has taken the
    // money is a second payment of the same thing. Under the purpose's lock (the wallet path takes
    // it too); the partial unique index of migration 0016 is the backstop.
    await lockPurpose(trx, data.payerOrganizationId, data.reference);
    const replay = await trx
      .selectFrom("payments")
      .select("id")
      .where("payer_organization_id", "=", data.payerOrganizationId)
      .where("idempotency_key", "=", data.idempotencyKey)
      .executeTakeFirst();
    if (!replay) {
      const open = await findOpenAttempt(trx, data.payerOrganizationId, data.reference);
      if (open) throw secondPaymentRefused(open);
    }

    const inserted = await trx
      .insertInto("payments")
      .values({
        payer_organization_id: data.payerOrganizationId,
        payee_organization_id: data.payeeOrganizationId,
        purpose: data.purpose,
        reference: data.reference,
        amount_fen: data.amountFen,
        description: data.description,
        return_path: data.returnPath,
        idempotency_key: data.idempotencyKey,
        created_by_user_id: actor.userId,
      })
      .onConflict((oc) => oc.columns(["payer_organization_id", "idempotency_key"]).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) {
      await recordAudit(trx, actor, {
        action: "payment.created",
        entityType: "payment",
        entityId: inserted.id,
        organizationId: inserted.payer_organization_id,
        after: { purpose: inserted.purpose, reference: inserted.reference, amount_fen: inserted.amount_fen, payee: inserted.payee_organization_id },
      });
      return { row: inserted, created: true, payeeName: payee.name };
    }
    const existing = await trx
      .selectFrom("payments")
      .selectAll()
      .where("payer_organization_id", "=", data.payerOrganizationId)
      .where("idempotency_key", "=", data.idempotencyKey)
      .executeTakeFirstOrThrow();
    const differs = (
      [
        ["payeeOrganizationId", existing.payee_organization_id, data.payeeOrganizationId],
        ["purpose", existing.purpose, data.purpose],
        ["reference", existing.reference, data.reference],
        ["amountFen", existing.amount_fen, data.amountFen],
      ] as const
    ).find(([, a, b]) => a !== b);
    if (differs) {
      throw new DomainError("idempotency_conflict", `idempotency key ${data.idempotencyKey} was used for another payment (${differs[0]} differs)`, {
        idempotencyKey: `already used with another ${differs[0]}`,
      });
    }
    return { row: existing, created: false, payeeName: payee.name };
  });

  if (row.gateway_payment_id && row.pay_url) {
    return { payment: paymentView(row), payUrl: row.pay_url, created };
  }

  const answer = await deps.gateway.createPayment({
    merchantReference: row.id,
    amountFen: row.amount_fen,
    description: row.description,
    merchantDisplayName: payeeName,
    notifyUrl: `${deps.publicUrl}${CALLBACK_PATH}`,
    returnUrl: `${deps.publicUrl}/payments/${row.id}/return`,
  });

  const stored = await db
    .updateTable("payments")
    .set({ gateway_payment_id: answer.gateway_payment_id, pay_url: answer.pay_url, updated_at: sql<Date>`now()` })
    .where("id", "=", row.id)
    .where((eb) => eb.or([eb("gateway_payment_id", "is", null), eb("gateway_payment_id", "=", answer.gateway_payment_id)]))
    .returningAll()
    .executeTakeFirst();
  if (!stored) {
    // The gateway is idempotent on our payment id, so it can only ever name one gateway payment.
    throw new EpayGatewayError("protocol", `e-Pay named a second gateway payment for payment ${row.id}`);
  }
  return { payment: paymentView(stored), payUrl: answer.pay_url, created };
}

// ---------------------------------------------------------------------------------------------
// Attempts: one purpose (an order's payment, deposit or balance; a checkout; an application's
// deposit — its `reference`) may be tried again after a failure, each attempt a payment of its own
// under its own key; but never while another attempt is pending or has taken the money.

/** Statuses that close a purpose to another attempt: pending at the gateway, or the money came in. */
export const OPEN_PAYMENT_STATUSES = ["created", "succeeded", "partially_refunded", "refunded"] as const satisfies readonly PaymentStatus[];
const ATTEMPTS_MAX = 50;

/** Serialises everything that starts or settles a payment of one purpose (per payer). */
export async function lockPurpose(trx: Db, payerOrganizationId: string, reference: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`payment-purpose:${payerOrganizationId}:${reference}`}, 0))`.execute(trx);
}

async function findOpenAttempt(db: Db, payerOrganizationId: string, reference: string): Promise<PaymentRow | undefined> {
  return db
    .selectFrom("payments")
    .selectAll()
    .where("payer_organization_id", "=", payerOrganizationId)
    .where("reference", "=", reference)
    .where("status", "in", OPEN_PAYMENT_STATUSES)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
}

function secondPaymentRefused(open: Pick<PaymentRow, "id" | "status">): DomainError {
  return open.status === "created"
    ? new DomainError("invalid_state", `an e-Pay payment of this is already in progress (payment ${open.id}): wait until e-Pay confirms or fails it`, {
        payment: "payment_pending",
      })
    : new DomainError("invalid_state", `this has already been paid (payment ${open.id})`, { payment: "already_paid" });
}

/**
 * The attempt a person would be waiting on: pending at the gateway (they were sent to pay), or
 * captured and not yet handed to its purpose. Null when nothing is in flight.
 */
function inFlight(row: PaymentRow | undefined): PaymentRow | undefined {
  if (!row) return undefined;
  if (row.status === "created") return row.gateway_payment_id ? row : undefined;
  return isCaptured(row.status) && row.fulfilled_at === null ? row : undefined;
}

/**
 * Refuse to settle a purpose another way (wallet, on account) while an e-Pay attempt for it is in
 * flight: the person may have paid already and the callback be on its way. Call inside the
 * transaction that pays; it takes the purpose's lock, so no attempt can start meanwhile.
 */
export async function refuseWhilePaymentInFlight(trx: Db, payerOrganizationId: string, reference: string): Promise<void> {
  await lockPurpose(trx, payerOrganizationId, reference);
  const open = inFlight(await findOpenAttempt(trx, payerOrganizationId, reference));
  if (!open) return;
  throw open.status === "created"
    ? new DomainError(
        "invalid_state",
        `an e-Pay payment of this is in progress (payment ${open.id}): wait until e-Pay confirms it, or fail it on the e-Pay page, before paying another way`,
        { payment: "payment_pending" },
      )
    : new DomainError("invalid_state", `an e-Pay payment of this has been received and is being recorded (payment ${open.id})`, { payment: "already_paid" });
}

export interface PaymentAttempts {
  /** The attempt in flight (see refuseWhilePaymentInFlight), if any. */
  inFlight: Payment | null;
  /** The latest attempt, when it failed: the page says so next to the pay buttons. */
  lastFailed: Payment | null;
  /**
   * True when asking the gateway just recorded something: a capture commits the money to its
   * purpose in the same transaction (decision 021), so a page must read its order or checkout again.
   */
  changed: boolean;
}

/** Where the attempts at one purpose stand (for pages). */
export async function paymentAttempts(db: Db, payerOrganizationId: string, reference: string): Promise<PaymentAttempts> {
  const latest = await db
    .selectFrom("payments")
    .selectAll()
    .where("payer_organization_id", "=", payerOrganizationId)
    .where("reference", "=", reference)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  const open = inFlight(latest) ?? inFlight(await findOpenAttempt(db, payerOrganizationId, reference));
  return {
    inFlight: open ? paymentView(open) : null,
    lastFailed: latest?.status === "failed" ? paymentView(latest) : null,
    changed: false,
  };
}

/**
 * As paymentAttempts, after asking the gateway about a pending attempt (a page a person is watching:
 * the callback may be late or lost). A gateway that does not answer changes nothing.
 */
export async function settlePaymentAttempts(
  db: Db,
  payerOrganizationId: string,
  reference: string,
  deps: PaymentsDeps = defaultDeps(),
): Promise<PaymentAttempts> {
  const attempts = await paymentAttempts(db, payerOrganizationId, reference);
  if (attempts.inFlight?.status !== "created") return attempts;
  let recorded = 0;
  try {
    recorded = (await syncPaymentFromGateway(db, attempts.inFlight.id, deps)).recorded;
  } catch (error) {
    if (!(error instanceof EpayGatewayError)) throw error;
    deps.logger.warn({ paymentId: attempts.inFlight.id, err: error }, "e-Pay status query for a pending payment failed");
    return attempts;
  }
  return { ...(await paymentAttempts(db, payerOrganizationId, reference)), changed: recorded > 0 };
}

/**
 * Start an e-Pay attempt at a purpose, or resume the one pending: a pending attempt is asked about
 * first (the person may have paid and the callback be on its way; then this is refused as paid),
 * and if still pending its pay page is given again; after failures a new attempt gets a new key
 * (`<reference>:<n>`), so a failed payment never blocks the retry. A purpose already paid is
 * refused (409 invalid_state).
 */
export async function startPaymentAttempt(
  db: Db,
  actor: Actor,
  input: Omit<CreatePaymentInput, "idempotencyKey">,
  deps: PaymentsDeps = defaultDeps(),
): Promise<CreatePaymentResult> {
  refuseTransaction(db, "startPaymentAttempt");
  const data = parseInput(createPaymentSchema.omit({ idempotencyKey: true }), input);
  const attempts = () =>
    db
      .selectFrom("payments")
      .selectAll()
      .where("payer_organization_id", "=", data.payerOrganizationId)
      .where("reference", "=", data.reference)
      .orderBy("created_at")
      .orderBy("id")
      .limit(ATTEMPTS_MAX)
      .execute();
  let previous = await attempts();
  const pending = previous.find((p) => p.status === "created");
  if (pending?.gateway_payment_id) {
    try {
      const synced = await syncPaymentFromGateway(db, pending.id, deps);
      if (synced.recorded > 0) previous = await attempts();
    } catch (error) {
      if (!(error instanceof EpayGatewayError)) throw error;
      deps.logger.warn({ paymentId: pending.id, err: error }, "e-Pay status query before a new attempt failed");
    }
  }
  const paid = previous.find((p) => isCaptured(p.status));
  if (paid) throw secondPaymentRefused(paid);
  const resume = previous.find((p) => p.status === "created");
  if (resume) {
    if (resume.amount_fen !== data.amountFen) throw secondPaymentRefused(resume);
    return createPayment(db, actor, { ...data, idempotencyKey: resume.idempotency_key }, deps);
  }
  if (previous.length >= ATTEMPTS_MAX) throw new DomainError("rate_limited", "too many payment attempts for this", { payment: "too_many_attempts" });
  return createPayment(db, actor, { ...data, idempotencyKey: `${data.reference}:${previous.length + 1}` }, deps);
}

// ---------------------------------------------------------------------------------------------
// Applying gateway events

export interface ApplyEventResult {
  outcome: PaymentEventOutcome;
  /** True when the event id had been recorded before: nothing was done this time. */
  duplicate: boolean;
  payment: Payment;
  detail: string | null;
}

async function lockPayment(trx: Db, paymentId: string): Promise<PaymentRow | undefined> {
  if (!isUuid(paymentId)) return undefined;
  return trx.selectFrom("payments").selectAll().where("id", "=", paymentId).forUpdate().executeTakeFirst();
}

interface Decision {
  outcome: PaymentEventOutcome;
  detail: string | null;
  refundId: string | null;
}

/**
 * Record one gateway event and apply it, exactly once, in one transaction (see the module comment).
 * Throws `not_found` for an event that names no payment of ours (or no refund of that payment):
 * nothing is recorded then, because there is nothing to record it against.
 */
export async function applyGatewayEvent(
  db: Db,
  event: GatewayEvent,
  source: PaymentEventSource,
  options: { logger?: Logger; now: Date },
): Promise<ApplyEventResult> {
  const log = (options.logger ?? rootLogger).child({ eventId: event.event_id, eventType: event.type, source });
  return db.transaction().execute(async (trx) => {
    const payment = await lockPayment(trx, event.merchant_reference);
    if (!payment || payment.gateway_payment_id !== event.gateway_payment_id) {
      throw new DomainError("not_found", "the event names no payment of ours", { merchant_reference: "unknown payment" });
    }
    const seen = await trx
      .selectFrom("payment_events")
      .select(["outcome", "detail", "payment_id"])
      .where("event_id", "=", event.event_id)
      .executeTakeFirst();
    if (seen) {
      return { outcome: seen.outcome, duplicate: true, payment: paymentView(payment), detail: seen.detail };
    }

    let refund: RefundRow | undefined;
    if (event.type === "refund.succeeded" || event.type === "refund.failed") {
      const refundId = event.merchant_refund_reference ?? "";
      refund = isUuid(refundId)
        ? await trx
            .selectFrom("payment_refunds")
            .selectAll()
            .where("id", "=", refundId)
            .where("payment_id", "=", payment.id)
            .forUpdate()
            .executeTakeFirst()
        : undefined;
      if (!refund) {
        throw new DomainError("not_found", "the event names no refund of this payment", { merchant_refund_reference: "unknown refund" });
      }
    }

    const decision = await decideAndApply(trx, payment, refund, event, log, options.now);
    await trx
      .insertInto("payment_events")
      .values({
        event_id: event.event_id,
        payment_id: payment.id,
        refund_id: refund?.id ?? null,
        type: event.type,
        amount_fen: event.amount_fen,
        occurred_at: event.occurred_at,
        source,
        outcome: decision.outcome,
        detail: decision.detail,
        payload: JSON.stringify(event),
      })
      .execute();
    const after = await trx.selectFrom("payments").selectAll().where("id", "=", payment.id).executeTakeFirstOrThrow();
    return { outcome: decision.outcome, duplicate: false, payment: paymentView(after), detail: decision.detail };
  });
}

async function decideAndApply(
  trx: Trx,
  payment: PaymentRow,
  refund: RefundRow | undefined,
  event: GatewayEvent,
  log: Logger,
  now: Date,
): Promise<Decision> {
  const stale = (why: string): Decision => {
    log.warn({ paymentId: payment.id, status: payment.status, why }, "stale or out-of-order e-Pay event ignored");
    return { outcome: "ignored_stale", detail: why, refundId: refund?.id ?? null };
  };
  const mismatch = (expectedFen: number): Decision => {
    // Loud: either the gateway or someone holding our secret is telling us a different amount.
    log.error({ paymentId: payment.id, expectedFen, eventAmountFen: event.amount_fen }, "e-Pay event amount differs from ours: refused");
    return {
      outcome: "refused_amount_mismatch",
      detail: `amount_fen ${event.amount_fen} differs from the expected ${expectedFen}`,
      refundId: refund?.id ?? null,
    };
  };

  if (event.type === "payment.succeeded" || event.type === "payment.failed") {
    const transition: PaymentTransitionEvent = event.type === "payment.succeeded" ? "succeed" : "fail";
    const next = PAYMENT_TRANSITIONS[payment.status][transition];
    if (event.amount_fen !== payment.amount_fen) return mismatch(payment.amount_fen);
    if (next === undefined) {
      if (transition === "succeed" && payment.status === "failed") {
        // The gateway says money came in for a payment it told us had failed: a person must look.
        log.error({ paymentId: payment.id }, "e-Pay reports success for a payment recorded as failed: needs review");
      }
      return stale(`${event.type} does not apply to a ${payment.status} payment`);
    }
    if (transition === "succeed") {
      const clearing = await gatewayClearingAccount(trx);
      const wallet = await ensureAccount(trx, { kind: "wallet", organizationId: payment.payer_organization_id });
      await transfer(trx, {
        idempotencyKey: `epay:${payment.id}:captured`,
        kind: "epay_payment",
        reference: `payment:${payment.id}`,
        debitAccountId: clearing.id,
        creditAccountId: wallet.id,
        amountFen: payment.amount_fen,
      });
      await trx
        .updateTable("payments")
        .set({ status: next, succeeded_at: event.occurred_at, updated_at: sql<Date>`now()` })
        .where("id", "=", payment.id)
        .execute();
      await enqueue(trx, {
        queue: PAYMENTS_QUEUE,
        name: FULFIL_PAYMENT_JOB,
        jobId: outboxJobId("payments", payment.id, "fulfil"),
        payload: { paymentId: payment.id },
      });
    } else {
      await trx
        .updateTable("payments")
        .set({ status: next, failed_at: event.occurred_at, updated_at: sql<Date>`now()` })
        .where("id", "=", payment.id)
        .execute();
    }
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: transition === "succeed" ? "payment.succeeded" : "payment.failed",
      entityType: "payment",
      entityId: payment.id,
      organizationId: payment.payer_organization_id,
      before: { status: payment.status },
      after: { status: next, event_id: event.event_id },
    });
    if (transition === "succeed") {
      // The money goes on to its purpose before anyone else can see it in the wallet: the wallet's
      // row lock taken by the capture transfer is held until this transaction commits.
      await commitCaptureToPurpose(trx, paymentView({ ...payment, status: next, succeeded_at: new Date(event.occurred_at) }), { logger: log, now });
    }
    return { outcome: "applied", detail: null, refundId: null };
  }

  // A refund event: `refund` was found and locked by the caller.
  if (!refund) throw new Error("payments: refund event without its refund row");
  const transition: RefundTransitionEvent = event.type === "refund.succeeded" ? "succeed" : "fail";
  const nextRefund = REFUND_TRANSITIONS[refund.status][transition];
  if (event.amount_fen !== refund.amount_fen) return mismatch(refund.amount_fen);
  if (nextRefund === undefined) {
    if (transition === "succeed" && refund.status === "failed") {
      // The gateway says it paid back a refund it had refused (and whose hold we released).
      log.error({ paymentId: payment.id, refundId: refund.id }, "e-Pay reports success for a refund recorded as failed: needs review");
    }
    return stale(`${event.type} does not apply to a ${refund.status} refund`);
  }
  const gatewayRefundId = event.gateway_refund_id ?? refund.gateway_refund_id;

  if (transition === "fail") {
    await voidPending(trx, { idempotencyKey: `epay:${refund.id}:refund_released`, pendingId: refund.hold_transfer_id });
    await trx
      .updateTable("payment_refunds")
      .set({ status: nextRefund, failed_at: event.occurred_at, failure_reason: "refund failed at the gateway", gateway_refund_id: gatewayRefundId, updated_at: sql<Date>`now()` })
      .where("id", "=", refund.id)
      .execute();
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: "payment.refund_failed",
      entityType: "payment_refund",
      entityId: refund.id,
      organizationId: payment.payee_organization_id,
      before: { status: refund.status },
      after: { status: nextRefund, event_id: event.event_id },
    });
    return { outcome: "applied", detail: null, refundId: refund.id };
  }

  const refundedFen = payment.refunded_fen + refund.amount_fen;
  // P2 was checked when the refund was asked for; a violation here is a bug, not a refusal.
  if (refundedFen > payment.amount_fen) throw new Error(`payments invariant: refunds of ${payment.id} exceed its amount`);
  const paymentNext = PAYMENT_TRANSITIONS[payment.status][refundedFen === payment.amount_fen ? "refund_all" : "refund_part"];
  if (paymentNext === undefined) {
    log.error({ paymentId: payment.id, refundId: refund.id }, "refund event for a payment that cannot be refunded: needs review");
    return stale(`${event.type} does not apply to a ${payment.status} payment`);
  }
  await postPending(trx, { idempotencyKey: `epay:${refund.id}:refunded`, pendingId: refund.hold_transfer_id });
  await trx
    .updateTable("payment_refunds")
    .set({ status: nextRefund, succeeded_at: event.occurred_at, gateway_refund_id: gatewayRefundId, updated_at: sql<Date>`now()` })
    .where("id", "=", refund.id)
    .execute();
  await trx
    .updateTable("payments")
    .set({ status: paymentNext, refunded_fen: refundedFen, updated_at: sql<Date>`now()` })
    .where("id", "=", payment.id)
    .execute();
  await recordAudit(trx, SYSTEM_ACTOR, {
    action: "payment.refunded",
    entityType: "payment_refund",
    entityId: refund.id,
    organizationId: payment.payee_organization_id,
    before: { payment_status: payment.status, refunded_fen: payment.refunded_fen },
    after: { payment_status: paymentNext, refunded_fen: refundedFen, event_id: event.event_id },
  });
  return { outcome: "applied", detail: null, refundId: refund.id };
}

// ---------------------------------------------------------------------------------------------
// Asking the gateway (the return page, and anyone who suspects a lost callback)

export interface SyncResult {
  payment: Payment;
  /** Events newly applied or recorded by this call (duplicates not counted). */
  recorded: number;
}

/**
 * Ask the gateway for the payment's events and apply each one (idempotently: those the callback
 * already delivered are duplicates). Events are applied in the gateway's time order, payments
 * before refunds at the same instant.
 */
export async function syncPaymentFromGateway(db: Db, paymentId: string, deps: PaymentsDeps = defaultDeps()): Promise<SyncResult> {
  refuseTransaction(db, "syncPaymentFromGateway");
  const payment = await getPayment(db, paymentId);
  if (!payment.gatewayPaymentId) return { payment, recorded: 0 };
  const state = await deps.gateway.getPayment(payment.gatewayPaymentId);
  if (state.merchant_reference !== payment.id) {
    throw new EpayGatewayError("protocol", `e-Pay status for ${payment.gatewayPaymentId} names another merchant reference`);
  }
  const order = (e: GatewayEvent) => (e.type.startsWith("payment.") ? 0 : 1);
  const events = [...state.events].sort(
    (a, b) => Date.parse(a.occurred_at) - Date.parse(b.occurred_at) || order(a) - order(b) || a.event_id.localeCompare(b.event_id),
  );
  let recorded = 0;
  for (const event of events) {
    if (event.merchant_reference !== payment.id || event.gateway_payment_id !== payment.gatewayPaymentId) {
      deps.logger.error({ paymentId, eventId: event.event_id }, "e-Pay status answer lists an event of another payment: skipped");
      continue;
    }
    try {
      const result = await applyGatewayEvent(db, event, "status_query", { logger: deps.logger, now: deps.now() });
      if (!result.duplicate) recorded += 1;
    } catch (error) {
      // A refund we never asked for cannot be applied; the rest of the events still can.
      if (isDomainError(error) && error.code === "not_found") {
        deps.logger.error({ paymentId, eventId: event.event_id, err: error }, "e-Pay event could not be matched: skipped");
        continue;
      }
      throw error;
    }
  }
  return { payment: await getPayment(db, paymentId), recorded };
}

// ---------------------------------------------------------------------------------------------
// Refunds

export interface RefundPaymentResult {
  refund: Refund;
  payment: Payment;
  /** False when the idempotency key named an existing refund. */
  created: boolean;
}

/**
 * Refund part or all of a captured payment through the gateway.
 *
 * Under the payment's row lock: the sum of refunds not failed plus this one must not exceed the
 * payment (P2), and the amount is held on the payer's wallet (a pending transfer to gateway
 * clearing) — so concurrent refunds can never over-refund, and the wallet can never be overdrawn
 * by a refund that then succeeds. The hold is posted when the refund succeeds and voided when it
 * fails, whichever of the answer and the callback says so first (the other is a duplicate).
 *
 * When the gateway cannot be reached the refund stays `requested` with its hold; calling again with
 * the same idempotency key asks again (the gateway is idempotent on our refund id).
 *
 * The actor is the payee, or the system (organizationId null).
 */
export async function refundPayment(
  db: Db,
  actor: Actor,
  input: RefundPaymentInput,
  deps: PaymentsDeps = defaultDeps(),
): Promise<RefundPaymentResult> {
  refuseTransaction(db, "refundPayment");
  const data = parseInput(refundPaymentSchema, input);

  const { refund, payment, created } = await db.transaction().execute(async (trx) => {
    const payment = await lockPayment(trx, data.paymentId);
    if (!payment) throw new DomainError("not_found", "payment not found", { paymentId: "not found" });
    if (actor.organizationId !== null && actor.organizationId !== payment.payee_organization_id) {
      if (actor.organizationId === payment.payer_organization_id) {
        throw new DomainError("forbidden", "only the receiving organisation may refund a payment", { paymentId: "not yours to refund" });
      }
      throw new DomainError("not_found", "payment not found", { paymentId: "not found" });
    }
    const existing = await trx
      .selectFrom("payment_refunds")
      .selectAll()
      .where("payment_id", "=", payment.id)
      .where("idempotency_key", "=", data.idempotencyKey)
      .executeTakeFirst();
    if (existing) {
      if (existing.amount_fen !== data.amountFen) {
        throw new DomainError("idempotency_conflict", `idempotency key ${data.idempotencyKey} was used for a refund of another amount`, {
          idempotencyKey: "already used with another amountFen",
        });
      }
      return { refund: existing, payment, created: false };
    }
    if (!isRefundable(payment.status)) {
      throw new DomainError("invalid_state", `a ${payment.status} payment cannot be refunded`, { paymentId: `payment is ${payment.status}` });
    }
    const committed = await trx
      .selectFrom("payment_refunds")
      .select(sql<number>`coalesce(sum(amount_fen), 0)::bigint`.as("fen"))
      .where("payment_id", "=", payment.id)
      .where("status", "in", ["requested", "succeeded"])
      .executeTakeFirstOrThrow();
    const leftFen = payment.amount_fen - Number(committed.fen);
    if (data.amountFen > leftFen) {
      throw new DomainError("validation", `amountFen ${data.amountFen} exceeds the refundable ${leftFen} fen of this payment`, {
        amountFen: `at most ${leftFen} fen can still be refunded`,
      });
    }
    const refundId = randomUUID();
    const clearing = await gatewayClearingAccount(trx);
    const wallet = await ensureAccount(trx, { kind: "wallet", organizationId: payment.payer_organization_id });
    let hold;
    try {
      hold = await transfer(trx, {
        idempotencyKey: `epay:${refundId}:refund_hold`,
        kind: "epay_refund",
        reference: `payment:${payment.id}`,
        debitAccountId: wallet.id,
        creditAccountId: clearing.id,
        amountFen: data.amountFen,
        pending: true,
        createdByUserId: actor.userId,
      });
    } catch (error) {
      if (isDomainError(error) && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", "the payer's wallet holds less than the refund: return the money to it first", {
          amountFen: "more than the payer's wallet holds",
        });
      }
      throw error;
    }
    const inserted = await trx
      .insertInto("payment_refunds")
      .values({
        id: refundId,
        payment_id: payment.id,
        amount_fen: data.amountFen,
        reason: data.reason,
        idempotency_key: data.idempotencyKey,
        hold_transfer_id: hold.transfer.id,
        requested_by_user_id: actor.userId,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, {
      action: "payment.refund_requested",
      entityType: "payment_refund",
      entityId: inserted.id,
      organizationId: payment.payee_organization_id,
      after: { payment_id: payment.id, amount_fen: inserted.amount_fen, reason: inserted.reason },
    });
    return { refund: inserted, payment, created: true };
  });

  if (refund.status !== "requested") {
    return { refund: refundView(refund), payment: paymentView(payment), created };
  }
  if (!payment.gateway_payment_id) throw new Error(`payments invariant: captured payment ${payment.id} has no gateway id`);

  let answer;
  try {
    answer = await deps.gateway.refund({
      gatewayPaymentId: payment.gateway_payment_id,
      merchantRefundReference: refund.id,
      amountFen: refund.amount_fen,
      reason: refund.reason,
    });
  } catch (error) {
    if (error instanceof EpayGatewayError && error.kind === "refused") {
      await failRefund(db, refund.id, `refused by the gateway: ${error.message}`);
      throw new DomainError("invalid_state", `the payment gateway refused the refund: ${error.message}`, {
        amountFen: error.fields.amount_fen ?? error.message,
      });
    }
    throw error;
  }

  if (answer.gateway_refund_id) {
    await db
      .updateTable("payment_refunds")
      .set({ gateway_refund_id: answer.gateway_refund_id, updated_at: sql<Date>`now()` })
      .where("id", "=", refund.id)
      .where("gateway_refund_id", "is", null)
      .execute();
  }
  if (answer.event) {
    if (answer.event.merchant_refund_reference !== refund.id || answer.event.merchant_reference !== payment.id) {
      throw new EpayGatewayError("protocol", "e-Pay refund answer carries an event of another refund");
    }
    await applyGatewayEvent(db, answer.event, "refund_response", { logger: deps.logger, now: deps.now() });
  } else if (answer.status !== "pending") {
    deps.logger.warn({ refundId: refund.id, status: answer.status }, "e-Pay refund answer without its event: waiting for the callback");
  }
  const after = await db.selectFrom("payment_refunds").selectAll().where("id", "=", refund.id).executeTakeFirstOrThrow();
  return { refund: refundView(after), payment: await getPayment(db, payment.id), created };
}

/** A definitive refusal by the gateway: release the hold, mark the refund failed (once). */
async function failRefund(db: Db, refundId: string, reason: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const refund = await trx.selectFrom("payment_refunds").select("payment_id").where("id", "=", refundId).executeTakeFirstOrThrow();
    const payment = await lockPayment(trx, refund.payment_id);
    if (!payment) throw new Error("payments invariant: refund without payment");
    const locked = await trx.selectFrom("payment_refunds").selectAll().where("id", "=", refundId).forUpdate().executeTakeFirstOrThrow();
    const next = REFUND_TRANSITIONS[locked.status].fail;
    if (next === undefined) return;
    await voidPending(trx, { idempotencyKey: `epay:${refundId}:refund_released`, pendingId: locked.hold_transfer_id });
    await trx
      .updateTable("payment_refunds")
      .set({ status: next, failed_at: sql<Date>`now()`, failure_reason: reason.slice(0, 500), updated_at: sql<Date>`now()` })
      .where("id", "=", refundId)
      .execute();
    await recordAudit(trx, SYSTEM_ACTOR, {
      action: "payment.refund_failed",
      entityType: "payment_refund",
      entityId: refundId,
      organizationId: payment.payee_organization_id,
      before: { status: locked.status },
      after: { status: next, reason },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Fulfilment (called by the workflow step, inside its transaction)

/** Lock a payment for its fulfil step; `not_found` when it does not exist. */
export async function lockPaymentForFulfilment(trx: Trx, paymentId: string): Promise<Payment> {
  const row = await lockPayment(trx, paymentId);
  if (!row) throw new DomainError("not_found", `payment ${paymentId} not found`);
  return paymentView(row);
}

export interface PaymentNeedingAttention {
  id: string;
  payerOrganizationId: string;
  payerName: string;
  purpose: PaymentPurpose;
  reference: string;
  amountFen: number;
  reason: string;
  since: Date;
}

/**
 * Captured payments whose purpose refused them for good (decision 021), oldest first, for the
 * bank's console. The money is in the payer's wallet; the reason says what a person must decide.
 */
export async function listPaymentsNeedingAttention(db: Db, limit = 50): Promise<{ rows: PaymentNeedingAttention[]; total: number }> {
  const base = db.selectFrom("payments as p").where("p.purpose_outcome", "=", "needs_attention");
  const [rows, count] = await Promise.all([
    base
      .innerJoin("organizations as o", "o.id", "p.payer_organization_id")
      .select(["p.id", "p.payer_organization_id", "o.name", "p.purpose", "p.reference", "p.amount_fen", "p.attention_reason", "p.attention_at"])
      .orderBy("p.attention_at")
      .orderBy("p.id")
      .limit(limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: rows.map((r) => ({
      id: r.id,
      payerOrganizationId: r.payer_organization_id,
      payerName: r.name,
      purpose: r.purpose,
      reference: r.reference,
      amountFen: r.amount_fen,
      reason: r.attention_reason ?? "",
      since: r.attention_at ?? new Date(0),
    })),
    total: Number(count.n),
  };
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface PaymentViolation {
  check: string;
  detail: string;
}

/**
 * P1–P3 over every payment and refund, against the ledger, in one query. Empty means sound.
 * (Not bounded: meant for tests and an operator's check, like verifyLedger.)
 */
export async function verifyPayments(db: Db): Promise<PaymentViolation[]> {
  const { rows } = await sql<PaymentViolation>`
    with refunds as (
      select payment_id,
             coalesce(sum(amount_fen) filter (where status = 'succeeded'), 0) as succeeded_fen,
             coalesce(sum(amount_fen) filter (where status <> 'failed'), 0) as committed_fen
        from payment_refunds group by payment_id
    ),
    captures as (
      select substring(idempotency_key from 6 for 36)::uuid as payment_id, count(*) as n
        from ledger_transfers
        where idempotency_key ~ '^epay:[0-9a-f-]{36}:captured$'
        group by 1
    )
    select 'refunded_matches_refunds' as "check",
           'payment ' || p.id || ': refunded_fen ' || p.refunded_fen || ', succeeded refunds ' || coalesce(r.succeeded_fen, 0) as detail
      from payments p left join refunds r on r.payment_id = p.id
      where p.refunded_fen <> coalesce(r.succeeded_fen, 0)
    union all
    select 'refunds_within_payment', 'payment ' || p.id || ': refunds not failed ' || r.committed_fen || ' > amount ' || p.amount_fen
      from payments p join refunds r on r.payment_id = p.id
      where r.committed_fen > p.amount_fen
    union all
    select 'one_capture_per_captured_payment', 'payment ' || p.id || ' (' || p.status || '): ' || coalesce(c.n, 0) || ' capture transfers'
      from payments p left join captures c on c.payment_id = p.id
      where coalesce(c.n, 0) <> case when p.status in ('succeeded', 'partially_refunded', 'refunded') then 1 else 0 end
    union all
    select 'refund_hold_resolution', 'refund ' || f.id || ' (' || f.status || '): hold resolved as ' || coalesce(t.phase, 'nothing')
      from payment_refunds f left join ledger_transfers t on t.pending_id = f.hold_transfer_id
      where coalesce(t.phase, 'none') <> case f.status when 'succeeded' then 'post_pending' when 'failed' then 'void_pending' else 'none' end
         or (t.phase = 'post_pending' and t.amount_fen <> f.amount_fen)
  `.execute(db);
  return rows;
}
