import type { ColumnType, Generated, JSONColumnType } from "kysely";
import type { CreatedAt, NullableTimestamp } from "./foundation";

export interface OutboxTable {
  id: Generated<number>;
  /** BullMQ queue the job goes to (one per workflow). */
  queue: string;
  job_name: string;
  /** Deterministic `<workflow>-<id>-<step>` id: BullMQ refuses a second job with the same id. */
  job_id: string;
  payload: JSONColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;
  created_at: CreatedAt;
  available_at: ColumnType<Date, Date | string | undefined, Date | string>;
  published_at: NullableTimestamp;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface OutboxTables {
  outbox: OutboxTable;
}
