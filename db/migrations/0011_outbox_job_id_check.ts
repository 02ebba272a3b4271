import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// The outbox's job id CHECK, same rule, cheaper test. `^[^:]{1,200}:[^:]{1,200}:[^:]{1,200}$`
// makes PostgreSQL's regular expression engine expand three bounded repetitions: about 70 µs a
// row, paid by every business change that enqueues work. Three parts without ':' (an unbounded
// pattern) and each part's length checked on its own accept and refuse exactly the same ids.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outbox drop constraint outbox_job_id_three_parts`.execute(db);
  await sql`
    alter table outbox add constraint outbox_job_id_three_parts check (
      job_id ~ '^[^:]+:[^:]+:[^:]+$'
      and length(split_part(job_id, ':', 1)) <= 200
      and length(split_part(job_id, ':', 2)) <= 200
      and length(split_part(job_id, ':', 3)) <= 200)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table outbox drop constraint outbox_job_id_three_parts`.execute(db);
  await sql`alter table outbox add constraint outbox_job_id_three_parts check (job_id ~ '^[^:]{1,200}:[^:]{1,200}:[^:]{1,200}$')`.execute(db);
}
