import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import type { Db } from "../../db";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { ensureAccount, transfer } from "../../app/domain/ledger/ledger.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { createProduct, recordLpr, type ProductInput } from "../../app/domain/financing/products.server";
import { setFacility } from "../../app/domain/financing/facilities.server";
import { actorOf, makeLink, makeSku, newOrg, newUser, quietLogger } from "./catalog.fixtures";
import { STEPS, runWithChildren } from "../../workflows/registry";

/** The bank, once per database: financing lends from its accounts. */
export async function ensureBank(db: Db): Promise<string> {
  const found = await db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
  if (found) return found.id;
  const row = await db.insertInto("organizations").values({ kind: "bank", name: "测试银行" }).returning("id").executeTakeFirstOrThrow();
  return row.id;
}

export function orderFinancingProduct(overrides: Partial<ProductInput> = {}): ProductInput {
  return {
    code: `OF-${randomUUID().slice(0, 8).toUpperCase()}`,
    name: "订单融资",
    nameEn: "Order financing",
    kind: "order_financing",
    rateBasis: "lpr",
    spreadBps: 125,
    repaymentMethod: "bullet",
    termDays: 90,
    graceDays: 3,
    autoApproveLimitFen: 1_000_000,
    secondApproverLimitFen: 5_000_000,
    minAmountFen: 10_000,
    maxAmountFen: 100_000_000,
    ...overrides,
  };
}

/**
 * A core enterprise guaranteeing one dealer, an order financing product on the LPR, the dealer's
 * limit, the agreement and the dealer's sub-limit: ready to finance confirmed orders.
 */
export async function financingWorld(db: Db, options: { limitFen?: number; guaranteeFen?: number; subLimitFen?: number; product?: Partial<ProductInput>; lprOn?: string } = {}) {
  const bankId = await ensureBank(db);
  await recordLpr(db, SYSTEM_ACTOR, { ratePpm: 31_000, effectiveOn: options.lprOn ?? "2026-01-20" }).catch(() => undefined);
  // One active order_financing product per database: the product of that kind the borrower gets.
  await db.updateTable("loan_products").set({ status: "retired" }).where("kind", "=", "order_financing").execute();
  const product = await createProduct(db, SYSTEM_ACTOR, orderFinancingProduct(options.product));
  const core = await newOrg(db, "core_enterprise");
  const link = await makeLink(db, core, { creditLimitFen: 0 });
  const sku = await makeSku(db, core, { basePriceFen: 100_000, stockOnHand: 100_000 });
  const dealerUser = await newUser(db);
  const officer1 = await newUser(db);
  const officer2 = await newUser(db);
  const agreement = await setFacility(db, SYSTEM_ACTOR, { kind: "guarantee", guarantorOrganizationId: core, buyBackDays: 30, validTo: "2099-12-31", limitFen: options.guaranteeFen ?? 50_000_000 });
  await setFacility(db, SYSTEM_ACTOR, { kind: "guarantee_sub", guarantorOrganizationId: core, borrowerOrganizationId: link.dealerId, parentFacilityId: agreement.id, validTo: "2099-12-31", limitFen: options.subLimitFen ?? 20_000_000 });
  await setFacility(db, SYSTEM_ACTOR, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: link.dealerId, validTo: "2099-12-31", limitFen: options.limitFen ?? 20_000_000 });
  return {
    bankId,
    product,
    core,
    dealer: link.dealerId,
    link,
    sku,
    agreementId: agreement.id,
    asDealer: actorOf(link.dealerId, dealerUser),
    asCore: actorOf(core, await newUser(db)),
    asOfficer1: actorOf(bankId, officer1),
    asOfficer2: actorOf(bankId, officer2),
  };
}

export type FinancingWorld = Awaited<ReturnType<typeof financingWorld>>;

/** A confirmed standard order of `units` × ¥1,000, waiting for its payment. */
export async function confirmedOrder(db: Db, w: FinancingWorld, units: number, now: Date) {
  const order = await createOrder(db, w.asDealer, { dealerId: w.dealer, coreEnterpriseId: w.core, kind: "standard", lines: [{ skuId: w.sku.id, quantity: units }] }, now);
  return confirmOrder(db, w.asCore, order.id, now);
}

/** Run the financing jobs the outbox holds (each through the registry), oldest first; returns how many. */
export async function runFinancingJobs(db: Db, now: Date): Promise<number> {
  let ran = 0;
  for (;;) {
    const rows = await db
      .selectFrom("outbox")
      .select(["id", "job_name", "payload"])
      .where("queue", "=", "financing")
      .where("completed_at", "is", null)
      .where("failed_at", "is", null)
      .orderBy("id")
      .limit(100)
      .execute();
    if (rows.length === 0) return ran;
    for (const row of rows) {
      await runWithChildren(STEPS, { db, logger: quietLogger, now: () => now }, row.job_name, row.payload);
      await db.updateTable("outbox").set({ published_at: sql`coalesce(published_at, now())`, completed_at: sql`now()` }).where("id", "=", row.id).execute();
      ran += 1;
    }
  }
}

export async function fundWallet(db: Db, organizationId: string, amountFen: number): Promise<void> {
  const bankId = await ensureBank(db);
  const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: bankId, code: "gateway_clearing" });
  const wallet = await ensureAccount(db, { kind: "wallet", organizationId });
  await transfer(db, { idempotencyKey: `test-topup:${randomUUID()}`, kind: "topup", reference: `test:${organizationId}`, debitAccountId: clearing.id, creditAccountId: wallet.id, amountFen });
}

export async function balanceOf(db: Db, code: string): Promise<number> {
  const row = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", code).executeTakeFirst();
  if (!row) return 0;
  return row.normal_side === "credit" ? row.credits_posted_fen - row.debits_posted_fen : row.debits_posted_fen - row.credits_posted_fen;
}
