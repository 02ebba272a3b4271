import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { chargeOnAccount, creditSummary, restoreCredit, setCreditLimit, type CreditParties } from "../../app/domain/credit/credit.server";
import { DomainError } from "../../app/domain/shared/errors";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createEmbeddedTestDatabase, createTestDatabase } from "../support/db";

async function parties(handle: DbHandle): Promise<CreditParties> {
  const core = await handle.db.insertInto("organizations").values({ kind: "core_enterprise", name: `core-${randomUUID()}` }).returning("id").executeTakeFirstOrThrow();
  const dealer = await handle.db.insertInto("organizations").values({ kind: "dealer", name: `dealer-${randomUUID()}` }).returning("id").executeTakeFirstOrThrow();
  return { linkId: randomUUID(), coreEnterpriseId: core.id, dealerId: dealer.id };
}

for (const [name, open] of [
  ["PostgreSQL", () => createTestDatabase({ poolMax: 20 })],
  ["PGlite", () => createEmbeddedTestDatabase()],
] as const) {
  describe(`trade credit on ${name}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("never lets 50 concurrent on-account orders exceed the limit", async () => {
      const p = await parties(handle);
      await setCreditLimit(handle.db, SYSTEM_ACTOR, p, 100_000);
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          chargeOnAccount(handle.db, p, { reference: `order:${i}`, amountFen: 7_000 }).then(
            () => "charged",
            (e) => (e instanceof DomainError ? e.code : Promise.reject(e)),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === "charged")).toHaveLength(14); // 14 × 7,000 ≤ 100,000 < 15 × 7,000
      expect(outcomes.filter((o) => o === "insufficient_funds")).toHaveLength(36);
      expect(await creditSummary(handle.db, p.linkId)).toEqual({ limitFen: 100_000, usedFen: 98_000, availableFen: 2_000 });
      expect(await verifyLedger(handle.db)).toEqual([]);
    });

    it("names the available credit when an order does not fit, and charges an order once", async () => {
      const p = await parties(handle);
      await setCreditLimit(handle.db, SYSTEM_ACTOR, p, 50_000);
      await chargeOnAccount(handle.db, p, { reference: "order:a", amountFen: 30_000 });
      const again = await chargeOnAccount(handle.db, p, { reference: "order:a", amountFen: 30_000 });
      expect(again.replayed).toBe(true);
      await expect(chargeOnAccount(handle.db, p, { reference: "order:b", amountFen: 20_001 })).rejects.toMatchObject({
        code: "insufficient_funds",
        fields: { payment_method: "exceeds the available credit" },
        message: expect.stringContaining("20000 fen of 50000"),
      });
    });

    it("raises and lowers the limit but never below what is owed; restoring credit frees it again", async () => {
      const p = await parties(handle);
      await setCreditLimit(handle.db, SYSTEM_ACTOR, p, 80_000);
      await chargeOnAccount(handle.db, p, { reference: "order:x", amountFen: 60_000 });
      await expect(setCreditLimit(handle.db, SYSTEM_ACTOR, p, 59_999)).rejects.toMatchObject({
        code: "validation",
        fields: { credit_limit_fen: "below the credit in use" },
      });
      expect(await setCreditLimit(handle.db, SYSTEM_ACTOR, p, 60_000)).toMatchObject({ limitFen: 60_000, availableFen: 0 });
      await restoreCredit(handle.db, p, { idempotencyKey: "repay:x", reference: "order:x", amountFen: 25_000 });
      await restoreCredit(handle.db, p, { idempotencyKey: "repay:x", reference: "order:x", amountFen: 25_000 });
      expect(await creditSummary(handle.db, p.linkId)).toEqual({ limitFen: 60_000, usedFen: 35_000, availableFen: 25_000 });
      await expect(
        restoreCredit(handle.db, p, { idempotencyKey: "repay:too-much", reference: "order:x", amountFen: 35_001 }),
      ).rejects.toMatchObject({ code: "insufficient_funds" });
      const concurrent = await Promise.all([120_000, 90_000, 150_000].map((l) => setCreditLimit(handle.db, SYSTEM_ACTOR, p, l)));
      expect(concurrent).toHaveLength(3);
      const final = await creditSummary(handle.db, p.linkId);
      expect([120_000, 90_000, 150_000]).toContain(final.limitFen);
      expect(final.usedFen).toBe(35_000);
      expect(await verifyLedger(handle.db)).toEqual([]);
    });
  });
}
