import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "../../db";
import { accrueLoans, applyForOrderFinancing, portfolioHistory, repayLoan, type PortfolioHistory } from "../../app/domain/financing";
import { PortfolioChart } from "../../app/components/financing-charts";
import { LocaleProvider } from "../../app/i18n/react";
import type { Locale } from "../../app/i18n";
import { refusal } from "./catalog.fixtures";
import { createTestDatabase } from "../support/db";
import { confirmedOrder, financingWorld, fundWallet, runFinancingJobs } from "./financing.fixtures";

/** 10:00 in Shanghai on the given date. */
const at = (date: string) => new Date(`${date}T02:00:00Z`);

describe("portfolioHistory: outstanding, overdue and interest per Shanghai day, on PostgreSQL", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("follows two loans from disbursement: one repaid just after Shanghai midnight, one falling overdue", async () => {
    const db = handle.db;
    // A fresh database: these two loans are the whole book.
    expect(await db.selectFrom("loans").select(sql<number>`count(*)`.as("n")).executeTakeFirstOrThrow()).toEqual({ n: 0 });
    // Bullet, 3 days, no grace: disbursed 03-02, due 03-05, past due from 03-06.
    const w = await financingWorld(db, { product: { termDays: 3, graceDays: 0 } });
    const orderA = await confirmedOrder(db, w, 5, at("2026-03-02")); // 500,000 fen
    const orderB = await confirmedOrder(db, w, 3, at("2026-03-02")); // 300,000 fen
    await applyForOrderFinancing(db, w.asDealer, orderA.id, at("2026-03-02"));
    await applyForOrderFinancing(db, w.asDealer, orderB.id, at("2026-03-02"));
    await runFinancingJobs(db, at("2026-03-02"));
    const loanA = await db.selectFrom("loans").select(["id", "principal_fen", "annual_rate_ppm", "penalty_rate_ppm"]).where("order_id", "=", orderA.id).executeTakeFirstOrThrow();
    const loanB = await db.selectFrom("loans").select(["id", "principal_fen"]).where("order_id", "=", orderB.id).executeTakeFirstOrThrow();
    expect(loanA).toMatchObject({ principal_fen: 500_000, annual_rate_ppm: 43_500, penalty_rate_ppm: 65_250 });
    expect(loanB.principal_fen).toBe(300_000);

    // The daily runs for 03-02 and 03-03 (each the next morning).
    await accrueLoans(db, [loanA.id, loanB.id], "2026-03-02", at("2026-03-03"));
    await accrueLoans(db, [loanA.id, loanB.id], "2026-03-03", at("2026-03-04"));
    // B paid off at 00:30 on 03-04 in Shanghai (16:30 UTC on 03-03): a 03-04 movement, not 03-03's.
    const justAfterMidnight = new Date("2026-03-03T16:30:00Z");
    await fundWallet(db, w.dealer, 400_000);
    const payoff = await repayLoan(db, w.asDealer, loanB.id, { mode: "payoff", source: "wallet", idempotencyKey: `payoff:${loanB.id}` }, justAfterMidnight);
    // Interest through 03-03: half-even(109 × 2 / 3) = 73 (72.67).
    expect(payoff).toMatchObject({ amountFen: 300_073, loanStatus: "repaid" });
    for (const [day, runAt] of [
      ["2026-03-04", "2026-03-05"],
      ["2026-03-05", "2026-03-06"],
      ["2026-03-06", "2026-03-07"],
      ["2026-03-07", "2026-03-08"],
    ] as const) {
      await accrueLoans(db, [loanA.id, loanB.id], day, at(runAt));
    }

    const history = await portfolioHistory(db, { days: 7 }, at("2026-03-08"));
    // Interest, bullet over 3 days at 4.35%: A 500,000 × 43,500 × 3 / 360,000,000 = 181.25 → 181,
    // by day half-even(181·k/3) − previous: 60, 61, 60. B 300,000 → 108.75 → 109: 36, 37, (36 never:
    // paid off on 03-04). Nothing accrues from the due date (03-05) on. A is 1 day past due on 03-06
    // and 2 on 03-07; with no grace it pays penalty 500,000 × 65,250 / 360,000,000 = 90.625 → 91 a
    // day and compound on its 181 unpaid interest 0.03 → 0.
    expect(history).toEqual({
      from: "2026-03-01",
      through: "2026-03-07",
      points: [
        { businessDate: "2026-03-01", outstandingFen: 0, overdueFen: 0, interestFen: 0, penaltyFen: 0 },
        { businessDate: "2026-03-02", outstandingFen: 800_000, overdueFen: 0, interestFen: 96, penaltyFen: 0 },
        { businessDate: "2026-03-03", outstandingFen: 800_000, overdueFen: 0, interestFen: 98, penaltyFen: 0 },
        { businessDate: "2026-03-04", outstandingFen: 500_000, overdueFen: 0, interestFen: 60, penaltyFen: 0 },
        { businessDate: "2026-03-05", outstandingFen: 500_000, overdueFen: 0, interestFen: 0, penaltyFen: 0 },
        { businessDate: "2026-03-06", outstandingFen: 500_000, overdueFen: 500_000, interestFen: 0, penaltyFen: 91 },
        { businessDate: "2026-03-07", outstandingFen: 500_000, overdueFen: 500_000, interestFen: 0, penaltyFen: 91 },
      ],
    });
    const accruals = await db.selectFrom("loan_accruals").select([sql<string>`to_char(business_date, 'YYYY-MM-DD')`.as("d"), "days_past_due"]).where("loan_id", "=", loanA.id).orderBy("business_date").execute();
    expect(accruals.map((r) => [r.d, r.days_past_due])).toEqual([
      ["2026-03-02", 0],
      ["2026-03-03", 0],
      ["2026-03-04", 0],
      ["2026-03-05", 0],
      ["2026-03-06", 1],
      ["2026-03-07", 2],
    ]);

    // A window ending earlier: read on 03-04 10:00, through 03-03 (today is not over).
    const early = await portfolioHistory(db, { days: 2 }, at("2026-03-04"));
    expect(early.points.map((p) => [p.businessDate, p.outstandingFen])).toEqual([
      ["2026-03-02", 800_000],
      ["2026-03-03", 800_000],
    ]);
    // Bounded: 1 to 366 days.
    expect(await refusal(portfolioHistory(db, { days: 367 }, at("2026-03-08")))).toMatchObject({ code: "validation" });
    expect(await refusal(portfolioHistory(db, { days: 0 }, at("2026-03-08")))).toMatchObject({ code: "validation" });
    expect((await portfolioHistory(db, { days: 366 }, at("2026-03-08"))).points).toHaveLength(366);
  });
});

