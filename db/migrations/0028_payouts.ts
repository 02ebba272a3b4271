import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// On-demand payouts (issue 15, decision 026): an organisation's request to send money from its
// wallet to its verified settlement account, with the ledger hold that reserves it and the
// gateway's answer.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("payouts")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("organization_id", "uuid", (c) => c.notNull().references("organizations.id"))
    .addColumn("settlement_account_id", "uuid", (c) => c.notNull().references("settlement_accounts.id"))
    // The account as it was when asked for: a later change of account does not redirect money in flight.
    .addColumn("account_revision", "integer", (c) => c.notNull())
    .addColumn("bank_name", "text", (c) => c.notNull())
    .addColumn("account_number", "text", (c) => c.notNull())
    .addColumn("account_name", "text", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("idempotency_key", "text", (c) => c.notNull().check(sql`char_length(idempotency_key) between 1 and 200`))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('requested','sent','succeeded','failed')`))
    .addColumn("hold_transfer_id", "uuid", (c) => c.notNull().references("ledger_transfers.id"))
    .addColumn("gateway_payout_id", "text")
    // Set only once the payout has failed for good; the last refusal of a try still to be retried is in last_failure_reason.
    .addColumn("failure_reason", "text")
    .addColumn("last_failure_reason", "text")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0).check(sql`attempts >= 0`))
    .addColumn("requested_by_user_id", "uuid", (c) => c.references("users.id"))
    .addColumn("requested_at", "timestamptz", (c) => c.notNull())
    .addColumn("sent_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addUniqueConstraint("payouts_org_idempotency_key", ["organization_id", "idempotency_key"])
    .addCheckConstraint("payouts_finished", sql`(status in ('succeeded','failed')) = (finished_at is not null)`)
    .addCheckConstraint("payouts_failure_reason", sql`(status = 'failed') = (failure_reason is not null)`)
    .execute();
  await sql`create unique index payouts_hold on payouts (hold_transfer_id)`.execute(db);
  await sql`create index payouts_org_requested on payouts (organization_id, requested_at desc, id desc)`.execute(db);
  await sql`create index payouts_requested on payouts (requested_at desc, id desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("payouts").execute();
}
