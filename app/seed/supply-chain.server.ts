import type { Db } from "../../db";
import { SYSTEM_ACTOR, usccCheckCharacter, shanghaiDate } from "../domain/shared";
import { createSku, type SkuInput } from "../domain/catalog";
import { createDealerLink } from "../domain/dealers";
import { createOrganization } from "../domain/identity";
import { createOverride, createPriceList, createTier, setPriceListItem } from "../domain/pricing";

/**
 * The demo's supply-chain world for 华通电器: a catalogue of home appliances, three dealer tiers
 * with this year's and last year's price lists (volume breaks on the bulky lines), a dealer-specific
 * override, and its dealer network with credit limits set in the ledger. Everything goes through
 * the model functions the product uses, inside the seed's transaction.
 */

type Category = "空调" | "冰箱" | "洗衣机" | "厨房电器" | "生活电器" | "配件及服务";

interface DemoSku {
  code: string;
  product: [code: string, name: string];
  category: Category;
  name: string;
  spec: string;
  unit: string;
  packSize: number;
  moq: number;
  /** Base price in whole yuan (demo data; stored in fen). */
  yuan: number;
  taxRateBps?: number;
  stock: number;
}

const AC_A1: [string, string] = ["P-KFR-GW-A1", "华通 新一级能效变频挂机 A1 系列"];
const AC_LW: [string, string] = ["P-KFR-LW-A1", "华通 新一级能效变频柜机 A1 系列"];
const FRIDGE_WE: [string, string] = ["P-BCD-WE", "华通 风冷无霜多门冰箱 WE 系列"];
const WASHER_B14: [string, string] = ["P-XQG-B14", "华通 滚筒洗衣机 B14 系列"];
const RICE: [string, string] = ["P-DF-IH", "华通 IH 智能电饭煲"];

