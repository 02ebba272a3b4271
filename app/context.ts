import type { Db, DbMode } from "../db";
import type { AppConfig } from "./config.server";
import type { Logger } from "./logger.server";

/** The config the web process runs with: the session secret is always resolved by boot time. */
export type ResolvedConfig = Omit<AppConfig, "sessionSecret"> & { sessionSecret: string };

/**
 * What a route needs of the job runtime: its mode and health. Routes never enqueue directly
 * (they write outbox rows), so nothing else is exposed here.
 */
export interface JobsHandle {
  mode: "in-process" | "bullmq";
  health(): Promise<{ ok: boolean; detail: string }>;
}

export interface RongtongLoadContext {
  db: Db;
  dbMode: DbMode;
  config: ResolvedConfig;
  /** A child logger carrying this request's id. */
  logger: Logger;
  requestId: string;
  /** The client address as Express saw it (honours `trust proxy`). */
  ip: string | null;
  jobs: JobsHandle;
}

declare module "@remix-run/server-runtime" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppLoadContext extends RongtongLoadContext {}

  // Single fetch is on (remix.config.js): loader data travels as turbo-stream, so a Date stays a
  // Date. This makes useLoaderData's types say so too.
  interface Future {
    v3_singleFetch: true;
  }
}
