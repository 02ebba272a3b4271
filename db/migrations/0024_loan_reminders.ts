import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Loan reminders in the inbox (issue 14): three days before an instalment is due, on the day, and
// on the first day it is overdue, to the borrower and its guarantor.

const TOPICS = ["loan.due_soon", "loan.due_today", "loan.overdue"];

/** The inbox's topic CHECK, read live and widened (as 0015 does), not restated. */
async function setNotificationTopics(db: Kysely<unknown>, change: (topics: string[]) => string[]): Promise<void> {
  const { rows } = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'notification_requests'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%topic%'`.execute(db);
  const current = rows[0];
  if (!current) throw new Error("0024_loan_reminders: no topic CHECK on notification_requests");
  const topics = [...current.def.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const next = [...new Set(change(topics))];
  for (const topic of next) {
    if (!/^[a-z_.]+$/.test(topic)) throw new Error(`0024_loan_reminders: unexpected topic ${topic}`);
  }
  await sql`alter table notification_requests drop constraint ${sql.id(current.conname)}`.execute(db);
  await sql`alter table notification_requests add constraint ${sql.id(current.conname)} check (topic in (${sql.join(next.map((t) => sql.lit(t)))}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setNotificationTopics(db, (topics) => [...topics, ...TOPICS]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from notification_requests where topic in (${sql.join(TOPICS.map((t) => sql.lit(t)))})`.execute(db);
  await setNotificationTopics(db, (topics) => topics.filter((t) => !TOPICS.includes(t)));
}
