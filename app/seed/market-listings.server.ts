import type { Db } from "../../db";
import type { Actor } from "../domain/shared";
import { addToCart, createListing, hideListing, setListingStatus, type ListingInput, approveMerchantApplication, listStalls, submitMerchantApplication } from "../domain/market";
import { createOrganization } from "../domain/identity";
import { usccCheckCharacter } from "../domain/shared";

/**
 * The demo market's goods, made through the model functions the product uses:
 *  - 李记服饰 (the demo merchant, A-101): 27 listings in 女装 and 服饰配件, one of them hidden by the
 *    operator with a reason and one taken off sale by the merchant;
 *  - a second merchant, 杭州依美服饰有限公司, approved into 男装 with a vacant B-zone stall through
 *    an application, with 10 listings — so a buyer's cart spans two merchants;
 *  - optionally, a few lines in the demo buyer's cart from both merchants.
 * Every orderable listing has stock for many minimum orders: the trade seed that runs after this
 * one places orders against them.
 */

type Row = [title: string, titleEn: string, category: string, spec: string, unit: string, priceYuan: string, stockQty: number, minOrderQty: number];

const LIJI: Row[] = [
  ["雪纺碎花连衣裙", "Floral Chiffon Dress", "女装", "S/M/L/XL 均码", "件", "68.00", 860, 5],
  ["法式方领泡泡袖连衣裙", "French Square-Neck Puff-Sleeve Dress", "女装", "S/M/L", "件", "89.00", 420, 5],
  ["高腰阔腿牛仔裤", "High-Waist Wide-Leg Jeans", "女装", "25-32 码", "条", "59.00", 1200, 10],
  ["粗棒针织开衫", "Chunky Knit Cardigan", "女装", "均码", "件", "75.00", 600, 5],
  ["纯棉圆领T恤", "Cotton Crew-Neck T-Shirt", "女装", "S/M/L/XL 白/黑/灰", "件", "18.50", 3000, 12],
  ["桑蚕丝衬衫", "Mulberry Silk Blouse", "女装", "S/M/L", "件", "168.00", 150, 3],
  ["百褶半身裙", "Pleated Midi Skirt", "女装", "均码", "条", "45.00", 700, 5],
  ["羊毛双面呢大衣", "Double-Faced Wool Coat", "女装", "S/M/L", "件", "398.00", 80, 2],
  ["收腰西装外套", "Tailored Blazer", "女装", "S/M/L/XL", "件", "138.00", 260, 3],
  ["莫代尔打底衫", "Modal Long-Sleeve Base Layer", "女装", "均码 12 件/打", "打", "150.00", 200, 1],
  ["运动休闲套装", "Casual Tracksuit Set", "女装", "M/L/XL", "套", "95.00", 340, 3],
  ["蕾丝吊带背心", "Lace Camisole", "女装", "均码", "件", "22.00", 900, 10],
  ["灯芯绒直筒裤", "Corduroy Straight Trousers", "女装", "26-31 码", "条", "66.00", 380, 5],
  ["轻薄羽绒马甲", "Lightweight Down Vest", "女装", "S/M/L/XL", "件", "128.00", 150, 3],
  ["条纹海魂衫", "Breton Stripe Top", "女装", "S/M/L", "件", "39.00", 520, 6],
  ["碎花睡衣套装", "Floral Pajama Set", "女装", "M/L/XL", "套", "55.00", 300, 5],
  ["孕妇连衣裙", "Maternity Dress", "女装", "均码", "件", "79.00", 120, 3],
  ["亚麻阔腿裤", "Linen Wide-Leg Trousers", "女装", "S/M/L", "条", "72.00", 260, 5],
  ["真丝方巾", "Silk Square Scarf", "服饰配件", "90×90cm", "条", "35.50", 800, 10],
  ["羊绒围巾", "Cashmere Scarf", "服饰配件", "180×30cm", "条", "128.00", 160, 5],
  ["头层牛皮细腰带", "Slim Leather Belt", "服饰配件", "100-110cm", "条", "29.00", 640, 10],
  ["珍珠发夹", "Pearl Hair Clips", "服饰配件", "5 只/套，12 套/打", "打", "36.00", 300, 2],
  ["棉质船袜", "Cotton No-Show Socks", "服饰配件", "均码 5 双装，12 包/打", "打", "48.00", 500, 2],
  ["草编遮阳帽", "Straw Sun Hat", "服饰配件", "头围 56-58cm", "件", "32.00", 450, 6],
  ["帆布托特包", "Canvas Tote Bag", "服饰配件", "38×33×10cm", "件", "26.00", 700, 10],
];
/** Hidden by the operator (the demo of moderation): its title borrows a brand. */
const LIJI_HIDDEN: Row = ["大牌同款链条包", "Designer-Style Chain Bag", "服饰配件", "22×14×7cm", "件", "88.00", 200, 3];
/** Off sale by the merchant (out of season). */
const LIJI_OFF: Row = ["加绒加厚打底裤", "Fleece-Lined Leggings", "女装", "均码", "条", "25.00", 400, 10];

