import { randomBytes } from "node:crypto";
import pg from "pg";
import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";
import { createDb } from "../../db";
import { migrateToLatest } from "../../db/migrate";
import { databaseUrlFor, START_POSTGRES_HINT, START_REDIS_HINT, TEST_DATABASE_URL, TEST_REDIS_URL } from "./env";

declare module "vitest" {
  export interface ProvidedContext {
    runId: string;
    templateDatabase: string;
  }
}

/**
 * Each run owns its databases (a migrated template, then one copy per test file) and a Redis key
 * prefix, so two runs on one machine never see each other. A missing service fails the run loudly.
 */
export default async function setup(project: TestProject) {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${TEST_DATABASE_URL}: ${(error as Error).message}; ${START_POSTGRES_HINT}`);
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    await admin.end();
    throw new Error(`Redis is not reachable at ${TEST_REDIS_URL}: ${(error as Error).message}; ${START_REDIS_HINT}`);
  }

  const templateDatabase = `rt_test_${runId}_tpl`;
  await admin.query(`create database ${templateDatabase}`);
  const template = createDb({ databaseUrl: databaseUrlFor(templateDatabase), poolMax: 1 });
  try {
    await migrateToLatest(template.db);
  } finally {
    await template.close();
  }
  project.provide("runId", runId);
  project.provide("templateDatabase", templateDatabase);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      "select datname from pg_database where datname like $1",
      [`rt_test_${runId}_%`],
    );
    for (const { datname } of rows) {
      await admin.query(`drop database if exists ${datname} with (force)`);
    }
    await admin.end();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `rt-test-${runId}*`, "COUNT", 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    redis.disconnect();
  };
}
