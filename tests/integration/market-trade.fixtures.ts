import { randomBytes } from "node:crypto";
import type { Db } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { ensureAccount, transfer } from "../../app/domain/ledger/ledger.server";
import { addFeeSchedule } from "../../app/domain/market/fees.server";
import { approveMerchantApplication, createMarket, createStall, submitMerchantApplication } from "../../app/domain/market/venues.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";
import { createOrg, createUser, unique } from "../support/factories";
import { addDays, shanghaiDate } from "../../app/domain/shared/dates";

/**
 * A market to trade in, built through the model functions: an operator, its market (女装 at 2.5 %
 * with a ¥5 minimum, 男装 at 2 %), two approved merchants with stalls, and factories for listings
 * and funded buyers. Listings are rows (their own model is tested on its own).
 */

export function randomUscc(): string {
  for (;;) {
    const first17 = `91330100${Array.from(randomBytes(9), (b) => String(b % 10)).join("")}`;
    const check = usccCheckCharacter(first17);
    if (check) return first17 + check;
  }
}

export const actorFor = (organizationId: string, userId: string | null = null): Actor => ({ userId, organizationId, ip: null, requestId: null });

export interface MarketWorld {
  operatorId: string;
  operatorUser: { id: string; email: string; password: string };
  marketId: string;
  merchants: { id: string; user: { id: string; email: string; password: string } }[];
}

export async function createMarketWorld(db: Db, options: { autoConfirmDays?: number; unpaidExpiryMinutes?: number; now?: Date } = {}): Promise<MarketWorld> {
  const now = options.now ?? new Date();
  const operator = await createOrg(db, { kind: "market_operator", name: unique("四季青市场") });
  const operatorUser = await createUser(db, { memberships: [[operator.id, "owner"]] });
  const op = actorFor(operator.id, operatorUser.id);
  const market = await createMarket(db, op, operator.id, {
    name: unique("服装城"),
    city: "杭州",
    categories: "女装、男装",
    autoConfirmDays: String(options.autoConfirmDays ?? 7),
    unpaidExpiryMinutes: String(options.unpaidExpiryMinutes ?? 30),
  });
  const since = addDays(shanghaiDate(now), -30);
  const sinceAt = new Date(`${since}T00:00:00+08:00`);
  await addFeeSchedule(db, op, operator.id, market.id, { category: "女装", commissionRate: "2.5", minFee: "5", effectiveFrom: since }, sinceAt);
  await addFeeSchedule(db, op, operator.id, market.id, { category: "男装", commissionRate: "2", minFee: "0", effectiveFrom: since }, sinceAt);
  const merchants: MarketWorld["merchants"] = [];
  for (let i = 0; i < 2; i++) {
    const stall = await createStall(db, op, operator.id, market.id, { code: `T-${100 + i}`, zoneId: "", area: "12", monthlyRent: "5000" });
    const application = await submitMerchantApplication(db, op, operator.id, market.id, {
      uscc: randomUscc(),
      companyName: unique(i === 0 ? "李记服饰" : "依美服饰"),
      legalRepresentative: "李建国",
      contactName: "李老板",
      contactPhone: "13905710001",
      stallWish: "",
      categories: "女装、男装",
    });
    const { merchant } = await approveMerchantApplication(db, op, operator.id, market.id, application.id, { stallId: stall.id });
    const user = await createUser(db, { memberships: [[merchant.merchantId, "owner"]] });
    merchants.push({ id: merchant.merchantId, user });
  }
  return { operatorId: operator.id, operatorUser, marketId: market.id, merchants };
}

export async function makeListing(
  db: Db,
  world: MarketWorld,
  merchantIndex: number,
  input: { priceFen?: number; stock?: number; minOrder?: number; category?: string; title?: string } = {},
): Promise<{ id: string; priceFen: number }> {
  const row = await db
    .insertInto("market_listings")
    .values({
      market_id: world.marketId,
      operator_id: world.operatorId,
      merchant_id: world.merchants[merchantIndex].id,
      title: input.title ?? unique("连衣裙"),
      category: input.category ?? "女装",
      spec: "S/M/L",
      unit: "件",
      price_fen: input.priceFen ?? 10_000,
      stock_qty: input.stock ?? 100,
      min_order_qty: input.minOrder ?? 1,
    })
    .returning(["id", "price_fen"])
    .executeTakeFirstOrThrow();
  return { id: row.id, priceFen: row.price_fen };
}

/** A buyer organisation with `fundedFen` in its wallet (from the bank's equity, as a top-up would). */
export async function makeBuyer(db: Db, fundedFen = 0): Promise<{ id: string; user: { id: string; email: string; password: string } }> {
  const buyer = await createOrg(db, { kind: "buyer", name: unique("温州百货") });
  const user = await createUser(db, { memberships: [[buyer.id, "owner"]] });
  if (fundedFen > 0) await fund(db, buyer.id, fundedFen);
  return { id: buyer.id, user };
}

export async function fund(db: Db, organizationId: string, amountFen: number): Promise<void> {
  const equity = await ensureAccount(db, { kind: "bank_equity", organizationId: null, code: "bank_equity" });
  const wallet = await ensureAccount(db, { kind: "wallet", organizationId });
  await transfer(db, {
    idempotencyKey: `test-topup:${randomBytes(8).toString("hex")}`,
    kind: "topup",
    reference: `test:${organizationId}`,
    debitAccountId: equity.id,
    creditAccountId: wallet.id,
    amountFen,
  });
}

export async function walletOf(db: Db, organizationId: string): Promise<{ balanceFen: number; availableFen: number; incomingFen: number }> {
  const row = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", `wallet:${organizationId}`).executeTakeFirst();
  if (!row) return { balanceFen: 0, availableFen: 0, incomingFen: 0 };
  const balance = row.credits_posted_fen - row.debits_posted_fen;
  return { balanceFen: balance, availableFen: balance - row.debits_pending_fen, incomingFen: row.credits_pending_fen };
}

export async function feeBalanceOf(db: Db, marketId: string): Promise<number> {
  const row = await db.selectFrom("ledger_accounts").selectAll().where("code", "=", `market_fees:${marketId}`).executeTakeFirst();
  return row ? row.credits_posted_fen - row.debits_posted_fen : 0;
}

export async function stockOf(db: Db, listingId: string): Promise<number> {
  return (await db.selectFrom("market_listings").select("stock_qty").where("id", "=", listingId).executeTakeFirstOrThrow()).stock_qty;
}
