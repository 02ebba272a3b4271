import { randomUUID } from "node:crypto";
import type { Db } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { createListing, type ListingInput } from "../../app/domain/market/listings.server";
import { approveMerchantApplication, createMarket, createStall, submitMerchantApplication } from "../../app/domain/market/venues.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";

/** Small factories for the listings and cart tests: a market, merchants approved into it, buyers. */

export function actorOf(organizationId: string, userId: string | null = null): Actor {
  return { userId, organizationId, ip: "127.0.0.1", requestId: null };
}

export async function newOrg(db: Db, kind: "market_operator" | "merchant" | "buyer" | "dealer", name = `${kind}-${randomUUID().slice(0, 8)}`): Promise<string> {
  const row = await db.insertInto("organizations").values({ kind, name }).returning("id").executeTakeFirstOrThrow();
  return row.id;
}

/** A valid USCC nobody else uses. */
export function freshUscc(): string {
  const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  let body = "91330104MA";
  for (let i = 0; i < 7; i++) body += alphabet[Math.floor(Math.random() * alphabet.length)];
  return body + usccCheckCharacter(body);
}

export interface TestMarket {
  operatorId: string;
  marketId: string;
  marketName: string;
}

/** An operator with one market trading 女装、男装、童装 (or the categories given). */
export async function makeMarket(db: Db, categories = "女装、男装、童装"): Promise<TestMarket> {
  const operatorId = await newOrg(db, "market_operator");
  const market = await createMarket(db, actorOf(operatorId), operatorId, {
    name: `市场-${randomUUID().slice(0, 6)}`,
    city: "杭州",
    categories,
    autoConfirmDays: "7",
    unpaidExpiryMinutes: "30",
  });
  return { operatorId, marketId: market.id, marketName: market.name };
}

let stallNo = 100;

/** A merchant organisation approved into the market with a new stall, trading in `categories`. */
export async function addMerchant(db: Db, market: TestMarket, input: { name?: string; categories?: string } = {}): Promise<{ merchantId: string; marketMerchantId: string; stallCode: string }> {
  const actor = actorOf(market.operatorId);
  stallNo += 1;
  const stall = await createStall(db, actor, market.operatorId, market.marketId, { code: `T-${stallNo}`, area: "12", monthlyRent: "5000" });
  const application = await submitMerchantApplication(db, actor, market.operatorId, market.marketId, {
    uscc: freshUscc(),
    companyName: input.name ?? `商户-${randomUUID().slice(0, 6)}`,
    legalRepresentative: "张三",
    contactName: "张三",
    contactPhone: "13800000000",
    categories: input.categories ?? "女装",
  });
  const { merchant } = await approveMerchantApplication(db, actor, market.operatorId, market.marketId, application.id, { stallId: stall.id });
  return { merchantId: merchant.merchantId, marketMerchantId: merchant.id, stallCode: stall.code };
}

export function listingInput(overrides: Partial<ListingInput> = {}): ListingInput {
  return {
    title: "雪纺连衣裙",
    titleEn: "Chiffon dress",
    category: "女装",
    spec: "S/M/L/XL",
    unit: "件",
    price: "68.00",
    stockQty: "500",
    minOrderQty: "5",
    imageUrl: "",
    ...overrides,
  };
}

export async function listFor(db: Db, market: TestMarket, merchantId: string, overrides: Partial<ListingInput> = {}) {
  return createListing(db, actorOf(merchantId), merchantId, market.marketId, listingInput(overrides));
}

export async function auditActions(db: Db, entityId: string): Promise<string[]> {
  const rows = await db.selectFrom("audit_events").select("action").where("entity_id", "=", entityId).orderBy("id").execute();
  return rows.map((r) => r.action);
}
