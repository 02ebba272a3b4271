import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("api_tokens")
    .addColumn("token_hash", "text", (c) => c.primaryKey().check(sql`token_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("ip", "text")
    .addColumn("user_agent", "text", (c) => c.check(sql`length(user_agent) <= 500`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addCheckConstraint("api_tokens_expire_after_creation", sql`expires_at > created_at`)
    .execute();
  // Purging walks expiry; a user's tokens are dropped together when the user goes.
  await db.schema.createIndex("api_tokens_expires").on("api_tokens").column("expires_at").execute();
  await db.schema.createIndex("api_tokens_user").on("api_tokens").column("user_id").execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull().check(sql`length(btrim(name)) between 1 and 100`))
    .addColumn("prefix", "text", (c) => c.notNull().unique().check(sql`prefix ~ '^[a-z0-9]{10}$'`))
    .addColumn("secret_hash", "text", (c) => c.notNull().check(sql`secret_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn("roles", sql`text[]`, (c) =>
      c
        .notNull()
        .check(sql`cardinality(roles) between 1 and 5 and roles <@ array['admin','purchaser','sales','finance','viewer']::text[]`),
    )
    .addColumn("created_by_user_id", "uuid", (c) => c.references("users.id").onDelete("set null"))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_used_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .addColumn("revoked_by_user_id", "uuid", (c) => c.references("users.id").onDelete("set null"))
    .execute();
  // Names tell live keys apart; a revoked key's name may be reused.
  await sql`create unique index api_keys_live_name on api_keys (organization_id, lower(name)) where revoked_at is null`.execute(db);
  await db.schema.createIndex("api_keys_org").on("api_keys").columns(["organization_id", "created_at"]).execute();

  await db.schema
    .createTable("idempotency_keys")
    .addColumn("scope", "text", (c) => c.notNull().check(sql`length(scope) between 1 and 100`))
    .addColumn("key", "text", (c) => c.notNull().check(sql`key ~ '^[\\x21-\\x7e]{1,255}$'`))
    .addColumn("request_hash", "text", (c) => c.notNull().check(sql`request_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn("method", "text", (c) => c.notNull().check(sql`length(method) <= 10`))
    .addColumn("path", "text", (c) => c.notNull().check(sql`length(path) <= 2000`))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('in_progress','completed')`))
    .addColumn("lock_token", "uuid", (c) => c.notNull())
    .addColumn("locked_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("response_status", "integer")
    .addColumn("response_body", "jsonb")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("completed_at", "timestamptz")
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("idempotency_keys_pk", ["scope", "key"])
    // A completed row always carries the response it replays; an in-progress one never does.
    .addCheckConstraint(
      "idempotency_keys_completed_state",
      sql`(status = 'completed') = (response_status is not null and response_body is not null and completed_at is not null)`,
    )
    .execute();
  await db.schema.createIndex("idempotency_keys_expires").on("idempotency_keys").column("expires_at").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("idempotency_keys").execute();
  await db.schema.dropTable("api_keys").execute();
  await db.schema.dropTable("api_tokens").execute();
}
