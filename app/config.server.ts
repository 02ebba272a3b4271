import path from "node:path";

/** Everything the processes read from the environment, read in one place. */
export interface AppConfig {
  port: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** BullMQ key prefix; two deployments (or test runs) on one Redis use different ones. */
  redisPrefix: string;
  /**
   * OUTBOX_LEASE_MS: how long a published job may go unfinished before a worker looks it up in
   * BullMQ and sends it again if Redis lost it; unset keeps the runtime's default.
   */
  outboxLeaseMs: number | undefined;
  dataDir: string;
  sessionSecret: string | undefined;
  demoPassword: string;
  /** Seed demo data on an empty database. Always on in embedded mode; SEED_DEMO=1 in server mode. */
  seedDemo: boolean;
  cookieSecure: boolean;
  /** Where browsers and the gateway reach us (callbacks, return URLs); no trailing slash. */
  publicUrl: string;
  /**
   * PUBLIC_URL was set. When it is not, `publicUrl` is only a guess (localhost): links that send a
   * person back to us use the host they came in on instead (publicUrlFor).
   */
  publicUrlFromEnv: boolean;
  /** TRUST_PROXY is set: a proxy's X-Forwarded-Host / X-Forwarded-Proto name the host. */
  trustProxy: boolean;
  /** The e-Pay gateway's API and pay pages; by default the built-in sandbox on this server. */
  epayBaseUrl: string;
  epayMerchantId: string;
  /** Shared HMAC secret with the gateway; the default only suits the sandbox. */
  epaySecret: string;
  /** Serve the sandbox gateway under /sandbox/epay (EPAY_SANDBOX=0 turns it off). */
  epaySandboxEnabled: boolean;
  /** Sandbox delivers every callback twice, with random delays, so they overtake each other. */
  epaySandboxChaos: boolean;
}

/** Only the sandbox may run on this; a real gateway issues its own secret. */
export const EPAY_SANDBOX_DEFAULT_SECRET = "rongtong-epay-sandbox-secret-not-for-production";

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

function positiveIntegerOrUndefined(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number of milliseconds, not "${value}"`);
  return n;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const databaseUrl = env.DATABASE_URL || undefined;
  const port = Number(env.PORT ?? 3000);
  const publicUrl = withoutTrailingSlash(env.PUBLIC_URL || `http://localhost:${port}`);
  return {
    port,
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.REDIS_PREFIX || "rongtong",
    outboxLeaseMs: positiveIntegerOrUndefined(env.OUTBOX_LEASE_MS, "OUTBOX_LEASE_MS"),
    dataDir: path.resolve(env.DATA_DIR || ".data"),
    sessionSecret: env.SESSION_SECRET || undefined,
    demoPassword: env.DEMO_PASSWORD || "demo1234",
    seedDemo: databaseUrl ? env.SEED_DEMO === "1" || env.SEED_DEMO === "true" : env.SEED_DEMO !== "0",
    cookieSecure: env.COOKIE_SECURE === "1" || env.COOKIE_SECURE === "true",
    publicUrl,
    publicUrlFromEnv: Boolean(env.PUBLIC_URL),
    trustProxy: Boolean(env.TRUST_PROXY) && env.TRUST_PROXY !== "false" && env.TRUST_PROXY !== "0",
    epayBaseUrl: withoutTrailingSlash(env.EPAY_BASE_URL || `${publicUrl}/sandbox/epay`),
    epayMerchantId: env.EPAY_MERCHANT_ID || "rongtong",
    epaySecret: env.EPAY_SECRET || EPAY_SANDBOX_DEFAULT_SECRET,
    epaySandboxEnabled: env.EPAY_SANDBOX !== "0",
    epaySandboxChaos: env.EPAY_SANDBOX_CHAOS === "1" || env.EPAY_SANDBOX_CHAOS === "true",
  };
}

const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const firstOf = (value: string | null) => value?.split(",")[0]?.trim() || null;

/**
 * Our base URL as the person making this request reaches us: PUBLIC_URL when it is set; otherwise
 * the request's own scheme and Host (X-Forwarded-Proto / X-Forwarded-Host only behind a trusted
 * proxy). A return URL built on it brings the user back to the host their session cookie is for —
 * opening the app at 127.0.0.1 must not land them, logged out, on localhost.
 */
export function publicUrlFor(request: Request, config: Pick<AppConfig, "publicUrl" | "publicUrlFromEnv" | "trustProxy">): string {
  if (config.publicUrlFromEnv) return config.publicUrl;
  const own = new URL(request.url);
  const host = (config.trustProxy ? firstOf(request.headers.get("x-forwarded-host")) : null) ?? request.headers.get("host") ?? own.host;
  const scheme = (config.trustProxy ? firstOf(request.headers.get("x-forwarded-proto")) : null) ?? own.protocol.replace(/:$/, "");
  // A header is what the client says: anything but a plain host and http(s) falls back to the default.
  if (!HOST.test(host) || (scheme !== "http" && scheme !== "https")) return config.publicUrl;
  return `${scheme}://${host}`;
}
