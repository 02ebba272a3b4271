import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { CSV_LIMITS, exportSkusCsv, importSkusCsv } from "../../app/domain/catalog/csv.server";
import { getSkusByCodes, listSkus, reserveStock } from "../../app/domain/catalog/catalog.server";
import { actorOf, ENGINES, makeSku, newOrg } from "./catalog.fixtures";

const ZH_HEADER = "SKU编码,SKU名称,商品编码,商品名称,类目,规格,单位,包装数量,起订量,基础价(元),税率(%),库存,状态";
const EN_HEADER = "code,name,product_code,product_name,category,spec,unit,pack_size,moq,base_price,tax_rate,stock_on_hand,status";

const GOOD_ZH = [
  ZH_HEADER,
  "HT-KFR-35GW,华通 1.5匹 变频挂机,P-KFR,变频挂机系列,空调,KFR-35GW/BpA1 白色,台,1,1,2799,13,860,上架",
  'HT-SK-1715,"华通 1.7升 电水壶, 304不锈钢",P-SK,电水壶,厨房电器,SK-1715,件,12,24,"1,089.50",13%,3600,下架',
  "HT-YB-KT3,空调延保服务卡 3年,,,配件及服务,,张,1,10,199,6,,",
].join("\r\n");

async function skuRows(handle: DbHandle, core: string) {
  return handle.db.selectFrom("skus").select(["code", "stock_on_hand"]).where("core_enterprise_id", "=", core).orderBy("code").execute();
}

