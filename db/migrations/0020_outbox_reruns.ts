import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// A job given up on (failed_at) can be run again by the bank's operations staff once its cause is
// fixed. `reruns` counts those requests; the relay sees it and first removes the failed job BullMQ
// still keeps under the same id (30 days), or the add would be a no-op.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("outbox")
    .addColumn("reruns", "integer", (c) => c.notNull().defaultTo(0).check(sql`reruns >= 0`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("outbox").dropColumn("reruns").execute();
}
