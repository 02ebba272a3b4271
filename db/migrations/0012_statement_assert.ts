import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// A check a single statement makes of its own data-modifying WITH clauses: when it does not hold,
// the statement fails, and everything it wrote with it is undone. Used where a batch of writes is
// sent as one statement, without a transaction around it, and one of its guarded UPDATEs may have
// matched fewer rows than planned (another transaction changed the rows in between).
// SQLSTATE RT409 tells that failure apart from any other, so the caller can redo the work the
// careful way (locks first) instead of reporting an error.

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function rongtong_assert(ok boolean, message text) returns boolean language plpgsql as $$
    begin
      if ok is not true then
        raise exception using errcode = 'RT409', message = message;
      end if;
      return true;
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function rongtong_assert(boolean, text)`.execute(db);
}
