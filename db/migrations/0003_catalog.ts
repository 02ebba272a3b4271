import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Catalogue, price lists and the dealer network of a core enterprise. Every child table carries
// `core_enterprise_id` and points at its parent with a composite foreign key (parent id + the same
// core enterprise), so a price list item can never name another tenant's SKU, nor a dealer link
// another tenant's tier, whatever the application code does.

const ID = (c: ColumnDefinitionBuilder) => c.primaryKey().defaultTo(sql`gen_random_uuid()`);
const NOW = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(sql`now()`);

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("products")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    // Byte order ("C"): codes are ASCII, sort the same everywhere, and prefix search uses the index.
    .addColumn("code", sql`text collate "C"`, (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("category", "text")
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("products_core_code", ["core_enterprise_id", "code"])
    .addUniqueConstraint("products_id_core", ["id", "core_enterprise_id"])
    .addCheckConstraint("products_code_format", sql`code ~ '^[A-Z0-9][A-Z0-9._/-]{0,63}$'`)
    .addCheckConstraint("products_name_length", sql`length(name) between 1 and 200`)
    .execute();

  await db.schema
    .createTable("skus")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("product_id", "uuid", (c) => c.notNull())
    .addColumn("code", sql`text collate "C"`, (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("spec", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("unit", "text", (c) => c.notNull())
    .addColumn("pack_size", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("moq", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("base_price_fen", "bigint", (c) => c.notNull())
    .addColumn("tax_rate_bps", "integer", (c) => c.notNull())
    .addColumn("stock_on_hand", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("stock_reserved", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("skus_core_code", ["core_enterprise_id", "code"])
    .addUniqueConstraint("skus_id_core", ["id", "core_enterprise_id"])
    .addForeignKeyConstraint("skus_product", ["product_id", "core_enterprise_id"], "products", ["id", "core_enterprise_id"])
    .addCheckConstraint("skus_code_format", sql`code ~ '^[A-Z0-9][A-Z0-9._/-]{0,63}$'`)
    .addCheckConstraint("skus_name_length", sql`length(name) between 1 and 200`)
    .addCheckConstraint("skus_unit_length", sql`length(unit) between 1 and 10`)
    .addCheckConstraint("skus_pack_size", sql`pack_size between 1 and 100000`)
    // Orders come in whole packs: the minimum order is itself a whole number of packs.
    .addCheckConstraint("skus_moq_whole_packs", sql`moq >= pack_size and moq % pack_size = 0`)
    .addCheckConstraint("skus_base_price", sql`base_price_fen > 0`)
    .addCheckConstraint("skus_tax_rate", sql`tax_rate_bps between 0 and 10000`)
    // Stock is never oversold: what is reserved for confirmed orders is at most what is on hand.
    .addCheckConstraint("skus_stock", sql`stock_reserved >= 0 and stock_reserved <= stock_on_hand`)
    .addCheckConstraint("skus_status", sql`status in ('active','inactive')`)
    .execute();
  // The dealer catalogue walks active SKUs in code order (keyset): this index stays the same depth
  // whether a core enterprise has ten thousand SKUs or a million.
  await sql`create index skus_active_core_code on skus (core_enterprise_id, code) where status = 'active'`.execute(db);
  await db.schema.createIndex("skus_product").on("skus").column("product_id").execute();

  await db.schema
    .createTable("dealer_tiers")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("rank", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "timestamptz", NOW)
    .addUniqueConstraint("dealer_tiers_core_name", ["core_enterprise_id", "name"])
    .addUniqueConstraint("dealer_tiers_id_core", ["id", "core_enterprise_id"])
    .addCheckConstraint("dealer_tiers_name_length", sql`length(name) between 1 and 50`)
    .execute();

  await db.schema
    .createTable("dealer_links")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("dealer_id", "uuid", (c) => c.notNull().references("organizations.id"))
    // No tier yet: the dealer buys at base prices.
    .addColumn("tier_id", "uuid")
    .addColumn("region", "text", (c) => c.notNull())
    .addColumn("payment_terms_days", "integer", (c) => c.notNull().defaultTo(30))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("dealer_links_core_dealer", ["core_enterprise_id", "dealer_id"])
    .addUniqueConstraint("dealer_links_id_core", ["id", "core_enterprise_id"])
    .addForeignKeyConstraint("dealer_links_tier", ["tier_id", "core_enterprise_id"], "dealer_tiers", ["id", "core_enterprise_id"])
    .addCheckConstraint("dealer_links_two_parties", sql`core_enterprise_id <> dealer_id`)
    .addCheckConstraint("dealer_links_region_length", sql`length(region) between 1 and 100`)
    .addCheckConstraint("dealer_links_terms", sql`payment_terms_days between 0 and 365`)
    .addCheckConstraint("dealer_links_status", sql`status in ('active','suspended')`)
    .execute();
  // A dealer's side: "which core enterprises do I buy from".
  await db.schema.createIndex("dealer_links_dealer").on("dealer_links").column("dealer_id").execute();

  await db.schema
    .createTable("price_lists")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("tier_id", "uuid", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    // Business dates in Asia/Shanghai, both ends inclusive; no end = open-ended.
    .addColumn("valid_from", "date", (c) => c.notNull())
    .addColumn("valid_to", "date")
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("price_lists_id_core", ["id", "core_enterprise_id"])
    .addForeignKeyConstraint("price_lists_tier", ["tier_id", "core_enterprise_id"], "dealer_tiers", ["id", "core_enterprise_id"])
    .addCheckConstraint("price_lists_validity", sql`valid_to is null or valid_to >= valid_from`)
    .addCheckConstraint("price_lists_name_length", sql`length(name) between 1 and 100`)
    .execute();
  await db.schema.createIndex("price_lists_tier_from").on("price_lists").columns(["tier_id", "valid_from"]).execute();

  await db.schema
    .createTable("price_list_items")
    .addColumn("price_list_id", "uuid", (c) => c.notNull())
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull())
    .addColumn("sku_id", "uuid", (c) => c.notNull())
    // 1 = the tier price; above 1 = a volume break from that quantity up.
    .addColumn("min_qty", "integer", (c) => c.notNull())
    .addColumn("price_fen", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("price_list_items_pk", ["price_list_id", "sku_id", "min_qty"])
    .addForeignKeyConstraint(
      "price_list_items_list",
      ["price_list_id", "core_enterprise_id"],
      "price_lists",
      ["id", "core_enterprise_id"],
      (fk) => fk.onDelete("cascade"),
    )
    .addForeignKeyConstraint("price_list_items_sku", ["sku_id", "core_enterprise_id"], "skus", ["id", "core_enterprise_id"])
    .addCheckConstraint("price_list_items_min_qty", sql`min_qty between 1 and 10000000`)
    .addCheckConstraint("price_list_items_price", sql`price_fen > 0`)
    .execute();
  await db.schema.createIndex("price_list_items_sku").on("price_list_items").column("sku_id").execute();

  await db.schema
    .createTable("dealer_price_overrides")
    .addColumn("id", "uuid", ID)
    .addColumn("core_enterprise_id", "uuid", (c) => c.notNull())
    .addColumn("dealer_link_id", "uuid", (c) => c.notNull())
    .addColumn("sku_id", "uuid", (c) => c.notNull())
    .addColumn("price_fen", "bigint", (c) => c.notNull())
    .addColumn("valid_from", "date", (c) => c.notNull())
    .addColumn("valid_to", "date")
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", NOW)
    .addForeignKeyConstraint(
      "dealer_price_overrides_link",
      ["dealer_link_id", "core_enterprise_id"],
      "dealer_links",
      ["id", "core_enterprise_id"],
    )
    .addForeignKeyConstraint("dealer_price_overrides_sku", ["sku_id", "core_enterprise_id"], "skus", ["id", "core_enterprise_id"])
    .addCheckConstraint("dealer_price_overrides_validity", sql`valid_to is null or valid_to >= valid_from`)
    .addCheckConstraint("dealer_price_overrides_price", sql`price_fen > 0`)
    .addCheckConstraint("dealer_price_overrides_note_length", sql`length(note) <= 200`)
    .execute();
  await db.schema
    .createIndex("dealer_price_overrides_link_sku")
    .on("dealer_price_overrides")
    .columns(["dealer_link_id", "sku_id", "valid_from"])
    .execute();
  await db.schema.createIndex("dealer_price_overrides_sku").on("dealer_price_overrides").column("sku_id").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["dealer_price_overrides", "price_list_items", "price_lists", "dealer_links", "dealer_tiers", "skus", "products"]) {
    await db.schema.dropTable(table).execute();
  }
}
