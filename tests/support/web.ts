import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { Db, DbMode } from "../../db";
import { readConfig } from "../../app/config.server";
import type { JobsHandle } from "../../app/context";
import { logger, type Logger } from "../../app/logger.server";
import { createApp } from "../../app/server/app.server";
import { loadBuildSnapshot } from "./build";

export const TEST_SESSION_SECRET = "test-session-secret-0123456789abcdef";

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Jobs are another module's concern; the web stack only asks them for their health. */
export const healthyJobs: JobsHandle = { mode: "in-process", health: async () => ({ ok: true, detail: "test stub" }) };

/** The real Express + Remix stack on a free port, over the given database. */
export async function startTestServer(
  db: Db,
  options: { dbMode?: DbMode; cookieSecure?: boolean; jobs?: JobsHandle; logger?: Logger } = {},
): Promise<TestServer> {
  const { build, publicDir, dispose } = await loadBuildSnapshot();
  const config = { ...readConfig({ NODE_ENV: "test" }), sessionSecret: TEST_SESSION_SECRET, cookieSecure: options.cookieSecure ?? false };
  const app = createApp({
    build,
    db,
    dbMode: options.dbMode ?? "server",
    config,
    logger: options.logger ?? logger,
    jobs: options.jobs ?? healthyJobs,
    publicDir,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          dispose();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

export interface Page {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
  setCookies: string[];
}

/**
 * A browser without JavaScript: keeps cookies, follows nothing by itself (tests look at redirects),
 * and submits forms as application/x-www-form-urlencoded, like a plain HTML form.
 */
export class Client {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private remember(headers: Headers): string[] {
    const setCookies = headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return setCookies;
  }

  async request(path: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set("Cookie", this.cookieHeader());
    const res = await fetch(new URL(path, this.baseUrl), { ...init, headers, redirect: "manual" });
    const setCookies = this.remember(res.headers);
    return { status: res.status, headers: res.headers, body: await res.text(), location: res.headers.get("location"), setCookies };
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(path, { headers });
  }

  post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** GET a page and read the CSRF token its forms carry. */
  async csrfFrom(path: string): Promise<string> {
    const page = await this.get(path);
    const token = csrfToken(page.body);
    if (!token) throw new Error(`no csrf field on ${path} (status ${page.status})`);
    return token;
  }

  async login(email: string, password: string): Promise<Page> {
    const csrf = await this.csrfFrom("/login");
    return this.post("/login", { csrf, email, password });
  }
}

export function csrfToken(html: string): string | null {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? null;
}

/** Visible text of an element with this class (first one), tags stripped. */
export function textOf(html: string, className: string): string | null {
  const match = new RegExp(`<[a-z0-9]+[^>]*class="${className}"[^>]*>([\\s\\S]*?)</`, "i").exec(html);
  return match ? match[1].replace(/<[^>]+>/g, "").trim() : null;
}
