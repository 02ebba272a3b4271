import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.

const appendOnly = (table: string) => sql`
  create trigger ${sql.raw(`${table}_append_only`)}
  before update or delete on ${sql.table(table)}
  for each row execute function rongtong_refuse_change()`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create function rongtong_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception '% is append-only', tg_table_name using errcode = 'P0001';
    end $$`.execute(db);

  await db.schema
    .createTable("organizations")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("kind", "text", (c) =>
      c.notNull().check(sql`kind in ('bank','core_enterprise','dealer','market_operator','merchant','buyer')`),
    )
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("name_en", "text")
    .addColumn("uscc", "char(18)", (c) => c.unique())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active").check(sql`status in ('active','suspended')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // One bank operates the platform.
  await sql`create unique index organizations_one_bank on organizations ((kind)) where kind = 'bank'`.execute(db);

  await db.schema
    .createTable("users")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("locale", "text", (c) => c.notNull().defaultTo("zh-CN"))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active").check(sql`status in ('active','disabled')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("last_login_at", "timestamptz")
    .execute();
  await sql`create unique index users_email_normalized on users (lower(email))`.execute(db);

  await db.schema
    .createTable("memberships")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("role", "text", (c) =>
      c
        .notNull()
        .check(
          sql`role in ('owner','admin','purchaser','sales','finance','viewer','credit_officer','operations','platform_admin')`,
        ),
    )
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("memberships_user_org_role", ["user_id", "organization_id", "role"])
    .execute();
  await db.schema.createIndex("memberships_organization").on("memberships").column("organization_id").execute();

  await db.schema
    .createTable("sessions")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("csrf_token", "text", (c) => c.notNull())
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("login_failures")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("email_normalized", "text", (c) => c.notNull())
    .addColumn("ip", "text")
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("login_failures_email_at").on("login_failures").columns(["email_normalized", "at"]).execute();
  await db.schema.createIndex("login_failures_ip_at").on("login_failures").columns(["ip", "at"]).execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("actor_user_id", "uuid")
    .addColumn("organization_id", "uuid")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("entity_type", "text", (c) => c.notNull())
    .addColumn("entity_id", "text")
    .addColumn("before", "jsonb")
    .addColumn("after", "jsonb")
    .addColumn("ip", "text")
    .addColumn("request_id", "text")
    .execute();
  await db.schema.createIndex("audit_events_org_at").on("audit_events").columns(["organization_id", "at"]).execute();
  await db.schema.createIndex("audit_events_entity").on("audit_events").columns(["entity_type", "entity_id"]).execute();
  await appendOnly("audit_events").execute(db);

  await db.schema
    .createTable("ledger_accounts")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("code", "text", (c) => c.notNull().unique())
    .addColumn("organization_id", "uuid", (c) => c.references("organizations.id"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull().defaultTo("CNY").check(sql`currency = 'CNY'`))
    .addColumn("normal_side", "text", (c) => c.notNull().check(sql`normal_side in ('debit','credit')`))
    .addColumn("overdraft_rule", "text", (c) =>
      c.notNull().check(sql`overdraft_rule in ('none','debits_le_credits','credits_le_debits')`),
    )
    .addColumn("debits_posted_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`debits_posted_fen >= 0`))
    .addColumn("credits_posted_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`credits_posted_fen >= 0`))
    .addColumn("debits_pending_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`debits_pending_fen >= 0`))
    .addColumn("credits_pending_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`credits_pending_fen >= 0`))
    .addColumn("version", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // The last line of defence against overdraft: whatever the code does, the row cannot be written.
    .addCheckConstraint(
      "ledger_accounts_debits_le_credits",
      sql`overdraft_rule <> 'debits_le_credits' or debits_posted_fen + debits_pending_fen <= credits_posted_fen`,
    )
    .addCheckConstraint(
      "ledger_accounts_credits_le_debits",
      sql`overdraft_rule <> 'credits_le_debits' or credits_posted_fen + credits_pending_fen <= debits_posted_fen`,
    )
    .execute();
  await db.schema.createIndex("ledger_accounts_organization").on("ledger_accounts").columns(["organization_id", "kind"]).execute();

  await db.schema
    .createTable("ledger_transfers")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("reference", "text", (c) => c.notNull())
    .addColumn("phase", "text", (c) =>
      c.notNull().check(sql`phase in ('single','pending','post_pending','void_pending')`),
    )
    .addColumn("pending_id", "uuid", (c) => c.references("ledger_transfers.id"))
    .addColumn("debit_account_id", "uuid", (c) => c.notNull().references("ledger_accounts.id"))
    .addColumn("credit_account_id", "uuid", (c) => c.notNull().references("ledger_accounts.id"))
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("created_by_user_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("ledger_transfers_two_accounts", sql`debit_account_id <> credit_account_id`)
    .addCheckConstraint(
      "ledger_transfers_resolution_names_pending",
      sql`(phase in ('post_pending','void_pending')) = (pending_id is not null)`,
    )
    .execute();
  // A pending transfer resolves at most once, whatever the application does.
  await sql`create unique index ledger_transfers_one_resolution on ledger_transfers (pending_id) where pending_id is not null`.execute(db);
  await db.schema.createIndex("ledger_transfers_debit").on("ledger_transfers").columns(["debit_account_id", "created_at"]).execute();
  await db.schema.createIndex("ledger_transfers_credit").on("ledger_transfers").columns(["credit_account_id", "created_at"]).execute();
  await db.schema.createIndex("ledger_transfers_reference").on("ledger_transfers").column("reference").execute();
  await appendOnly("ledger_transfers").execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["ledger_transfers", "ledger_accounts", "audit_events", "login_failures", "sessions", "memberships", "users", "organizations"]) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop function rongtong_refuse_change()`.execute(db);
}
