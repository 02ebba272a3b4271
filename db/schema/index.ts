import type { FoundationTables } from "./foundation";
import type { OutboxTables } from "./outbox";
import type { CatalogTables } from "./catalog";
import type { PaymentsTables } from "./payments";
import type { OrdersTables } from "./orders";
import type { ApiTables } from "./api";
import type { RecruitmentTables } from "./recruitment";
import type { MarketTables, MarketTradeTables } from "./market";
import type { FinancingTables } from "./financing";
import type { SettlementTables } from "./settlement";
import type { PayoutsTables } from "./payouts";
import type { ReconciliationTables } from "./reconciliation";

export * from "./foundation";
export * from "./outbox";
export * from "./catalog";
export * from "./payments";
export * from "./orders";
export * from "./api";
export * from "./recruitment";
export * from "./market";
export * from "./financing";
export * from "./settlement";
export * from "./payouts";
export * from "./reconciliation";

export interface Database extends FoundationTables, OutboxTables, CatalogTables, PaymentsTables, OrdersTables, ApiTables, RecruitmentTables, MarketTables, MarketTradeTables, FinancingTables, SettlementTables, PayoutsTables, ReconciliationTables {}
