import { sql, type Kysely } from "kysely";
import { up as createReferenceVersions } from "./0013_reference_versions";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Issue 13: order placement has one path, the locked one, and it reads what it places on inside its
// transaction. Nothing keeps reads between placements any more (decision 017 superseded), so the
// versions that told kept reads from stale ones go: the triggers that raised them on every write to
// an organisation, its dealer links, tiers, products, SKUs, price lists and items, dealer prices and
// order settings, their two functions, and the table.

const TABLES = [
  "organizations",
  "dealer_links",
  "dealer_tiers",
  "products",
  "price_lists",
  "price_list_items",
  "dealer_price_overrides",
  "order_settings",
  "skus",
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of TABLES) {
    for (const event of ["insert", "update", "delete"]) await sql`drop trigger ${sql.id(`${table}_versions_${event}`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function rongtong_raise_sku_reference_versions()`.execute(db);
  await sql`drop function rongtong_raise_reference_versions()`.execute(db);
  await sql`drop table reference_versions`.execute(db);
}

/** As migration 0013 made them; every version starts again from none (0), as it did then. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await createReferenceVersions(db);
}
