import { Migrator, type Migration, type MigrationProvider } from "kysely";
import type { Db } from "./index";
import * as m0001 from "./migrations/0001_foundation";
import * as m0002 from "./migrations/0002_outbox";
import * as m0003 from "./migrations/0003_catalog";
import * as m0004 from "./migrations/0004_payments";
import * as m0005 from "./migrations/0005_orders";
import * as m0006 from "./migrations/0006_api";
import * as m0007 from "./migrations/0007_recruitment";
import * as m0008 from "./migrations/0008_market";
import * as m0009 from "./migrations/0009_market_trade";
import * as m0010 from "./migrations/0010_market_notices";
import * as m0011 from "./migrations/0011_outbox_job_id_check";
import * as m0012 from "./migrations/0012_statement_assert";
import * as m0013 from "./migrations/0013_reference_versions";
import * as m0014 from "./migrations/0014_order_link_parties";
import * as m0015 from "./migrations/0015_notice_topics";
import * as m0016 from "./migrations/0016_payments_open_attempt";
import * as m0017 from "./migrations/0017_housekeeping_search_keys";
import * as m0018 from "./migrations/0018_payments_purpose_outcome";
import * as m0019 from "./migrations/0019_outbox_completion";
import * as m0020 from "./migrations/0020_outbox_reruns";
import * as m0021 from "./migrations/0021_payments_awaiting_gateway";
import * as m0022 from "./migrations/0022_drop_reference_versions";
import * as m0023 from "./migrations/0023_financing";
import * as m0024 from "./migrations/0024_loan_reminders";
import * as m0025 from "./migrations/0025_market_receivables";
import * as m0026 from "./migrations/0026_loan_repayment_purpose";
import * as m0027 from "./migrations/0027_settlement_accounts";
import * as m0028 from "./migrations/0028_payouts";
import * as m0029 from "./migrations/0029_reconciliation";

/**
 * Migrations are imported in code rather than read from disk, so the same list runs under tsx,
 * inside the Remix server bundle and in tests, with no compiled copies to keep in step.
 */
const MIGRATIONS: Record<string, Migration> = {
  "0001_foundation": m0001,
  "0002_outbox": m0002,
  "0003_catalog": m0003,
  "0004_payments": m0004,
  "0005_orders": m0005,
  "0006_api": m0006,
  "0007_recruitment": m0007,
  "0008_market": m0008,
  "0009_market_trade": m0009,
  "0010_market_notices": m0010,
  "0011_outbox_job_id_check": m0011,
  "0012_statement_assert": m0012,
  "0013_reference_versions": m0013,
  "0014_order_link_parties": m0014,
  "0015_notice_topics": m0015,
  "0016_payments_open_attempt": m0016,
  "0017_housekeeping_search_keys": m0017,
  "0018_payments_purpose_outcome": m0018,
  "0019_outbox_completion": m0019,
  "0020_outbox_reruns": m0020,
  "0021_payments_awaiting_gateway": m0021,
  "0022_drop_reference_versions": m0022,
  "0023_financing": m0023,
  "0024_loan_reminders": m0024,
  "0025_market_receivables": m0025,
  "0026_loan_repayment_purpose": m0026,
  "0027_settlement_accounts": m0027,
  "0028_payouts": m0028,
  "0029_reconciliation": m0029,
};

class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(`migration ${failed?.migrationName ?? "?"} failed: ${String((error as Error).message ?? error)}`);
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
