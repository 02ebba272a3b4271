import { createDb } from "../../db";
import { readConfig } from "../config.server";
import { ledgerTotals, verifyLedger } from "../domain/ledger";

// `npm run ledger:verify`: every ledger invariant in one query; exits 1 and lists each violation.
const config = readConfig();
let handle;
try {
  handle = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
} catch (error) {
  console.error(`ledger:verify: ${(error as Error).message}`);
  process.exit(2);
}
try {
  const exists = await handle.db.introspection.getTables();
  if (!exists.some((t) => t.name === "ledger_transfers")) {
    console.error(`ledger:verify: no ledger in ${handle.location}; run npm run migrate (or npm start) first`);
    process.exitCode = 2;
  } else {
    const violations = await verifyLedger(handle.db);
    const totals = await ledgerTotals(handle.db);
    const where = `${handle.mode} database ${handle.location}`;
    if (violations.length === 0) {
      console.log(`ledger OK (${where}): ${totals.accountCount} accounts, ${totals.transferCount} transfers, every invariant holds`);
    } else {
      console.error(`ledger BROKEN (${where}): ${violations.length} violation(s)`);
      for (const v of violations) console.error(`  ${v.check}: ${v.detail}`);
      process.exitCode = 1;
    }
  }
} finally {
  await handle.close();
}
