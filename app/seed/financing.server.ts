import type { Db } from "../../db";
import { addDays, shanghaiDate, type Actor } from "../domain/shared";
import { confirmOrder, createOrder } from "../domain/orders";
import {
  accrueLoans,
  applyForOrderFinancing,
  autoDebitDueLoans,
  callGuarantee,
  createProduct,
  disburseApplication,
  recordLpr,
  setFacility,
  startAccrualRun,
  closeAccrualRun,
} from "../domain/financing";

const DAY_MS = 24 * 60 * 60 * 1000;

async function actorFor(db: Db, email: string | null, organizationId: string): Promise<Actor> {
  const user = email ? await db.selectFrom("users").select("id").where("email", "=", email).executeTakeFirst() : undefined;
  return { userId: user?.id ?? null, organizationId, ip: null, requestId: "demo-seed" };
}

/**
 * Real loans behind the bank's books, each made through the financing context as it happens in
 * the product, on the days it would have happened (the clock is passed in):
 *  - 杭州鑫达 finances an order 40 days ago; its first month's interest was auto-debited (repaying);
 *  - 绍兴万家福 (no money in its wallet) financed an order 44 days ago: its first month's interest
 *    is about 12 days overdue, 关注, with penalty accrued;
 *  - 绍兴万家福 also financed one 64 days ago whose first interest was never paid: on the buy-back
 *    day (30 days overdue) the guarantee was called and 华通电器 paid it off;
 *  - 杭州鑫达 asks to finance a large order: above the auto-approval limit, in the officers' queue.
 * Left out until their issue parts land: credit-line draws and a receivables advance.
 */
export async function seedFinancingDemo(trx: Db, ids: { bank: string; core: string; dealer: string }, now = new Date()): Promise<void> {
  const bank = await actorFor(trx, "bank@demo.test", ids.bank);
  const core = await actorFor(trx, "core@demo.test", ids.core);
  const dealer = await actorFor(trx, "dealer@demo.test", ids.dealer);
  const extra = await trx.selectFrom("organizations").select("id").where("name", "=", "绍兴万家福电器有限公司").executeTakeFirstOrThrow();
  const shaoxing = await actorFor(trx, null, extra.id);
  const daysAgo = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const today = shanghaiDate(now);

  await recordLpr(trx, bank, { ratePpm: 31_000, effectiveOn: shanghaiDate(daysAgo(400)) });
  const product = await createProduct(trx, bank, {
    code: "ORDER-FIN-3M",
    name: "订单融资（按月付息，到期还本）",
    nameEn: "Order financing (monthly interest, principal at maturity)",
    kind: "order_financing",
    rateBasis: "lpr",
    spreadBps: 125,
    repaymentMethod: "interest_monthly",
    termMonths: 3,
    graceDays: 3,
    autoApproveLimitFen: 10_000_000,
    secondApproverLimitFen: 50_000_000,
    minAmountFen: 100_000,
    maxAmountFen: 500_000_000,
  });
  const validTo = `${Number(today.slice(0, 4)) + 1}-12-31`;
  const agreement = await setFacility(trx, bank, { kind: "guarantee", guarantorOrganizationId: ids.core, buyBackDays: 30, validTo, limitFen: 500_000_000 });
  for (const [borrower, limitFen] of [
    [ids.dealer, 100_000_000],
    [extra.id, 30_000_000],
  ] as const) {
    await setFacility(trx, bank, { kind: "guarantee_sub", guarantorOrganizationId: ids.core, borrowerOrganizationId: borrower, parentFacilityId: agreement.id, validTo, limitFen });
    await setFacility(trx, bank, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: borrower, validTo, limitFen });
  }

  const financed = async (borrower: Actor, lines: { skuCode: string; quantity: number }[], at: Date) => {
    const order = await createOrder(trx, borrower, { dealerId: borrower.organizationId!, coreEnterpriseId: ids.core, kind: "standard", lines }, at);
    await confirmOrder(trx, core, order.id, at);
    const app = await applyForOrderFinancing(trx, borrower, order.id, at);
    return app;
  };
  const paidOut = async (applicationId: string, at: Date) => (await disburseApplication(trx, applicationId, at)).loanId!;

  // The one that went to the buy-back: its first interest never paid.
  const called = await financed(shaoxing, [{ skuCode: "HT-BCD-218", quantity: 12 }], daysAgo(64));
  const calledLoan = await paidOut(called.id, daysAgo(64));
  // About 12 days overdue: its first interest fell due a month after it was paid out.
  const overdue = await financed(shaoxing, [{ skuCode: "HT-XQB80-M21", quantity: 30 }], daysAgo(44));
  const overdueLoan = await paidOut(overdue.id, daysAgo(44));
  // Being repaid: 40 days ago; the first month's interest was taken from the wallet on its due date.
  const repaying = await financed(dealer, [{ skuCode: "HT-XQB100-M21", quantity: 16 }], daysAgo(40));
  const repayingLoan = await paidOut(repaying.id, daysAgo(40));

  // The daily runs, day by day, as the schedule would have made them (with the auto-debit after each).
  const loans = [calledLoan, overdueLoan, repayingLoan];
  for (let d = 64; d >= 1; d--) {
    const date = shanghaiDate(daysAgo(d));
    const runAt = new Date(daysAgo(d - 1).getTime());
    await accrueLoans(trx, loans, date, runAt);
    await autoDebitDueLoans(trx, addDays(date, 1), runAt);
    const status = await trx.selectFrom("loans").select("status").where("id", "=", calledLoan).executeTakeFirstOrThrow();
    if (status.status === "overdue") {
      const dpd = await trx.selectFrom("loans").select("days_past_due").where("id", "=", calledLoan).executeTakeFirstOrThrow();
      if (dpd.days_past_due >= 30) await callGuarantee(trx, calledLoan, runAt);
    }
  }
  // Yesterday's run as the bank's console shows it: started and finished.
  await startAccrualRun(trx, shanghaiDate(daysAgo(1)), now);
  await closeAccrualRun(trx, shanghaiDate(daysAgo(1)), now);

  // Waiting for the credit officers: above the auto-approval limit; one officer has looked at it.
  await financed(dealer, [{ skuCode: "HT-KFR-50GW-A1", quantity: 40 }], daysAgo(1));
}
