import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// An order names its supplier, its dealer and the link between them. Three foreign keys checked
// each on its own (the supplier exists, the dealer exists, the link exists) allowed an order whose
// supplier or dealer was not its link's. One key on all three checks that they belong together,
// and, since the link's own keys hold its two organisations, that they exist: one lookup per order
// written instead of three.
//
// The order lines' (order_id, line_no) index goes: (order_id, sku_id), unique, finds an order's
// lines, and sorting an order's few lines by number needs no index.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table dealer_links add constraint dealer_links_id_parties unique (id, core_enterprise_id, dealer_id)`.execute(db);
  await sql`alter table orders add constraint orders_link_parties
    foreign key (dealer_link_id, core_enterprise_id, dealer_id) references dealer_links (id, core_enterprise_id, dealer_id)`.execute(db);
  await sql`alter table orders
    drop constraint orders_dealer_link_id_fkey,
    drop constraint orders_core_enterprise_id_fkey,
    drop constraint orders_dealer_id_fkey`.execute(db);
  await sql`drop index order_lines_order`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index order_lines_order on order_lines (order_id, line_no)`.execute(db);
  await sql`alter table orders
    add constraint orders_dealer_link_id_fkey foreign key (dealer_link_id) references dealer_links (id),
    add constraint orders_core_enterprise_id_fkey foreign key (core_enterprise_id) references organizations (id),
    add constraint orders_dealer_id_fkey foreign key (dealer_id) references organizations (id)`.execute(db);
  await sql`alter table orders drop constraint orders_link_parties`.execute(db);
  await sql`alter table dealer_links drop constraint dealer_links_id_parties`.execute(db);
}
