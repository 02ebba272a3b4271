import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Notices where one party waits on the other (issue 11, items 6 and 10): the buyer of a market
// order when it ships, settles or is refunded; buyer and merchant on a dispute's ruling; the dealer
// when a season's release makes a booking's balance due, when a return is approved or refunded;
// the supplier when a return is requested. The inbox already has its read state (`read_at`).

const TOPICS = [
  "market_order.shipped",
  "market_order.settled",
  "market_order.refunded",
  "market_dispute.ruled",
  "order.balance_due",
  "order.return_requested",
  "order.return_approved",
  "order.return_refunded",
];

/** The inbox's topic CHECK, read live and widened (as 0007 and 0010 do), not restated. */
async function setNotificationTopics(db: Kysely<unknown>, change: (topics: string[]) => string[]): Promise<void> {
  const { rows } = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'notification_requests'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%topic%'`.execute(db);
  const current = rows[0];
  if (!current) throw new Error("0015_notice_topics: no topic CHECK on notification_requests");
  const topics = [...current.def.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const next = [...new Set(change(topics))];
  for (const topic of next) {
    if (!/^[a-z_.]+$/.test(topic)) throw new Error(`0015_notice_topics: unexpected topic ${topic}`);
  }
  await sql`alter table notification_requests drop constraint ${sql.id(current.conname)}`.execute(db);
  await sql`alter table notification_requests add constraint ${sql.id(current.conname)} check (topic in (${sql.join(next.map((t) => sql.lit(t)))}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setNotificationTopics(db, (topics) => [...topics, ...TOPICS]);
  // The unread count in the top bar runs on every page: the user's unread rows of one organisation.
  await sql`create index notifications_unread on notifications (user_id, organization_id) where read_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index notifications_unread`.execute(db);
  for (const topic of TOPICS) {
    await sql`delete from notifications where topic = ${topic}`.execute(db);
    await sql`delete from notification_requests where topic = ${topic}`.execute(db);
  }
  await setNotificationTopics(db, (topics) => topics.filter((t) => !TOPICS.includes(t)));
}
