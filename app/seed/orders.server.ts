import type { Db } from "../../db";
import type { Actor } from "../domain/shared";
import { receiveOrder, shipOrder, payFromWallet, payOnAccount, createOrder, getOrder, confirmOrder, createSeason, updateOrderSettings } from "../domain/orders";

const DAY_MS = 24 * 60 * 60 * 1000;

async function actorFor(db: Db, email: string, organizationId: string): Promise<Actor> {
  const user = await db.selectFrom("users").select("id").where("email", "=", email).executeTakeFirst();
  return { userId: user?.id ?? null, organizationId, ip: null, requestId: "demo-seed" };
}

/**
 * Orders in every stage between 杭州鑫达 and 华通电器 (and one from 宁波鑫达), made through the
 * order model itself, so the order pages, the dealer's credit and the supplier's receivables show
 * something real: completed, shipped on account, overdue on account, awaiting payment, awaiting
 * confirmation, and a booking against a season. The cart is left empty for the dealer to fill.
 */
export async function seedOrdersDemo(
  trx: Db,
  ids: { core: string; dealer: string; dealer2: string },
  now = new Date(),
): Promise<void> {
  const core = await actorFor(trx, "core@demo.test", ids.core);
  const dealer = await actorFor(trx, "dealer@demo.test", ids.dealer);
  const dealer2 = await actorFor(trx, "dealer@demo.test", ids.dealer2);
  await updateOrderSettings(trx, core, ids.core, { autoReceiptDays: 10 });

  const place = (lines: { skuCode: string; quantity: number }[], kind: "standard" | "replenishment" = "standard") =>
    createOrder(trx, dealer, { dealerId: ids.dealer, coreEnterpriseId: ids.core, kind, lines }, now);
  const shipAll = async (orderId: string, tracking: string) => {
    const { lines } = await getOrder(trx, ids.core, orderId);
    await shipOrder(trx, core, orderId, {
      carrier: "顺丰速运",
      trackingNumber: tracking,
      lines: lines.map((l) => ({ lineId: l.id, quantity: l.quantity_confirmed ?? 0 })).filter((l) => l.quantity > 0),
    }, now);
  };

  // Completed: paid from the wallet, shipped, received.
  const done = await place([
    { skuCode: "HT-KFR-35GW-A1", quantity: 10 },
    { skuCode: "HT-BCD-258WE", quantity: 6 },
  ]);
  await confirmOrder(trx, core, done.id, now);
  await payFromWallet(trx, dealer, done.id, now);
  await shipAll(done.id, "SF1402937751");
  await receiveOrder(trx, dealer, done.id, now);

  // Overdue on account: charged 40 days ago on 30-day terms.
  const overdue = await place([{ skuCode: "HT-XQB80-M21", quantity: 20 }], "replenishment");
  await confirmOrder(trx, core, overdue.id, now);
  await payOnAccount(trx, dealer, overdue.id, new Date(now.getTime() - 40 * DAY_MS));
  await shipAll(overdue.id, "SF1402937802");
  await receiveOrder(trx, dealer, overdue.id, now);

  // Shipped on account, waiting for the dealer to confirm receipt.
  const shipped = await place([
    { skuCode: "HT-KFR-26GW-A1", quantity: 8 },
    { skuCode: "HT-BC-93", quantity: 4 },
  ]);
  await confirmOrder(trx, core, shipped.id, now);
  await payOnAccount(trx, dealer, shipped.id, now);
  await shipAll(shipped.id, "SF1402938116");

  // Confirmed with one line lowered, waiting for payment.
  const confirmed = await place([
    { skuCode: "HT-BCD-450WE", quantity: 5 },
    { skuCode: "HT-KFR-72LW-P1", quantity: 3 },
  ]);
  const toAdjust = (await getOrder(trx, ids.core, confirmed.id)).lines.find((l) => l.sku_code === "HT-KFR-72LW-P1");
  await confirmOrder(trx, core, confirmed.id, now, toAdjust ? [{ lineId: toAdjust.id, quantity: 2, reason: "旗舰柜机本周仅余两台" }] : []);

  // Submitted, waiting for the supplier.
  await place([{ skuCode: "HT-BCD-218", quantity: 12 }]);
  // Submitted on account: its total held on the credit line until the supplier confirms.
  await createOrder(
    trx,
    dealer,
    { dealerId: ids.dealer, coreEnterpriseId: ids.core, kind: "standard", lines: [{ skuCode: "HT-BC-93", quantity: 2 }], paymentMethod: "on_account" },
    now,
  );
  await createOrder(trx, dealer2, { dealerId: ids.dealer2, coreEnterpriseId: ids.core, kind: "standard", lines: [{ skuCode: "HT-XQB100-M21", quantity: 6 }] }, now);

  // 订货会: a booking with its deposit paid.
  const season = await createSeason(trx, core, ids.core, { name: "2027 春季订货会", depositRateBps: 3000 });
  const booking = await createOrder(
    trx,
    dealer,
    { dealerId: ids.dealer, coreEnterpriseId: ids.core, kind: "preorder", seasonId: season.id, lines: [{ skuCode: "HT-KFR-51LW-A1", quantity: 10 }] },
    now,
  );
  await confirmOrder(trx, core, booking.id, now);
  await payFromWallet(trx, dealer, booking.id, now);
}
