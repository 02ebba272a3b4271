import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { getSkusByCodes } from "../../app/domain/catalog/catalog.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { listDealerLinks } from "../../app/domain/dealers/dealers.server";
import { listPriceLists } from "../../app/domain/pricing/pricing.server";
import { seedSupplyChainDemo } from "../../app/seed/supply-chain.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createOrg, createUser, TEST_PASSWORD } from "../support/factories";
import { Client, csrfToken, startTestServer, type Page, type TestServer } from "../support/web";
import { makeLink, makeSku } from "./catalog.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/**
 * The supply-chain pages through the real Express + Remix stack, as a browser without JavaScript
 * uses them: roles, org kinds, another tenant's ids (404 everywhere), forms that keep the input and
 * name the field, CSV upload, and the dealer's view at its own prices.
 */
describe("supply-chain pages", () => {
  let t: TestDatabase;
  let server: TestServer;
  const w = {} as {
    core: string;
    dealer: string;
    stranger: string;
    owner: string;
    viewer: string;
    dealerUser: string;
    strangerUser: string;
    skuId: string;
    listId: string;
    linkId: string;
    strangerSkuId: string;
    strangerListId: string;
    strangerLinkId: string;
  };

  beforeAll(async () => {
    t = await createTestDatabase();
    const core = await createOrg(t.db, { kind: "core_enterprise", name: "华通电器" });
    const dealer = await createOrg(t.db, { kind: "dealer", name: "杭州鑫达商贸有限公司" });
    const dealer2 = await createOrg(t.db, { kind: "dealer" });
    await t.db.transaction().execute((trx) => seedSupplyChainDemo(trx, { core: core.id, dealer: dealer.id, dealer2: dealer2.id }));
    const stranger = await createOrg(t.db, { kind: "core_enterprise", name: "陌生企业" });
    const strangerSku = await makeSku(t.db, stranger.id, { code: "STRANGER-1", name: "陌生商品" });
    const strangerLink = await makeLink(t.db, stranger.id, { creditLimitFen: 1_000 });
    const { createTier, createPriceList } = await import("../../app/domain/pricing/pricing.server");
    const tier = await createTier(t.db, SYSTEM_ACTOR, stranger.id, { name: "陌生等级", rank: 1 });
    const strangerList = await createPriceList(t.db, SYSTEM_ACTOR, stranger.id, { tierId: tier.id, name: "陌生价目表", validFrom: "2020-01-01", validTo: null }, shanghaiDate(new Date()));

    w.core = core.id;
    w.dealer = dealer.id;
    w.stranger = stranger.id;
    w.owner = (await createUser(t.db, { memberships: [[core.id, "owner"]] })).email;
    w.viewer = (await createUser(t.db, { memberships: [[core.id, "viewer"]] })).email;
    w.dealerUser = (await createUser(t.db, { memberships: [[dealer.id, "owner"]] })).email;
    w.strangerUser = (await createUser(t.db, { memberships: [[stranger.id, "owner"]] })).email;
    w.skuId = (await getSkusByCodes(t.db, core.id, ["HT-KFR-35GW-A1"])).get("HT-KFR-35GW-A1")!.id;
    w.listId = (await listPriceLists(t.db, core.id, { today: shanghaiDate(new Date()) }))[0].id;
    w.linkId = (await listDealerLinks(t.db, core.id, { search: "杭州鑫达" })).items[0].id;
    w.strangerSkuId = strangerSku.id;
    w.strangerListId = strangerList.id;
    w.strangerLinkId = strangerLink.id;
    server = await startTestServer(t.db);
  });

  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  /**
   * React 18's renderToPipeableStream can write NUL bytes where a multi-byte character meets its
   * 2 KiB chunk boundary (react#24985); the server entry drops them. Every page read here is
   * checked for them, so a regression shows on whichever page it hits.
   */
  class TextClient extends Client {
    override async request(path: string, init: RequestInit = {}): Promise<Page> {
      const page = await super.request(path, init);
      expect(page.body.includes("\u0000"), `NUL byte in ${path}`).toBe(false);
      return page;
    }
  }

  async function signedIn(email: string): Promise<Client> {
    const client = new TextClient(server.url);
    const res = await client.login(email, TEST_PASSWORD);
    expect(res.status).toBe(302);
    return client;
  }

  it("shows the core enterprise its catalogue, pricing and network, and refuses a forged cursor with 400", async () => {
    const owner = await signedIn(w.owner);
    const catalog = await owner.get("/catalog");
    expect(catalog.status).toBe(200);
    expect(catalog.body).toContain("HT-BC-93");
    expect(catalog.body).toContain('href="/catalog/new"');
    const next = /href="(\/catalog\?after=[^"]+)"/.exec(catalog.body)?.[1];
    expect(next).toBeTruthy();
    const page2 = await owner.get(next!.replaceAll("&amp;", "&"));
    expect(page2.status).toBe(200);
    expect(page2.body).not.toContain("HT-BC-93");
    expect((await owner.get("/catalog?after=%27%3B--")).status).toBe(400);
    expect((await owner.get("/pricing")).body).toContain("金牌");
    expect((await owner.get("/dealers")).body).toContain("杭州鑫达商贸有限公司");
    const preview = await owner.get(`/pricing/preview?dealerId=${w.dealer}&skuCode=ht-kfr-35gw-a1&quantity=10`);
    expect(preview.status).toBe(200);
    expect(preview.body).toContain("¥2,299.00");
    expect(preview.body).toContain("专属价");
  });

  it("keeps the input and names every bad field when a SKU form is wrong, writing nothing", async () => {
    const owner = await signedIn(w.owner);
    const csrf = await owner.csrfFrom("/catalog/new");
    const res = await owner.post("/catalog/new", {
      csrf,
      code: "NEW 1",
      name: "新商品",
      unit: "台",
      packSize: "6",
      moq: "8",
      basePrice: "12.345",
      taxRate: "13",
      stockOnHand: "5",
      status: "active",
    });
    expect(res.status).toBe(422);
    expect(res.body).toContain('value="NEW 1"');
    expect(res.body).toContain('value="新商品"');
    expect(res.body).toContain("只能包含字母、数字");
    expect(res.body).toContain("起订量须为包装数量的整数倍");
    expect(res.body).toContain("最多两位小数");
    expect((await getSkusByCodes(t.db, w.core, ["NEW-1", "NEW 1"])).size).toBe(0);

    const ok = await owner.post("/catalog/new", { csrf, code: "new-1", name: "新商品", unit: "台", packSize: "6", moq: "12", basePrice: "1,299.50", taxRate: "13", stockOnHand: "5", status: "active" });
    expect(ok.status).toBe(302);
    const created = (await getSkusByCodes(t.db, w.core, ["NEW-1"])).get("NEW-1");
    expect(created).toMatchObject({ basePriceFen: 129_950, moq: 12 });
    expect(ok.location).toBe(`/catalog/${created!.id}`);

    const taken = await owner.post(`/catalog/${w.skuId}`, { csrf, code: "NEW-1", name: "x", unit: "台", basePrice: "1", taxRate: "13" });
    expect(taken.status).toBe(409);
    expect(taken.body).toContain("已被占用");
  });

  it("refuses a form without the CSRF token", async () => {
    const owner = await signedIn(w.owner);
    const res = await owner.post("/catalog/new", { code: "X-1", name: "x", unit: "台", basePrice: "1", taxRate: "13" });
    expect(res.status).toBe(403);
  });

  it("lets a viewer read but not change", async () => {
    const viewer = await signedIn(w.viewer);
    expect((await viewer.get("/catalog")).body).not.toContain('href="/catalog/new"');
    const detail = await viewer.get(`/catalog/${w.skuId}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toContain("您的角色为只读");
    expect((await viewer.get("/catalog/new")).status).toBe(403);
    const csrf = csrfToken(detail.body)!;
    expect((await viewer.post(`/catalog/${w.skuId}`, { csrf, code: "HT-KFR-35GW-A1", name: "x", unit: "台", basePrice: "1", taxRate: "13" })).status).toBe(403);
    expect((await viewer.post("/pricing", { csrf, intent: "createTier", name: "钻石", rank: "0" })).status).toBe(403);
  });

  it("answers 404 for another tenant's SKU, price list and dealer, on every page and form", async () => {
    const stranger = await signedIn(w.strangerUser);
    const csrf = await stranger.csrfFrom("/catalog");
    for (const path of [`/catalog/${w.skuId}`, `/pricing/lists/${w.listId}`, `/dealers/${w.linkId}`]) {
      const page = await stranger.get(path);
      expect(page.status, path).toBe(404);
      expect(page.body).not.toContain("华通");
    }
    expect((await stranger.post(`/catalog/${w.skuId}`, { csrf, code: "HT-KFR-35GW-A1", name: "盗改", unit: "台", basePrice: "1", taxRate: "13" })).status).toBe(404);
    expect((await stranger.post(`/catalog/${w.skuId}`, { csrf, code: "", name: "" })).status).toBe(404);
    expect((await stranger.post(`/pricing/lists/${w.listId}`, { csrf, intent: "deleteList" })).status).toBe(404);
    expect((await stranger.post(`/pricing/lists/${w.listId}`, { csrf, intent: "setItem", skuCode: "STRANGER-1", minQty: "1", price: "1" })).status).toBe(404);
    expect((await stranger.post(`/dealers/${w.linkId}`, { csrf, intent: "suspend" })).status).toBe(404);
    expect((await stranger.post(`/dealers/${w.linkId}`, { csrf, intent: "updateTerms", region: "x", paymentTermsDays: "1", creditLimit: "0" })).status).toBe(404);
    expect((await stranger.post("/pricing", { csrf, intent: "updateTier", tierId: (await listPriceLists(t.db, w.core, { today: shanghaiDate(new Date()) }))[0].tierId, name: "x", rank: "1" })).status).toBe(404);
    // Using another tenant's dealer link in one's own override form is a field error, not a write.
    const override = await stranger.post("/pricing", { csrf, intent: "createOverride", linkId: w.linkId, skuCode: "STRANGER-1", price: "1", validFrom: "2026-01-01" });
    expect(override.status).toBe(422);
    expect(override.body).toContain("不在您的经销网络中");
    // Nothing changed at 华通电器.
    expect((await listDealerLinks(t.db, w.core, { search: "杭州鑫达" })).items[0].status).toBe("active");
    expect((await getSkusByCodes(t.db, w.core, ["HT-KFR-35GW-A1"])).get("HT-KFR-35GW-A1")?.name).not.toBe("盗改");
    // And 华通电器 cannot see the stranger's things either.
    const owner = await signedIn(w.owner);
    for (const path of [`/catalog/${w.strangerSkuId}`, `/pricing/lists/${w.strangerListId}`, `/dealers/${w.strangerLinkId}`]) {
      expect((await owner.get(path)).status, path).toBe(404);
    }
  });

  it("keeps core-enterprise pages from dealers and the shop from core enterprises", async () => {
    const dealer = await signedIn(w.dealerUser);
    for (const path of ["/catalog", "/pricing", "/dealers", "/catalog/import", "/catalog/export.csv", `/catalog/${w.skuId}`]) {
      expect((await dealer.get(path)).status, path).toBe(404);
    }
    const owner = await signedIn(w.owner);
    expect((await owner.get("/shop")).status).toBe(404);
  });

  it("shows a dealer the catalogue of its core enterprise at its own prices, and no other", async () => {
    const dealer = await signedIn(w.dealerUser);
    const shop = await dealer.get("/shop");
    expect(shop.status).toBe(200);
    expect(shop.body).toContain("华通电器");
    expect(shop.body).toContain("¥500,000.00");
    const catalog = await dealer.get(`/shop/${w.core}`);
    expect(catalog.status).toBe(200);
    // The gold dealer's framework price for the 1.5匹 A1, base price struck through.
    expect(catalog.body).toMatch(/HT-KFR-35GW-A1[\s\S]*?¥2,299\.00[\s\S]*?¥2,799\.00/);
    const searched = await dealer.get(`/shop/${w.core}?q=${encodeURIComponent("冰箱")}`);
    expect(searched.body).toContain("HT-BCD-218");
    expect(searched.body).not.toContain("HT-KFR-35GW-A1");
    expect((await dealer.get(`/shop/${w.stranger}`)).status).toBe(404);
    expect((await dealer.get("/shop/not-a-uuid")).status).toBe(404);
  });

  it("imports a CSV upload all or nothing, listing every bad line", async () => {
    const owner = await signedIn(w.owner);
    const csrf = await owner.csrfFrom("/catalog/import");
    const upload = (csv: string) => {
      const form = new FormData();
      form.set("csrf", csrf);
      form.set("file", new Blob([csv], { type: "text/csv" }), "skus.csv");
      return owner.request("/catalog/import", { method: "POST", body: form });
    };
    const bad = await upload("code,name,unit,base_price,tax_rate\nCSV-1,好的,台,10,13\nCSV-2,,台,abc,13\nbad code,坏的,台,10,7\n");
    expect(bad.status).toBe(422);
    expect(bad.body).toContain('data-testid="import-errors"');
    for (const text of ["此项为必填", "请输入大于 0 的金额", "只能包含字母、数字", "请选择有效的增值税税率"]) expect(bad.body).toContain(text);
    expect((await getSkusByCodes(t.db, w.core, ["CSV-1"])).size).toBe(0);
    const good = await upload("\ufeffSKU编码,SKU名称,单位,基础价(元),税率(%)\nCSV-1,好的,台,10,13\nCSV-2,也好,件,20.5,9\n");
    expect(good.status).toBe(302);
    expect(good.location).toBe("/catalog");
    expect((await getSkusByCodes(t.db, w.core, ["CSV-1", "CSV-2"])).get("CSV-2")).toMatchObject({ basePriceFen: 2_050, taxRateBps: 900 });
    const empty = new FormData();
    empty.set("csrf", csrf);
    expect((await owner.request("/catalog/import", { method: "POST", body: empty })).status).toBe(422);
  });

  it("exports the catalogue as a UTF-8 CSV with a BOM", async () => {
    const owner = await signedIn(w.owner);
    const res = await fetch(new URL("/catalog/export.csv?headers=en", server.url), {
      headers: { Cookie: [...owner.cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="catalog-\d{8}\.csv"/);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    expect(text.startsWith("\ufeffcode,name,product_code")).toBe(true);
    expect(text).toContain("HT-KFR-35GW-A1");
  });

  it("changes a dealer's terms and credit limit from the detail page, and suspends it", async () => {
    const owner = await signedIn(w.owner);
    const csrf = await owner.csrfFrom(`/dealers/${w.linkId}`);
    const bad = await owner.post(`/dealers/${w.linkId}`, { csrf, intent: "updateTerms", tierId: "", region: "", paymentTermsDays: "400", creditLimit: "-1" });
    expect(bad.status).toBe(422);
    expect(bad.body).toContain("此项为必填");
    expect(bad.body).toContain('value="400"');
    const ok = await owner.post(`/dealers/${w.linkId}`, { csrf, intent: "updateTerms", tierId: "", region: "浙江省杭州市余杭区", paymentTermsDays: "60", creditLimit: "650,000" });
    expect(ok.status).toBe(302);
    expect((await creditSummary(t.db, w.linkId)).limitFen).toBe(65_000_000);
    const detail = await owner.get(`/dealers/${w.linkId}`);
    expect(detail.body).toContain("¥650,000.00");
    expect(detail.body).toContain("调整授信额度");
    expect((await owner.post(`/dealers/${w.linkId}`, { csrf, intent: "suspend", reason: "测试" })).status).toBe(302);
    const again = await owner.post(`/dealers/${w.linkId}`, { csrf, intent: "suspend" });
    expect(again.status).toBe(409);
    const dealer = await signedIn(w.dealerUser);
    const shop = await dealer.get(`/shop/${w.core}`);
    expect(shop.body).toContain("合作已暂停");
    expect(shop.body).not.toContain("HT-KFR-35GW-A1");
    expect((await owner.post(`/dealers/${w.linkId}`, { csrf, intent: "reactivate" })).status).toBe(302);
  });
});
