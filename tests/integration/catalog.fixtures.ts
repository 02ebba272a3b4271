import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import type { Db, DbHandle } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { createSku, type Sku, type SkuInput } from "../../app/domain/catalog/catalog.server";
import { DomainError } from "../../app/domain/shared/errors";
import { createDealerLink, type DealerLinkWithCredit } from "../../app/domain/dealers/dealers.server";
import { createEmbeddedTestDatabase, createTestDatabase } from "../support/db";
import { logger } from "../../app/logger.server";
import { ORDER_NOTICE_JOB } from "../../app/domain/orders/notices.server";
import { runStep, STEPS } from "../../workflows/registry";

/** Small factories for the catalogue, pricing and dealer tests: each call makes fresh tenants. */

export const ENGINES = [
  ["PostgreSQL", () => createTestDatabase({ poolMax: 20 })],
  ["PGlite", () => createEmbeddedTestDatabase()],
] as const satisfies readonly (readonly [string, () => Promise<DbHandle>])[];

export async function newOrg(db: Db, kind: "core_enterprise" | "dealer", name = `${kind}-${randomUUID().slice(0, 8)}`): Promise<string> {
  const row = await db.insertInto("organizations").values({ kind, name }).returning("id").executeTakeFirstOrThrow();
  return row.id;
}

export async function newUser(db: Db): Promise<string> {
  const row = await db
    .insertInto("users")
    .values({ email: `u-${randomUUID()}@test.example`, display_name: "Tester", password_hash: "x" })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

export function actorOf(organizationId: string, userId: string | null = null): Actor {
  return { userId, organizationId, ip: "127.0.0.1", requestId: null };
}

let skuCounter = 0;
export function skuInput(overrides: Partial<SkuInput> = {}): SkuInput {
  skuCounter += 1;
  return {
    code: `T-${String(skuCounter).padStart(5, "0")}`,
    name: "华通 1.5匹 变频挂机",
    spec: "KFR-35GW",
    unit: "台",
    packSize: 1,
    moq: 1,
    basePriceFen: 279_900,
    taxRateBps: 1300,
    stockOnHand: 100,
    ...overrides,
  };
}

export async function makeSku(db: Db, coreEnterpriseId: string, overrides: Partial<SkuInput> = {}): Promise<Sku> {
  return createSku(db, actorOf(coreEnterpriseId), coreEnterpriseId, skuInput(overrides));
}

export async function makeLink(
  db: Db,
  coreEnterpriseId: string,
  options: { dealerId?: string; tierId?: string | null; creditLimitFen?: number; region?: string } = {},
): Promise<DealerLinkWithCredit> {
  const dealerId = options.dealerId ?? (await newOrg(db, "dealer"));
  return createDealerLink(db, actorOf(coreEnterpriseId), {
    coreEnterpriseId,
    dealerId,
    tierId: options.tierId ?? null,
    region: options.region ?? "浙江省杭州市",
    paymentTermsDays: 30,
    creditLimitFen: options.creditLimitFen ?? 0,
  });
}

/**
 * Count the statements a piece of work sends (for "a constant number of queries"). Counted as
 * their results come back: a query built into another (read together in one statement) is
 * transformed with it but not sent on its own.
 */
export function countingDb(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const counted = db.withPlugin({
    transformQuery(args) {
      return args.node;
    },
    async transformResult(args) {
      n += 1;
      return args.result;
    },
  });
  return { db: counted, count: () => n };
}

export const quietLogger = logger.child({});
quietLogger.level = "silent";

/**
 * Run, as the orders workflow would, the order-notice jobs the outbox holds for these orders
 * (each through the registry, from its outbox row); returns how many ran.
 */
export async function runOrderNotices(db: Db, orderIds: readonly string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  const rows = await db
    .selectFrom("outbox")
    .select(["job_name", "payload"])
    .where("job_name", "=", ORDER_NOTICE_JOB)
    .where(sql<string>`payload->>'orderId'`, "in", [...orderIds])
    .orderBy("id")
    .execute();
  for (const row of rows) await runStep(STEPS, { db, logger: quietLogger }, row.job_name, row.payload);
  return rows.length;
}

/** The domain refusal a call ends in; fails the test when it succeeds or fails otherwise. */
export async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}
