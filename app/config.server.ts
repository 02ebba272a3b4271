import path from "node:path";

/** Everything the processes read from the environment, read in one place. */
export interface AppConfig {
  port: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** BullMQ key prefix; two deployments (or test runs) on one Redis use different ones. */
  redisPrefix: string;
  dataDir: string;
  sessionSecret: string | undefined;
  demoPassword: string;
  /** Seed demo data on an empty database. Always on in embedded mode; SEED_DEMO=1 in server mode. */
  seedDemo: boolean;
  cookieSecure: boolean;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const databaseUrl = env.DATABASE_URL || undefined;
  return {
    port: Number(env.PORT ?? 3000),
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.REDIS_PREFIX || "rongtong",
    dataDir: path.resolve(env.DATA_DIR || ".data"),
    sessionSecret: env.SESSION_SECRET || undefined,
    demoPassword: env.DEMO_PASSWORD || "demo1234",
    seedDemo: databaseUrl ? env.SEED_DEMO === "1" || env.SEED_DEMO === "true" : env.SEED_DEMO !== "0",
    cookieSecure: env.COOKIE_SECURE === "1" || env.COOKIE_SECURE === "true",
  };
}
