import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Housekeeping (workflows/housekeeping.ts) deletes expired sessions and old login failures in
// batches by time; without an index on that time each batch would scan the whole table.
//
// Search keys: listings are now stored as the merchant typed them (a "，" stays "，", "㎡" stays
// "㎡"); the folding that lets "T恤" find "Ｔ恤" and "m2" find "㎡" moves into the search key, which
// is NFKC-normalised and lower-cased here, as the query terms are (market-listings.server.ts
// `searchKey`). normalize() is immutable, so it may define a stored generated column.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index sessions_expires on sessions (expires_at)`.execute(db);
  await sql`create index login_failures_at on login_failures (at)`.execute(db);
  await sql`alter table market_listings drop column search_text`.execute(db);
  await sql`alter table market_listings add column search_text text generated always as
    (lower(normalize(title || ' ' || title_en || ' ' || spec || ' ' || category, NFKC))) stored`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table market_listings drop column search_text`.execute(db);
  await sql`alter table market_listings add column search_text text generated always as
    (lower(title || ' ' || title_en || ' ' || spec || ' ' || category)) stored`.execute(db);
  await sql`drop index login_failures_at`.execute(db);
  await sql`drop index sessions_expires`.execute(db);
}
