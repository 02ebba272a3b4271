import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { createApiKey } from "../../app/domain/identity/api-keys.server";
import { listSkus } from "../../app/domain/catalog/catalog.server";
import { createListing, searchListings } from "../../app/domain/market/listings.server";
import { getMerchantApplication, submitMerchantApplication } from "../../app/domain/market/venues.server";
import { createTestDatabase } from "../support/db";
import { makeSku, newOrg } from "./catalog.fixtures";
import { actorFor, createMarketWorld, randomUscc } from "./market-trade.fixtures";

/**
 * What a user types is what is stored (trimmed): a Chinese "，" stays "，" and "㎡" stays "㎡". The
 * compatibility folding (NFKC: full-width → half-width, ㎡ → m2) is applied to search keys only, so
 * a search typed in the half-width form still finds the text as it was typed.
 */
describe("free text is stored as typed; search keys are folded", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("keeps a product name's ，and ㎡, and the catalogue search finds it by m2 and by half-width digits", async () => {
    const { db } = handle;
    const core = await newOrg(db, "core_enterprise");
    const sku = await makeSku(db, core, { name: "  吊顶灯，适用２０㎡客厅 ", spec: "白色，３０Ｗ" });
    expect(sku.name).toBe("吊顶灯，适用２０㎡客厅");
    expect(sku.spec).toBe("白色，３０Ｗ");
    const stored = await db.selectFrom("skus").select(["name", "spec"]).where("id", "=", sku.id).executeTakeFirstOrThrow();
    expect(stored).toEqual({ name: "吊顶灯，适用２０㎡客厅", spec: "白色，３０Ｗ" });

    for (const search of ["20m2", "２０㎡", "30w", "吊顶灯,适用"]) {
      expect((await listSkus(db, core, { search })).items.map((s) => s.id), search).toEqual([sku.id]);
    }
    expect((await listSkus(db, core, { search: "40m2" })).items).toEqual([]);
  });

  it("keeps a listing title's ，and ㎡, and the market search finds it by the half-width form", async () => {
    const { db } = handle;
    const world = await createMarketWorld(db);
    const merchant = world.merchants[0];
    const listing = await createListing(db, actorFor(merchant.id, merchant.user.id), merchant.id, world.marketId, {
      title: "真丝围巾，１８０×９０ｃｍ，约１.６㎡",
      category: "女装",
      spec: "桑蚕丝，Ｍ码",
      unit: "条",
      price: "128",
      stockQty: "10",
    });
    expect(listing.title).toBe("真丝围巾，１８０×９０ｃｍ，约１.６㎡");
    expect(listing.spec).toBe("桑蚕丝，Ｍ码");

    const found = async (q: string) => (await searchListings(db, { marketId: world.marketId, q })).items.map((l) => l.id);
    expect(await found("1.6m2")).toEqual([listing.id]);
    expect(await found("180×90cm")).toEqual([listing.id]);
    expect(await found("m码")).toEqual([listing.id]);
    expect(await found("真丝围巾，１８０")).toEqual([listing.id]);
    expect(await found("2.6m2")).toEqual([]);
  });

  it("keeps a merchant application's ，and ㎡ as the applicant typed them", async () => {
    const { db } = handle;
    const world = await createMarketWorld(db);
    const op = actorFor(world.operatorId, world.operatorUser.id);
    const application = await submitMerchantApplication(db, op, world.operatorId, world.marketId, {
      uscc: randomUscc(),
      companyName: "杭州李记服饰，二店",
      legalRepresentative: "李建国",
      contactName: "李老板（店长）",
      contactPhone: "１３９０５７１０００１",
      stallWish: "想要２０㎡左右的铺位，靠近入口",
      categories: "女装",
    });
    const read = await getMerchantApplication(db, world.operatorId, world.marketId, application.id);
    expect(read).toMatchObject({ companyName: "杭州李记服饰，二店", contactName: "李老板（店长）", stallWish: "想要２０㎡左右的铺位，靠近入口" });
    // A phone number is a key, compared and dialled: its full-width digits are folded.
    expect(read.contactPhone).toBe("13905710001");
  });

  it("keeps an API key's name as typed: it is a label, not a key", async () => {
    const { db } = handle;
    const core = await newOrg(db, "core_enterprise");
    const { key } = await createApiKey(db, actorFor(core), core, { name: " 用友 ERP，生产环境（２号机） " });
    expect(key.name).toBe("用友 ERP，生产环境（２号机）");
  });
});
