import type { Db } from "../../db";
import type { Actor } from "../domain/shared";
import { createCampaign, reviewApplication, submitApplication, transitionCampaign } from "../domain/recruitment";
import { usccCheckCharacter, addDays, shanghaiDate } from "../domain/shared";

/**
 * The demo's recruitment for 华通电器: an open campaign for East China with a deposit, two
 * applications waiting (one asked for more information), and a draft for South China. Everything
 * goes through the model functions the product uses, inside the seed's transaction. The applicants'
 * private status links are not kept (only their hashes are stored): in the demo, apply once more
 * on the public page to see that side.
 */

function uscc(first17: string): string {
  const check = usccCheckCharacter(first17);
  if (!check) throw new Error(`demo USCC base ${first17} is not valid`);
  return first17 + check;
}

export async function seedRecruitmentDemo(trx: Db, input: { coreEnterpriseId: string }): Promise<void> {
  // The core enterprise's owner reviews (so the timeline names someone), when it has one.
  const owner = await trx
    .selectFrom("memberships")
    .select("user_id")
    .where("organization_id", "=", input.coreEnterpriseId)
    .where("role", "=", "owner")
    .orderBy("created_at")
    .executeTakeFirst();
  const actor: Actor = { userId: owner?.user_id ?? null, organizationId: input.coreEnterpriseId, ip: null, requestId: null };
  const anonymous: Actor = { userId: null, organizationId: null, ip: null, requestId: null };
  const today = shanghaiDate(new Date());
  const year = today.slice(0, 4);
  const silver = await trx
    .selectFrom("dealer_tiers")
    .select("id")
    .where("core_enterprise_id", "=", input.coreEnterpriseId)
    .where("name", "=", "银牌")
    .executeTakeFirst();

  const east = await createCampaign(trx, actor, input.coreEnterpriseId, {
    title: `${year} 华东区家电经销商招募`,
    description:
      "华通电器面向华东地区招募空调、冰箱、洗衣机及厨房电器经销商。\n入选经销商享受银牌经销价、10 万元授信额度与 30 天账期，总部提供门店形象、培训与售后支持。",
    requirements: "1. 具备独立法人资格，成立满 1 年；\n2. 有家电零售或分销经验，有实体门店或线上店铺；\n3. 认同华通的价格体系与服务标准，年采购额不低于 100 万元。",
    regions: ["浙江省温州市", "浙江省金华市", "江苏省苏州市", "安徽省合肥市"],
    quota: 5,
    depositFen: 2_000_000,
    closesOn: addDays(today, 60),
    tierId: silver?.id ?? null,
    creditLimitFen: 10_000_000,
    paymentTermsDays: 30,
  }, { now: new Date() });
  await transitionCampaign(trx, actor, input.coreEnterpriseId, east.id, "publish", { now: new Date() });

  await submitApplication(trx, anonymous, {
    campaignId: east.id,
    input: {
      companyName: "温州优选电器有限公司",
      uscc: uscc("91330302MA2K7W5T3"),
      legalRepresentative: "林国强",
      contactName: "林晓燕",
      contactPhone: "13857712345",
      contactEmail: "lin.xiaoyan@wzyouxuan.example",
      region: "浙江省温州市",
      channels: ["retail_store", "online_store"],
      notes: "在温州市区有两家门店，年销售额约 800 万元。",
    },
    now: new Date(),
  });
  const asked = await submitApplication(trx, anonymous, {
    campaignId: east.id,
    input: {
      companyName: "金华众诚电器有限公司",
      uscc: uscc("91330702MA2H8N6R1"),
      legalRepresentative: "王建军",
      contactName: "王建军",
      contactPhone: "0579-82345678",
      contactEmail: "wang@jhzhongcheng.example",
      region: "浙江省金华市",
      channels: ["wholesale", "rural"],
      notes: "主要覆盖金华下辖县市的乡镇网点。",
    },
    now: new Date(),
  });
  await reviewApplication(trx, actor, input.coreEnterpriseId, asked.application.id, "start_review", "", new Date());
  await reviewApplication(trx, actor, input.coreEnterpriseId, asked.application.id, "request_info", "请上传营业执照和近一年的销售流水。", new Date());

  await createCampaign(trx, actor, input.coreEnterpriseId, {
    title: "华南区经销商招募（筹备中）",
    description: "广东地区空调与厨电经销商招募，条件确定后发布。",
    requirements: "",
    regions: ["广东省广州市", "广东省深圳市", "广东省佛山市"],
    quota: 3,
    depositFen: 0,
    closesOn: addDays(today, 90),
    tierId: null,
    creditLimitFen: 5_000_000,
    paymentTermsDays: 30,
  }, { now: new Date() });
}
