import { readConfig } from "../app/config.server";
import { createDb } from "./index";
import { migrateToLatest } from "./migrate";

// `npm run migrate`: apply every pending migration to DATABASE_URL, or to the embedded database.
const config = readConfig();
const handle = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  const applied = await migrateToLatest(handle.db);
  console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
} finally {
  await handle.close();
}
