import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { addFeeSchedule, commissionFen, feeInForce, listFeeSchedules } from "../../app/domain/market/fees.server";
import {
  approveMerchantApplication,
  createMarket,
  createStall,
  createZone,
  findActiveMarketMerchant,
  getMarket,
  getMerchantApplication,
  getStall,
  listMarketMerchants,
  listMarkets,
  listMarketsForMerchant,
  listMerchantApplications,
  listStalls,
  MERCHANT_APPLICATION_TRANSITIONS,
  rejectMerchantApplication,
  stallEvents,
  submitMerchantApplication,
  transitionMarketMerchant,
  transitionStall,
  updateMarket,
  updateStall,
  type ApplicationInput,
} from "../../app/domain/market/venues.server";
import { seedMarketDemo } from "../../app/seed/market.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";
import { ENGINES } from "./catalog.fixtures";

function actorOf(organizationId: string): Actor {
  return { userId: null, organizationId, ip: "127.0.0.1", requestId: null };
}

async function newOrg(db: Db, kind: "market_operator" | "merchant" | "dealer", uscc: string | null = null): Promise<string> {
  const row = await db.insertInto("organizations").values({ kind, name: `${kind}-${randomUUID().slice(0, 8)}`, uscc }).returning("id").executeTakeFirstOrThrow();
  return row.id;
}

/** A valid USCC nobody else uses. */
function freshUscc(): string {
  const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  let body = "91330104MA";
  for (let i = 0; i < 7; i++) body += alphabet[Math.floor(Math.random() * alphabet.length)];
  return body + usccCheckCharacter(body);
}

function application(overrides: Partial<ApplicationInput> = {}): ApplicationInput {
  return {
    uscc: freshUscc(),
    companyName: "杭州测试服饰商行",
    legalRepresentative: "张三",
    contactName: "张三",
    contactPhone: "13800000000",
    stallWish: "A区",
    categories: "女装",
    ...overrides,
  };
}

async function makeMarket(db: Db, operatorId: string) {
  const market = await createMarket(db, actorOf(operatorId), operatorId, {
    name: `市场-${randomUUID().slice(0, 6)}`,
    city: "杭州",
    categories: "女装、男装、童装",
    autoConfirmDays: "7",
    unpaidExpiryMinutes: "30",
  });
  const stall = await createStall(db, actorOf(operatorId), operatorId, market.id, { code: "a-101", area: "12.5", monthlyRent: "8000" });
  return { market, stall };
}

async function auditActions(db: Db, entityId: string): Promise<string[]> {
  const rows = await db.selectFrom("audit_events").select("action").where("entity_id", "=", entityId).orderBy("id").execute();
  return rows.map((r) => r.action);
}

