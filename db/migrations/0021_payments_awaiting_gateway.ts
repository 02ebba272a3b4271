import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// The pending-payment sweep (schedule payments-query-pending, every 2 minutes) reads the payments
// still `created`, oldest first. A handful at any time out of every payment ever made: a partial
// index keeps that read off the table.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index payments_awaiting_gateway on payments (created_at) where status = 'created'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index payments_awaiting_gateway`.execute(db);
}
