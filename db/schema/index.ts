import type { FoundationTables } from "./foundation";
import type { OutboxTables } from "./outbox";

export * from "./foundation";
export * from "./outbox";

export interface Database extends FoundationTables, OutboxTables {}
