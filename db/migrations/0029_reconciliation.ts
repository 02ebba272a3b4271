import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Reconciliation (issue 15, decision 027): each imported daily statement of the gateway, its lines
// as the gateway wrote them, and every mismatch found between them and our books, with who
// resolved it and why.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("statement_days")
    .addColumn("statement_date", "date", (c) => c.primaryKey())
    .addColumn("content_sha256", "text", (c) => c.notNull().check(sql`content_sha256 ~ '^[0-9a-f]{64}$'`))
    .addColumn("line_count", "integer", (c) => c.notNull().check(sql`line_count >= 0`))
    .addColumn("gross_fen", "bigint", (c) => c.notNull().check(sql`gross_fen >= 0`))
    .addColumn("fee_fen", "bigint", (c) => c.notNull().check(sql`fee_fen >= 0`))
    .addColumn("fee_transfer_id", "uuid", (c) => c.references("ledger_transfers.id"))
    .addColumn("imported_at", "timestamptz", (c) => c.notNull())
    .addColumn("closed_at", "timestamptz")
    // The fee transfer is written in the import's transaction right after this row, so only the
    // converse can be a CHECK: no transfer for a day without fees.
    .addCheckConstraint("statement_days_fee_booked", sql`fee_transfer_id is null or fee_fen > 0`)
    .execute();

  await db.schema
    .createTable("statement_lines")
    .addColumn("statement_date", "date", (c) => c.notNull().references("statement_days.statement_date"))
    .addColumn("line_no", "integer", (c) => c.notNull().check(sql`line_no >= 1`))
    .addColumn("gateway_id", "text", (c) => c.notNull().check(sql`char_length(gateway_id) between 1 and 100`))
    .addColumn("gateway_payment_id", "text", (c) => c.notNull())
    .addColumn("merchant_reference", "text", (c) => c.notNull().check(sql`char_length(merchant_reference) between 1 and 200`))
    .addColumn("type", "text", (c) => c.notNull().check(sql`type in ('payment.succeeded','refund.succeeded','payout.succeeded')`))
    .addColumn("gross_fen", "bigint", (c) => c.notNull().check(sql`gross_fen > 0`))
    .addColumn("fee_fen", "bigint", (c) => c.notNull().check(sql`fee_fen >= 0`))
    .addColumn("net_fen", "bigint", (c) => c.notNull().check(sql`net_fen >= 0`))
    .addColumn("occurred_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("statement_lines_pkey", ["statement_date", "line_no"])
    .execute();
  await sql`create index statement_lines_reference on statement_lines (merchant_reference, type)`.execute(db);

  await db.schema
    .createTable("reconcile_mismatches")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("statement_date", "date", (c) => c.notNull().references("statement_days.statement_date"))
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('missing_ours','missing_theirs','amount_differs','duplicate','late')`))
    .addColumn("line_type", "text", (c) => c.notNull().check(sql`line_type in ('payment.succeeded','refund.succeeded','payout.succeeded')`))
    .addColumn("merchant_reference", "text", (c) => c.notNull())
    .addColumn("gateway_id", "text")
    .addColumn("theirs_fen", "bigint")
    .addColumn("ours_fen", "bigint")
    .addColumn("theirs_lines", "integer", (c) => c.notNull().check(sql`theirs_lines >= 0`))
    .addColumn("ours_at", "timestamptz")
    .addColumn("ledger_transfer_id", "uuid", (c) => c.references("ledger_transfers.id"))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("open").check(sql`status in ('open','resolved','superseded')`))
    .addColumn("note", "text", (c) => c.check(sql`note is null or char_length(note) between 1 and 1000`))
    .addColumn("resolved_by_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("resolved_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    // One movement is one mismatch on a day, whatever else is wrong with it: listed once.
    .addUniqueConstraint("reconcile_mismatches_once", ["statement_date", "line_type", "merchant_reference"])
    .addCheckConstraint("reconcile_mismatches_resolved_note", sql`(status = 'resolved') = (note is not null and resolved_at is not null)`)
    .execute();
  await sql`create index reconcile_mismatches_open on reconcile_mismatches (statement_date) where status = 'open'`.execute(db);
  await sql`create index reconcile_mismatches_reference on reconcile_mismatches (merchant_reference, line_type) where kind = 'missing_theirs' and status = 'open'`.execute(db);
  // Our side of a day is found by when the money moved; these make "what moved on D" a range scan.
  await sql`create index if not exists payments_succeeded_at on payments (succeeded_at) where succeeded_at is not null`.execute(db);
  await sql`create index if not exists payment_refunds_succeeded_at on payment_refunds (succeeded_at) where succeeded_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists payment_refunds_succeeded_at`.execute(db);
  await sql`drop index if exists payments_succeeded_at`.execute(db);
  await db.schema.dropTable("reconcile_mismatches").execute();
  await db.schema.dropTable("statement_lines").execute();
  await db.schema.dropTable("statement_days").execute();
}
