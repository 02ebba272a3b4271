import { randomUUID } from "node:crypto";
import { sql, type RawBuilder } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { NOTIFICATION_TOPICS, ROLES, type NotificationRequestStatus, type NotificationTopic } from "../../../db/schema";
import { auditClauseOfRows, auditRows, recordAudits, SYSTEM_ACTOR, type Actor, GroupCommit, type Settled, DomainError, isUuid, decodeCursor, encodeCursor, invalidCursor } from "../shared";
import { enqueueClause, outboxJobId, type OutboxJob, type Trx } from "../outbox";

/**
 * Notifications: an organisation-scoped inbox, and the first workflow on the outbox spine.
 *
 * State machine of a request (data, not scattered ifs):
 *   pending --deliver--> delivered
 * `requestNotification` writes the request and its outbox row in the caller's transaction; the
 * deliver step materialises one notification per active member, exactly once: the
 * (request, user) unique constraint makes a second insert a no-op, and the request moves to
 * `delivered` in the same transaction, so a re-run finds nothing to do.
 */

export { NOTIFICATION_TOPICS, type NotificationTopic };

export type NotificationEvent = "deliver";

export const NOTIFICATION_TRANSITIONS: Readonly<
  Record<NotificationRequestStatus, Readonly<Partial<Record<NotificationEvent, NotificationRequestStatus>>>>
> = {
  pending: { deliver: "delivered" },
  delivered: {},
};

/** Where the deliver step runs: the queue (one per workflow) and the job name in the registry. */
export const NOTIFICATIONS_QUEUE = "notifications";
export const DELIVER_NOTIFICATION_JOB = "notifications.deliver";

export const NOTIFICATION_LIMITS = {
  listMax: 100,
  listDefault: 20,
  /** An organisation larger than this gets its inbox fan-out refused, not a runaway insert. */
  recipientsMax: 10_000,
  dedupeKeyCharsMax: 200,
} as const;

const displayText = (maxChars: number) => z.string().trim().min(1).max(maxChars);

/**
 * Params carry ids and display values only: the inbox renders them, nothing computes with them.
 * A wallet credit says which transfer and how it reads (`¥1,234.00`), never an amount to trust.
 */
/** An order event told to the other party: which order, and who it is from. */
const orderNotice = z
  .object({
    orderId: z.string().uuid(),
    number: displayText(40),
    counterparty: displayText(200),
  })
  .strict();

/** A loan's instalment: which loan, when, how much (for display). */
const loanNotice = z
  .object({
    loanId: z.string().uuid(),
    number: displayText(40),
    dueOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    amountDisplay: displayText(40),
  })
  .strict();

export const NOTIFICATION_PARAMS = {
  "membership.added": z
    .object({
      userId: z.string().uuid(),
      displayName: displayText(200),
      role: z.enum(ROLES),
    })
    .strict(),
  "wallet.credited": z
    .object({
      transferId: z.string().uuid(),
      accountCode: displayText(100),
      amountDisplay: displayText(40),
    })
    .strict(),
  "order.submitted": orderNotice,
  "order.confirmed": orderNotice,
  "order.shipped": orderNotice,
  "recruitment.application_submitted": z
    .object({
      applicationId: z.string().uuid(),
      campaignTitle: displayText(100),
      companyName: displayText(200),
    })
    .strict(),
  "market_order.paid": orderNotice,
  "market_order.disputed": orderNotice,
  "market.announcement_published": z
    .object({
      announcementId: z.string().uuid(),
      marketName: displayText(100),
      title: displayText(100),
    })
    .strict(),
  // To the buyer of a market order: the merchant shipped it, escrow settled it, or refunded it.
  "market_order.shipped": orderNotice,
  "market_order.settled": orderNotice,
  "market_order.refunded": orderNotice,
  // To buyer and merchant: the operator's ruling, which ends the order (settled or refunded).
  "market_dispute.ruled": z
    .object({
      orderId: z.string().uuid(),
      disputeId: z.string().uuid(),
      number: displayText(40),
      ruling: z.enum(["release", "refund_full", "refund_partial"]),
      refundDisplay: displayText(40),
    })
    .strict(),
  // To the dealer: the season is released, the booking's balance is due.
  "order.balance_due": orderNotice.extend({ seasonName: displayText(100), amountDisplay: displayText(40) }).strict(),
  // To the supplier: a dealer asks to return goods (the return's own number and id).
  "order.return_requested": orderNotice,
  // To the dealer: the supplier approved the return, then refunded it.
  "order.return_approved": orderNotice,
  "order.return_refunded": orderNotice.extend({ amountDisplay: displayText(40) }).strict(),
  // To the payer: an e-Pay payment came in after its purpose had closed; the money is in its wallet.
  "payment.left_in_wallet": z
    .object({
      paymentId: z.string().uuid(),
      accountCode: displayText(100),
      amountDisplay: displayText(40),
    })
    .strict(),
  // To a borrower and its guarantor: an instalment falls due in three days, today, or is overdue.
  "loan.due_soon": loanNotice,
  "loan.due_today": loanNotice,
  "loan.overdue": loanNotice,
} as const satisfies Record<NotificationTopic, z.ZodTypeAny>;

