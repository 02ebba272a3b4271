import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// An outbox row is done when its step has run, not when it was handed to BullMQ (issue 12, item 2;
// decision 002). A row's life is now:
//   waiting     published_at null                     the relay (or in-process runner) takes it;
//   in flight   published_at set, no ending           in BullMQ; if not completed within the lease,
//                                                     the redelivery sweep asks BullMQ and sends it
//                                                     again when BullMQ no longer has it;
//   completed   completed_at set                      its step ran (the worker records it);
//   failed      failed_at set                         retries spent or a permanent error: listed on
//                                                     /healthz and the bank's console, not retried.
// Rows published before this migration count as completed: nothing recorded whether their steps ran,
// and treating them all as in flight would send up to a week of finished work again.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("outbox")
    .addColumn("completed_at", "timestamptz")
    .addColumn("redeliveries", "integer", (c) => c.notNull().defaultTo(0).check(sql`redeliveries >= 0`))
    .execute();
  await sql`update outbox set completed_at = published_at where published_at is not null`.execute(db);
  // A published row may now also fail (BullMQ gave up on it); it may not both fail and complete.
  await sql`alter table outbox drop constraint outbox_taken_once`.execute(db);
  await sql`alter table outbox add constraint outbox_one_ending check (completed_at is null or failed_at is null)`.execute(db);
  await sql`alter table outbox add constraint outbox_completed_after_taken check (completed_at is null or published_at is not null)`.execute(db);
  // The redelivery sweep walks only rows in flight; this index holds just those.
  await sql`create index outbox_in_flight on outbox (published_at) where published_at is not null and completed_at is null and failed_at is null`.execute(db);
  await sql`create index outbox_failed on outbox (failed_at) where failed_at is not null`.execute(db);
  // Pruning now walks completion, not publication: an in-flight row is state, not history.
  await sql`drop index outbox_published`.execute(db);
  await sql`create index outbox_completed on outbox (completed_at) where completed_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index outbox_completed`.execute(db);
  await sql`create index outbox_published on outbox (published_at) where published_at is not null`.execute(db);
  await sql`drop index outbox_failed`.execute(db);
  await sql`drop index outbox_in_flight`.execute(db);
  await sql`alter table outbox drop constraint outbox_completed_after_taken`.execute(db);
  await sql`alter table outbox drop constraint outbox_one_ending`.execute(db);
  await sql`update outbox set published_at = null where published_at is not null and failed_at is not null`.execute(db);
  await sql`alter table outbox add constraint outbox_taken_once check (published_at is null or failed_at is null)`.execute(db);
  await db.schema.alterTable("outbox").dropColumn("redeliveries").dropColumn("completed_at").execute();
}
