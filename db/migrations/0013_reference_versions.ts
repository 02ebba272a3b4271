import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// A version per organisation of what an order placement reads about it: the organisation itself,
// a core enterprise's dealer links, tiers, products, SKUs, price lists and dealer prices, and a
// dealer's order settings. Every statement that changes one of these raises the versions of the
// organisations it touched, in its own transaction, by statement-level triggers (one run per
// statement, however many rows: a price list import does not write a version per row).
// A placement planned on data kept from an earlier read is written by a statement that asserts
// these versions are still the ones read with that data (decision 017).
//
// SKU updates that move only stock (reservations, shipments, returns) leave the version alone:
// placement does not read stock, and a busy supplier's stock moves all day.

const COLUMNS_BY_TABLE = {
  organizations: ["id"],
  dealer_links: ["core_enterprise_id", "dealer_id"],
  dealer_tiers: ["core_enterprise_id"],
  products: ["core_enterprise_id"],
  price_lists: ["core_enterprise_id"],
  price_list_items: ["core_enterprise_id"],
  dealer_price_overrides: ["core_enterprise_id"],
  order_settings: ["organization_id"],
} as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table reference_versions (
      organization_id uuid primary key,
      version bigint not null check (version > 0)
    )`.execute(db);

  // TG_ARGV: the columns naming the organisations a changed row belongs to.
  await sql`
    create function rongtong_raise_reference_versions() returns trigger language plpgsql as $$
    declare
      organization_column text;
      changed text;
    begin
      foreach organization_column in array TG_ARGV loop
        changed := case TG_OP
          when 'INSERT' then format('select %I as id from new_rows', organization_column)
          when 'DELETE' then format('select %I as id from old_rows', organization_column)
          else format('select %1$I as id from new_rows union select %1$I from old_rows', organization_column)
        end;
        execute format(
          'insert into reference_versions (organization_id, version)
           select distinct c.id, 1 from (%s) as c where c.id is not null
           on conflict (organization_id) do update set version = reference_versions.version + 1', changed);
      end loop;
      return null;
    end $$`.execute(db);

  // SKUs: raised only when a column placement reads changed, not when stock moved.
  await sql`
    create function rongtong_raise_sku_reference_versions() returns trigger language plpgsql as $$
    begin
      insert into reference_versions (organization_id, version)
      select distinct c.id, 1
        from (select n.core_enterprise_id as id
                from new_rows n join old_rows o on o.id = n.id
               where (n.core_enterprise_id, n.product_id, n.code, n.name, n.spec, n.unit, n.pack_size, n.moq, n.base_price_fen, n.tax_rate_bps, n.status)
                     is distinct from
                     (o.core_enterprise_id, o.product_id, o.code, o.name, o.spec, o.unit, o.pack_size, o.moq, o.base_price_fen, o.tax_rate_bps, o.status)
              union
              select o.core_enterprise_id
                from new_rows n join old_rows o on o.id = n.id
               where n.core_enterprise_id is distinct from o.core_enterprise_id) as c
      on conflict (organization_id) do update set version = reference_versions.version + 1;
      return null;
    end $$`.execute(db);

  // A trigger with transition tables takes one event; each table gets three.
  for (const [table, columns] of Object.entries(COLUMNS_BY_TABLE)) {
    const args = sql.join(columns.map((column) => sql.lit(column)));
    await sql`create trigger ${sql.id(`${table}_versions_insert`)} after insert on ${sql.table(table)}
      referencing new table as new_rows for each statement execute function rongtong_raise_reference_versions(${args})`.execute(db);
    await sql`create trigger ${sql.id(`${table}_versions_update`)} after update on ${sql.table(table)}
      referencing old table as old_rows new table as new_rows for each statement execute function rongtong_raise_reference_versions(${args})`.execute(db);
    await sql`create trigger ${sql.id(`${table}_versions_delete`)} after delete on ${sql.table(table)}
      referencing old table as old_rows for each statement execute function rongtong_raise_reference_versions(${args})`.execute(db);
  }
  const core = sql.lit("core_enterprise_id");
  await sql`create trigger skus_versions_insert after insert on skus
    referencing new table as new_rows for each statement execute function rongtong_raise_reference_versions(${core})`.execute(db);
  await sql`create trigger skus_versions_update after update on skus
    referencing old table as old_rows new table as new_rows for each statement execute function rongtong_raise_sku_reference_versions()`.execute(db);
  await sql`create trigger skus_versions_delete after delete on skus
    referencing old table as old_rows for each statement execute function rongtong_raise_reference_versions(${core})`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [...Object.keys(COLUMNS_BY_TABLE), "skus"]) {
    for (const event of ["insert", "update", "delete"]) await sql`drop trigger ${sql.id(`${table}_versions_${event}`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function rongtong_raise_sku_reference_versions()`.execute(db);
  await sql`drop function rongtong_raise_reference_versions()`.execute(db);
  await sql`drop table reference_versions`.execute(db);
}
