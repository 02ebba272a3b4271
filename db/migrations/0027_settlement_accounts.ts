import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Settlement accounts (issue 15): each organisation's bank account (对公账户) that payouts go to,
// proved by a small random deposit (小额打款验证), and the sandbox gateway's record of payouts, which
// stands in for the receiving bank's statement.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("settlement_accounts")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    // One account in force per organisation; a change replaces it and raises `revision`.
    .addColumn("organization_id", "uuid", (c) => c.notNull().unique().references("organizations.id"))
    .addColumn("bank_name", "text", (c) => c.notNull().check(sql`char_length(bank_name) between 2 and 60`))
    .addColumn("branch_name", "text", (c) => c.notNull().check(sql`char_length(branch_name) between 2 and 60`))
    .addColumn("account_number", "text", (c) => c.notNull().check(sql`account_number ~ '^[0-9]{8,30}$'`))
    .addColumn("account_name", "text", (c) => c.notNull().check(sql`char_length(account_name) between 1 and 200`))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending_deposit','awaiting_confirmation','deposit_failed','verified')`))
    .addColumn("revision", "integer", (c) => c.notNull().defaultTo(1).check(sql`revision >= 1`))
    .addColumn("deposit_fen", "integer", (c) => c.notNull().check(sql`deposit_fen between 1 and 99`))
    .addColumn("deposit_reference", "text", (c) => c.notNull())
    .addColumn("gateway_payout_id", "text")
    .addColumn("deposit_sent_at", "timestamptz")
    .addColumn("deposit_failure", "text")
    .addColumn("failed_attempts", "integer", (c) => c.notNull().defaultTo(0).check(sql`failed_attempts between 0 and 3`))
    .addColumn("locked_until", "timestamptz")
    .addColumn("verified_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("settlement_accounts_verified_at", sql`(status = 'verified') = (verified_at is not null)`)
    .execute();
  await sql`create unique index settlement_accounts_deposit_reference on settlement_accounts (deposit_reference)`.execute(db);

  await db.schema
    .createTable("sandbox_epay_payouts")
    .addColumn("gateway_payout_id", "text", (c) => c.primaryKey())
    .addColumn("merchant_id", "text", (c) => c.notNull())
    .addColumn("merchant_payout_reference", "text", (c) => c.notNull())
    .addColumn("amount_fen", "bigint", (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("bank_name", "text", (c) => c.notNull())
    .addColumn("account_number", "text", (c) => c.notNull())
    .addColumn("account_name", "text", (c) => c.notNull())
    .addColumn("remark", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('succeeded','failed')`))
    .addColumn("failure_reason", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("sandbox_epay_payouts_merchant_reference", ["merchant_id", "merchant_payout_reference"])
    .execute();
  await sql`create index sandbox_epay_payouts_account on sandbox_epay_payouts (account_number, created_at desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("sandbox_epay_payouts").execute();
  await db.schema.dropTable("settlement_accounts").execute();
}