export type NotificationParams = { [T in NotificationTopic]: z.infer<(typeof NOTIFICATION_PARAMS)[T]> };

export interface NotificationRequestInput<T extends NotificationTopic = NotificationTopic> {
  organizationId: string;
  topic: T;
  params: NotificationParams[T];
  /** Same key → same request (e.g. `wallet.credited:<transfer id>`): a retried caller asks once. */
  dedupeKey?: string;
}

export interface DeliverNotificationPayload {
  requestId: string;
}

export const deliverNotificationPayload = z.object({ requestId: z.string().uuid() }).strict();

function isNotificationTopic(topic: string): topic is NotificationTopic {
  return (NOTIFICATION_TOPICS as readonly string[]).includes(topic);
}

/**
 * Ask for a notification to every member of an organisation, as part of the caller's business
 * change: the request and its outbox row commit or roll back with it.
 */
export async function requestNotification<T extends NotificationTopic>(
  trx: Trx,
  actor: Actor,
  input: NotificationRequestInput<T>,
): Promise<{ requestId: string; created: boolean }> {
  const [result] = await requestNotifications(trx, [{ actor, notification: input }]);
  return result;
}

function checkedParams(input: NotificationRequestInput): unknown {
  if (!isNotificationTopic(input.topic)) {
    throw new DomainError("validation", `unknown notification topic ${String(input.topic)}`, { topic: "unknown topic" });
  }
  const parsed = NOTIFICATION_PARAMS[input.topic].safeParse(input.params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "params";
    throw new DomainError("validation", `notification params: ${field}: ${issue?.message ?? "invalid"}`, { [field]: issue?.message ?? "invalid" });
  }
  if (input.dedupeKey !== undefined && (input.dedupeKey.length < 1 || input.dedupeKey.length > NOTIFICATION_LIMITS.dedupeKeyCharsMax)) {
    throw new DomainError("validation", `dedupe key must be 1–${NOTIFICATION_LIMITS.dedupeKeyCharsMax} characters`, { dedupeKey: "length" });
  }
  return parsed.data;
}

/**
 * Many notification requests in one statement whatever their number: the requests, their outbox
 * rows, their audit rows. Results come back in the order asked.
 */
export async function requestNotifications(
  trx: Trx,
  requests: readonly { actor: Actor; notification: NotificationRequestInput }[],
): Promise<{ requestId: string; created: boolean }[]> {
  if (requests.length === 0) return [];
  if (!trx.isTransaction) throw new Error("notifications: a request is part of the caller's transaction");
  const prepared = prepareNotificationRequests(requests);
  const { rows: inserted } = await sql<{ id: string }>`with ${prepared.clauses()} select id from requested`.execute(trx);
  const created = new Set(inserted.map((r) => r.id));
  const results: { requestId: string; created: boolean }[] = [];
  for (const [i, { notification }] of requests.entries()) {
    if (created.has(prepared.ids[i])) {
      results.push({ requestId: prepared.ids[i], created: true });
      continue;
    }
    const organization = await trx.selectFrom("organizations").select("id").where("id", "=", notification.organizationId).executeTakeFirst();
    if (!organization) throw new DomainError("not_found", "organisation not found", { organizationId: "not found" });
    // dedupe_key is the only conflict source besides the id; the first request stands.
    const existing = await trx
      .selectFrom("notification_requests")
      .select("id")
      .where("dedupe_key", "=", notification.dedupeKey ?? null)
      .executeTakeFirstOrThrow();
    results.push({ requestId: existing.id, created: false });
  }
  return results;
}

/** Notification requests as WITH clauses: see prepareNotificationRequests. */
interface PreparedNotificationRequests {
  /** The request ids, in the order asked. */
  ids: string[];
  /** The WITH clauses `requested` (returning the ids written), `queued` and `audited`. */
  clauses(): RawBuilder<unknown>;
}

