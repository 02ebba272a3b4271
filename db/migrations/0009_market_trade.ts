import { sql, type ColumnDefinitionBuilder, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Commodity-trading-market mode, trading: merchants' listings, buyers' carts, checkouts (one
// buyer, one market, one e-Pay payment) split into one escrow order per merchant, the orders'
// lines and timeline, disputes with statements and evidence, and the operator's announcements.
// Money is never stored here as a balance: an order keeps the ids of its ledger transfers (the
// hold, its resolution and the fee), and every figure is read from the ledger or summed from the
// orders. Children carry `operator_id` (and `market_id`) with composite foreign keys, as in 0008.

const ID = (c: ColumnDefinitionBuilder) => c.primaryKey().defaultTo(sql`gen_random_uuid()`);
const NOW = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(sql`now()`);

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("market_listings")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("merchant_id", "uuid", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    // An English title for buyers searching in English; empty when the merchant gave none.
    .addColumn("title_en", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("spec", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("unit", "text", (c) => c.notNull())
    .addColumn("price_fen", "bigint", (c) => c.notNull())
    // Units that can still be ordered: placement takes them, expiry/cancellation/refund give back.
    .addColumn("stock_qty", "integer", (c) => c.notNull())
    .addColumn("min_order_qty", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("image_url", "text", (c) => c.notNull().defaultTo(""))
    // The merchant's own switch (on sale / off sale).
    .addColumn("status", "text", (c) => c.notNull().defaultTo("active"))
    // The operator's moderation: a hidden listing is out of search and cannot be ordered.
    .addColumn("moderation_status", "text", (c) => c.notNull().defaultTo("visible"))
    .addColumn("moderation_reason", "text", (c) => c.notNull().defaultTo(""))
    // Lower-cased text the search matches against (title, English title, spec, category).
    .addColumn("search_text", "text", (c) =>
      c.generatedAlwaysAs(sql`lower(title || ' ' || title_en || ' ' || spec || ' ' || category)`).stored(),
    )
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("market_listings_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("market_listings_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addForeignKeyConstraint("market_listings_merchant", ["market_id", "merchant_id"], "market_merchants", ["market_id", "merchant_id"])
    .addCheckConstraint("market_listings_title_length", sql`length(title) between 1 and 100 and length(title_en) <= 150`)
    .addCheckConstraint("market_listings_category_length", sql`length(category) between 1 and 20`)
    .addCheckConstraint("market_listings_spec_unit", sql`length(spec) <= 200 and length(unit) between 1 and 10`)
    .addCheckConstraint("market_listings_price", sql`price_fen between 1 and 100000000000`)
    .addCheckConstraint("market_listings_stock", sql`stock_qty between 0 and 100000000`)
    .addCheckConstraint("market_listings_min_order", sql`min_order_qty between 1 and 1000000`)
    .addCheckConstraint("market_listings_image_url", sql`image_url = '' or (image_url ~ '^https?://' and length(image_url) <= 500)`)
    .addCheckConstraint("market_listings_status", sql`status in ('active','inactive')`)
    .addCheckConstraint("market_listings_moderation", sql`moderation_status in ('visible','hidden')`)
    .addCheckConstraint("market_listings_moderation_reason", sql`length(moderation_reason) <= 200 and (moderation_status = 'visible' or length(moderation_reason) > 0)`)
    .execute();
  await db.schema.createIndex("market_listings_browse").on("market_listings").columns(["market_id", "category", "price_fen"]).execute();
  await db.schema.createIndex("market_listings_merchant").on("market_listings").columns(["merchant_id", "market_id", "created_at"]).execute();

  await db.schema
    .createTable("market_cart_items")
    .addColumn("buyer_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("market_id", "uuid", (c) => c.notNull().references("markets.id"))
    .addColumn("listing_id", "uuid", (c) => c.notNull())
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addPrimaryKeyConstraint("market_cart_items_pk", ["buyer_id", "listing_id"])
    .addForeignKeyConstraint("market_cart_items_listing", ["listing_id", "market_id"], "market_listings", ["id", "market_id"], (fk) => fk.onDelete("cascade"))
    .addCheckConstraint("market_cart_items_quantity", sql`quantity between 1 and 1000000`)
    .execute();

  await db.schema
    .createTable("market_checkouts")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("buyer_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("total_fen", "bigint", (c) => c.notNull())
    // placed → paid | expired | cancelled; one payment pays every order of the checkout.
    .addColumn("status", "text", (c) => c.notNull().defaultTo("placed"))
    .addColumn("payment_id", "uuid", (c) => c.references("payments.id"))
    .addColumn("idempotency_key", "text", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("created_by", "uuid", (c) => c.references("users.id"))
    .addColumn("created_at", "timestamptz", NOW)
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("market_checkouts_buyer_key", ["buyer_id", "idempotency_key"])
    .addUniqueConstraint("market_checkouts_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("market_checkouts_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addCheckConstraint("market_checkouts_total", sql`total_fen > 0`)
    .addCheckConstraint("market_checkouts_status", sql`status in ('placed','paid','expired','cancelled')`)
    .addCheckConstraint("market_checkouts_key_length", sql`length(idempotency_key) between 1 and 200`)
    .execute();
  await sql`create index market_checkouts_due on market_checkouts (expires_at) where status = 'placed'`.execute(db);
  await db.schema.createIndex("market_checkouts_buyer").on("market_checkouts").columns(["buyer_id", "created_at"]).execute();

  // Order numbers people read out on the phone: MO + Shanghai date + this sequence.
  await sql`create sequence market_order_no_seq`.execute(db);
  await db.schema
    .createTable("market_orders")
    .addColumn("id", "uuid", ID)
    // Shown to people: MO + Shanghai date + sequence, unique.
    .addColumn("order_no", sql`text collate "C"`, (c) => c.notNull().unique())
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("checkout_id", "uuid", (c) => c.notNull())
    .addColumn("buyer_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("merchant_id", "uuid", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("placed"))
    .addColumn("goods_total_fen", "bigint", (c) => c.notNull())
    // The commission fixed at placement from the schedules then in force (see the lines).
    .addColumn("fee_fen", "bigint", (c) => c.notNull())
    // Set by a ruling: what went back to the buyer; the rest was released.
    .addColumn("refunded_fen", "bigint", (c) => c.notNull().defaultTo(0))
    // What the merchant received on settlement (released less commission) and the commission taken.
    .addColumn("settled_net_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("settled_fee_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("hold_transfer_id", "uuid", (c) => c.references("ledger_transfers.id"))
    .addColumn("carrier", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("tracking_no", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("placed_at", "timestamptz", NOW)
    .addColumn("paid_at", "timestamptz")
    .addColumn("shipped_at", "timestamptz")
    // shipped_at + the market's auto-confirm days, fixed when shipped; cleared by a dispute.
    .addColumn("auto_confirm_at", "timestamptz")
    .addColumn("received_at", "timestamptz")
    .addColumn("settled_at", "timestamptz")
    .addColumn("closed_at", "timestamptz")
    .addColumn("updated_at", "timestamptz", NOW)
    .addUniqueConstraint("market_orders_id_market", ["id", "market_id"])
    .addForeignKeyConstraint("market_orders_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addForeignKeyConstraint("market_orders_checkout", ["checkout_id", "market_id"], "market_checkouts", ["id", "market_id"])
    .addForeignKeyConstraint("market_orders_merchant", ["market_id", "merchant_id"], "market_merchants", ["market_id", "merchant_id"])
    .addCheckConstraint(
      "market_orders_status",
      sql`status in ('placed','paid','shipped','received','disputed','settled','refunded','expired','cancelled')`,
    )
    .addCheckConstraint("market_orders_amounts", sql`goods_total_fen > 0 and fee_fen between 0 and goods_total_fen`)
    .addCheckConstraint(
      "market_orders_settlement_sums",
      sql`refunded_fen >= 0 and settled_net_fen >= 0 and settled_fee_fen >= 0
          and refunded_fen + settled_net_fen + settled_fee_fen <= goods_total_fen
          and (status not in ('settled','refunded') or refunded_fen + settled_net_fen + settled_fee_fen = goods_total_fen)`,
    )
    .addCheckConstraint("market_orders_held", sql`status in ('placed','expired','cancelled') or hold_transfer_id is not null`)
    .addCheckConstraint("market_orders_tracking", sql`length(carrier) <= 50 and length(tracking_no) <= 50`)
    .execute();
  await db.schema.createIndex("market_orders_checkout").on("market_orders").column("checkout_id").execute();
  await db.schema.createIndex("market_orders_buyer").on("market_orders").columns(["buyer_id", "placed_at"]).execute();
  await db.schema.createIndex("market_orders_merchant").on("market_orders").columns(["merchant_id", "placed_at"]).execute();
  await db.schema.createIndex("market_orders_market").on("market_orders").columns(["market_id", "placed_at"]).execute();
  await sql`create index market_orders_auto_confirm_due on market_orders (auto_confirm_at) where status = 'shipped'`.execute(db);
  await sql`create index market_orders_settle_due on market_orders (received_at) where status = 'received'`.execute(db);

  await db.schema
    .createTable("market_order_lines")
    .addColumn("id", "uuid", ID)
    .addColumn("order_id", "uuid", (c) => c.notNull().references("market_orders.id"))
    .addColumn("listing_id", "uuid", (c) => c.notNull().references("market_listings.id"))
    .addColumn("line_no", "integer", (c) => c.notNull())
    // The listing as it was bought: later edits do not change a placed order.
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("spec", "text", (c) => c.notNull())
    .addColumn("unit", "text", (c) => c.notNull())
    .addColumn("unit_price_fen", "bigint", (c) => c.notNull())
    .addColumn("quantity", "integer", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull())
    // The schedule in force at placement (null: the market has none for the category: no fee).
    .addColumn("fee_schedule_id", "uuid", (c) => c.references("fee_schedules.id"))
    .addColumn("commission_rate_bps", "integer", (c) => c.notNull())
    .addColumn("min_fee_fen", "bigint", (c) => c.notNull())
    .addUniqueConstraint("market_order_lines_order_line", ["order_id", "line_no"])
    .addCheckConstraint("market_order_lines_amount", sql`quantity > 0 and unit_price_fen > 0 and amount_fen = unit_price_fen * quantity`)
    .execute();

  await db.schema
    .createTable("market_order_events")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("order_id", "uuid", (c) => c.notNull().references("market_orders.id"))
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("from_status", "text")
    .addColumn("to_status", "text", (c) => c.notNull())
    .addColumn("actor_organization_id", "uuid", (c) => c.references("organizations.id"))
    .addColumn("actor_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("at", "timestamptz", NOW)
    .addCheckConstraint("market_order_events_note_length", sql`length(note) <= 500`)
    .execute();
  await db.schema.createIndex("market_order_events_order").on("market_order_events").columns(["order_id", "id"]).execute();

  await db.schema
    .createTable("market_disputes")
    .addColumn("id", "uuid", ID)
    .addColumn("order_id", "uuid", (c) => c.notNull().unique().references("market_orders.id"))
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("buyer_id", "uuid", (c) => c.notNull())
    .addColumn("merchant_id", "uuid", (c) => c.notNull())
    // The order's status when the dispute froze it (paid, shipped or received).
    .addColumn("opened_from_status", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("open"))
    .addColumn("ruling", "text")
    .addColumn("refund_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("ruling_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("ruled_by", "uuid", (c) => c.references("users.id"))
    .addColumn("ruled_at", "timestamptz")
    .addColumn("opened_at", "timestamptz", NOW)
    .addForeignKeyConstraint("market_disputes_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addCheckConstraint("market_disputes_status", sql`status in ('open','ruled')`)
    .addCheckConstraint("market_disputes_from", sql`opened_from_status in ('paid','shipped','received')`)
    .addCheckConstraint(
      "market_disputes_ruling",
      sql`(status = 'open' and ruling is null and ruled_at is null)
          or (status = 'ruled' and ruled_at is not null and length(ruling_reason) between 1 and 500 and (
                (ruling = 'release' and refund_fen = 0)
             or (ruling = 'refund_full' and refund_fen > 0)
             or (ruling = 'refund_partial' and refund_fen > 0)))`,
    )
    .execute();
  await db.schema.createIndex("market_disputes_market_status").on("market_disputes").columns(["market_id", "status", "opened_at"]).execute();

  await db.schema
    .createTable("market_dispute_statements")
    .addColumn("id", "uuid", ID)
    .addColumn("dispute_id", "uuid", (c) => c.notNull().references("market_disputes.id"))
    .addColumn("party", "text", (c) => c.notNull())
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("author_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("body", "text", (c) => c.notNull())
    // Evidence: an optional file (photo or PDF) kept with the statement, at most 2 MiB.
    .addColumn("evidence_filename", "text")
    .addColumn("evidence_content_type", "text")
    .addColumn("evidence_bytes", "bytea")
    .addColumn("created_at", "timestamptz", NOW)
    .addCheckConstraint("market_dispute_statements_party", sql`party in ('buyer','merchant','operator')`)
    .addCheckConstraint("market_dispute_statements_body", sql`length(body) between 1 and 2000`)
    .addCheckConstraint(
      "market_dispute_statements_evidence",
      sql`(evidence_bytes is null and evidence_filename is null and evidence_content_type is null)
          or (evidence_bytes is not null and octet_length(evidence_bytes) between 1 and 2097152
              and length(evidence_filename) between 1 and 200 and evidence_content_type in ('image/png','image/jpeg','application/pdf'))`,
    )
    .execute();
  await db.schema.createIndex("market_dispute_statements_dispute").on("market_dispute_statements").columns(["dispute_id", "created_at"]).execute();

  await db.schema
    .createTable("market_announcements")
    .addColumn("id", "uuid", ID)
    .addColumn("market_id", "uuid", (c) => c.notNull())
    .addColumn("operator_id", "uuid", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("audience", "text", (c) => c.notNull())
    .addColumn("published_by", "uuid", (c) => c.references("users.id"))
    .addColumn("published_at", "timestamptz", NOW)
    .addForeignKeyConstraint("market_announcements_market", ["market_id", "operator_id"], "markets", ["id", "operator_id"])
    .addCheckConstraint("market_announcements_title", sql`length(title) between 1 and 100`)
    .addCheckConstraint("market_announcements_body", sql`length(body) between 1 and 5000`)
    .addCheckConstraint("market_announcements_audience", sql`audience in ('all','merchants','buyers')`)
    .execute();
  await db.schema.createIndex("market_announcements_market").on("market_announcements").columns(["market_id", "published_at"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "market_announcements",
    "market_dispute_statements",
    "market_disputes",
    "market_order_events",
    "market_order_lines",
    "market_orders",
    "market_checkouts",
    "market_cart_items",
    "market_listings",
  ]) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop sequence market_order_no_seq`.execute(db);
}
