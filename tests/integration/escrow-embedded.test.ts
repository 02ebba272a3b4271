import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payCheckoutFromWallet, placeCheckout } from "../../app/domain/market/escrow/checkout.server";
import { receiveMarketOrder, shipMarketOrder } from "../../app/domain/market/escrow/fulfilment.server";
import { settleReceivedOrders } from "../../app/domain/market/escrow/settlement.server";
import { getMarketOrder } from "../../app/domain/market/escrow/queries.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import type { DbHandle } from "../../db";
import { createEmbeddedTestDatabase } from "../support/db";
import { actorFor, createMarketWorld, feeBalanceOf, makeBuyer, makeListing, stockOf, walletOf, type MarketWorld } from "./market-trade.fixtures";

/** The same escrow rules on the embedded engine (PGlite), which runs transactions one at a time. */
describe("escrow trading on PGlite", () => {
  let h: DbHandle;
  let w: MarketWorld;
  beforeAll(async () => {
    h = await createEmbeddedTestDatabase();
    w = await createMarketWorld(h.db);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("never oversells under concurrent checkouts, and settles with the commission split", async () => {
    const listing = await makeListing(h.db, w, 0, { stock: 5, priceFen: 20_000 });
    const buyers = await Promise.all(Array.from({ length: 12 }, () => makeBuyer(h.db, 20_000)));
    const results = await Promise.allSettled(
      buyers.map((b, i) => placeCheckout(h.db, actorFor(b.id), { buyerId: b.id, marketId: w.marketId, lines: [{ listingId: listing.id, quantity: 1 }], idempotencyKey: `pglite-${i}` }, new Date())),
    );
    const placed = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(placed).toHaveLength(5);
    expect(await stockOf(h.db, listing.id)).toBe(0);

    const first = placed[0];
    const buyerId = first.checkout.buyerId;
    const orderId = first.orders[0].id;
    const merchant = w.merchants[0].id;
    await payCheckoutFromWallet(h.db, actorFor(buyerId), buyerId, first.checkout.id, new Date());
    await shipMarketOrder(h.db, actorFor(merchant), merchant, orderId, { carrier: "顺丰", trackingNo: "SF77" }, new Date());
    await receiveMarketOrder(h.db, actorFor(buyerId), buyerId, orderId, new Date());
    expect(await settleReceivedOrders(h.db, { orderIds: [orderId], now: new Date() })).toEqual([orderId]);
    expect(await settleReceivedOrders(h.db, { orderIds: [orderId], now: new Date() })).toEqual([]);
    expect(await getMarketOrder(h.db, buyerId, orderId)).toMatchObject({ status: "settled", settledFeeFen: 500, settledNetFen: 19_500 });
    expect(await feeBalanceOf(h.db, w.marketId)).toBe(500);
    expect(await walletOf(h.db, buyerId)).toEqual({ balanceFen: 0, availableFen: 0, incomingFen: 0 });
    expect(await verifyLedger(h.db)).toEqual([]);
  });
});
