import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payCheckoutFromWallet, placeCheckout } from "../../app/domain/market/escrow/checkout.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { actorFor, createMarketWorld, makeBuyer, makeListing, type MarketWorld } from "./market-trade.fixtures";

/**
 * Two buyers pay, at the same moment, checkouts that each buy from the same two merchants. Each
 * checkout's holds move money from its buyer to both merchants' wallets; taken one order at a time,
 * in order-id order, two such payments could lock the merchants' wallets crosswise and one would
 * die of a deadlock (40P01 → 409 to the client). Found by the server-mode fault test.
 */

const ROUNDS = 30;

describe("paying checkouts that share merchants, at the same time", () => {
  let t: TestDatabase;
  let w: MarketWorld;
  let listings: { id: string }[];
  let buyers: { id: string }[];

  beforeAll(async () => {
    t = await createTestDatabase();
    w = await createMarketWorld(t.db);
    listings = [await makeListing(t.db, w, 0, { priceFen: 1_000, stock: 10_000 }), await makeListing(t.db, w, 1, { priceFen: 2_000, stock: 10_000, category: "男装" })];
    buyers = [await makeBuyer(t.db, 10_000_000), await makeBuyer(t.db, 10_000_000)];
  });

  afterAll(async () => {
    await t?.close();
  });

  it(`never deadlocks, in ${ROUNDS} rounds of two concurrent payments`, async () => {
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const checkouts = await Promise.all(
        buyers.map((b) =>
          placeCheckout(t.db, actorFor(b.id), {
            buyerId: b.id,
            marketId: w.marketId,
            lines: listings.map((l) => ({ listingId: l.id, quantity: 1 })),
            idempotencyKey: `lock-order-${randomUUID()}`,
          }, new Date()),
        ),
      );
      const results = await Promise.allSettled(checkouts.map((c, i) => payCheckoutFromWallet(t.db, actorFor(buyers[i].id), buyers[i].id, c.checkout.id, new Date())));
      for (const r of results) if (r.status === "rejected") failures.push(`round ${round}: ${(r.reason as Error).message}`);
    }
    expect(failures).toEqual([]);
    const paid = await t.db.selectFrom("market_checkouts").select((eb) => eb.fn.countAll<number>().as("n")).where("status", "=", "paid").executeTakeFirstOrThrow();
    expect(Number(paid.n)).toBe(ROUNDS * 2);
    expect(await verifyLedger(t.db)).toEqual([]);
  });

  it("never deadlocks on merchants' first payments, when their wallets are made by the payments themselves", async () => {
    const failures: string[] = [];
    for (let round = 0; round < 8; round++) {
      const fresh = await createMarketWorld(t.db);
      const goods = [await makeListing(t.db, fresh, 0, { priceFen: 1_000 }), await makeListing(t.db, fresh, 1, { priceFen: 2_000, category: "男装" })];
      const checkouts = await Promise.all(
        buyers.map((b) =>
          placeCheckout(t.db, actorFor(b.id), { buyerId: b.id, marketId: fresh.marketId, lines: goods.map((l) => ({ listingId: l.id, quantity: 1 })), idempotencyKey: `first-${randomUUID()}` }, new Date()),
        ),
      );
      const results = await Promise.allSettled(checkouts.map((c, i) => payCheckoutFromWallet(t.db, actorFor(buyers[i].id), buyers[i].id, c.checkout.id, new Date())));
      for (const r of results) if (r.status === "rejected") failures.push(`round ${round}: ${(r.reason as Error).message}`);
    }
    expect(failures).toEqual([]);
    expect(await verifyLedger(t.db)).toEqual([]);
  });
});