describe("PortfolioChart renders on the server", () => {
  const history: PortfolioHistory = {
    from: "2026-03-05",
    through: "2026-03-07",
    points: [
      { businessDate: "2026-03-05", outstandingFen: 800_000, overdueFen: 0, interestFen: 96, penaltyFen: 0 },
      { businessDate: "2026-03-06", outstandingFen: 500_000, overdueFen: 500_000, interestFen: 0, penaltyFen: 91 },
      { businessDate: "2026-03-07", outstandingFen: 400_000, overdueFen: 100_000, interestFen: 12, penaltyFen: 91 },
    ],
  };
  const render = (locale: Locale) => renderToString(createElement(LocaleProvider, { locale, children: createElement(PortfolioChart, { history }) }));

  it("draws a point per day on a ¥0–¥10,000 axis with English labels and an accessible summary", () => {
    const html = render("en");
    expect(html).toContain('role="img"');
    expect(html).toContain("<title id=\"portfolio-history-title\">Outstanding and overdue principal over time</title>");
    expect(html).toContain("On 7 Mar 2026: ¥4,000.00 outstanding, of which ¥1,000.00 overdue.");
    // Max 800,000 fen: step niceStep(800,000, 4, 100) = 200,000, top 800,000. The plot is 236 high
    // from y 44 (base 280) and 860 wide from x 72: the days are at x 72, 502, 932; 500,000 is at
    // 280 − 236 × 5/8 = 132.5, 400,000 at 162, 100,000 at 250.5.
    expect(html).toContain('points="72.0,44.0 502.0,132.5 932.0,162.0"'); // outstanding: 800k, 500k, 400k
    expect(html).toContain('points="72.0,280.0 502.0,132.5 932.0,250.5"'); // overdue: 0, 500k, 100k
    expect(html.match(/<circle /g)).toHaveLength(3);
    expect(html).toContain("6 Mar 2026: Outstanding ¥5,000.00, Overdue ¥5,000.00, Interest accrued ¥0.00");
    // Axis text and legend in English, dates via formatDate.
    expect(html).toContain("Amount (CNY)");
    expect(html).toContain(">5 Mar 2026</text>");
    // The hidden table has every day.
    expect(html).toContain('<div class="visually-hidden"><table');
    expect(html.match(/<tr>/g)).toHaveLength(4);
    expect(html).toContain("<td>¥1,000.00</td>");
  });

  it("speaks Chinese to a Chinese reader", () => {
    const html = render("zh-CN");
    expect(html).toContain("贷款余额与逾期余额走势");
    expect(html).toContain("金额（元）");
    expect(html).toContain(">2026-03-05</text>");
    expect(html).toContain("逾期余额");
  });
});
