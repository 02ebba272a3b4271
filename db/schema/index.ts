import type { FoundationTables } from "./foundation";
import type { OutboxTables } from "./outbox";
import type { CatalogTables } from "./catalog";

export * from "./foundation";
export * from "./outbox";
export * from "./catalog";

export interface Database extends FoundationTables, OutboxTables, CatalogTables {}
