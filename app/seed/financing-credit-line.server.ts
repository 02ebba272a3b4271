import type { Db } from "../../db";
import { shanghaiDate, type Actor } from "../domain/shared";
import { accrueLoans, createProduct, disburseApplication, drawOnCreditLine, repayLoan, setFacility } from "../domain/financing";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A revolving credit line (网贷通) for 宁波鑫达电器 (the demo's dealer2), drawn through the financing
 * context on the days it would have happened (the clock is passed in): a credit_line product on the
 * LPR + 200 bps, 等额本息 over 6 months; a ¥300,000 line; a ¥80,000 draw 50 days ago and a ¥50,000
 * draw 20 days ago, both to its wallet and both below the auto-approval limit (¥100,000), so the
 * checks approved them and they were paid out the same day. Each day since is accrued and each
 * instalment that fell due was taken from the wallet on its day, so both draws are being repaid
 * (none overdue). Needs the LPR that seedFinancingDemo records (400 days back): runs after it.
 */
export async function seedCreditLineDemo(trx: Db, ids: { bank: string; dealer2: string }, now = new Date()): Promise<void> {
  const bankUser = await trx.selectFrom("users").select("id").where("email", "=", "bank@demo.test").executeTakeFirst();
  const bank: Actor = { userId: bankUser?.id ?? null, organizationId: ids.bank, ip: null, requestId: "demo-seed" };
  // dealer@demo.test is only a purchaser there; the draws are the firm's own (no user).
  const dealer2: Actor = { userId: null, organizationId: ids.dealer2, ip: null, requestId: "demo-seed" };
  const daysAgo = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const today = shanghaiDate(now);

  const product = await createProduct(trx, bank, {
    code: "CREDIT-LINE-6M",
    name: "网贷通（循环额度，等额本息 6 个月）",
    nameEn: "Revolving credit line (equal instalments over 6 months)",
    kind: "credit_line",
    rateBasis: "lpr",
    spreadBps: 200,
    repaymentMethod: "equal_instalment",
    termMonths: 6,
    graceDays: 3,
    autoApproveLimitFen: 10_000_000,
    secondApproverLimitFen: 50_000_000,
    minAmountFen: 100_000,
    maxAmountFen: 100_000_000,
  });
  const validTo = `${Number(today.slice(0, 4)) + 1}-12-31`;
  await setFacility(trx, bank, { kind: "borrower_limit", productId: product.id, borrowerOrganizationId: ids.dealer2, validTo, limitFen: 30_000_000 });

  const draws = new Map<number, number>([
    [50, 8_000_000],
    [20, 5_000_000],
  ]);
  const loans: string[] = [];
  for (let d = 50; d >= 1; d--) {
    const at = daysAgo(d);
    const amountFen = draws.get(d);
    if (amountFen !== undefined) {
      const draw = await drawOnCreditLine(trx, dealer2, { amountFen }, at);
      loans.push((await disburseApplication(trx, draw.id, at)).loanId!);
    }
    // The instalments due today, from the wallet (it holds the draws and the demo's top-up).
    const date = shanghaiDate(at);
    const due = loans.length ? await trx.selectFrom("loan_instalments").select("loan_id").where("loan_id", "in", loans).where("due_on", "=", date).execute() : [];
    for (const { loan_id } of due) {
      await repayLoan(trx, dealer2, loan_id, { mode: "due", source: "auto_debit", idempotencyKey: `demo-credit-line:${loan_id}:${date}` }, at);
    }
    // The night's run accrues the day (and the next morning's clock is the run's).
    await accrueLoans(trx, loans, date, daysAgo(d - 1));
  }
}
