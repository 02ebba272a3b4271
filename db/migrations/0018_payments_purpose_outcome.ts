import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Captured money is committed to its purpose in the capture's own transaction (issue 12, item 1;
// decision 021). What became of it is recorded on the payment:
//   applied          the purpose took it (a checkout held, an order part paid, a deposit paid);
//   left_in_wallet   the purpose could no longer take it (checkout expired or cancelled, order
//                    moved on): the money is in the payer's wallet, refundable from there;
//   needs_attention  the purpose refused it for a reason no retry can change; `attention_reason`
//                    says why, and the bank's console lists it.
// A payment captured before this migration and already fulfilled counts as applied.

const TOPICS = ["payment.left_in_wallet"];

/** The inbox's topic CHECK, read live and widened (as 0015 does), not restated. */
async function setNotificationTopics(db: Kysely<unknown>, change: (topics: string[]) => string[]): Promise<void> {
  const { rows } = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'notification_requests'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%topic%'`.execute(db);
  const current = rows[0];
  if (!current) throw new Error("0018_payments_purpose_outcome: no topic CHECK on notification_requests");
  const topics = [...current.def.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const next = [...new Set(change(topics))];
  for (const topic of next) {
    if (!/^[a-z_.]+$/.test(topic)) throw new Error(`0018_payments_purpose_outcome: unexpected topic ${topic}`);
  }
  await sql`alter table notification_requests drop constraint ${sql.id(current.conname)}`.execute(db);
  await sql`alter table notification_requests add constraint ${sql.id(current.conname)} check (topic in (${sql.join(next.map((t) => sql.lit(t)))}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table payments
    add column purpose_outcome text check (purpose_outcome in ('applied', 'left_in_wallet', 'needs_attention')),
    add column attention_reason text,
    add column attention_at timestamptz`.execute(db);
  await sql`update payments set purpose_outcome = 'applied' where fulfilled_at is not null`.execute(db);
  await sql`alter table payments add constraint payments_attention_shape check (
    (purpose_outcome is not distinct from 'needs_attention') = (attention_reason is not null and attention_at is not null)
    and (purpose_outcome is null or status in ('succeeded', 'partially_refunded', 'refunded'))
  )`.execute(db);
  // The bank's console lists these; there should be few.
  await sql`create index payments_needing_attention on payments (attention_at) where purpose_outcome = 'needs_attention'`.execute(db);
  await setNotificationTopics(db, (topics) => [...topics, ...TOPICS]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const topic of TOPICS) {
    await sql`delete from notifications where topic = ${topic}`.execute(db);
    await sql`delete from notification_requests where topic = ${topic}`.execute(db);
  }
  await setNotificationTopics(db, (topics) => topics.filter((t) => !TOPICS.includes(t)));
  await sql`drop index payments_needing_attention`.execute(db);
  await sql`alter table payments drop constraint payments_attention_shape`.execute(db);
  await sql`alter table payments drop column attention_at, drop column attention_reason, drop column purpose_outcome`.execute(db);
}
