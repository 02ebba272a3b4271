import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Receivables advances for market merchants (issue 14): a loan application and its loan may name
// the escrow order whose proceeds it is advanced on. A receivable is either a dealer order's or a
// market order's, never both (the CHECKs), and one market order has at most one live sale (the
// partial unique index, as 0023 has for dealer orders).

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table loan_applications add column market_order_id uuid references market_orders(id)`.execute(db);
  await sql`alter table loan_applications add constraint loan_applications_one_receivable check (order_id is null or market_order_id is null)`.execute(db);
  await sql`create unique index loan_applications_one_live_per_market_order on loan_applications (market_order_id)
             where market_order_id is not null and status in ('applied','awaiting_second_approval','approved','disbursed')`.execute(db);
  await sql`alter table loans add column market_order_id uuid references market_orders(id)`.execute(db);
  await sql`alter table loans add constraint loans_one_receivable check (order_id is null or market_order_id is null)`.execute(db);
  await sql`create index loans_market_order on loans (market_order_id) where market_order_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists loans_market_order`.execute(db);
  await sql`alter table loans drop constraint if exists loans_one_receivable`.execute(db);
  await sql`alter table loans drop column if exists market_order_id`.execute(db);
  await sql`drop index if exists loan_applications_one_live_per_market_order`.execute(db);
  await sql`alter table loan_applications drop constraint if exists loan_applications_one_receivable`.execute(db);
  await sql`alter table loan_applications drop column if exists market_order_id`.execute(db);
}
