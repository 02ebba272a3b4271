import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Commodity-trading-market mode, first slice: markets (venues) of a market operator, their zones
// and stalls, the merchants trading in them, merchant applications and fee schedules. Every child
// table carries `operator_id` and points at its parent with a composite foreign key (parent id +
// the same operator), so a stall can never sit in another operator's market, nor a merchant hold
// another market's stall, whatever the application code does.

const ID = (c: ColumnDefinitionBuilder) => c.primaryKey().defaultTo(sql`gen_random_uuid()`);
const NOW = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(sql`now()`);

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("markets")
    .addColumn("id", "uuid", ID)
    .addColumn("operator_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("city", "text", (c) => c.notNull())
    // What is traded here (女装, 男装 …): a merchant's and a fee schedule's category is one of them.
    .addColumn("categories", sql`text[]`, (c) => c.notNull())
    // A shipped order is received automatically after this many days (escrow slice).
    .addColumn("auto_confirm_days", "integer", (c) => c.notNull().defaultTo(7))
    // A placed order not paid within this many minutes expires (escrow slice).
    .addColumn("unpaid_expiry_minutes", "integer", (c) => c.notNull().defaultTo(30))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("markets_operator_name", ["operator_id", "name"])
    .addUniqueConstraint("markets_id_operator", ["id", "operator_id"])
    .addCheckConstraint("markets_name_length", sql`length(name) between 1 and 100`)
    .addCheckConstraint("markets_city_length", sql`length(city) between 1 and 50`)
    .addCheckConstraint("markets_categories", sql`cardinality(categories) between 1 and 30`)
    .addCheckConstraint("markets_auto_confirm_days", sql`auto_confirm_days between 1 and 30`)
    .addCheckConstraint("markets_unpaid_expiry_minutes", sql`unpaid_expiry_minutes between 5 and 10080`)
    .addCheckConstraint("markets_status", sql`status in ('active','closed')`)
    .execute();

  await db.schema
    .createTable("market_zones")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", NOW)
    .addUniqueConstraint("market_zones_market_name", ["market_id", "name"])
    .addUniqueConstraint("market_zones_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("market_zones_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addCheckConstraint("market_zones_name_length", sql`length(name) between 1 and 50`)
    .execute();

  await db.schema
    .createTable("market_stalls")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("zone_id", "uuid")
    // Printed on the stall (A-101, 3F-12): upper-case ASCII, unique per market.
    .addColumn("code", sql`text collate "C"`, (c) => c.notNull())
    // Square decimetres (1 m² = 100 dm²): stalls are measured to the hundredth of a square metre.
    .addColumn("area_dm2", "integer", (c) => c.notNull())
    .addColumn("monthly_rent_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("vacant"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("market_stalls_market_code", ["market_id", "code"])
    .addUniqueConstraint("market_stalls_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("market_stalls_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addForeignKeyConstraint("market_stalls_zone", ["zone_id", "market_id"], "market_zones", ["id", "market_id"])
    .addCheckConstraint("market_stalls_code_format", sql`code ~ '^[A-Z0-9][A-Z0-9-]{0,19}$'`)
    .addCheckConstraint("market_stalls_area", sql`area_dm2 between 1 and 10000000`)
    .addCheckConstraint("market_stalls_rent", sql`monthly_rent_fen between 0 and 100000000000`)
    .addCheckConstraint("market_stalls_status", sql`status in ('vacant','occupied','closed')`)
    .execute();

  await db.schema
    .createTable("merchant_applications")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("uscc", sql`text collate "C"`, (c) => c.notNull())
    .addColumn("company_name", "text", (c) => c.notNull())
    .addColumn("legal_representative", "text", (c) => c.notNull())
    .addColumn("contact_name", "text", (c) => c.notNull())
    .addColumn("contact_phone", "text", (c) => c.notNull())
    .addColumn("stall_wish", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("categories", sql`text[]`, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("submitted"))
    .addColumn("decision_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("assigned_stall_id", "uuid")
    // The merchant organisation approval created or linked.
    .addColumn("merchant_id", "uuid", (c) => c.references("organizations.id"))
    .addColumn("submitted_by", "uuid", (c) => c.references("users.id"))
    .addColumn("decided_by", "uuid", (c) => c.references("users.id"))
    .addColumn("decided_at", "timestamptz")
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("merchant_applications_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("merchant_applications_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addForeignKeyConstraint("merchant_applications_stall", ["assigned_stall_id", "market_id"], "market_stalls", ["id", "market_id"])
    .addCheckConstraint("merchant_applications_uscc", sql`uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'`)
    .addCheckConstraint("merchant_applications_company_length", sql`length(company_name) between 1 and 200`)
    .addCheckConstraint("merchant_applications_legal_rep_length", sql`length(legal_representative) between 1 and 50`)
    .addCheckConstraint("merchant_applications_contact_length", sql`length(contact_name) between 1 and 50 and length(contact_phone) between 5 and 30`)
    .addCheckConstraint("merchant_applications_stall_wish_length", sql`length(stall_wish) <= 200`)
    .addCheckConstraint("merchant_applications_categories", sql`cardinality(categories) between 1 and 30`)
    .addCheckConstraint("merchant_applications_status", sql`status in ('submitted','approved','rejected')`)
    .addCheckConstraint("merchant_applications_reason_length", sql`length(decision_reason) <= 200`)
    // An approval names its stall and merchant; a rejection its reason; a pending one neither.
    .addCheckConstraint(
      "merchant_applications_decision",
      sql`(status = 'submitted' and decided_at is null and merchant_id is null)
        or (status = 'approved' and decided_at is not null and merchant_id is not null and assigned_stall_id is not null)
        or (status = 'rejected' and decided_at is not null and length(decision_reason) > 0)`,
    )
    .execute();
  // One open application per company per market.
  await sql`create unique index merchant_applications_open on merchant_applications (market_id, uscc) where status = 'submitted'`.execute(db);
  await db.schema.createIndex("merchant_applications_market_status").on("merchant_applications").columns(["market_id", "status", "created_at"]).execute();

  await db.schema
    .createTable("market_merchants")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("merchant_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("stall_id", "uuid")
    .addColumn("categories", sql`text[]`, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
    // Why it was last suspended (or reactivated); empty when nothing happened yet.
    .addColumn("status_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("application_id", "uuid")
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("market_merchants_market_merchant", ["market_id", "merchant_id"])
    .addUniqueConstraint("market_merchants_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("market_merchants_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addForeignKeyConstraint("market_merchants_stall", ["stall_id", "market_id"], "market_stalls", ["id", "market_id"])
    .addForeignKeyConstraint("market_merchants_application", ["application_id", "market_id"], "merchant_applications", ["id", "market_id"])
    .addCheckConstraint("market_merchants_two_parties", sql`operator_id <> merchant_id`)
    .addCheckConstraint("market_merchants_categories", sql`cardinality(categories) between 1 and 30`)
    .addCheckConstraint("market_merchants_status", sql`status in ('active','suspended')`)
    .addCheckConstraint("market_merchants_reason_length", sql`length(status_reason) <= 200`)
    .execute();
  // A stall holds one merchant at a time.
  await sql`create unique index market_merchants_stall on market_merchants (stall_id) where stall_id is not null`.execute(db);
  // A merchant's side: "which markets do I trade in".
  await db.schema.createIndex("market_merchants_merchant").on("market_merchants").column("merchant_id").execute();

  await db.schema
    .createTable("fee_schedules")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("commission_rate_bps", "integer", (c) => c.notNull())
    .addColumn("min_fee_fen", "bigint", (c) => c.notNull().defaultTo(0))
    // Asia/Shanghai business date: in force from this day until a later schedule's day.
    .addColumn("effective_from", "date", (c) => c.notNull())
    .addColumn("created_by", "uuid", (c) => c.references("users.id"))
    .addColumn("created_at", "timestamptz", NOW)
    .addUniqueConstraint("fee_schedules_market_category_from", ["market_id", "category", "effective_from"])
    .addForeignKeyConstraint("fee_schedules_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addCheckConstraint("fee_schedules_category_length", sql`length(category) between 1 and 20`)
    .addCheckConstraint("fee_schedules_rate", sql`commission_rate_bps between 0 and 5000`)
    .addCheckConstraint("fee_schedules_min_fee", sql`min_fee_fen between 0 and 100000000`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["fee_schedules", "market_merchants", "merchant_applications", "market_stalls", "market_zones", "markets"]) {
    await db.schema.dropTable(table).execute();
  }
}
