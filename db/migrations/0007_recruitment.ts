import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Online dealer recruitment: campaigns of a core enterprise, applications to them with documents
// and a timeline, and invitations of a first user into an organisation. Children carry
// `core_enterprise_id` and point at their parent with a composite foreign key, so an application
// can never hang under another tenant's campaign, whatever the code does (as in 0003_catalog).

const ID = (c: ColumnDefinitionBuilder) => c.primaryKey().defaultTo(sql`gen_random_uuid()`);
const NOW = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(sql`now()`);

const RECRUITMENT_TOPIC = "recruitment.application_submitted";

/**
 * The inbox's topic list is a CHECK written by 0002 (and possibly widened by other migrations).
 * Read the live list and add ours, rather than restate a list that other contexts also extend.
 */
async function setNotificationTopics(db: Kysely<unknown>, change: (topics: string[]) => string[]): Promise<void> {
  const { rows } = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'notification_requests'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%topic%'`.execute(db);
  const current = rows[0];
  if (!current) throw new Error("0007_recruitment: no topic CHECK on notification_requests");
  const topics = [...current.def.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const next = [...new Set(change(topics))];
  for (const topic of next) {
    if (!/^[a-z_.]+$/.test(topic)) throw new Error(`0007_recruitment: unexpected topic ${topic}`);
  }
  await sql`alter table notification_requests drop constraint ${sql.id(current.conname)}`.execute(db);
  await sql`alter table notification_requests add constraint ${sql.id(current.conname)} check (topic in (${sql.join(next.map((t) => sql.lit(t)))}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("recruitment_campaigns")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("requirements", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("regions", sql`text[]`, (c) => c.notNull())
    .addColumn("quota", "integer", (c) => c.notNull())
    .addColumn("approved_count", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("deposit_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("closes_on", "date", (c) => c.notNull())
    .addColumn("tier_id", "uuid")
    .addColumn("credit_limit_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("payment_terms_days", "integer", (c) => c.notNull().defaultTo(30))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("draft"))
    .addColumn("created_by_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addColumn("published_at", "timestamptz")
    .addColumn("closed_at", "timestamptz")
    .addUniqueConstraint("recruitment_campaigns_id_core", ["id", "core_enterprise_id"])
    .addForeignKeyConstraint("recruitment_campaigns_tier", ["tier_id", "core_enterprise_id"], "dealer_tiers", ["id", "core_enterprise_id"])
    .addCheckConstraint("recruitment_campaigns_title", sql`length(title) between 1 and 100`)
    .addCheckConstraint("recruitment_campaigns_texts", sql`length(description) <= 4000 and length(requirements) <= 4000`)
    .addCheckConstraint("recruitment_campaigns_regions", sql`cardinality(regions) between 1 and 30`)
    // The quota guard of last resort: concurrent approvals serialise on the row lock, and even a
    // bug in that path cannot write more approvals than places.
    .addCheckConstraint("recruitment_campaigns_quota", sql`quota between 1 and 10000 and approved_count between 0 and quota`)
    .addCheckConstraint("recruitment_campaigns_deposit", sql`deposit_fen between 0 and 1000000000`)
    .addCheckConstraint("recruitment_campaigns_credit", sql`credit_limit_fen between 0 and 10000000000`)
    .addCheckConstraint("recruitment_campaigns_terms", sql`payment_terms_days between 0 and 365`)
    .addCheckConstraint("recruitment_campaigns_status", sql`status in ('draft','published','closed')`)
    .addCheckConstraint("recruitment_campaigns_published", sql`status = 'draft' or published_at is not null`)
    .addCheckConstraint("recruitment_campaigns_closed", sql`(status = 'closed') = (closed_at is not null)`)
    .execute();
  await db.schema
    .createIndex("recruitment_campaigns_core_created")
    .on("recruitment_campaigns")
    .columns(["core_enterprise_id", "created_at"])
    .execute();

  await db.schema
    .createTable("invitations")
    .addColumn("id", "uuid", ID)
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("token_nonce", "text", (c) => c.notNull())
    .addColumn("return_path", "text", (c) => c.notNull().defaultTo("/"))
    .addColumn("invited_by_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("accepted_at", "timestamptz")
    .addColumn("accepted_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("revoked_at", "timestamptz")
    .addCheckConstraint("invitations_email", sql`length(email) between 3 and 254 and position('@' in email) > 1`)
    .addCheckConstraint(
      "invitations_role",
      sql`role in ('owner','admin','purchaser','sales','finance','viewer','credit_officer','operations','platform_admin')`,
    )
    .addCheckConstraint("invitations_token_hash", sql`token_hash ~ '^[0-9a-f]{64}$'`)
    .addCheckConstraint("invitations_nonce", sql`token_nonce ~ '^[A-Za-z0-9_-]{16,64}$'`)
    .addCheckConstraint("invitations_return_path", sql`length(return_path) <= 500 and return_path like '/%' and return_path not like '//%' and position(chr(92) in return_path) = 0`)
    .addCheckConstraint("invitations_expiry", sql`expires_at > created_at`)
    .addCheckConstraint("invitations_accepted", sql`(accepted_at is null) = (accepted_user_id is null)`)
    .addCheckConstraint("invitations_settled_once", sql`accepted_at is null or revoked_at is null`)
    .execute();
  await db.schema.createIndex("invitations_organization").on("invitations").columns(["organization_id", "created_at"]).execute();

  await db.schema
    .createTable("recruitment_applications")
    .addColumn("id", "uuid", ID)
    .addColumn("campaign_id", "uuid", (c) => c.notNull())
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("submitted"))
    .addColumn("company_name", "text", (c) => c.notNull())
    .addColumn("uscc", sql`char(18)`, (c) => c.notNull())
    .addColumn("legal_representative", "text", (c) => c.notNull())
    .addColumn("contact_name", "text", (c) => c.notNull())
    .addColumn("contact_phone", "text", (c) => c.notNull())
    .addColumn("contact_email", "text", (c) => c.notNull())
    .addColumn("region", "text", (c) => c.notNull())
    .addColumn("channels", sql`text[]`, (c) => c.notNull())
    .addColumn("notes", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("access_token_hash", "text", (c) => c.notNull().unique())
    .addColumn("submitted_ip", "text")
    .addColumn("dealer_organization_id", "uuid", (c) => c.references("organizations.id"))
    .addColumn("dealer_link_id", "uuid", (c) => c.references("dealer_links.id"))
    .addColumn("invitation_id", "uuid", (c) => c.references("invitations.id"))
    .addColumn("deposit_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("link_held_for_deposit", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("deposit_payment_id", "uuid", (c) => c.references("payments.id"))
    .addColumn("deposit_transfer_id", "uuid", (c) => c.references("ledger_transfers.id"))
    .addColumn("deposit_paid_at", "timestamptz")
    .addColumn("decided_by_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("decided_at", "timestamptz")
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("recruitment_applications_id_core", ["id", "core_enterprise_id"])
    .addForeignKeyConstraint(
      "recruitment_applications_campaign",
      ["campaign_id", "core_enterprise_id"],
      "recruitment_campaigns",
      ["id", "core_enterprise_id"],
    )
    .addCheckConstraint(
      "recruitment_applications_status",
      sql`status in ('submitted','under_review','info_requested','awaiting_deposit','approved','rejected','withdrawn')`,
    )
    .addCheckConstraint("recruitment_applications_uscc", sql`uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'`)
    .addCheckConstraint(
      "recruitment_applications_texts",
      sql`length(company_name) between 1 and 200 and length(legal_representative) between 1 and 50
        and length(contact_name) between 1 and 50 and length(contact_phone) between 5 and 30
        and length(contact_email) between 3 and 254 and length(region) between 1 and 100 and length(notes) <= 2000`,
    )
    .addCheckConstraint("recruitment_applications_channels", sql`cardinality(channels) between 1 and 6`)
    .addCheckConstraint("recruitment_applications_token", sql`access_token_hash ~ '^[0-9a-f]{64}$'`)
    .addCheckConstraint("recruitment_applications_deposit", sql`deposit_fen between 0 and 1000000000`)
    // Approval made (or linked) the dealer and its link, together. The invitation is there when
    // the dealer organisation had nobody in it yet: an existing dealer's members already have access.
    .addCheckConstraint(
      "recruitment_applications_approval",
      sql`(status in ('awaiting_deposit','approved')) = (dealer_organization_id is not null and dealer_link_id is not null)`,
    )
    .addCheckConstraint("recruitment_applications_invitation", sql`invitation_id is null or dealer_organization_id is not null`)
    .addCheckConstraint("recruitment_applications_decided", sql`(status in ('awaiting_deposit','approved','rejected')) = (decided_at is not null)`)
    .addCheckConstraint("recruitment_applications_awaiting", sql`status <> 'awaiting_deposit' or (deposit_fen > 0 and deposit_paid_at is null)`)
    // A deposit asked for is in before the application counts as approved, and paid means recorded.
    .addCheckConstraint("recruitment_applications_paid", sql`status <> 'approved' or deposit_fen = 0 or deposit_paid_at is not null`)
    .addCheckConstraint(
      "recruitment_applications_paid_shape",
      sql`(deposit_paid_at is null) = (deposit_transfer_id is null)`,
    )
    .execute();
  // One live application per company and campaign: a double submit or a second try while the
  // first is open is refused; after a rejection or withdrawal the company may apply again.
  await sql`create unique index recruitment_applications_live_uscc on recruitment_applications (campaign_id, uscc)
    where status not in ('rejected','withdrawn')`.execute(db);
  await db.schema
    .createIndex("recruitment_applications_campaign_created")
    .on("recruitment_applications")
    .columns(["campaign_id", "created_at", "id"])
    .execute();
  await db.schema
    .createIndex("recruitment_applications_campaign_status")
    .on("recruitment_applications")
    .columns(["campaign_id", "status"])
    .execute();
  await db.schema.createIndex("recruitment_applications_ip").on("recruitment_applications").columns(["submitted_ip", "created_at"]).execute();
  await db.schema.createIndex("recruitment_applications_dealer").on("recruitment_applications").column("dealer_organization_id").execute();

  await db.schema
    .createTable("recruitment_application_events")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("application_id", "uuid", (c) => c.notNull())
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("from_status", "text")
    .addColumn("to_status", "text", (c) => c.notNull())
    .addColumn("actor_kind", "text", (c) => c.notNull())
    .addColumn("actor_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("message", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("at", "timestamptz", NOW)
    .addForeignKeyConstraint(
      "recruitment_application_events_application",
      ["application_id", "core_enterprise_id"],
      "recruitment_applications",
      ["id", "core_enterprise_id"],
    )
    .addCheckConstraint(
      "recruitment_application_events_event",
      sql`event in ('submit','start_review','request_info','respond','approve','reject','withdraw','deposit_paid')`,
    )
    .addCheckConstraint("recruitment_application_events_actor", sql`actor_kind in ('applicant','reviewer','system')`)
    .addCheckConstraint("recruitment_application_events_message", sql`length(message) <= 2000`)
    .execute();
  await db.schema
    .createIndex("recruitment_application_events_application")
    .on("recruitment_application_events")
    .columns(["application_id", "id"])
    .execute();
  // The timeline is history: never rewritten (the trigger function comes from 0001).
  await sql`create trigger recruitment_application_events_append_only before update or delete on recruitment_application_events
    for each row execute function rongtong_refuse_change()`.execute(db);

  await db.schema
    .createTable("recruitment_documents")
    .addColumn("id", "uuid", ID)
    .addColumn("application_id", "uuid", (c) => c.notNull())
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull())
    .addColumn("event_id", "bigint", (c) => c.references("recruitment_application_events.id"))
    .addColumn("file_name", "text", (c) => c.notNull())
    .addColumn("content_type", "text", (c) => c.notNull())
    .addColumn("size_bytes", "integer", (c) => c.notNull())
    .addColumn("sha256", "text", (c) => c.notNull())
    .addColumn("content", "bytea", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", NOW)
    .addForeignKeyConstraint(
      "recruitment_documents_application",
      ["application_id", "core_enterprise_id"],
      "recruitment_applications",
      ["id", "core_enterprise_id"],
    )
    .addCheckConstraint("recruitment_documents_name", sql`length(file_name) between 1 and 200`)
    .addCheckConstraint("recruitment_documents_type", sql`content_type in ('application/pdf','image/jpeg','image/png')`)
    // 5 MiB per file, the same limit the upload handler enforces while streaming.
    .addCheckConstraint("recruitment_documents_size", sql`size_bytes between 1 and 5242880 and octet_length(content) = size_bytes`)
    .addCheckConstraint("recruitment_documents_sha256", sql`sha256 ~ '^[0-9a-f]{64}$'`)
    .execute();
  await db.schema.createIndex("recruitment_documents_application").on("recruitment_documents").columns(["application_id", "created_at"]).execute();

  await setNotificationTopics(db, (topics) => [...topics, RECRUITMENT_TOPIC]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from notifications where topic = ${RECRUITMENT_TOPIC}`.execute(db);
  await sql`delete from notification_requests where topic = ${RECRUITMENT_TOPIC}`.execute(db);
  await setNotificationTopics(db, (topics) => topics.filter((t) => t !== RECRUITMENT_TOPIC));
  for (const table of ["recruitment_documents", "recruitment_application_events", "recruitment_applications", "invitations", "recruitment_campaigns"]) {
    await db.schema.dropTable(table).execute();
  }
}
