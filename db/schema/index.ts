import type { FoundationTables } from "./foundation";
import type { OutboxTables } from "./outbox";
import type { CatalogTables } from "./catalog";
import type { PaymentsTables } from "./payments";
import type { OrdersTables } from "./orders";

export * from "./foundation";
export * from "./outbox";
export * from "./catalog";
export * from "./payments";
export * from "./orders";

export interface Database extends FoundationTables, OutboxTables, CatalogTables, PaymentsTables, OrdersTables {}