/** The requests, their outbox rows and their audit rows as the WITH clauses of one statement. */
function prepareNotificationRequests(requests: readonly { actor: Actor; notification: NotificationRequestInput }[]): PreparedNotificationRequests {
  const params = requests.map((r) => JSON.stringify(checkedParams(r.notification)));
  // Ids chosen here, so each returned row is matched to its request whatever order they come in,
  // and the outbox and audit rows can be made before the statement that writes all three.
  const ids = requests.map(() => randomUUID());
  const jobs: OutboxJob[] = ids.map((requestId) => {
    const payload: DeliverNotificationPayload = { requestId };
    return { queue: NOTIFICATIONS_QUEUE, name: DELIVER_NOTIFICATION_JOB, jobId: outboxJobId("notifications", requestId, "deliver"), payload: { ...payload } };
  });
  const audits = requests.flatMap(({ actor, notification }, i) =>
    auditRows(actor, [
      { action: "notification.requested", entityType: "notification_request", entityId: ids[i], organizationId: notification.organizationId, after: { topic: notification.topic } },
    ]),
  );
  // The requests, then, for those written, their outbox and audit rows. Each request is selected
  // from organizations, so the organisation's existence is checked by the INSERT itself; a request
  // that got no row (organisation missing, or its dedupe key seen) is simply not in `requested`.
  const clauses = () => sql`requested as (
      insert into notification_requests (id, organization_id, topic, params, dedupe_key, requested_by_user_id)
      select v.id, o.id, v.topic, v.params::jsonb, v.dedupe_key, v.requested_by_user_id
        from unnest(${ids}::uuid[], ${requests.map((r) => r.notification.organizationId)}::uuid[], ${requests.map((r) => r.notification.topic)}::text[],
                    ${params}::text[], ${requests.map((r) => r.notification.dedupeKey ?? null)}::text[],
                    ${requests.map((r) => r.actor.userId)}::uuid[]) with ordinality as v (id, organization_id, topic, params, dedupe_key, requested_by_user_id, n)
        join organizations o on o.id = v.organization_id
       order by v.n
      on conflict (dedupe_key) do nothing
      returning id
    ),
    queued as (${enqueueClause(jobs, sql`(v.payload::jsonb ->> 'requestId')::uuid in (select id from requested)`)}),
    audited as (${auditClauseOfRows(audits, sql`v.entity_id in (select id::text from requested)`)})`;
  return { ids, clauses };
}

export interface DeliverResult {
  /** Notifications written by this run (0 when a previous run already delivered). */
  inserted: number;
  status: NotificationRequestStatus;
}

/**
 * Deliveries asked for at the same moment (one worker's concurrent jobs) share a transaction, as
 * order placements do (decision 015): a fixed number of statements per batch instead of seven per
 * request. How many per batch, how many batches at once, and how many may wait.
 */
export const DELIVERY_GROUP_COMMIT = { maxBatch: 32, maxInFlight: 2, maxWaiting: 1_024 } as const;

const deliveryQueues = new WeakMap<Db, GroupCommit<string, DeliverResult>>();

/**
 * The deliver step: one notification per active member of the request's organisation, exactly once.
 * Under the request's row lock: insert (ON CONFLICT DO NOTHING), move the state. A second run,
 * concurrent or later, waits on the lock, then sees `delivered` and changes nothing. Inside a
 * caller's transaction the request is delivered in it, alone.
 */
