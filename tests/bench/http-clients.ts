/**
 * The benchmark's side of HTTP: what an ERP or a browser sends, over kept-alive connections, and
 * the CPU a spawned process used, from /proc. Client work stays small (no JSON parse of answers,
 * one agent per web) because it shares the machine's cores with what is measured.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";

/** An answer that takes longer than this is a failure of the run, not a slow sample. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Bodies larger than this are cut: the bench only looks for a few markers in them. */
const BODY_LIMIT_BYTES = 256 * 1024;

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One keep-alive agent per web process, sized for the clients that use it. */
export function keepAliveAgent(sockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

export function send(agent: http.Agent, baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers: body === undefined ? headers : { ...headers, "Content-Length": String(Buffer.byteLength(body)) }, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          if (size < BODY_LIMIT_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** `POST /api/v1/orders` as an ERP sends it: bearer API key, a fresh Idempotency-Key per order. */
export function postApiOrder(agent: http.Agent, baseUrl: string, apiKey: string, body: unknown): Promise<Answer> {
  return send(
    agent,
    baseUrl,
    "POST",
    "/api/v1/orders",
    { Authorization: `Bearer ${apiKey}`, "Idempotency-Key": randomUUID(), "Content-Type": "application/json", Accept: "application/json" },
    JSON.stringify(body),
  );
}

/** A browser's session for one user: cookies kept, forms posted urlencoded with Origin. */
export class BrowserSession {
  private readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    private readonly agent: http.Agent,
  ) {}

  private remember(answer: Answer): void {
    for (const line of answer.headers["set-cookie"] ?? []) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return { Accept: "text/html", ...(cookie ? { Cookie: cookie } : {}), ...extra };
  }

  async get(path: string): Promise<Answer> {
    const answer = await send(this.agent, this.baseUrl, "GET", path, this.headers());
    this.remember(answer);
    return answer;
  }

  async post(path: string, fields: Record<string, string>): Promise<Answer> {
    const answer = await send(
      this.agent,
      this.baseUrl,
      "POST",
      path,
      this.headers({ "Content-Type": "application/x-www-form-urlencoded", Origin: new URL(this.baseUrl).origin }),
      new URLSearchParams(fields).toString(),
    );
    this.remember(answer);
    return answer;
  }

  async csrfFrom(path: string): Promise<string> {
    const page = await this.get(path);
    const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (!token) throw new Error(`no csrf field on ${path} (status ${page.status})`);
    return token;
  }

  async login(email: string, password: string): Promise<void> {
    const csrf = await this.csrfFrom("/login");
    const answer = await this.post("/login", { csrf, email, password });
    if (answer.status !== 302 && answer.status !== 303) throw new Error(`login of ${email} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
}

