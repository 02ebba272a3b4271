import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Dealer orders of every kind on one state machine (app/models/order-states.ts), their lines,
// shipments, preorder seasons, per-organisation order settings and each order's timeline.

const ID = (c: ColumnDefinitionBuilder) => c.primaryKey().defaultTo(sql`gen_random_uuid()`);
const NOW = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(sql`now()`);

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("order_settings")
    .addColumn("organization_id", "uuid", (c) => c.primaryKey().references("organizations.id"))
    // Core enterprise: shipped orders count as received this many days after the last shipment.
    .addColumn("auto_receipt_days", "integer", (c) => c.notNull().defaultTo(7).check(sql`auto_receipt_days between 1 and 60`))
    // Dealer: orders above this total wait for an admin/owner before the supplier sees them.
    .addColumn("approval_threshold_fen", "bigint", (c) => c.check(sql`approval_threshold_fen > 0`))
    .addColumn("updated_at", "timestamptz", NOW)
    .execute();

  await db.schema
    .createTable("seasons")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("name", "text", (c) => c.notNull().check(sql`length(name) between 1 and 100`))
    .addColumn("deposit_rate_bps", "integer", (c) => c.notNull().check(sql`deposit_rate_bps between 0 and 10000`))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("open").check(sql`status in ('open','closed','released')`))
    .addColumn("released_at", "timestamptz")
    .addColumn("created_at", "timestamptz", NOW)
    .addUniqueConstraint("seasons_id_core", ["id", "core_enterprise_id"])
    .execute();

  await sql`create sequence order_number_seq`.execute(db);

  await db.schema
    .createTable("orders")
    .addColumn("id", "uuid", ID)
    .addColumn("number", "text", (c) => c.notNull().unique())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('standard','preorder','replenishment','return')`))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("dealer_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("dealer_link_id", "uuid", (c) => c.notNull().references("dealer_links.id"))
    .addColumn("season_id", "uuid")
    .addColumn("original_order_id", "uuid", (c) => c.references("orders.id"))
    .addColumn("payment_method", "text", (c) => c.check(sql`payment_method in ('wallet','epay','on_account','financing')`))
    .addColumn("total_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`total_fen >= 0`))
    .addColumn("deposit_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`deposit_fen >= 0`))
    .addColumn("paid_fen", "bigint", (c) => c.notNull().defaultTo(0).check(sql`paid_fen >= 0`))
    .addColumn("due_on", "date")
    // The dealer's cart for a supplier: a draft built line by line. Other drafts (saved from the API)
    // are not carts, so an order placed in one step never collides with an open cart.
    .addColumn("is_cart", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("reason", "text")
    .addColumn("created_by_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("submitted_at", "timestamptz")
    .addColumn("confirmed_at", "timestamptz")
    .addColumn("paid_at", "timestamptz")
    .addColumn("shipped_at", "timestamptz")
    .addColumn("received_at", "timestamptz")
    .addColumn("closed_at", "timestamptz")
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addForeignKeyConstraint("orders_season", ["season_id", "core_enterprise_id"], "seasons", ["id", "core_enterprise_id"])
    .addCheckConstraint("orders_paid_within_total", sql`paid_fen <= total_fen`)
    .addCheckConstraint("orders_season_only_preorder", sql`(kind = 'preorder') = (season_id is not null)`)
    .addCheckConstraint("orders_return_names_original", sql`(kind = 'return') = (original_order_id is not null)`)
    .execute();
  await sql`create index orders_dealer_recent on orders (dealer_id, created_at desc, id desc)`.execute(db);
  await sql`create index orders_core_recent on orders (core_enterprise_id, created_at desc, id desc)`.execute(db);
  await sql`create index orders_core_status on orders (core_enterprise_id, status)`.execute(db);
  // The shipped orders the auto-receipt sweep looks at.
  await sql`create index orders_shipped on orders (shipped_at) where status = 'shipped'`.execute(db);
  // One cart per dealer and supplier.
  await sql`create unique index orders_one_cart on orders (dealer_id, core_enterprise_id) where status = 'draft' and is_cart`.execute(db);

  await db.schema
    .createTable("order_lines")
    .addColumn("id", "uuid", ID)
    .addColumn("order_id", "uuid", (c) => c.notNull().references("orders.id").onDelete("cascade"))
    .addColumn("line_no", "integer", (c) => c.notNull())
    .addColumn("sku_id", "uuid", (c) => c.notNull().references("skus.id"))
    .addColumn("sku_code", "text", (c) => c.notNull())
    .addColumn("sku_name", "text", (c) => c.notNull())
    .addColumn("spec", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("unit", "text", (c) => c.notNull())
    .addColumn("quantity_ordered", "integer", (c) => c.notNull().check(sql`quantity_ordered > 0`))
    .addColumn("quantity_confirmed", "integer", (c) => c.check(sql`quantity_confirmed >= 0`))
    .addColumn("quantity_shipped", "integer", (c) => c.notNull().defaultTo(0).check(sql`quantity_shipped >= 0`))
    .addColumn("quantity_returned", "integer", (c) => c.notNull().defaultTo(0).check(sql`quantity_returned >= 0`))
    .addColumn("unit_price_fen", "bigint", (c) => c.notNull().check(sql`unit_price_fen > 0`))
    .addColumn("price_rule", "text", (c) => c.notNull())
    .addColumn("tax_rate_bps", "integer", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen >= 0`))
    .addColumn("adjust_reason", "text")
    .addColumn("original_line_id", "uuid", (c) => c.references("order_lines.id"))
    .addUniqueConstraint("order_lines_order_sku", ["order_id", "sku_id"])
    .addCheckConstraint("order_lines_confirmed_within_ordered", sql`quantity_confirmed is null or quantity_confirmed <= quantity_ordered`)
    .addCheckConstraint("order_lines_shipped_within_confirmed", sql`quantity_shipped <= coalesce(quantity_confirmed, 0)`)
    .addCheckConstraint("order_lines_returned_within_shipped", sql`quantity_returned <= quantity_shipped`)
    .execute();
  await db.schema.createIndex("order_lines_order").on("order_lines").columns(["order_id", "line_no"]).execute();

  await db.schema
    .createTable("shipments")
    .addColumn("id", "uuid", ID)
    .addColumn("order_id", "uuid", (c) => c.notNull().references("orders.id"))
    .addColumn("carrier", "text", (c) => c.notNull().check(sql`length(carrier) between 1 and 50`))
    .addColumn("tracking_number", "text", (c) => c.notNull().check(sql`length(tracking_number) between 1 and 50`))
    .addColumn("created_by_user_id", "uuid")
    .addColumn("shipped_at", "timestamptz", NOW)
    .execute();
  await db.schema.createIndex("shipments_order").on("shipments").column("order_id").execute();

  await db.schema
    .createTable("shipment_lines")
    .addColumn("shipment_id", "uuid", (c) => c.notNull().references("shipments.id"))
    .addColumn("order_line_id", "uuid", (c) => c.notNull().references("order_lines.id"))
    .addColumn("quantity", "integer", (c) => c.notNull().check(sql`quantity > 0`))
    .addPrimaryKeyConstraint("shipment_lines_pk", ["shipment_id", "order_line_id"])
    .execute();

  await db.schema
    .createTable("order_events")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("order_id", "uuid", (c) => c.notNull().references("orders.id"))
    .addColumn("at", "timestamptz", NOW)
    .addColumn("actor_user_id", "uuid")
    .addColumn("actor_organization_id", "uuid")
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("from_status", "text")
    .addColumn("to_status", "text", (c) => c.notNull())
    .addColumn("note", "text")
    .addColumn("data", "jsonb")
    .execute();
  await db.schema.createIndex("order_events_order").on("order_events").columns(["order_id", "id"]).execute();
  await sql`create trigger order_events_append_only before update or delete on order_events
    for each row execute function rongtong_refuse_change()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["order_events", "shipment_lines", "shipments", "order_lines", "orders", "seasons", "order_settings"]) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop sequence order_number_seq`.execute(db);
}
