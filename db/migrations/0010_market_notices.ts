import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Market notices in the inbox (a merchant's paid order to ship, a dispute opened on an order, an
// announcement to the market's merchants), and the indexes the operator's dashboard ranges over
// (orders by market and the day they were paid or settled).

const TOPICS = ["market_order.paid", "market_order.disputed", "market.announcement_published"];

/** The inbox's topic CHECK, read live and widened (as 0007 does), not restated. */
async function setNotificationTopics(db: Kysely<unknown>, change: (topics: string[]) => string[]): Promise<void> {
  const { rows } = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'notification_requests'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%topic%'`.execute(db);
  const current = rows[0];
  if (!current) throw new Error("0010_market_notices: no topic CHECK on notification_requests");
  const topics = [...current.def.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const next = [...new Set(change(topics))];
  for (const topic of next) {
    if (!/^[a-z_.]+$/.test(topic)) throw new Error(`0010_market_notices: unexpected topic ${topic}`);
  }
  await sql`alter table notification_requests drop constraint ${sql.id(current.conname)}`.execute(db);
  await sql`alter table notification_requests add constraint ${sql.id(current.conname)} check (topic in (${sql.join(next.map((t) => sql.lit(t)))}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setNotificationTopics(db, (topics) => [...topics, ...TOPICS]);
  await sql`create index market_orders_market_paid on market_orders (market_id, paid_at) where paid_at is not null`.execute(db);
  await sql`create index market_orders_market_settled on market_orders (market_id, settled_at) where settled_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index market_orders_market_settled`.execute(db);
  await sql`drop index market_orders_market_paid`.execute(db);
  for (const topic of TOPICS) {
    await sql`delete from notifications where topic = ${topic}`.execute(db);
    await sql`delete from notification_requests where topic = ${topic}`.execute(db);
  }
  await setNotificationTopics(db, (topics) => topics.filter((t) => !TOPICS.includes(t)));
}