describe.each(ENGINES)("market venues, merchants and fees (%s)", (_engine, open) => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await open();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("creates and edits a market with zones and stalls, audited, and refuses bad input naming the field", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market, stall } = await makeMarket(db, operator);
    expect(market).toMatchObject({ city: "杭州", categories: ["女装", "男装", "童装"], autoConfirmDays: 7, unpaidExpiryMinutes: 30, status: "active" });
    expect(stall).toMatchObject({ code: "A-101", areaDm2: 1250, monthlyRentFen: 800_000, status: "vacant", zoneId: null });

    const zone = await createZone(db, actorOf(operator), operator, market.id, { name: "A区" });
    const moved = await updateStall(db, actorOf(operator), operator, market.id, stall.id, { zoneId: zone.id, area: "15", monthlyRent: "9000.50" });
    expect(moved).toMatchObject({ zoneName: "A区", areaDm2: 1500, monthlyRentFen: 900_050 });

    const edited = await updateMarket(db, actorOf(operator), operator, market.id, {
      name: market.name,
      city: "杭州市",
      categories: "女装, 男装, 童装, 鞋帽",
      autoConfirmDays: "10",
      unpaidExpiryMinutes: "60",
    });
    expect(edited).toMatchObject({ city: "杭州市", categories: ["女装", "男装", "童装", "鞋帽"], autoConfirmDays: 10, unpaidExpiryMinutes: 60 });
    expect(await auditActions(db, market.id)).toEqual(["market.created", "market.updated"]);
    expect(await auditActions(db, stall.id)).toEqual(["market_stall.created", "market_stall.updated"]);

    await expect(
      createMarket(db, actorOf(operator), operator, { name: " ", city: "杭州", categories: "", autoConfirmDays: "0", unpaidExpiryMinutes: "x" }),
    ).rejects.toMatchObject({ code: "validation", fields: { name: "required", categories: "required", autoConfirmDays: "out_of_range", unpaidExpiryMinutes: "whole_number" } });
    await expect(
      createMarket(db, actorOf(operator), operator, { name: market.name, city: "杭州", categories: "女装", autoConfirmDays: "7", unpaidExpiryMinutes: "30" }),
    ).rejects.toMatchObject({ code: "conflict", fields: { name: "already_in_use" } });
    await expect(createStall(db, actorOf(operator), operator, market.id, { code: "A-101", area: "10", monthlyRent: "1" })).rejects.toMatchObject({
      code: "conflict",
      fields: { code: "already_in_use" },
    });
    await expect(createStall(db, actorOf(operator), operator, market.id, { code: "a 1!", area: "-3", monthlyRent: "1.234" })).rejects.toMatchObject({
      code: "validation",
      fields: { code: "stall_code_format", area: "area_format", monthlyRent: "money_format" },
    });
    expect(await listStalls(db, operator, market.id)).toHaveLength(1);
    // Only a market operator runs markets.
    const dealer = await newOrg(db, "dealer");
    await expect(
      createMarket(db, actorOf(dealer), dealer, { name: "x", city: "杭州", categories: "女装", autoConfirmDays: "7", unpaidExpiryMinutes: "30" }),
    ).rejects.toMatchObject({ code: "forbidden" });
  });

  it("closes and reopens a stall by the table; assignment goes through merchants", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market, stall } = await makeMarket(db, operator);
    expect(stallEvents("vacant")).toEqual(["assign", "close"]);
    expect((await transitionStall(db, actorOf(operator), operator, market.id, stall.id, "close")).status).toBe("closed");
    await expect(transitionStall(db, actorOf(operator), operator, market.id, stall.id, "close")).rejects.toMatchObject({ code: "invalid_state" });
    await expect(transitionStall(db, actorOf(operator), operator, market.id, stall.id, "assign")).rejects.toMatchObject({
      code: "validation",
      fields: { event: "not_manual" },
    });
    expect((await transitionStall(db, actorOf(operator), operator, market.id, stall.id, "reopen")).status).toBe("vacant");
    expect(await auditActions(db, stall.id)).toEqual(["market_stall.created", "market_stall.close", "market_stall.reopen"]);
  });

  it("approves an application with a vacant stall: creates the merchant organisation, occupies the stall, audited", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market, stall } = await makeMarket(db, operator);
    const input = application({ uscc: ` ${freshUscc().toLowerCase()} `, categories: "女装、童装" });
    const submitted = await submitMerchantApplication(db, actorOf(operator), operator, market.id, input);
    expect(submitted).toMatchObject({ status: "submitted", categories: ["女装", "童装"], uscc: input.uscc.trim().toUpperCase() });
    // One open application per company.
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, { ...input })).rejects.toMatchObject({
      code: "conflict",
      fields: { uscc: "application_open" },
    });
    // Approving needs a vacant stall of this market.
    const other = await makeMarket(db, operator);
    await expect(approveMerchantApplication(db, actorOf(operator), operator, market.id, submitted.id, { stallId: other.stall.id })).rejects.toMatchObject({
      code: "validation",
      fields: { stallId: "unknown_stall" },
    });
    await transitionStall(db, actorOf(operator), operator, market.id, stall.id, "close");
    await expect(approveMerchantApplication(db, actorOf(operator), operator, market.id, submitted.id, { stallId: stall.id })).rejects.toMatchObject({
      code: "conflict",
      fields: { stallId: "stall_not_vacant" },
    });
    await transitionStall(db, actorOf(operator), operator, market.id, stall.id, "reopen");

    const { application: approved, merchant, createdOrganization } = await approveMerchantApplication(db, actorOf(operator), operator, market.id, submitted.id, {
      stallId: stall.id,
    });
    expect(createdOrganization).toBe(true);
    expect(approved).toMatchObject({ status: "approved", assignedStallCode: "A-101", merchantId: merchant.merchantId });
    expect(merchant).toMatchObject({ stallCode: "A-101", status: "active", categories: ["女装", "童装"], merchantName: "杭州测试服饰商行" });
    const org = await db.selectFrom("organizations").select(["kind", "uscc"]).where("id", "=", merchant.merchantId).executeTakeFirstOrThrow();
    expect(org).toEqual({ kind: "merchant", uscc: approved.uscc });
    expect((await getStall(db, operator, market.id, stall.id)).status).toBe("occupied");
    expect(await auditActions(db, submitted.id)).toEqual(["merchant_application.submitted", "merchant_application.approved"]);
    expect(await auditActions(db, stall.id)).toContain("market_stall.assign");

    // Decided once: neither approve nor reject again; the company cannot apply again while a member.
    expect(MERCHANT_APPLICATION_TRANSITIONS.approved).toEqual({});
    await expect(approveMerchantApplication(db, actorOf(operator), operator, market.id, submitted.id, { stallId: stall.id })).rejects.toMatchObject({
      code: "invalid_state",
    });
    await expect(rejectMerchantApplication(db, actorOf(operator), operator, market.id, submitted.id, "晚了")).rejects.toMatchObject({ code: "invalid_state" });
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, { ...input })).rejects.toMatchObject({
      code: "conflict",
      fields: { uscc: "already_merchant" },
    });
    // The merchant sees its membership, and nothing of the operator's other market.
    expect((await listMarketsForMerchant(db, merchant.merchantId)).map((m) => m.marketName)).toEqual([market.name]);
    expect(await findActiveMarketMerchant(db, market.id, merchant.merchantId)).toMatchObject({ id: merchant.id });
    expect(await findActiveMarketMerchant(db, other.market.id, merchant.merchantId)).toBeNull();
  });

  it("links an existing merchant organisation by USCC, and refuses one of another kind", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market, stall } = await makeMarket(db, operator);
    const code = freshUscc();
    const existing = await newOrg(db, "merchant", code);
    const app = await submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ uscc: code }));
    const result = await approveMerchantApplication(db, actorOf(operator), operator, market.id, app.id, { stallId: stall.id });
    expect(result.createdOrganization).toBe(false);
    expect(result.merchant.merchantId).toBe(existing);

    const dealerCode = freshUscc();
    await newOrg(db, "dealer", dealerCode);
    const stall2 = await createStall(db, actorOf(operator), operator, market.id, { code: "A-102", area: "10", monthlyRent: "5000" });
    const app2 = await submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ uscc: dealerCode }));
    await expect(approveMerchantApplication(db, actorOf(operator), operator, market.id, app2.id, { stallId: stall2.id })).rejects.toMatchObject({
      code: "conflict",
      fields: { uscc: "not_merchant" },
    });
    // Nothing was written: the application waits, the stall is vacant.
    expect((await getMerchantApplication(db, operator, market.id, app2.id)).status).toBe("submitted");
    expect((await getStall(db, operator, market.id, stall2.id)).status).toBe("vacant");
  });

  it("rejects with a reason; refuses a bad USCC, foreign categories and a missing reason", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market } = await makeMarket(db, operator);
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ uscc: "91330104MA2KBR5E3X" }))).rejects.toMatchObject({
      code: "validation",
      fields: { uscc: "uscc_check_character" },
    });
    const good = freshUscc();
    const wrongCheck = good.slice(0, 17) + (good[17] === "0" ? "1" : "0");
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ uscc: wrongCheck }))).rejects.toMatchObject({
      fields: { uscc: "uscc_check_character" },
    });
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ uscc: "123" }))).rejects.toMatchObject({
      fields: { uscc: "uscc_length" },
    });
    await expect(
      submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ categories: "家电", contactPhone: "abc" })),
    ).rejects.toMatchObject({ code: "validation", fields: { contactPhone: "phone_format" } });
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ categories: "家电" }))).rejects.toMatchObject({
      code: "validation",
      fields: { categories: "unknown_category" },
    });
    expect(await listMerchantApplications(db, operator, market.id)).toEqual([]);

    const app = await submitMerchantApplication(db, actorOf(operator), operator, market.id, application());
    await expect(rejectMerchantApplication(db, actorOf(operator), operator, market.id, app.id, "  ")).rejects.toMatchObject({
      code: "validation",
      fields: { reason: "required" },
    });
    const rejected = await rejectMerchantApplication(db, actorOf(operator), operator, market.id, app.id, "经营范围不符");
    expect(rejected).toMatchObject({ status: "rejected", decisionReason: "经营范围不符" });
    expect(await auditActions(db, app.id)).toEqual(["merchant_application.submitted", "merchant_application.rejected"]);
    // A rejected company may apply again.
    await expect(submitMerchantApplication(db, actorOf(operator), operator, market.id, application({ uscc: app.uscc }))).resolves.toMatchObject({
      status: "submitted",
    });
  });

  it("suspends and reactivates a merchant with reasons; a suspended merchant cannot trade", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market, stall } = await makeMarket(db, operator);
    const app = await submitMerchantApplication(db, actorOf(operator), operator, market.id, application());
    const { merchant } = await approveMerchantApplication(db, actorOf(operator), operator, market.id, app.id, { stallId: stall.id });
    await expect(transitionMarketMerchant(db, actorOf(operator), operator, market.id, merchant.id, "suspend", "")).rejects.toMatchObject({
      fields: { reason: "required" },
    });
    const suspended = await transitionMarketMerchant(db, actorOf(operator), operator, market.id, merchant.id, "suspend", "售假投诉");
    expect(suspended).toMatchObject({ status: "suspended", statusReason: "售假投诉" });
    expect(await findActiveMarketMerchant(db, market.id, merchant.merchantId)).toBeNull();
    await expect(transitionMarketMerchant(db, actorOf(operator), operator, market.id, merchant.id, "suspend", "再次")).rejects.toMatchObject({
      code: "invalid_state",
    });
    await transitionMarketMerchant(db, actorOf(operator), operator, market.id, merchant.id, "reactivate", "整改完成");
    expect((await listMarketMerchants(db, operator, market.id))[0]).toMatchObject({ status: "active", statusReason: "整改完成" });
    const events = await db.selectFrom("audit_events").select(["action", "after"]).where("entity_id", "=", merchant.id).orderBy("id").execute();
    expect(events.map((e) => e.action)).toEqual(["market_merchant.created", "market_merchant.suspended", "market_merchant.reactivated"]);
    expect(events[1].after).toEqual({ status: "suspended", reason: "售假投诉" });
  });

  it("resolves the fee in force by date; a later schedule does not change what an earlier date resolves to", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const { market } = await makeMarket(db, operator);
    const jan1 = new Date("2026-01-01T00:00:00+08:00");
    await addFeeSchedule(db, actorOf(operator), operator, market.id, { category: "女装", commissionRate: "2.5", minFee: "5", effectiveFrom: "2026-01-01" }, jan1);
    const feb = new Date("2026-02-10T12:00:00+08:00");
    expect(await feeInForce(db, market.id, "女装", feb)).toMatchObject({ commissionRateBps: 250, minFeeFen: 500, effectiveFrom: "2026-01-01" });
    // Before any schedule: none; another category: none.
    expect(await feeInForce(db, market.id, "女装", new Date("2025-12-31T23:59:59+08:00"))).toBeNull();
    expect(await feeInForce(db, market.id, "男装", feb)).toBeNull();

    // On 2026-03-01 the operator raises 女装 to 3% from 2026-04-01.
    const mar1 = new Date("2026-03-01T09:00:00+08:00");
    await addFeeSchedule(db, actorOf(operator), operator, market.id, { category: "女装", commissionRate: 300, minFee: 500, effectiveFrom: "2026-04-01" }, mar1);
    expect(await feeInForce(db, market.id, "女装", feb)).toMatchObject({ commissionRateBps: 250 });
    expect(await feeInForce(db, market.id, "女装", new Date("2026-03-31T23:59:59+08:00"))).toMatchObject({ commissionRateBps: 250 });
    // Midnight in Shanghai is 16:00 UTC the day before: the business date decides.
    expect(await feeInForce(db, market.id, "女装", new Date("2026-03-31T16:00:00Z"))).toMatchObject({ commissionRateBps: 300, effectiveFrom: "2026-04-01" });

    // A schedule may not start in the past (it would rewrite what past dates resolve to), nor twice a day.
    await expect(
      addFeeSchedule(db, actorOf(operator), operator, market.id, { category: "女装", commissionRate: "1", effectiveFrom: "2026-02-01" }, mar1),
    ).rejects.toMatchObject({ code: "validation", fields: { effectiveFrom: "in_the_past" } });
    await expect(
      addFeeSchedule(db, actorOf(operator), operator, market.id, { category: "女装", commissionRate: "1", effectiveFrom: "2026-04-01" }, mar1),
    ).rejects.toMatchObject({ code: "conflict", fields: { effectiveFrom: "already_in_use" } });
    await expect(
      addFeeSchedule(db, actorOf(operator), operator, market.id, { category: "家电", commissionRate: "51", minFee: "-1", effectiveFrom: "2026-13-01" }, mar1),
    ).rejects.toMatchObject({ code: "validation", fields: { commissionRate: "out_of_range", minFee: "money_format", effectiveFrom: "date_format" } });
    await expect(
      addFeeSchedule(db, actorOf(operator), operator, market.id, { category: "家电", commissionRate: "1", effectiveFrom: "2026-05-01" }, mar1),
    ).rejects.toMatchObject({ code: "validation", fields: { category: "unknown_category" } });
    expect((await listFeeSchedules(db, operator, market.id)).map((s) => s.effectiveFrom)).toEqual(["2026-04-01", "2026-01-01"]);

    // A category with a schedule cannot be removed from the market.
    await expect(
      updateMarket(db, actorOf(operator), operator, market.id, { name: market.name, city: "杭州", categories: "男装", autoConfirmDays: "7", unpaidExpiryMinutes: "30" }),
    ).rejects.toMatchObject({ code: "conflict", fields: { categories: "category_in_use" } });
  });

  it("computes commission half-even to the fen, at least the minimum, at most the amount", () => {
    const schedule = { commissionRateBps: 250, minFeeFen: 500 };
    expect(commissionFen(100_000, schedule)).toBe(2_500);
    expect(commissionFen(10_000, schedule)).toBe(500);
    expect(commissionFen(300, schedule)).toBe(300);
    // 2.5% of 1,020 fen = 25.5 → 26 (odd up); of 1,060 = 26.5 → 26 (even stays).
    expect(commissionFen(1_020, { commissionRateBps: 250, minFeeFen: 0 })).toBe(26);
    expect(commissionFen(1_060, { commissionRateBps: 250, minFeeFen: 0 })).toBe(26);
    expect(() => commissionFen(-1, schedule)).toThrow(RangeError);
  });

  it("answers not found for another operator's market, stall, merchant, application and fees", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const intruder = await newOrg(db, "market_operator");
    const { market, stall } = await makeMarket(db, operator);
    const app = await submitMerchantApplication(db, actorOf(operator), operator, market.id, application());
    const pending = await submitMerchantApplication(db, actorOf(operator), operator, market.id, application());
    const { merchant } = await approveMerchantApplication(db, actorOf(operator), operator, market.id, app.id, { stallId: stall.id });
    const as = actorOf(intruder);
    const notFound = { code: "not_found" };
    await expect(getMarket(db, intruder, market.id)).rejects.toMatchObject(notFound);
    await expect(getMarket(db, intruder, "not-a-uuid")).rejects.toMatchObject(notFound);
    await expect(updateMarket(db, as, intruder, market.id, { name: "x", city: "x", categories: "女装", autoConfirmDays: "1", unpaidExpiryMinutes: "30" })).rejects.toMatchObject(
      notFound,
    );
    await expect(createZone(db, as, intruder, market.id, { name: "X" })).rejects.toMatchObject(notFound);
    await expect(createStall(db, as, intruder, market.id, { code: "X-1", area: "1", monthlyRent: "1" })).rejects.toMatchObject(notFound);
    await expect(listStalls(db, intruder, market.id)).rejects.toMatchObject(notFound);
    await expect(getStall(db, intruder, market.id, stall.id)).rejects.toMatchObject(notFound);
    await expect(updateStall(db, as, intruder, market.id, stall.id, { area: "1", monthlyRent: "1" })).rejects.toMatchObject(notFound);
    await expect(transitionStall(db, as, intruder, market.id, stall.id, "close")).rejects.toMatchObject(notFound);
    await expect(transitionMarketMerchant(db, as, intruder, market.id, merchant.id, "suspend", "x")).rejects.toMatchObject(notFound);
    await expect(listMarketMerchants(db, intruder, market.id)).rejects.toMatchObject(notFound);
    await expect(getMerchantApplication(db, intruder, market.id, pending.id)).rejects.toMatchObject(notFound);
    await expect(rejectMerchantApplication(db, as, intruder, market.id, pending.id, "x")).rejects.toMatchObject(notFound);
    await expect(approveMerchantApplication(db, as, intruder, market.id, pending.id, { stallId: stall.id })).rejects.toMatchObject(notFound);
    await expect(submitMerchantApplication(db, as, intruder, market.id, application())).rejects.toMatchObject(notFound);
    await expect(listFeeSchedules(db, intruder, market.id)).rejects.toMatchObject(notFound);
    await expect(addFeeSchedule(db, as, intruder, market.id, { category: "女装", commissionRate: "1", effectiveFrom: "2199-01-01" }, new Date())).rejects.toMatchObject(notFound);
    // The intruder's own market with the victim's ids inside: still not found.
    const own = await makeMarket(db, intruder);
    await expect(getStall(db, intruder, own.market.id, stall.id)).rejects.toMatchObject(notFound);
    await expect(rejectMerchantApplication(db, as, intruder, own.market.id, pending.id, "x")).rejects.toMatchObject(notFound);
    await expect(transitionMarketMerchant(db, as, intruder, own.market.id, merchant.id, "suspend", "x")).rejects.toMatchObject(notFound);
    expect((await listMarkets(db, intruder)).map((m) => m.id)).toEqual([own.market.id]);
    // Nothing of the victim's changed.
    expect((await getMerchantApplication(db, operator, market.id, pending.id)).status).toBe("submitted");
    expect((await listMarketMerchants(db, operator, market.id))[0].status).toBe("active");
  });

  it("seeds the demo market through the model", async () => {
    const db = handle.db;
    const operator = await newOrg(db, "market_operator");
    const merchantUscc = freshUscc();
    const merchantId = await newOrg(db, "merchant", merchantUscc);
    const { marketId } = await db.transaction().execute((trx) => seedMarketDemo(trx, { operatorId: operator, merchantId }));
    const stalls = await listStalls(db, operator, marketId);
    expect(stalls).toHaveLength(20);
    expect(stalls.find((s) => s.code === "A-101")).toMatchObject({ status: "occupied" });
    expect((await listMarketsForMerchant(db, merchantId)).map((m) => [m.marketName, m.stallCode, m.status])).toEqual([["四季青服装批发市场", "A-101", "active"]]);
    expect((await listMerchantApplications(db, operator, marketId, { status: "submitted" })).map((a) => a.companyName)).toEqual(["杭州小蜜蜂童装店"]);
    expect(await feeInForce(db, marketId, "女装", new Date())).toMatchObject({ commissionRateBps: 250, minFeeFen: 500 });
    expect(await feeInForce(db, marketId, "男装", new Date())).toMatchObject({ commissionRateBps: 200, minFeeFen: 0 });
  });
});
