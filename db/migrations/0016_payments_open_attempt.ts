import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// One open payment per purpose. A purpose (an order's payment, deposit or balance; a market
// checkout; an application's deposit) is named by its payer and `reference`; each e-Pay attempt
// at it is a payment of its own, under its own idempotency key, so a failed attempt never blocks a
// retry. But while one attempt is pending (`created`) or has taken the money (captured, whatever
// was refunded since), a second payment of the same purpose is a double charge: the model refuses
// it under the purpose's lock, and this index refuses it whatever the code does.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create unique index payments_one_open_per_purpose
    on payments (payer_organization_id, purpose, reference)
    where status in ('created', 'succeeded', 'partially_refunded', 'refunded')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index payments_one_open_per_purpose`.execute(db);
}
