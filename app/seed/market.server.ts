import type { Db } from "../../db";
import type { Actor } from "../domain/shared";
import { addFeeSchedule, approveMerchantApplication, createMarket, createStall, createZone, listStalls, submitMerchantApplication } from "../domain/market";
import { usccCheckCharacter, addDays, shanghaiDate } from "../domain/shared";

/**
 * The demo's market for 四季青市场管理有限公司: 四季青服装批发市场 in 杭州 with three zones and 20
 * stalls, the demo merchant (李记服饰) active in stall A-101 through an approved application, fee
 * schedules for 女装 / 男装 / 童装 in force since 90 days ago (and a raise for 女装 next month), and
 * one application waiting for review. Everything goes through the model functions the product uses.
 */

function uscc(first17: string): string {
  const check = usccCheckCharacter(first17);
  if (!check) throw new Error(`demo USCC base ${first17} is not valid`);
  return first17 + check;
}

export async function seedMarketDemo(trx: Db, input: { operatorId: string; merchantId: string }, now: Date = new Date()): Promise<{ marketId: string }> {
  const owner = await trx
    .selectFrom("memberships")
    .select("user_id")
    .where("organization_id", "=", input.operatorId)
    .where("role", "=", "owner")
    .orderBy("created_at")
    .executeTakeFirst();
  const actor: Actor = { userId: owner?.user_id ?? null, organizationId: input.operatorId, ip: null, requestId: null };
  const merchant = await trx.selectFrom("organizations").select(["name", "uscc"]).where("id", "=", input.merchantId).executeTakeFirstOrThrow();
  if (!merchant.uscc) throw new Error("the demo merchant needs a USCC");

  const market = await createMarket(trx, actor, input.operatorId, {
    name: "四季青服装批发市场",
    city: "杭州",
    categories: "女装、男装、童装、服饰配件",
    autoConfirmDays: "7",
    unpaidExpiryMinutes: "30",
  });
  const zones = [];
  for (const name of ["A区 女装馆", "B区 男装馆", "C区 童装馆"]) zones.push(await createZone(trx, actor, input.operatorId, market.id, { name }));
  const layout: [number, string, number][] = [
    [0, "A", 8],
    [1, "B", 6],
    [2, "C", 6],
  ];
  for (const [zone, letter, count] of layout) {
    for (let i = 1; i <= count; i++) {
      await createStall(trx, actor, input.operatorId, market.id, {
        code: `${letter}-${100 + i}`,
        zoneId: zones[zone].id,
        area: String(12 + (i % 3) * 4),
        monthlyRent: String(zone === 0 ? 8_000 + i * 200 : 6_000 + i * 150),
      });
    }
  }
  const stalls = await listStalls(trx, input.operatorId, market.id);
  const a101 = stalls.find((s) => s.code === "A-101");
  if (!a101) throw new Error("seed: stall A-101 missing");

  const since = addDays(shanghaiDate(now), -90);
  const sinceAt = new Date(`${since}T00:00:00+08:00`);
  for (const [category, commissionRate, minFee] of [
    ["女装", "2.5", "5"],
    ["男装", "2", "0"],
    ["童装", "2", "0"],
    ["服饰配件", "3", "2"],
  ] as const) {
    await addFeeSchedule(trx, actor, input.operatorId, market.id, { category, commissionRate, minFee, effectiveFrom: since }, sinceAt);
  }
  await addFeeSchedule(trx, actor, input.operatorId, market.id, { category: "女装", commissionRate: "3", minFee: "5", effectiveFrom: addDays(shanghaiDate(now), 30) }, now);

  const lis = await submitMerchantApplication(trx, actor, input.operatorId, market.id, {
    uscc: merchant.uscc,
    companyName: merchant.name,
    legalRepresentative: "李建国",
    contactName: "李老板",
    contactPhone: "13905710001",
    stallWish: "A区临街铺位",
    categories: "女装、服饰配件",
  });
  await approveMerchantApplication(trx, actor, input.operatorId, market.id, lis.id, { stallId: a101.id });

  await submitMerchantApplication(trx, actor, input.operatorId, market.id, {
    uscc: uscc("92330104MA2LMX8Q5"),
    companyName: "杭州小蜜蜂童装店",
    legalRepresentative: "王秀英",
    contactName: "王秀英",
    contactPhone: "13857100088",
    stallWish: "C区，面积 12㎡ 左右",
    categories: "童装",
  });
  return { marketId: market.id };
}
