import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.

const appendOnly = (table: string) => sql`
  create trigger ${sql.raw(`${table}_append_only`)}
  before update or delete on ${sql.table(table)}
  for each row execute function rongtong_refuse_change()`;

export async function up(db: Kysely<unknown>): Promise<void> {
  // ---- our side -------------------------------------------------------------------------------
  await db.schema
    .createTable("payments")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("payer_organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("payee_organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("purpose", "text", (c) => c.notNull().check(sql`purpose in ('order','deposit','market_order','topup')`))
    .addColumn("reference", "text", (c) => c.notNull().check(sql`length(reference) between 1 and 200`))
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("currency", "text", (c) => c.notNull().defaultTo("CNY").check(sql`currency = 'CNY'`))
    .addColumn("description", "text", (c) => c.notNull().check(sql`length(description) between 1 and 200`))
    // A same-site path only: never `//host` or `/\host`, which browsers read as another host.
    .addColumn("return_path", "text", (c) =>
      c.notNull().check(sql`return_path ~ '^/([^/\\\\]|$)' and length(return_path) <= 500`),
    )
    .addColumn("status", "text", (c) =>
      c
        .notNull()
        .defaultTo("created")
        .check(sql`status in ('created','succeeded','failed','partially_refunded','refunded')`),
    )
    .addColumn("refunded_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("idempotency_key", "text", (c) => c.notNull().check(sql`length(idempotency_key) between 1 and 200`))
    .addColumn("gateway_payment_id", "text", (c) => c.unique())
    .addColumn("pay_url", "text")
    .addColumn("created_by_user_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("succeeded_at", "timestamptz")
    .addColumn("failed_at", "timestamptz")
    .addColumn("fulfilled_at", "timestamptz")
    .addUniqueConstraint("payments_payer_idempotency_key", ["payer_organization_id", "idempotency_key"])
    // The refunded total and the status say the same thing, or the row is refused.
    .addCheckConstraint(
      "payments_refunded_matches_status",
      sql`(status in ('created','succeeded','failed') and refunded_fen = 0)
        or (status = 'partially_refunded' and refunded_fen > 0 and refunded_fen < amount_fen)
        or (status = 'refunded' and refunded_fen = amount_fen)`,
    )
    .addCheckConstraint(
      "payments_timestamps_match_status",
      sql`(succeeded_at is not null) = (status in ('succeeded','partially_refunded','refunded'))
        and (failed_at is not null) = (status = 'failed')`,
    )
    .execute();
  await db.schema.createIndex("payments_payer_created").on("payments").columns(["payer_organization_id", "created_at"]).execute();
  await db.schema.createIndex("payments_payee_created").on("payments").columns(["payee_organization_id", "created_at"]).execute();
  await db.schema.createIndex("payments_reference").on("payments").column("reference").execute();

  await db.schema
    .createTable("payment_refunds")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("payment_id", "uuid", (c) => c.notNull().references("payments.id"))
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("reason", "text", (c) => c.notNull().check(sql`length(reason) between 1 and 500`))
    .addColumn("status", "text", (c) =>
      c.notNull().defaultTo("requested").check(sql`status in ('requested','succeeded','failed')`),
    )
    .addColumn("idempotency_key", "text", (c) => c.notNull().check(sql`length(idempotency_key) between 1 and 200`))
    .addColumn("gateway_refund_id", "text", (c) => c.unique())
    .addColumn("hold_transfer_id", "uuid", (c) => c.notNull().unique().references("ledger_transfers.id"))
    .addColumn("failure_reason", "text")
    .addColumn("requested_by_user_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("succeeded_at", "timestamptz")
    .addColumn("failed_at", "timestamptz")
    .addUniqueConstraint("payment_refunds_payment_idempotency_key", ["payment_id", "idempotency_key"])
    .addCheckConstraint(
      "payment_refunds_timestamps_match_status",
      sql`(succeeded_at is not null) = (status = 'succeeded') and (failed_at is not null) = (status = 'failed')`,
    )
    .execute();
  await db.schema.createIndex("payment_refunds_payment").on("payment_refunds").column("payment_id").execute();

  await db.schema
    .createTable("payment_events")
    .addColumn("event_id", "text", (c) => c.primaryKey().check(sql`length(event_id) between 1 and 100`))
    .addColumn("payment_id", "uuid", (c) => c.notNull().references("payments.id"))
    .addColumn("refund_id", "uuid", (c) => c.references("payment_refunds.id"))
    .addColumn("type", "text", (c) =>
      c.notNull().check(sql`type in ('payment.succeeded','payment.failed','refund.succeeded','refund.failed')`),
    )
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("occurred_at", "timestamptz", (c) => c.notNull())
    .addColumn("source", "text", (c) =>
      c.notNull().check(sql`source in ('callback','status_query','refund_response')`),
    )
    .addColumn("outcome", "text", (c) =>
      c.notNull().check(sql`outcome in ('applied','ignored_stale','refused_amount_mismatch')`),
    )
    .addColumn("detail", "text")
    .addColumn("payload", "jsonb", (c) => c.notNull().check(sql`jsonb_typeof(payload) = 'object'`))
    .addColumn("received_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("payment_events_payment").on("payment_events").columns(["payment_id", "received_at"]).execute();
  // What the gateway told us is evidence: kept as received.
  await appendOnly("payment_events").execute(db);

  // ---- the sandbox gateway (stands for another company's system) -----------------------------
  await db.schema
    .createTable("sandbox_epay_payments")
    .addColumn("gateway_payment_id", "text", (c) => c.primaryKey())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("merchant_reference", "text", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("merchant_display_name", "text", (c) => c.notNull())
    .addColumn("notify_url", "text", (c) => c.notNull())
    .addColumn("return_url", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("pending").check(sql`status in ('pending','succeeded','failed')`))
    .addColumn("refunded_fen", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("directives", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("completed_at", "timestamptz")
    .addUniqueConstraint("sandbox_epay_payments_merchant_reference", ["merchant_id", "merchant_reference"])
    .addCheckConstraint("sandbox_epay_payments_refunded_range", sql`refunded_fen >= 0 and refunded_fen <= amount_fen`)
    .execute();

  await db.schema
    .createTable("sandbox_epay_refunds")
    .addColumn("gateway_refund_id", "text", (c) => c.primaryKey())
    .addColumn("gateway_payment_id", "text", (c) => c.notNull().references("sandbox_epay_payments.gateway_payment_id"))
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("merchant_refund_reference", "text", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('succeeded','failed')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("sandbox_epay_refunds_merchant_reference", ["merchant_id", "merchant_refund_reference"])
    .execute();

  await db.schema
    .createTable("sandbox_epay_events")
    .addColumn("event_id", "text", (c) => c.primaryKey())
    .addColumn("gateway_payment_id", "text", (c) => c.notNull().references("sandbox_epay_payments.gateway_payment_id"))
    .addColumn("gateway_refund_id", "text", (c) => c.references("sandbox_epay_refunds.gateway_refund_id"))
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull())
    .addColumn("occurred_at", "timestamptz", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sandbox_epay_events_payment").on("sandbox_epay_events").columns(["gateway_payment_id", "occurred_at"]).execute();
  // The statement file is a day's events in time order.
  await db.schema.createIndex("sandbox_epay_events_occurred").on("sandbox_epay_events").column("occurred_at").execute();

  await db.schema
    .createTable("sandbox_epay_deliveries")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("event_id", "text", (c) => c.notNull().references("sandbox_epay_events.event_id"))
    .addColumn("copy_no", "integer", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('held','pending','delivered','failed')`))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_status_code", "integer")
    .addColumn("last_error", "text")
    .addColumn("deliver_after", "timestamptz", (c) => c.notNull())
    .addColumn("delivered_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("sandbox_epay_deliveries_copy", ["event_id", "copy_no"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("sandbox_epay_deliveries").execute();
  await db.schema.dropTable("sandbox_epay_events").execute();
  await db.schema.dropTable("sandbox_epay_refunds").execute();
  await db.schema.dropTable("sandbox_epay_payments").execute();
  await db.schema.dropTable("payment_events").execute();
  await db.schema.dropTable("payment_refunds").execute();
  await db.schema.dropTable("payments").execute();
}
