import type { Db } from "../../db";
import { shanghaiDate, type Actor } from "../domain/shared";
import { disburseApplication, productOfKind, sellMarketReceivable, setFacility, settleMarketOrdersWithAssignment } from "../domain/financing";
import { payCheckoutFromWallet, placeCheckout, receiveMarketOrder, shipMarketOrder } from "../domain/market";

/**
 * Receivables advances for the demo merchant 李记服饰, through the financing and market contexts:
 * a ¥500,000 limit on the receivables product seedReceivablesDemo creates, and one advance repaid
 * from a settlement: an order shipped eleven days ago, its proceeds sold that day (80% of the
 * goods total less commission, paid into the merchant's wallet at once), received by the buyer two
 * days ago and settled: the release went to the bank first (the advance and its interest to date),
 * the rest to the merchant. And one order shipped today, left for the merchant to sell on
 * /financing/receivables. Runs after seedMarketTradeDemo and seedReceivablesDemo.
 */

const DAY_MS = 86_400_000;
/** The product lends from ¥1,000: an order's proceeds at 80% must reach it. */
const MIN_GOODS_FEN = 200_000;

export async function seedMarketReceivablesDemo(trx: Db, ids: { bank: string; merchant: string; buyer: string }, now = new Date()): Promise<void> {
  const userOf = async (email: string) => (await trx.selectFrom("users").select("id").where("email", "=", email).executeTakeFirst())?.id ?? null;
  const bank: Actor = { userId: await userOf("bank@demo.test"), organizationId: ids.bank, ip: null, requestId: "demo-seed" };
  const merchant: Actor = { userId: await userOf("seller@demo.test"), organizationId: ids.merchant, ip: null, requestId: "demo-seed" };
  const buyer: Actor = { userId: await userOf("buyer@demo.test"), organizationId: ids.buyer, ip: null, requestId: "demo-seed" };

  const product = await productOfKind(trx, "receivables");
  const validTo = `${Number(shanghaiDate(now).slice(0, 4)) + 1}-12-31`;
  await setFacility(trx, bank, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: ids.merchant, validTo, limitFen: 50_000_000 });

  // The merchant's dearest listing with stock for an order worth at least MIN_GOODS_FEN.
  const listings = await trx
    .selectFrom("market_listings")
    .select(["id", "market_id", "price_fen", "min_order_qty", "stock_qty"])
    .where("merchant_id", "=", ids.merchant)
    .where("status", "=", "active")
    .where("moderation_status", "=", "visible")
    .orderBy("price_fen", "desc")
    .orderBy("id")
    .execute();
  const pick = () => {
    for (const l of listings) {
      const quantity = Math.max(l.min_order_qty, Math.ceil(MIN_GOODS_FEN / l.price_fen));
      if (quantity <= l.stock_qty) return { listing: l, quantity };
    }
    return null;
  };

  const shipped = async (key: string, placedAt: Date, shippedAt: Date): Promise<string | null> => {
    const chosen = pick();
    if (!chosen) return null;
    const placed = await placeCheckout(trx, buyer, { buyerId: ids.buyer, marketId: chosen.listing.market_id, lines: [{ listingId: chosen.listing.id, quantity: chosen.quantity }], idempotencyKey: `demo-advance-${key}` }, placedAt);
    chosen.listing.stock_qty -= chosen.quantity;
    await payCheckoutFromWallet(trx, buyer, ids.buyer, placed.checkout.id, new Date(placedAt.getTime() + 5 * 60_000));
    const order = placed.orders[0];
    await shipMarketOrder(trx, merchant, ids.merchant, order.id, { carrier: "顺丰速运", trackingNo: key === "open" ? "SF7400000011" : "SF7400000022" }, shippedAt);
    return order.id;
  };

  // Sold the day it shipped; the buyer confirmed receipt two days ago and the settlement paid the bank first.
  const shippedAt = new Date(now.getTime() - 11 * DAY_MS);
  const repaidOrder = await shipped("repaid", new Date(now.getTime() - 12 * DAY_MS), shippedAt);
  if (!repaidOrder) return;
  const soldAt = new Date(shippedAt.getTime() + 2 * 3_600_000);
  const sale = await sellMarketReceivable(trx, merchant, { marketOrderId: repaidOrder }, soldAt);
  await disburseApplication(trx, sale.id, soldAt);
  const receivedAt = new Date(now.getTime() - 2 * DAY_MS);
  await receiveMarketOrder(trx, buyer, ids.buyer, repaidOrder, receivedAt);
  await settleMarketOrdersWithAssignment(trx, { orderIds: [repaidOrder], now: new Date(receivedAt.getTime() + 60_000) });

  // Shipped this morning: for sale on the merchant's page.
  await shipped("open", new Date(now.getTime() - 6 * 3_600_000), new Date(now.getTime() - 3 * 3_600_000));
}
