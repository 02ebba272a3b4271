import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { createDb, type DbHandle } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { databaseUrlFor, TEST_DATABASE_URL, TEST_REDIS_URL } from "./env";

export interface TestDatabase extends DbHandle {
  name: string;
  url: string;
}

/** A fresh, migrated PostgreSQL database of this run's own, dropped at the end of the run. */
export async function createTestDatabase(options: { poolMax?: number; connectionWaitMs?: number } = {}): Promise<TestDatabase> {
  const runId = inject("runId");
  const template = inject("templateDatabase");
  const name = `rt_test_${runId}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`create database ${name} template ${template}`);
        break;
      } catch (error) {
        // Two files copying the template at the same instant: PostgreSQL asks the second to wait.
        if (attempt < 20 && /being accessed by other users/.test((error as Error).message)) {
          await new Promise((r) => setTimeout(r, 100 + attempt * 50));
          continue;
        }
        throw error;
      }
    }
  } finally {
    await admin.end();
  }
  const url = databaseUrlFor(name);
  const handle = createDb({ databaseUrl: url, poolMax: options.poolMax ?? 20, connectionWaitMs: options.connectionWaitMs });
  return { ...handle, name, url };
}

/** An in-memory PGlite database with every migration applied: the embedded mode's engine. */
export async function createEmbeddedTestDatabase(): Promise<DbHandle> {
  const handle = createDb({ inMemory: true });
  await migrateToLatest(handle.db);
  return handle;
}

/** A Redis key prefix of this test's own under this run's prefix. */
export function testRedisPrefix(label = "t"): string {
  return `rt-test-${inject("runId")}-${label}-${randomBytes(3).toString("hex")}`;
}

export { TEST_REDIS_URL };
