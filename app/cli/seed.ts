import { createDb } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { readConfig } from "../config.server";
import { seedDemoData } from "../seed/demo.server";

// `npm run seed`: demo organisations, logins and opening balances, once.
const config = readConfig();
const handle = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  await migrateToLatest(handle.db);
  const result = await seedDemoData(handle.db, { password: config.demoPassword, epayMerchantId: config.epayMerchantId });
  console.log(result.seeded ? "demo data seeded" : "demo data already present");
  for (const login of result.logins) console.log(`  ${login.email.padEnd(20)} ${login.description}`);
} finally {
  await handle.close();
}
