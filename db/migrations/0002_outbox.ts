import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("outbox")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("job_name", "text", (c) => c.notNull())
    .addColumn("job_id", "text", (c) => c.notNull().unique())
    .addColumn("payload", "jsonb", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("available_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("published_at", "timestamptz")
    .addColumn("failed_at", "timestamptz")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0).check(sql`attempts >= 0`))
    .addColumn("last_error", "text")
    .addColumn("last_error_at", "timestamptz")
    // BullMQ refuses a queue name with ':' and a custom job id with ':' unless it has exactly three
    // parts; a row it would refuse must not get in, or it would block the relay forever.
    .addCheckConstraint("outbox_queue_name", sql`queue ~ '^[a-z][a-z0-9_-]{0,62}$'`)
    .addCheckConstraint("outbox_job_id_three_parts", sql`job_id ~ '^[^:]{1,200}:[^:]{1,200}:[^:]{1,200}$'`)
    .addCheckConstraint("outbox_payload_object", sql`jsonb_typeof(payload) = 'object'`)
    .addCheckConstraint("outbox_taken_once", sql`published_at is null or failed_at is null`)
    .execute();
  // The relay and the runner only ever look at rows still waiting; this index stays small.
  await sql`create index outbox_waiting on outbox (id) where published_at is null and failed_at is null`.execute(db);
  // Pruning old published rows walks this one.
  await sql`create index outbox_published on outbox (published_at) where published_at is not null`.execute(db);

  await db.schema
    .createTable("notification_requests")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("topic", "text", (c) => c.notNull().check(sql`topic in ('membership.added','wallet.credited','order.submitted','order.confirmed','order.shipped')`))
    .addColumn("params", "jsonb", (c) => c.notNull().check(sql`jsonb_typeof(params) = 'object'`))
    .addColumn("dedupe_key", "text", (c) => c.unique())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("pending").check(sql`status in ('pending','delivered')`))
    .addColumn("requested_by_user_id", "uuid")
    .addColumn("recipient_count", "integer")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("delivered_at", "timestamptz")
    .addCheckConstraint(
      "notification_requests_delivered_state",
      sql`(status = 'delivered') = (delivered_at is not null and recipient_count is not null)`,
    )
    .execute();
  await db.schema
    .createIndex("notification_requests_org_created")
    .on("notification_requests")
    .columns(["organization_id", "created_at"])
    .execute();

  await db.schema
    .createTable("notifications")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("request_id", "uuid", (c) => c.notNull().references("notification_requests.id"))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("topic", "text", (c) => c.notNull())
    .addColumn("params", "jsonb", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("read_at", "timestamptz")
    // Exactly once per member, however many times the deliver step runs.
    .addUniqueConstraint("notifications_one_per_member", ["request_id", "user_id"])
    .execute();
  await db.schema
    .createIndex("notifications_inbox")
    .on("notifications")
    .columns(["user_id", "organization_id", "created_at"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("notifications").execute();
  await db.schema.dropTable("notification_requests").execute();
  await db.schema.dropTable("outbox").execute();
}