export async function deliverNotification(db: Db, requestId: string): Promise<DeliverResult> {
  if (db.isTransaction) {
    const [outcome] = await deliverNotifications(db, [requestId]);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
  let queue = deliveryQueues.get(db);
  if (!queue) {
    queue = new GroupCommit<string, DeliverResult>((batch) => deliverNotifications(db, batch), DELIVERY_GROUP_COMMIT);
    deliveryQueues.set(db, queue);
  }
  return queue.submit(requestId);
}

/**
 * Several requests in one transaction, in six statements whatever their number: lock them (id
 * order), read the active members of their organisations, insert the notifications, move the
 * requests, write the audit rows. Each request is settled on its own: one refused (unknown, too many
 * members) writes nothing of it and refuses no other. The same id twice: the second finds it done.
 */
async function deliverNotifications(db: Db, requestIds: readonly string[]): Promise<Settled<DeliverResult>[]> {
  return inTransaction(db, async (trx) => {
    const wanted = [...new Set(requestIds.filter((id) => isUuid(id)))];
    const requests = wanted.length
      ? await trx.selectFrom("notification_requests").selectAll().where("id", "in", wanted).orderBy("id").forUpdate().execute()
      : [];
    const due = requests.filter((r) => NOTIFICATION_TRANSITIONS[r.status].deliver !== undefined);
    const organizationIds = [...new Set(due.map((r) => r.organization_id))];
    const members = organizationIds.length
      ? await trx
          .selectFrom("memberships as m")
          .innerJoin("users as u", "u.id", "m.user_id")
          .select(["m.organization_id", "m.user_id"])
          .distinct()
          .where("m.organization_id", "in", organizationIds)
          .where("u.status", "=", "active")
          .orderBy("m.organization_id")
          .orderBy("m.user_id")
          .execute()
      : [];
    const membersOf = new Map<string, string[]>();
    for (const m of members) membersOf.set(m.organization_id, [...(membersOf.get(m.organization_id) ?? []), m.user_id]);

    const outcome = new Map<string, Settled<DeliverResult>>();
    for (const r of requests) if (!due.includes(r)) outcome.set(r.id, { ok: true, value: { inserted: 0, status: r.status } });
    const moves: { id: string; organizationId: string; from: NotificationRequestStatus; to: NotificationRequestStatus; recipients: string[]; params: string; topic: NotificationTopic }[] = [];
    for (const r of due) {
      const recipients = membersOf.get(r.organization_id) ?? [];
      if (recipients.length > NOTIFICATION_LIMITS.recipientsMax) {
        outcome.set(r.id, { ok: false, error: new DomainError("invalid_state", `organisation has more than ${NOTIFICATION_LIMITS.recipientsMax} members to notify`) });
        continue;
      }
      const to = NOTIFICATION_TRANSITIONS[r.status].deliver as NotificationRequestStatus;
      moves.push({ id: r.id, organizationId: r.organization_id, from: r.status, to, recipients, params: JSON.stringify(r.params), topic: r.topic });
    }

    const notices = moves.flatMap((m) => m.recipients.map((userId) => ({ request_id: m.id, organization_id: m.organizationId, user_id: userId, topic: m.topic, params: m.params })));
    const insertedBy = new Map<string, number>();
    if (notices.length > 0) {
      const rows = await trx
        .insertInto("notifications")
        .values(notices)
        .onConflict((oc) => oc.columns(["request_id", "user_id"]).doNothing())
        .returning("request_id")
        .execute();
      for (const row of rows) insertedBy.set(row.request_id, (insertedBy.get(row.request_id) ?? 0) + 1);
    }
    if (moves.length > 0) {
      await sql`
        update notification_requests t
           set status = v.status, delivered_at = now(), recipient_count = v.recipient_count
          from (select * from unnest(${moves.map((m) => m.id)}::uuid[], ${moves.map((m) => m.to)}::text[], ${moves.map((m) => m.recipients.length)}::int[])
                  as v (id, status, recipient_count)) v
         where t.id = v.id and t.status = any(${[...new Set(moves.map((m) => m.from))]}::text[])`.execute(trx);
      await recordAudits(
        trx,
        SYSTEM_ACTOR,
        moves.map((m) => ({
          action: "notification.delivered",
          entityType: "notification_request",
          entityId: m.id,
          organizationId: m.organizationId,
          before: { status: m.from },
          after: { status: m.to, recipient_count: m.recipients.length },
        })),
      );
    }
    for (const m of moves) outcome.set(m.id, { ok: true, value: { inserted: insertedBy.get(m.id) ?? 0, status: m.to } });

    const answered = new Set<string>();
    return requestIds.map((id): Settled<DeliverResult> => {
      const settled = outcome.get(id);
      if (!settled) return { ok: false, error: new DomainError("not_found", `notification request ${id} not found`) };
      // The same request asked twice in one batch: the first gets the work, the others find it done.
      if (answered.has(id) && settled.ok) return { ok: true, value: { inserted: 0, status: settled.value.status } };
      answered.add(id);
      return settled;
    });
  });
}

export interface InboxEntry<T extends NotificationTopic = NotificationTopic> {
  id: string;
  topic: T;
  params: NotificationParams[T];
  createdAt: Date;
  readAt: Date | null;
  /** The page of the notice's subject for this organisation, or null when it has none to open. */
  href: string | null;
}

export type InboxNotification = { [T in NotificationTopic]: InboxEntry<T> }[NotificationTopic];

export interface InboxScope {
  userId: string;
  organizationId: string;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return NOTIFICATION_LIMITS.listDefault;
  return Math.min(Math.max(Math.trunc(limit), 1), NOTIFICATION_LIMITS.listMax);
}


/**
 * Where each notice leads, as data: the subject's page from the notice's own ids. A topic whose
 * page needs one more id (the campaign of an application, the account of a wallet credit) says
 * so with `lookup` and gets it from the recipient organisation's own rows, so a link never names
 * another organisation's record. A new topic must say where it leads (the type requires it).
 */
type SubjectRule =
  | { kind: "path"; path: (params: Record<string, unknown>) => string }
  | { kind: "lookup"; lookup: "application" | "account" }
  | { kind: "none" };

export const NOTICE_SUBJECTS: Readonly<Record<NotificationTopic, SubjectRule>> = {
  // No members page yet: the notice is read where it is.
  "membership.added": { kind: "none" },
  "wallet.credited": { kind: "lookup", lookup: "account" },
  "order.submitted": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "order.confirmed": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "order.shipped": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "order.balance_due": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "order.return_requested": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "order.return_approved": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "order.return_refunded": { kind: "path", path: (p) => `/orders/${String(p.orderId)}` },
  "recruitment.application_submitted": { kind: "lookup", lookup: "application" },
  "market_order.paid": { kind: "path", path: (p) => `/market/orders/${String(p.orderId)}` },
  "market_order.disputed": { kind: "path", path: (p) => `/market/orders/${String(p.orderId)}` },
  "market_order.shipped": { kind: "path", path: (p) => `/market/orders/${String(p.orderId)}` },
  "market_order.settled": { kind: "path", path: (p) => `/market/orders/${String(p.orderId)}` },
  "market_order.refunded": { kind: "path", path: (p) => `/market/orders/${String(p.orderId)}` },
  "market_dispute.ruled": { kind: "path", path: (p) => `/market/orders/${String(p.orderId)}` },
  "market.announcement_published": { kind: "path", path: () => "/market/announcements" },
  // The wallet's statement, where the money now is and a refund can be asked for.
  "payment.left_in_wallet": { kind: "lookup", lookup: "account" },
  "loan.due_soon": { kind: "path", path: (p) => `/financing/loans/${String(p.loanId)}` },
  "loan.due_today": { kind: "path", path: (p) => `/financing/loans/${String(p.loanId)}` },
  "loan.overdue": { kind: "path", path: (p) => `/financing/loans/${String(p.loanId)}` },
};

/** The subject pages of these notices, in order, each resolved within the recipient organisation. */
async function subjectHrefs(db: Db, organizationId: string, rows: readonly { topic: NotificationTopic; params: Record<string, unknown> }[]): Promise<(string | null)[]> {
  const applicationIds = new Set<string>();
  const accountCodes = new Set<string>();
  for (const r of rows) {
    const rule = NOTICE_SUBJECTS[r.topic];
    if (rule?.kind !== "lookup") continue;
    if (rule.lookup === "application" && typeof r.params.applicationId === "string" && isUuid(r.params.applicationId)) applicationIds.add(r.params.applicationId);
    if (rule.lookup === "account" && typeof r.params.accountCode === "string") accountCodes.add(r.params.accountCode);
  }
  const campaignOf = new Map<string, string>();
  if (applicationIds.size > 0) {
    const apps = await db
      .selectFrom("recruitment_applications")
      .select(["id", "campaign_id"])
      .where("id", "in", [...applicationIds])
      .where("core_enterprise_id", "=", organizationId)
      .execute();
    for (const a of apps) campaignOf.set(a.id, a.campaign_id);
  }
  const accountOf = new Map<string, string>();
  if (accountCodes.size > 0) {
    const accounts = await db
      .selectFrom("ledger_accounts")
      .select(["id", "code"])
      .where("code", "in", [...accountCodes])
      .where("organization_id", "=", organizationId)
      .execute();
    for (const a of accounts) accountOf.set(a.code, a.id);
  }
  return rows.map((r) => {
    const rule = NOTICE_SUBJECTS[r.topic];
    if (!rule || rule.kind === "none") return null;
    if (rule.kind === "path") return rule.path(r.params);
    if (rule.lookup === "application") {
      const applicationId = String(r.params.applicationId);
      const campaignId = campaignOf.get(applicationId);
      return campaignId ? `/campaigns/${campaignId}/applications/${applicationId}` : null;
    }
    const accountId = accountOf.get(String(r.params.accountCode));
    return accountId ? `/accounts/${accountId}` : null;
  });
}

/** The inbox's keyset: newest first by (created_at, id), in the one cursor codec. */
function decodeInboxCursor(cursor: string): [Date, string] {
  const parts = decodeCursor(cursor, ["timestamp", "uuid"]);
  if (!parts) throw invalidCursor();
  return [new Date(parts[0]), parts[1]];
}

/** The user's inbox in one organisation, newest first; another organisation's rows never appear. */
export async function listNotifications(db: Db, scope: InboxScope & { limit?: number; after?: string | null; unreadOnly?: boolean }): Promise<InboxNotification[]> {
  return (await listNotificationsPage(db, scope)).items;
}

/** One page of the inbox and the cursor of the next (`after`), or null on the last page. */
export async function listNotificationsPage(
  db: Db,
  scope: InboxScope & { limit?: number; after?: string | null; unreadOnly?: boolean },
): Promise<{ items: InboxNotification[]; nextCursor: string | null }> {
  const limit = clampLimit(scope.limit);
  let query = db
    .selectFrom("notifications")
    .select(["id", "topic", "params", "created_at", "read_at"])
    .where("user_id", "=", scope.userId)
    .where("organization_id", "=", scope.organizationId);
  if (scope.unreadOnly) query = query.where("read_at", "is", null);
  if (scope.after) {
    const [at, id] = decodeInboxCursor(scope.after);
    query = query.where((eb) => eb.or([eb("created_at", "<", at), eb.and([eb("created_at", "=", at), eb("id", "<", id)])]));
  }
  const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const hrefs = await subjectHrefs(db, scope.organizationId, page);
  const items = page.map(
    (r, i) =>
      ({
        id: r.id,
        topic: r.topic,
        params: r.params,
        createdAt: r.created_at,
        readAt: r.read_at,
        href: hrefs[i],
      }) as InboxNotification,
  );
  const last = page[page.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.created_at, last.id]) : null };
}

