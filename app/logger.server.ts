import pino from "pino";

export const logger = pino({
  level: process.env.LOG_LEVEL ?? "info",
  base: { service: "rongtong" },
  redact: { paths: ["password", "*.password", "req.headers.cookie", "req.headers.authorization"], remove: true },
});

export type Logger = typeof logger;

/**
 * The level a request's outcome is logged at. A 5xx is ours to fix (error); a 404 is a reader who
 * followed a stale link or typed a URL (info); any other 4xx is a client that sent something we
 * refuse (warn). Logging every 404 as an error buried real errors under dead links.
 */
export function levelForStatus(status: number): "info" | "warn" | "error" {
  if (status >= 500) return "error";
  if (status === 404) return "info";
  return "warn";
}

/**
 * The level request lines ("request", one per answered request) are logged at. In embedded mode a
 * person reads the terminal (the banner with the demo logins): one line per page and asset would
 * scroll it away, so request lines are debug there — `LOG_LEVEL=debug` shows them. In server mode
 * they feed log aggregation and stay at info. Failures are logged on their own lines either way.
 */
export function requestLogLevel(dbMode: "embedded" | "server", status: number): "debug" | "info" | "warn" {
  // The error itself is logged where it is caught (entry.server.tsx handleError): its request line warns.
  if (status >= 500) return "warn";
  return dbMode === "embedded" ? "debug" : "info";
}
