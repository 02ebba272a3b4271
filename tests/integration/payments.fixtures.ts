import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import type { Db, DbMode } from "../../db";
import { readConfig } from "../../app/config.server";
import type { ResolvedConfig } from "../../app/context";
import { logger } from "../../app/logger.server";
import { countUnfinishedDeliveries, sandboxConfigFrom, type SandboxDeps } from "../../app/sandbox/epay/sandbox.server";
import {
  createHttpEpayGateway,
  EPAY_SIGNATURE_HEADER,
  signPayload,
  unixSeconds,
  type GatewayEvent,
  type SandboxDirectives,
} from "../../app/domain/payments/epay/index.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { CALLBACK_PATH, verifyPayments, type PaymentsDeps } from "../../app/domain/payments/payments.server";
import { createApp } from "../../app/server/app.server";
import { loadBuildSnapshot } from "../support/build";
import { createOrg, createUser } from "../support/factories";
import { Client, healthyJobs, TEST_SESSION_SECRET } from "../support/web";

/**
 * Shared by the payments and e-Pay tests: the real Express + Remix stack on a free port, whose
 * PUBLIC_URL and EPAY_BASE_URL point at itself (so the sandbox gateway is reached over HTTP, and
 * calls back over HTTP), and a small world of organisations and users.
 */

export const TEST_EPAY_SECRET = "test-epay-secret-0123456789abcdef";

export interface PaymentsServer {
  url: string;
  config: ResolvedConfig;
  /** Our side's dependencies; `directives` go to the sandbox on every request. */
  deps(directives?: SandboxDirectives): PaymentsDeps;
  sandbox: SandboxDeps;
  close(): Promise<void>;
}

export async function startPaymentsServer(
  db: Db,
  options: { dbMode?: DbMode; chaos?: boolean; secret?: string } = {},
): Promise<PaymentsServer> {
  const { build, publicDir, dispose } = await loadBuildSnapshot();
  // Listen first: the app's config must name the port it is reached on.
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const config: ResolvedConfig = {
    ...readConfig({ NODE_ENV: "test" }),
    sessionSecret: TEST_SESSION_SECRET,
    cookieSecure: false,
    publicUrl: url,
    epayBaseUrl: `${url}/sandbox/epay`,
    epaySecret: options.secret ?? TEST_EPAY_SECRET,
    epaySandboxEnabled: true,
    epaySandboxChaos: options.chaos ?? false,
  };
  const app = createApp({ build, db, dbMode: options.dbMode ?? "server", config, logger, jobs: healthyJobs, publicDir });
  server.on("request", app);
  return {
    url,
    config,
    deps: (directives) => ({
      gateway: createHttpEpayGateway({
        baseUrl: config.epayBaseUrl,
        merchantId: config.epayMerchantId,
        secret: config.epaySecret,
        sandboxDirectives: directives,
      }),
      publicUrl: url,
      logger,
      now: () => new Date(),
    }),
    sandbox: { db, config: sandboxConfigFrom(config), logger },
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

export interface PaymentsWorld {
  bankId: string;
  payer: { id: string; name: string };
  payee: { id: string; name: string };
  stranger: { id: string; name: string };
  payerUser: { email: string; password: string };
  payeeUser: { email: string; password: string };
  strangerUser: { email: string; password: string };
}

/** A bank (one per database), a paying dealer, a receiving core enterprise and an unrelated dealer. */
export async function createPaymentsWorld(db: Db): Promise<PaymentsWorld> {
  const existing = await db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
  const bankId = existing?.id ?? (await createOrg(db, { kind: "bank", name: "测试银行" })).id;
  const payer = await createOrg(db, { kind: "dealer" });
  const payee = await createOrg(db, { kind: "core_enterprise" });
  const stranger = await createOrg(db, { kind: "dealer" });
  const payerUser = await createUser(db, { memberships: [[payer.id, "owner"]] });
  const payeeUser = await createUser(db, { memberships: [[payee.id, "owner"]] });
  const strangerUser = await createUser(db, { memberships: [[stranger.id, "owner"]] });
  return {
    bankId,
    payer: { id: payer.id, name: payer.name },
    payee: { id: payee.id, name: payee.name },
    stranger: { id: stranger.id, name: stranger.name },
    payerUser,
    payeeUser,
    strangerUser,
  };
}

export async function loggedIn(url: string, user: { email: string; password: string }): Promise<Client> {
  const client = new Client(url);
  const res = await client.login(user.email, user.password);
  expect(res.status, "login").toBe(302);
  return client;
}

/** Open the sandbox pay page like a browser without JS, and press one of its two buttons. */
export async function payOnSandboxPage(
  payUrl: string,
  outcome: "pay" | "fail",
): Promise<{ status: number; location: string | null; html: string; formToken: string }> {
  const page = await fetch(payUrl);
  const html = await page.text();
  expect(page.status, "pay page").toBe(200);
  const formToken = /name="form_token" value="([0-9a-f]{64})"/.exec(html)?.[1];
  if (!formToken) throw new Error("no form_token on the pay page");
  const res = await submitPayForm(payUrl, formToken, outcome);
  return { ...res, html, formToken };
}

/** Submit the pay page's form as it was rendered (a second press, a stale tab, a forged token). */
export async function submitPayForm(
  payUrl: string,
  formToken: string,
  outcome: string,
): Promise<{ status: number; location: string | null; body: string }> {
  const res = await fetch(payUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ form_token: formToken, outcome }).toString(),
    redirect: "manual",
  });
  return { status: res.status, location: res.headers.get("location"), body: await res.text() };
}

/** POST a callback to our endpoint as the gateway would, signed with `secret` at `timestampS`. */
export async function postCallback(
  baseUrl: string,
  body: string,
  options: { secret?: string; timestampS?: number; signature?: string | null; contentType?: string } = {},
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { "Content-Type": options.contentType ?? "application/json" };
  const signature =
    options.signature === undefined ? signPayload(options.secret ?? TEST_EPAY_SECRET, body, options.timestampS ?? unixSeconds(new Date())) : options.signature;
  if (signature !== null) headers[EPAY_SIGNATURE_HEADER] = signature;
  const res = await fetch(`${baseUrl}${CALLBACK_PATH}`, { method: "POST", headers, body });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, json };
}

export function eventBody(event: GatewayEvent): string {
  return JSON.stringify(event);
}

/** Wait until the sandbox has no pending deliveries (held ones stay held). */
export async function settleDeliveries(db: Db, gatewayPaymentId?: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { pending } = await countUnfinishedDeliveries(db, gatewayPaymentId);
    if (pending === 0) return;
    if (Date.now() - started > timeoutMs) throw new Error(`sandbox deliveries still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ledger's invariants and the payments' own (refunds, captures, holds against the ledger). */
export async function expectLedgerClean(db: Db): Promise<void> {
  expect(await verifyLedger(db)).toEqual([]);
  expect(await verifyPayments(db)).toEqual([]);
}

/** Transfers of one reference (e.g. `payment:<id>`), in order. */
export async function transfersOf(db: Db, reference: string) {
  return db
    .selectFrom("ledger_transfers")
    .select(["idempotency_key", "kind", "phase", "amount_fen"])
    .where("reference", "=", reference)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

export async function walletBalanceFen(db: Db, organizationId: string): Promise<number> {
  const row = await db
    .selectFrom("ledger_accounts")
    .select(["credits_posted_fen", "debits_posted_fen"])
    .where("code", "=", `wallet:${organizationId}`)
    .executeTakeFirst();
  return row ? row.credits_posted_fen - row.debits_posted_fen : 0;
}
