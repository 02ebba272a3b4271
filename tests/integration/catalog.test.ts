import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import {
  getSku,
  getSkusByCodes,
  listSkus,
  releaseStock,
  reserveStock,
  returnStock,
  shipStock,
  updateSku,
} from "../../app/domain/catalog/catalog.server";
import { DomainError } from "../../app/domain/shared/errors";
import { actorOf, ENGINES, makeSku, newOrg, skuInput } from "./catalog.fixtures";

for (const [engine, open] of ENGINES) {
  describe(`catalogue on ${engine}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("creates a SKU with its product, upper-casing the code, and audits it", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const sku = await makeSku(handle.db, core, { code: " ht-kfr-35gw ", productCode: "p-kfr", productName: "变频挂机系列", category: "空调" });
      expect(sku).toMatchObject({ code: "HT-KFR-35GW", productCode: "P-KFR", productName: "变频挂机系列", category: "空调", stockAvailable: 100, status: "active" });
      const audit = await handle.db.selectFrom("audit_events").select(["action", "organization_id"]).where("entity_id", "=", sku.id).execute();
      expect(audit).toEqual([{ action: "sku.created", organization_id: core }]);
    });

    it("refuses a second SKU with the same code, in any case, naming the field", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      await makeSku(handle.db, core, { code: "DUP-1" });
      await expect(makeSku(handle.db, core, { code: "dup-1" })).rejects.toMatchObject({ code: "conflict", fields: { code: "already_in_use" } });
      // Another core enterprise may use the same code.
      const other = await newOrg(handle.db, "core_enterprise");
      await expect(makeSku(handle.db, other, { code: "DUP-1" })).resolves.toMatchObject({ code: "DUP-1" });
    });

    it("refuses bad input with every field named and writes nothing", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const error = await makeSku(handle.db, core, { code: "x y", name: "", packSize: 6, moq: 8, basePriceFen: 0, taxRateBps: 1200 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).fields).toEqual({ code: "code_format", name: "required", moq: "moq_whole_packs", basePrice: "out_of_range", taxRate: "tax_rate" });
      expect((error as DomainError).status).toBe(422);
      const rows = await handle.db.selectFrom("skus").select("id").where("core_enterprise_id", "=", core).execute();
      expect(rows).toEqual([]);
    });

    it("never lets stock on hand go below what is reserved, by update or by the table itself", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const sku = await makeSku(handle.db, core, { stockOnHand: 10 });
      await reserveStock(handle.db, { skuId: sku.id, quantity: 7 });
      await expect(updateSku(handle.db, actorOf(core), core, sku.id, skuInput({ code: sku.code, stockOnHand: 6 }))).rejects.toMatchObject({
        code: "validation",
        fields: { stockOnHand: "below_reserved" },
      });
      await expect(
        handle.db.updateTable("skus").set({ stock_on_hand: 6 }).where("id", "=", sku.id).execute(),
      ).rejects.toThrow(/skus_stock/);
      const updated = await updateSku(handle.db, actorOf(core), core, sku.id, skuInput({ code: sku.code, stockOnHand: 7, basePriceFen: 259_900 }));
      expect(updated).toMatchObject({ stockOnHand: 7, stockReserved: 7, stockAvailable: 0, basePriceFen: 259_900 });
    });

    it("keeps stock when an update leaves it out, and renames the code when the new one is free", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const a = await makeSku(handle.db, core, { code: "OLD-1", stockOnHand: 42 });
      await makeSku(handle.db, core, { code: "TAKEN-1" });
      const { stockOnHand: _omit, ...withoutStock } = skuInput({ code: "NEW-1" });
      expect(await updateSku(handle.db, actorOf(core), core, a.id, withoutStock)).toMatchObject({ code: "NEW-1", stockOnHand: 42 });
      await expect(updateSku(handle.db, actorOf(core), core, a.id, skuInput({ code: "taken-1" }))).rejects.toMatchObject({
        code: "conflict",
        fields: { code: "already_in_use" },
      });
    });

    it("reserves, releases, ships and returns stock, refusing what is not there", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const sku = await makeSku(handle.db, core, { stockOnHand: 20, unit: "台" });
      expect(await reserveStock(handle.db, { skuId: sku.id, quantity: 15 })).toEqual({ skuId: sku.id, stockOnHand: 20, stockReserved: 15, stockAvailable: 5 });
      await expect(reserveStock(handle.db, { skuId: sku.id, quantity: 6 })).rejects.toMatchObject({
        code: "conflict",
        fields: { quantity: "only 5 台 available" },
      });
      expect(await releaseStock(handle.db, { skuId: sku.id, quantity: 5 })).toMatchObject({ stockReserved: 10, stockAvailable: 10 });
      expect(await shipStock(handle.db, { skuId: sku.id, quantity: 10 })).toMatchObject({ stockOnHand: 10, stockReserved: 0, stockAvailable: 10 });
      await expect(shipStock(handle.db, { skuId: sku.id, quantity: 1 })).rejects.toMatchObject({ code: "invalid_state" });
      await expect(releaseStock(handle.db, { skuId: sku.id, quantity: 1 })).rejects.toMatchObject({ code: "invalid_state" });
      expect(await returnStock(handle.db, { skuId: sku.id, quantity: 2 })).toMatchObject({ stockOnHand: 12, stockAvailable: 12 });
      await expect(reserveStock(handle.db, { skuId: sku.id, quantity: 0 })).rejects.toMatchObject({ code: "validation", fields: { quantity: expect.any(String) } });
      await expect(reserveStock(handle.db, { skuId: "00000000-0000-4000-8000-000000000000", quantity: 1 })).rejects.toMatchObject({ code: "not_found" });
    });

    it("never oversells: 40 concurrent reservations of 3 against 100 in stock, 33 succeed", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const sku = await makeSku(handle.db, core, { stockOnHand: 100 });
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, () =>
          handle.db
            .transaction()
            .execute((trx) => reserveStock(trx, { skuId: sku.id, quantity: 3 }))
            .then(
              () => "reserved",
              (e: unknown) => (e instanceof DomainError ? e.code : Promise.reject(e)),
            ),
        ),
      );
      expect(outcomes.filter((o) => o === "reserved")).toHaveLength(33);
      expect(outcomes.filter((o) => o === "conflict")).toHaveLength(7);
      expect(await getSku(handle.db, core, sku.id)).toMatchObject({ stockOnHand: 100, stockReserved: 99, stockAvailable: 1 });
    });

    it("finds SKUs by code, case-insensitively, only in the asking catalogue", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const other = await newOrg(handle.db, "core_enterprise");
      await makeSku(handle.db, core, { code: "FIND-A" });
      await makeSku(handle.db, core, { code: "FIND-B" });
      await makeSku(handle.db, other, { code: "FIND-C" });
      const found = await getSkusByCodes(handle.db, core, ["find-a", " FIND-B ", "FIND-C", "nope", "bad code"]);
      expect([...found.keys()].sort()).toEqual(["FIND-A", "FIND-B"]);
    });

    it("pages the list by code (keyset) and searches code prefixes and names", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      for (let i = 1; i <= 7; i++) await makeSku(handle.db, core, { code: `PG-${i}`, name: i % 2 ? "滚筒洗衣机" : "对开门冰箱" });
      const first = await listSkus(handle.db, core, { limit: 3 });
      expect(first.items.map((s) => s.code)).toEqual(["PG-1", "PG-2", "PG-3"]);
      const second = await listSkus(handle.db, core, { limit: 3, after: first.nextCursor });
      expect(second.items.map((s) => s.code)).toEqual(["PG-4", "PG-5", "PG-6"]);
      const last = await listSkus(handle.db, core, { limit: 3, after: second.nextCursor });
      expect(last).toMatchObject({ nextCursor: null });
      expect(last.items.map((s) => s.code)).toEqual(["PG-7"]);
      expect((await listSkus(handle.db, core, { search: "冰箱" })).items.map((s) => s.code)).toEqual(["PG-2", "PG-4", "PG-6"]);
      expect((await listSkus(handle.db, core, { search: "pg-7" })).items.map((s) => s.code)).toEqual(["PG-7"]);
      expect((await listSkus(handle.db, core, { search: "100%_" })).items).toEqual([]);
      await expect(listSkus(handle.db, core, { after: "not a code" })).rejects.toMatchObject({ code: "validation", fields: { after: "invalid_cursor" } });
    });

    it("answers not found for another tenant's SKU, whatever the call", async () => {
      const core = await newOrg(handle.db, "core_enterprise");
      const intruder = await newOrg(handle.db, "core_enterprise");
      const sku = await makeSku(handle.db, core);
      await expect(getSku(handle.db, intruder, sku.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(updateSku(handle.db, actorOf(intruder), intruder, sku.id, skuInput({ code: sku.code }))).rejects.toMatchObject({ code: "not_found" });
      await expect(getSku(handle.db, core, "not-a-uuid")).rejects.toMatchObject({ code: "not_found" });
      expect((await listSkus(handle.db, intruder)).items).toEqual([]);
      expect((await getSku(handle.db, core, sku.id)).name).toBe(sku.name);
    });
  });
}