export async function countUnreadNotifications(db: Db, scope: InboxScope): Promise<number> {
  const row = await db
    .selectFrom("notifications")
    .select(sql<number>`count(*)::int`.as("n"))
    .where("user_id", "=", scope.userId)
    .where("organization_id", "=", scope.organizationId)
    .where("read_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/*
 * Read state is the reader's own bookkeeping, not a change to the business: marking read writes
 * no audit row (it would drown the activity feed) and no outbox row.
 */

/** Mark every unread notification of the user in this organisation as read; returns how many. */
export async function markNotificationsRead(db: Db, scope: InboxScope, now: Date): Promise<number> {
  const result = await db
    .updateTable("notifications")
    .set({ read_at: now })
    .where("user_id", "=", scope.userId)
    .where("organization_id", "=", scope.organizationId)
    .where("read_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Open one notice: marked read (once; a second open keeps the first time) and its subject's page
 * returned. Another user's or another organisation's notice is not_found, as if it did not exist.
 */
export async function openNotification(db: Db, scope: InboxScope, notificationId: string, now: Date): Promise<{ href: string | null }> {
  if (!isUuid(notificationId)) throw new DomainError("not_found", "notification not found");
  const row = await db
    .updateTable("notifications")
    .set((eb) => ({ read_at: eb.fn.coalesce("read_at", sql<Date>`${now}::timestamptz`) }))
    .where("id", "=", notificationId)
    .where("user_id", "=", scope.userId)
    .where("organization_id", "=", scope.organizationId)
    .returning(["topic", "params"])
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "notification not found");
  const [href] = await subjectHrefs(db, scope.organizationId, [row]);
  return { href };
}

/** A notice's subject without marking it read (a plain GET of the notice's address). */
export async function notificationHref(db: Db, scope: InboxScope, notificationId: string): Promise<{ href: string | null }> {
  if (!isUuid(notificationId)) throw new DomainError("not_found", "notification not found");
  const row = await db
    .selectFrom("notifications")
    .select(["topic", "params"])
    .where("id", "=", notificationId)
    .where("user_id", "=", scope.userId)
    .where("organization_id", "=", scope.organizationId)
    .executeTakeFirst();
  if (!row) throw new DomainError("not_found", "notification not found");
  const [href] = await subjectHrefs(db, scope.organizationId, [row]);
  return { href };
}