const YIMEI: Row[] = [
  ["男士商务长袖衬衫", "Men's Business Long-Sleeve Shirt", "男装", "39-44 码", "件", "89.00", 500, 6],
  ["纯棉POLO衫", "Cotton Polo Shirt", "男装", "M/L/XL/XXL", "件", "49.00", 900, 10],
  ["修身西裤", "Slim-Fit Suit Trousers", "男装", "29-36 码", "条", "98.00", 300, 5],
  ["立领休闲夹克", "Stand-Collar Casual Jacket", "男装", "M-XXL", "件", "158.00", 200, 3],
  ["羊毛针织毛衣", "Wool Knit Sweater", "男装", "M-XXL", "件", "128.00", 260, 3],
  ["弹力牛仔裤", "Stretch Denim Jeans", "男装", "29-36 码", "条", "79.00", 640, 5],
  ["工装短裤", "Cargo Shorts", "男装", "M-XXL", "条", "45.00", 480, 10],
  ["连帽卫衣", "Hooded Sweatshirt", "男装", "M-XXL", "件", "69.00", 720, 6],
  ["纯棉背心", "Cotton Undershirt", "男装", "均码 12 件/打", "打", "96.00", 150, 1],
  ["90白鸭绒羽绒服", "Duck-Down Jacket (90%)", "男装", "M-XXL", "件", "298.00", 90, 2],
];

function uscc(first17: string): string {
  const check = usccCheckCharacter(first17);
  if (!check) throw new Error(`demo USCC base ${first17} is not valid`);
  return first17 + check;
}

function input(row: Row): ListingInput {
  const [title, titleEn, category, spec, unit, price, stockQty, minOrderQty] = row;
  return { title, titleEn, category, spec, unit, price, stockQty: String(stockQty), minOrderQty: String(minOrderQty) };
}

async function ownerActor(trx: Db, organizationId: string): Promise<Actor> {
  const owner = await trx
    .selectFrom("memberships")
    .select("user_id")
    .where("organization_id", "=", organizationId)
    .where("role", "=", "owner")
    .orderBy("created_at")
    .executeTakeFirst();
  return { userId: owner?.user_id ?? null, organizationId, ip: null, requestId: null };
}

export async function seedMarketListingsDemo(
  trx: Db,
  ids: { operatorId: string; marketId: string; merchantId: string; buyerId?: string },
  // The seeds share one signature; listings carry the database's clock (creation order).
  _now: Date = new Date(),
): Promise<{ listings: number; secondMerchantId: string }> {
  const operator = await ownerActor(trx, ids.operatorId);
  const liji = await ownerActor(trx, ids.merchantId);

  const lijiListings = [];
  for (const row of LIJI) lijiListings.push(await createListing(trx, liji, ids.merchantId, ids.marketId, input(row)));
  const hidden = await createListing(trx, liji, ids.merchantId, ids.marketId, input(LIJI_HIDDEN));
  await hideListing(trx, operator, ids.operatorId, ids.marketId, hidden.id, { reason: "标题暗示仿冒品牌，请修改标题后联系市场方恢复" });
  const off = await createListing(trx, liji, ids.merchantId, ids.marketId, input(LIJI_OFF));
  await setListingStatus(trx, liji, ids.merchantId, off.id, "inactive");

  // The second merchant: its organisation first (with an English name), then the application the
  // operator approves into a vacant stall of the 男装 zone, which links that organisation by USCC.
  const yimeiUscc = uscc("91330102MA2GXK7P4");
  const yimeiOrg = await createOrganization(trx, operator, { kind: "merchant", name: "杭州依美服饰有限公司", nameEn: "Hangzhou Yimei Apparel Co.", uscc: yimeiUscc });
  const stall = (await listStalls(trx, ids.operatorId, ids.marketId, { status: "vacant" })).find((s) => s.code.startsWith("B-"));
  if (!stall) throw new Error("seed: no vacant stall in zone B");
  const application = await submitMerchantApplication(trx, operator, ids.operatorId, ids.marketId, {
    uscc: yimeiUscc,
    companyName: "杭州依美服饰有限公司",
    legalRepresentative: "陈依美",
    contactName: "陈经理",
    contactPhone: "13967120088",
    stallWish: "B区男装馆",
    categories: "男装",
  });
  await approveMerchantApplication(trx, operator, ids.operatorId, ids.marketId, application.id, { stallId: stall.id });
  const yimei: Actor = { userId: null, organizationId: yimeiOrg.id, ip: null, requestId: null };
  const yimeiListings = [];
  for (const row of YIMEI) yimeiListings.push(await createListing(trx, yimei, yimeiOrg.id, ids.marketId, input(row)));

  if (ids.buyerId) {
    // A cart spanning both merchants, for the buyer's first look at /market/cart.
    for (const [listing, multiple] of [
      [lijiListings[0], 4],
      [lijiListings[18], 2],
      [yimeiListings[0], 2],
    ] as const) {
      await addToCart(trx, ids.buyerId, { listingId: listing.id, quantity: listing.minOrderQty * multiple });
    }
  }
  return { listings: LIJI.length + 2 + YIMEI.length, secondMerchantId: yimeiOrg.id };
}