const SKUS: DemoSku[] = [
  { code: "HT-KFR-26GW-A1", product: AC_A1, category: "空调", name: "华通 1匹 新一级变频冷暖挂机", spec: "KFR-26GW/BpA1 制冷量2600W 适用10-15㎡ 白色", unit: "台", packSize: 1, moq: 1, yuan: 2399, stock: 420 },
  { code: "HT-KFR-35GW-A1", product: AC_A1, category: "空调", name: "华通 1.5匹 新一级变频冷暖挂机", spec: "KFR-35GW/BpA1 制冷量3500W 适用15-22㎡ 白色", unit: "台", packSize: 1, moq: 1, yuan: 2799, stock: 860 },
  { code: "HT-KFR-50GW-A1", product: AC_A1, category: "空调", name: "华通 2匹 新一级变频冷暖挂机", spec: "KFR-50GW/BpA1 制冷量5000W 适用22-32㎡", unit: "台", packSize: 1, moq: 1, yuan: 3999, stock: 210 },
  { code: "HT-KFR-35GW-R3", product: ["P-KFR-GW-R3", "华通 睿享三级能效变频挂机"], category: "空调", name: "华通 1.5匹 睿享 三级能效变频挂机", spec: "KFR-35GW/BpR3 制冷量3500W 静音22分贝", unit: "台", packSize: 1, moq: 2, yuan: 2199, stock: 1300 },
  { code: "HT-KFR-51LW-A1", product: AC_LW, category: "空调", name: "华通 2匹 新一级变频立柜式空调", spec: "KFR-51LW/BpA1 制冷量5100W 适用23-34㎡", unit: "台", packSize: 1, moq: 1, yuan: 5299, stock: 160 },
  { code: "HT-KFR-72LW-A1", product: AC_LW, category: "空调", name: "华通 3匹 新一级变频立柜式空调", spec: "KFR-72LW/BpA1 制冷量7200W 适用32-50㎡", unit: "台", packSize: 1, moq: 1, yuan: 7199, stock: 95 },
  { code: "HT-KFR-72LW-P1", product: ["P-KFR-LW-P1", "华通 臻品旗舰柜机"], category: "空调", name: "华通 3匹 臻品 旗舰立柜空调", spec: "KFR-72LW/BpP1 新风 自清洁 WiFi", unit: "台", packSize: 1, moq: 1, yuan: 8999, stock: 40 },
  { code: "HT-FG-100W", product: ["P-FG", "华通 家用中央空调风管机"], category: "空调", name: "华通 4匹 一拖一风管机", spec: "FGR10/BpD1 制冷量10000W 含线控器", unit: "台", packSize: 1, moq: 1, yuan: 11800, stock: 36 },

  { code: "HT-BC-93", product: ["P-BC-93", "华通 单门迷你冰箱"], category: "冰箱", name: "华通 93升 单门迷你冰箱", spec: "BC-93 直冷 银色", unit: "台", packSize: 1, moq: 2, yuan: 799, stock: 300 },
  { code: "HT-BCD-218", product: ["P-BCD-218", "华通 三门冰箱"], category: "冰箱", name: "华通 218升 三门冰箱", spec: "BCD-218STPA 直冷 软冷冻", unit: "台", packSize: 1, moq: 1, yuan: 1599, stock: 240 },
  { code: "HT-BCD-258WE", product: FRIDGE_WE, category: "冰箱", name: "华通 258升 风冷无霜三门冰箱", spec: "BCD-258WE 一级能效 变频", unit: "台", packSize: 1, moq: 1, yuan: 1899, stock: 180 },
  { code: "HT-BCD-330WE", product: FRIDGE_WE, category: "冰箱", name: "华通 330升 法式多门冰箱", spec: "BCD-330WE 一级能效 母婴专区", unit: "台", packSize: 1, moq: 1, yuan: 2999, stock: 150 },
  { code: "HT-BCD-450WE", product: FRIDGE_WE, category: "冰箱", name: "华通 450升 十字对开门冰箱", spec: "BCD-450WE 一级能效 干湿分储", unit: "台", packSize: 1, moq: 1, yuan: 3899, stock: 120 },
  { code: "HT-BCD-520WK", product: ["P-BCD-WK", "华通 对开门冰箱 WK 系列"], category: "冰箱", name: "华通 520升 对开门冰箱", spec: "BCD-520WK 风冷无霜 纤薄嵌入", unit: "台", packSize: 1, moq: 1, yuan: 4299, stock: 88 },
  { code: "HT-BCD-602WK", product: ["P-BCD-WK", "华通 对开门冰箱 WK 系列"], category: "冰箱", name: "华通 602升 对开门冰箱", spec: "BCD-602WK 一级能效 智能控温", unit: "台", packSize: 1, moq: 1, yuan: 5299, stock: 64 },
  { code: "HT-BD-200", product: ["P-BD", "华通 卧式冷柜"], category: "冰箱", name: "华通 200升 卧式冷柜", spec: "BD/BC-200 冷藏冷冻转换", unit: "台", packSize: 1, moq: 2, yuan: 1299, stock: 130 },

  { code: "HT-XQB80-M21", product: ["P-XQB-M21", "华通 波轮洗衣机 M21 系列"], category: "洗衣机", name: "华通 8公斤 波轮洗衣机", spec: "XQB80-M21 全自动 12种程序", unit: "台", packSize: 1, moq: 2, yuan: 999, stock: 520 },
  { code: "HT-XQB100-M21", product: ["P-XQB-M21", "华通 波轮洗衣机 M21 系列"], category: "洗衣机", name: "华通 10公斤 波轮洗衣机", spec: "XQB100-M21 变频 直驱", unit: "台", packSize: 1, moq: 2, yuan: 1299, stock: 410 },
  { code: "HT-XQG80-B14", product: WASHER_B14, category: "洗衣机", name: "华通 8公斤 滚筒洗衣机", spec: "XQG80-B14 1400转 BLDC变频", unit: "台", packSize: 1, moq: 1, yuan: 1999, stock: 330 },
  { code: "HT-XQG100-B14", product: WASHER_B14, category: "洗衣机", name: "华通 10公斤 滚筒洗衣机", spec: "XQG100-B14 1400转 除菌洗", unit: "台", packSize: 1, moq: 1, yuan: 2499, stock: 275 },
  { code: "HT-XQG100-HB14", product: WASHER_B14, category: "洗衣机", name: "华通 10公斤 洗烘一体机", spec: "XQG100-HB14 蒸汽除菌 智能投放", unit: "台", packSize: 1, moq: 1, yuan: 3299, stock: 140 },
  { code: "HT-GDZ10-H1", product: ["P-GDZ", "华通 热泵干衣机"], category: "洗衣机", name: "华通 10公斤 热泵干衣机", spec: "GDZ10-H1 低温护衣", unit: "台", packSize: 1, moq: 1, yuan: 3999, stock: 70 },
  { code: "HT-XQG30-MINI", product: ["P-XQG-MINI", "华通 壁挂迷你洗衣机"], category: "洗衣机", name: "华通 3公斤 壁挂迷你滚筒", spec: "XQG30-MINI 内衣婴童专用", unit: "台", packSize: 1, moq: 2, yuan: 1699, stock: 90 },

  { code: "HT-DF-3001", product: RICE, category: "厨房电器", name: "华通 3升 IH 电饭煲", spec: "DF-3001 IH电磁加热 1-4人", unit: "件", packSize: 6, moq: 6, yuan: 199, stock: 1200 },
  { code: "HT-DF-4001", product: RICE, category: "厨房电器", name: "华通 4升 IH 电饭煲", spec: "DF-4001 IH电磁加热 2-8人 球釜内胆", unit: "件", packSize: 6, moq: 12, yuan: 299, stock: 960 },
  { code: "HT-SK-1715", product: ["P-SK", "华通 电水壶"], category: "厨房电器", name: "华通 1.7升 电水壶", spec: "SK-1715 304不锈钢 1800W", unit: "件", packSize: 12, moq: 12, yuan: 89, stock: 3600 },
  { code: "HT-MW-2001", product: ["P-MW", "华通 微波炉"], category: "厨房电器", name: "华通 20升 微波炉", spec: "MW-2001 机械旋钮 700W", unit: "件", packSize: 2, moq: 4, yuan: 459, stock: 480 },
  { code: "HT-KX-5501", product: ["P-KX", "华通 空气炸锅"], category: "厨房电器", name: "华通 5.5升 空气炸锅", spec: "KX-5501 可视窗 无油低脂", unit: "件", packSize: 4, moq: 8, yuan: 329, stock: 1400 },
  { code: "HT-PB-1501", product: ["P-PB", "华通 破壁料理机"], category: "厨房电器", name: "华通 1.5升 破壁料理机", spec: "PB-1501 加热 静音罩", unit: "件", packSize: 4, moq: 4, yuan: 499, stock: 620 },
  { code: "HT-DC-2101", product: ["P-DC", "华通 电磁炉"], category: "厨房电器", name: "华通 2100W 电磁炉", spec: "DC-2101 触控 定时", unit: "件", packSize: 6, moq: 6, yuan: 229, stock: 900 },
  { code: "HT-YJ-9001", product: ["P-YJ", "华通 吸油烟机"], category: "厨房电器", name: "华通 侧吸式吸油烟机", spec: "CXW-260-YJ9001 大吸力21m³/min 挥手感应", unit: "台", packSize: 1, moq: 1, yuan: 2599, stock: 150 },
  { code: "HT-ZJ-4001", product: ["P-ZJ", "华通 燃气灶"], category: "厨房电器", name: "华通 嵌入式燃气灶 天然气", spec: "JZT-4001 4.5kW 钢化玻璃面板", unit: "台", packSize: 1, moq: 1, yuan: 999, stock: 260 },
  { code: "HT-XD-1001", product: ["P-XD", "华通 消毒柜"], category: "厨房电器", name: "华通 100升 嵌入式消毒柜", spec: "ZTD100-XD1001 二星级 紫外线+臭氧", unit: "台", packSize: 1, moq: 1, yuan: 1399, stock: 110 },
  { code: "HT-RS-6001", product: ["P-RS", "华通 电热水器"], category: "生活电器", name: "华通 60升 电热水器", spec: "F6021-RS6001 一级能效 3000W 速热", unit: "台", packSize: 1, moq: 2, yuan: 1199, stock: 340 },

  { code: "HT-FS-4001", product: ["P-FS", "华通 落地扇"], category: "生活电器", name: "华通 落地电风扇", spec: "FS-4001 7叶 遥控 直流变频", unit: "件", packSize: 2, moq: 4, yuan: 259, stock: 800 },
  { code: "HT-JH-3001", product: ["P-JH", "华通 空气净化器"], category: "生活电器", name: "华通 空气净化器", spec: "KJ300F-JH3001 CADR 300m³/h 除甲醛", unit: "件", packSize: 2, moq: 2, yuan: 1299, stock: 210 },
  { code: "HT-CS-2201", product: ["P-CS", "华通 加湿器"], category: "生活电器", name: "华通 4.5升 加湿器", spec: "CS-2201 上加水 静音", unit: "件", packSize: 6, moq: 6, yuan: 169, stock: 1500 },
  { code: "HT-CX-0901", product: ["P-CX", "华通 无线吸尘器"], category: "生活电器", name: "华通 无线手持吸尘器", spec: "CX-0901 吸力150AW 续航60分钟", unit: "件", packSize: 2, moq: 2, yuan: 899, stock: 380 },

  { code: "HT-ZJ-KT10", product: ["P-ACC", "华通 空调安装配件"], category: "配件及服务", name: "空调外机支架（10副/箱）", spec: "加厚镀锌 承重150kg", unit: "箱", packSize: 1, moq: 2, yuan: 450, stock: 260 },
  { code: "HT-YKQ-50", product: ["P-ACC", "华通 空调安装配件"], category: "配件及服务", name: "空调通用遥控器（50个/箱）", spec: "YKQ-50 适配华通全系", unit: "箱", packSize: 1, moq: 1, yuan: 600, stock: 75 },
  { code: "HT-YB-KT3", product: ["P-YB", "华通 延保服务"], category: "配件及服务", name: "空调延保服务卡 3年", spec: "整机延保 含上门维修", unit: "张", packSize: 1, moq: 10, yuan: 199, taxRateBps: 600, stock: 5000 },
];

