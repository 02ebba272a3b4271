import type { Db } from "../../db";
import { shanghaiDate, type Actor } from "../domain/shared";
import { createProduct, disburseApplication, receivablesForSale, repayOnAccountWithAssignment, sellReceivable, setFacility } from "../domain/financing";
import { confirmOrder, createOrder } from "../domain/orders";

/**
 * Receivables advances (应收账款融资) for 华通电器 (the demo's core enterprise), through the financing
 * context: a receivables product at a fixed 4.8%, bullet over 60 days, advancing 80% of what is
 * owed; a ¥2,000,000 limit; and one receivable sold today: the on-account order of 杭州鑫达 not yet
 * due that seedOrdersDemo ships ("Shipped on account"; the overdue one is past the 3 days' grace).
 * The advance is below the auto-approval limit, so the checks approve it and it is paid into
 * 华通电器's wallet at once. And one sold and already repaid: a second on-account order of 杭州鑫达,
 * sold, then paid by the dealer, whose payment went to the bank first (the advance and its
 * interest) and the rest to 华通电器. Runs after seedOrdersDemo.
 */
export async function seedReceivablesDemo(trx: Db, ids: { bank: string; core: string; dealer: string }, now = new Date()): Promise<void> {
  const bankUser = await trx.selectFrom("users").select("id").where("email", "=", "bank@demo.test").executeTakeFirst();
  const coreUser = await trx.selectFrom("users").select("id").where("email", "=", "core@demo.test").executeTakeFirst();
  const bank: Actor = { userId: bankUser?.id ?? null, organizationId: ids.bank, ip: null, requestId: "demo-seed" };
  const core: Actor = { userId: coreUser?.id ?? null, organizationId: ids.core, ip: null, requestId: "demo-seed" };
  const today = shanghaiDate(now);

  const product = await createProduct(trx, bank, {
    code: "RECEIVABLES-60D",
    name: "应收账款融资（固定 4.8%，60 天到期还本付息）",
    nameEn: "Receivables advance (fixed 4.8%, 60 days, bullet)",
    kind: "receivables",
    rateBasis: "fixed",
    fixedRatePpm: 48_000,
    repaymentMethod: "bullet",
    termDays: 60,
    graceDays: 3,
    advanceRateBps: 8_000,
    autoApproveLimitFen: 50_000_000,
    secondApproverLimitFen: 100_000_000,
    minAmountFen: 100_000,
    maxAmountFen: 200_000_000,
  });
  const validTo = `${Number(today.slice(0, 4)) + 1}-12-31`;
  await setFacility(trx, bank, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: ids.core, validTo, limitFen: 200_000_000 });

  const { receivables } = await receivablesForSale(trx, ids.core, now);
  const notDue = receivables.find((r) => r.daysOverdue === 0);
  if (!notDue) return;
  const sold = await sellReceivable(trx, core, { orderId: notDue.orderId }, now);
  await disburseApplication(trx, sold.id, now);

  // Sold and settled: the dealer's payment of the order repays the advance before the seller sees the rest.
  const dealerUser = await trx.selectFrom("users").select("id").where("email", "=", "dealer@demo.test").executeTakeFirst();
  const dealer: Actor = { userId: dealerUser?.id ?? null, organizationId: ids.dealer, ip: null, requestId: "demo-seed" };
  const order = await createOrder(trx, dealer, { dealerId: ids.dealer, coreEnterpriseId: ids.core, kind: "standard", lines: [{ skuCode: "HT-BCD-330WE", quantity: 5 }], paymentMethod: "on_account" }, now);
  await confirmOrder(trx, core, order.id, now);
  const settled = await sellReceivable(trx, core, { orderId: order.id }, now);
  await disburseApplication(trx, settled.id, now);
  await repayOnAccountWithAssignment(trx, dealer, order.id, now);
}
