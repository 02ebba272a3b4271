import type { Db } from "../../db";
import type { Actor } from "../domain/shared";
import { payCheckoutFromWallet, placeCheckout, receiveMarketOrder, shipMarketOrder, settleReceivedOrders, addDisputeStatement, openDispute, ruleDispute } from "../domain/market";

/**
 * The demo market's trading history, made through the escrow model with the clock set back: a
 * fortnight of settled orders for the dashboard, and today one order in each state a user meets —
 * unpaid, paid across two merchants, shipped, disputed, and one settled with a partial refund.
 * Paid from the demo buyer's wallet (e-Pay needs the sandbox running; the pages show that path).
 */

const DAY_MS = 86_400_000;
const CARRIERS = [
  ["顺丰速运", "SF"],
  ["中通快递", "ZTO"],
  ["韵达快递", "YD"],
] as const;

async function ownerUserId(db: Db, organizationId: string): Promise<string | null> {
  const row = await db
    .selectFrom("memberships")
    .select("user_id")
    .where("organization_id", "=", organizationId)
    .where("role", "=", "owner")
    .orderBy("created_at")
    .executeTakeFirst();
  return row?.user_id ?? null;
}

export async function seedMarketTradeDemo(trx: Db, input: { marketId: string; buyerId: string }, now: Date = new Date()): Promise<{ orders: number }> {
  const market = await trx.selectFrom("markets").select(["id", "operator_id"]).where("id", "=", input.marketId).executeTakeFirstOrThrow();
  const listings = await trx
    .selectFrom("market_listings")
    .select(["id", "merchant_id", "price_fen", "min_order_qty", "stock_qty"])
    .where("market_id", "=", market.id)
    .where("status", "=", "active")
    .where("moderation_status", "=", "visible")
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  const merchants = [...new Set(listings.map((l) => l.merchant_id))];
  if (listings.length === 0 || merchants.length === 0) return { orders: 0 };
  const byMerchant = (m: number) => listings.filter((l) => l.merchant_id === merchants[m % merchants.length]);

  const buyer: Actor = { userId: await ownerUserId(trx, input.buyerId), organizationId: input.buyerId, ip: null, requestId: null };
  const operator: Actor = { userId: await ownerUserId(trx, market.operator_id), organizationId: market.operator_id, ip: null, requestId: null };
  const merchantActor = async (merchantId: string): Promise<Actor> => ({ userId: await ownerUserId(trx, merchantId), organizationId: merchantId, ip: null, requestId: null });

  let n = 0;
  const place = async (picks: { merchant: number; index: number; multiple: number }[], at: Date) => {
    n += 1;
    const lines = picks.map((p) => {
      const pool = byMerchant(p.merchant);
      const listing = pool[p.index % pool.length];
      return { listingId: listing.id, quantity: listing.min_order_qty * p.multiple };
    });
    return placeCheckout(trx, buyer, { buyerId: input.buyerId, marketId: market.id, lines, idempotencyKey: `demo-market-${n}` }, at);
  };
  const ship = async (orderId: string, merchantId: string, at: Date) => {
    const [carrier, prefix] = CARRIERS[n % CARRIERS.length];
    await shipMarketOrder(trx, await merchantActor(merchantId), merchantId, orderId, { carrier, trackingNo: `${prefix}${String(7_300_000_000 + n * 7919)}` }, at);
  };

  // A fortnight of trade, settled: one or two orders a day, alternating merchants.
  for (let daysAgo = 14; daysAgo >= 1; daysAgo--) {
    const placedAt = new Date(now.getTime() - daysAgo * DAY_MS + ((daysAgo * 37) % 9) * 3_600_000);
    const perDay = daysAgo % 3 === 0 ? 2 : 1;
    for (let k = 0; k < perDay; k++) {
      const merchant = daysAgo + k;
      const placed = await place([{ merchant, index: daysAgo + k * 3, multiple: 1 + ((daysAgo + k) % 3) }], placedAt);
      await payCheckoutFromWallet(trx, buyer, input.buyerId, placed.checkout.id, new Date(placedAt.getTime() + 5 * 60_000));
      const order = placed.orders[0];
      await ship(order.id, order.merchantId, new Date(placedAt.getTime() + 6 * 3_600_000));
      const receivedAt = new Date(placedAt.getTime() + 30 * 3_600_000);
      await receiveMarketOrder(trx, buyer, input.buyerId, order.id, receivedAt);
      await settleReceivedOrders(trx, { orderIds: [order.id], now: new Date(receivedAt.getTime() + 60_000) });
    }
  }

  // Two days ago: a dispute the operator settled with a partial refund.
  {
    const at = new Date(now.getTime() - 2 * DAY_MS);
    const placed = await place([{ merchant: 0, index: 5, multiple: 2 }], at);
    await payCheckoutFromWallet(trx, buyer, input.buyerId, placed.checkout.id, at);
    const order = placed.orders[0];
    await ship(order.id, order.merchantId, new Date(at.getTime() + 3_600_000));
    const { disputeId } = await openDispute(trx, buyer, input.buyerId, order.id, { statement: "到货后发现两件有明显色差，与图片不符。" }, new Date(at.getTime() + 26 * 3_600_000));
    await addDisputeStatement(trx, await merchantActor(order.merchantId), order.merchantId, disputeId, { body: "同批次面料，色差在允许范围内；愿意对两件给予折让。" }, new Date(at.getTime() + 28 * 3_600_000));
    const refundFen = Math.max(1, Math.floor(order.goodsTotalFen / 10));
    await ruleDispute(trx, operator, market.operator_id, disputeId, { ruling: "refund_partial", refundFen, reason: "色差属实但不影响销售，按一成折让退款。" }, new Date(at.getTime() + 40 * 3_600_000));
  }

  // Today, one of each state a user meets.
  const today = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000);
  // Paid across two merchants in one checkout: one order shipped, the other waiting to ship.
  const twoMerchants = await place(
    [
      { merchant: 0, index: 1, multiple: 2 },
      { merchant: 1, index: 2, multiple: 1 },
    ],
    today(300),
  );
  await payCheckoutFromWallet(trx, buyer, input.buyerId, twoMerchants.checkout.id, today(295));
  await ship(twoMerchants.orders[0].id, twoMerchants.orders[0].merchantId, today(120));
  // Shipped and disputed: the buyer says goods are missing; the merchant has not answered yet.
  const disputed = await place([{ merchant: 0, index: 7, multiple: 3 }], today(600));
  await payCheckoutFromWallet(trx, buyer, input.buyerId, disputed.checkout.id, today(595));
  await ship(disputed.orders[0].id, disputed.orders[0].merchantId, today(500));
  await openDispute(trx, buyer, input.buyerId, disputed.orders[0].id, { statement: "快递签收时少了一包，共少 10 件，已拍照留证。" }, today(60));
  // Placed a few minutes ago and not paid yet (expires after the market's limit).
  await place([{ merchant: 1, index: 4, multiple: 1 }], today(5));
  return { orders: n };
}
