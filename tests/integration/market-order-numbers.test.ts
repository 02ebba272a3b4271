import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { placeCheckout } from "../../app/domain/market/escrow/checkout.server";
import { getCheckout } from "../../app/domain/market/escrow/queries.server";
import { createTestDatabase } from "../support/db";
import { actorFor, createMarketWorld, makeBuyer, makeListing } from "./market-trade.fixtures";
import { shanghaiDate } from "../../app/domain/shared/dates";

/**
 * Market order numbers follow the dealer orders' rule: MO + Shanghai date + the sequence, padded
 * to at least six digits and never cut. Past 999,999 a number grows a digit instead of losing its
 * first one (which made the millionth order collide with the 100,000th), and in (length, text)
 * order the numbers are in the order they were taken.
 */
describe("market order numbers past 999,999", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("stay unique and in sequence across the six-digit boundary", async () => {
    const { db } = handle;
    const now = new Date();
    const world = await createMarketWorld(db, { now });
    const listings = [await makeListing(db, world, 0, { stock: 100 }), await makeListing(db, world, 1, { stock: 100 })];
    const buyer = await makeBuyer(db, 10_000_000);
    let key = 0;
    const checkout = async (merchants: number[]) => {
      const placed = await placeCheckout(
        db,
        actorFor(buyer.id, buyer.user.id),
        { buyerId: buyer.id, marketId: world.marketId, lines: merchants.map((m) => ({ listingId: listings[m].id, quantity: 1 })), idempotencyKey: `numbers-${++key}` },
        now,
      );
      return placed;
    };
    const prefix = `MO${shanghaiDate(now).replaceAll("-", "")}`;

    await sql`select setval('market_order_no_seq', 99999)`.execute(db);
    const hundredThousandth = await checkout([0]);
    expect(hundredThousandth.orders.map((o) => o.orderNo)).toEqual([`${prefix}100000`]);

    // One checkout across the boundary: 999,999 and 1,000,000 (a fixed six-digit pad made it "100000" again).
    await sql`select setval('market_order_no_seq', 999998)`.execute(db);
    const across = await checkout([0, 1]);
    const after = await checkout([1, 0]);
    const numbers = [...hundredThousandth.orders, ...across.orders, ...after.orders].map((o) => o.orderNo);
    expect(numbers).toEqual([`${prefix}100000`, `${prefix}999999`, `${prefix}1000000`, `${prefix}1000001`, `${prefix}1000002`]);
    expect(new Set(numbers).size).toBe(numbers.length);

    // In (length, text) order they are in the order taken; the checkout lists its orders so.
    const bySequence = [...numbers].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
    expect(bySequence).toEqual(numbers);
    expect((await getCheckout(db, buyer.id, across.checkout.id)).orders.map((o) => o.orderNo)).toEqual([`${prefix}999999`, `${prefix}1000000`]);
    const stored = await db
      .selectFrom("market_orders")
      .select("order_no")
      .where("buyer_id", "=", buyer.id)
      .orderBy(sql`length(order_no)`)
      .orderBy("order_no")
      .execute();
    expect(stored.map((r) => r.order_no)).toEqual(numbers);
  });
});
