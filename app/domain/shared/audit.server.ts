import type { Insertable, QueryCreator, RawBuilder } from "kysely";
import type { Database, Db } from "../../../db";
import type { AuditEventsTable } from "../../../db/schema";
import { insertFromArrays, type ArrayColumns } from "../../../db/unnest";

/**
 * audit_events has one writer, this module: recordAudit(s) for a statement of their own, auditClause
 * for a WITH clause of a caller's statement. Nothing else inserts into it (tests/unit/one-writer).
 * The table is append-only (a trigger refuses UPDATE and DELETE, migration 0001).
 */

/** Who is acting, carried from the request (or a workflow step) into every state change. */
export interface Actor {
  userId: string | null;
  organizationId: string | null;
  ip?: string | null;
  requestId?: string | null;
}

export const SYSTEM_ACTOR: Actor = { userId: null, organizationId: null, ip: null, requestId: null };

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
  /** Defaults to the actor's organisation. */
  organizationId?: string | null;
}

/** Append one audit event; call it inside the transaction that makes the change it records. */
export async function recordAudit(db: Db, actor: Actor, entry: AuditEntry): Promise<void> {
  await recordAudits(db, actor, [entry]);
}

/** Append several audit events of one change, in the order given, with one INSERT. */
export async function recordAudits(db: Db, actor: Actor, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.insertInto("audit_events").values(auditRows(actor, entries)).execute();
}

const AUDIT_ARRAY_COLUMNS = [
  ["actor_user_id", "uuid"],
  ["organization_id", "uuid"],
  ["action", "text"],
  ["entity_type", "text"],
  ["entity_id", "text"],
  ["before", "jsonb"],
  ["after", "jsonb"],
  ["ip", "text"],
  ["request_id", "text"],
] as const satisfies ArrayColumns<Insertable<AuditEventsTable>>;

/**
 * The INSERT of these entries' audit rows for a WITH clause of a caller's statement (or as the
 * statement's last part), in the order given: one statement text whatever their number. `keepIf`
 * (over the rows as `v`, see insertFromArrays) writes only some, e.g. those whose entity the same statement created.
 */
export function auditClause(actor: Actor, entries: readonly AuditEntry[], keepIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  return auditClauseOfRows(auditRows(actor, entries), keepIf);
}

/** The same INSERT as a Kysely builder, for a Kysely WITH clause (`.with("audit", (q) => auditInsert(q, …))`). */
export function auditInsert<DB extends Database>(creator: QueryCreator<DB>, actor: Actor, entries: readonly AuditEntry[]) {
  return (creator as unknown as QueryCreator<Database>).insertInto("audit_events").values(auditRows(actor, entries));
}

/** auditClause for rows of several actors (auditRows of each). */
export function auditClauseOfRows(rows: readonly Insertable<AuditEventsTable>[], keepIf?: RawBuilder<boolean>): RawBuilder<unknown> {
  return insertFromArrays("audit_events", rows, AUDIT_ARRAY_COLUMNS, keepIf);
}

/** The audit_events rows of these entries (what auditClause writes). */
export function auditRows(actor: Actor, entries: readonly AuditEntry[]): Insertable<AuditEventsTable>[] {
  return entries.map((entry) => ({
    actor_user_id: actor.userId,
    organization_id: entry.organizationId === undefined ? actor.organizationId : entry.organizationId,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId ?? null,
    before: entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === undefined ? null : JSON.stringify(entry.after),
    ip: actor.ip ?? null,
    request_id: actor.requestId ?? null,
  }));
}

/**
 * Actions of the platform's machinery rather than of the business: the notification workflow's
 * request and delivery rows. They stay in the audit trail; the activity feed leaves them out
 * (on a busy day they were most of it: "通知已送达 · 系统" repeated).
 */
export const MACHINERY_AUDIT_ACTIONS = ["notification.requested", "notification.delivered"] as const;

/** An organisation's activity feed: its audit events, newest first, without the machinery. */
export async function listAuditEvents(db: Db, organizationId: string, limit = 20) {
  return db
    .selectFrom("audit_events")
    .select(["id", "at", "actor_user_id", "action", "entity_type", "entity_id"])
    .where("organization_id", "=", organizationId)
    .where("action", "not in", MACHINERY_AUDIT_ACTIONS)
    .orderBy("id", "desc")
    .limit(Math.min(Math.max(limit, 1), 100))
    .execute();
}