for (const [engine, open] of ENGINES) {
  describe(`SKU CSV import and export on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("imports a UTF-8 file with a BOM and Chinese headers, creating SKUs and products", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const result = await importSkusCsv(handle.db, actorOf(core), core, Buffer.from(`\ufeff${GOOD_ZH}\r\n`, "utf8"));
      expect(result).toEqual({ ok: true, created: 3, updated: 0, rows: 3 });
      const skus = await getSkusByCodes(handle.db, core, ["HT-KFR-35GW", "HT-SK-1715", "HT-YB-KT3"]);
      expect(skus.get("HT-SK-1715")).toMatchObject({
        name: "华通 1.7升 电水壶, 304不锈钢",
        productCode: "P-SK",
        category: "厨房电器",
        packSize: 12,
        moq: 24,
        basePriceFen: 108_950,
        taxRateBps: 1300,
        stockOnHand: 3600,
        status: "inactive",
      });
      // No product code: the SKU is its own product; no stock or status: 0 and active.
      expect(skus.get("HT-YB-KT3")).toMatchObject({ productCode: "HT-YB-KT3", productName: "空调延保服务卡 3年", taxRateBps: 600, stockOnHand: 0, status: "active", moq: 10 });
      const audit = await handle.db.selectFrom("audit_events").select(["action", "after"]).where("organization_id", "=", core).where("action", "=", "sku.imported").execute();
      expect(audit).toHaveLength(1);
      expect(audit[0].after).toMatchObject({ rows: 3, created: ["HT-KFR-35GW", "HT-SK-1715", "HT-YB-KT3"], updated: [] });
    });

    it("reports every bad row by line and field, and writes nothing", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      await makeSku(handle.db, core, { code: "KEEP-1", stockOnHand: 5 });
      const csv = [
        EN_HEADER,
        "OK-1,Good one,,,,,台,1,1,100,13,1,active", // line 2: fine
        "bad code,Bad code,,,,,台,1,1,100,13,1,active", // line 3
        "OK-2,,,,,,台,1,1,abc,12,1,maybe", // line 4: name, price, tax, status
        "",
        "OK-3,Pack,,,,,件,6,8,10,13,1,active", // line 6 (after a blank line): moq
        "ok-1,Duplicate,,,,,台,1,1,100,13,1,active", // line 7: duplicate of line 2
        '"OK-4","Multi',
        'line name",,,,,台,1,1,1.234,13,-1,active', // lines 8-9: price, stock
        "KEEP-1,Changed,,,,,台,1,1,100,13,2,active,extra", // line 10: extra cell
      ].join("\n");
      const result = await importSkusCsv(handle.db, actorOf(core), core, csv);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.rows).toBe(7);
      expect(result.errors.map((e) => [e.line, e.field, e.code])).toEqual([
        [3, "code", "code_format"],
        [4, "name", "required"],
        [4, "basePrice", "money_format"],
        [4, "taxRate", "tax_rate"],
        [4, "status", "status"],
        [6, "moq", "moq_whole_packs"],
        [7, "code", "duplicate_code"],
        [8, "basePrice", "money_format"],
        [8, "stockOnHand", "whole_number"],
        [10, null, "extra_cells"],
      ]);
      expect(result.errors[0]).toMatchObject({ column: "code", value: "bad code", message: expect.stringContaining("line 3") });
      expect(result.errors.find((e) => e.code === "duplicate_code")?.message).toContain("first on line 2");
      expect(await skuRows(handle, core)).toEqual([{ code: "KEEP-1", stock_on_hand: 5 }]);
    });

    it("refuses stock below what is reserved, and writes none of the good rows either", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const sku = await makeSku(handle.db, core, { code: "RES-1", stockOnHand: 10 });
      await reserveStock(handle.db, { skuId: sku.id, quantity: 8 });
      const csv = [EN_HEADER, "NEW-1,New,,,,,台,1,1,100,13,1,active", "RES-1,Reserved,,,,,台,1,1,100,13,7,active"].join("\n");
      const result = await importSkusCsv(handle.db, actorOf(core), core, csv);
      expect(result.ok === false && result.errors.map((e) => [e.line, e.field, e.code])).toEqual([[3, "stockOnHand", "below_reserved"]]);
      expect(await skuRows(handle, core)).toEqual([{ code: "RES-1", stock_on_hand: 10 }]);
    });

    it("checks the header: unknown, duplicate and missing required columns", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const result = await importSkusCsv(handle.db, actorOf(core), core, "SKU编码,code,颜色,unit\nA,B,C,D\n");
      expect(result.ok === false && result.errors.map((e) => [e.line, e.code, e.field])).toEqual([
        [1, "duplicate_column", "code"],
        [1, "unknown_column", null],
        [1, "missing_column", "name"],
        [1, "missing_column", "basePrice"],
        [1, "missing_column", "taxRate"],
      ]);
    });

    it("enforces the size and row limits, UTF-8, and CSV syntax", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const row = "X-1,n,,,,,台,1,1,1,13,1,active";
      const tooMany = [EN_HEADER, ...Array.from({ length: CSV_LIMITS.maxRows + 1 }, (_, i) => row.replace("X-1", `X-${i}`))].join("\n");
      expect(await importSkusCsv(handle.db, actorOf(core), core, tooMany)).toMatchObject({ ok: false, errors: [{ code: "too_many_rows", line: 0 }] });
      const huge = Buffer.alloc(CSV_LIMITS.maxBytes + 1, 0x41);
      expect(await importSkusCsv(handle.db, actorOf(core), core, huge)).toMatchObject({ ok: false, errors: [{ code: "file_too_large" }] });
      // "编码" in GBK: not valid UTF-8.
      const gbk = Buffer.concat([Buffer.from([0xb1, 0xe0, 0xc2, 0xeb]), Buffer.from(",name\n")]);
      expect(await importSkusCsv(handle.db, actorOf(core), core, gbk)).toMatchObject({ ok: false, errors: [{ code: "not_utf8" }] });
      expect(await importSkusCsv(handle.db, actorOf(core), core, `${EN_HEADER}\n"unclosed,1\n`)).toMatchObject({ ok: false, errors: [{ code: "csv_syntax", line: 2 }] });
      expect(await importSkusCsv(handle.db, actorOf(core), core, "\n\n")).toMatchObject({ ok: false, errors: [{ code: "empty_file" }] });
      expect(await skuRows(handle, core)).toEqual([]);
    });

    it("upserts by code: updates what the file gives, keeps stock and status it leaves out", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      await makeSku(handle.db, core, { code: "UP-1", stockOnHand: 77, status: "inactive", productCode: "P-UP", productName: "旧名", category: "空调" });
      const csv = ["code,name,unit,base_price,tax_rate,product_code,product_name", "up-1,新名称,台,1999,9,P-UP,新产品名", "UP-2,第二个,台,10,13,P-UP,"].join("\n");
      expect(await importSkusCsv(handle.db, actorOf(core), core, csv)).toEqual({ ok: true, created: 1, updated: 1, rows: 2 });
      const skus = await getSkusByCodes(handle.db, core, ["UP-1", "UP-2"]);
      expect(skus.get("UP-1")).toMatchObject({ name: "新名称", basePriceFen: 199_900, taxRateBps: 900, stockOnHand: 77, status: "inactive", productName: "新产品名", category: "空调" });
      expect(skus.get("UP-2")).toMatchObject({ productId: skus.get("UP-1")?.productId, stockOnHand: 0, status: "active" });
    });

    it("exports every column and imports the export back unchanged (both header languages)", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      await importSkusCsv(handle.db, actorOf(core), core, GOOD_ZH);
      await makeSku(handle.db, core, { code: "EQ-1", name: "=HYPERLINK(\"x\")", spec: "+1 特殊", packSize: 4, moq: 8, unit: "件" });
      const before = (await listSkus(handle.db, core, { limit: 100 })).items;
      for (const headers of ["zh", "en"] as const) {
        const csv = await exportSkusCsv(handle.db, core, { headers });
        expect(csv.startsWith("\ufeff")).toBe(true);
        expect(csv).toContain(headers === "zh" ? "SKU编码" : "base_price");
        expect(csv).toContain("'=HYPERLINK"); // a spreadsheet shows it as text, never runs it
        const again = await importSkusCsv(handle.db, actorOf(core), core, Buffer.from(csv, "utf8"));
        expect(again).toEqual({ ok: true, created: 0, updated: before.length, rows: before.length });
        const after = (await listSkus(handle.db, core, { limit: 100 })).items;
        const strip = (s: (typeof before)[number]) => ({ ...s, updatedAt: null });
        expect(after.map(strip)).toEqual(before.map(strip));
      }
    });

    it("imports 5,000 rows in one go", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const rows = Array.from({ length: CSV_LIMITS.maxRows }, (_, i) => `BULK-${String(i).padStart(5, "0")},商品${i},P-${i % 50},系列${i % 50},类目,规格,台,1,1,${100 + i},13,${i},active`);
      // Each product code keeps one name: the file repeats the same name for the same code.
      const started = Date.now();
      const result = await importSkusCsv(handle.db, actorOf(core), core, [EN_HEADER, ...rows].join("\n"));
      expect(result).toEqual({ ok: true, created: CSV_LIMITS.maxRows, updated: 0, rows: CSV_LIMITS.maxRows });
      expect(Date.now() - started).toBeLessThan(30_000);
      const count = await handle.db.selectFrom("products").select((eb) => eb.fn.countAll<number>().as("n")).where("core_enterprise_id", "=", core).executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(50);
    });
  });
}