/** Tier price as a percentage of the base, and volume breaks (multiples of the MOQ → percentage). */
const TIERS = [
  { name: "金牌", rank: 1, pct: 88, breaks: [[10, 85], [50, 82]] as [number, number][] },
  { name: "银牌", rank: 2, pct: 92, breaks: [[10, 90]] as [number, number][] },
  { name: "铜牌", rank: 3, pct: 96, breaks: [[20, 95]] as [number, number][] },
];

/** A percentage of a price in fen, to whole yuan (half up): integer arithmetic only. */
function pctOfFen(baseFen: number, pct: number): number {
  const hundredths = baseFen * pct; // fen × percent
  return Math.floor((hundredths + 5_000) / 10_000) * 100;
}

function uscc(first17: string): string {
  const check = usccCheckCharacter(first17);
  if (!check) throw new Error(`demo USCC base ${first17} is not valid`);
  return first17 + check;
}

export interface SupplyChainSeedOrgs {
  core: string;
  dealer: string;
  dealer2: string;
}

export async function seedSupplyChainDemo(trx: Db, orgIds: SupplyChainSeedOrgs): Promise<void> {
  const actor = { ...SYSTEM_ACTOR, organizationId: orgIds.core };
  const core = orgIds.core;

  const skuIds = new Map<string, { id: string; baseFen: number; moq: number; category: Category }>();
  for (const s of SKUS) {
    const input: SkuInput = {
      code: s.code,
      name: s.name,
      spec: s.spec,
      unit: s.unit,
      packSize: s.packSize,
      moq: s.moq,
      basePriceFen: s.yuan * 100,
      taxRateBps: s.taxRateBps ?? 1300,
      stockOnHand: s.stock,
      productCode: s.product[0],
      productName: s.product[1],
      category: s.category,
    };
    const sku = await createSku(trx, actor, core, input);
    skuIds.set(s.code, { id: sku.id, baseFen: sku.basePriceFen, moq: sku.moq, category: s.category });
  }

  // Validity relative to today, so the demo always has a current list and an expired one.
  const year = Number(shanghaiDate(new Date()).slice(0, 4));
  const tierIds: string[] = [];
  for (const tier of TIERS) {
    const { id: tierId } = await createTier(trx, actor, core, { name: tier.name, rank: tier.rank });
    tierIds.push(tierId);
    const lastYear = await createPriceList(trx, actor, core, {
      tierId,
      name: `${year - 1}年度${tier.name}经销价`,
      validFrom: `${year - 1}-01-01`,
      validTo: `${year - 1}-12-31`,
    }, shanghaiDate(new Date()));
    const current = await createPriceList(trx, actor, core, {
      tierId,
      name: `${year}年度${tier.name}经销价`,
      validFrom: `${year}-01-01`,
      validTo: null,
    }, shanghaiDate(new Date()));
    for (const [code, sku] of skuIds) {
      // Bronze dealers buy services and spare parts at list price: not in their list.
      if (tier.name === "铜牌" && sku.category === "配件及服务") continue;
      await setPriceListItem(trx, actor, core, lastYear.id, { skuCode: code, minQty: 1, priceFen: pctOfFen(sku.baseFen, tier.pct + 2) });
      await setPriceListItem(trx, actor, core, current.id, { skuCode: code, minQty: 1, priceFen: pctOfFen(sku.baseFen, tier.pct) });
      // Volume breaks on the bulky lines, counted in MOQs so they stay whole packs.
      if (sku.category === "空调" || sku.category === "冰箱" || sku.category === "洗衣机" || sku.category === "厨房电器") {
        for (const [times, pct] of tier.breaks) {
          await setPriceListItem(trx, actor, core, current.id, { skuCode: code, minQty: times * sku.moq, priceFen: pctOfFen(sku.baseFen, pct) });
        }
      }
    }
  }

  const extraDealer = await createOrganization(trx, SYSTEM_ACTOR, {
    kind: "dealer",
    name: "绍兴万家福电器有限公司",
    nameEn: "Shaoxing Wanjiafu Electric",
    uscc: uscc("91330602MA2D5R8X4"),
  });
  const gold = await createDealerLink(trx, actor, {
    coreEnterpriseId: core,
    dealerId: orgIds.dealer,
    tierId: tierIds[0],
    region: "浙江省杭州市",
    paymentTermsDays: 30,
    creditLimitFen: 50_000_000,
  });
  await createDealerLink(trx, actor, {
    coreEnterpriseId: core,
    dealerId: orgIds.dealer2,
    tierId: tierIds[1],
    region: "浙江省宁波市",
    paymentTermsDays: 45,
    creditLimitFen: 20_000_000,
  });
  await createDealerLink(trx, actor, {
    coreEnterpriseId: core,
    dealerId: extraDealer.id,
    tierId: tierIds[2],
    region: "浙江省绍兴市",
    paymentTermsDays: 30,
    creditLimitFen: 10_000_000,
  });

  // A framework agreement: 杭州鑫达 buys the 1.5匹 A1 at a fixed price for this calendar year.
  await createOverride(trx, actor, core, {
    linkId: gold.id,
    skuCode: "HT-KFR-35GW-A1",
    priceFen: 229_900,
    validFrom: `${year}-01-01`,
    validTo: `${year}-12-31`,
    note: `年度框架协议 ${year}-HZ-017`,
  }, shanghaiDate(new Date()));
}
